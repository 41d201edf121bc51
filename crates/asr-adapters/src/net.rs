//! What every network adapter shares, in this crate and in `tts-adapters`: the TLS client configuration
//! (rustls with the ring provider and the platform's verifier — the workspace's one TLS stack, so no adapter
//! depends on a process-wide default provider) and an HTTP client built on it.

use std::sync::Arc;
use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind};
use rustls_platform_verifier::BuilderVerifierExt;

/// The TLS client configuration for `wss://` and `https://` engines.
pub fn tls_config(engine: &str) -> Result<Arc<rustls::ClientConfig>, EngineError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map(|b| Arc::new(b.with_no_client_auth()))
        .map_err(|e| {
            EngineError::new(
                engine,
                EngineErrorKind::Internal,
                format!("cannot set up TLS: {e}"),
            )
        })
}

/// An HTTP client on [`tls_config`] with the adapter's connect timeout.
pub fn http_client(
    engine: &str,
    connect_timeout: Duration,
) -> Result<reqwest::Client, EngineError> {
    let tls = tls_config(engine)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .connect_timeout(connect_timeout)
        .user_agent(concat!("open-mrcp/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            EngineError::new(
                engine,
                EngineErrorKind::Internal,
                format!("cannot build the HTTP client: {e}"),
            )
        })
}
