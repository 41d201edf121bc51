//! Replays the client side of real UniMRCP 1.8 exchanges (`umc run recog` and `unimrcpclient run recog` in
//! `crates/mrcp-proto/tests/data/unimrcp-wire-captures.txt`) against the `mrcp-server` binary, byte for byte
//! except for addresses, ports, the server's tags and the channel id, and checks every answer.
//!
//! Needs espeak-ng and sox (the caller says "one"), libpocketsphinx3 and pocketsphinx-en-us.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../mrcp-proto/tests/mrcp_support/capture.rs"]
mod capture;
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use common::{DEADLINE, ServerProcess, telephone_speech};
use mrcp_media::codec::Codec as MediaCodec;
use mrcp_media::endpoint::{
    EndpointConfig, MediaCommand, MediaEvent, PortAllocator, PortRange, RtpEndpoint,
};
use mrcp_media::pacer::PromptId;
use mrcp_proto::mrcp::codec::Decoder;
use mrcp_proto::mrcp::{Message, StartLine};
use mrcp_proto::rtp::PayloadType;
use mrcp_proto::sdp::MrcpSdp;
use mrcp_proto::sip::{Frame, StreamFramer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

fn frame(frames: &[capture::Frame], number: u32) -> String {
    let f = frames
        .iter()
        .find(|f| f.number == number)
        .expect("frame missing from the capture");
    String::from_utf8(f.payload.clone()).unwrap()
}

async fn sip_response(socket: &UdpSocket, wanted: u16) -> String {
    tokio::time::timeout(DEADLINE, async {
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = socket.recv(&mut buf).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with(&format!("SIP/2.0 {wanted} ")) {
                return text;
            }
            assert!(
                text.starts_with("SIP/2.0 1"),
                "unexpected SIP message:\n{text}"
            );
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no SIP {wanted} within 20 s"))
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .split("\r\n")
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in\n{message}"))
}

async fn mrcp_message(
    stream: &mut TcpStream,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
) -> Message {
    tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(m) = decoder.decode(buf).unwrap() {
                return m;
            }
            assert!(
                stream.read_buf(buf).await.unwrap() > 0,
                "the server closed the MRCP connection"
            );
        }
    })
    .await
    .expect("no MRCP message within 20 s")
}

/// The channel id, MRCP port and RTP port an SDP answer names.
fn answer_addresses(body: &str) -> (String, u16, u16) {
    let line = |prefix: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .trim()
            .to_owned()
    };
    let port_of =
        |prefix: &str| -> u16 { line(prefix).split(' ').next().unwrap().parse().unwrap() };
    (
        line("a=channel:"),
        port_of("m=application "),
        port_of("m=audio "),
    )
}

/// The frames of one captured recognizer exchange.
struct Scenario {
    invite: u32,
    ack: u32,
    define_grammar: u32,
    recognize: u32,
    /// The channel id the capture's server allocated (same length as ours).
    channel: &'static str,
    /// A re-INVITE removing the channel, and its ACK.
    removal: Option<(u32, u32)>,
    bye: u32,
    server_rtp: &'static str,
    client_rtp: (u16, u16),
}

async fn replay(scenario: Scenario) {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mrcp-proto/tests/data/unimrcp-wire-captures.txt"
    ))
    .unwrap();
    let frames = capture::parse(&text).unwrap();
    // The captured RECOGNIZE may ask for Save-Waveform: keep recordings in a directory of the test's own.
    let dir = std::env::temp_dir().join(format!(
        "mrcp-replay-{}-{}",
        std::process::id(),
        scenario.invite
    ));
    let config = dir.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "[recognizer]\nwaveform_dir = {:?}\n",
            dir.display().to_string()
        ),
    )
    .unwrap();
    let server = ServerProcess::start(scenario.server_rtp, &["--config", config.to_str().unwrap()]);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server.sip).await.unwrap();
    let me = socket.local_addr().unwrap().to_string();
    let them = server.sip.to_string();
    let mut ports =
        PortAllocator::new(PortRange::new(scenario.client_rtp.0, scenario.client_rtp.1));
    let cfg = EndpointConfig::new(
        MediaCodec::Pcmu,
        PayloadType::PCMU,
        PayloadType::new(101),
        3,
    );
    let rtp = RtpEndpoint::bind(cfg, &mut ports, common::LOCALHOST, 3)
        .await
        .unwrap();
    let rewrite = |s: &str| {
        s.replace("127.0.0.1:8062", &me)
            .replace("127.0.0.1:8060", &them)
            .replace(
                "m=audio 4002 ",
                &format!("m=audio {} ", rtp.local_rtp.port()),
            )
    };

    // INVITE → 100 Trying, 200 OK with the answer.
    socket
        .send(rewrite(&frame(&frames, scenario.invite)).as_bytes())
        .await
        .unwrap();
    let ok = sip_response(&socket, 200).await;
    let to = header(&ok, "To").to_owned();
    let body = &ok[ok.find("\r\n\r\n").unwrap() + 4..];
    let answer = MrcpSdp::parse(body).unwrap();
    assert!(
        body.contains("a=setup:passive\r\n") && body.contains("a=connection:new\r\n"),
        "{body}"
    );
    assert!(
        body.contains("RTP/AVP 0 101\r\n"),
        "PCMU and telephone-event first:\n{body}"
    );
    assert_eq!(answer.media.len(), 2);
    let (channel, mrcp_port, rtp_port) = answer_addresses(body);

    // In-dialog requests carry the server's To tag.
    let with_tag = |number: u32| {
        let raw = frame(&frames, number);
        rewrite(&raw.replace(header(&raw, "To"), "@TO@")).replace("@TO@", &to)
    };
    socket
        .send(with_tag(scenario.ack).as_bytes())
        .await
        .unwrap();

    // MRCP with our channel id (same length, so the captured message-length stays right).
    assert_eq!(channel.len(), scenario.channel.len());
    let mut stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], mrcp_port)))
        .await
        .unwrap();
    let (mut decoder, mut buf) = (Decoder::default(), BytesMut::new());
    let ours = |number: u32| frame(&frames, number).replace(scenario.channel, &channel);
    stream
        .write_all(ours(scenario.define_grammar).as_bytes())
        .await
        .unwrap();
    let defined = mrcp_message(&mut stream, &mut decoder, &mut buf).await;
    assert_eq!(defined.start.to_string(), "1 200 COMPLETE");
    assert_eq!(
        defined.headers.get_raw("Completion-Cause"),
        Some("000 success")
    );
    let recognize = ours(scenario.recognize);
    stream.write_all(recognize.as_bytes()).await.unwrap();
    let started = mrcp_message(&mut stream, &mut decoder, &mut buf).await;
    assert_eq!(started.start.to_string(), "2 200 IN-PROGRESS");

    // The caller says "one" (the captures streamed one-8kHz.pcm).
    let remote = SocketAddr::from(([127, 0, 0, 1], rtp_port));
    rtp.commands
        .send(MediaCommand::SetRemote(Some(remote), None))
        .await
        .unwrap();
    for command in [
        MediaCommand::BeginPrompt(PromptId(1)),
        MediaCommand::Audio(telephone_speech("one")),
        MediaCommand::EndPrompt,
    ] {
        rtp.commands.send(command).await.unwrap();
    }
    let start_of_input = mrcp_message(&mut stream, &mut decoder, &mut buf).await;
    assert!(
        matches!(&start_of_input.start, StartLine::Event { event, .. } if event.as_str() == "START-OF-INPUT"),
        "{start_of_input:?}"
    );
    let complete = mrcp_message(&mut stream, &mut decoder, &mut buf).await;
    assert_eq!(
        complete.start.to_string(),
        "RECOGNITION-COMPLETE 2 COMPLETE"
    );
    assert_eq!(
        complete.headers.get_raw("Completion-Cause"),
        Some("000 success")
    );
    let nlsml = String::from_utf8_lossy(&complete.body);
    assert!(nlsml.contains("<instance>one</instance>"), "{nlsml}");
    if recognize.contains("Save-Waveform: true") {
        let waveform = complete.headers.get_raw("Waveform-Uri").unwrap_or_default();
        assert!(
            waveform.starts_with("<file://") && waveform.contains(";size="),
            "Waveform-Uri {waveform:?}"
        );
    }

    // unimrcpclient removes the channel with a re-INVITE (port 0) before BYE; the answer removes it too.
    if let Some((reinvite, ack)) = scenario.removal {
        socket.send(with_tag(reinvite).as_bytes()).await.unwrap();
        let removed = sip_response(&socket, 200).await;
        assert!(header(&removed, "CSeq").ends_with("INVITE"), "{removed}");
        assert!(
            removed.contains("m=application 0 TCP/MRCPv2") && removed.contains("m=audio 0 RTP/AVP"),
            "{removed}"
        );
        socket.send(with_tag(ack).as_bytes()).await.unwrap();
    }

    // BYE → 200 OK.
    socket
        .send(with_tag(scenario.bye).as_bytes())
        .await
        .unwrap();
    let bye_ok = sip_response(&socket, 200).await;
    assert!(header(&bye_ok, "CSeq").ends_with("BYE"), "{bye_ok}");
    drop(tokio::time::timeout(Duration::from_secs(2), rtp.close()).await);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_umc_recognizer_scenario_replays() {
    replay(Scenario {
        invite: 23,
        ack: 26,
        define_grammar: 30,
        recognize: 34,
        channel: "d3a3e355e6e74d5b@speechrecog",
        removal: None,
        bye: 44,
        server_rtp: "32900-32949",
        client_rtp: (33900, 33949),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unimrcpclient_scenario_with_channel_removal_replays() {
    replay(Scenario {
        invite: 69,
        ack: 72,
        define_grammar: 76,
        recognize: 80,
        channel: "71012f1302144e25@speechrecog",
        removal: Some((87, 90)),
        bye: 93,
        server_rtp: "32950-32999",
        client_rtp: (33950, 33999),
    })
    .await;
}

/// Reads SIP messages from a TCP stream until a response with `wanted` status.
async fn sip_tcp_response(
    stream: &mut TcpStream,
    framer: &mut StreamFramer,
    wanted: u16,
) -> String {
    tokio::time::timeout(DEADLINE, async {
        let mut buf = vec![0u8; 65_536];
        loop {
            while let Some(frame) = framer.next_frame().unwrap() {
                let Frame::Message(bytes) = frame else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if text.starts_with(&format!("SIP/2.0 {wanted} ")) {
                    return text;
                }
                assert!(
                    text.starts_with("SIP/2.0 1"),
                    "unexpected SIP message:\n{text}"
                );
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server closed the SIP connection");
            framer.push(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no SIP {wanted} over TCP within 20 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_umc_synthesizer_scenario_over_sip_tcp_replays() {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mrcp-proto/tests/data/unimrcp-wire-captures.txt"
    ))
    .unwrap();
    let frames = capture::parse(&text).unwrap();
    let server = ServerProcess::start("33000-33049", &[]);
    let mut sip = TcpStream::connect(server.sip_tcp).await.unwrap();
    let mut framer = StreamFramer::new(Default::default());
    let me = sip.local_addr().unwrap().to_string();
    let them = server.sip_tcp.to_string();
    // A 4-digit port like the captured 4000 keeps the INVITE's Content-Length right, which TCP framing needs.
    let mut ports = PortAllocator::new(PortRange::new(4100, 4149));
    let cfg = EndpointConfig::new(
        MediaCodec::Pcmu,
        PayloadType::PCMU,
        PayloadType::new(101),
        5,
    );
    let mut rtp = RtpEndpoint::bind(cfg, &mut ports, common::LOCALHOST, 5)
        .await
        .unwrap();
    let rewrite = |s: &str| {
        s.replace("127.0.0.1:8062", &me)
            .replace("127.0.0.1:8060", &them)
            .replace(
                "m=audio 4000 ",
                &format!("m=audio {} ", rtp.local_rtp.port()),
            )
    };

    // INVITE over TCP (frame 99); the answer comes back on the same connection (RFC 3261 §18.2.2).
    sip.write_all(rewrite(&frame(&frames, 99)).as_bytes())
        .await
        .unwrap();
    let ok = sip_tcp_response(&mut sip, &mut framer, 200).await;
    let to = header(&ok, "To").to_owned();
    let body = &ok[ok.find("\r\n\r\n").unwrap() + 4..];
    assert!(
        body.contains("a=sendonly\r\n"),
        "the server sends to a recvonly client:\n{body}"
    );
    let (channel, mrcp_port, rtp_port) = answer_addresses(body);
    let with_tag = |number: u32| {
        let raw = frame(&frames, number);
        rewrite(&raw.replace(header(&raw, "To"), "@TO@")).replace("@TO@", &to)
    };
    sip.write_all(with_tag(105).as_bytes()).await.unwrap();
    let remote = SocketAddr::from(([127, 0, 0, 1], rtp_port));
    rtp.commands
        .send(MediaCommand::SetRemote(Some(remote), None))
        .await
        .unwrap();

    // SPEAK (frame 109) with `application/synthesis+ssml`, as UniMRCP's sample client sends it.
    let mut stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], mrcp_port)))
        .await
        .unwrap();
    let (mut decoder, mut buf) = (Decoder::default(), BytesMut::new());
    let speak = frame(&frames, 109).replace("1aa338ece309407b@speechsynth", &channel);
    stream.write_all(speak.as_bytes()).await.unwrap();
    let started = mrcp_message(&mut stream, &mut decoder, &mut buf).await;
    assert_eq!(started.start.to_string(), "1 200 IN-PROGRESS");
    let complete = mrcp_message(&mut stream, &mut decoder, &mut buf).await;
    assert_eq!(complete.start.to_string(), "SPEAK-COMPLETE 1 COMPLETE");
    assert_eq!(
        complete.headers.get_raw("Completion-Cause"),
        Some("000 normal")
    );

    // The prompt reached the client as RTP: about a second of audio.
    let mut audio = 0usize;
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(300), rtp.events.recv()).await
    {
        if let MediaEvent::Audio { samples, .. } = event {
            audio += samples.len();
        }
    }
    assert!(audio > 6000, "only {audio} samples of the prompt arrived");

    sip.write_all(with_tag(119).as_bytes()).await.unwrap();
    let bye_ok = sip_tcp_response(&mut sip, &mut framer, 200).await;
    assert!(header(&bye_ok, "CSeq").ends_with("BYE"), "{bye_ok}");
    drop(tokio::time::timeout(Duration::from_secs(2), rtp.close()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_invite_adds_a_synthesizer_to_a_recognizer_session() {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mrcp-proto/tests/data/unimrcp-wire-captures.txt"
    ))
    .unwrap();
    let frames = capture::parse(&text).unwrap();
    let server = ServerProcess::start("33050-33099", &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server.sip).await.unwrap();
    let me = socket.local_addr().unwrap().to_string();
    let them = server.sip.to_string();
    let rewrite = |s: &str| {
        s.replace("127.0.0.1:8062", &me)
            .replace("127.0.0.1:8060", &them)
    };

    // The umc recognizer INVITE (frame 23), then its ACK with the server's tag.
    socket
        .send(rewrite(&frame(&frames, 23)).as_bytes())
        .await
        .unwrap();
    let ok = sip_response(&socket, 200).await;
    let to = header(&ok, "To").to_owned();
    let ack = frame(&frames, 26);
    let ack = rewrite(&ack.replace(header(&ack, "To"), "@TO@")).replace("@TO@", &to);
    socket.send(ack.as_bytes()).await.unwrap();

    // A re-INVITE whose offer keeps the recognizer and adds a synthesizer on the same audio (cmid 1).
    let sdp = "v=0\r\no=UniMRCPClient 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:existing\r\na=resource:speechrecog\r\na=cmid:1\r\n\
               m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:existing\r\na=resource:speechsynth\r\na=cmid:1\r\n\
               m=audio 4002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\na=mid:1\r\n";
    let invite = frame(&frames, 23);
    let head = &invite[..invite.find("\r\n\r\n").unwrap()];
    let head = head
        .replace(header(head, "To"), "@TO@")
        .replace("CSeq: 1001105668 INVITE", "CSeq: 1001105669 INVITE")
        .replace("branch=z9hG4bKata564SyZ5ypK", "branch=z9hG4bKreinvite1")
        .replace(
            "Content-Length: 417",
            &format!("Content-Length: {}", sdp.len()),
        );
    let reinvite = format!("{}\r\n\r\n{sdp}", rewrite(&head).replace("@TO@", &to));
    socket.send(reinvite.as_bytes()).await.unwrap();
    let answer = sip_response(&socket, 200).await;
    assert!(
        header(&answer, "CSeq").ends_with("1001105669 INVITE"),
        "{answer}"
    );
    let channels: Vec<&str> = answer
        .lines()
        .filter_map(|l| l.strip_prefix("a=channel:"))
        .collect();
    assert_eq!(channels.len(), 2, "{answer}");
    assert!(
        channels.iter().any(|c| c.trim().ends_with("@speechrecog")),
        "{answer}"
    );
    assert!(
        channels.iter().any(|c| c.trim().ends_with("@speechsynth")),
        "{answer}"
    );
    // One session: both channels share its id.
    let ids: Vec<&str> = channels
        .iter()
        .map(|c| c.split('@').next().unwrap())
        .collect();
    assert_eq!(ids[0], ids[1]);
}
