//! The dispatcher's operations endpoint over HTTP/1.1 (RFC 9112): `GET /metrics` (Prometheus text
//! format, [`crate::metrics`]) and `GET /healthz` (`200 ok` while at least one destination is in
//! rotation, `503 no destination` otherwise, so a load balancer or an orchestrator in front of
//! several dispatchers can route around one with nothing behind it).
//!
//! Written by hand rather than with hyper, for the reasons the server gives for its own: two fixed
//! GET routes without a body, one request per connection (`Connection: close`), answered from
//! memory, with explicit limits: a request head of at most [`MAX_HEAD`] bytes read within
//! [`IO_TIMEOUT`], at most [`MAX_CONNECTIONS`] connections served at once.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
    sync::{Semaphore, watch},
};

use crate::metrics::Stats;

/// The longest request head read.
pub const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its request head, and then to take the response.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 32;

/// Serves `listener` until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, stats: watch::Receiver<Stats>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                let stats = stats.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(error) = serve_one(stream, &stats).await {
                        tracing::debug!(%peer, %error, "http request not served");
                    }
                });
            }
            Err(error) => tracing::warn!(%error, "http accept failed"),
        }
    }
}

/// Reads one request head from `stream` and writes the response.
pub async fn serve_one<S>(mut stream: S, stats: &watch::Receiver<Stats>) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = tokio::time::timeout(IO_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| timed_out("request head"))??;
    let is_head = matches!(&head, Some(h) if h.starts_with(b"HEAD "));
    let (status, body, content_type) = match head {
        None => (431, "head too large\n".to_owned(), "text/plain"),
        Some(head) => respond(&head, &stats.borrow()),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !is_head {
        out.extend_from_slice(body.as_bytes());
    }
    tokio::time::timeout(IO_TIMEOUT, stream.write_all(&out))
        .await
        .map_err(|_| timed_out("response"))??;
    let _ = stream.shutdown().await;
    Ok(())
}

fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// Status, body and content type for a request head.
fn respond(head: &[u8], stats: &Stats) -> (u16, String, &'static str) {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" && method != "HEAD" {
        return (405, "method not allowed\n".into(), "text/plain");
    }
    match path {
        "/metrics" => (200, stats.render(), "text/plain; version=0.0.4"),
        "/healthz" if stats.any_in_rotation() => (200, "ok\n".into(), "text/plain"),
        "/healthz" => (503, "no destination\n".into(), "text/plain"),
        _ => (404, "not found\n".into(), "text/plain"),
    }
}

/// The head up to the blank line, or `None` when it exceeds [`MAX_HEAD`].
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(512);
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
        match buf.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(end) if end <= MAX_HEAD => {
                buf.truncate(end);
                return Ok(Some(buf));
            }
            _ if buf.len() > MAX_HEAD => return Ok(None),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HealthState, metrics::DestinationStats};

    async fn exchange(request: &[u8], stats: Stats) -> String {
        let (_tx, rx) = watch::channel(stats);
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let serve = tokio::spawn(async move { serve_one(server, &rx).await });
        client.write_all(request).await.unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        serve.await.unwrap().unwrap();
        out
    }

    fn one(state: HealthState) -> Stats {
        Stats {
            destinations: vec![DestinationStats {
                uri: "sip:127.0.0.1:5080".into(),
                state,
                invites: 0,
                failovers: 0,
                load: None,
                responses: Default::default(),
                probes: Default::default(),
            }],
            ..Stats::default()
        }
    }

    #[tokio::test]
    async fn routes_and_limits() {
        let up = exchange(b"GET /healthz HTTP/1.1\r\n\r\n", one(HealthState::Up)).await;
        assert!(
            up.starts_with("HTTP/1.1 200 OK\r\n") && up.ends_with("ok\n"),
            "{up}"
        );
        let down = exchange(
            b"GET /healthz HTTP/1.1\r\n\r\n",
            one(HealthState::Draining { successes: 0 }),
        )
        .await;
        assert!(down.starts_with("HTTP/1.1 503 "), "{down}");
        let head = exchange(b"HEAD /metrics HTTP/1.1\r\n\r\n", one(HealthState::Up)).await;
        assert!(head.ends_with("\r\n\r\n"), "no body for HEAD: {head}");
        let missing = exchange(b"GET /nope HTTP/1.1\r\n\r\n", one(HealthState::Up)).await;
        assert!(missing.starts_with("HTTP/1.1 404 "));
        let post = exchange(b"POST /metrics HTTP/1.1\r\n\r\n", one(HealthState::Up)).await;
        assert!(post.starts_with("HTTP/1.1 405 "));
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        big.extend_from_slice(b"\r\n\r\n");
        let refused = exchange(&big, one(HealthState::Up)).await;
        assert!(refused.starts_with("HTTP/1.1 431 "), "{refused}");
    }
}
