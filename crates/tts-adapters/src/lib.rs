//! # tts-adapters
//!
//! Speech synthesis engines for open-mrcp, behind one interface, [`Synthesizer`]: the server starts a
//! [`SynthesisStream`] per SPEAK (RFC 6787 §8.6) and reads [`SynthesisEvent`]s — PCM frames at the engine's
//! declared rate, SSML marks in their place, then [`SynthesisEvent::Done`] — and drops the stream to cancel
//! (STOP, barge-in, BYE). The server owns the MRCP states, events, pacing and resampling; engines only turn
//! text and SSML into audio.
//!
//! | engine | module | what it needs |
//! |---|---|---|
//! | espeak-ng (offline, 100+ languages, subprocess) | [`espeak`] | Debian `espeak-ng` |
//! | any engine speaking engine-ws v1 over WebSocket or HTTP (`docs/engine-ws.md`), jambonz custom TTS servers (HTTP) | [`engine_ws`] | the engine's URL |
//! | pre-recorded WAV prompts from a directory | [`prompt_files`] | the files |
//! | Microsoft Azure TTS (cloud, REST, streamed) | [`azure`] | a key and a region |
//! | iFlytek online TTS (cloud, WebSocket) | [`iflytek`] | an app id, API key and secret |
//! | OpenAI-compatible speech (OpenAI, speaches, LocalAI, Kokoro-FastAPI) | [`openai`] | an API key, or a self-hosted server |
//! | Deepgram Aura | [`deepgram`] | an API key |
//!
//! [`cache::PromptCache`] goes in front of any of them: a prompt spoken again with the same body and headers
//! plays the audio recorded the first time instead of being synthesized again.
//!
//! SSML is parsed by the server with [`mrcp_proto::ssml`]; engines that speak plain text use
//! [`SynthesisRequest::segments`]. [`failure_of`] tells which Completion-Cause an engine error stands for.
//!
//! ## Example
//!
//! ```rust,no_run
//! use mrcp_proto::mrcp::header::{HeaderValue, ProsodyRate};
//! use tts_adapters::espeak::{EspeakConfig, EspeakNg};
//! use tts_adapters::{SynthesisEvent, SynthesisRequest, Synthesizer, rate_from_header};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Unavailable, naming the Debian package, when espeak-ng is missing.
//! let engine = EspeakNg::new("espeak", EspeakConfig::default()).await?;
//! // The server parses the body; an invalid one is answered with SPEAK-COMPLETE 002 and the error.
//! let doc = mrcp_proto::ssml::parse(r#"<speak xml:lang="en-US">Hello <mark name="m"/> world</speak>"#)?;
//! let mut request = SynthesisRequest::ssml(doc);
//! request.rate = Some(rate_from_header(ProsodyRate::parse("fast")?)); // Prosody-Rate: fast
//! // language-unsupported and the like come back here, before any audio.
//! let mut stream = engine.start(request)?;
//! while let Some(event) = stream.next_event().await {
//!     match event? {
//!         SynthesisEvent::Audio(_pcm) => { /* resample from 22 050 Hz, encode, queue for pacing */ }
//!         SynthesisEvent::Mark(_name) => { /* SPEECH-MARKER once the audio before it has played */ }
//!         SynthesisEvent::Done => break,
//!     }
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod azure;
pub mod cache;
pub mod deepgram;
pub mod engine_ws;
pub mod espeak;
mod failure;
mod headers;
pub mod iflytek;
pub mod openai;
pub mod prompt_files;
mod synthesizer;

pub use failure::{SynthesisFailure, failure_of};
pub use headers::{gender_from_header, rate_from_header, volume_from_header};
pub use mrcp_proto::engine::{EngineError, EngineErrorKind};
pub use synthesizer::{
    PromptAudio, STREAM_CAPACITY, SynthesisContent, SynthesisEvent, SynthesisRequest,
    SynthesisSink, SynthesisStream, Synthesizer, SynthesizerCapabilities, VoiceInfo,
    synthesis_channel,
};
