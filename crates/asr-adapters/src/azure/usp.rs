//! The framing of Azure Speech's WebSocket protocol (the "Universal Speech Protocol", USP), sans-IO.
//!
//! Followed: Microsoft's `websocketprotocol.md` (the Bing-era description of the same protocol) and the
//! Speech SDK for JavaScript (`WebsocketMessageFormatter.ts`, `DynamicGrammarBuilder.ts`):
//! - a text message is `Name: value\r\n` headers, a blank line, then the body; it must carry `Path`;
//! - a binary message is a 2-byte big-endian header length (0…8192), the US-ASCII headers, then the payload;
//! - client messages carry `X-RequestId` (a UUID without dashes) and `X-Timestamp` (ISO 8601, UTC).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest header section of a binary message.
pub const MAX_HEADER_BYTES: usize = 8192;
/// The largest audio payload of one `audio` message.
pub const MAX_AUDIO_BYTES: usize = 8192;

/// A message the service sent, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceMessage {
    /// The `Path` header (`turn.start`, `speech.phrase`…).
    pub path: String,
    /// The `X-RequestId` header, if present.
    pub request_id: Option<String>,
    /// The body (JSON, or empty for `turn.end`).
    pub body: String,
}

/// Why a service message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UspError {
    /// No blank line separates headers from the body.
    #[error("service message has no end of headers")]
    NoHeaderEnd,
    /// A header line has no colon.
    #[error("service message header line {0:?} has no colon")]
    BadHeader(String),
    /// The message has no `Path` header.
    #[error("service message has no Path header")]
    NoPath,
}

/// Parses a text message from the service.
pub fn parse_text(text: &str) -> Result<ServiceMessage, UspError> {
    let (head, body) = text.split_once("\r\n\r\n").ok_or(UspError::NoHeaderEnd)?;
    let (mut path, mut request_id) = (None, None);
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| UspError::BadHeader(line.chars().take(80).collect()))?;
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("path") {
            path = Some(value.to_owned());
        } else if name.trim().eq_ignore_ascii_case("x-requestid") {
            request_id = Some(value.to_owned());
        }
    }
    Ok(ServiceMessage {
        path: path.ok_or(UspError::NoPath)?,
        request_id,
        body: body.to_owned(),
    })
}

/// A text message from the client: `speech.config` (no request id) or `speech.context`.
pub fn text_message(path: &str, request_id: Option<&str>, timestamp: &str, json: &str) -> String {
    let mut out = String::with_capacity(128 + json.len());
    let _ = write!(out, "Path: {path}\r\n");
    if let Some(id) = request_id {
        let _ = write!(out, "X-RequestId: {id}\r\n");
    }
    let _ = write!(
        out,
        "X-Timestamp: {timestamp}\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{json}"
    );
    out
}

/// A binary `audio` message; an empty `payload` tells the service the audio has ended.
pub fn audio_message(request_id: &str, timestamp: &str, payload: &[u8]) -> Vec<u8> {
    let headers = format!(
        "Path: audio\r\nX-RequestId: {request_id}\r\nX-Timestamp: {timestamp}\r\nContent-Type: audio/x-wav\r\n"
    );
    // Our own headers are about 120 bytes, far under the 8192 limit, so the length fits in two bytes.
    let len = u16::try_from(headers.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(2 + headers.len() + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The RIFF/WAVE header the first audio chunk of a turn must start with: PCM, 16-bit, mono. Written by hand
/// because the stream has no known length (the size fields are 0, as the SDKs send for live audio) and
/// `hound` only writes headers to seekable files.
pub fn wav_header(sample_rate: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes()); // block align
    h[34..36].copy_from_slice(&16u16.to_le_bytes()); // bits per sample
    h[36..40].copy_from_slice(b"data");
    h
}

/// A fresh request or connection id: 32 lower-case hex digits (a UUID without dashes).
pub fn no_dash_uuid() -> String {
    let bits: u128 = rand::random();
    // Version 4, variant 1, as a UUID generator would set them.
    let bits = (bits & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    format!("{bits:032x}")
}

/// `X-Timestamp` for `now`: ISO 8601 in UTC with milliseconds, `2016-08-16T15:03:54.183Z`.
pub fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn service_messages_split_into_path_and_body() {
        let text = "X-RequestId: 123\r\nContent-Type: application/json; charset=utf-8\r\nPath: speech.hypothesis\r\n\r\n{\"Text\":\"hi\"}";
        let m = parse_text(text).expect("parse");
        assert_eq!(m.path, "speech.hypothesis");
        assert_eq!(m.request_id.as_deref(), Some("123"));
        assert_eq!(m.body, "{\"Text\":\"hi\"}");
        let end = parse_text("Path: turn.end\r\nX-RequestId: 1\r\n\r\n").expect("turn.end");
        assert_eq!((end.path.as_str(), end.body.as_str()), ("turn.end", ""));
        assert_eq!(parse_text("Path: x"), Err(UspError::NoHeaderEnd));
        assert_eq!(
            parse_text("X-RequestId: 1\r\n\r\n{}"),
            Err(UspError::NoPath)
        );
        assert!(matches!(
            parse_text("garbage\r\n\r\n"),
            Err(UspError::BadHeader(_))
        ));
    }

    #[test]
    fn audio_messages_have_a_big_endian_header_length() {
        let m = audio_message(
            "0123456789abcdef0123456789abcdef",
            "2016-08-16T15:03:54.183Z",
            &[1, 2],
        );
        let len = usize::from(u16::from_be_bytes([m[0], m[1]]));
        let headers = std::str::from_utf8(&m[2..2 + len]).expect("ascii");
        assert!(headers.starts_with("Path: audio\r\n"));
        assert!(headers.ends_with("\r\n"));
        assert_eq!(&m[2 + len..], &[1, 2]);
    }

    #[test]
    fn timestamps_are_iso_8601_utc_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_471_359_834_183);
        assert_eq!(timestamp(t), "2016-08-16T15:03:54.183Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(leap)[..10], "2000-02-29");
    }

    #[test]
    fn ids_are_32_hex_digits() {
        let id = no_dash_uuid();
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(id, no_dash_uuid());
    }

    #[test]
    fn the_wav_header_says_pcm_16_bit_mono() {
        let h = wav_header(16_000);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([h[24], h[25], h[26], h[27]]), 16_000);
        assert_eq!(u16::from_le_bytes([h[34], h[35]]), 16);
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_errs_without_panicking(text in ".{0,300}") {
            let _ = parse_text(&text);
        }

        #[test]
        fn audio_messages_round_trip_their_payload(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..MAX_AUDIO_BYTES)) {
            let m = audio_message(&no_dash_uuid(), &timestamp(SystemTime::now()), &payload);
            let len = usize::from(u16::from_be_bytes([m[0], m[1]]));
            proptest::prop_assert!(len <= MAX_HEADER_BYTES);
            proptest::prop_assert_eq!(&m[2 + len..], payload.as_slice());
        }
    }
}
