//! The HMAC-SHA256 signed URL of iFlytek's (xfyun) v2 WebSocket APIs, sans-IO: used by IAT (`/v2/iat`) and
//! online TTS (`/v2/tts`).
//!
//! Followed: iFlytek's "语音听写（流式版）WebAPI 文档" (接口鉴权) and "通用鉴权URL生成说明", whose worked example
//! is the known-answer test below:
//! 1. `date` is RFC 1123 in GMT; the service rejects a skew over 300 s;
//! 2. `signature_origin = "host: {host}\ndate: {date}\nGET {path} HTTP/1.1"`;
//! 3. `signature = base64(HMAC-SHA256(APISecret, signature_origin))`;
//! 4. `authorization_origin = api_key="{APIKey}", algorithm="hmac-sha256", headers="host date request-line", signature="{signature}"`;
//! 5. the URL carries `authorization=base64(authorization_origin)`, `date` and `host`, each URL-encoded.
//!
//! The signed URL holds a credential-derived value: log [`SignedUrl::redacted`], never the URL itself.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use mrcp_proto::engine::Secret;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

/// Characters kept as they are in a query value (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The `signature` value: base64 of HMAC-SHA256 over the signed lines.
pub fn signature(api_secret: &str, host: &str, date: &str, request_line: &str) -> String {
    let origin = format!("host: {host}\ndate: {date}\n{request_line}");
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(api_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(origin.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The `authorization` query value.
pub fn authorization(api_key: &str, signature: &str) -> String {
    let origin = format!(
        "api_key=\"{api_key}\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", signature=\"{signature}\""
    );
    STANDARD.encode(origin)
}

/// A signed WebSocket URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedUrl {
    url: String,
    redacted: String,
}

impl SignedUrl {
    /// The URL to connect to. Never log it.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The URL with the authorization value replaced, for logs and errors.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl fmt::Debug for SignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Display for SignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Why an endpoint cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The endpoint is not `ws://host[:port]/path` or `wss://…`.
    #[error("endpoint {0:?} is not a ws:// or wss:// URL with a path")]
    BadEndpoint(String),
}

/// Signs `endpoint` (`wss://iat-api.xfyun.cn/v2/iat`) for a connection at `now`.
pub fn sign_url(
    endpoint: &str,
    api_key: &Secret,
    api_secret: &Secret,
    now: SystemTime,
) -> Result<SignedUrl, SignError> {
    let bad = || SignError::BadEndpoint(endpoint.to_owned());
    let rest = endpoint
        .strip_prefix("wss://")
        .or_else(|| endpoint.strip_prefix("ws://"))
        .ok_or_else(bad)?;
    let (host, path) = rest.split_once('/').ok_or_else(bad)?;
    if host.is_empty() || path.contains('?') {
        return Err(bad());
    }
    let path = format!("/{path}");
    let date = httpdate::fmt_http_date(now);
    let signature = signature(
        api_secret.expose(),
        host,
        &date,
        &format!("GET {path} HTTP/1.1"),
    );
    let authorization = authorization(api_key.expose(), &signature);
    let enc = |v: &str| utf8_percent_encode(v, QUERY_VALUE).to_string();
    let base = endpoint.trim_end_matches('/');
    let tail = format!("&date={}&host={}", enc(&date), enc(host));
    Ok(SignedUrl {
        url: format!("{base}?authorization={}{tail}", enc(&authorization)),
        redacted: format!("{base}?authorization=<redacted>{tail}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of iFlytek's "通用鉴权URL生成说明" (APISecret `MjlmNzkz…`, APIKey `addd2272…`,
    /// `Fri, 05 May 2023 10:43:39 GMT`, `GET /v1.1/chat` on `spark-api.xf-yun.com`).
    #[test]
    fn known_answer_from_the_iflytek_documentation() {
        let sig = signature(
            "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi",
            "spark-api.xf-yun.com",
            "Fri, 05 May 2023 10:43:39 GMT",
            "GET /v1.1/chat HTTP/1.1",
        );
        assert_eq!(sig, "z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ=");
        assert_eq!(
            authorization("addd2272b6d8b7c8abdd79531420ca3b", &sig),
            "YXBpX2tleT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iejVnSGR1M3B4VlY0QURNeWs0Njd3T1dEUTlxNkJRelIzbmZNVGpjL0RhUT0i"
        );
    }

    #[test]
    fn signed_urls_carry_encoded_parameters_and_redact_in_logs() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_683_283_419);
        let url = sign_url(
            "wss://iat-api.xfyun.cn/v2/iat",
            &Secret::new("key"),
            &Secret::new("secret"),
            at,
        )
        .expect("sign");
        assert!(
            url.expose()
                .starts_with("wss://iat-api.xfyun.cn/v2/iat?authorization=")
        );
        assert!(
            url.expose()
                .contains("&date=Fri%2C%2005%20May%202023%2010%3A43%3A39%20GMT")
        );
        assert!(url.expose().ends_with("&host=iat-api.xfyun.cn"));
        assert!(!url.redacted().contains(&authorization("key", "x")[..8]));
        assert!(format!("{url:?}").contains("<redacted>"));
        assert!(sign_url("https://x/v2/iat", &Secret::new("k"), &Secret::new("s"), at).is_err());
        assert!(sign_url("wss://host", &Secret::new("k"), &Secret::new("s"), at).is_err());
    }
}
