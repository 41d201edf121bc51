//! The prompt-file synthesizer over WAV files written for the test.

mod common;

use std::path::PathBuf;

use common::{audio, collect};
use mrcp_proto::ssml;
use tts_adapters::prompt_files::{PromptFiles, PromptFilesConfig};
use tts_adapters::{SynthesisEvent, SynthesisFailure, SynthesisRequest, Synthesizer, failure_of};

fn prompt_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tts-prompts-{}-{test}", std::process::id()));
    std::fs::create_dir_all(dir.join("menu")).expect("create the prompt directory");
    let write = |name: &str, rate: u32, samples: &[i16]| {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(dir.join(name), spec).expect("create wav");
        for &s in samples {
            w.write_sample(s).expect("write sample");
        }
        w.finalize().expect("finalize wav");
    };
    let tone: Vec<i16> = (0..8_000)
        .map(|i| if i % 16 < 8 { 8_000 } else { -8_000 })
        .collect();
    write("welcome.wav", 8_000, &tone);
    write("menu/main.wav", 8_000, &tone[..4_000]);
    write("wideband.wav", 16_000, &tone);
    dir
}

#[tokio::test]
async fn plays_prompts_breaks_and_marks() {
    let dir = prompt_dir("play");
    let engine = PromptFiles::new("prompts", PromptFilesConfig::new(&dir)).unwrap();
    let events = collect(engine.start(SynthesisRequest::text("welcome")).unwrap())
        .await
        .unwrap();
    assert_eq!(audio(&events).len(), 8_000);
    assert!(
        events
            .iter()
            .all(|e| matches!(e, SynthesisEvent::Audio(a) if a.len() == 160))
    );

    let doc = ssml::parse(
        r#"<speak><audio src="welcome.wav"/><mark name="menu"/><break time="250ms"/><audio src="file:menu/main.wav"/></speak>"#,
    )
    .unwrap();
    let events = collect(engine.start(SynthesisRequest::ssml(doc)).unwrap())
        .await
        .unwrap();
    let pcm = audio(&events);
    assert_eq!(pcm.len(), 8_000 + 2_000 + 4_000);
    assert!(pcm[8_000..10_000].iter().all(|&s| s == 0));
    let mark_at = events
        .iter()
        .position(|e| *e == SynthesisEvent::Mark("menu".to_owned()))
        .unwrap();
    assert_eq!(audio(&events[..mark_at]).len(), 8_000);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn refuses_what_it_cannot_play() {
    let dir = prompt_dir("refuse");
    let engine = PromptFiles::new("prompts", PromptFilesConfig::new(&dir)).unwrap();
    for name in [
        "missing",
        "../etc/passwd",
        "/etc/passwd",
        "http://example.com/a.wav",
        "",
    ] {
        let err = engine.start(SynthesisRequest::text(name)).unwrap_err();
        assert_eq!(
            failure_of(&err),
            SynthesisFailure::UriFailure,
            "{name}: {err}"
        );
    }
    let err = collect(engine.start(SynthesisRequest::text("wideband")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(failure_of(&err), SynthesisFailure::UriFailure);
    assert!(
        err.message
            .contains("16000 Hz, expected 16-bit mono at 8000 Hz"),
        "{err}"
    );
    let doc = ssml::parse("<speak>Hello <audio src=\"welcome.wav\"/></speak>").unwrap();
    let err = engine.start(SynthesisRequest::ssml(doc)).unwrap_err();
    assert!(err.message.contains("cannot speak text"), "{err}");
    assert!(PromptFiles::new("prompts", PromptFilesConfig::new(dir.join("nope"))).is_err());
    let _ = std::fs::remove_dir_all(dir);
}
