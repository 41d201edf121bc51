//! The engine-ws v1 TTS messages (`docs/engine-ws.md` §3, §4), sans-IO: the synthesis request (the WebSocket
//! `start` and the HTTP body), the engine's messages, the HTTP error body, and PCM framing.

use mrcp_proto::engine::EngineErrorKind;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{SynthesisContent, SynthesisRequest};

/// The protocol version this client speaks.
pub const VERSION: u32 = 1;

/// The request members shared by the WebSocket `start` and the HTTP body (§3.2), with the member that names
/// the text's type (`textType` in `start`, `type` in the HTTP body, as jambonz sends it).
fn request_members(
    request: &SynthesisRequest,
    language: &str,
    sample_rate: u32,
    type_member: &str,
) -> Map<String, Value> {
    let (kind, text) = match &request.content {
        SynthesisContent::Ssml(doc) => ("ssml", doc.to_xml()),
        SynthesisContent::Text(text) => ("text", text.clone()),
    };
    let prosody = request.context().prosody;
    let mut vendor = Map::new();
    for (name, value) in &request.vendor_parameters {
        vendor.insert(name.clone(), Value::String(value.clone()));
    }
    let mut m = Map::new();
    m.insert(type_member.into(), json!(kind));
    m.insert("text".into(), json!(text));
    m.insert(
        "language".into(),
        json!(request.language.as_deref().unwrap_or(language)),
    );
    if let Some(name) = &request.voice.name {
        m.insert("voice".into(), json!(name));
    }
    if let Some(gender) = request.voice.gender {
        m.insert("gender".into(), json!(gender.as_str()));
    }
    if let Some(age) = request.voice.age {
        m.insert("age".into(), json!(age));
    }
    m.insert(
        "prosody".into(),
        json!({"rate": prosody.rate, "volume": prosody.volume, "pitch": prosody.pitch}),
    );
    m.insert("sampleRateHz".into(), json!(sample_rate));
    m.insert("encoding".into(), json!("LINEAR16"));
    m.insert("vendor".into(), Value::Object(vendor));
    m.insert("version".into(), json!(VERSION));
    m
}

/// The WebSocket `start` (§3.2).
pub fn start(request: &SynthesisRequest, language: &str, sample_rate: u32) -> String {
    let mut m = request_members(request, language, sample_rate, "textType");
    m.insert("type".into(), json!("start"));
    Value::Object(m).to_string()
}

/// The HTTP POST body (§4).
pub fn http_body(request: &SynthesisRequest, language: &str, sample_rate: u32) -> String {
    Value::Object(request_members(request, language, sample_rate, "type")).to_string()
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    Started {
        version: Option<u32>,
        #[serde(rename = "sampleRateHz")]
        sample_rate: Option<u32>,
    },
    Mark {
        name: String,
    },
    Done,
    Error {
        kind: Option<String>,
        message: Option<String>,
        error: Option<String>,
    },
    #[serde(other)]
    Unknown,
}

/// A text message from a TTS engine, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineMessage {
    /// `started`.
    Started {
        /// `version`.
        version: Option<u32>,
        /// `sampleRateHz`.
        sample_rate: Option<u32>,
    },
    /// `mark`.
    Mark(String),
    /// `done`.
    Done,
    /// `error`.
    Error {
        /// Its kind (`internal` when missing or unknown).
        kind: EngineErrorKind,
        /// Its message.
        message: String,
    },
    /// A type this version does not know: ignored (§1.1).
    Unknown,
}

/// Why a message could not be read: the recognizer side's error, the protocol being one.
pub use asr_adapters::engine_ws::message::MessageError;

/// Reads one text message from the engine.
pub fn parse(text: &str) -> Result<EngineMessage, MessageError> {
    let wire: Wire = serde_json::from_str(text).map_err(|e| MessageError {
        reason: e.to_string(),
    })?;
    Ok(match wire {
        Wire::Started {
            version,
            sample_rate,
        } => EngineMessage::Started {
            version,
            sample_rate,
        },
        Wire::Mark { name } => EngineMessage::Mark(name),
        Wire::Done => EngineMessage::Done,
        Wire::Error {
            kind,
            message,
            error,
        } => EngineMessage::Error {
            kind: kind_of(kind.as_deref()),
            message: message
                .or(error)
                .unwrap_or_else(|| "engine reported an error without a message".to_owned()),
        },
        Wire::Unknown => EngineMessage::Unknown,
    })
}

/// The kinds an `error` message (§1.5) and a close without `done` or `error` (§1.6) stand for: the same
/// rules as for recognizers.
pub use asr_adapters::engine_ws::message::{kind_of, kind_of_close};

/// The kind an HTTP error status stands for when the body does not say (§4).
pub fn kind_of_status(status: u16) -> EngineErrorKind {
    match status {
        400 | 404 | 413 | 415 | 422 => EngineErrorKind::BadRequest,
        401 | 403 => EngineErrorKind::Auth,
        408 | 504 => EngineErrorKind::Timeout,
        429 | 502 | 503 => EngineErrorKind::Unavailable,
        _ => EngineErrorKind::Internal,
    }
}

/// An HTTP error body: `{"kind","message"}` or jambonz's `{"error"}`; otherwise the text itself, shortened.
pub fn http_error(status: u16, body: &[u8]) -> (EngineErrorKind, String) {
    #[derive(Deserialize)]
    struct Body {
        kind: Option<String>,
        message: Option<String>,
        error: Option<String>,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body)
        && let Some(message) = b.message.or(b.error)
    {
        let kind = match b.kind {
            Some(k) => kind_of(Some(&k)),
            None => kind_of_status(status),
        };
        return (kind, message);
    }
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let message = if text.trim().is_empty() {
        format!("engine answered HTTP {status}")
    } else {
        format!("engine answered HTTP {status}: {}", text.trim())
    };
    (kind_of_status(status), message)
}

/// What an HTTP response body holds, from its Content-Type (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAudio {
    /// `audio/l16;rate=N`: little-endian PCM at N Hz (`None` when the parameter is missing).
    L16(Option<u32>),
    /// `audio/wav` (or `audio/x-wav`, `audio/wave`).
    Wav,
}

/// Reads a Content-Type; `None` for one the server cannot play.
pub fn http_audio(content_type: &str) -> Option<HttpAudio> {
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next()?.to_ascii_lowercase();
    match media.as_str() {
        "audio/l16" => {
            let rate = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("rate"))
                .and_then(|(_, v)| v.trim().parse().ok());
            Some(HttpAudio::L16(rate))
        }
        "audio/wav" | "audio/x-wav" | "audio/wave" => Some(HttpAudio::Wav),
        _ => None,
    }
}

/// Turns little-endian bytes into samples as they arrive, keeping an odd byte for the next chunk.
#[derive(Debug, Default)]
pub struct Pcm {
    odd: Option<u8>,
}

impl Pcm {
    /// Appends the samples in `bytes` to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<i16>) {
        let mut rest = bytes;
        if let Some(low) = self.odd.take() {
            match rest.split_first() {
                Some((high, tail)) => {
                    out.push(i16::from_le_bytes([low, *high]));
                    rest = tail;
                }
                None => {
                    self.odd = Some(low);
                    return;
                }
            }
        }
        let mut pairs = rest.chunks_exact(2);
        out.extend(pairs.by_ref().map(|p| i16::from_le_bytes([p[0], p[1]])));
        self.odd = pairs.remainder().first().copied();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mrcp_proto::ssml::Gender;

    #[test]
    fn start_and_body_carry_the_request() {
        let mut request = SynthesisRequest::text("Hello");
        request.voice.name = Some("en-us+f3".into());
        request.voice.gender = Some(Gender::Female);
        request.vendor_parameters = vec![("style".into(), "calm".into())];
        let v: Value = serde_json::from_str(&start(&request, "en-US", 16000)).unwrap();
        assert_eq!(v["type"], "start");
        assert_eq!(v["textType"], "text");
        assert_eq!(v["text"], "Hello");
        assert_eq!(v["voice"], "en-us+f3");
        assert_eq!(v["gender"], "female");
        assert_eq!(v["sampleRateHz"], 16000);
        assert_eq!(v["prosody"]["rate"], 1.0);
        assert_eq!(v["vendor"]["style"], "calm");
        let doc = mrcp_proto::ssml::parse("<speak>Hi <mark name=\"m\"/></speak>").unwrap();
        let v: Value =
            serde_json::from_str(&http_body(&SynthesisRequest::ssml(doc), "en-US", 8000)).unwrap();
        assert_eq!(v["type"], "ssml");
        assert!(v["text"].as_str().unwrap().contains("<mark name=\"m\"/>"));
        assert_eq!(v["language"], "en-US");
    }

    #[test]
    fn engine_messages_are_read() {
        assert_eq!(
            parse(r#"{"type":"started","version":1,"sampleRateHz":16000}"#).unwrap(),
            EngineMessage::Started {
                version: Some(1),
                sample_rate: Some(16000)
            }
        );
        assert_eq!(
            parse(r#"{"type":"mark","name":"m1"}"#).unwrap(),
            EngineMessage::Mark("m1".into())
        );
        assert_eq!(parse(r#"{"type":"done"}"#).unwrap(), EngineMessage::Done);
        assert_eq!(
            parse(r#"{"type":"something_new"}"#).unwrap(),
            EngineMessage::Unknown
        );
        assert!(parse(r#"{"type":"mark"}"#).is_err());
    }

    #[test]
    fn http_errors_and_types_are_read() {
        assert_eq!(
            http_error(400, br#"{"kind":"bad_request","message":"no voice"}"#),
            (EngineErrorKind::BadRequest, "no voice".into())
        );
        assert_eq!(
            http_error(503, br#"{"error":"busy"}"#),
            (EngineErrorKind::Unavailable, "busy".into())
        );
        assert_eq!(http_error(401, b"").0, EngineErrorKind::Auth);
        assert!(http_error(500, b"<html>oops</html>").1.contains("oops"));
        assert_eq!(
            http_audio("audio/L16; rate=8000"),
            Some(HttpAudio::L16(Some(8000)))
        );
        assert_eq!(http_audio("audio/wav"), Some(HttpAudio::Wav));
        assert_eq!(http_audio("audio/mpeg"), None);
    }

    #[test]
    fn pcm_survives_odd_chunk_boundaries() {
        let bytes: Vec<u8> = [1i16, -2, 300, -400]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut pcm = Pcm::default();
        let mut out = Vec::new();
        for chunk in bytes.chunks(3) {
            pcm.push(chunk, &mut out);
        }
        assert_eq!(out, vec![1, -2, 300, -400]);
    }

    proptest::proptest! {
        /// Any split of a little-endian byte stream decodes to the same samples as the whole.
        #[test]
        fn pcm_decodes_the_same_at_any_split(samples in proptest::collection::vec(proptest::num::i16::ANY, 0..200), cuts in proptest::collection::vec(0usize..400, 0..8)) {
            let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pcm = Pcm::default();
            let mut out = Vec::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                pcm.push(&bytes[at..cut], &mut out);
                at = cut;
            }
            proptest::prop_assert_eq!(out, samples);
        }
    }
}
