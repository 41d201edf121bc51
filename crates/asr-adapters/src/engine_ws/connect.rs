//! Opening one engine-ws connection (`docs/engine-ws.md` §1.1, §1.3): the WebSocket upgrade (RFC 6455 §4)
//! with the Bearer credential, over rustls (ring provider, the platform's verifier) for `wss://`, bounded by
//! the connect timeout; refusals mapped to [`EngineError`] kinds without the credential or the URL's query.

use std::sync::Arc;
use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, Secret};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header::AUTHORIZATION};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// The largest message (and frame) accepted from an engine (§1.1).
pub const MAX_MESSAGE: usize = 1 << 20;

/// An open connection to an engine.
pub type EngineSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub use crate::net::redacted;
pub use crate::net::tls_config;

/// Connects to `url` within `timeout`, sending the credential as `Authorization: Bearer`.
pub async fn connect(
    engine: &str,
    url: &str,
    credential: Option<&Secret>,
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<EngineSocket, EngineError> {
    let fail = |kind, message: String| EngineError::new(engine, kind, message);
    let shown = redacted(url);
    let mut request = url.into_client_request().map_err(|e| {
        fail(
            EngineErrorKind::BadRequest,
            format!("engine URL {shown} is not a WebSocket URL: {e}"),
        )
    })?;
    if let Some(secret) = credential {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", secret.expose())).map_err(|_| {
                fail(
                    EngineErrorKind::BadRequest,
                    "the credential holds characters an HTTP header cannot carry".to_owned(),
                )
            })?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let handshake = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(config),
        true,
        Some(Connector::Rustls(Arc::clone(tls))),
    );
    match tokio::time::timeout(timeout, handshake).await {
        Err(_) => Err(fail(
            EngineErrorKind::Timeout,
            format!("no connection to {shown} within {} ms", timeout.as_millis()),
        )),
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(error)) => Err(handshake_error(engine, &shown, error)),
    }
}

fn handshake_error(
    engine: &str,
    shown: &str,
    error: tokio_tungstenite::tungstenite::Error,
) -> EngineError {
    use tokio_tungstenite::tungstenite::Error;
    match error {
        Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| {
                    String::from_utf8_lossy(&b[..b.len().min(300)])
                        .trim()
                        .to_owned()
                })
                .filter(|b| !b.is_empty());
            let kind = crate::net::kind_of_status(status);
            let what = if kind == EngineErrorKind::Auth {
                "refused the credential"
            } else {
                "refused the upgrade"
            };
            let message = match body {
                Some(body) => format!("{shown} {what} (HTTP {status}): {body}"),
                None => format!("{shown} {what} (HTTP {status})"),
            };
            EngineError::new(engine, kind, message)
        }
        Error::Io(e) => EngineError::new(
            engine,
            EngineErrorKind::Unavailable,
            format!("cannot connect to {shown}: {e}"),
        ),
        Error::Tls(e) => EngineError::new(
            engine,
            EngineErrorKind::Unavailable,
            format!("TLS with {shown} failed: {e}"),
        ),
        other => EngineError::new(
            engine,
            EngineErrorKind::Unavailable,
            format!("WebSocket upgrade with {shown} failed: {other}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_scheme_and_host() {
        assert_eq!(
            redacted("wss://user:pw@asr.example.com:443/v1?key=secret"),
            "wss://asr.example.com:443"
        );
        assert_eq!(redacted("ws://127.0.0.1:2700/asr"), "ws://127.0.0.1:2700");
    }
}
