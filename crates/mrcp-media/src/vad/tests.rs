use super::*;
use crate::test_audio::{mix, noise, speech, temp_dir};

fn events(ep: &mut Endpointer, audio: &[i16], rate: u32) -> Vec<VadEvent> {
    audio
        .chunks(rate as usize / 50)
        .filter_map(|f| ep.process(f))
        .collect()
}

fn detectors(rate: SampleRate) -> Vec<(&'static str, Box<dyn VoiceDetector>)> {
    vec![
        (
            "earshot",
            Box::new(EarshotDetector::new(rate).unwrap()) as Box<dyn VoiceDetector>,
        ),
        ("energy", Box::new(EnergyDetector::new(rate))),
    ]
}

#[test]
fn speech_start_and_end_around_espeak_speech() {
    let dir = temp_dir("vad");
    for rate in [SampleRate::HZ_8000, SampleRate::HZ_16000] {
        let pad = Duration::from_millis(1000);
        let clean = speech(
            "Hello, I would like to check the balance of my account.",
            rate.0,
            1000,
            &dir,
        );
        let total = Duration::from_nanos(clean.len() as u64 * 1_000_000_000 / u64::from(rate.0));
        let speech_end = total - pad;
        let floor: Vec<f32> = noise(clean.len(), -55.0, 11);
        let clean_f: Vec<f32> = clean.iter().map(|&s| f32::from(s)).collect();
        let audio = mix(&[&clean_f, &floor]);
        for (name, det) in detectors(rate) {
            let mut ep = Endpointer::new(EndpointerConfig::default(), det);
            let ev = events(&mut ep, &audio, rate.0);
            let Some(VadEvent::SpeechStart { at: start }) = ev.first().copied() else {
                panic!("{name} at {rate}: no speech start in {ev:?}");
            };
            assert!(
                start + Duration::from_millis(100) >= pad
                    && start <= pad + Duration::from_millis(300),
                "{name} at {rate}: speech start {start:?}, speech begins at {pad:?}"
            );
            let Some(VadEvent::SpeechEnd { at: end }) = ev.last().copied() else {
                panic!("{name} at {rate}: no speech end in {ev:?}");
            };
            assert!(
                end + Duration::from_millis(400) >= speech_end
                    && end <= speech_end + Duration::from_millis(200),
                "{name} at {rate}: speech end {end:?}, speech ends at {speech_end:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn noise_alone_is_not_speech() {
    for rate in [SampleRate::HZ_8000, SampleRate::HZ_16000] {
        let audio = mix(&[&noise(rate.0 as usize * 3, -45.0, 5)]);
        for (name, det) in detectors(rate) {
            let mut ep = Endpointer::new(EndpointerConfig::default(), det);
            assert_eq!(events(&mut ep, &audio, rate.0), vec![], "{name} at {rate}");
        }
    }
}

#[test]
fn hangover_and_minimum_speech() {
    // A scripted detector: speech exactly where the frame's first sample is non-zero.
    struct Scripted;
    impl VoiceDetector for Scripted {
        fn sample_rate(&self) -> SampleRate {
            SampleRate::HZ_8000
        }
        fn score(&mut self, frame: &[i16]) -> f32 {
            if frame.first().is_some_and(|s| *s != 0) {
                1.0
            } else {
                0.0
            }
        }
        fn reset(&mut self) {}
    }
    let frame = |speech: bool| vec![i16::from(speech); 160];
    let cfg = EndpointerConfig {
        sensitivity: 0.5,
        min_speech: Duration::from_millis(60),
        hangover: Duration::from_millis(100),
    };
    let mut ep = Endpointer::new(cfg, Box::new(Scripted));
    // 40 ms blip: too short.
    let mut pattern = vec![false, true, true, false];
    // 200 ms speech with a 60 ms gap inside (shorter than the hangover), then silence.
    pattern.extend([true; 5]);
    pattern.extend([false; 3]);
    pattern.extend([true; 5]);
    pattern.extend([false; 10]);
    let ev: Vec<_> = pattern
        .iter()
        .filter_map(|&s| ep.process(&frame(s)))
        .collect();
    assert_eq!(
        ev,
        vec![
            VadEvent::SpeechStart {
                at: Duration::from_millis(80)
            },
            VadEvent::SpeechEnd {
                at: Duration::from_millis(340)
            }
        ]
    );
    assert!(EarshotDetector::new(SampleRate::HZ_24000).is_err());
}
