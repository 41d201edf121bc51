//! Signals for the unit tests: sines, DTMF pairs, deterministic noise, and speech from espeak-ng
//! (converted with sox). The Debian packages `espeak-ng` and `sox` are required; a missing one
//! fails the test with a message naming it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A sine of `freq` Hz at `dbfs` (peak relative to full scale) for `ms` milliseconds.
pub fn sine(rate: u32, freq: f32, dbfs: f32, ms: u32) -> Vec<f32> {
    let amp = 32767.0 * 10f32.powf(dbfs / 20.0);
    let n = (rate as usize * ms as usize) / 1000;
    (0..n)
        .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
        .collect()
}

/// Deterministic white noise (xorshift) of RMS `dbfs`.
pub fn noise(n: usize, dbfs: f32, seed: u32) -> Vec<f32> {
    let mut x = seed.max(1);
    // Uniform in [-1, 1] has RMS 1/sqrt(3).
    let amp = 32767.0 * 10f32.powf(dbfs / 20.0) * 3f32.sqrt();
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            amp * ((x as f32 / u32::MAX as f32) * 2.0 - 1.0)
        })
        .collect()
}

/// Sum of signals, padded to the longest, clipped to i16.
pub fn mix(parts: &[&[f32]]) -> Vec<i16> {
    let n = parts.iter().map(|p| p.len()).max().unwrap_or(0);
    (0..n)
        .map(|i| {
            parts
                .iter()
                .map(|p| p.get(i).copied().unwrap_or(0.0))
                .sum::<f32>()
                .clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// A DTMF key's tone pair with the high tone `twist_db` above the low one (negative: reverse).
pub fn dtmf(
    rate: u32,
    key: char,
    ms: u32,
    level_dbfs: f32,
    twist_db: f32,
    freq_offset: f32,
) -> Vec<f32> {
    const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let keys = "123A456B789C*0#D";
    let i = keys.find(key).expect("a DTMF key");
    let low = sine(rate, LOW[i / 4] * (1.0 + freq_offset), level_dbfs, ms);
    let high = sine(
        rate,
        HIGH[i % 4] * (1.0 + freq_offset),
        level_dbfs + twist_db,
        ms,
    );
    low.iter().zip(&high).map(|(a, b)| a + b).collect()
}

/// Silence of `ms` milliseconds.
pub fn silence(rate: u32, ms: u32) -> Vec<f32> {
    vec![0.0; (rate as usize * ms as usize) / 1000]
}

fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success());
    assert!(
        matches!(found, Ok(true)),
        "`{name}` not found: install the Debian package `{package}` (apt-get install {package})"
    );
    Command::new(name)
}

/// A fresh temporary directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mrcp-media-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// `text` spoken by espeak-ng at `rate`, with `pad_ms` of silence before and after (sox).
pub fn speech(text: &str, rate: u32, pad_ms: u32, dir: &Path) -> Vec<i16> {
    let raw = dir.join("espeak.wav");
    let out = dir.join(format!("speech-{rate}.wav"));
    let st = tool("espeak-ng", "espeak-ng")
        .arg("-w")
        .arg(&raw)
        .arg(text)
        .status()
        .expect("run espeak-ng");
    assert!(st.success(), "espeak-ng failed");
    let pad = format!("{}", pad_ms as f32 / 1000.0);
    let st = tool("sox", "sox")
        .arg(&raw)
        .args(["-r", &rate.to_string(), "-c", "1", "-b", "16"])
        .arg(&out)
        .args(["pad", &pad, &pad])
        .status()
        .expect("run sox");
    assert!(st.success(), "sox failed");
    let mut reader = hound::WavReader::open(&out).expect("read sox output");
    reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect()
}
