//! The emulator's own check of the signed URL, written from the documentation independently of the
//! adapter's signer (so a shared mistake cannot pass unseen).

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_tungstenite::tungstenite::http::StatusCode;

/// Why a handshake is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `authorization` parameter.
    Unauthorized,
    /// `date` missing, unreadable or skewed beyond the limit.
    BadDate,
    /// `authorization` cannot be decoded or lacks a field, or names another key or algorithm.
    CannotVerify,
    /// The signature (or the signed host) does not match.
    Mismatch,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadDate => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The JSON body, as the documentation shows it.
    pub fn body(&self) -> String {
        let message = match self {
            Self::Unauthorized => "Unauthorized",
            Self::BadDate => {
                "HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication"
            }
            Self::CannotVerify => "HMAC signature cannot be verified",
            Self::Mismatch => "HMAC signature does not match",
        };
        format!(r#"{{"message":"{message}"}}"#)
    }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// `key="value"` pairs separated by commas.
fn fields(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

/// Checks the query of a handshake to `path` arriving with `host_header`, at `now`.
pub fn check(
    path: &str,
    query: &str,
    host_header: Option<&str>,
    api_key: &str,
    api_secret: &str,
    max_skew: Duration,
    now: SystemTime,
) -> Result<(), Refusal> {
    let authorization = query_param(query, "authorization").ok_or(Refusal::Unauthorized)?;
    let date = query_param(query, "date").ok_or(Refusal::BadDate)?;
    let when = httpdate::parse_http_date(&date).map_err(|_| Refusal::BadDate)?;
    let skew = now
        .duration_since(when)
        .or_else(|_| when.duration_since(now))
        .unwrap_or_default();
    if skew > max_skew {
        return Err(Refusal::BadDate);
    }
    let host = query_param(query, "host").ok_or(Refusal::CannotVerify)?;
    let decoded = STANDARD
        .decode(authorization.as_bytes())
        .map_err(|_| Refusal::CannotVerify)?;
    let decoded = String::from_utf8(decoded).map_err(|_| Refusal::CannotVerify)?;
    let fields = fields(&decoded);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(key), Some(algorithm), Some(headers), Some(signature)) = (
        get("api_key"),
        get("algorithm"),
        get("headers"),
        get("signature"),
    ) else {
        return Err(Refusal::CannotVerify);
    };
    if key != api_key || algorithm != "hmac-sha256" || headers != "host date request-line" {
        return Err(Refusal::CannotVerify);
    }
    let signed = format!("host: {host}\ndate: {date}\nGET {path} HTTP/1.1");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(api_secret.as_bytes())
        .map_err(|_| Refusal::CannotVerify)?;
    mac.update(signed.as_bytes());
    let given = STANDARD
        .decode(signature.as_bytes())
        .map_err(|_| Refusal::Mismatch)?;
    mac.verify_slice(&given).map_err(|_| Refusal::Mismatch)?;
    // The signed host must be the one the request went to.
    if host_header.is_some_and(|h| h != host) {
        return Err(Refusal::Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documentation's worked example (通用鉴权URL生成说明), as a query.
    #[test]
    fn the_documented_example_verifies_and_a_tampered_one_does_not() {
        let auth = "YXBpX2tleT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iejVnSGR1M3B4VlY0QURNeWs0Njd3T1dEUTlxNkJRelIzbmZNVGpjL0RhUT0i";
        let query = format!(
            "authorization={}&date=Fri%2C%2005%20May%202023%2010%3A43%3A39%20GMT&host=spark-api.xf-yun.com",
            auth.replace('=', "%3D")
        );
        let at = httpdate::parse_http_date("Fri, 05 May 2023 10:44:00 GMT").expect("date");
        let check_at = |q: &str, secret: &str, now| {
            check(
                "/v1.1/chat",
                q,
                Some("spark-api.xf-yun.com"),
                "addd2272b6d8b7c8abdd79531420ca3b",
                secret,
                Duration::from_secs(300),
                now,
            )
        };
        assert_eq!(
            check_at(&query, "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi", at),
            Ok(())
        );
        assert_eq!(
            check_at(&query, "another-secret", at),
            Err(Refusal::Mismatch)
        );
        let tampered = query.replace("10%3A43%3A39", "10%3A43%3A40");
        assert_eq!(
            check_at(&tampered, "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi", at),
            Err(Refusal::Mismatch)
        );
        let late = at + Duration::from_secs(400);
        assert_eq!(
            check_at(&query, "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi", late),
            Err(Refusal::BadDate)
        );
        assert_eq!(
            check_at("date=x&host=y", "s", at),
            Err(Refusal::Unauthorized)
        );
    }
}
