//! # vendor-emulators
//!
//! Local servers that speak cloud speech vendors' documented protocols, so the adapters in `asr-adapters`
//! and `tts-adapters` are tested end to end without the network. Each emulator follows the vendor's public
//! documentation (named in its module docs): it checks authentication, enforces message order, returns the
//! documented errors and limits, and answers real audio with a scripted transcript. Used only in tests
//! (dev-dependency); never shipped in a binary.
//!
//! | vendor | module | what it serves |
//! |---|---|---|
//! | OpenAI (and compatible servers) | [`openai`] | `/v1/audio/transcriptions`, `/v1/audio/speech`, `/v1/realtime?intent=transcription` |
//! | Deepgram | [`deepgram`] | `/v1/listen` (WebSocket), `/v1/speak` |
//!
//! Each starts on a loopback port 0 (`start`), gives its `base_url`, takes [`openai::control::Faults`] (a
//! refusal status, a delay before the first result, an error or a disconnect after some voiced audio) and
//! reports [`openai::control::Stats`] (sessions, audio bytes, voiced milliseconds, control messages, and
//! when each final result left, for latency measurements).
#![deny(missing_docs)]

pub mod azure;
pub mod deepgram;
pub mod iflytek;
pub mod openai;
pub mod speech_audio;
