//! Deepgram live-streaming messages, parsed sans-IO, and [`Utterance`], which folds them into what the
//! server hears: partial text, speech start and end, and the final transcript.

use serde::Deserialize;

use crate::{Alternative, RecognizerEvent};

/// A server message of `/v1/listen`, tagged by `type` (as the official SDK's `TaggedStreamResponse`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum ServerMessage {
    Results {
        #[serde(default)]
        is_final: bool,
        #[serde(default)]
        speech_final: bool,
        #[serde(default)]
        from_finalize: bool,
        channel: Channel,
    },
    SpeechStarted,
    UtteranceEnd,
    Metadata,
    Error {
        #[serde(default)]
        description: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        variant: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Channel {
    #[serde(default)]
    alternatives: Vec<ChannelAlternative>,
}

#[derive(Debug, Deserialize)]
struct ChannelAlternative {
    #[serde(default)]
    transcript: String,
    #[serde(default)]
    confidence: f32,
}

/// Parses one text frame.
pub(crate) fn parse(text: &str) -> Result<ServerMessage, serde_json::Error> {
    serde_json::from_str(text)
}

/// The error body of a refused handshake (`{"err_code","err_msg","request_id"}`), or the body itself.
pub(crate) fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Refusal {
        #[serde(default)]
        err_code: String,
        #[serde(default)]
        err_msg: String,
    }
    match serde_json::from_str::<Refusal>(body) {
        Ok(r) if !r.err_msg.is_empty() => format!("{} ({})", r.err_msg, r.err_code),
        _ => body.to_owned(),
    }
}

/// What a message means for the recognition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Heard {
    /// Report this to the server.
    Event(RecognizerEvent),
    /// Deepgram's endpointing says the utterance ended (`speech_final`, or `UtteranceEnd` after words).
    EndOfUtterance,
    /// The `Finalize` flush came back: everything sent so far is final.
    Finalized,
    /// The stream summary: Deepgram is done.
    Done,
    /// A vendor error, with its description.
    Error(String),
    /// Nothing to act on.
    Nothing,
}

/// The transcript of one utterance, built from `Results` segments.
#[derive(Debug, Default)]
pub(crate) struct Utterance {
    /// Finalized segments: n-best alternatives of each, best first.
    segments: Vec<Vec<(String, f32)>>,
}

impl Utterance {
    /// Folds one message in and says what it means.
    pub(crate) fn handle(&mut self, message: ServerMessage) -> Heard {
        match message {
            ServerMessage::Results {
                is_final,
                speech_final,
                from_finalize,
                channel,
            } => {
                let alternatives: Vec<(String, f32)> = channel
                    .alternatives
                    .into_iter()
                    .map(|a| (a.transcript.trim().to_owned(), a.confidence.clamp(0.0, 1.0)))
                    .collect();
                let has_words = alternatives.first().is_some_and(|(t, _)| !t.is_empty());
                if !is_final {
                    return match alternatives.first() {
                        Some((text, _)) if has_words => Heard::Event(RecognizerEvent::Partial {
                            text: self.joined_with(text),
                        }),
                        _ => Heard::Nothing,
                    };
                }
                if has_words {
                    self.segments.push(alternatives);
                }
                if from_finalize {
                    Heard::Finalized
                } else if speech_final && !self.segments.is_empty() {
                    Heard::EndOfUtterance
                } else if has_words {
                    Heard::Event(RecognizerEvent::Partial {
                        text: self.joined_with(""),
                    })
                } else {
                    Heard::Nothing
                }
            }
            ServerMessage::SpeechStarted => Heard::Event(RecognizerEvent::SpeechStarted),
            ServerMessage::UtteranceEnd if !self.segments.is_empty() => Heard::EndOfUtterance,
            ServerMessage::UtteranceEnd => Heard::Event(RecognizerEvent::SpeechEnded),
            ServerMessage::Metadata => Heard::Done,
            ServerMessage::Error {
                description,
                message,
                variant,
            } => Heard::Error(
                [variant, description, message]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(": "),
            ),
            ServerMessage::Other => Heard::Nothing,
        }
    }

    fn joined_with(&self, interim: &str) -> String {
        let mut words: Vec<&str> = self
            .segments
            .iter()
            .filter_map(|s| s.first().map(|(t, _)| t.as_str()))
            .collect();
        if !interim.is_empty() {
            words.push(interim);
        }
        words.join(" ")
    }

    /// The final result: one segment's n-best list as Deepgram gave it; several segments joined into one
    /// alternative with their mean confidence; nothing when no words were heard.
    pub(crate) fn result(&self) -> Vec<Alternative> {
        match self.segments.as_slice() {
            [] => Vec::new(),
            [single] => single
                .iter()
                .filter(|(t, _)| !t.is_empty())
                .map(|(text, confidence)| Alternative {
                    text: text.clone(),
                    confidence: *confidence,
                })
                .collect(),
            many => {
                let confidences: Vec<f32> =
                    many.iter().filter_map(|s| s.first().map(|a| a.1)).collect();
                let mean = confidences.iter().sum::<f32>() / confidences.len().max(1) as f32;
                vec![Alternative {
                    text: self.joined_with(""),
                    confidence: mean,
                }]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(
        text: &str,
        is_final: bool,
        speech_final: bool,
        from_finalize: bool,
    ) -> ServerMessage {
        parse(&format!(
            r#"{{"type":"Results","channel_index":[0,1],"duration":1.0,"start":0.0,"is_final":{is_final},
            "speech_final":{speech_final},"from_finalize":{from_finalize},
            "channel":{{"alternatives":[{{"transcript":"{text}","confidence":0.8,"words":[]}}]}},
            "metadata":{{"request_id":"r","model_info":{{"name":"nova-3","version":"v","arch":"a"}},"model_uuid":"u"}}}}"#
        ))
        .expect("results")
    }

    #[test]
    fn interim_then_final_segments_make_the_transcript() {
        let mut u = Utterance::default();
        assert_eq!(
            u.handle(results("book a", false, false, false)),
            Heard::Event(RecognizerEvent::Partial {
                text: "book a".into()
            })
        );
        assert!(matches!(
            u.handle(results("book a flight", true, false, false)),
            Heard::Event(_)
        ));
        assert_eq!(
            u.handle(results("to paris", false, false, false)),
            Heard::Event(RecognizerEvent::Partial {
                text: "book a flight to paris".into()
            })
        );
        assert_eq!(
            u.handle(results("to paris", true, true, false)),
            Heard::EndOfUtterance
        );
        let result = u.result();
        assert_eq!(result.len(), 1);
        assert_eq!(result[0].text, "book a flight to paris");
    }

    #[test]
    fn finalize_and_metadata_and_errors_are_recognized() {
        let mut u = Utterance::default();
        assert_eq!(
            u.handle(results("yes", true, false, true)),
            Heard::Finalized
        );
        assert_eq!(u.result()[0].text, "yes");
        let meta = parse(r#"{"type":"Metadata","transaction_key":"deprecated","request_id":"r","sha256":"s","created":"2024-08-29T22:37:55.202Z","duration":1.5,"channels":1}"#).expect("meta");
        assert_eq!(u.handle(meta), Heard::Done);
        let started =
            parse(r#"{"type":"SpeechStarted","channel":[0,1],"timestamp":1.2}"#).expect("vad");
        assert_eq!(
            u.handle(started),
            Heard::Event(RecognizerEvent::SpeechStarted)
        );
        let error =
            parse(r#"{"type":"Error","variant":"SchemaError","description":"bad","message":""}"#)
                .expect("error");
        assert_eq!(u.handle(error), Heard::Error("SchemaError: bad".into()));
        let end =
            parse(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.4}"#).expect("end");
        assert_eq!(u.handle(end), Heard::EndOfUtterance);
    }

    #[test]
    fn empty_finals_are_silence() {
        let mut u = Utterance::default();
        assert_eq!(u.handle(results("", true, true, false)), Heard::Nothing);
        assert!(u.result().is_empty());
    }

    #[test]
    fn refusal_bodies_give_the_vendor_message() {
        assert_eq!(
            error_message(
                r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"x"}"#
            ),
            "Invalid credentials. (INVALID_AUTH)"
        );
    }
}
