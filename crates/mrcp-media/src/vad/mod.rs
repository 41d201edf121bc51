//! Voice activity detection and endpointing: the inputs the recognizer needs for START-OF-INPUT,
//! barge-in, Speech-Complete-Timeout and Speech-Incomplete-Timeout (RFC 6787 §9.4.15, §9.4.16,
//! §9.8).
//!
//! A [`VoiceDetector`] scores each frame (0 = noise, 1 = speech). Two are provided:
//! [`EarshotDetector`] (the `earshot` crate: a small neural network in pure Rust, no C build,
//! unlike `webrtc-vad`, which compiles WebRTC's C with `cc`) and [`EnergyDetector`] (an adaptive
//! noise-floor detector that costs next to nothing). The [`Endpointer`] turns scores into
//! [`VadEvent::SpeechStart`] and [`VadEvent::SpeechEnd`] with a sensitivity, a minimum speech
//! duration and a hangover. Positions are audio time since the stream start, so everything is
//! deterministic and needs no clock.

mod earshot_detector;
mod energy;

use std::time::Duration;

pub use earshot_detector::EarshotDetector;
pub use energy::EnergyDetector;

use crate::codec::SampleRate;

/// Scores frames of audio for speech.
pub trait VoiceDetector: Send {
    /// The rate of the frames this detector was built for.
    fn sample_rate(&self) -> SampleRate;
    /// The speech score of one frame of any length (typically 20 ms), between 0 and 1.
    fn score(&mut self, frame: &[i16]) -> f32;
    /// Forgets the stream so far.
    fn reset(&mut self);
}

/// Why a [`VoiceDetector`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VadError {
    /// The detector does not support this rate (resample first).
    #[error("voice detector does not support {0}; resample to 8000 or 16000 Hz")]
    UnsupportedRate(SampleRate),
}

/// Settings of an [`Endpointer`].
#[derive(Debug, Clone)]
pub struct EndpointerConfig {
    /// 0.0–1.0 like MRCP Sensitivity-Level: higher detects quieter speech (threshold 0.8 − 0.6 × s).
    pub sensitivity: f32,
    /// Speech must last this long before speech start is reported (rejects clicks and coughs).
    pub min_speech: Duration,
    /// Non-speech must last this long before speech end is reported.
    pub hangover: Duration,
}

impl Default for EndpointerConfig {
    fn default() -> Self {
        Self {
            sensitivity: 0.5,
            min_speech: Duration::from_millis(100),
            hangover: Duration::from_millis(300),
        }
    }
}

/// What the endpointer found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech started at this audio offset (the start of the first speech frame).
    SpeechStart {
        /// Offset from the stream start.
        at: Duration,
    },
    /// Speech ended at this audio offset (the end of the last speech frame).
    SpeechEnd {
        /// Offset from the stream start.
        at: Duration,
    },
}

/// Turns frame scores into speech start and end events.
pub struct Endpointer {
    cfg: EndpointerConfig,
    detector: Box<dyn VoiceDetector>,
    threshold: f32,
    rate: u64,
    /// Samples processed so far.
    position: u64,
    in_speech: bool,
    /// Start of the current run of speech frames (candidate start), and its length in samples.
    run_start: Option<u64>,
    run_len: u64,
    /// End of the last speech frame and the silence since.
    last_speech_end: u64,
    silence: u64,
}

impl std::fmt::Debug for Endpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpointer")
            .field("cfg", &self.cfg)
            .field("in_speech", &self.in_speech)
            .finish()
    }
}

impl Endpointer {
    /// An endpointer over `detector`.
    pub fn new(cfg: EndpointerConfig, detector: Box<dyn VoiceDetector>) -> Self {
        let threshold = 0.8 - 0.6 * cfg.sensitivity.clamp(0.0, 1.0);
        Self {
            rate: u64::from(detector.sample_rate().0.max(1)),
            cfg,
            detector,
            threshold,
            position: 0,
            in_speech: false,
            run_start: None,
            run_len: 0,
            last_speech_end: 0,
            silence: 0,
        }
    }

    /// Whether speech is in progress.
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Audio time processed.
    pub fn position(&self) -> Duration {
        self.offset(self.position)
    }

    fn offset(&self, samples: u64) -> Duration {
        Duration::from_nanos(samples.saturating_mul(1_000_000_000) / self.rate)
    }

    fn samples(&self, d: Duration) -> u64 {
        u64::try_from(d.as_nanos() * u128::from(self.rate) / 1_000_000_000).unwrap_or(u64::MAX)
    }

    /// Starts over (a new RECOGNIZE).
    pub fn reset(&mut self) {
        self.detector.reset();
        self.position = 0;
        self.in_speech = false;
        self.run_start = None;
        self.run_len = 0;
        self.silence = 0;
    }

    /// Scores one frame and returns the event it completes, if any.
    pub fn process(&mut self, frame: &[i16]) -> Option<VadEvent> {
        let start = self.position;
        let len = frame.len() as u64;
        self.position += len;
        let speech = self.detector.score(frame) >= self.threshold;
        if !self.in_speech {
            if speech {
                let run_start = *self.run_start.get_or_insert(start);
                self.run_len += len;
                if self.run_len >= self.samples(self.cfg.min_speech) {
                    self.in_speech = true;
                    self.silence = 0;
                    self.last_speech_end = self.position;
                    return Some(VadEvent::SpeechStart {
                        at: self.offset(run_start),
                    });
                }
            } else {
                self.run_start = None;
                self.run_len = 0;
            }
            None
        } else if speech {
            self.silence = 0;
            self.last_speech_end = self.position;
            None
        } else {
            self.silence += len;
            if self.silence >= self.samples(self.cfg.hangover) {
                self.in_speech = false;
                self.run_start = None;
                self.run_len = 0;
                return Some(VadEvent::SpeechEnd {
                    at: self.offset(self.last_speech_end),
                });
            }
            None
        }
    }
}

#[cfg(test)]
mod tests;
