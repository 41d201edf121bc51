//! In-band DTMF as UniMRCP's generator (`mpf_dtmf_generator`) mixes it into the audio when telephone-event
//! was not negotiated (reference §7.7): each digit a 70 ms ITU-T Q.23 tone pair, then 50 ms of silence.

/// Row (low) frequencies, Hz (ITU-T Q.23).
const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high) frequencies, Hz.
const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// The keypad, row by row.
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Tone length at 8 kHz (70 ms).
const TONE: usize = 560;
/// Silence after each tone at 8 kHz (50 ms).
const GAP: usize = 400;
/// Peak of each sine (two add up to about -10 dBm0 per tone).
const AMPLITUDE: f32 = 6000.0;

/// 8 kHz samples of `digits` as tone pairs; characters that are not DTMF keys are skipped.
pub fn inband_dtmf(digits: &str) -> Vec<i16> {
    let mut out = Vec::new();
    for d in digits.chars().map(|c| c.to_ascii_uppercase()) {
        let Some((row, col)) = KEYS
            .iter()
            .enumerate()
            .find_map(|(r, keys)| keys.iter().position(|k| *k == d).map(|c| (r, c)))
        else {
            continue;
        };
        let (low, high) = (LOW[row], HIGH[col]);
        out.extend((0..TONE).map(|n| {
            let t = n as f32 / 8000.0;
            let v =
                (std::f32::consts::TAU * low * t).sin() + (std::f32::consts::TAU * high * t).sin();
            // |v| ≤ 2, so the product stays within ±12000: no overflow in the cast.
            (v * AMPLITUDE) as i16
        }));
        out.extend(std::iter::repeat_n(0, GAP));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_and_gap_per_digit() {
        let s = inband_dtmf("1x#");
        assert_eq!(s.len(), 2 * (TONE + GAP));
        assert!(s[..TONE].iter().any(|v| v.unsigned_abs() > 5000));
        assert!(s[TONE..TONE + GAP].iter().all(|v| *v == 0));
    }
}
