//! A recognizer that fails on purpose, for proving that engines are guests: route a share of traffic to it
//! (by a Vendor-Specific-Parameters rule, say) and check that only the requests it serves fail, with
//! Completion-Cause 006, while every other session goes on. Never route production traffic to it.

use mrcp_proto::engine::{EngineError, EngineErrorKind};

use crate::{
    Alternative, GrammarSupport, RecognitionRequest, RecognitionStream, Recognizer,
    RecognizerCapabilities, RecognizerEvent, recognition_channel,
};

/// How the engine fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// Its task panics at the first audio frame (a bug in the engine).
    Panic,
    /// It takes audio and never answers (a stuck engine or network).
    Hang,
    /// It reports an internal error at the first audio frame.
    Error,
    /// At the first audio frame it sends a burst of junk partials, then a final result no grammar can hold:
    /// markup and CDATA terminators, control characters and NUL, a 64 KiB word, and confidences that are NaN,
    /// negative, infinite or above 1 (a broken or hostile engine). The server must still answer with valid
    /// NLSML and a completion cause.
    Garbage,
}

/// The final result of [`FaultMode::Garbage`].
pub fn garbage_alternatives() -> Vec<Alternative> {
    let junk = [
        "]]></result><injected/>&amp;<![CDATA[",
        "\u{0}\u{1}\u{1b}[2J\u{7f}",
        "\u{feff}\u{202e}reversed\u{200b}",
    ];
    let mut out: Vec<Alternative> = junk
        .iter()
        .zip([f32::NAN, -3.5, f32::INFINITY])
        .map(|(text, confidence)| Alternative {
            text: (*text).to_owned(),
            confidence,
        })
        .collect();
    out.push(Alternative {
        text: "x".repeat(64 * 1024),
        confidence: 7.0,
    });
    out
}

/// The faulty recognizer.
#[derive(Debug, Clone)]
pub struct FaultRecognizer {
    name: String,
    mode: FaultMode,
    capabilities: RecognizerCapabilities,
}

impl FaultRecognizer {
    /// A recognizer named `name` failing as `mode`.
    pub fn new(name: impl Into<String>, mode: FaultMode) -> Self {
        Self {
            name: name.into(),
            mode,
            capabilities: RecognizerCapabilities {
                sample_rate: 8000,
                languages: Vec::new(),
                grammar_support: GrammarSupport::Hints,
            },
        }
    }
}

impl Recognizer for FaultRecognizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &RecognizerCapabilities {
        &self.capabilities
    }

    fn start(&self, _request: RecognitionRequest) -> Result<RecognitionStream, EngineError> {
        let (stream, mut side) = recognition_channel();
        let (mode, name) = (self.mode, self.name.clone());
        tokio::spawn(async move {
            let first = side.audio.recv().await;
            match mode {
                FaultMode::Panic => {
                    if first.is_some() {
                        // The point of this engine: a panic inside an engine task must stay there.
                        panic!("fault engine {name}: panicking on purpose");
                    }
                }
                FaultMode::Error => {
                    let error =
                        EngineError::new(name, EngineErrorKind::Internal, "failing on purpose");
                    let _ = side.events.send(Err(error)).await;
                }
                FaultMode::Garbage => {
                    for i in 0..100 {
                        let text = format!("\u{0}<{i}>&\u{1}");
                        if side
                            .events
                            .send(Ok(RecognizerEvent::Partial { text }))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    let _ = side
                        .events
                        .send(Ok(RecognizerEvent::Final(garbage_alternatives())))
                        .await;
                }
                FaultMode::Hang => {
                    // Hold the stream open, reading nothing, until the server gives up and drops it.
                    side.events.closed().await;
                }
            }
        });
        Ok(stream)
    }
}
