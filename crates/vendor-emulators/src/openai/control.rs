//! What a test controls and observes on an emulator: [`Faults`] to switch on, [`Stats`] of what it
//! received and when it sent final results, and the audio analysis and generation emulators share (voiced
//! duration by frame energy; a speech-like signal for TTS).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Failures a test switches on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Refuse this many requests or handshakes with this HTTP status (429 or 503: with `Retry-After: 0`).
    pub refuse: Option<(u16, u32)>,
    /// Wait this long before the first result of a request or stream.
    pub first_result_delay: Duration,
    /// Fail with the vendor's error once this much voiced audio arrived (REST: fail the request).
    pub error_after_speech: Option<Duration>,
    /// Drop the connection without a word once this much voiced audio arrived (REST: cut the response).
    pub disconnect_after_speech: Option<Duration>,
}

/// What an emulator saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Requests, or WebSocket sessions, accepted after authentication.
    pub sessions: u64,
    /// Requests refused for their credentials.
    pub auth_failures: u64,
    /// Requests refused by the `refuse` fault.
    pub refused: u64,
    /// Audio bytes received.
    pub audio_bytes: u64,
    /// Voiced audio received, in ms (20 ms frames over the energy threshold).
    pub voiced_ms: u64,
    /// When each final result left the emulator (the message an adapter ends a recognition on).
    pub finals_sent: Vec<Instant>,
    /// Text synthesized, per request.
    pub texts: Vec<String>,
    /// Client control messages seen, in order (`KeepAlive`, `Finalize`, `session.update`…).
    pub control: Vec<String>,
}

/// The state tests and handlers share (a test-only crate: a mutex is fine here).
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) faults: Mutex<Faults>,
    pub(crate) stats: Mutex<Stats>,
}

impl Shared {
    pub(crate) fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub(crate) fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }

    /// Takes one refusal, if the fault is on: the status to answer with.
    pub(crate) fn take_refusal(&self) -> Option<u16> {
        let mut faults = lock(&self.faults);
        let (status, left) = faults.refuse?;
        faults.refuse = (left > 1).then_some((status, left - 1));
        drop(faults);
        self.stats().refused += 1;
        Some(status)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// After sending a close frame, reads (and drops) what the client still sends until it answers the close
/// or a second passes, as a server completing the closing handshake does (RFC 6455 §5.5.1); a client that is
/// still writing audio then reads the reason instead of a reset connection.
pub(crate) async fn linger(socket: &mut axum::extract::ws::WebSocket) {
    let drain = async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, axum::extract::ws::Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
}

/// RMS over a 20 ms frame above which the frame counts as speech (telephone speech is far above; line
/// noise and digital silence far below).
pub const ENERGY_THRESHOLD: f64 = 300.0;

/// Counts voiced 20 ms frames of a stream of samples, keeping partial frames between calls.
#[derive(Debug)]
pub(crate) struct VoiceMeter {
    frame: usize,
    pending: Vec<i16>,
}

impl VoiceMeter {
    pub(crate) fn new(sample_rate: u32) -> Self {
        Self {
            frame: (sample_rate as usize / 50).max(1),
            pending: Vec::new(),
        }
    }

    /// Feeds samples; returns whether each completed 20 ms frame was voiced.
    pub(crate) fn push(&mut self, samples: &[i16]) -> Vec<bool> {
        self.pending.extend_from_slice(samples);
        let mut out = Vec::new();
        while self.pending.len() >= self.frame {
            let frame: Vec<i16> = self.pending.drain(..self.frame).collect();
            out.push(rms(&frame) > ENERGY_THRESHOLD);
        }
        out
    }
}

/// Root mean square of samples.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Voiced milliseconds in a whole recording.
pub fn voiced_ms(samples: &[i16], sample_rate: u32) -> u64 {
    let mut meter = VoiceMeter::new(sample_rate);
    meter.push(samples).into_iter().filter(|v| *v).count() as u64 * 20
}

/// A speech-like signal: a 140 Hz voice with harmonics, gliding pitch, and syllables (4 per second) that
/// rise and fall, as TTS emulators return it. Real audio, not silence, so a test can tell it played.
pub fn speech_like(sample_rate: u32, duration: Duration) -> Vec<i16> {
    let n = (duration.as_secs_f64() * f64::from(sample_rate)) as usize;
    let rate = f64::from(sample_rate);
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let f0 = 140.0 + 25.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            phase += 2.0 * std::f64::consts::PI * f0 / rate;
            let voice: f64 = (1..=6)
                .map(|h| (phase * f64::from(h)).sin() / f64::from(h))
                .sum();
            let syllable = (std::f64::consts::PI * 4.0 * t).sin().abs().powf(0.6);
            (voice * syllable * 6000.0).clamp(-32000.0, 32000.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_unvoiced_and_speech_like_audio_is_voiced() {
        assert_eq!(voiced_ms(&vec![0; 8000], 8000), 0);
        let speech = speech_like(8000, Duration::from_secs(1));
        let voiced = voiced_ms(&speech, 8000);
        assert!(voiced >= 600, "{voiced}");
    }

    #[test]
    fn refusals_run_out() {
        let shared = Shared::default();
        shared.faults.lock().expect("lock").refuse = Some((429, 2));
        assert_eq!(shared.take_refusal(), Some(429));
        assert_eq!(shared.take_refusal(), Some(429));
        assert_eq!(shared.take_refusal(), None);
        assert_eq!(shared.stats().refused, 2);
    }
}
