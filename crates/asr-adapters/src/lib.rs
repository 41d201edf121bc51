//! # asr-adapters
//!
//! Speech recognition engines for open-mrcp, behind one interface, [`Recognizer`]: the server starts a
//! [`RecognitionStream`] per RECOGNIZE, pushes PCM at the engine's rate and reads [`RecognizerEvent`]s. The
//! server owns MRCP timers, grammars and NLSML; engines only hear audio and report text.
//!
//! | engine | module | what it needs |
//! |---|---|---|
//! | PocketSphinx (offline, grammar and dictation) | [`pocketsphinx`] | Debian `libpocketsphinx3`, `pocketsphinx-en-us`, loaded at run time |
//! | any engine speaking engine-ws v1 over WebSocket (`docs/engine-ws.md`), jambonz custom STT servers | [`engine_ws`] | the engine's URL |
//! | Microsoft Azure Speech (cloud, streaming over WebSocket) | [`azure`] | a key and a region |
//! | iFlytek IAT streaming dictation (cloud, WebSocket) | [`iflytek`] | an app id, API key and secret |
//! | OpenAI-compatible transcription (REST: OpenAI, speaches, LocalAI, whisper.cpp) and OpenAI Realtime | [`openai`] | an API key, or a self-hosted server |
//! | Deepgram live streaming | [`deepgram`] | an API key |
//! | a recognizer that fails on purpose, to prove isolation | [`fault`] | nothing |
#![deny(missing_docs)]

pub mod azure;
pub mod deepgram;
pub mod engine_ws;
pub mod fault;
pub mod iflytek;
pub mod net;
pub mod openai;
pub mod pocketsphinx;
mod recognizer;

pub use mrcp_proto::engine::{EngineError, EngineErrorKind};
pub use recognizer::{
    Alternative, CompiledGrammars, Constraint, EngineSide, GrammarSupport, PushError,
    RecognitionRequest, RecognitionStream, Recognizer, RecognizerCapabilities, RecognizerEvent,
    STREAM_CAPACITY, recognition_channel,
};
