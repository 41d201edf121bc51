//! What the OpenAI and Deepgram adapters share on the wire: HTTP statuses and transport failures as
//! [`EngineErrorKind`]s (by [`crate::net::kind_of_status`]), waits between retries of passing refusals (429,
//! 503) with [`RetryPolicy`], WAV and PCM encoding, WebSocket URLs.

use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy};

use crate::net::kind_of_status;

/// How long to wait before retry number `retry`, or `None` when the policy says stop.
pub(crate) fn backoff(
    policy: &RetryPolicy,
    retry: u32,
    asked: Option<Duration>,
) -> Option<Duration> {
    policy.delay(retry, asked, rand::random::<f64>())
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
