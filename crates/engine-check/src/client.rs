//! The kit's own engine-ws client: deliberately independent of the server's adapters, so that it checks the
//! engine against the specification rather than against one implementation of it, and free to send what the
//! adapters never would (malformed starts, audio first).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls_platform_verifier::BuilderVerifierExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header::AUTHORIZATION};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// An open connection to the engine under test.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the engine sent next.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A text message that is a JSON object with a `type`.
    Json(Value),
    /// A text message that is not (a protocol violation).
    BadText(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A close frame, with its code (`None`: no code).
    Close(Option<u16>),
    /// The connection ended without a close frame.
    Gone(String),
    /// Nothing within the time allowed.
    Silent,
}

impl Received {
    /// The `type` of a JSON message.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Received::Json(v) => v.get("type").and_then(Value::as_str),
            _ => None,
        }
    }
}

/// The TLS configuration for `wss://` and `https://` engines: rustls, ring, the platform's verifier.
pub fn tls() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// How a connection attempt ended.
pub enum Connected {
    /// Upgraded.
    Open(Box<Socket>),
    /// The engine answered the upgrade with this HTTP status.
    Refused(u16),
    /// Another failure.
    Failed(String),
}

/// Connects to `url`, with `token` as `Authorization: Bearer`.
pub async fn connect(url: &str, token: Option<&str>, timeout: Duration) -> Connected {
    let mut request = match url.into_client_request() {
        Ok(r) => r,
        Err(e) => return Connected::Failed(format!("not a WebSocket URL: {e}")),
    };
    if let Some(token) = token {
        match HeaderValue::from_str(&format!("Bearer {token}")) {
            Ok(mut v) => {
                v.set_sensitive(true);
                request.headers_mut().insert(AUTHORIZATION, v);
            }
            Err(_) => return Connected::Failed("the credential cannot be a header".into()),
        }
    }
    let tls = match tls() {
        Ok(t) => t,
        Err(e) => return Connected::Failed(format!("TLS set-up: {e}")),
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(4 << 20))
        .max_frame_size(Some(4 << 20));
    let handshake = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(config),
        true,
        Some(Connector::Rustls(tls)),
    );
    match tokio::time::timeout(timeout, handshake).await {
        Err(_) => Connected::Failed(format!(
            "no WebSocket upgrade within {} ms",
            timeout.as_millis()
        )),
        Ok(Ok((socket, _))) => Connected::Open(Box::new(socket)),
        Ok(Err(WsError::Http(response))) => Connected::Refused(response.status().as_u16()),
        Ok(Err(e)) => Connected::Failed(format!("cannot connect: {e}")),
    }
}

/// Sends a text message; false when the connection is gone.
pub async fn send_text(ws: &mut Socket, text: impl Into<String>) -> bool {
    ws.send(Message::text(text.into())).await.is_ok()
}

/// Sends a binary frame; false when the connection is gone.
pub async fn send_binary(ws: &mut Socket, bytes: Vec<u8>) -> bool {
    ws.send(Message::binary(bytes)).await.is_ok()
}

/// The next message, within `timeout`. Pings and pongs are skipped.
pub async fn receive(ws: &mut Socket, timeout: Duration) -> Received {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Received::Silent,
            Ok(next) => next,
        };
        return match next {
            None => Received::Gone("the connection ended".into()),
            Some(Err(e)) => Received::Gone(e.to_string()),
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.get("type").and_then(Value::as_str).is_some() => Received::Json(v),
                _ => Received::BadText(text.chars().take(120).collect()),
            },
            Some(Ok(Message::Binary(b))) => Received::Binary(b.to_vec()),
            Some(Ok(Message::Close(frame))) => Received::Close(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
        };
    }
}

/// Closes politely, not waiting long.
pub async fn close(mut ws: Socket) {
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

/// A short description of a message for a failure reason.
pub fn describe(r: &Received) -> String {
    match r {
        Received::Json(v) => {
            let mut s = v.to_string();
            if s.len() > 160 {
                s.truncate(160);
                s.push('…');
            }
            s
        }
        Received::BadText(t) => format!("non-JSON text {t:?}"),
        Received::Binary(b) => format!("a binary frame of {} bytes", b.len()),
        Received::Close(Some(c)) => format!("a close ({c})"),
        Received::Close(None) => "a close without code".to_owned(),
        Received::Gone(e) => format!("the connection ended ({e})"),
        Received::Silent => "nothing".to_owned(),
    }
}
