//! [`VoiceDetector`] by frame energy over an adaptive noise floor: fast to rise when the level
//! drops, slow to rise when it grows, so speech does not lift the floor. Cheap enough for every
//! stream; less robust to non-stationary noise than [`super::EarshotDetector`].

use super::VoiceDetector;
use crate::codec::SampleRate;

/// The energy detector.
#[derive(Debug, Clone)]
pub struct EnergyDetector {
    rate: SampleRate,
    /// Noise floor; starts at the level of the first frame (streams start with silence).
    floor_db: Option<f32>,
    /// Level above the floor that scores 0.5.
    margin_db: f32,
    /// Below this absolute level nothing is speech.
    min_db: f32,
}

impl EnergyDetector {
    /// A detector for audio at `rate` (any rate): speech is 12 dB over the floor and above −50 dBFS.
    pub fn new(rate: SampleRate) -> Self {
        Self {
            rate,
            floor_db: None,
            margin_db: 12.0,
            min_db: -50.0,
        }
    }
}

impl VoiceDetector for EnergyDetector {
    fn sample_rate(&self) -> SampleRate {
        self.rate
    }

    fn score(&mut self, frame: &[i16]) -> f32 {
        if frame.is_empty() {
            return 0.0;
        }
        let ms = frame
            .iter()
            .map(|&s| f32::from(s) * f32::from(s))
            .sum::<f32>()
            / frame.len() as f32;
        // dB relative to a full-scale sine.
        let db = 10.0 * (ms / (32767.0 * 32767.0 / 2.0) + 1e-12).log10();
        // Floor: follows decreases at once (per frame 1/2), increases slowly (0.1 dB per frame).
        let floor = self.floor_db.get_or_insert(db);
        if db < *floor {
            *floor = 0.5 * (*floor + db);
        } else {
            *floor += 0.1f32.min(db - *floor);
        }
        let floor = *floor;
        if db < self.min_db {
            return 0.0;
        }
        let x = (db - floor - self.margin_db) / 3.0;
        1.0 / (1.0 + (-x).exp())
    }

    fn reset(&mut self) {
        self.floor_db = None;
    }
}
