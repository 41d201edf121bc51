//! Audio helpers shared by the emulators: an energy detector, so an emulator answers only audio that
//! carries sound, and a speech-like signal for the text-to-speech emulators.

use std::f64::consts::PI;

/// Frame energy above this RMS (about −36 dBFS) counts as sound.
pub const SPEECH_RMS: f64 = 500.0;

/// Root mean square of 16-bit samples.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// What the detector concluded after a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Nothing new.
    Nothing,
    /// Speech began (after 60 ms of sound).
    SpeechStarted,
    /// Speech has been silent for the configured trailing silence.
    SpeechEnded,
}

/// A 10 ms-frame energy detector.
#[derive(Debug, Clone)]
pub struct EnergyDetector {
    frame: usize,
    buf: Vec<i16>,
    loud_ms: u32,
    quiet_ms: u32,
    end_silence_ms: u32,
    /// Whether speech has started.
    pub in_speech: bool,
    /// Whether speech started and ended.
    pub ended: bool,
    /// Milliseconds of audio received.
    pub audio_ms: u64,
    /// Milliseconds of audio since speech started.
    pub speech_ms: u64,
    /// Where speech started, in ms from the first audio.
    pub speech_start_ms: u64,
}

impl EnergyDetector {
    /// A detector for PCM at `rate` that ends speech after `end_silence_ms` of quiet.
    pub fn new(rate: u32, end_silence_ms: u32) -> Self {
        Self {
            frame: (rate / 100).max(1) as usize,
            buf: Vec::new(),
            loud_ms: 0,
            quiet_ms: 0,
            end_silence_ms,
            in_speech: false,
            ended: false,
            audio_ms: 0,
            speech_ms: 0,
            speech_start_ms: 0,
        }
    }

    /// Feeds samples; returns the most significant change.
    pub fn push(&mut self, samples: &[i16]) -> Heard {
        self.buf.extend_from_slice(samples);
        let mut heard = Heard::Nothing;
        while self.buf.len() >= self.frame {
            let rest = self.buf.split_off(self.frame);
            let loud = rms(&self.buf) > SPEECH_RMS;
            self.buf = rest;
            self.audio_ms += 10;
            if self.in_speech {
                self.speech_ms += 10;
            }
            if loud {
                self.loud_ms += 10;
                self.quiet_ms = 0;
            } else {
                self.quiet_ms += 10;
                self.loud_ms = 0;
            }
            if !self.in_speech && !self.ended && self.loud_ms >= 60 {
                self.in_speech = true;
                self.speech_start_ms = self.audio_ms - 60;
                heard = Heard::SpeechStarted;
            } else if self.in_speech && self.quiet_ms >= self.end_silence_ms {
                self.in_speech = false;
                self.ended = true;
                heard = Heard::SpeechEnded;
            }
        }
        heard
    }
}

/// 16-bit little-endian bytes to samples (an odd last byte is dropped).
pub fn samples_of(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// A speech-like signal for `text` at `rate`: a voiced source (harmonics of a gliding 110–150 Hz
/// fundamental) shaped by a syllable envelope at about 4 Hz, 70 ms per character (at least 300 ms), with
/// short silences at both ends. Not intelligible, but it has speech's energy, pitch and rhythm, which is
/// what the tests (and an endpointer) look at.
pub fn speech_like(text: &str, rate: u32) -> Vec<i16> {
    let chars = text.chars().filter(|c| !c.is_whitespace()).count().max(1) as f64;
    let seconds = (chars * 0.07).max(0.3);
    let n = (seconds * f64::from(rate)) as usize;
    let pad = rate as usize / 20;
    let mut out = vec![0i16; pad];
    let mut phase = 0.0f64;
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        let f0 = 130.0 + 20.0 * (2.0 * PI * 0.7 * t).sin();
        phase += 2.0 * PI * f0 / f64::from(rate);
        let mut v = 0.0;
        for h in 1..=12 {
            let formant = (-((f64::from(h) * f0 - 700.0) / 500.0).powi(2)).exp() + 0.3;
            v += formant * (phase * f64::from(h)).sin() / f64::from(h).sqrt();
        }
        let syllable = (PI * 4.0 * t).sin().abs().powf(0.6);
        let edge = (t / 0.02).min(1.0) * ((seconds - t) / 0.02).min(1.0);
        out.push((v * syllable * edge * 3500.0).clamp(-32_000.0, 32_000.0) as i16);
    }
    out.extend(std::iter::repeat_n(0, pad));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detector_hears_speech_like_audio_and_not_silence() {
        let mut d = EnergyDetector::new(8000, 300);
        assert_eq!(d.push(&[0; 8000]), Heard::Nothing);
        let speech = speech_like("hello world", 8000);
        let mut started = false;
        for chunk in speech.chunks(160) {
            started |= d.push(chunk) == Heard::SpeechStarted;
        }
        assert!(started);
        assert_eq!(d.push(&[0; 4000]), Heard::SpeechEnded);
        assert!(d.speech_start_ms >= 1000);
    }
}
