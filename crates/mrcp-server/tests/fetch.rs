//! Grammars named by URI are fetched under the `[fetch]` policy: end to end on loopback with the real
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

/// Serves `/pin.grxml` (which refers to `/digits.grxml`), `/digits.grxml`, and 404 for the rest.
async fn grammar_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
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
                let (status, document) = match path {
                    "/pin.grxml" => ("200 OK", PIN_GRAMMAR),
                    "/digits.grxml" => ("200 OK", DIGITS_GRAMMAR),
                    _ => ("404 Not Found", ""),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/srgs+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{document}",
                    document.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
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
