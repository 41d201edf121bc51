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
//!
//! SSML is parsed by the server with [`mrcp_proto::ssml`]; engines that speak plain text use
//! [`SynthesisRequest::segments`]. [`failure_of`] tells which Completion-Cause an engine error stands for.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod espeak;
mod failure;
mod headers;
mod synthesizer;

pub use failure::{SynthesisFailure, failure_of};
pub use headers::{gender_from_header, rate_from_header, volume_from_header};
pub use mrcp_proto::engine::{EngineError, EngineErrorKind};
pub use synthesizer::{
    STREAM_CAPACITY, SynthesisContent, SynthesisEvent, SynthesisRequest, SynthesisSink,
    SynthesisStream, Synthesizer, SynthesizerCapabilities, VoiceInfo, synthesis_channel,
};
