//! G.722 at 64 kbit/s (ITU-T G.722 (09/2012) §3–§4, mode 1): sub-band ADPCM, 16 kHz audio in
//! 8-bit codes (6 bits low band, 2 bits high band) per pair of samples. RFC 3551 §4.5.2: the RTP
//! clock is 8000 Hz although the audio is sampled at 16000 Hz.
//!
//! Written here from the ITU-T block descriptions (QMF, QUANTL/QUANTH, INVQAL/INVQBL/INVQAH,
//! LOGSCL/LOGSCH, SCALEL/SCALEH, and the adaptive predictor of block 4) because no maintained
//! pure-Rust crate implements G.722; the block names are kept in the comments. The 56 and 48 kbit/s
//! modes (low band 5 or 4 bits) are not used on RTP and are not implemented.

/// QMF coefficients (G.722 Table 11 / §3.2), one half of the symmetric 24-tap filter.
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];
/// QUANTL decision levels (Table 14, scaled).
const Q6: [i32; 32] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
];
/// QUANTL output codes for negative and positive differences.
const ILN: [i32; 32] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4, 0,
];
const ILP: [i32; 32] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32, 0,
];
/// LOGSCL log-scale factor multipliers (Table 16).
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// SCALEL/SCALEH inverse log table (Table 17).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
/// INVQAL: 4-bit inverse quantizer (Table 15).
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
/// INVQBL: 6-bit inverse quantizer for mode 1 (Table 15).
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// INVQAH: 2-bit inverse quantizer (Table 19).
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
const IHN: [i32; 3] = [0, 1, 0];
const IHP: [i32; 3] = [0, 3, 2];
/// LOGSCH multipliers (Table 20).
const WH: [i32; 3] = [0, -214, 798];
const RH2: [usize; 4] = [2, 1, 2, 1];

fn sat16(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// The state of one sub-band's ADPCM (G.722 §3.6, block 4 and the scale factor).
#[derive(Debug, Clone, Default)]
struct Band {
    s: i32,
    sz: i32,
    r: [i32; 3],
    a: [i32; 3],
    ap: [i32; 3],
    p: [i32; 3],
    d: [i32; 7],
    b: [i32; 7],
    bp: [i32; 7],
    nb: i32,
    det: i32,
}

impl Band {
    fn new(det: i32) -> Self {
        Self {
            det,
            ..Self::default()
        }
    }

    /// LOGSCL/LOGSCH then SCALEL/SCALEH: adapt the log scale factor and recompute `det`.
    fn scale(&mut self, weight: i32, limit: i32, shift_base: i32) {
        self.nb = ((self.nb * 127) >> 7) + weight;
        self.nb = self.nb.clamp(0, limit);
        let wd1 = ((self.nb >> 6) & 31) as usize;
        let wd2 = shift_base - (self.nb >> 11);
        let wd3 = if wd2 < 0 {
            ILB[wd1] << -wd2
        } else {
            ILB[wd1] >> wd2
        };
        self.det = wd3 << 2;
    }

    /// Block 4: reconstruction, pole (UPPOL1/2) and zero (UPZERO) adaptation, prediction.
    fn block4(&mut self, dx: i32) {
        // RECONS, PARREC
        self.d[0] = dx;
        self.r[0] = sat16(self.s + dx);
        self.p[0] = sat16(self.sz + dx);
        // UPPOL2
        let sg0 = self.p[0] >> 15;
        let sg1 = self.p[1] >> 15;
        let sg2 = self.p[2] >> 15;
        let wd1 = sat16(self.a[1] << 2);
        let wd2 = if sg0 == sg1 { -wd1 } else { wd1 }.min(32767);
        let mut wd3 = if sg0 == sg2 { 128 } else { -128 };
        wd3 += wd2 >> 7;
        wd3 += (self.a[2] * 32512) >> 15;
        self.ap[2] = wd3.clamp(-12288, 12288);
        // UPPOL1
        let wd1 = if sg0 == sg1 { 192 } else { -192 };
        let wd2 = (self.a[1] * 32640) >> 15;
        self.ap[1] = sat16(wd1 + wd2);
        let wd3 = sat16(15360 - self.ap[2]);
        self.ap[1] = self.ap[1].clamp(-wd3, wd3);
        // UPZERO
        let wd1 = if dx == 0 { 0 } else { 128 };
        let sgx = dx >> 15;
        for i in 1..7 {
            let sgi = self.d[i] >> 15;
            let wd2 = if sgi == sgx { wd1 } else { -wd1 };
            let wd3 = (self.b[i] * 32640) >> 15;
            self.bp[i] = sat16(wd2 + wd3);
        }
        // DELAYA
        for i in (1..7).rev() {
            self.d[i] = self.d[i - 1];
            self.b[i] = self.bp[i];
        }
        for i in (1..3).rev() {
            self.r[i] = self.r[i - 1];
            self.p[i] = self.p[i - 1];
            self.a[i] = self.ap[i];
        }
        // FILTEP
        let wd1 = (self.a[1] * sat16(self.r[1] + self.r[1])) >> 15;
        let wd2 = (self.a[2] * sat16(self.r[2] + self.r[2])) >> 15;
        let sp = sat16(wd1 + wd2);
        // FILTEZ
        let mut sz = 0;
        for i in (1..7).rev() {
            sz += (self.b[i] * sat16(self.d[i] + self.d[i])) >> 15;
        }
        self.sz = sat16(sz);
        // PREDIC
        self.s = sat16(sp + self.sz);
    }
}

/// G.722 encoder state for one stream.
#[derive(Debug, Clone)]
pub struct G722Encoder {
    x: [i32; 24],
    low: Band,
    high: Band,
    odd: Option<i16>,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// A fresh encoder (G.722 §3.8 reset state).
    pub fn new() -> Self {
        Self {
            x: [0; 24],
            low: Band::new(32),
            high: Band::new(8),
            odd: None,
        }
    }

    /// Encodes 16 kHz samples, one byte per pair; an odd last sample waits for the next call.
    pub fn encode(&mut self, samples: &[i16], out: &mut Vec<u8>) {
        out.reserve(samples.len() / 2 + 1);
        let mut iter = samples.iter().copied();
        loop {
            let first = match self.odd.take() {
                Some(s) => s,
                None => match iter.next() {
                    Some(s) => s,
                    None => break,
                },
            };
            let Some(second) = iter.next() else {
                self.odd = Some(first);
                break;
            };
            out.push(self.encode_pair(first, second));
        }
    }

    fn encode_pair(&mut self, s0: i16, s1: i16) -> u8 {
        // Transmit QMF (§3.2): keep every other output of the two half-band filters.
        self.x.copy_within(2.., 0);
        self.x[22] = i32::from(s0);
        self.x[23] = i32::from(s1);
        let (mut sumodd, mut sumeven) = (0i32, 0i32);
        for i in 0..12 {
            sumodd += self.x[2 * i] * QMF[i];
            sumeven += self.x[2 * i + 1] * QMF[11 - i];
        }
        let xlow = (sumeven + sumodd) >> 14;
        let xhigh = (sumeven - sumodd) >> 14;

        // Low band. SUBTRA, QUANTL
        let el = sat16(xlow - self.low.s);
        let wd = if el >= 0 { el } else { -(el + 1) };
        let mut i = 1;
        while i < 30 && wd >= (Q6[i] * self.low.det) >> 12 {
            i += 1;
        }
        let ilow = if el < 0 { ILN[i] } else { ILP[i] };
        // INVQAL (4-bit, for the predictor), LOGSCL, SCALEL
        let ril = (ilow >> 2) as usize;
        let dlow = (self.low.det * QM4[ril]) >> 15;
        self.low.scale(WL[RL42[ril]], 18432, 8);
        self.low.block4(dlow);

        // High band. SUBTRA, QUANTH
        let eh = sat16(xhigh - self.high.s);
        let wd = if eh >= 0 { eh } else { -(eh + 1) };
        let mih = if wd >= (564 * self.high.det) >> 12 {
            2
        } else {
            1
        };
        let ihigh = if eh < 0 { IHN[mih] } else { IHP[mih] };
        // INVQAH, LOGSCH, SCALEH
        let dhigh = (self.high.det * QM2[ihigh as usize]) >> 15;
        self.high.scale(WH[RH2[ihigh as usize]], 22528, 10);
        self.high.block4(dhigh);

        ((ihigh << 6) | ilow) as u8
    }
}

/// G.722 decoder state for one stream.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    x: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self {
            x: [0; 24],
            low: Band::new(32),
            high: Band::new(8),
        }
    }

    /// Decodes codes to 16 kHz samples, two per byte.
    pub fn decode(&mut self, codes: &[u8], out: &mut Vec<i16>) {
        out.reserve(codes.len() * 2);
        for &code in codes {
            let (a, b) = self.decode_one(code);
            out.push(a);
            out.push(b);
        }
    }

    fn decode_one(&mut self, code: u8) -> (i16, i16) {
        let ilow = usize::from(code & 0x3f);
        let ihigh = usize::from(code >> 6);
        // Low band. INVQBL (6-bit, for the output), RECONS, LIMIT
        let wd2 = (self.low.det * QM6[ilow]) >> 15;
        let rlow = (self.low.s + wd2).clamp(-16384, 16383);
        // INVQAL (4-bit, for the predictor), LOGSCL, SCALEL
        let ril = ilow >> 2;
        let dlow = (self.low.det * QM4[ril]) >> 15;
        self.low.scale(WL[RL42[ril]], 18432, 8);
        self.low.block4(dlow);

        // High band. INVQAH, RECONS, LIMIT, LOGSCH, SCALEH
        let dhigh = (self.high.det * QM2[ihigh]) >> 15;
        let rhigh = (dhigh + self.high.s).clamp(-16384, 16383);
        self.high.scale(WH[RH2[ihigh]], 22528, 10);
        self.high.block4(dhigh);

        // Receive QMF (§4.4).
        self.x.copy_within(2.., 0);
        self.x[22] = rlow + rhigh;
        self.x[23] = rlow - rhigh;
        let (mut xout1, mut xout2) = (0i32, 0i32);
        for i in 0..12 {
            xout2 += self.x[2 * i] * QMF[i];
            xout1 += self.x[2 * i + 1] * QMF[11 - i];
        }
        (sat16(xout1 >> 11) as i16, sat16(xout2 >> 11) as i16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, amp: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f32::consts::PI * freq * i as f32 / 16000.0).sin()) as i16)
            .collect()
    }

    /// Level of `freq` in `x` (Goertzel, as the mean square of a matching sine) and the total mean
    /// square.
    fn level(x: &[i16], freq: f32) -> (f64, f64) {
        let w = 2.0 * std::f64::consts::PI * f64::from(freq) / 16000.0;
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0f64, 0f64);
        for &v in x {
            let s = f64::from(v) + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let n = x.len() as f64;
        let p = (s1 * s1 + s2 * s2 - c * s1 * s2) * 2.0 / (n * n);
        let total = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / n;
        (p, total)
    }

    #[test]
    fn tones_in_both_sub_bands_survive_encode_decode() {
        for freq in [300.0f32, 1000.0, 3000.0, 5000.0, 6500.0] {
            let input = tone(freq, 10000.0, 16000);
            let mut enc = G722Encoder::new();
            let mut codes = Vec::new();
            // Odd-sized pieces: the encoder must carry the odd sample across calls.
            for piece in input.chunks(161) {
                enc.encode(piece, &mut codes);
            }
            assert_eq!(codes.len(), 8000);
            let mut dec = G722Decoder::new();
            let mut out = Vec::new();
            dec.decode(&codes, &mut out);
            assert_eq!(out.len(), 16000);
            // After the adaptation settles.
            let steady = &out[4000..];
            let (p_out, total) = level(steady, freq);
            let (p_in, _) = level(&input[4000..], freq);
            let gain_db = 10.0 * (p_out / p_in).log10();
            let snr_db = 10.0 * (p_out / (total - p_out).max(1.0)).log10();
            assert!(gain_db.abs() < 1.0, "{freq} Hz: gain {gain_db:.2} dB");
            assert!(snr_db > 20.0, "{freq} Hz: SNR {snr_db:.1} dB");
        }
    }

    #[test]
    fn silence_stays_quiet_and_extremes_do_not_overflow() {
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        let mut codes = Vec::new();
        enc.encode(&[0; 3200], &mut codes);
        let mut out = Vec::new();
        dec.decode(&codes, &mut out);
        assert!(
            out.iter().all(|s| s.abs() < 16),
            "silence decodes near zero"
        );
        // Full-scale square wave and every code byte: no panic, output bounded.
        let square: Vec<i16> = (0..3200)
            .map(|i| if (i / 8) % 2 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        codes.clear();
        enc.encode(&square, &mut codes);
        let all: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        out.clear();
        dec.decode(&all, &mut out);
        dec.decode(&codes, &mut out);
    }
}
