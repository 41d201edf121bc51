//! A measuring client for the synthesizer: the FreeSWITCH offer for one or more resources in one SIP dialog,
//! MRCP over TCP, and the RTP the server sends read straight off a UDP socket, so every packet's arrival
//! time, sequence number, timestamp and samples can be checked (the client library only counts them).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mrcp_proto::mrcp::codec::Decoder;
use mrcp_proto::mrcp::{ChannelId, Message, Method, RequestId, ResourceType};
use mrcp_proto::rtp::g711::{decode_ulaw, encode_ulaw};
use mrcp_proto::rtp::{PayloadType, RtpPacket, Ssrc};
use mrcp_proto::sdp::{MrcpSdp, read_answer};
use mrcp_sip::driver::{DriverConfig, SipDriver, spawn};
use mrcp_sip::{Body, CallHandle, Event, Invite, Peer, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::{DEADLINE, LOCALHOST};

/// One RTP packet as it arrived.
#[derive(Debug, Clone)]
pub struct Packet {
    pub at: Instant,
    pub sequence: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub samples: Vec<i16>,
}

/// One dialog with its channels, its control connection and its received audio.
pub struct Probe {
    sip: SipDriver,
    call: CallHandle,
    pub channels: Vec<ChannelId>,
    mrcp: TcpStream,
    decoder: Decoder,
    buf: BytesMut,
    next_request: u32,
    packets: Arc<Mutex<Vec<Packet>>>,
    rtp_task: tokio::task::JoinHandle<()>,
    rtp: Arc<UdpSocket>,
    /// Where the server takes our audio.
    remote: SocketAddr,
}

impl Probe {
    /// INVITE with one m=application line per resource sharing one audio line, then connect MRCP.
    pub async fn open(server: SocketAddr, resources: &[ResourceType]) -> Probe {
        let mut sip = spawn(DriverConfig {
            udp: vec![SocketAddr::new(LOCALHOST, 0)],
            tcp: Vec::new(),
            endpoint: mrcp_sip::EndpointConfig::default(),
            ..DriverConfig::default()
        })
        .await
        .unwrap();
        let rtp = Arc::new(UdpSocket::bind((LOCALHOST, 0)).await.unwrap());
        let port = rtp.local_addr().unwrap().port();
        // One control line per resource, all sharing one audio line (RFC 6787 §4.2: `a=cmid` names the
        // audio line's `a=mid`), as a client running several resources in one dialog offers them.
        let mut text = format!(
            "v=0\r\no=- 4242 1 IN IP4 {LOCALHOST}\r\ns=-\r\nc=IN IP4 {LOCALHOST}\r\nt=0 0\r\n"
        );
        for (i, resource) in resources.iter().enumerate() {
            let connection = if i == 0 { "new" } else { "existing" };
            text.push_str(&format!(
                "m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:{connection}\r\n\
                 a=resource:{resource}\r\na=cmid:1\r\n"
            ));
        }
        text.push_str(&format!(
            "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\na=mid:1\r\n"
        ));
        let offer = MrcpSdp::parse(&text).unwrap();
        let call = sip
            .handle
            .invite(Invite {
                uri: format!("sip:mrcp@{server}"),
                peer: Peer {
                    transport: Transport::Udp,
                    addr: server,
                    connection: None,
                },
                from: None,
                to: None,
                headers: Vec::new(),
                body: Some(Body::sdp(offer.to_string())),
            })
            .await
            .unwrap();
        let answer = tokio::time::timeout(DEADLINE, async {
            loop {
                match sip.events.recv().await {
                    Some(Event::Answered { response, .. }) => return response,
                    Some(Event::Rejected { response, .. }) => {
                        panic!("INVITE rejected: {:?}", response.status())
                    }
                    Some(_) => {}
                    None => panic!("SIP driver ended"),
                }
            }
        })
        .await
        .expect("no answer to the INVITE");
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        let negotiated = read_answer(&offer, &MrcpSdp::parse(&text).unwrap()).unwrap();
        let channels: Vec<ChannelId> = negotiated
            .iter()
            .map(|c| c.channel_id.clone().expect("a channel was refused"))
            .collect();
        let mrcp_addr = negotiated[0].mrcp.expect("no MRCP address");
        let remote = negotiated[0]
            .audio
            .as_ref()
            .expect("no audio in the answer")
            .remote;
        let mrcp = TcpStream::connect(mrcp_addr).await.unwrap();
        mrcp.set_nodelay(true).unwrap();
        let packets = Arc::new(Mutex::new(Vec::new()));
        let sink = packets.clone();
        let socket = rtp.clone();
        let rtp_task = tokio::spawn(async move {
            let rtp = socket;
            let mut buf = vec![0u8; 2048];
            while let Ok(n) = rtp.recv(&mut buf).await {
                let at = Instant::now();
                let Ok(p) = RtpPacket::parse(&buf[..n]) else {
                    continue;
                };
                // PCMU (the profile's first codec, which the server answers).
                if p.payload_type != PayloadType::PCMU {
                    continue;
                }
                let mut samples = Vec::new();
                decode_ulaw(p.payload, &mut samples);
                sink.lock().unwrap().push(Packet {
                    at,
                    sequence: p.sequence,
                    timestamp: p.timestamp,
                    marker: p.marker,
                    samples,
                });
            }
        });
        Probe {
            sip,
            call,
            channels,
            mrcp,
            decoder: Decoder::default(),
            buf: BytesMut::new(),
            next_request: 1,
            packets,
            rtp_task,
            rtp,
            remote,
        }
    }

    /// A handle that sends audio to the server, to run beside the MRCP exchange.
    pub fn audio_out(&self) -> AudioOut {
        AudioOut {
            rtp: self.rtp.clone(),
            remote: self.remote,
        }
    }

    /// Sends a request on channel `channel` (index in the offer).
    pub async fn send(
        &mut self,
        channel: usize,
        method: Method,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let mut message = Message::request(method, id, &self.channels[channel]);
        for (name, value) in headers {
            message.headers.append_raw(name, value).unwrap();
        }
        if let Some((content_type, bytes)) = body {
            message.set_body(content_type, bytes.to_vec()).unwrap();
        }
        self.mrcp.write_all(&message.to_bytes()).await.unwrap();
        id
    }

    /// The next message and when it was decoded; `None` when nothing came within `wait`.
    pub async fn receive_within(&mut self, wait: Duration) -> Option<(Message, Instant)> {
        let read = async {
            loop {
                if let Some(m) = self.decoder.decode(&mut self.buf).unwrap() {
                    return (m, Instant::now());
                }
                let n = self.mrcp.read_buf(&mut self.buf).await.unwrap();
                assert!(n > 0, "the server closed the MRCP connection");
            }
        };
        tokio::time::timeout(wait, read).await.ok()
    }

    /// The next message, within the test deadline.
    pub async fn receive(&mut self) -> (Message, Instant) {
        self.receive_within(DEADLINE)
            .await
            .expect("no MRCP message within the deadline")
    }

    /// Every packet received so far.
    pub fn packets(&self) -> Vec<Packet> {
        self.packets.lock().unwrap().clone()
    }

    /// Ends the dialog.
    pub async fn close(self) {
        let _ = self.sip.handle.bye(self.call).await;
        self.rtp_task.abort();
        self.sip.handle.shutdown();
    }
}

/// Sends audio to the server from the socket it sends to (so latching keeps the same address).
pub struct AudioOut {
    rtp: Arc<UdpSocket>,
    remote: SocketAddr,
}

impl AudioOut {
    /// Sends 8 kHz samples as PCMU packets of 20 ms at real pace.
    pub async fn send(&self, samples: &[i16]) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let ssrc = Ssrc(0x5eed);
        for (i, frame) in samples.chunks(160).enumerate() {
            tick.tick().await;
            let mut payload = Vec::new();
            encode_ulaw(frame, &mut payload);
            let n = i as u32;
            let packet =
                RtpPacket::new(PayloadType::PCMU, n as u16, n * 160, ssrc, i == 0, &payload);
            self.rtp
                .send_to(&packet.to_bytes().unwrap(), self.remote)
                .await
                .unwrap();
        }
    }
}

/// The audio of `packets` in sequence order.
pub fn samples(packets: &[Packet]) -> Vec<i16> {
    packets.iter().flat_map(|p| p.samples.clone()).collect()
}

/// The p-th percentile (0–100) of sorted durations.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() - 1) * p / 100]
}
