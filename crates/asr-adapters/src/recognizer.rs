//! The speech recognition engine interface (see `docs/architecture.md`, "Engine interfaces").
//!
//! The server starts one [`RecognitionStream`] per RECOGNIZE. It pushes audio at the rate the engine declared
//! (it resamples, never the engine), closes the audio side when its endpointer decides the input is complete,
//! and reads [`RecognizerEvent`]s until a final result or an error. Dropping the stream cancels the engine's
//! work (STOP, BYE, barge-in). MRCP timers and NLSML stay in the server: an engine only hears audio and says
//! what it heard.

use mrcp_proto::engine::EngineError;
use tokio::sync::mpsc;

/// Audio frames and events are bounded so a slow engine pushes back on the server instead of growing memory:
/// 50 frames of 20 ms is one second of audio.
pub const STREAM_CAPACITY: usize = 50;

/// What an engine can do, declared once so routing and resampling are decided before audio flows.
#[derive(Debug, Clone, PartialEq)]
pub struct RecognizerCapabilities {
    /// The sample rate, in Hz, the engine wants its 16-bit mono PCM at.
    pub sample_rate: u32,
    /// BCP-47 language tags the engine recognizes; empty means it accepts any and decides itself.
    pub languages: Vec<String>,
    /// How the engine uses grammars.
    pub grammar_support: GrammarSupport,
}

/// How an engine uses the active grammars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrammarSupport {
    /// The engine's search is constrained to the grammars (PocketSphinx with JSGF): its text is already in
    /// the grammar, and the server only has to interpret it.
    Constrained,
    /// The engine returns free text, perhaps biased by phrase hints; the server matches it against the
    /// grammars.
    Hints,
}

/// The active grammars, compiled by the server (from SRGS, ABNF, JSGF or builtins) into the forms engines take.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompiledGrammars {
    /// All active grammars as one JSGF grammar (`#JSGF V1.0; grammar g; public <root> = …;`), for constrained
    /// engines. The server interprets whatever text comes back against the original grammars.
    pub jsgf: String,
    /// Every word the grammars can produce, lower-case, for dictionaries.
    pub words: Vec<String>,
    /// Phrases the grammars accept, for engines that take hints or boost lists.
    pub phrases: Vec<String>,
}

/// What the engine should listen for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// Only what the grammars accept.
    Grammars(CompiledGrammars),
    /// Free dictation (`builtin:speech/transcribe`).
    Dictation,
}

/// The parameters of one recognition that matter to an engine.
#[derive(Debug, Clone, PartialEq)]
pub struct RecognitionRequest {
    /// `Speech-Language` (RFC 6787 §9.4), if the client set one.
    pub language: Option<String>,
    /// What to listen for.
    pub constraint: Constraint,
    /// `N-Best-List-Length` (RFC 6787 §9.4): the most alternatives the server will report.
    pub n_best: u32,
    /// `Vendor-Specific-Parameters` (RFC 6787 §6.2.16), in the client's order.
    pub vendor_parameters: Vec<(String, String)>,
}

/// One alternative of a final result.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    /// What the engine heard, as words.
    pub text: String,
    /// The engine's confidence, 0.0–1.0.
    pub confidence: f32,
}

/// What an engine reports while it recognizes.
#[derive(Debug, Clone, PartialEq)]
pub enum RecognizerEvent {
    /// The engine's own detector heard speech start (the server's VAD usually decides first).
    SpeechStarted,
    /// The engine's own detector heard speech end.
    SpeechEnded,
    /// An interim hypothesis.
    Partial {
        /// The text so far.
        text: String,
    },
    /// The final result, best first; empty when nothing was recognized. The engine stops after it.
    Final(Vec<Alternative>),
}

/// The server's end of one running recognition.
#[derive(Debug)]
pub struct RecognitionStream {
    audio: Option<mpsc::Sender<Vec<i16>>>,
    events: mpsc::Receiver<Result<RecognizerEvent, EngineError>>,
}

/// The engine's end of one running recognition.
#[derive(Debug)]
pub struct EngineSide {
    /// 16-bit mono PCM frames at the engine's declared rate; `None` from `recv` means the input is complete.
    pub audio: mpsc::Receiver<Vec<i16>>,
    /// Where the engine reports; a failed send means the server cancelled the recognition.
    pub events: mpsc::Sender<Result<RecognizerEvent, EngineError>>,
}

/// Makes the two ends of a recognition, with [`STREAM_CAPACITY`] on each channel.
pub fn recognition_channel() -> (RecognitionStream, EngineSide) {
    let (audio_tx, audio_rx) = mpsc::channel(STREAM_CAPACITY);
    let (events_tx, events_rx) = mpsc::channel(STREAM_CAPACITY);
    (
        RecognitionStream {
            audio: Some(audio_tx),
            events: events_rx,
        },
        EngineSide {
            audio: audio_rx,
            events: events_tx,
        },
    )
}

/// Why audio could not be pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// [`RecognitionStream::finish`] was called already.
    #[error("audio pushed after the input was finished")]
    Finished,
    /// The engine stopped reading (it ended or failed); read its events.
    #[error("the engine stopped reading audio")]
    EngineGone,
    /// The engine is a second of audio behind ([`RecognitionStream::try_push`] only).
    #[error("the engine is {STREAM_CAPACITY} frames behind")]
    Full,
}

impl RecognitionStream {
    /// Pushes one frame of PCM; waits while the engine is a second behind.
    pub async fn push(&self, samples: Vec<i16>) -> Result<(), PushError> {
        let audio = self.audio.as_ref().ok_or(PushError::Finished)?;
        audio.send(samples).await.map_err(|_| PushError::EngineGone)
    }

    /// Pushes one frame of PCM without waiting: for a caller that must not block (the session actor), which
    /// drops the frame and counts it when the engine is a second behind.
    pub fn try_push(&self, samples: Vec<i16>) -> Result<(), PushError> {
        let audio = self.audio.as_ref().ok_or(PushError::Finished)?;
        audio.try_send(samples).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => PushError::Full,
            mpsc::error::TrySendError::Closed(_) => PushError::EngineGone,
        })
    }

    /// Tells the engine the input is complete: it should now report its final result.
    pub fn finish(&mut self) {
        self.audio = None;
    }

    /// The next event; `None` when the engine ended without a final result, which the server treats as an
    /// engine failure.
    pub async fn next_event(&mut self) -> Option<Result<RecognizerEvent, EngineError>> {
        self.events.recv().await
    }
}

/// A speech recognition engine. Implementations are cheap to share; [`Recognizer::start`] must return at once
/// and do its work in a task of its own (CPU-heavy engines on a bounded blocking pool, never on the reactor).
pub trait Recognizer: Send + Sync + 'static {
    /// The configured name, used in logs, metrics and errors.
    fn name(&self) -> &str;

    /// What the engine can do.
    fn capabilities(&self) -> &RecognizerCapabilities;

    /// Starts one recognition. Errors that can be known up front (a word the engine cannot say, a language it
    /// lacks, the engine not installed) are returned here; later ones arrive as events.
    fn start(&self, request: RecognitionRequest) -> Result<RecognitionStream, EngineError>;
}
