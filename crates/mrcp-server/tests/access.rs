//! `[access]` and `[limits]` against the real `mrcp-server` binary on loopback (issue 12, item 2): allow-lists
//! per listener, the per-source session limit, slow MRCP clients cut off, oversized grammars, and SIP digest
//! authentication of INVITEs with SIPp's `[authentication]` (Debian package `sip-tester`).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DEADLINE, ServerProcess, connect, http_get, try_connect};
use mrcp_proto::mrcp::{Method, StartLine};
use mrcp_proto::sdp::ClientProfile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mrcp-access-{name}-{}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// The value of a metric line `name{labels} value` (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Reads until the server closes the connection; returns how long that took.
async fn await_close(stream: &mut tokio::net::TcpStream, what: &str) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(DEADLINE, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server did not close {what} within {DEADLINE:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sources_get_403_and_closed_connections() {
    // Loopback is outside every list: SIP, MRCP and HTTP all refuse it.
    let config = config_file(
        "refuse",
        "[access]\nsip_allow = [\"10.0.0.0/8\"]\nmrcp_allow = [\"192.0.2.0/24\", \"2001:db8::/32\"]\n",
    );
    let server = ServerProcess::start("38000-38049", &["--config", config.to_str().unwrap()]);
    match try_connect(&server, ClientProfile::FreeSwitch, (38100, 38149)).await {
        Err(mrcp_client::ClientError::Rejected { status }) => assert_eq!(status, 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "a session")),
    }
    // Nor does a refused source learn the server's state from OPTIONS (both count as SIP refusals).
    let options = common::sip_options(&server).await;
    assert!(options.starts_with("SIP/2.0 403"), "{options}");
    assert!(!options.contains("X-Load"), "{options}");
    let mut mrcp = tokio::net::TcpStream::connect(server.mrcp).await.unwrap();
    // Closed before any request: a write may still be buffered, but the read sees the end at once.
    let _ = mrcp.write_all(b"MRCP/2.0 ").await;
    let took = await_close(&mut mrcp, "a refused MRCP connection").await;
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let (_, text) = http_get(&server, "/metrics").await;
    assert_eq!(
        metric(
            &text,
            "mrcp_refused_total{listener=\"sip\",reason=\"access\"}"
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "mrcp_refused_total{listener=\"mrcp\",reason=\"access\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(&text, "mrcp_invites_rejected_total{status=\"403\"}"),
        1.0
    );
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_allow_list_closes_the_connection() {
    let config = config_file("http", "[access]\nhttp_allow = [\"10.0.0.0/8\"]\n");
    let server = ServerProcess::start("38200-38249", &["--config", config.to_str().unwrap()]);
    let mut http = tokio::net::TcpStream::connect(server.http).await.unwrap();
    let _ = http.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await;
    let mut text = Vec::new();
    let read = tokio::time::timeout(DEADLINE, http.read_to_end(&mut text))
        .await
        .expect("the refused HTTP connection was not closed");
    assert!(read.is_err() || text.is_empty(), "served a refused peer");
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_per_source_are_limited_with_503_and_retry_after() {
    let config = config_file(
        "per-source",
        "[limits]\nmax_sessions_per_source = 1\nretry_after_s = 7\n",
    );
    let server = ServerProcess::start("38300-38349", &["--config", config.to_str().unwrap()]);
    let first = connect(&server, ClientProfile::FreeSwitch, (38400, 38449)).await;
    match try_connect(&server, ClientProfile::FreeSwitch, (38450, 38499)).await {
        Err(mrcp_client::ClientError::Rejected { status }) => assert_eq!(status, 503),
        other => panic!("expected 503, got {:?}", other.map(|_| "a session")),
    }
    let (_, text) = http_get(&server, "/metrics").await;
    assert_eq!(
        metric(
            &text,
            "mrcp_refused_total{listener=\"sip\",reason=\"per_source\"}"
        ),
        1.0,
        "{text}"
    );
    // The slot comes back when the first session ends.
    first.close().await;
    let again = tokio::time::timeout(DEADLINE, async {
        loop {
            match try_connect(&server, ClientProfile::FreeSwitch, (38450, 38499)).await {
                Ok(s) => return s,
                Err(mrcp_client::ClientError::Rejected { status: 503 }) => {
                    tokio::task::yield_now().await
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the source's slot never came back");
    again.close().await;
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_mrcp_client_is_cut_off_and_others_are_served() {
    let config = config_file("slow", "[limits]\ntcp_message_timeout_ms = 600\n");
    let server = ServerProcess::start("38500-38549", &["--config", config.to_str().unwrap()]);
    // A healthy session on its own connection, opened first.
    let mut healthy = connect(&server, ClientProfile::FreeSwitch, (38600, 38649)).await;
    // A peer that sends the start of a message a byte at a time, slower than the limit allows.
    let mut slow = tokio::net::TcpStream::connect(server.mrcp).await.unwrap();
    let trickle = async {
        for byte in b"MRCP/2.0 200 RECOGNIZE 1\r\n" {
            if slow.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let started = Instant::now();
    trickle.await;
    let took = started.elapsed() + await_close(&mut slow, "a slow client").await;
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "cut off after {took:?}"
    );
    // The same on SIP over TCP: half an INVITE trickled is cut off.
    let mut sip = tokio::net::TcpStream::connect(server.sip_tcp)
        .await
        .unwrap();
    let started = Instant::now();
    for byte in b"INVITE sip:mrcp@127.0.0.1 SIP/2.0\r\n" {
        if sip.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let took = started.elapsed().min(Duration::from_secs(3))
        + await_close(&mut sip, "a slow SIP client").await;
    assert!(took < Duration::from_secs(5), "SIP cut off after {took:?}");
    // An idle connection with nothing half-sent is left alone, and the healthy session still works.
    healthy
        .send(Method::GetParams, &[("Confidence-Threshold", "")], None)
        .await
        .unwrap();
    let response = healthy.receive().await.unwrap();
    assert!(matches!(response.start, StartLine::Response { .. }));
    let (_, text) = http_get(&server, "/metrics").await;
    assert_eq!(
        metric(
            &text,
            "mrcp_refused_total{listener=\"mrcp\",reason=\"slow_client\"}"
        ),
        1.0,
        "{text}"
    );
    healthy.close().await;
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_grammar_fails_with_407_and_cause_005() {
    let config = config_file("grammar", "[limits]\ngrammar_max_bytes = 1024\n");
    let server = ServerProcess::start("38700-38749", &["--config", config.to_str().unwrap()]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (38800, 38849)).await;
    let words: Vec<String> = (0..300).map(|i| format!("word{i}")).collect();
    let big = format!(
        "#JSGF V1.0;\ngrammar big;\npublic <w> = {};\n",
        words.join(" | ")
    );
    assert!(big.len() > 1024);
    client
        .send(
            Method::DefineGrammar,
            &[("Content-Id", "big")],
            Some(("application/x-jsgf", big.as_bytes())),
        )
        .await
        .unwrap();
    let response = client.receive().await.unwrap();
    let StartLine::Response { status, .. } = response.start else {
        panic!("{}", response.start)
    };
    assert_eq!(status.code(), 407);
    assert_eq!(common::cause(&response), 5);
    client.close().await;
    let _ = std::fs::remove_file(&config);
}

/// A free local UDP port for SIPp.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sipp(server: SocketAddr, scenario: &str, extra: &[&str]) -> std::process::Output {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sipp");
    let port = free_udp_port().to_string();
    let mut child = Command::new("sipp")
        .args([
            &server.to_string(),
            "-sf",
            dir.join(scenario).to_str().unwrap(),
            "-m",
            "1",
            "-p",
            &port,
            "-i",
            "127.0.0.1",
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-error_file",
            std::env::temp_dir()
                .join(format!("sipp-{port}.err"))
                .to_str()
                .unwrap(),
        ])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sipp ({e}): install the Debian package sip-tester"));
    let started = Instant::now();
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("sipp did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn digest_authentication_with_sipp() {
    let config = config_file(
        "digest",
        "[access.digest]\nrealm = \"open-mrcp\"\nalgorithms = [\"MD5\"]\n\
         [[access.digest.users]]\nuser = \"fs\"\npassword = { env = \"MRCP_TEST_DIGEST_PASSWORD\" }\n",
    );
    // The password reaches the server through its environment, as `{ env = "..." }` says.
    let server = ServerProcess::start_with_env(
        "38900-38949",
        &["--config", config.to_str().unwrap()],
        &[("MRCP_TEST_DIGEST_PASSWORD", "s3cret")],
    );
    // Right password: 401 with the challenge, then 200 to the authenticated INVITE, ACK, BYE.
    let ok = sipp(
        server.sip,
        "invite-digest.xml",
        &["-au", "fs", "-ap", "s3cret"],
    );
    assert!(
        ok.status.success(),
        "sipp with the right password failed: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Wrong password: the second INVITE is challenged again (the scenario expects a second 401).
    let wrong = sipp(
        server.sip,
        "invite-digest-wrong.xml",
        &["-au", "fs", "-ap", "nope"],
    );
    assert!(
        wrong.status.success(),
        "sipp with a wrong password was not challenged again: {}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let _ = std::fs::remove_file(&config);
}

/// The `name="value"` parameter of a challenge.
fn param(challenge: &str, name: &str) -> String {
    let start = challenge
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {challenge}"))
        + name.len()
        + 2;
    let len = challenge[start..].find('"').unwrap();
    challenge[start..start + len].to_owned()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_sha256_by_hand() {
    // SIPp answers MD5 only; this client answers the SHA-256 challenge (RFC 7616 §3.4.1) over raw UDP.
    let config = config_file(
        "digest256",
        "[access.digest]\nalgorithms = [\"SHA-256\", \"MD5\"]\n\
         [[access.digest.users]]\nuser = \"fs\"\npassword = { env = \"MRCP_TEST_DIGEST_PASSWORD\" }\n",
    );
    let server = ServerProcess::start_with_env(
        "38950-38999",
        &["--config", config.to_str().unwrap()],
        &[("MRCP_TEST_DIGEST_PASSWORD", "s3cret")],
    );
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let uri = format!("sip:mrcp@{}", server.sip);
    let sdp = String::from(
        "v=0\r\no=FreeSWITCH 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:speechrecog\r\n\
         a=cmid:1\r\nm=audio 4000 RTP/AVP 0 8 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:96 L16/8000\r\na=sendonly\r\na=mid:1\r\n",
    );
    let request = |method: &str, branch: &str, cseq: u32, extra: &str, to_tag: &str, body: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch={branch}\r\nMax-Forwards: 70\r\n\
             From: <sip:{local}>;tag=t1\r\nTo: <{uri}>{to_tag}\r\nCall-ID: sha256-{}@test\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:{local}>\r\n{extra}{}Content-Length: {}\r\n\r\n{body}",
            std::process::id(),
            if body.is_empty() {
                ""
            } else {
                "Content-Type: application/sdp\r\n"
            },
            body.len()
        )
    };
    let exchange = async {
        let mut buf = vec![0u8; 8192];
        // The final response to what was sent last (skipping 100 Trying).
        let mut final_response = async |socket: &tokio::net::UdpSocket| loop {
            let (n, _) = socket.recv_from(&mut buf).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("SIP/2.0 100 ") {
                return text;
            }
        };
        let invite = request("INVITE", "z9hG4bK-a1", 1, "", "", &sdp);
        socket.send_to(invite.as_bytes(), server.sip).await.unwrap();
        let challenge = final_response(&socket).await;
        assert!(challenge.starts_with("SIP/2.0 401 "), "{challenge}");
        let to_tag = challenge
            .lines()
            .find(|l| l.starts_with("To:"))
            .and_then(|l| l.split_once(";tag="))
            .map(|(_, t)| format!(";tag={}", t.trim()))
            .unwrap();
        let ack = request("ACK", "z9hG4bK-a1", 1, "", &to_tag, "");
        socket.send_to(ack.as_bytes(), server.sip).await.unwrap();
        let header = challenge
            .lines()
            .find(|l| l.starts_with("WWW-Authenticate:") && l.contains("algorithm=SHA-256"))
            .unwrap_or_else(|| panic!("no SHA-256 challenge: {challenge}"));
        let (realm, nonce, opaque) = (
            param(header, "realm"),
            param(header, "nonce"),
            param(header, "opaque"),
        );
        let ha1 = sha256_hex(&format!("fs:{realm}:s3cret"));
        let ha2 = sha256_hex(&format!("INVITE:{uri}"));
        let response = sha256_hex(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
        let authorization = format!(
            "Authorization: Digest username=\"fs\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=SHA-256, cnonce=\"c0ffee\", qop=auth, nc=00000001, \
             opaque=\"{opaque}\"\r\n"
        );
        let invite = request("INVITE", "z9hG4bK-a2", 2, &authorization, "", &sdp);
        socket.send_to(invite.as_bytes(), server.sip).await.unwrap();
        let answer = final_response(&socket).await;
        assert!(answer.starts_with("SIP/2.0 200 "), "{answer}");
        let to_tag = answer
            .lines()
            .find(|l| l.starts_with("To:"))
            .and_then(|l| l.split_once(";tag="))
            .map(|(_, t)| format!(";tag={}", t.trim()))
            .unwrap();
        let ack = request("ACK", "z9hG4bK-a3", 2, "", &to_tag, "");
        socket.send_to(ack.as_bytes(), server.sip).await.unwrap();
        let bye = request("BYE", "z9hG4bK-a4", 3, "", &to_tag, "");
        socket.send_to(bye.as_bytes(), server.sip).await.unwrap();
        let ended = final_response(&socket).await;
        assert!(ended.starts_with("SIP/2.0 200 "), "{ended}");
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("the SHA-256 digest exchange did not finish");
    let _ = std::fs::remove_file(&config);
}
