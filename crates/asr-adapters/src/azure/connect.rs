//! Opening the WebSocket: the handshake headers, the connect timeout, and retries of 429 and 503 with
//! [`mrcp_proto::engine::RetryPolicy`].

use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tracing::debug;

use super::{AzureAuth, Session, Ws, handshake_kind, usp};

impl Session {
    /// Opens the socket, retrying 429 and 503 as the policy allows.
    pub(super) async fn connect(&self) -> Result<Ws, EngineError> {
        let mut retry = 0;
        loop {
            match self.connect_once().await {
                Ok(ws) => return Ok(ws),
                Err(Refusal::Status {
                    status,
                    retry_after,
                    body,
                }) => {
                    let kind = handshake_kind(status);
                    if matches!(status, 429 | 503) {
                        retry += 1;
                        if let Some(wait) =
                            self.config.retry.delay(retry, retry_after, rand::random())
                        {
                            debug!(engine = %self.name, status, ?wait, "azure refused; retrying");
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    return Err(self.error(
                        kind,
                        format!("azure refused the connection: HTTP {status} {body}"),
                    ));
                }
                Err(Refusal::Timeout) => {
                    return Err(self.error(
                        EngineErrorKind::Timeout,
                        format!(
                            "azure did not accept the connection within {:?}",
                            self.config.connect_timeout
                        ),
                    ));
                }
                Err(Refusal::Other(message)) => {
                    return Err(self.error(
                        EngineErrorKind::Unavailable,
                        format!("cannot connect to azure at {}: {message}", self.url),
                    ));
                }
            }
        }
    }

    async fn connect_once(&self) -> Result<Ws, Refusal> {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| Refusal::Other(e.to_string()))?;
        let headers = request.headers_mut();
        let secret = |value: String| {
            let mut v = HeaderValue::from_str(&value)
                .map_err(|_| Refusal::Other("the credential is not a valid header value".into()))?;
            v.set_sensitive(true);
            Ok::<_, Refusal>(v)
        };
        match &self.config.auth {
            AzureAuth::SubscriptionKey(key) => {
                headers.insert(
                    "Ocp-Apim-Subscription-Key",
                    secret(key.expose().to_owned())?,
                );
            }
            AzureAuth::BearerToken(token) => {
                headers.insert(
                    "Authorization",
                    secret(format!("Bearer {}", token.expose()))?,
                );
            }
        }
        let connection_id = HeaderValue::from_str(&usp::no_dash_uuid())
            .map_err(|e| Refusal::Other(e.to_string()))?;
        headers.insert("X-ConnectionId", connection_id);
        // Nagle off: 20 ms audio frames and the final close go out as they are written.
        let attempt = tokio_tungstenite::connect_async_with_config(request, None, true);
        match tokio::time::timeout(self.config.connect_timeout, attempt).await {
            Err(_) => Err(Refusal::Timeout),
            Ok(Ok((ws, _))) => Ok(ws),
            Ok(Err(tungstenite::Error::Http(response))) => {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = response
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned())
                    .unwrap_or_default();
                Err(Refusal::Status {
                    status: response.status().as_u16(),
                    retry_after,
                    body,
                })
            }
            Ok(Err(e)) => Err(Refusal::Other(e.to_string())),
        }
    }
}

/// Why a handshake failed.
enum Refusal {
    Status {
        status: u16,
        retry_after: Option<Duration>,
        body: String,
    },
    Timeout,
    Other(String),
}
