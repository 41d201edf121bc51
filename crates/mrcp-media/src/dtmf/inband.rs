//! In-band DTMF detection with the Goertzel algorithm, to the acceptance rules of ITU-T Q.24
//! (and Q.23 for the frequencies).
//!
//! The audio is cut into blocks of 12.75 ms (102 samples at 8 kHz). Each block measures the eight
//! DTMF frequencies; a block votes for a digit when
//! - the strongest low-group and high-group tones are above the minimum level,
//! - their ratio (twist) is within the normal and reverse limits,
//! - each beats every other tone of its group by `group_margin`,
//! - together they hold most of the block's energy (speech is broadband: the talk-off guard),
//! - both tones are steady over the block (equal power in its two halves),
//! - and their measured frequencies are within ±(2.5 % + 1 Hz) of nominal: Q.24 asks for operation
//!   within ±(1.5 % + 2 Hz) and none beyond ±3.5 %, which a 12.75 ms Goertzel bin (78 Hz wide)
//!   cannot tell apart alone, so the frequency is measured from the phase advance between the two
//!   halves of the block. Speech formants, which glide, rarely pass this either.
//!
//! A digit is reported when two consecutive blocks vote for it (a tone of 40 ms always fills two
//! blocks; one shorter than 23 ms never does), and the detector re-arms after two blocks without
//! it (the inter-digit pause).
//!
//! Hand-written: no maintained Rust crate implements a Q.24 detector, and the Goertzel filter is a
//! few lines.

use super::{DetectedDigit, DtmfSource};
use mrcp_proto::rtp::DtmfEvent;

const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Acceptance limits.
#[derive(Debug, Clone)]
pub struct InbandConfig {
    /// Sampling rate of the audio fed in.
    pub sample_rate: u32,
    /// Normal twist: how much stronger the high tone may be, in dB (Q.24 administrations: 4–8).
    pub normal_twist_db: f32,
    /// Reverse twist: how much stronger the low tone may be, in dB.
    pub reverse_twist_db: f32,
    /// Minimum level of each tone, in dBFS of a sine (about −26 dBm0 at −29 dBFS for G.711).
    pub min_level_dbfs: f32,
    /// How much the chosen tone must beat the others of its group, in dB.
    pub group_margin_db: f32,
    /// Share of the block energy the two tones must hold.
    pub min_tone_share: f32,
}

impl InbandConfig {
    /// Defaults for a sampling rate: twist 8 dB normal / 4 dB reverse, −32 dBFS minimum.
    pub fn new(sample_rate: u32) -> Self {
        Self {
            sample_rate,
            normal_twist_db: 8.0,
            reverse_twist_db: 4.0,
            min_level_dbfs: -32.0,
            group_margin_db: 6.0,
            min_tone_share: 0.6,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Goertzel {
    coeff: f32,
}

impl Goertzel {
    fn new(freq: f32, rate: f32) -> Self {
        Self {
            coeff: 2.0 * (2.0 * std::f32::consts::PI * freq / rate).cos(),
        }
    }
}

/// The frequency of the tone near `nominal`, from the phase advance of its DFT between the two
/// halves of the block: X₁/X₀ = e^{jω_a L}, so the deviation is the wrapped phase difference minus
/// ωL, divided by 2πL/rate. Unambiguous within ±rate/(2L) (±78 Hz at 8 kHz).
///
/// Also returns whether the tone's power in the two halves agrees within 3 dB: a tone that starts
/// or stops inside the block is not steady, which keeps tones shorter than two blocks (23 ms) out.
fn measure_frequency(block: &[f32], nominal: f32, rate: f32) -> (f32, bool) {
    let half = block.len() / 2;
    let w = 2.0 * std::f64::consts::PI * f64::from(nominal) / f64::from(rate);
    let (step_re, step_im) = (w.cos(), -w.sin());
    let dft = |part: &[f32]| {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        let (mut c, mut s) = (1.0f64, 0.0f64);
        for &x in part {
            re += f64::from(x) * c;
            im += f64::from(x) * s;
            (c, s) = (c * step_re - s * step_im, c * step_im + s * step_re);
        }
        (re, im)
    };
    let (a_re, a_im) = dft(&block[..half]);
    let (b_re, b_im) = dft(&block[half..2 * half]);
    // arg(B · conj(A)), with the phase reference reset at each half.
    let phase = (b_im * a_re - b_re * a_im).atan2(b_re * a_re + b_im * a_im);
    let expected = w * half as f64;
    let mut dev = (phase - expected).rem_euclid(2.0 * std::f64::consts::PI);
    if dev > std::f64::consts::PI {
        dev -= 2.0 * std::f64::consts::PI;
    }
    let delta = dev * f64::from(rate) / (2.0 * std::f64::consts::PI * half as f64);
    let pa = a_re * a_re + a_im * a_im;
    let pb = b_re * b_re + b_im * b_im;
    let steady = pa >= 0.5 * pb && pb >= 0.5 * pa;
    ((f64::from(nominal) + delta) as f32, steady)
}

/// The in-band detector; feed it decoded audio of any frame size.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    cfg: InbandConfig,
    filters: [Goertzel; 8],
    block: Vec<f32>,
    block_len: usize,
    min_power: f32,
    normal_twist: f32,
    reverse_twist: f32,
    group_margin: f32,
    last_vote: Option<usize>,
    /// The digit currently held down (reported) and how many blocks it has been missing.
    held: Option<(usize, u8)>,
    samples_seen: u64,
}

fn db_to_power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

impl InbandDetector {
    /// A detector with the given limits.
    pub fn new(cfg: InbandConfig) -> Self {
        let rate = cfg.sample_rate.max(8000) as f32;
        let freqs: Vec<f32> = LOW.iter().chain(HIGH.iter()).copied().collect();
        let filters = std::array::from_fn(|i| Goertzel::new(freqs[i], rate));
        // 102 samples at 8 kHz, scaled with the rate.
        let block_len = (rate * 0.01275).round() as usize;
        // A full-scale sine has mean square 32767²/2.
        let full = 32767.0f32 * 32767.0 / 2.0;
        Self {
            filters,
            block: Vec::with_capacity(block_len),
            block_len,
            min_power: full * db_to_power(cfg.min_level_dbfs),
            normal_twist: db_to_power(cfg.normal_twist_db),
            reverse_twist: db_to_power(cfg.reverse_twist_db),
            group_margin: db_to_power(cfg.group_margin_db),
            cfg,
            last_vote: None,
            held: None,
            samples_seen: 0,
        }
    }

    /// The limits in use.
    pub fn config(&self) -> &InbandConfig {
        &self.cfg
    }

    /// Forgets any tone in progress.
    pub fn reset(&mut self) {
        self.block.clear();
        self.last_vote = None;
        self.held = None;
    }

    /// Feeds samples; calls `on_digit` for each digit that starts in them.
    pub fn process(&mut self, samples: &[i16], mut on_digit: impl FnMut(DetectedDigit)) {
        for &s in samples {
            self.block.push(f32::from(s));
            self.samples_seen += 1;
            if self.block.len() == self.block_len {
                if let Some(d) = self.end_block() {
                    on_digit(d);
                }
                self.block.clear();
            }
        }
    }

    /// Feeds samples and collects the digits found.
    pub fn detect(&mut self, samples: &[i16]) -> Vec<DetectedDigit> {
        let mut found = Vec::new();
        self.process(samples, |d| found.push(d));
        found
    }

    /// The eight Goertzel powers (scaled to the mean square of a matching sine) in one pass over the block: eight independent recurrences per
    /// sample keep the pipeline busy (and vectorise), where eight passes would each wait on the
    /// previous sample.
    fn powers(&self, block: &[f32]) -> [f32; 8] {
        let coeff: [f32; 8] = std::array::from_fn(|i| self.filters[i].coeff);
        let mut s1 = [0f32; 8];
        let mut s2 = [0f32; 8];
        for &x in block {
            for k in 0..8 {
                let s = x + coeff[k] * s1[k] - s2[k];
                s2[k] = s1[k];
                s1[k] = s;
            }
        }
        let n = block.len() as f32;
        std::array::from_fn(|k| {
            (s1[k] * s1[k] + s2[k] * s2[k] - coeff[k] * s1[k] * s2[k]) * 2.0 / (n * n)
        })
    }

    fn vote(&self) -> Option<usize> {
        let block = &self.block;
        let energy = block.iter().map(|x| x * x).sum::<f32>() / block.len() as f32;
        // Two tones at the minimum level carry at least this much: skip quiet blocks.
        if energy < 2.0 * self.min_power {
            return None;
        }
        let p = self.powers(block);
        let (row, &row_p) = p[..4]
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        let (col, &col_p) = p[4..]
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        if row_p < self.min_power || col_p < self.min_power {
            return None;
        }
        // Twist (Q.24): high over low within the normal limit, low over high within the reverse.
        if col_p > row_p * self.normal_twist || row_p > col_p * self.reverse_twist {
            return None;
        }
        let margin_ok = |group: &[f32], best: usize, best_p: f32| {
            group
                .iter()
                .enumerate()
                .all(|(i, &q)| i == best || q * self.group_margin < best_p)
        };
        if !margin_ok(&p[..4], row, row_p) || !margin_ok(&p[4..], col, col_p) {
            return None;
        }
        // Talk-off guard: the two tones carry most of the energy.
        if row_p + col_p < self.cfg.min_tone_share * energy {
            return None;
        }
        let rate = self.cfg.sample_rate.max(8000) as f32;
        let in_tolerance = |nominal: f32| {
            let (measured, steady) = measure_frequency(block, nominal, rate);
            steady && (measured - nominal).abs() <= 0.025 * nominal + 1.0
        };
        if !in_tolerance(LOW[row]) || !in_tolerance(HIGH[col]) {
            return None;
        }
        Some(row * 4 + col)
    }

    fn end_block(&mut self) -> Option<DetectedDigit> {
        let vote = self.vote();
        let mut report = None;
        match (vote, self.held) {
            (Some(v), Some((h, _))) if v == h => self.held = Some((h, 0)),
            (Some(v), _) if self.last_vote == Some(v) => {
                // Two consecutive blocks agree: a new digit (or another digit replacing the held one).
                self.held = Some((v, 0));
                let key = KEYS[v / 4][v % 4];
                report = DtmfEvent::from_char(key).map(|digit| DetectedDigit {
                    digit,
                    source: DtmfSource::Inband,
                    position: self.samples_seen,
                });
            }
            (_, Some((h, missing))) => {
                // The pause must last two blocks before the same digit counts again.
                self.held = if missing >= 1 {
                    None
                } else {
                    Some((h, missing + 1))
                };
            }
            _ => {}
        }
        self.last_vote = vote;
        report
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod frequency_tests {
    use super::*;

    #[test]
    fn measures_the_tone_frequency() {
        for f in [697.0f32, 712.0, 1633.0, 1580.0] {
            let block: Vec<f32> = (0..102)
                .map(|i| 8000.0 * (2.0 * std::f32::consts::PI * f * i as f32 / 8000.0).sin())
                .collect();
            let nominal = if f < 1000.0 { 697.0 } else { 1633.0 };
            let (m, steady) = measure_frequency(&block, nominal, 8000.0);
            assert!(steady);
            assert!((m - f).abs() < 3.0, "{f}: measured {m}");
        }
    }
}
