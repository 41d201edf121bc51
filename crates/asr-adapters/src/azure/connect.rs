//! Opening the WebSocket: the handshake headers (the credential, a fresh `X-ConnectionId` per attempt), over
//! [`crate::net::connect_ws`] (the connect timeout, retries of 429 and 503 with
//! [`mrcp_proto::engine::RetryPolicy`]).

use mrcp_proto::engine::{EngineError, EngineErrorKind};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{AzureAuth, Session, Ws, usp};
use crate::net::{
    HandshakeRefusal, WsConnect, clean_message, connect_ws, credential_header, refusal_text,
};

impl Session {
    /// Opens the socket, retrying 429 and 503 as the policy allows.
    pub(super) async fn connect(&self) -> Result<Ws, EngineError> {
        let to = WsConnect {
            engine: &self.name,
            vendor: "azure",
            connect_timeout: self.config.connect_timeout,
            retry: &self.config.retry,
            max_message: None,
        };
        let (header, secret, value) = match &self.config.auth {
            AzureAuth::SubscriptionKey(key) => {
                ("Ocp-Apim-Subscription-Key", key, key.expose().to_owned())
            }
            AzureAuth::BearerToken(token) => {
                ("Authorization", token, format!("Bearer {}", token.expose()))
            }
        };
        let request = || {
            let mut request = self.url.as_str().into_client_request().map_err(|e| {
                self.error(EngineErrorKind::BadRequest, format!("bad azure URL: {e}"))
            })?;
            let headers = request.headers_mut();
            headers.insert(header, credential_header(&self.name, &value)?);
            let connection_id = HeaderValue::from_str(&usp::no_dash_uuid()).map_err(|e| {
                self.error(EngineErrorKind::Internal, format!("bad connection id: {e}"))
            })?;
            headers.insert("X-ConnectionId", connection_id);
            Ok(request)
        };
        let vendor_message =
            |response: &HandshakeRefusal| clean_message(&refusal_text(response), Some(secret));
        connect_ws(&to, request, vendor_message).await
    }
}
