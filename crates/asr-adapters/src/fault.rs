//! A recognizer that fails on purpose, for proving that engines are guests: route a share of traffic to it
//! (by a Vendor-Specific-Parameters rule, say) and check that only the requests it serves fail, with
//! Completion-Cause 006, while every other session goes on. Never route production traffic to it.

use mrcp_proto::engine::{EngineError, EngineErrorKind};

use crate::{
    GrammarSupport, RecognitionRequest, RecognitionStream, Recognizer, RecognizerCapabilities,
    recognition_channel,
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
                FaultMode::Hang => {
                    // Hold the stream open, reading nothing, until the server gives up and drops it.
                    side.events.closed().await;
                }
            }
        });
        Ok(stream)
    }
}
