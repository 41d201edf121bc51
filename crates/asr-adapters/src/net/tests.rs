//! [`connect_ws`] against a loopback server that answers each handshake as scripted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// How the server answers one connection.
#[derive(Clone, Copy)]
enum Answer {
    /// These bytes: an HTTP response other than 101.
    Refuse(&'static str),
    /// A WebSocket upgrade.
    Accept,
    /// Nothing; the connection is held open.
    Silent,
}

const TOO_MANY: &str = "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n";

/// A server on 127.0.0.1 answering connection `i` with `answers[i]` (the last one for the rest), and the
/// count of connections so far. The URL's query holds a secret, as a signed URL's does.
async fn server(answers: Vec<Answer>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let url = format!(
        "ws://{}/v1/listen?authorization=s3cret",
        listener.local_addr().expect("address")
    );
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            match answers.get(n).or(answers.last()).copied() {
                Some(Answer::Refuse(response)) => {
                    read_head(&mut tcp).await;
                    let _ = tcp.write_all(response.as_bytes()).await;
                    let _ = tcp.shutdown().await;
                }
                Some(Answer::Accept) => {
                    tokio::spawn(async move {
                        if let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await {
                            while let Some(Ok(_)) = ws.next().await {}
                        }
                    });
                }
                Some(Answer::Silent) | None => held.push(tcp),
            }
        }
    });
    (url, connections)
}

/// Reads a request head (bounded).
async fn read_head(tcp: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// Retries within milliseconds.
fn quick(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

async fn connect(url: &str, retry: &RetryPolicy) -> Result<WsStream, EngineError> {
    let to = WsConnect {
        engine: "test",
        vendor: "vendor",
        connect_timeout: Duration::from_millis(500),
        retry,
        max_message: None,
    };
    let secret = Secret::new("s3cret");
    connect_ws(
        &to,
        || Ok(url.to_owned()),
        |r: &HandshakeRefusal| clean_message(&refusal_text(r), Some(&secret)),
    )
    .await
}

#[tokio::test]
async fn a_429_is_retried_with_a_fresh_request_then_connects() {
    let (url, connections) = server(vec![Answer::Refuse(TOO_MANY), Answer::Accept]).await;
    let mut built = 0;
    let to = WsConnect {
        engine: "test",
        vendor: "vendor",
        connect_timeout: Duration::from_millis(500),
        retry: &quick(2),
        max_message: None,
    };
    let request = || {
        built += 1;
        Ok(url.clone())
    };
    let ws = connect_ws(&to, request, refusal_text).await;
    assert!(ws.is_ok(), "{:?}", ws.err());
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(built, 2, "one request per attempt");
}

#[tokio::test]
async fn a_503_is_unavailable_once_the_retries_are_spent() {
    let (url, connections) = server(vec![Answer::Refuse(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy",
    )])
    .await;
    let error = connect(&url, &quick(2)).await.expect_err("refused");
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
    assert!(error.message.contains("HTTP 503: busy"), "{error}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "one try and two retries"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    // Retry-After 0 against a policy whose own wait would be up to 30 s.
    let (url, connections) = server(vec![
        Answer::Refuse(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n",
        ),
        Answer::Accept,
    ])
    .await;
    let slow = RetryPolicy {
        max_retries: 1,
        base: Duration::from_secs(30),
        max_delay: Duration::from_secs(30),
    };
    let started = Instant::now();
    let ws = connect(&url, &slow).await;
    assert!(ws.is_ok(), "{:?}", ws.err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);

    // A wait longer than the policy allows ends the retries at once.
    let (url, connections) = server(vec![
        Answer::Refuse(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\nContent-Length: 0\r\n\r\n",
        ),
        Answer::Accept,
    ])
    .await;
    let error = connect(&url, &quick(2)).await.expect_err("refused");
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_401_is_an_auth_error_with_the_vendor_message_and_no_secret() {
    let (url, connections) = server(vec![Answer::Refuse(
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 18\r\n\r\nbad key s3cret !!!",
    )])
    .await;
    let error = connect(&url, &quick(2)).await.expect_err("refused");
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
    assert!(
        error
            .message
            .contains("vendor refused the connection: HTTP 401: bad key"),
        "{error}"
    );
    assert!(!error.to_string().contains("s3cret"), "{error}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "no retry");
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    let (url, _connections) = server(vec![Answer::Silent]).await;
    let to = WsConnect {
        engine: "test",
        vendor: "vendor",
        connect_timeout: Duration::from_millis(100),
        retry: &quick(2),
        max_message: None,
    };
    let error = connect_ws(&to, || Ok(url.clone()), refusal_text)
        .await
        .expect_err("silent");
    assert_eq!(error.kind, EngineErrorKind::Timeout, "{error}");
    assert!(
        error
            .message
            .contains("did not accept the connection within 100 ms"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_without_the_query() {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let url = format!("ws://{address}/v1?authorization=s3cret");
    let error = connect(&url, &quick(2)).await.expect_err("unreachable");
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
    assert!(
        error
            .message
            .contains(&format!("cannot connect to vendor at ws://{address}")),
        "{error}"
    );
    assert!(!error.to_string().contains("s3cret"), "{error}");
}

#[tokio::test]
async fn a_bad_request_fails_before_connecting() {
    let to = WsConnect {
        engine: "test",
        vendor: "vendor",
        connect_timeout: Duration::from_millis(100),
        retry: &quick(2),
        max_message: None,
    };
    let error = connect_ws(&to, || Ok("not a url"), refusal_text)
        .await
        .expect_err("bad URL");
    assert_eq!(error.kind, EngineErrorKind::BadRequest, "{error}");
    let error = connect_ws(
        &to,
        || Err::<&str, _>(EngineError::new("test", EngineErrorKind::Auth, "no key")),
        refusal_text,
    )
    .await
    .expect_err("no key");
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
}

#[test]
fn statuses_map_to_kinds() {
    assert_eq!(kind_of_status(401), EngineErrorKind::Auth);
    assert_eq!(kind_of_status(403), EngineErrorKind::Auth);
    assert_eq!(kind_of_status(400), EngineErrorKind::BadRequest);
    assert_eq!(kind_of_status(413), EngineErrorKind::BadRequest);
    assert_eq!(kind_of_status(408), EngineErrorKind::Timeout);
    assert_eq!(kind_of_status(429), EngineErrorKind::Unavailable);
    assert_eq!(kind_of_status(503), EngineErrorKind::Unavailable);
    assert_eq!(kind_of_status(500), EngineErrorKind::Internal);
    assert!(is_retryable(429) && is_retryable(503) && !is_retryable(500));
}

#[test]
fn messages_never_carry_the_key_and_are_bounded() {
    let key = Secret::new("sk-live-123");
    assert_eq!(
        clean_message("bad key sk-live-123 given", Some(&key)),
        "bad key <redacted> given"
    );
    let long = "é".repeat(400);
    assert!(clean_message(&long, None).len() <= MAX_VENDOR_MESSAGE + 3);
}

#[test]
fn credentials_are_sensitive_header_values() {
    assert!(
        credential_header("test", "Bearer k")
            .expect("valid")
            .is_sensitive()
    );
    let error = credential_header("test", "bad\nkey").expect_err("newline");
    assert_eq!(error.kind, EngineErrorKind::Auth);
    assert!(!error.message.contains("bad"), "{error}");
}

#[test]
fn redaction_keeps_only_scheme_and_host() {
    assert_eq!(
        redacted("wss://user:pw@asr.example.com:443/v1?key=secret"),
        "wss://asr.example.com:443"
    );
    assert_eq!(redacted("ws://127.0.0.1:2700/asr"), "ws://127.0.0.1:2700");
}
