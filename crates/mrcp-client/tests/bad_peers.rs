//! The client against servers that misbehave: each a small tokio fake peer on loopback, written here. The
//! client must say what happened and return within its configured timeouts (short ones here); every await
//! in these tests has a deadline naming what it awaited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mrcp_client::violation::AudioTiming;
use mrcp_client::{ClientError, Mode, Session, SessionConfig, SpeakRequest, Violation};
use mrcp_proto::mrcp::{Method, ResourceType};
use mrcp_proto::rtp::{PayloadType, RtpPacket, Ssrc};
use mrcp_proto::sdp::ClientProfile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// The client's SIP and MRCP timeout in these tests.
const TIMEOUT: Duration = Duration::from_millis(400);
/// The most any client operation may take here: its timeout plus scheduling slack.
const BOUND: Duration = Duration::from_secs(3);

fn config(server: SocketAddr, resource: ResourceType, ports: (u16, u16)) -> SessionConfig {
    SessionConfig {
        server,
        transport: mrcp_sip::Transport::Udp,
        profile: ClientProfile::FreeSwitch,
        resource,
        local_ip: "127.0.0.1".parse().unwrap(),
        rtp_ports: ports,
        timeout: TIMEOUT,
        tls: None,
    }
}

/// Runs `f` with a deadline naming it; returns its output and how long it took.
async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = tokio::time::timeout(BOUND, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return within {BOUND:?}"));
    (out, start.elapsed())
}

/// What the fake SIP server does with an INVITE.
#[derive(Clone)]
enum Sip {
    /// Nothing at all.
    Silent,
    /// Bytes that are not SIP.
    Garbage,
    /// 200 OK with this SDP body; `{rtp}` in it is replaced by the offered RTP port, `{mrcp}` by the MRCP
    /// port.
    Answer { sdp: String, mrcp: u16 },
}

/// The header lines named `names` (full or compact form) of a SIP request.
fn headers<'a>(request: &'a str, names: &[&str]) -> Vec<&'a str> {
    request
        .lines()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| names.iter().any(|w| n.trim().eq_ignore_ascii_case(w)))
        })
        .collect()
}

/// The RTP port of the offer's `m=audio` line.
fn offered_rtp_port(request: &str) -> u16 {
    request
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the offer has an m=audio line")
}

/// A response to `request` echoing its Via, From, Call-ID and CSeq, with a To tag.
fn response(request: &str, status: &str, local: SocketAddr, body: &str) -> String {
    let mut r = format!("SIP/2.0 {status}\r\n");
    for line in headers(request, &["via", "v", "from", "f", "call-id", "i", "cseq"]) {
        r.push_str(line.trim_end());
        r.push_str("\r\n");
    }
    for line in headers(request, &["to", "t"]) {
        let line = line.trim_end();
        if line.contains("tag=") {
            r.push_str(line);
        } else {
            r.push_str(&format!("{line};tag=fake"));
        }
        r.push_str("\r\n");
    }
    r.push_str(&format!("Contact: <sip:fake@{local}>\r\n"));
    if body.is_empty() {
        r.push_str("Content-Length: 0\r\n\r\n");
    } else {
        r.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    r
}

/// A fake SIP server on loopback UDP; BYE is answered 200 in every mode but `Silent`.
async fn fake_sip(mode: Sip) -> (SocketAddr, JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let reply = match (&mode, request.split_whitespace().next()) {
                (Sip::Silent, _) | (_, Some("ACK")) => continue,
                (Sip::Garbage, _) => "\u{1}\u{2}HTTP/1.1 200 OK garbage\r\n\r\n\u{0}".to_owned(),
                (Sip::Answer { .. }, Some("BYE")) => response(&request, "200 OK", local, ""),
                (Sip::Answer { sdp, mrcp }, Some("INVITE")) => {
                    let body = sdp
                        .replace("{rtp}", &offered_rtp_port(&request).to_string())
                        .replace("{mrcp}", &mrcp.to_string())
                        .replace('\n', "\r\n");
                    response(&request, "200 OK", local, &body)
                }
                _ => continue,
            };
            let _ = socket.send_to(reply.as_bytes(), from).await;
        }
    });
    (local, task)
}

/// An answer for one channel; the RTP port `{audio}` is where the fake server "receives".
fn answer_sdp(resource: &str, audio_port: u16) -> String {
    format!(
        "v=0\n\
         o=fake 1 1 IN IP4 127.0.0.1\n\
         s=-\n\
         c=IN IP4 127.0.0.1\n\
         t=0 0\n\
         m=application {{mrcp}} TCP/MRCPv2 1\n\
         a=setup:passive\n\
         a=connection:new\n\
         a=channel:F00D@{resource}\n\
         a=cmid:1\n\
         m=audio {audio_port} RTP/AVP 0\n\
         a=rtpmap:0 PCMU/8000\n\
         a={}\n\
         a=mid:1\n",
        if resource == "speechsynth" {
            "sendonly"
        } else {
            "recvonly"
        }
    )
}

/// A message with its message-length computed.
fn mrcp(start: &str, headers: &[&str]) -> Vec<u8> {
    let mut rest = String::new();
    for h in headers {
        rest.push_str(h);
        rest.push_str("\r\n");
    }
    rest.push_str("\r\n");
    let mut len = 0;
    loop {
        let t = format!("MRCP/2.0 {len} {start}\r\n{rest}");
        if t.len() == len {
            return t.into_bytes();
        }
        len = t.len();
    }
}

/// Reads one request (headers only, the fake peers ignore bodies' content) from the client.
async fn read_request(tcp: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(BOUND, tcp.read(&mut buf))
        .await
        .expect("the client sent no MRCP request")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// A fake MRCP server: accepts one connection and runs `script` on it.
async fn fake_mrcp<F, Fut>(script: F) -> (u16, JoinHandle<()>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        if let Ok(Ok((tcp, _))) = tokio::time::timeout(BOUND, listener.accept()).await {
            script(tcp).await;
        }
    });
    (port, task)
}

/// A fake server (SIP and MRCP) for `resource` running `script` on the control connection.
async fn fake_server<F, Fut>(
    resource: &str,
    script: F,
) -> (SocketAddr, JoinHandle<()>, JoinHandle<()>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (mrcp, mrcp_task) = fake_mrcp(script).await;
    let (sip, sip_task) = fake_sip(Sip::Answer {
        sdp: answer_sdp(resource, 39_990),
        mrcp,
    })
    .await;
    (sip, sip_task, mrcp_task)
}

#[tokio::test]
async fn a_sip_server_that_never_answers() {
    let (sip, task) = fake_sip(Sip::Silent).await;
    let cfg = config(sip, ResourceType::Speechrecog, (51000, 51099));
    let (result, took) =
        bounded("Session::open against a silent server", Session::open(&cfg)).await;
    let e = result.err().expect("no session without an answer");
    assert!(
        matches!(
            e,
            ClientError::Timeout {
                what: "answer to the INVITE",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.to_string(), "no answer to the INVITE within 400 ms");
    assert!(took >= TIMEOUT && took < TIMEOUT * 3, "{took:?}");
    task.abort();
}

#[tokio::test]
async fn a_sip_server_that_answers_garbage() {
    let (sip, task) = fake_sip(Sip::Garbage).await;
    let cfg = config(sip, ResourceType::Speechrecog, (51100, 51199));
    let (result, took) = bounded("Session::open against garbage", Session::open(&cfg)).await;
    let e = result.err().expect("no session from garbage");
    // Datagrams that are not SIP are dropped, as a SIP stack must (RFC 3261 §18.3): no answer came.
    assert!(
        matches!(
            e,
            ClientError::Timeout {
                what: "answer to the INVITE",
                ..
            }
        ),
        "{e}"
    );
    assert!(took < TIMEOUT * 3, "{took:?}");
    task.abort();
}

#[tokio::test]
async fn a_200_ok_with_a_garbage_sdp() {
    let (sip, task) = fake_sip(Sip::Answer {
        sdp: "this is not SDP\n".to_owned(),
        mrcp: 9,
    })
    .await;
    let cfg = config(sip, ResourceType::Speechrecog, (51200, 51299));
    let (result, _) = bounded("Session::open with a garbage answer", Session::open(&cfg)).await;
    let e = result.err().expect("no session from a garbage SDP");
    assert!(matches!(e, ClientError::Sdp(_)), "{e}");
    assert!(e.to_string().starts_with("sdp answer: "), "{e}");
    task.abort();
}

#[tokio::test]
async fn an_mrcp_peer_that_closes_tcp_mid_message() {
    let (sip, sip_task, mrcp_task) = fake_server("speechrecog", |mut tcp| async move {
        read_request(&mut tcp).await;
        let full = mrcp(
            "1 200 IN-PROGRESS",
            &["Channel-Identifier: F00D@speechrecog"],
        );
        let _ = tcp.write_all(&full[..full.len() / 2]).await;
        let _ = tcp.shutdown().await;
    })
    .await;
    let cfg = config(sip, ResourceType::Speechrecog, (51300, 51399));
    let (session, _) = bounded("Session::open", Session::open(&cfg)).await;
    let mut session = session.unwrap();
    let body = Some(("text/uri-list", &b"builtin:dtmf/digits"[..]));
    let (sent, _) = bounded("send RECOGNIZE", session.send(Method::Recognize, &[], body)).await;
    sent.unwrap();
    let (got, took) = bounded("receive the cut response", session.receive()).await;
    let e = got.unwrap_err();
    assert!(
        matches!(e, ClientError::ClosedMidMessage { buffered } if buffered > 10),
        "{e}"
    );
    assert!(e.to_string().contains("in the middle of a message"), "{e}");
    assert!(
        took < TIMEOUT,
        "a closed connection is seen at once: {took:?}"
    );
    bounded("close", session.close()).await;
    sip_task.abort();
    mrcp_task.abort();
}

#[tokio::test]
async fn an_mrcp_peer_that_never_sends_recognition_complete() {
    let (sip, sip_task, mrcp_task) = fake_server("speechrecog", |mut tcp| async move {
        read_request(&mut tcp).await;
        let r = mrcp(
            "1 200 IN-PROGRESS",
            &["Channel-Identifier: F00D@speechrecog"],
        );
        let _ = tcp.write_all(&r).await;
        // Then nothing, holding the connection open.
        let _ = tokio::time::timeout(BOUND, read_request(&mut tcp)).await;
    })
    .await;
    let cfg = config(sip, ResourceType::Speechrecog, (51400, 51499));
    let (session, _) = bounded("Session::open", Session::open(&cfg)).await;
    let mut session = session.unwrap();
    let body = Some(("text/uri-list", &b"builtin:dtmf/digits"[..]));
    bounded("send RECOGNIZE", session.send(Method::Recognize, &[], body))
        .await
        .0
        .unwrap();
    let (response, _) = bounded("receive IN-PROGRESS", session.receive()).await;
    response.unwrap();
    let (done, took) = bounded(
        "await RECOGNITION-COMPLETE",
        session.until_event("RECOGNITION-COMPLETE"),
    )
    .await;
    let e = done.unwrap_err();
    let ClientError::Violation(v) = &e else {
        panic!("expected a violation, got {e}");
    };
    assert_eq!(v.name(), "never-completed");
    assert_eq!(
        v.to_string(),
        "the server never completed RECOGNIZE 1: no RECOGNITION-COMPLETE within 400 ms"
    );
    assert!(took >= TIMEOUT && took < TIMEOUT * 3, "{took:?}");
    bounded("close", session.close()).await;
    sip_task.abort();
    mrcp_task.abort();
}

/// Where a fake synthesizer sends its RTP, relative to the port the client offered.
#[derive(Clone, Copy)]
enum RtpTarget {
    /// The RTCP port (offered port + 1).
    RtcpPort,
    /// A port nobody listens on.
    Elsewhere,
    /// No RTP at all.
    Nothing,
    /// The right port, but some packets before IN-PROGRESS and after SPEAK-COMPLETE.
    OutsideRequest,
}

/// A synthesizer whose SPEAK completes with 000 after sending 10 packets to `target`.
async fn fake_synth(
    target: RtpTarget,
    client_rtp: u16,
) -> (SocketAddr, JoinHandle<()>, JoinHandle<()>) {
    fake_server("speechsynth", move |mut tcp| async move {
        read_request(&mut tcp).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = match target {
            RtpTarget::RtcpPort => client_rtp + 1,
            RtpTarget::Elsewhere => client_rtp + 50,
            _ => client_rtp,
        };
        let to: SocketAddr = ([127, 0, 0, 1], port).into();
        let payload = [0x55u8; 160];
        let packet = |i: u16| {
            RtpPacket::new(
                PayloadType::PCMU,
                i,
                160 * u32::from(i),
                Ssrc(9),
                i == 0,
                &payload,
            )
            .to_bytes()
            .unwrap()
        };
        if matches!(target, RtpTarget::OutsideRequest) {
            let _ = rtp.send_to(&packet(0), to).await;
            // Let the early packet land before the response.
            let _ =
                tokio::time::timeout(Duration::from_millis(30), std::future::pending::<()>()).await;
        }
        let r = mrcp(
            "1 200 IN-PROGRESS",
            &["Channel-Identifier: F00D@speechsynth"],
        );
        let _ = tcp.write_all(&r).await;
        if !matches!(target, RtpTarget::Nothing) {
            for i in 1..=10 {
                let _ = rtp.send_to(&packet(i), to).await;
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(30), std::future::pending::<()>()).await;
        let done = mrcp(
            "SPEAK-COMPLETE 1 COMPLETE",
            &[
                "Channel-Identifier: F00D@speechsynth",
                "Completion-Cause: 000 normal",
            ],
        );
        let _ = tcp.write_all(&done).await;
        if matches!(target, RtpTarget::OutsideRequest) {
            // The prompt goes on at its pace after the event, as a server that completes early would send it
            // (packets already there when the event is read count before it).
            for i in 11..=13 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = rtp.send_to(&packet(i), to).await;
            }
        }
        let _ = tokio::time::timeout(BOUND, read_request(&mut tcp)).await;
    })
    .await
}

/// Opens a synthesizer session on a fixed client RTP port, speaks, and returns the outcome's violations.
async fn speak_against(target: RtpTarget, client_rtp: u16, mode: Mode) -> Vec<Violation> {
    let (sip, sip_task, mrcp_task) = fake_synth(target, client_rtp).await;
    let cfg = config(sip, ResourceType::Speechsynth, (client_rtp, client_rtp + 1));
    let (session, _) = bounded("Session::open", Session::open(&cfg)).await;
    let mut session = session.unwrap();
    session.set_mode(mode);
    let request = SpeakRequest::text("hello");
    let (outcome, took) = bounded("speak", session.speak(&request)).await;
    let outcome = outcome.unwrap();
    assert_eq!(outcome.completion_cause(), Some(0));
    assert!(took < TIMEOUT * 3, "{took:?}");
    assert_eq!(session.violations(), &outcome.violations[..]);
    bounded("close", session.close()).await;
    sip_task.abort();
    mrcp_task.abort();
    outcome.violations
}

#[tokio::test]
async fn rtp_sent_to_the_rtcp_port() {
    let v = speak_against(RtpTarget::RtcpPort, 51500, Mode::Strict).await;
    let names: Vec<_> = v.iter().map(Violation::name).collect();
    assert_eq!(names, ["rtp-to-wrong-port", "no-audio"], "{v:?}");
    assert_eq!(
        v[0].to_string(),
        "the server sent 10 RTP packet(s) to port 51501, not to the offered RTP port 51500"
    );
}

#[tokio::test]
async fn rtp_sent_elsewhere_reaches_nobody() {
    let v = speak_against(RtpTarget::Elsewhere, 51600, Mode::Strict).await;
    assert_eq!(
        v,
        [Violation::NoAudio {
            request: mrcp_proto::mrcp::RequestId(1),
            port: 51600
        }]
    );
    assert_eq!(
        v[0].to_string(),
        "the server completed SPEAK 1 but sent no RTP to port 51600"
    );
}

#[tokio::test]
async fn no_rtp_at_all_for_a_speak() {
    let v = speak_against(RtpTarget::Nothing, 51700, Mode::Lenient).await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].name(), "no-audio");
}

#[tokio::test]
async fn audio_before_in_progress_and_after_speak_complete() {
    let v = speak_against(RtpTarget::OutsideRequest, 51800, Mode::Strict).await;
    assert_eq!(
        v,
        [
            Violation::AudioOutsideRequest {
                request: mrcp_proto::mrcp::RequestId(1),
                packets: 1,
                when: AudioTiming::BeforeInProgress
            },
            Violation::AudioOutsideRequest {
                request: mrcp_proto::mrcp::RequestId(1),
                packets: 3,
                when: AudioTiming::AfterComplete
            },
        ]
    );
}

#[tokio::test]
async fn a_speak_that_never_completes() {
    let (sip, sip_task, mrcp_task) = fake_server("speechsynth", |mut tcp| async move {
        read_request(&mut tcp).await;
        let r = mrcp(
            "1 200 IN-PROGRESS",
            &["Channel-Identifier: F00D@speechsynth"],
        );
        let _ = tcp.write_all(&r).await;
        let _ = tokio::time::timeout(BOUND, read_request(&mut tcp)).await;
    })
    .await;
    let cfg = config(sip, ResourceType::Speechsynth, (51900, 51999));
    let (session, _) = bounded("Session::open", Session::open(&cfg)).await;
    let mut session = session.unwrap();
    let (result, took) = bounded("speak", session.speak(&SpeakRequest::text("hi"))).await;
    let e = result.unwrap_err();
    assert!(
        matches!(
            &e,
            ClientError::Violation(Violation::NeverCompleted {
                event: "SPEAK-COMPLETE",
                ..
            })
        ),
        "{e}"
    );
    assert!(took >= TIMEOUT && took < TIMEOUT * 3, "{took:?}");
    bounded("close", session.close()).await;
    sip_task.abort();
    mrcp_task.abort();
}

/// A recognizer that sends INTERMEDIATE-RESULT (FreeSWITCH puts the channel into ERROR on it) before a
/// proper RECOGNITION-COMPLETE.
async fn chatty_recognizer() -> (SocketAddr, JoinHandle<()>, JoinHandle<()>) {
    fake_server("speechrecog", |mut tcp| async move {
        read_request(&mut tcp).await;
        let channel = "Channel-Identifier: F00D@speechrecog";
        for m in [
            mrcp("1 200 IN-PROGRESS", &[channel]),
            mrcp("INTERMEDIATE-RESULT 1 IN-PROGRESS", &[channel]),
            mrcp(
                "RECOGNITION-COMPLETE 1 COMPLETE",
                &[channel, "Completion-Cause: 001 no-match"],
            ),
        ] {
            let _ = tcp.write_all(&m).await;
        }
        let _ = tokio::time::timeout(BOUND, read_request(&mut tcp)).await;
    })
    .await
}

async fn recognize_against_chatty(
    mode: Mode,
    ports: (u16, u16),
) -> (Result<u16, ClientError>, Vec<Violation>) {
    let (sip, sip_task, mrcp_task) = chatty_recognizer().await;
    let cfg = config(sip, ResourceType::Speechrecog, ports);
    let (session, _) = bounded("Session::open", Session::open(&cfg)).await;
    let mut session = session.unwrap();
    session.set_mode(mode);
    let body = Some(("text/uri-list", &b"builtin:dtmf/digits"[..]));
    bounded("send RECOGNIZE", session.send(Method::Recognize, &[], body))
        .await
        .0
        .unwrap();
    let run = async {
        session.receive().await?;
        let (_, complete) = session.until_event("RECOGNITION-COMPLETE").await?;
        Ok(complete
            .headers
            .get_raw("Completion-Cause")
            .map_or(999, |c| {
                c.get(..3).and_then(|n| n.parse().ok()).unwrap_or(999)
            }))
    };
    let (result, _) = bounded("the recognition", run).await;
    let violations = session.violations().to_vec();
    bounded("close", session.close()).await;
    sip_task.abort();
    mrcp_task.abort();
    (result, violations)
}

#[tokio::test]
async fn strict_fails_on_an_unexpected_event_and_lenient_carries_on() {
    let (strict, _) = recognize_against_chatty(Mode::Strict, (52100, 52199)).await;
    let e = strict.unwrap_err();
    assert!(
        matches!(&e, ClientError::Violation(Violation::UnexpectedEvent { event, .. }) if event == "INTERMEDIATE-RESULT"),
        "{e}"
    );
    let (lenient, violations) = recognize_against_chatty(Mode::Lenient, (52200, 52299)).await;
    assert_eq!(lenient.unwrap(), 1, "lenient mode reaches the result");
    let names: Vec<_> = violations.iter().map(Violation::name).collect();
    assert_eq!(names, ["unexpected-event"]);
}

#[tokio::test]
async fn the_load_generator_counts_violations_as_their_own_class() {
    use mrcp_client::load::script::{Grammar, RecognizeInput, SpeakInput};
    use mrcp_client::load::{LoadConfig, Scenario, run};
    use std::sync::Arc;

    let (sip, sip_task, mrcp_task) = chatty_recognizer().await;
    let config = LoadConfig {
        session: config(sip, ResourceType::Speechrecog, (52300, 52399)),
        scenario: Scenario::Recognize,
        sessions: 1,
        rate: 10.0,
        duration: Duration::from_secs(1),
        count: Some(1),
        session_deadline: Duration::from_secs(2),
        recognize: RecognizeInput {
            grammar: Grammar::Uri("builtin:dtmf/digits".to_owned()),
            audio: Arc::from(Vec::new()),
            digits: "1".to_owned(),
            expect: None,
            prompt: Duration::ZERO,
        },
        speak: SpeakInput {
            text: String::new(),
        },
        server_pid: None,
        mode: Mode::Strict,
    };
    let (report, _) = bounded("the load run", run(config, |_| {})).await;
    let report = report.unwrap();
    assert_eq!((report.attempted, report.failed), (1, 1), "{report:#?}");
    assert_eq!(
        report.failures.get("violation: unexpected-event"),
        Some(&1),
        "{:?}",
        report.failures
    );
    assert!(
        report.failure_examples["violation: unexpected-event"].contains("INTERMEDIATE-RESULT"),
        "{:?}",
        report.failure_examples
    );
    sip_task.abort();
    mrcp_task.abort();
}
