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
//! | [`codec`] | PCMU, PCMA, L16 8/16 kHz, G.722 | ITU-T G.711, G.722, RFC 3551 §4.5 |
//! | [`dtmf`] | RFC 4733 receiver, in-band Goertzel detector | RFC 4733 §2.5, ITU-T Q.23/Q.24 |
//! | [`jitter`] | adaptive jitter buffer | RFC 3550 §A.8 |
//! | [`pacer`] | paced sender: one packet per ptime, markers, prompt ends, RFC 4733 sending | RFC 3550 §5.1, RFC 4733 §2.5 |
//! | [`vad`] | voice activity detection (earshot, energy) and endpointing | RFC 6787 §9.4.15–§9.4.16 inputs |
//! | [`resample`] | streaming 8/16/24/48 kHz conversion (rubato FFT) | — |
//! | [`wav`] | WAV read/write (hound) | — |
//! | [`endpoint`] | tokio driver: port pairs, one task per stream composing the machines above | RFC 3550 §11 |
//! | [`session`] | RTP/RTCP session: validation, latching, statistics, reports | RFC 3550, RFC 4961 |
//!
//! The receive side, sans-IO, as the server's session task drives it for each 20 ms frame:
//! ```
//! use std::time::{Duration, Instant};
//! use mrcp_media::codec::{AudioDecoder, Codec, SampleRate};
//! use mrcp_media::dtmf::{InbandConfig, InbandDetector};
//! use mrcp_media::jitter::{JitterBuffer, JitterConfig, JitterPacket, Playout};
//! use mrcp_media::vad::{Endpointer, EndpointerConfig, EnergyDetector, VadEvent};
//! use mrcp_proto::rtp::Ssrc;
//!
//! let t0 = Instant::now();
//! let mut jitter = JitterBuffer::new(JitterConfig::new(8000, Duration::from_millis(20)));
//! let mut decoder = AudioDecoder::new(Codec::Pcmu);
//! let mut dtmf = InbandDetector::new(InbandConfig::new(8000));
//! let mut vad = Endpointer::new(EndpointerConfig::default(), Box::new(EnergyDetector::new(SampleRate::HZ_8000)));
//!
//! // A packet arrives (from `session::RtpSession`'s `SessionEvent::Media`)...
//! let packet = JitterPacket { ssrc: Ssrc(7), sequence: 1, timestamp: 0, marker: true, duration: 160, payload: vec![0xffu8; 160] };
//! jitter.push(t0, packet);
//! // ...and is played out at `jitter.poll_timeout()`.
//! let due = jitter.poll_timeout().expect("a frame is scheduled");
//! let mut pcm = Vec::new();
//! while let Some(frame) = jitter.pop(due) {
//!     pcm.clear();
//!     match frame {
//!         Playout::Packet { payload, .. } => decoder.decode(&payload, &mut pcm),
//!         Playout::Gap { duration, .. } => decoder.conceal(duration as usize, &mut pcm),
//!     }
//!     let digits = dtmf.detect(&pcm);
//!     let speech: Option<VadEvent> = vad.process(&pcm);
//!     assert!(digits.is_empty() && speech.is_none());
//! }
//! ```
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
