//! The OpenAI-compatible and Deepgram synthesizers against their emulators: audio streamed as it arrives at
//! the declared rate, marks in place, and the failures a SPEAK must report (Completion-Cause 004).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mrcp_proto::engine::Secret;
use tts_adapters::deepgram::{DeepgramSpeakConfig, DeepgramSpeech};
use tts_adapters::openai::{OpenAiSpeech, OpenAiSpeechConfig, SpeechFormat};
use tts_adapters::{EngineError, EngineErrorKind, SynthesisEvent, SynthesisRequest, Synthesizer};
use vendor_emulators::deepgram::{DeepgramEmulator, DeepgramEmulatorConfig};
use vendor_emulators::openai::control::{Faults, rms};
use vendor_emulators::openai::{OpenAiEmulator, OpenAiEmulatorConfig};

const DEADLINE: Duration = Duration::from_secs(10);

/// Every event until Done or an error.
async fn speak(
    engine: &dyn Synthesizer,
    request: SynthesisRequest,
) -> (Vec<SynthesisEvent>, Option<EngineError>) {
    let mut stream = engine.start(request).expect("start");
    let mut events = Vec::new();
    loop {
        let event = tokio::time::timeout(DEADLINE, stream.next_event())
            .await
            .expect("no Done or error from the synthesizer within the deadline");
        match event {
            Some(Ok(SynthesisEvent::Done)) => return (events, None),
            Some(Ok(e)) => events.push(e),
            Some(Err(e)) => return (events, Some(e)),
            None => panic!("the synthesizer ended without Done"),
        }
    }
}

fn audio(events: &[SynthesisEvent]) -> Vec<i16> {
    events
        .iter()
        .filter_map(|e| match e {
            SynthesisEvent::Audio(a) => Some(a.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

async fn openai() -> OpenAiEmulator {
    OpenAiEmulator::start(OpenAiEmulatorConfig::default())
        .await
        .expect("emulator")
}

fn openai_engine(emu: &OpenAiEmulator, key: &str, config: OpenAiSpeechConfig) -> OpenAiSpeech {
    OpenAiSpeech::new("openai", &emu.base_url(), Some(Secret::new(key)), config).expect("engine")
}

#[tokio::test]
async fn openai_pcm_streams_24k_frames() {
    let emu = openai().await;
    let engine = openai_engine(&emu, "sk-emulator-key", OpenAiSpeechConfig::default());
    assert_eq!(engine.capabilities().sample_rate, 24_000);
    let (events, error) = speak(
        &engine,
        SynthesisRequest::text("Your balance is ten dollars."),
    )
    .await;
    assert!(error.is_none(), "{error:?}");
    let samples = audio(&events);
    // 0.2 s + 60 ms per character, at 24 kHz.
    let expected = ((0.2 + 0.06 * 28.0) * 24_000.0) as usize;
    assert!(
        samples.len().abs_diff(expected) < 480,
        "{} vs {expected}",
        samples.len()
    );
    assert!(rms(&samples) > 1000.0, "the audio is not speech-like");
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, SynthesisEvent::Audio(a) if a.len() > 480))
    );
    assert_eq!(emu.stats().texts, ["Your balance is ten dollars."]);
}

#[tokio::test]
async fn openai_wav_marks_breaks_and_voice() {
    let emu = openai().await;
    let config = OpenAiSpeechConfig {
        response_format: SpeechFormat::Wav,
        ..OpenAiSpeechConfig::default()
    };
    let engine = openai_engine(&emu, "sk-emulator-key", config);
    let doc = mrcp_proto::ssml::parse(
        r#"<speak>Hello <mark name="half"/> world<break time="200ms"/></speak>"#,
    )
    .unwrap();
    let mut request = SynthesisRequest::ssml(doc);
    request.voice.name = Some("Nova".into());
    let (events, error) = speak(&engine, request).await;
    assert!(error.is_none(), "{error:?}");
    let mark = events
        .iter()
        .position(|e| e == &SynthesisEvent::Mark("half".into()))
        .expect("mark");
    assert!(
        mark > 0 && mark < events.len() - 1,
        "the mark sits between the two requests' audio"
    );
    // The 200 ms break is silence at the end, and no WAV header became samples.
    let samples = audio(&events);
    assert!(samples[samples.len() - 4800..].iter().all(|s| *s == 0));
    assert_eq!(emu.stats().texts, ["Hello", "world"]);
}

#[tokio::test]
async fn openai_bad_key_rate_limit_error_and_disconnect() {
    let emu = openai().await;
    let bad = openai_engine(&emu, "sk-bad", OpenAiSpeechConfig::default());
    let (_, error) = speak(&bad, SynthesisRequest::text("hi")).await;
    let error = error.expect("auth error");
    assert_eq!(error.kind, EngineErrorKind::Auth);
    assert!(
        error.message.contains("Incorrect API key") && !error.message.contains("sk-bad"),
        "{error}"
    );

    let good = openai_engine(&emu, "sk-emulator-key", OpenAiSpeechConfig::default());
    emu.set_faults(Faults {
        refuse: Some((429, 1)),
        ..Faults::default()
    });
    let (events, error) = speak(&good, SynthesisRequest::text("hi")).await;
    assert!(error.is_none() && !audio(&events).is_empty(), "{error:?}");

    emu.set_faults(Faults {
        error_after_speech: Some(Duration::ZERO),
        ..Faults::default()
    });
    let (_, error) = speak(&good, SynthesisRequest::text("hi")).await;
    let error = error.expect("server error");
    assert!(error.message.contains("HTTP 500"), "{error}");

    emu.set_faults(Faults {
        disconnect_after_speech: Some(Duration::ZERO),
        ..Faults::default()
    });
    let (events, error) = speak(&good, SynthesisRequest::text("a longer sentence to cut")).await;
    assert_eq!(
        error.expect("disconnect").kind,
        EngineErrorKind::Unavailable
    );
    assert!(
        !audio(&events).is_empty(),
        "audio before the cut was streamed"
    );
}

#[tokio::test]
async fn openai_slow_first_audio_times_out() {
    let emu = openai().await;
    emu.set_faults(Faults {
        first_result_delay: Duration::from_secs(3),
        ..Faults::default()
    });
    let config = OpenAiSpeechConfig {
        first_audio_timeout_ms: 300,
        ..OpenAiSpeechConfig::default()
    };
    let engine = openai_engine(&emu, "sk-emulator-key", config);
    let (_, error) = speak(&engine, SynthesisRequest::text("hi")).await;
    assert_eq!(error.expect("timeout").kind, EngineErrorKind::Timeout);
}

#[tokio::test]
async fn deepgram_streams_8k_linear16() {
    let emu = DeepgramEmulator::start(DeepgramEmulatorConfig::default())
        .await
        .expect("emulator");
    let engine = DeepgramSpeech::new(
        "deepgram",
        &emu.base_url(),
        Secret::new("dg-emulator-key"),
        DeepgramSpeakConfig::default(),
    )
    .unwrap();
    assert_eq!(engine.capabilities().sample_rate, 8000);
    let (events, error) = speak(&engine, SynthesisRequest::text("Please hold.")).await;
    assert!(error.is_none(), "{error:?}");
    let samples = audio(&events);
    let expected = ((0.2 + 0.06 * 12.0) * 8000.0) as usize;
    assert!(
        samples.len().abs_diff(expected) < 160,
        "{} vs {expected}",
        samples.len()
    );
    assert!(rms(&samples) > 1000.0);
}

#[tokio::test]
async fn deepgram_failures_are_reported() {
    let emu = DeepgramEmulator::start(DeepgramEmulatorConfig::default())
        .await
        .expect("emulator");
    let bad = DeepgramSpeech::new(
        "deepgram",
        &emu.base_url(),
        Secret::new("nope"),
        DeepgramSpeakConfig::default(),
    )
    .unwrap();
    let (_, error) = speak(&bad, SynthesisRequest::text("hi")).await;
    let error = error.expect("auth");
    assert_eq!(error.kind, EngineErrorKind::Auth);
    assert!(error.message.contains("INVALID_AUTH"), "{error}");

    let good = DeepgramSpeech::new(
        "deepgram",
        &emu.base_url(),
        Secret::new("dg-emulator-key"),
        DeepgramSpeakConfig::default(),
    )
    .unwrap();
    emu.set_faults(Faults {
        disconnect_after_speech: Some(Duration::ZERO),
        ..Faults::default()
    });
    let (_, error) = speak(&good, SynthesisRequest::text("a sentence that is cut off")).await;
    assert_eq!(
        error.expect("disconnect").kind,
        EngineErrorKind::Unavailable
    );

    // Over Deepgram's 2000 characters: cut into requests the emulator accepts.
    emu.set_faults(Faults::default());
    let long = "This is a sentence. ".repeat(150);
    let (_, error) = speak(&good, SynthesisRequest::text(long)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(emu.stats().texts.len(), 3);
}
