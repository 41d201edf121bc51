//! The engine-ws v1 ASR messages (`docs/engine-ws.md` §2), sans-IO: the `start` the client sends, the engine's
//! messages read back (including jambonz's `transcription`, §6), and what a close code stands for (§1.6).

use mrcp_proto::engine::EngineErrorKind;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{Alternative, Constraint, RecognitionRequest};

/// The protocol version this client speaks.
pub const VERSION: u32 = 1;

/// What goes into `start` besides the request.
#[derive(Debug, Clone, PartialEq)]
pub struct StartParams<'a> {
    /// `language` when the request names none.
    pub default_language: &'a str,
    /// `sampleRateHz`.
    pub sample_rate: u32,
    /// `interimResults`.
    pub interim_results: bool,
    /// `timeouts.idleMs`.
    pub idle_ms: u64,
    /// `timeouts.resultMs`.
    pub result_ms: u64,
}

/// The `start` message for a recognition (§2.2).
pub fn start(request: &RecognitionRequest, params: &StartParams<'_>) -> String {
    let mut vendor = Map::new();
    for (name, value) in &request.vendor_parameters {
        vendor.insert(name.clone(), Value::String(value.clone()));
    }
    let mut message = json!({
        "type": "start",
        "version": VERSION,
        "language": request.language.as_deref().unwrap_or(params.default_language),
        "format": "raw",
        "encoding": "LINEAR16",
        "sampleRateHz": params.sample_rate,
        "channels": 1,
        "interimResults": params.interim_results,
        "maxAlternatives": request.n_best.max(1),
        "timeouts": {"idleMs": params.idle_ms, "resultMs": params.result_ms},
        "vendor": vendor,
    });
    if let Some(object) = message.as_object_mut() {
        match &request.constraint {
            Constraint::Dictation => {
                object.insert("dictation".into(), Value::Bool(true));
            }
            Constraint::Grammars(g) => {
                object.insert("dictation".into(), Value::Bool(false));
                object.insert("hints".into(), json!(g.phrases));
                object.insert("words".into(), json!(g.words));
                object.insert("jsgf".into(), Value::String(g.jsgf.clone()));
            }
        }
    }
    message.to_string()
}

/// One alternative as engines write it (`transcript`, `confidence`), in `final`, `interim` and jambonz's
/// `transcription`.
#[derive(Debug, Clone, Deserialize)]
struct WireAlternative {
    #[serde(default)]
    transcript: String,
    confidence: Option<f64>,
}

impl WireAlternative {
    fn into_alternative(self) -> Alternative {
        Alternative {
            text: self.transcript.trim().to_owned(),
            // §2.3: absent means 1.0; out-of-range values are clamped rather than trusted.
            confidence: self.confidence.map_or(1.0, |c| c.clamp(0.0, 1.0)) as f32,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    Started {
        version: Option<u32>,
    },
    SpeechStart,
    SpeechEnd,
    Interim {
        #[serde(default)]
        transcript: String,
    },
    Final {
        #[serde(default)]
        alternatives: Vec<WireAlternative>,
    },
    /// jambonz's result message (§6).
    Transcription {
        #[serde(default)]
        is_final: bool,
        #[serde(default)]
        alternatives: Vec<WireAlternative>,
    },
    Error {
        kind: Option<String>,
        message: Option<String>,
        /// jambonz's member for the message.
        error: Option<String>,
    },
    #[serde(other)]
    Unknown,
}

/// A message from the engine, read.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineMessage {
    /// `started`, with the version the engine speaks.
    Started {
        /// `version`; `None` when the engine did not say.
        version: Option<u32>,
    },
    /// `speech_start`.
    SpeechStart,
    /// `speech_end`.
    SpeechEnd,
    /// `interim`, or a jambonz `transcription` with `is_final: false`.
    Interim(String),
    /// `final`: the alternatives, best first.
    Final(Vec<Alternative>),
    /// A jambonz `transcription` with `is_final: true`: one segment of the utterance (its best transcript).
    Segment(String),
    /// `error`.
    Error {
        /// The kind (`internal` when missing or unknown).
        kind: EngineErrorKind,
        /// The engine's message.
        message: String,
    },
    /// A message of a type this version does not know: ignored (§1.1).
    Unknown,
}

/// Why a text message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine sent a message that is not engine-ws: {reason}")]
pub struct MessageError {
    /// What was wrong, from the JSON reader.
    pub reason: String,
}

/// Reads one text message from the engine.
pub fn parse(text: &str) -> Result<EngineMessage, MessageError> {
    let wire: Wire = serde_json::from_str(text).map_err(|e| MessageError {
        reason: e.to_string(),
    })?;
    Ok(match wire {
        Wire::Started { version } => EngineMessage::Started { version },
        Wire::SpeechStart => EngineMessage::SpeechStart,
        Wire::SpeechEnd => EngineMessage::SpeechEnd,
        Wire::Interim { transcript } => EngineMessage::Interim(transcript),
        Wire::Final { alternatives } => EngineMessage::Final(
            alternatives
                .into_iter()
                .map(WireAlternative::into_alternative)
                .collect(),
        ),
        Wire::Transcription {
            is_final,
            alternatives,
        } => {
            let best = alternatives
                .into_iter()
                .next()
                .map(|a| a.into_alternative().text)
                .unwrap_or_default();
            if is_final {
                EngineMessage::Segment(best)
            } else {
                EngineMessage::Interim(best)
            }
        }
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

/// The error kind an `error` message names (§1.5); `internal` when missing or unknown.
pub fn kind_of(kind: Option<&str>) -> EngineErrorKind {
    match kind {
        Some("unavailable") => EngineErrorKind::Unavailable,
        Some("auth") => EngineErrorKind::Auth,
        Some("bad_request") => EngineErrorKind::BadRequest,
        Some("timeout") => EngineErrorKind::Timeout,
        _ => EngineErrorKind::Internal,
    }
}

/// The kind a close without a result and without `error` stands for (§1.6).
pub fn kind_of_close(code: u16) -> EngineErrorKind {
    match code {
        1007 | 1003 => EngineErrorKind::BadRequest,
        1008 => EngineErrorKind::Auth,
        1013 | 1001 | 1006 => EngineErrorKind::Unavailable,
        _ => EngineErrorKind::Internal,
    }
}

/// 16-bit samples as little-endian bytes (§1.4).
pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompiledGrammars;

    fn params() -> StartParams<'static> {
        StartParams {
            default_language: "en-US",
            sample_rate: 8000,
            interim_results: true,
            idle_ms: 10_000,
            result_ms: 5_000,
        }
    }

    #[test]
    fn start_carries_the_request_and_the_jambonz_members() {
        let request = RecognitionRequest {
            language: Some("fr-FR".into()),
            constraint: Constraint::Grammars(CompiledGrammars {
                jsgf: "#JSGF V1.0; grammar g; public <r> = oui | non;".into(),
                words: vec!["non".into(), "oui".into()],
                phrases: vec!["oui".into(), "non".into()],
            }),
            n_best: 3,
            vendor_parameters: vec![("model".into(), "phone".into())],
        };
        let v: Value = serde_json::from_str(&start(&request, &params())).unwrap();
        assert_eq!(v["type"], "start");
        assert_eq!(v["version"], 1);
        assert_eq!(v["language"], "fr-FR");
        assert_eq!(v["format"], "raw");
        assert_eq!(v["encoding"], "LINEAR16");
        assert_eq!(v["sampleRateHz"], 8000);
        assert_eq!(v["interimResults"], true);
        assert_eq!(v["maxAlternatives"], 3);
        assert_eq!(v["dictation"], false);
        assert_eq!(v["hints"][1], "non");
        assert!(v["jsgf"].as_str().unwrap().starts_with("#JSGF"));
        assert_eq!(v["vendor"]["model"], "phone");
        assert_eq!(v["timeouts"]["idleMs"], 10_000);
        let dictation = RecognitionRequest {
            language: None,
            constraint: Constraint::Dictation,
            n_best: 0,
            vendor_parameters: vec![],
        };
        let v: Value = serde_json::from_str(&start(&dictation, &params())).unwrap();
        assert_eq!(v["language"], "en-US");
        assert_eq!(v["dictation"], true);
        assert_eq!(v["maxAlternatives"], 1);
        assert!(v.get("jsgf").is_none());
    }

    #[test]
    fn engine_messages_are_read() {
        assert_eq!(
            parse(r#"{"type":"started","version":1}"#).unwrap(),
            EngineMessage::Started { version: Some(1) }
        );
        assert_eq!(
            parse(r#"{"type":"speech_start","offsetMs":420}"#).unwrap(),
            EngineMessage::SpeechStart
        );
        assert_eq!(
            parse(r#"{"type":"final","alternatives":[{"transcript":" yes ","confidence":0.9},{"transcript":"no","confidence":7}]}"#).unwrap(),
            EngineMessage::Final(vec![
                Alternative { text: "yes".into(), confidence: 0.9 },
                Alternative { text: "no".into(), confidence: 1.0 },
            ])
        );
        assert_eq!(
            parse(r#"{"type":"final","alternatives":[]}"#).unwrap(),
            EngineMessage::Final(vec![])
        );
        assert_eq!(
            parse(r#"{"type":"error","kind":"auth","message":"bad key"}"#).unwrap(),
            EngineMessage::Error {
                kind: EngineErrorKind::Auth,
                message: "bad key".into()
            }
        );
        assert_eq!(
            parse(r#"{"type":"future_thing","x":1}"#).unwrap(),
            EngineMessage::Unknown
        );
        assert!(parse("not json").is_err());
        assert!(parse(r#"{"no_type":1}"#).is_err());
        assert!(parse(r#"[1,2]"#).is_err());
    }

    #[test]
    fn jambonz_messages_are_read_too() {
        assert_eq!(
            parse(r#"{"type":"transcription","is_final":false,"alternatives":[{"transcript":"Hello","confidence":0.85}],"channel":0}"#).unwrap(),
            EngineMessage::Interim("Hello".into())
        );
        assert_eq!(
            parse(r#"{"type":"transcription","is_final":true,"alternatives":[{"transcript":"Hello there"}]}"#).unwrap(),
            EngineMessage::Segment("Hello there".into())
        );
        assert_eq!(
            parse(r#"{"type":"error","error":"Upstream transcription service unavailable"}"#)
                .unwrap(),
            EngineMessage::Error {
                kind: EngineErrorKind::Internal,
                message: "Upstream transcription service unavailable".into()
            }
        );
    }

    #[test]
    fn close_codes_map_to_kinds() {
        assert_eq!(kind_of_close(1007), EngineErrorKind::BadRequest);
        assert_eq!(kind_of_close(1008), EngineErrorKind::Auth);
        assert_eq!(kind_of_close(1013), EngineErrorKind::Unavailable);
        assert_eq!(kind_of_close(1011), EngineErrorKind::Internal);
        assert_eq!(kind_of_close(1000), EngineErrorKind::Internal);
    }

    #[test]
    fn pcm_is_little_endian() {
        assert_eq!(pcm_bytes(&[1, -2]), vec![1, 0, 0xfe, 0xff]);
    }
}
