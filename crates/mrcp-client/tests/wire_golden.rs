//! Golden wire test: what the `freeswitch` profile puts on the wire (the INVITE and its SDP offer, DEFINE-GRAMMAR,
//! RECOGNIZE and SPEAK, as the load scripts send them) has the structure of the real UniMRCP client captures in
//! `crates/mrcp-proto/tests/data/unimrcp-wire-captures.txt` (frames 5, 12, 30 and 34). A fake server on
//! loopback records the client's bytes and answers as the captured server did.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mrcp_client::SessionConfig;
use mrcp_client::load::script::{self, Grammar, RecognizeInput, SpeakInput, Timings};
use mrcp_client::violation::Mode;
use mrcp_media::endpoint::{PortAllocator, PortRange};
use mrcp_proto::mrcp::ResourceType;
use mrcp_proto::sdp::ClientProfile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(10);

/// The text of capture frame `n`.
fn frame(n: u32) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mrcp-proto/tests/data/unimrcp-wire-captures.txt"
    );
    let text = std::fs::read_to_string(path).expect("the capture file is in the repository");
    let start = format!("----- frame {n} ");
    let begin = text.find(&start).expect("frame present");
    let body = &text[begin..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let end = body.find("----- end -----").unwrap();
    body[..end].to_owned()
}

/// Header names of a SIP or MRCP message, in order (lines before the blank line, after the first).
fn header_names(message: &str) -> Vec<String> {
    message
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_owned()))
        .collect()
}

fn body(message: &str) -> &str {
    message
        .split_once("\r\n\r\n")
        .or_else(|| message.split_once("\n\n"))
        .map_or("", |(_, b)| b)
}

/// What a line of an SDP is, for comparing shapes: `m=application 9 TCP/MRCPv2 1`, `a=setup:active`,
/// `a=rtpmap`, `o`, …
fn sdp_shape(sdp: &str) -> Vec<String> {
    sdp.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            if l.starts_with("m=application")
                || l.starts_with("a=setup")
                || l.starts_with("a=connection")
                || l.starts_with("a=resource")
                || l.starts_with("a=cmid")
                || l.starts_with("a=mid")
                || l == "a=recvonly"
                || l == "a=sendonly"
            {
                l.to_owned()
            } else if let Some((kind, _)) = l.split_once(':') {
                kind.to_owned()
            } else if l.starts_with("m=audio") {
                "m=audio".to_owned()
            } else {
                l[..1].to_owned()
            }
        })
        .collect()
}

/// The control section and the audio section's frame (first and last lines, direction) must match the
/// capture; every audio format must have an rtpmap.
fn assert_same_sdp_structure(ours: &str, captured: &str) {
    let (o, c) = (sdp_shape(ours), sdp_shape(captured));
    let audio = |s: &[String]| {
        s.iter()
            .position(|l| l == "m=audio")
            .expect("an m=audio line")
    };
    let (oa, ca) = (audio(&o), audio(&c));
    assert_eq!(
        o[..oa],
        c[..ca],
        "session and control sections\nours:\n{ours}\ncaptured:\n{captured}"
    );
    assert_eq!(o.last(), c.last(), "a=mid:1 closes the audio section");
    for dir in ["a=recvonly", "a=sendonly"] {
        assert_eq!(
            o.contains(&dir.to_owned()),
            c.contains(&dir.to_owned()),
            "{dir}"
        );
    }
    let m_audio = ours.lines().find(|l| l.starts_with("m=audio")).unwrap();
    for pt in m_audio.split_whitespace().skip(3) {
        assert!(
            ours.contains(&format!("a=rtpmap:{pt} ")),
            "no rtpmap for {pt}:\n{ours}"
        );
    }
}

/// The start line `MRCP/2.0 <length> <METHOD> <id>` with an exact length, as UniMRCP writes it.
fn assert_mrcp_start(message: &str, method: &str, id: u32) {
    let first = message.lines().next().unwrap();
    let parts: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(parts.len(), 4, "{first}");
    assert_eq!(parts[0], "MRCP/2.0");
    assert_eq!(
        parts[1].parse::<usize>().unwrap(),
        message.len(),
        "message-length of {first}"
    );
    assert_eq!(
        (parts[2], parts[3]),
        (method, id.to_string().as_str()),
        "{first}"
    );
}

/// A fake server: answers INVITE with `resource`'s SDP, and MRCP requests as the captured server did.
/// Every INVITE and request is sent to `seen`.
async fn fake_server(resource: &'static str, seen: mpsc::Sender<String>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mrcp_port = listener.local_addr().unwrap().port();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sip = socket.local_addr().unwrap();
    let sip_seen = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let method = request.split_whitespace().next().unwrap_or("").to_owned();
            if method == "ACK" {
                continue;
            }
            let sdp = if method == "INVITE" {
                let _ = sip_seen.send(request.clone()).await;
                let dir = if resource == "speechsynth" {
                    "sendonly"
                } else {
                    "recvonly"
                };
                format!(
                    "v=0\r\no=fake 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                     m=application {mrcp_port} TCP/MRCPv2 1\r\na=setup:passive\r\na=connection:new\r\n\
                     a=channel:159c1d0900904b1d@{resource}\r\na=cmid:1\r\n\
                     m=audio 39998 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={dir}\r\na=mid:1\r\n"
                )
            } else {
                String::new()
            };
            let mut r = "SIP/2.0 200 OK\r\n".to_owned();
            for l in request.lines() {
                let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
                if ["via", "from", "call-id", "cseq"].contains(&name.as_str()) {
                    r.push_str(l.trim_end());
                    r.push_str("\r\n");
                } else if name == "to" {
                    r.push_str(&format!("{};tag=srv\r\n", l.trim_end()));
                }
            }
            r.push_str(&format!("Contact: <sip:{sip}>\r\n"));
            if sdp.is_empty() {
                r.push_str("Content-Length: 0\r\n\r\n");
            } else {
                r.push_str(&format!(
                    "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                    sdp.len()
                ));
            }
            let _ = socket.send_to(r.as_bytes(), from).await;
        }
    });
    tokio::spawn(async move {
        let Ok((mut tcp, _)) = listener.accept().await else {
            return;
        };
        let mut buf = vec![0u8; 65_536];
        let channel = format!("Channel-Identifier: 159c1d0900904b1d@{resource}");
        loop {
            let n = match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let parts: Vec<String> = request
                .split_whitespace()
                .take(4)
                .map(str::to_owned)
                .collect();
            let (method, id) = (parts[2].clone(), parts[3].clone());
            let _ = seen.send(request).await;
            let mut replies = Vec::new();
            match method.as_str() {
                "DEFINE-GRAMMAR" => replies.push(format!(
                    "{id} 200 COMPLETE\r\n{channel}\r\nCompletion-Cause: 000 success"
                )),
                "RECOGNIZE" => {
                    replies.push(format!("{id} 200 IN-PROGRESS\r\n{channel}"));
                    let nlsml = "<?xml version=\"1.0\"?><result><interpretation grammar=\"session:x\" confidence=\"0.9\"><instance>1234</instance><input mode=\"dtmf\">1 2 3 4</input></interpretation></result>";
                    replies.push(format!(
                        "RECOGNITION-COMPLETE {id} COMPLETE\r\n{channel}\r\nCompletion-Cause: 000 success\r\nContent-Type: application/nlsml+xml\r\nContent-Length: {}\r\n\r\n{nlsml}",
                        nlsml.len()
                    ));
                }
                "SPEAK" => {
                    replies.push(format!("{id} 200 IN-PROGRESS\r\n{channel}"));
                    replies.push(format!(
                        "SPEAK-COMPLETE {id} COMPLETE\r\n{channel}\r\nCompletion-Cause: 000 normal"
                    ));
                }
                _ => replies.push(format!("{id} 200 COMPLETE\r\n{channel}")),
            }
            for reply in replies {
                let reply = if reply.contains("\r\n\r\n") {
                    reply
                } else {
                    format!("{reply}\r\n\r\n")
                };
                let mut len = 0;
                let text = loop {
                    let t = format!("MRCP/2.0 {len} {reply}");
                    if t.len() == len {
                        break t;
                    }
                    len = t.len();
                };
                let _ = tcp.write_all(text.as_bytes()).await;
            }
        }
    });
    sip
}

fn config(server: SocketAddr) -> SessionConfig {
    SessionConfig {
        server,
        transport: mrcp_sip::Transport::Udp,
        profile: ClientProfile::FreeSwitch,
        resource: ResourceType::Speechrecog,
        local_ip: "127.0.0.1".parse().unwrap(),
        rtp_ports: (55000, 55099),
        timeout: Duration::from_secs(2),
        tls: None,
    }
}

async fn next(seen: &mut mpsc::Receiver<String>, what: &str) -> String {
    tokio::time::timeout(BOUND, seen.recv())
        .await
        .unwrap_or_else(|_| panic!("the client sent no {what} within {BOUND:?}"))
        .unwrap()
}

#[tokio::test]
async fn freeswitch_speak_matches_the_captured_unimrcp_client() {
    let (tx, mut seen) = mpsc::channel(16);
    let sip = fake_server("speechsynth", tx).await;
    let mut ports = PortAllocator::new(PortRange::new(55000, 55099));
    let input = SpeakInput {
        text: "<?xml version=\"1.0\"?>\n<speak version=\"1.0\" xml:lang=\"en-US\" xmlns=\"http://www.w3.org/2001/10/synthesis\"><s>Welcome.</s></speak>".to_owned(),
    };
    let (cfg, mut timings) = (config(sip), Timings::default());
    let run = script::speak(
        &cfg,
        &mut ports,
        &input,
        &mut timings,
        Instant::now() + BOUND,
        Mode::Lenient,
    );
    let result = tokio::time::timeout(BOUND, run)
        .await
        .expect("the speak session ended");
    // The fake server sends no audio: the session fails for that, after the wire exchange under test.
    assert!(result.is_err());

    let invite = next(&mut seen, "INVITE").await;
    let captured = frame(5);
    assert!(invite.starts_with("INVITE sip:"), "{invite}");
    let ours = header_names(&invite);
    for name in [
        "Via",
        "Max-Forwards",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "User-Agent",
        "Content-Type",
        "Content-Length",
    ] {
        assert!(
            header_names(&captured).iter().any(|n| n == name),
            "capture lacks {name}"
        );
        assert!(
            ours.iter().any(|n| n.eq_ignore_ascii_case(name)),
            "our INVITE lacks {name}:\n{invite}"
        );
    }
    let via = invite.lines().find(|l| l.starts_with("Via:")).unwrap();
    assert!(via.contains(";branch=z9hG4bK"), "{via}");
    let from = invite.lines().find(|l| l.starts_with("From:")).unwrap();
    let to = invite.lines().find(|l| l.starts_with("To:")).unwrap();
    assert!(
        from.contains(";tag=") && !to.contains(";tag="),
        "{from} / {to}"
    );
    assert_same_sdp_structure(body(&invite), body(&captured));

    let speak = next(&mut seen, "SPEAK").await;
    let captured = frame(12);
    assert_mrcp_start(&speak, "SPEAK", 1);
    assert_eq!(
        header_names(&speak),
        header_names(&captured),
        "SPEAK header order\n{speak}"
    );
    assert!(speak.contains("Channel-Identifier: 159c1d0900904b1d@speechsynth\r\n"));
    // FreeSWITCH sends SSML as application/ssml+xml where umc used the older synthesis+ssml (reference §8.2).
    assert!(
        speak.contains("Content-Type: application/ssml+xml\r\n"),
        "{speak}"
    );
}

#[tokio::test]
async fn freeswitch_define_grammar_and_recognize_match_the_captured_unimrcp_client() {
    let (tx, mut seen) = mpsc::channel(16);
    let sip = fake_server("speechrecog", tx).await;
    let mut ports = PortAllocator::new(PortRange::new(55100, 55199));
    let grammar = frame(30);
    let grammar = body(&grammar).trim_end().to_owned();
    let input = RecognizeInput {
        grammar: Grammar::Inline {
            content_type: "application/srgs+xml".to_owned(),
            body: Arc::from(grammar.as_bytes()),
        },
        audio: Arc::from(vec![0i16; 160]),
        digits: String::new(),
        expect: None,
        prompt: Duration::ZERO,
    };
    let (cfg, mut timings) = (config(sip), Timings::default());
    let run = script::recognize(
        &cfg,
        &mut ports,
        &input,
        &mut timings,
        Instant::now() + BOUND,
        Mode::Strict,
    );
    let result = tokio::time::timeout(BOUND, run)
        .await
        .expect("the recognize session ended");
    result.unwrap();

    let invite = next(&mut seen, "INVITE").await;
    // The capture's recognizer INVITE (frame 23) has the same SDP shape with a=resource:speechrecog, sendonly.
    assert_same_sdp_structure(body(&invite), body(&frame(23)));

    let define = next(&mut seen, "DEFINE-GRAMMAR").await;
    let captured = frame(30);
    assert_mrcp_start(&define, "DEFINE-GRAMMAR", 1);
    assert_eq!(
        header_names(&define),
        header_names(&captured),
        "DEFINE-GRAMMAR order\n{define}"
    );
    assert!(define.ends_with(&grammar), "the grammar is sent as read");

    let recognize = next(&mut seen, "RECOGNIZE").await;
    let captured = frame(34);
    assert_mrcp_start(&recognize, "RECOGNIZE", 2);
    let (ours, theirs) = (header_names(&recognize), header_names(&captured));
    // Channel-Identifier, Content-Type, Cancel-If-Queue first and Content-Length last, as captured; the
    // parameters between are the caller's (none here).
    assert_eq!(ours[..3], theirs[..3], "{recognize}");
    assert_eq!(ours.last(), theirs.last());
    let content_id = define
        .lines()
        .find_map(|l| l.strip_prefix("Content-Id: "))
        .unwrap()
        .trim();
    assert_eq!(
        body(&recognize),
        format!("session:{content_id}"),
        "no trailing CRLF for one grammar"
    );
}
