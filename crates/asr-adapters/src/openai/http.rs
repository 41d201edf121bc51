//! What the cloud adapters share on the wire: mapping HTTP statuses and transport failures to
//! [`EngineErrorKind`], retrying passing refusals (429, 503) with [`RetryPolicy`], keeping credentials out of
//! messages, and WAV and base64 PCM encoding. Used by the OpenAI and Deepgram adapters.

use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};

/// The most of a vendor's error body kept in a message.
const MAX_VENDOR_MESSAGE: usize = 300;

/// The kind an HTTP status stands for (RFC 9110 §15): credentials refused → `Auth`; the request refused →
/// `BadRequest`; passing refusals and gateway failures → `Unavailable`; anything else → `Internal`.
pub(crate) fn kind_of_status(status: u16) -> EngineErrorKind {
    match status {
        401 | 403 => EngineErrorKind::Auth,
        408 | 504 => EngineErrorKind::Timeout,
        429 | 502 | 503 => EngineErrorKind::Unavailable,
        400..=499 => EngineErrorKind::BadRequest,
        _ => EngineErrorKind::Internal,
    }
}

/// Whether a status is worth another attempt after a wait: rate limited or briefly unavailable.
pub(crate) fn is_retryable(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// The vendor's `Retry-After` in seconds (RFC 9110 §10.2.3), when it gave one as a number.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// How long to wait before retry number `retry`, or `None` when the policy says stop.
pub(crate) fn backoff(
    policy: &RetryPolicy,
    retry: u32,
    asked: Option<Duration>,
) -> Option<Duration> {
    policy.delay(retry, asked, rand::random::<f64>())
}

/// A vendor message fit for a log line: at most [`MAX_VENDOR_MESSAGE`] bytes, and never the credential
/// (a vendor might echo what it was sent).
pub(crate) fn clean_message(message: &str, secret: Option<&Secret>) -> String {
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

/// An error from an HTTP status and the vendor's own message.
pub(crate) fn status_error(engine: &str, status: u16, vendor_message: &str) -> EngineError {
    let detail = if vendor_message.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {vendor_message}")
    };
    EngineError::new(engine, kind_of_status(status), detail)
}

/// An error from a transport failure (connect, TLS, reset, timeout), without the URL's query.
pub(crate) fn transport_error(engine: &str, error: &reqwest::Error) -> EngineError {
    let kind = if error.is_timeout() {
        EngineErrorKind::Timeout
    } else {
        EngineErrorKind::Unavailable
    };
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "connection lost while reading the response"
    } else {
        "request failed"
    };
    // reqwest's Display carries the URL; the source chain says why without it.
    let cause = std::error::Error::source(error)
        .map(|s| s.to_string())
        .unwrap_or_default();
    EngineError::new(
        engine,
        kind,
        format!("{what}: {cause}").trim_end_matches(": ").to_owned(),
    )
}

/// 16-bit mono PCM as a WAV file (RIFF, PCM format 1), as the transcription endpoints take it.
pub(crate) fn wav_bytes(samples: &[i16], sample_rate: u32) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        let mut writer = hound::WavWriter::new(&mut out, spec)?;
        let mut i16_writer = writer.get_i16_writer(samples.len() as u32);
        for &s in samples {
            i16_writer.write_sample(s);
        }
        i16_writer.flush()?;
        writer.finalize()?;
    }
    Ok(out.into_inner())
}

/// Little-endian bytes of 16-bit PCM (`linear16`, `audio/pcm`).
pub(crate) fn le_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// The WebSocket URL for an HTTP base URL: `https` → `wss`, `http` → `ws`.
pub(crate) fn websocket_base(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(kind_of_status(401), EngineErrorKind::Auth);
        assert_eq!(kind_of_status(403), EngineErrorKind::Auth);
        assert_eq!(kind_of_status(400), EngineErrorKind::BadRequest);
        assert_eq!(kind_of_status(413), EngineErrorKind::BadRequest);
        assert_eq!(kind_of_status(429), EngineErrorKind::Unavailable);
        assert_eq!(kind_of_status(503), EngineErrorKind::Unavailable);
        assert_eq!(kind_of_status(500), EngineErrorKind::Internal);
        assert!(is_retryable(429) && is_retryable(503) && !is_retryable(500));
    }

    #[test]
    fn messages_never_carry_the_key_and_are_bounded() {
        let key = Secret::new("sk-live-123");
        assert_eq!(
            clean_message("bad key sk-live-123 given", Some(&key)),
            "bad key <redacted> given"
        );
        let long = "é".repeat(400);
        assert!(clean_message(&long, None).len() <= MAX_VENDOR_MESSAGE + 3);
    }

    #[test]
    fn websocket_urls_follow_the_scheme() {
        assert_eq!(
            websocket_base("https://api.openai.com/"),
            "wss://api.openai.com"
        );
        assert_eq!(websocket_base("http://127.0.0.1:9"), "ws://127.0.0.1:9");
    }

    #[test]
    fn wav_holds_the_samples() {
        let bytes = wav_bytes(&[1, -2, 3], 8000).expect("wav");
        let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("read");
        assert_eq!(reader.spec().sample_rate, 8000);
        let samples: Vec<i16> = reader.into_samples().map(|s| s.expect("sample")).collect();
        assert_eq!(samples, [1, -2, 3]);
    }
}
