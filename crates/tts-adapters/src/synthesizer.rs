//! The speech synthesis engine interface (`design.md`, "Engine interfaces"; RFC 6787 §8 SPEAK).
//!
//! The server starts one [`SynthesisStream`] per SPEAK that reaches IN-PROGRESS and reads
//! [`SynthesisEvent`]s: PCM frames at the engine's declared rate (the server resamples to the session's codec
//! rate), marks in their place between frames, and a final [`SynthesisEvent::Done`]. Dropping the stream
//! cancels the synthesis at once (STOP, barge-in, BYE). MRCP states, events and timing stay in the server.

use std::task::Poll;

use mrcp_proto::engine::EngineError;
use mrcp_proto::ssml::{
    self, Context, Document, Gender, Limits, ProsodyValue, Segment, VoiceSelection,
};
use tokio::sync::mpsc;

/// Events are bounded so a synthesizer running ahead of real time waits for the server instead of growing
/// memory: 50 frames of 20 ms is one second of audio.
pub const STREAM_CAPACITY: usize = 50;

/// A voice an engine offers, for routing and `mrcp-server --list-voices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceInfo {
    /// The name a client puts in Voice-Name (or SSML `<voice name>`) to choose it.
    pub name: String,
    /// The languages (BCP 47, lower case) it speaks, its own first.
    pub languages: Vec<String>,
    /// Its gender, when the engine says.
    pub gender: Option<Gender>,
    /// Its age in years, when the engine says.
    pub age: Option<u32>,
    /// A human description.
    pub description: String,
}

/// What an engine can do, declared once so routing and resampling are decided before audio flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthesizerCapabilities {
    /// The rate, in Hz, of the 16-bit mono PCM the engine produces.
    pub sample_rate: u32,
    /// The languages (BCP 47, lower case) the engine speaks.
    pub languages: Vec<String>,
    /// The voices it offers.
    pub voices: Vec<VoiceInfo>,
    /// Whether SSML `<mark>`s come back as [`SynthesisEvent::Mark`] in their place.
    pub reports_marks: bool,
    /// Whether the engine uses lexicons (Load-Lexicon, DEFINE-LEXICON); the server refuses them otherwise.
    pub takes_lexicons: bool,
}

/// What to say.
#[derive(Debug, Clone, PartialEq)]
pub enum SynthesisContent {
    /// An `application/ssml+xml` body, parsed by the server (a parse failure is its 002, before any engine).
    Ssml(Document),
    /// A `text/plain` body.
    Text(String),
}

/// The parameters of one SPEAK that matter to an engine (RFC 6787 §8.4).
#[derive(Debug, Clone, PartialEq)]
pub struct SynthesisRequest {
    /// The body.
    pub content: SynthesisContent,
    /// Voice-Name, Voice-Gender, Voice-Age, Voice-Variant (§8.4.6); SSML `<voice>` inside the body wins.
    pub voice: VoiceSelection,
    /// Speech-Language (§8.4.13); the body's `xml:lang` wins.
    pub language: Option<String>,
    /// Prosody-Rate (§8.4.7), as an SSML value (see [`crate::rate_from_header`]).
    pub rate: Option<ProsodyValue>,
    /// Prosody-Volume (§8.4.7), as an SSML value (see [`crate::volume_from_header`]).
    pub volume: Option<ProsodyValue>,
    /// Lexicon documents (PLS) to use, in Lexicon-Search-Order, for engines that take them.
    pub lexicons: Vec<String>,
    /// Vendor-Specific-Parameters (§6.2.16), in the client's order.
    pub vendor_parameters: Vec<(String, String)>,
    /// Audio the server fetched for the body's `<audio src>` URIs (SSML 1.0 §3.3.1), at the engine's
    /// declared rate. An engine plays it in place of the element, and speaks the element's fallback content
    /// for a `src` not found here.
    pub audio: Vec<PromptAudio>,
}

/// One fetched `<audio>` prompt, decoded and resampled by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptAudio {
    /// The `src` as written in the document.
    pub src: String,
    /// 16-bit mono PCM at the engine's [`SynthesizerCapabilities::sample_rate`].
    pub samples: std::sync::Arc<[i16]>,
}

impl SynthesisRequest {
    /// A request for plain text with every header at its default.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(SynthesisContent::Text(text.into()))
    }

    /// A request for an SSML document with every header at its default.
    pub fn ssml(document: Document) -> Self {
        Self::new(SynthesisContent::Ssml(document))
    }

    fn new(content: SynthesisContent) -> Self {
        Self {
            content,
            voice: VoiceSelection::default(),
            language: None,
            rate: None,
            volume: None,
            lexicons: Vec::new(),
            vendor_parameters: Vec::new(),
            audio: Vec::new(),
        }
    }

    /// The fetched audio for an `<audio src>`, if the server fetched it.
    pub fn audio_for(&self, src: &str) -> Option<&PromptAudio> {
        self.audio.iter().find(|a| a.src == src)
    }

    /// The headers as the outermost SSML context: what is in effect where the body says nothing.
    pub fn context(&self) -> Context {
        let mut ctx = Context {
            voice: self.voice.clone(),
            lang: self.language.clone(),
            ..Context::default()
        };
        if let Some(rate) = self.rate {
            ctx.prosody.apply_rate(rate);
        }
        if let Some(volume) = self.volume {
            ctx.prosody.apply_volume(volume);
        }
        ctx
    }

    /// The content as ordered segments in the request's context (for engines that speak segment by
    /// segment).
    pub fn segments(&self, limits: &Limits) -> Result<Vec<Segment>, ssml::SsmlError> {
        let ctx = self.context();
        match &self.content {
            SynthesisContent::Ssml(doc) => ssml::segments(doc, &ctx, limits),
            SynthesisContent::Text(text) => ssml::plain_text(text, &ctx, limits),
        }
    }
}

/// What a synthesis produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SynthesisEvent {
    /// 16-bit mono PCM at [`SynthesizerCapabilities::sample_rate`], normally 20 ms.
    Audio(Vec<i16>),
    /// An SSML `<mark>`: every frame before it precedes the mark in the prompt.
    Mark(String),
    /// The prompt is complete; nothing follows.
    Done,
}

/// The server's end of one running synthesis. Dropping it cancels the synthesis.
#[derive(Debug)]
pub struct SynthesisStream {
    events: mpsc::Receiver<Result<SynthesisEvent, EngineError>>,
}

impl SynthesisStream {
    /// The next event; `None` when the engine ended without [`SynthesisEvent::Done`] or an error, which the
    /// server treats as an engine failure (Completion-Cause 004).
    pub async fn next_event(&mut self) -> Option<Result<SynthesisEvent, EngineError>> {
        self.events.recv().await
    }

    /// The next event if the engine has already produced it, without waiting: `Pending` when it has not,
    /// `Ready(None)` when the stream ended (as [`Self::next_event`] would return). Lets the server take a
    /// batch of ready audio in one go instead of waking once per frame.
    pub fn try_next_event(&mut self) -> Poll<Option<Result<SynthesisEvent, EngineError>>> {
        match self.events.try_recv() {
            Ok(event) => Poll::Ready(Some(event)),
            Err(mpsc::error::TryRecvError::Empty) => Poll::Pending,
            Err(mpsc::error::TryRecvError::Disconnected) => Poll::Ready(None),
        }
    }
}

/// The engine's end of one running synthesis.
#[derive(Debug)]
pub struct SynthesisSink {
    /// Where the engine reports; a failed send, or [`mpsc::Sender::closed`] resolving, means the server
    /// cancelled the synthesis.
    pub events: mpsc::Sender<Result<SynthesisEvent, EngineError>>,
}

/// Makes the two ends of a synthesis, with [`STREAM_CAPACITY`] events in flight.
pub fn synthesis_channel() -> (SynthesisStream, SynthesisSink) {
    let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
    (SynthesisStream { events: rx }, SynthesisSink { events: tx })
}

/// A speech synthesis engine. Implementations are cheap to share; [`Synthesizer::start`] must return at once
/// and do its work in a task of its own (CPU-heavy work on a bounded pool or in a subprocess, never on the
/// reactor).
pub trait Synthesizer: Send + Sync + 'static {
    /// The configured name, used in logs, metrics and errors.
    fn name(&self) -> &str;

    /// What the engine can do.
    fn capabilities(&self) -> &SynthesizerCapabilities;

    /// Starts one synthesis; call it from within a tokio runtime. Errors that can be known up front (no voice for the language, an unknown
    /// voice name, lexicons the engine cannot use, the engine not installed) are returned here; later ones
    /// arrive as events. See [`crate::failure_of`] for the completion cause an error stands for.
    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError>;
}
