//! Streaming sample-rate conversion between 8, 16, 24 and 48 kHz with rubato's synchronous FFT
//! resampler (`rubato::Fft`, fixed input and output chunks of one frame each).
//!
//! Frames of any length go in; the resampler buffers to its chunk, so the output is continuous
//! across calls (no clicks at chunk borders) with a fixed latency of [`StreamResampler::delay`]
//! output samples. rubato 1.x (the workspace's version) is used as is: its `Resampler` trait over
//! `audioadapter` buffers processes into preallocated buffers with no allocation per call.

use std::time::Duration;

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::codec::SampleRate;

/// Why a resampler could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// rubato refused the rates or chunk size.
    #[error("cannot resample {from} to {to}: {source}")]
    Construction {
        /// Input rate.
        from: SampleRate,
        /// Output rate.
        to: SampleRate,
        /// rubato's reason.
        source: rubato::ResamplerConstructionError,
    },
    /// rubato failed while processing (buffer sizes; a bug here if it happens).
    #[error("resampling failed: {0}")]
    Process(#[from] rubato::ResampleError),
}

/// A streaming mono resampler from one rate to another.
pub struct StreamResampler {
    from: SampleRate,
    to: SampleRate,
    inner: Option<Box<Fft<f32>>>,
    chunk_in: usize,
    pending: Vec<f32>,
    out_buf: Vec<f32>,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

impl StreamResampler {
    /// A resampler working in chunks of `frame` (20 ms is the RTP ptime); equal rates pass through.
    pub fn new(from: SampleRate, to: SampleRate, frame: Duration) -> Result<Self, ResampleError> {
        let chunk = usize::try_from(u128::from(from.0) * frame.as_micros() / 1_000_000)
            .unwrap_or(160)
            .max(1);
        if from == to {
            return Ok(Self {
                from,
                to,
                inner: None,
                chunk_in: chunk,
                pending: Vec::new(),
                out_buf: Vec::new(),
            });
        }
        let fft = Fft::<f32>::new(from.0 as usize, to.0 as usize, chunk, 1, 1, FixedSync::Both)
            .map_err(|source| ResampleError::Construction { from, to, source })?;
        let chunk_in = fft.input_frames_max();
        let out_len = fft.output_frames_max();
        Ok(Self {
            from,
            to,
            inner: Some(Box::new(fft)),
            chunk_in,
            pending: Vec::with_capacity(chunk_in * 2),
            out_buf: vec![0.0; out_len],
        })
    }

    /// Input rate.
    pub fn from_rate(&self) -> SampleRate {
        self.from
    }

    /// Output rate.
    pub fn to_rate(&self) -> SampleRate {
        self.to
    }

    /// Latency in output samples.
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Resamples `input`, appending whatever output is ready to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) -> Result<(), ResampleError> {
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            return Ok(());
        };
        self.pending
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        let mut used = 0;
        while self.pending.len() - used >= self.chunk_in {
            let chunk = &self.pending[used..used + self.chunk_in];
            let adapter_in = InterleavedSlice::new(chunk, 1, self.chunk_in).map_err(|_| {
                rubato::ResampleError::InsufficientInputBufferSize {
                    expected: self.chunk_in,
                    actual: chunk.len(),
                }
            })?;
            let capacity = self.out_buf.len();
            let mut adapter_out = InterleavedSlice::new_mut(&mut self.out_buf, 1, capacity)
                .map_err(|_| rubato::ResampleError::InsufficientOutputBufferSize {
                    expected: capacity,
                    actual: capacity,
                })?;
            let (consumed, produced) =
                inner.process_into_buffer(&adapter_in, &mut adapter_out, None)?;
            used += consumed.max(1);
            out.extend(
                self.out_buf[..produced]
                    .iter()
                    .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
            );
        }
        self.pending.drain(..used);
        Ok(())
    }

    /// Pushes out what is buffered (zero-padded to a chunk), e.g. at the end of a prompt.
    pub fn flush(&mut self, out: &mut Vec<i16>) -> Result<(), ResampleError> {
        if self.inner.is_none() || self.pending.is_empty() {
            return Ok(());
        }
        let missing = self.chunk_in - self.pending.len() % self.chunk_in;
        let zeros = vec![0i16; missing % self.chunk_in];
        self.process(&zeros, out)
    }

    /// Starts a new stream.
    pub fn reset(&mut self) {
        if let Some(r) = self.inner.as_mut() {
            r.reset();
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Least-squares fit of a sine of known frequency: returns (amplitude, residual RMS).
    fn fit(signal: &[f32], freq: f32, rate: f32) -> (f32, f32) {
        let w = 2.0 * std::f32::consts::PI * freq / rate;
        let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0f32, 0f32, 0f32, 0f32, 0f32);
        for (n, &x) in signal.iter().enumerate() {
            let (s, c) = (w * n as f32).sin_cos();
            ss += s * s;
            sc += s * c;
            cc += c * c;
            xs += x * s;
            xc += x * c;
        }
        let det = ss * cc - sc * sc;
        let a = (xs * cc - xc * sc) / det;
        let b = (xc * ss - xs * sc) / det;
        let resid = signal
            .iter()
            .enumerate()
            .map(|(n, &x)| {
                let (s, c) = (w * n as f32).sin_cos();
                let e = x - a * s - b * c;
                e * e
            })
            .sum::<f32>()
            / signal.len() as f32;
        ((a * a + b * b).sqrt(), resid.sqrt())
    }

    #[test]
    fn resampled_sine_keeps_frequency_and_level() {
        let rates = [
            SampleRate::HZ_8000,
            SampleRate::HZ_16000,
            SampleRate::HZ_24000,
            SampleRate::HZ_48000,
        ];
        for from in rates {
            for to in rates {
                let mut r = StreamResampler::new(from, to, Duration::from_millis(20)).unwrap();
                let amp = 10000.0f32;
                let freq = 1000.0f32;
                let input: Vec<i16> = (0..from.0 as usize)
                    .map(|n| {
                        (amp * (2.0 * std::f32::consts::PI * freq * n as f32 / from.0 as f32).sin())
                            as i16
                    })
                    .collect();
                let mut out = Vec::new();
                // Odd-sized pieces to cross chunk borders everywhere.
                for piece in input.chunks(97) {
                    r.process(piece, &mut out).unwrap();
                }
                r.flush(&mut out).unwrap();
                let expected = to.0 as usize;
                assert!(
                    out.len() >= expected - to.0 as usize / 50,
                    "{from}->{to}: {} samples",
                    out.len()
                );
                // Skip the filter start-up and the tail; check a steady 0.5 s.
                let start = r.delay() + to.0 as usize / 10;
                let steady: Vec<f32> = out[start..start + to.0 as usize / 2]
                    .iter()
                    .map(|&s| f32::from(s))
                    .collect();
                let (a, resid) = fit(&steady, freq, to.0 as f32);
                let level_db = 20.0 * (a / amp).log10();
                assert!(level_db.abs() < 0.2, "{from}->{to}: level {level_db:.2} dB");
                // A click or a wrong frequency leaves a residual; ask for 50 dB below the tone.
                let snr = 20.0 * (a / std::f32::consts::SQRT_2 / resid.max(1e-3)).log10();
                assert!(snr > 50.0, "{from}->{to}: SNR {snr:.1} dB");
            }
        }
    }
}
