//! Opening one engine-ws connection (`docs/engine-ws.md` §1.1, §1.3): the WebSocket upgrade (RFC 6455 §4)
//! with the Bearer credential, through the adapters' one handshake ([`crate::net::connect_ws`]): bounded by
//! the connect timeout, rustls for `wss://`, an upgrade refused with 429 or 503 tried again, refusals mapped
//! to [`EngineError`] kinds without the credential or the URL's query.

use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;

use crate::net::{self, WsConnect};

/// The largest message (and frame) accepted from an engine (§1.1).
pub const MAX_MESSAGE: usize = 1 << 20;

/// An open connection to an engine.
pub type EngineSocket = net::WsStream;

pub use crate::net::redacted;

/// Connects to `url` within `timeout`, sending the credential as `Authorization: Bearer`.
pub async fn connect(
    engine: &str,
    url: &str,
    credential: Option<&Secret>,
    timeout: Duration,
) -> Result<EngineSocket, EngineError> {
    let to = WsConnect {
        engine,
        vendor: "engine-ws",
        connect_timeout: timeout,
        retry: &RetryPolicy::default(),
        max_message: Some(MAX_MESSAGE),
    };
    let bearer = credential
        .map(|secret| net::credential_header(engine, &format!("Bearer {}", secret.expose())))
        .transpose()?;
    let request = || {
        let mut request = url.into_client_request().map_err(|e| {
            EngineError::new(
                engine,
                EngineErrorKind::BadRequest,
                format!("engine URL {} is not a WebSocket URL: {e}", redacted(url)),
            )
        })?;
        if let Some(bearer) = &bearer {
            request.headers_mut().insert(AUTHORIZATION, bearer.clone());
        }
        Ok(request)
    };
    net::connect_ws(&to, request, |refusal| {
        net::clean_message(&net::refusal_text(refusal), credential)
    })
    .await
}
