//! [`VoiceDetector`] on the `earshot` crate: a neural detector on 16 ms frames of 16 kHz audio.
//! 8 kHz audio is doubled in rate by linear interpolation first: the detector only needs the
//! speech band, which 8 kHz audio carries whole.

use super::{VadError, VoiceDetector};
use crate::codec::SampleRate;

const FRAME: usize = 256;

/// The earshot detector, fed 8 or 16 kHz frames of any length.
pub struct EarshotDetector {
    inner: Box<earshot::Detector>,
    rate: SampleRate,
    pending: Vec<i16>,
    previous: i16,
    last_score: f32,
}

impl std::fmt::Debug for EarshotDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarshotDetector")
            .field("rate", &self.rate)
            .finish()
    }
}

impl EarshotDetector {
    /// A detector for 8000 or 16000 Hz audio.
    pub fn new(rate: SampleRate) -> Result<Self, VadError> {
        if rate != SampleRate::HZ_8000 && rate != SampleRate::HZ_16000 {
            return Err(VadError::UnsupportedRate(rate));
        }
        Ok(Self {
            inner: earshot::Detector::default_boxed(),
            rate,
            pending: Vec::with_capacity(2 * FRAME),
            previous: 0,
            last_score: 0.0,
        })
    }
}

impl VoiceDetector for EarshotDetector {
    fn sample_rate(&self) -> SampleRate {
        self.rate
    }

    fn score(&mut self, frame: &[i16]) -> f32 {
        if self.rate == SampleRate::HZ_8000 {
            for &s in frame {
                let mid = ((i32::from(self.previous) + i32::from(s)) / 2) as i16;
                self.pending.push(mid);
                self.pending.push(s);
                self.previous = s;
            }
        } else {
            self.pending.extend_from_slice(frame);
        }
        let mut best: Option<f32> = None;
        let mut used = 0;
        while let Some(chunk) = self.pending.get(used..used + FRAME) {
            let score = self.inner.predict_i16(chunk);
            best = Some(best.map_or(score, |b| b.max(score)));
            used += FRAME;
        }
        self.pending.drain(..used);
        if let Some(b) = best {
            self.last_score = b;
        }
        self.last_score
    }

    fn reset(&mut self) {
        self.inner.reset();
        self.pending.clear();
        self.previous = 0;
        self.last_score = 0.0;
    }
}
