//! Grammars and prompts named by URI are fetched under the `[fetch]` policy: end to end on loopback with the real
//! server binary, a small HTTP server in the test, and the client library sending what FreeSWITCH sends.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use common::{ServerProcess, body, cause, connect};
use mrcp_proto::mrcp::{Method, RequestState, StartLine};
use mrcp_proto::sdp::ClientProfile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PIN_GRAMMAR: &str = r#"<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="dtmf" root="pin" tag-format="semantics/1.0">
  <rule id="pin" scope="public">
    <item repeat="3">
      <ruleref uri="digits.grxml#digit"/>
    </item>
    <tag>out.pin = "ok";</tag>
  </rule>
</grammar>"#;

const DIGITS_GRAMMAR: &str = r#"<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="dtmf" root="digit">
  <rule id="digit" scope="public">
    <one-of><item>1</item><item>2</item><item>3</item><item>4</item><item>5</item></one-of>
  </rule>
</grammar>"#;

/// A document the test HTTP server serves.
struct Route {
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

/// Serves `routes` on loopback, and 404 for the rest.
async fn http_server(routes: Vec<Route>) -> SocketAddr {
    let routes = std::sync::Arc::new(routes);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 2048];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let (status, content_type, body) = match routes.iter().find(|r| r.path == path) {
                    Some(r) => ("200 OK", r.content_type, r.body.as_slice()),
                    None => ("404 Not Found", "text/plain", &[][..]),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
            });
        }
    });
    addr
}

/// Serves `/pin.grxml` (which refers to `/digits.grxml`) and `/digits.grxml`.
async fn grammar_server() -> SocketAddr {
    let grammar = |path, text: &str| Route {
        path,
        content_type: "application/srgs+xml",
        body: text.as_bytes().to_vec(),
    };
    http_server(vec![
        grammar("/pin.grxml", PIN_GRAMMAR),
        grammar("/digits.grxml", DIGITS_GRAMMAR),
    ])
    .await
}

/// `seconds` of a 440 Hz tone as a 16 kHz WAV file.
fn tone_wav(seconds: f32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
    let n = (16_000.0 * seconds) as usize;
    for i in 0..n {
        let t = i as f32 / 16_000.0;
        writer
            .write_sample((8_000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()) as i16)
            .unwrap();
    }
    writer.finalize().unwrap();
    out.into_inner()
}

fn config_allowing_loopback(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mrcp-fetch-{name}-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "[fetch]\nallowed_hosts = [\"127.0.0.1\"]\ntimeout_ms = 2000\n",
    )
    .unwrap();
    path
}

fn assert_response(m: &mrcp_proto::mrcp::Message, code: u16, state: RequestState) {
    match &m.start {
        StartLine::Response {
            status, state: s, ..
        } => assert_eq!((status.code(), *s), (code, state), "{m:?}"),
        other => panic!("expected a response, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grammar_fetched_by_uri_with_a_fetched_rule_reference_recognizes() {
    let http = grammar_server().await;
    let config = config_allowing_loopback("ok");
    let server = ServerProcess::start("34000-34099", &["--config", config.to_str().unwrap()]);
    let mut client = connect(&server, ClientProfile::Asterisk, (34500, 34599)).await;
    let uri = format!("http://{http}/pin.grxml");
    client
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", uri.as_bytes())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.dtmf("123").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(
        body(&complete).contains("<pin>ok</pin>"),
        "{}",
        body(&complete)
    );
    client.close().await;
    let _ = std::fs::remove_file(config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_failures_end_with_uri_failure_and_name_the_uri() {
    let http = grammar_server().await;
    let config = config_allowing_loopback("fail");
    let server = ServerProcess::start("34100-34199", &["--config", config.to_str().unwrap()]);
    let mut client = connect(&server, ClientProfile::Asterisk, (34600, 34699)).await;

    let missing = format!("http://{http}/missing.grxml");
    client
        .send(
            Method::DefineGrammar,
            &[("Content-Id", "<menu@form-level.store>")],
            Some(("text/uri-list", missing.as_bytes())),
        )
        .await
        .unwrap();
    let response = client.receive().await.unwrap();
    assert_response(&response, 407, RequestState::Complete);
    assert_eq!(cause(&response), 9);
    assert_eq!(
        response.headers.get_raw("Failed-URI"),
        Some(missing.as_str())
    );
    assert!(
        response
            .headers
            .get_raw("Completion-Reason")
            .is_some_and(|r| r.contains("404")),
        "{response:?}"
    );

    // An internal address the policy does not list: refused before any connection.
    client
        .send(
            Method::Recognize,
            &[],
            Some(("text/uri-list", b"http://10.0.0.1/menu.grxml".as_slice())),
        )
        .await
        .unwrap();
    let response = client.receive().await.unwrap();
    assert_response(&response, 407, RequestState::Complete);
    assert_eq!(cause(&response), 9);
    assert!(
        response
            .headers
            .get_raw("Completion-Reason")
            .is_some_and(|r| r.contains("not allowed")),
        "{response:?}"
    );

    // The session is still usable: a builtin grammar recognizes.
    client
        .send(
            Method::Recognize,
            &[],
            Some(("text/uri-list", b"builtin:dtmf/digits?length=2".as_slice())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.dtmf("42").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    client.close().await;
    let _ = std::fs::remove_file(config);
}

/// Sends a SPEAK and returns its SPEAK-COMPLETE and how long after IN-PROGRESS it came.
async fn speak(
    client: &mut mrcp_client::Session,
    content_type: &str,
    body: &str,
) -> (mrcp_proto::mrcp::Message, std::time::Duration) {
    client
        .send(Method::Speak, &[], Some((content_type, body.as_bytes())))
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    let started = std::time::Instant::now();
    let complete = client.receive().await.unwrap();
    assert!(
        matches!(&complete.start, StartLine::Event { event, .. } if event.as_str() == "SPEAK-COMPLETE"),
        "{complete:?}"
    );
    (complete, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_plays_fetched_recordings_and_reports_unreachable_ones() {
    let http = http_server(vec![
        Route {
            path: "/tone.wav",
            content_type: "audio/wav",
            body: tone_wav(1.5),
        },
        Route {
            path: "/greeting.ssml",
            content_type: "application/ssml+xml",
            body: br#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">Hello.</speak>"#.to_vec(),
        },
    ])
    .await;
    let config = config_allowing_loopback("speak");
    let server = ServerProcess::start("34200-34299", &["--config", config.to_str().unwrap()]);
    let mut client = common::synth_session(&server, (34700, 34799)).await;

    // An SSML <audio src>: the 1.5 s recording is played at real pace, so the completion cannot come sooner.
    let ssml = format!(
        r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US"><audio src="http://{http}/tone.wav"/></speak>"#
    );
    let (complete, elapsed) = speak(&mut client, "application/ssml+xml", &ssml).await;
    assert_eq!(cause(&complete), 0, "{complete:?}");
    assert!(
        elapsed > std::time::Duration::from_millis(1300),
        "{elapsed:?}"
    );

    // A text/uri-list of an SSML document and a recording, played in order.
    let list = format!("http://{http}/greeting.ssml\r\nhttp://{http}/tone.wav\r\n");
    let (complete, elapsed) = speak(&mut client, "text/uri-list", &list).await;
    assert_eq!(cause(&complete), 0, "{complete:?}");
    assert!(
        elapsed > std::time::Duration::from_millis(1600),
        "{elapsed:?}"
    );

    // Unreachable with fallback content: the fallback is spoken.
    let fallback = format!(
        r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US"><audio src="http://{http}/gone.wav">The recording is missing.</audio></speak>"#
    );
    let (complete, _) = speak(&mut client, "application/ssml+xml", &fallback).await;
    assert_eq!(cause(&complete), 0, "{complete:?}");

    // Unreachable without fallback: 003 uri-failure naming the URI; the session stays usable.
    let missing = format!("http://{http}/gone.wav");
    let ssml = format!(
        r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US"><audio src="{missing}"/></speak>"#
    );
    let (complete, _) = speak(&mut client, "application/ssml+xml", &ssml).await;
    assert_eq!(cause(&complete), 3, "{complete:?}");
    assert_eq!(
        complete.headers.get_raw("Failed-URI"),
        Some(missing.as_str())
    );
    assert!(
        complete
            .headers
            .get_raw("Completion-Reason")
            .is_some_and(|r| r.contains("404")),
        "{complete:?}"
    );
    let (complete, _) = speak(&mut client, "text/plain", "Still here.").await;
    assert_eq!(cause(&complete), 0, "{complete:?}");
    client.close().await;
    let _ = std::fs::remove_file(config);
}
