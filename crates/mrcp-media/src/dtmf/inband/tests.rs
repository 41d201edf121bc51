use super::*;
use crate::test_audio::{dtmf, mix, noise, silence, speech, temp_dir};

fn detect(rate: u32, samples: &[i16]) -> String {
    let mut d = InbandDetector::new(InbandConfig::new(rate));
    // Feed in 20 ms frames as the media path does.
    let frame = rate as usize / 50;
    let mut s = String::new();
    for chunk in samples.chunks(frame) {
        d.process(chunk, |x| s.push(x.digit.as_char()));
    }
    s
}

#[test]
fn every_key_at_8_and_16_khz_with_noise() {
    for rate in [8000, 16000] {
        for key in "0123456789*#ABCD".chars() {
            let tone = dtmf(rate, key, 50, -10.0, 0.0, 0.0);
            let mut sig = silence(rate, 30);
            sig.extend(tone);
            sig.extend(silence(rate, 30));
            // About 15 dB SNR per tone.
            let n = noise(sig.len(), -28.0, 7);
            assert_eq!(
                detect(rate, &mix(&[&sig, &n])),
                key.to_string(),
                "{key} at {rate} Hz"
            );
        }
    }
}

#[test]
fn twist_limits() {
    let run = |twist| {
        let mut s = silence(8000, 20);
        s.extend(dtmf(8000, '5', 60, -12.0, twist, 0.0));
        detect(8000, &mix(&[&s]))
    };
    assert_eq!(run(6.0), "5", "normal twist 6 dB accepted");
    assert_eq!(run(-3.0), "5", "reverse twist 3 dB accepted");
    assert_eq!(run(12.0), "", "normal twist 12 dB rejected");
    assert_eq!(run(-8.0), "", "reverse twist 8 dB rejected");
}

#[test]
fn frequency_tolerance_and_duration() {
    // Q.24: operate within ±(1.5 % + 2 Hz).
    for off in [-0.015, 0.015] {
        let s = dtmf(8000, '9', 60, -10.0, 0.0, off);
        assert_eq!(detect(8000, &mix(&[&s])), "9", "offset {off}");
    }
    // Q.24: no operation beyond ±3.5 %.
    for off in [-0.04, 0.04, 0.05] {
        let s = dtmf(8000, '9', 60, -10.0, 0.0, off);
        assert_eq!(detect(8000, &mix(&[&s])), "", "offset {off}");
    }
    // 40 ms accepted wherever it falls; 20 ms rejected.
    for lead in [0, 3, 7, 11] {
        let mut s = silence(8000, lead);
        s.extend(dtmf(8000, '1', 40, -10.0, 0.0, 0.0));
        s.extend(silence(8000, 20));
        assert_eq!(detect(8000, &mix(&[&s])), "1", "40 ms after {lead} ms");
        let mut s = silence(8000, lead);
        s.extend(dtmf(8000, '1', 20, -10.0, 0.0, 0.0));
        s.extend(silence(8000, 20));
        assert_eq!(detect(8000, &mix(&[&s])), "", "20 ms after {lead} ms");
    }
}

#[test]
fn levels() {
    let quiet = dtmf(8000, '7', 60, -30.0, 0.0, 0.0);
    assert_eq!(
        detect(8000, &mix(&[&quiet])),
        "7",
        "-30 dBFS per tone accepted"
    );
    let too_quiet = dtmf(8000, '7', 60, -45.0, 0.0, 0.0);
    assert_eq!(detect(8000, &mix(&[&too_quiet])), "", "-45 dBFS rejected");
}

#[test]
fn digit_sequences_like_freeswitch_generates() {
    // mpf_dtmf_generator: 70 ms tone, 50 ms silence; repeated keys must count twice.
    let mut s = Vec::new();
    for key in "1223#".chars() {
        s.extend(dtmf(8000, key, 70, -8.0, 0.0, 0.0));
        s.extend(silence(8000, 50));
    }
    let n = noise(s.len(), -40.0, 3);
    assert_eq!(detect(8000, &mix(&[&s, &n])), "1223#");
}

#[test]
fn speech_does_not_talk_off() {
    let dir = temp_dir("talkoff");
    for rate in [8000, 16000] {
        let speech = speech(
            "One two three four five six seven eight nine zero. Please say your account number after the tone.",
            rate,
            200,
            &dir,
        );
        assert!(
            speech.len() > rate as usize * 2,
            "espeak-ng produced too little audio"
        );
        assert_eq!(detect(rate, &speech), "", "talk-off on speech at {rate} Hz");
    }
    let _ = std::fs::remove_dir_all(dir);
}
