//! `wss://` through the adapters' one TLS client (`asr_adapters::net::connect_ws`), against a WebSocket
//! server on loopback whose certificate comes from a throw-away CA:
//! - the CA trusted through `SSL_CERT_FILE` (how an operator trusts an engine behind a private CA without
//!   touching the system store): the connection opens and carries messages;
//! - signed by a CA nobody trusts: refused as `Unavailable`, naming the certificate problem and how to trust
//!   a private CA, and not the URL's query.
//!
//! The platform verifier reads the trust store once per process, so each case runs in a child process of
//! this test binary, with its own `SSL_CERT_FILE`.
#![allow(clippy::unwrap_used)]

#[path = "../../mrcp-sip/tests/pki/mod.rs"]
mod pki;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use asr_adapters::net::{WsConnect, connect_ws, refusal_text};
use futures_util::{SinkExt, StreamExt};
use mrcp_proto::engine::{EngineErrorKind, RetryPolicy};
use mrcp_sip::tls::{self, tokio_rustls::TlsAcceptor};
use tokio_tungstenite::tungstenite::Message;

/// Which case the child runs: `trusted` or `untrusted`.
const CASE: &str = "OPEN_MRCP_WSS_CASE";
/// The server's certificate chain and key (PEM files) in the child.
const CERT: &str = "OPEN_MRCP_WSS_CERT";
const KEY: &str = "OPEN_MRCP_WSS_KEY";

#[test]
fn wss_engines_are_verified_against_the_trust_store() {
    let dir = pki::TempDir::new("wss");
    let ca = pki::Ca::new("engine CA");
    let leaf = ca.leaf("engine");
    let stranger = pki::Ca::new("nobody's CA");
    let cert = dir.write("engine.pem", &leaf.cert_pem);
    let key = dir.write("engine.key", &leaf.key_pem);
    let cases = [
        ("trusted", dir.write("ca.pem", &ca.pem)),
        ("untrusted", dir.write("stranger.pem", &stranger.pem)),
    ];
    for (case, trust_store) in cases {
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_case", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CASE, case)
            .env(CERT, &cert)
            .env(KEY, &key)
            .env("SSL_CERT_FILE", &trust_store)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "the {case} case failed:\n{stdout}\n{stderr}"
        );
    }
}

/// One case, run by [`wss_engines_are_verified_against_the_trust_store`] in a child process.
#[tokio::test]
#[ignore = "run in a child process by wss_engines_are_verified_against_the_trust_store"]
async fn child_case() {
    let case = std::env::var(CASE).expect("run by the parent test, which names the case");
    let cert = std::env::var(CERT).unwrap();
    let key = std::env::var(KEY).unwrap();
    let server = tls::server_config_from(
        tls::load_certificates(Path::new(&cert)).unwrap(),
        tls::load_private_key(Path::new(&key)).unwrap(),
        None,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        // In the untrusted case the client aborts the TLS handshake; nothing more to do.
        let Ok(tls) = TlsAcceptor::from(server).accept(socket).await else {
            return;
        };
        let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() {
                ws.send(message).await.unwrap();
            }
        }
    });
    let to = WsConnect {
        engine: "wss-test",
        vendor: "the engine",
        connect_timeout: Duration::from_secs(5),
        retry: &RetryPolicy::default(),
        max_message: None,
    };
    let url = format!("wss://127.0.0.1:{port}/v1/listen?token=hidden");
    let connected = connect_ws(&to, || Ok(url.as_str()), refusal_text).await;
    match case.as_str() {
        "trusted" => {
            let mut ws = connected.unwrap();
            ws.send(Message::text("ping")).await.unwrap();
            let echo = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .unwrap();
            assert_eq!(echo.unwrap().unwrap(), Message::text("ping"));
        }
        "untrusted" => {
            let error = connected.unwrap_err();
            assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
            assert!(error.message.contains("certificate"), "{error}");
            assert!(error.message.contains("SSL_CERT_FILE"), "{error}");
            assert!(!error.message.contains("hidden"), "{error}");
        }
        other => panic!("unknown case {other}"),
    }
}
