//! Azure's service messages turned into [`RecognizerEvent`]s, and its refusals into [`EngineError`]s.
//!
//! Followed: `websocketprotocol.md` (message bodies) and the Speech SDK for JavaScript
//! (`ServiceMessages/DetailedSpeechPhrase.ts`, `ServiceMessages/Enums.ts` for `RecognitionStatus`).

use mrcp_proto::engine::{EngineError, EngineErrorKind};
use serde::Deserialize;

use super::usp::ServiceMessage;
use crate::{Alternative, RecognizerEvent};

/// What one service message means for the recognition.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Tell the server this.
    Event(RecognizerEvent),
    /// The service's VAD heard the end of speech: stop streaming audio.
    EndOfSpeech,
    /// The turn ended; a turn with no `speech.phrase` recognized nothing.
    TurnEnd,
    /// Nothing to do (`turn.start`, telemetry acknowledgements, paths we do not use).
    Nothing,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Hypothesis {
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Phrase {
    recognition_status: String,
    #[serde(default)]
    display_text: Option<String>,
    #[serde(default, rename = "NBest")]
    n_best: Vec<NBest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NBest {
    #[serde(default)]
    confidence: f32,
    #[serde(default)]
    lexical: String,
    #[serde(default)]
    display: String,
}

/// Maps one service message. `engine` names the engine in errors.
pub fn step(engine: &str, message: &ServiceMessage) -> Result<Step, EngineError> {
    let bad = |what: &str, e: serde_json::Error| {
        EngineError::new(
            engine,
            EngineErrorKind::Internal,
            format!("azure sent an unreadable {what}: {e}"),
        )
    };
    Ok(match message.path.as_str() {
        "speech.startDetected" => Step::Event(RecognizerEvent::SpeechStarted),
        "speech.endDetected" => Step::EndOfSpeech,
        "speech.hypothesis" | "speech.fragment" => {
            let h: Hypothesis =
                serde_json::from_str(&message.body).map_err(|e| bad(&message.path, e))?;
            Step::Event(RecognizerEvent::Partial { text: h.text })
        }
        "speech.phrase" => {
            let p: Phrase =
                serde_json::from_str(&message.body).map_err(|e| bad("speech.phrase", e))?;
            phrase(engine, p)?
        }
        "turn.end" => Step::TurnEnd,
        _ => Step::Nothing,
    })
}

/// `RecognitionStatus` to an outcome: `Success` is the n-best list; the statuses that mean "heard nothing
/// usable" (`NoMatch`, `InitialSilenceTimeout`, `BabbleTimeout`) are an empty final, which the server turns
/// into no-match or, with its own timers, no-input; `Error` and `TooManyRequests` are failures.
fn phrase(engine: &str, p: Phrase) -> Result<Step, EngineError> {
    match p.recognition_status.as_str() {
        "Success" => {
            let mut alternatives: Vec<Alternative> = p
                .n_best
                .into_iter()
                .map(|n| Alternative {
                    // The lexical form ("one two three", no punctuation) is what grammars match best.
                    text: if n.lexical.is_empty() {
                        n.display
                    } else {
                        n.lexical
                    },
                    confidence: n.confidence.clamp(0.0, 1.0),
                })
                .filter(|a| !a.text.trim().is_empty())
                .collect();
            if alternatives.is_empty()
                && let Some(text) = p.display_text.filter(|t| !t.trim().is_empty())
            {
                // The simple format has no confidence; the server still scores the grammar match.
                alternatives.push(Alternative {
                    text,
                    confidence: 1.0,
                });
            }
            Ok(Step::Event(RecognizerEvent::Final(alternatives)))
        }
        "NoMatch" | "InitialSilenceTimeout" | "BabbleTimeout" => {
            Ok(Step::Event(RecognizerEvent::Final(Vec::new())))
        }
        // The end of a dictation turn carries no result of its own.
        "EndOfDictation" => Ok(Step::Nothing),
        "TooManyRequests" => Err(EngineError::new(
            engine,
            EngineErrorKind::Unavailable,
            "azure: TooManyRequests (recognition throttled)",
        )),
        other => Err(EngineError::new(
            engine,
            EngineErrorKind::Internal,
            format!("azure: recognition status {other}"),
        )),
    }
}

/// The kind of a close frame sent mid-stream (1002 protocol error, 1007 bad data, 1011 server error).
pub fn close_kind(code: u16) -> EngineErrorKind {
    match code {
        1002 | 1007 | 1008 | 1009 => EngineErrorKind::BadRequest,
        1013 => EngineErrorKind::Unavailable,
        _ => EngineErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(path: &str, body: &str) -> ServiceMessage {
        ServiceMessage {
            path: path.into(),
            request_id: None,
            body: body.into(),
        }
    }

    #[test]
    fn a_detailed_phrase_becomes_the_n_best_list() {
        let body = r#"{"RecognitionStatus":"Success","Offset":1800000,"Duration":6000000,
            "NBest":[{"Confidence":0.93,"Lexical":"yes please","ITN":"yes please","MaskedITN":"yes please","Display":"Yes, please."},
                     {"Confidence":0.41,"Lexical":"yes police","ITN":"","MaskedITN":"","Display":"Yes police."}]}"#;
        let step = step("az", &msg("speech.phrase", body)).expect("phrase");
        let Step::Event(RecognizerEvent::Final(alts)) = step else {
            panic!("not a final: {step:?}");
        };
        assert_eq!(alts.len(), 2);
        assert_eq!(alts[0].text, "yes please");
        assert!((alts[0].confidence - 0.93).abs() < 1e-6);
    }

    #[test]
    fn statuses_map_to_empty_finals_or_errors() {
        for status in ["NoMatch", "InitialSilenceTimeout", "BabbleTimeout"] {
            let body = format!(r#"{{"RecognitionStatus":"{status}","Offset":0,"Duration":0}}"#);
            assert_eq!(
                step("az", &msg("speech.phrase", &body)).expect("status"),
                Step::Event(RecognizerEvent::Final(Vec::new()))
            );
        }
        let throttled = step(
            "az",
            &msg(
                "speech.phrase",
                r#"{"RecognitionStatus":"TooManyRequests"}"#,
            ),
        )
        .expect_err("throttled");
        assert_eq!(throttled.kind, EngineErrorKind::Unavailable);
        let simple = step(
            "az",
            &msg(
                "speech.phrase",
                r#"{"RecognitionStatus":"Success","DisplayText":"No.","Offset":0,"Duration":1}"#,
            ),
        )
        .expect("simple");
        assert!(matches!(simple, Step::Event(RecognizerEvent::Final(a)) if a[0].text == "No."));
    }

    #[test]
    fn hypotheses_are_partials_and_other_paths_are_steps() {
        assert_eq!(
            step(
                "az",
                &msg(
                    "speech.hypothesis",
                    r#"{"Text":"ye","Offset":0,"Duration":1}"#
                )
            )
            .expect("hyp"),
            Step::Event(RecognizerEvent::Partial { text: "ye".into() })
        );
        assert_eq!(
            step("az", &msg("turn.start", "{}")).expect("start"),
            Step::Nothing
        );
        assert_eq!(
            step("az", &msg("turn.end", "")).expect("end"),
            Step::TurnEnd
        );
        assert_eq!(
            step("az", &msg("speech.endDetected", r#"{"Offset":1}"#)).expect("end"),
            Step::EndOfSpeech
        );
        assert!(step("az", &msg("speech.hypothesis", "not json")).is_err());
    }
}
