//! What every network adapter shares, in this crate and in `tts-adapters`: the TLS client configuration
//! (rustls with the ring provider and the platform's verifier — the workspace's one TLS stack, so no adapter
//! depends on a process-wide default provider), an HTTP client built on it, and [`connect_ws`], the one
//! WebSocket handshake of the streaming adapters (Deepgram, OpenAI Realtime, Azure, iFlytek): connect
//! timeout, Nagle off, 429 and 503 retried per [`RetryPolicy`], other refusals mapped to [`EngineError`]s
//! that carry the vendor's message but never a credential or the URL's query.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use rustls_platform_verifier::BuilderVerifierExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderMap;
use tokio_tungstenite::tungstenite::http::header::RETRY_AFTER;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, http::HeaderValue};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::debug;

/// The most of a vendor's error text kept in a message.
const MAX_VENDOR_MESSAGE: usize = 300;

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

/// The kind an HTTP status stands for (RFC 9110 §15): credentials refused → `Auth`; the request refused →
/// `BadRequest`; passing refusals and gateway failures → `Unavailable`; a timeout → `Timeout`; anything else
/// → `Internal`.
pub fn kind_of_status(status: u16) -> EngineErrorKind {
    match status {
        401 | 403 => EngineErrorKind::Auth,
        408 | 504 => EngineErrorKind::Timeout,
        429 | 502 | 503 => EngineErrorKind::Unavailable,
        400..=499 => EngineErrorKind::BadRequest,
        _ => EngineErrorKind::Internal,
    }
}

/// Whether a status is worth another attempt after a wait: rate limited or briefly unavailable.
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// The vendor's `Retry-After` in seconds (RFC 9110 §10.2.3), when it gave one as a number.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A vendor message fit for a log line: trimmed, at most 300 bytes (and an ellipsis), and never the
/// credential (a vendor might echo what it was sent).
pub fn clean_message(message: &str, secret: Option<&Secret>) -> String {
    let mut text = message.trim().to_owned();
    if let Some(secret) = secret
        && !secret.expose().is_empty()
    {
        text = text.replace(secret.expose(), "<redacted>");
    }
    if text.len() > MAX_VENDOR_MESSAGE {
        let mut end = MAX_VENDOR_MESSAGE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// `scheme://host:port` of a URL: what errors and logs may show (a query could hold a key or a signature;
/// userinfo a password).
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}")
}

/// A credential as a header value, marked sensitive so that no debug output shows it.
pub fn credential_header(engine: &str, value: &str) -> Result<HeaderValue, EngineError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        EngineError::new(
            engine,
            EngineErrorKind::Auth,
            "the credential is not a valid header value",
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// A WebSocket to a vendor: TCP, with TLS for `wss://`.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The HTTP response of a refused WebSocket handshake (a status other than 101), with its body.
pub type HandshakeRefusal = tungstenite::handshake::client::Response;

/// Who [`connect_ws`] connects for, and within which bounds.
#[derive(Debug, Clone, Copy)]
pub struct WsConnect<'a> {
    /// The engine's configured name, which errors and logs carry.
    pub engine: &'a str,
    /// The vendor as messages name it: `"Deepgram"`, `"azure"`…
    pub vendor: &'a str,
    /// The longest one attempt (TCP, TLS and the upgrade) may take.
    pub connect_timeout: Duration,
    /// Retries of a handshake refused with 429 or 503.
    pub retry: &'a RetryPolicy,
    /// The largest message (and frame) accepted from the peer; `None` keeps tungstenite's limits (64 MiB
    /// messages, 16 MiB frames).
    pub max_message: Option<usize>,
}

/// The body of a refused handshake as text (lossy UTF-8), the vendor's message when it gives no structure.
pub fn refusal_text(response: &HandshakeRefusal) -> String {
    response
        .body()
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The one TLS configuration of `wss://` handshakes, made on first use.
fn ws_tls(engine: &str) -> Result<Arc<rustls::ClientConfig>, EngineError> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(tls) = TLS.get() {
        return Ok(Arc::clone(tls));
    }
    let tls = tls_config(engine)?;
    Ok(Arc::clone(TLS.get_or_init(|| tls)))
}

/// Whether a connection failed because the peer's certificate was refused (rustls reports it inside the
/// I/O error of the TLS handshake).
fn is_certificate_refusal(error: &tungstenite::Error) -> bool {
    let tungstenite::Error::Io(io) = error else {
        return false;
    };
    io.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)))
}

/// Opens a WebSocket (RFC 6455 §4) to a vendor.
///
/// `request` builds the handshake request for each attempt (a signed URL carries the time of signing; a
/// connection id must be fresh); it marks credentials sensitive ([`credential_header`]). Each attempt is
/// bounded by [`WsConnect::connect_timeout`] and runs over TLS ([`tls_config`]) for `wss://`, with
/// `TCP_NODELAY`: small control messages (a commit, a `Finalize`, the end of audio) must not wait for the
/// ACK of the audio before them (Nagle's algorithm added ~40 ms). A handshake refused with 429 or 503 is
/// tried again after the wait [`RetryPolicy`] gives, honouring `Retry-After`. Errors:
/// - another refusal, or the retries spent: the kind of [`kind_of_status`], with `HTTP {status}` and the
///   message `vendor_message` takes from the response (cleaned of the vendor's credential by the caller,
///   bounded here);
/// - no handshake within the timeout: [`EngineErrorKind::Timeout`];
/// - no connection (refused, reset, TLS): [`EngineErrorKind::Unavailable`], naming only
///   `scheme://host:port` ([`redacted`]) and with the URL's query cut out of the cause.
pub async fn connect_ws<R, B, M>(
    to: &WsConnect<'_>,
    mut request: B,
    vendor_message: M,
) -> Result<WsStream, EngineError>
where
    R: IntoClientRequest,
    B: FnMut() -> Result<R, EngineError>,
    M: Fn(&HandshakeRefusal) -> String,
{
    let WsConnect {
        engine,
        vendor,
        connect_timeout,
        retry: policy,
        max_message,
    } = *to;
    let config = max_message.map(|max| {
        WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
    });
    let fail = |kind, message: String| EngineError::new(engine, kind, message);
    let mut retry = 0;
    loop {
        let request = request()?.into_client_request().map_err(|e| {
            fail(
                EngineErrorKind::BadRequest,
                format!("bad {vendor} URL: {e}"),
            )
        })?;
        let uri = request.uri();
        let shown = redacted(&uri.to_string());
        let query = uri.query().filter(|q| !q.is_empty()).map(str::to_owned);
        let connector = match uri.scheme_str() {
            Some("wss") => Some(Connector::Rustls(ws_tls(engine)?)),
            _ => None,
        };
        debug!(engine, url = %shown, "opening the {vendor} WebSocket");
        let handshake =
            tokio_tungstenite::connect_async_tls_with_config(request, config, true, connector);
        let response = match tokio::time::timeout(connect_timeout, handshake).await {
            Err(_) => {
                return Err(fail(
                    EngineErrorKind::Timeout,
                    format!(
                        "{vendor} did not accept the connection within {} ms",
                        connect_timeout.as_millis()
                    ),
                ));
            }
            Ok(Ok((ws, _))) => return Ok(ws),
            Ok(Err(tungstenite::Error::Http(response))) => response,
            Ok(Err(e)) => {
                let mut cause = e.to_string();
                if let Some(query) = &query {
                    cause = cause.replace(query.as_str(), "<redacted>");
                }
                if is_certificate_refusal(&e) {
                    cause.push_str(
                        " (if a private CA signed it, add the CA to the system's trust store or point \
                         SSL_CERT_FILE at a PEM file holding it)",
                    );
                }
                return Err(fail(
                    EngineErrorKind::Unavailable,
                    format!("cannot connect to {vendor} at {shown}: {cause}"),
                ));
            }
        };
        let status = response.status().as_u16();
        if is_retryable(status) {
            retry += 1;
            let asked = retry_after(response.headers());
            if let Some(wait) = policy.delay(retry, asked, rand::random::<f64>()) {
                debug!(
                    engine,
                    status,
                    ?wait,
                    "{vendor} refused the handshake; retrying"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        let message = clean_message(&vendor_message(&response), None);
        let detail = if message.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {message}")
        };
        return Err(fail(
            kind_of_status(status),
            format!("{vendor} refused the connection: {detail}"),
        ));
    }
}

#[cfg(test)]
mod tests;
