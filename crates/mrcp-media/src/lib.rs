//! # mrcp-media
//!
//! Audio in motion for the MRCPv2 server and client: the path
//! `RTP → jitter buffer → decode → (DTMF, VAD) → resample → engine` and back
//! `engine PCM → resample → encode → paced sender → RTP` (see `design.md`, rule 4).
//!
//! Each step is a small sans-IO type driven with injected time; [`endpoint`] holds the one tokio
//! driver that moves datagrams between sockets and these machines.
//!
//! | module | what | specification |
//! |---|---|---|
//! | [`codec`] | PCMU, PCMA, L16 | ITU-T G.711, RFC 3551 §4.5 |
//! | [`dtmf`] | RFC 4733 receiver, in-band Goertzel detector | RFC 4733 §2.5, ITU-T Q.23/Q.24 |
//! | [`jitter`] | adaptive jitter buffer | RFC 3550 §A.8 |
//! | [`pacer`] | paced sender: one packet per ptime, markers, prompt ends, RFC 4733 sending | RFC 3550 §5.1, RFC 4733 §2.5 |
//! | [`vad`] | voice activity detection (earshot, energy) and endpointing | RFC 6787 §9.4.15–§9.4.16 inputs |
//! | [`resample`] | streaming 8/16/24/48 kHz conversion (rubato FFT) | — |
//! | [`wav`] | WAV read/write (hound) | — |
//! | [`endpoint`] | tokio driver: port pairs, one task per stream composing the machines above | RFC 3550 §11 |
//! | [`session`] | RTP/RTCP session: validation, latching, statistics, reports | RFC 3550, RFC 4961 |
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod codec;
pub mod dtmf;
pub mod endpoint;
pub mod jitter;
pub mod pacer;
pub mod resample;
pub mod session;
pub mod vad;
pub mod wav;

#[cfg(test)]
mod test_audio;
