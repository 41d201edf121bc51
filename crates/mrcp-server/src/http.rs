//! The operations HTTP endpoint (HTTP/1.1, RFC 9112): `GET /metrics` (Prometheus text format) and
//! `GET /healthz` (`200 ok` while serving, `503 draining` while draining).
//!
//! Written by hand rather than with hyper: two fixed GET routes with no body, one request per connection
//! (`Connection: close`), answered from memory. What a general server would add (keep-alive, chunked bodies,
//! upgrades) is not wanted on an operations port, and the limits that matter are explicit here: a request
//! head of at most [`MAX_HEAD`] bytes, read within [`READ_TIMEOUT`], at most [`MAX_CONNECTIONS`] at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::metrics;

/// The longest request head (request line and headers) read.
pub const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its request head, and then to take the response.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 64;

/// What the endpoint reports.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// Cancelled when the server starts draining.
    pub draining: CancellationToken,
    /// Who may connect (`access.http_allow`); others are closed at once.
    pub allow: crate::access::AllowList,
}

/// Serves until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, state: HttpState, shutdown: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => return,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if !state.allow.allows(peer.ip()) {
                    warn!(%peer, "HTTP connection refused: source not in access.http_allow");
                    metrics::global().refused("http", "access");
                    continue;
                }
                let state = state.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(error) = serve_one(stream, &state).await {
                        debug!(%peer, %error, "HTTP request not served");
                    }
                });
            }
            Err(error) => warn!(%error, "HTTP accept failed"),
        }
    }
}

/// Reads one request head and writes the response.
pub async fn serve_one<S>(mut stream: S, state: &HttpState) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "request head timed out")
        })??;
    let response = match head {
        Some(head) => respond(&head, state),
        None => Response::text(431, "Request Header Fields Too Large", "head too large\n"),
    };
    let head_only = response.head_only;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.reason,
        response.content_type,
        response.body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(response.body.as_bytes());
    }
    tokio::time::timeout(READ_TIMEOUT, stream.write_all(&out))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "response timed out"))??;
    let _ = stream.shutdown().await;
    Ok(())
}

/// The head up to the blank line, or `None` when it exceeds [`MAX_HEAD`].
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed before the end of the request head",
            ));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = find_blank_line(&buf) {
            buf.truncate(end);
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| {
        // RFC 9112 §2.2: a recipient may accept a bare LF as the line terminator.
        buf.windows(2).position(|w| w == b"\n\n")
    })
}

struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
    head_only: bool,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.to_owned(),
            head_only: false,
        }
    }
}

fn respond(head: &[u8], state: &HttpState) -> Response {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Response::text(400, "Bad Request", "bad request line\n");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::text(505, "HTTP Version Not Supported", "HTTP/1.x only\n");
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return Response::text(405, "Method Not Allowed", "GET only\n");
        }
    };
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let mut response = match path {
        "/metrics" => Response {
            status: 200,
            reason: "OK",
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: metrics::global().render(),
            head_only: false,
        },
        "/healthz" if state.draining.is_cancelled() => {
            Response::text(503, "Service Unavailable", "draining\n")
        }
        "/healthz" => Response::text(200, "OK", "ok\n"),
        _ => Response::text(404, "Not Found", "not found\n"),
    };
    response.head_only = head_only;
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn exchange(request: &[u8], state: &HttpState) -> String {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let state = state.clone();
        let task = tokio::spawn(async move { serve_one(server, &state).await });
        client.write_all(request).await.unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), client.read_to_string(&mut out))
            .await
            .expect("the HTTP response")
            .unwrap();
        let _ = task.await;
        out
    }

    fn state() -> HttpState {
        HttpState {
            allow: crate::access::AllowList::default(),
            draining: CancellationToken::new(),
        }
    }

    #[tokio::test]
    async fn healthz_follows_draining() {
        let state = state();
        let ok = exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &state).await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nok\n"));
        state.draining.cancel();
        let draining = exchange(b"GET /healthz HTTP/1.1\r\n\r\n", &state).await;
        assert!(draining.starts_with("HTTP/1.1 503 "), "{draining}");
        assert!(draining.ends_with("draining\n"));
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        let out = exchange(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n", &state()).await;
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(out.contains("Content-Type: text/plain; version=0.0.4"));
        assert!(out.contains("# TYPE mrcp_sessions_active gauge"));
    }

    #[tokio::test]
    async fn rejects_what_it_does_not_serve() {
        let s = state();
        assert!(
            exchange(b"POST /metrics HTTP/1.1\r\n\r\n", &s)
                .await
                .starts_with("HTTP/1.1 405 ")
        );
        assert!(
            exchange(b"GET /nothing HTTP/1.1\r\n\r\n", &s)
                .await
                .starts_with("HTTP/1.1 404 ")
        );
        assert!(
            exchange(b"garbage\r\n\r\n", &s)
                .await
                .starts_with("HTTP/1.1 400 ")
        );
        let head = exchange(b"HEAD /healthz HTTP/1.1\r\n\r\n", &s).await;
        assert!(head.starts_with("HTTP/1.1 200 ") && head.ends_with("\r\n\r\n"));
        let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert!(exchange(&big, &s).await.starts_with("HTTP/1.1 431 "));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_times_out() {
        let (_client, server) = tokio::io::duplex(1024);
        let result = serve_one(server, &state()).await;
        assert_eq!(result.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    }
}
