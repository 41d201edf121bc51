//! A real `mrcp-server` process on loopback and a client made of the toolkit's own protocol crates, which
//! sends the FreeSWITCH offer, MRCP requests as FreeSWITCH writes them, and RTP at real pace.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::BytesMut;
use mrcp_media::codec::Codec as MediaCodec;
use mrcp_media::endpoint::{EndpointConfig, MediaCommand, PortAllocator, PortRange, RtpEndpoint};
use mrcp_media::pacer::PromptId;
use mrcp_proto::mrcp::codec::Decoder;
use mrcp_proto::mrcp::{ChannelId, Message, Method, RequestId, ResourceType, StartLine};
use mrcp_proto::rtp::{DtmfEvent, PayloadType};
use mrcp_proto::sdp::{
    ChannelOffer, ClientProfile, ConnectionMode, MrcpSdp, OfferConfig, build_offer, read_answer,
};
use mrcp_sip::driver::{DriverConfig, SipDriver, spawn};
use mrcp_sip::{Body, CallHandle, Event, Invite, Peer, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The server binary, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub sip: SocketAddr,
    pub mrcp: SocketAddr,
}

impl ServerProcess {
    /// Starts `mrcp-server` on free SIP and MRCP ports with RTP in `rtp_ports`.
    pub fn start(rtp_ports: &str, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mrcp-server"))
            .args([
                "--sip-listen",
                "127.0.0.1:0",
                "--mrcp-listen",
                "127.0.0.1:0",
                "--rtp-ports",
                rtp_ports,
            ])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the mrcp-server binary");
        let stdout = child.stdout.take().unwrap();
        let (mut sip, mut mrcp) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("mrcp-server exited before printing its addresses");
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["sip", "UDP", addr] => sip = Some(addr.parse().unwrap()),
                ["mrcp", "tcp", addr] => {
                    mrcp = Some(addr.parse().unwrap());
                    break;
                }
                _ => {}
            }
        }
        ServerProcess {
            child,
            sip: sip.expect("no SIP UDP address printed"),
            mrcp: mrcp.expect("no MRCP address printed"),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One MRCP session, set up the way FreeSWITCH's mod_unimrcp does it.
pub struct Client {
    pub sip: SipDriver,
    pub call: CallHandle,
    pub channel: ChannelId,
    pub mrcp: TcpStream,
    pub rtp: RtpEndpoint,
    decoder: Decoder,
    buf: BytesMut,
    next_request: u32,
}

pub const DEADLINE: Duration = Duration::from_secs(20);

impl Client {
    /// INVITE with the offer of `profile` for a speechrecog channel, then connect MRCP.
    pub async fn connect(
        server: &ServerProcess,
        profile: ClientProfile,
        rtp_ports: (u16, u16),
    ) -> Client {
        let sip = spawn(DriverConfig {
            udp: vec!["127.0.0.1:0".parse().unwrap()],
            ..DriverConfig::default()
        })
        .await
        .unwrap();
        let mut ports = PortAllocator::new(PortRange::new(rtp_ports.0, rtp_ports.1));
        let cfg = EndpointConfig::new(
            MediaCodec::Pcmu,
            PayloadType::PCMU,
            PayloadType::new(101),
            7,
        );
        let rtp = RtpEndpoint::bind(cfg, &mut ports, LOCALHOST, 7)
            .await
            .unwrap();
        let offer = build_offer(
            &OfferConfig::new(profile, LOCALHOST, 1, 1),
            &[ChannelOffer {
                resource: ResourceType::Speechrecog,
                connection_mode: ConnectionMode::New,
                rtp_port: rtp.local_rtp.port(),
            }],
        );
        let call = sip
            .handle
            .invite(Invite {
                uri: format!("sip:mrcp@{}", server.sip),
                peer: Peer {
                    transport: Transport::Udp,
                    addr: server.sip,
                    connection: None,
                },
                from: None,
                to: None,
                headers: vec![(
                    "User-Agent".to_owned(),
                    "FreeSWITCH-mod_sofia/1.10.12".to_owned(),
                )],
                body: Some(Body::sdp(offer.to_string())),
            })
            .await
            .unwrap();
        let mut sip = sip;
        let answer = tokio::time::timeout(DEADLINE, async {
            loop {
                match sip.events.recv().await.expect("SIP driver stopped") {
                    Event::Answered { response, .. } => return response,
                    Event::Rejected { response, .. } => {
                        panic!("INVITE rejected: {:?}", response.start)
                    }
                    _ => {}
                }
            }
        })
        .await
        .expect("no answer to the INVITE within 20 s");
        let answer = MrcpSdp::parse(std::str::from_utf8(&answer.body).unwrap()).unwrap();
        let negotiated = read_answer(&offer, &answer).unwrap();
        let channel = &negotiated[0];
        let audio = channel.audio.as_ref().expect("no audio in the answer");
        rtp.commands
            .send(MediaCommand::SetRemote(Some(audio.remote), None))
            .await
            .unwrap();
        let mrcp = TcpStream::connect(channel.mrcp.unwrap()).await.unwrap();
        Client {
            sip,
            call,
            channel: channel.channel_id.clone().unwrap(),
            mrcp,
            rtp,
            decoder: Decoder::default(),
            buf: BytesMut::new(),
            next_request: 1,
        }
    }

    /// Sends a request with headers and an optional body; returns its request id.
    pub async fn send(
        &mut self,
        method: Method,
        headers: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let mut message = Message::request(method, id, &self.channel);
        for (name, value) in headers {
            message.headers.append_raw(name, value).unwrap();
        }
        if let Some((content_type, text)) = body {
            message
                .set_body(content_type, text.as_bytes().to_vec())
                .unwrap();
        }
        self.mrcp.write_all(&message.to_bytes()).await.unwrap();
        id
    }

    /// The next message from the server.
    pub async fn receive(&mut self) -> Message {
        tokio::time::timeout(DEADLINE, async {
            loop {
                if let Some(m) = self.decoder.decode(&mut self.buf).unwrap() {
                    return m;
                }
                let n = self.mrcp.read_buf(&mut self.buf).await.unwrap();
                assert!(n > 0, "the server closed the MRCP connection");
            }
        })
        .await
        .expect("no MRCP message from the server within 20 s")
    }

    /// Messages until RECOGNITION-COMPLETE, which is returned; the others too.
    pub async fn until_complete(&mut self) -> (Vec<Message>, Message) {
        let mut before = Vec::new();
        loop {
            let m = self.receive().await;
            if matches!(&m.start, StartLine::Event { event, .. } if event.as_str() == "RECOGNITION-COMPLETE")
            {
                return (before, m);
            }
            before.push(m);
        }
    }

    /// Streams 8 kHz audio at real pace, as a phone would.
    pub async fn play(&self, samples: Vec<i16>) {
        self.rtp
            .commands
            .send(MediaCommand::BeginPrompt(PromptId(1)))
            .await
            .unwrap();
        self.rtp
            .commands
            .send(MediaCommand::Audio(samples))
            .await
            .unwrap();
        self.rtp
            .commands
            .send(MediaCommand::EndPrompt)
            .await
            .unwrap();
    }

    /// Sends digits as RFC 4733 events, 100 ms each.
    pub async fn dtmf(&self, digits: &str) {
        for d in digits.chars() {
            let event = DtmfEvent::from_char(d).unwrap();
            self.rtp
                .commands
                .send(MediaCommand::Dtmf(event, Duration::from_millis(100)))
                .await
                .unwrap();
        }
    }

    /// Ends the call with BYE.
    pub async fn hang_up(self) {
        let _ = self.sip.handle.bye(self.call).await;
        let _ = self.rtp.close().await;
        self.sip.handle.shutdown();
    }
}

/// DTMF as in-band tones (ITU-T Q.23 pairs), 100 ms on and 100 ms off per digit at 8 kHz, as FreeSWITCH's
/// vanilla profiles send them.
pub fn inband_dtmf(digits: &str) -> Vec<i16> {
    const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYS: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    let mut out = vec![0i16; 1600];
    for d in digits.chars() {
        let row = KEYS.iter().position(|r| r.contains(d)).unwrap();
        let col = KEYS[row].find(d).unwrap();
        for n in 0..800 {
            let t = n as f32 / 8000.0;
            let v = (2.0 * std::f32::consts::PI * LOW[row] * t).sin()
                + (2.0 * std::f32::consts::PI * HIGH[col] * t).sin();
            out.push((v * 6000.0) as i16);
        }
        out.extend(std::iter::repeat_n(0, 800));
    }
    out.extend(std::iter::repeat_n(0, 1600));
    out
}

/// Speech by espeak-ng as 8 kHz samples, with silence around it; fails naming the packages when missing.
pub fn telephone_speech(text: &str) -> Vec<i16> {
    let dir = std::env::temp_dir().join(format!("mrcp-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = text.chars().filter(char::is_ascii_alphanumeric).collect();
    let spoken = dir.join(format!("{name}.wav"));
    let phone = dir.join(format!("{name}-8k.wav"));
    let run = |program: &str, args: &[&str]| {
        let status = Command::new(program)
            .args(args)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run {program} ({e}): install the Debian packages espeak-ng and sox")
            });
        assert!(status.success(), "{program} failed");
    };
    run(
        "espeak-ng",
        &["-s", "150", "-w", spoken.to_str().unwrap(), text],
    );
    run(
        "sox",
        &[
            spoken.to_str().unwrap(),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            phone.to_str().unwrap(),
            "pad",
            "0.3",
            "1.5",
        ],
    );
    let reader = hound::WavReader::open(&phone).unwrap();
    reader.into_samples::<i16>().map(Result::unwrap).collect()
}

/// The Completion-Cause code of an event.
pub fn cause(m: &Message) -> u16 {
    let raw = m
        .headers
        .get_raw("Completion-Cause")
        .expect("no Completion-Cause");
    raw[..3].parse().unwrap()
}

/// The body as text.
pub fn body(m: &Message) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}
