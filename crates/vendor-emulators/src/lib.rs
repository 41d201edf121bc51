//! # vendor-emulators
//!
//! Local servers that speak cloud speech vendors' documented protocols, so the adapters in `asr-adapters`
//! and `tts-adapters` are tested end to end without the network. Each emulator follows the vendor's public
//! documentation (named in its module docs): it checks authentication, enforces message order, returns the
//! documented errors and limits, and answers real audio with a scripted transcript. Used only in tests
//! (dev-dependency); never shipped in a binary.
#![deny(missing_docs)]

pub mod deepgram;
pub mod openai;
