//! The Azure TTS adapter against the Azure TTS emulator (`vendor_emulators::azure::tts`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mrcp_proto::engine::Secret;
use mrcp_proto::ssml;
use tts_adapters::azure::{AzureAuth, AzureSynthesizer, AzureTtsConfig, OutputFormat};
use tts_adapters::{EngineError, EngineErrorKind, SynthesisEvent, SynthesisRequest, Synthesizer};
use vendor_emulators::azure::{Emulator, Fault, Script, tts};

const KEY: &str = "0123456789abcdef0123456789abcdef";

async fn emulator(fault: Fault) -> Emulator {
    tts::start(Script::new(KEY, "").with_fault(fault))
        .await
        .unwrap()
}

fn engine(emulator: &Emulator, key: &str, format: OutputFormat) -> AzureSynthesizer {
    let mut c = AzureTtsConfig::new(
        format!("http://{}", emulator.addr()),
        AzureAuth::SubscriptionKey(Secret::new(key)),
    );
    c.output_format = format;
    c.read_timeout = Duration::from_millis(800);
    AzureSynthesizer::new("azure-tts", c).unwrap()
}

async fn speak(
    engine: &AzureSynthesizer,
    request: SynthesisRequest,
) -> Vec<Result<SynthesisEvent, EngineError>> {
    let mut stream = engine.start(request).expect("start");
    let collect = async {
        let mut events = Vec::new();
        while let Some(e) = stream.next_event().await {
            let end = !matches!(e, Ok(SynthesisEvent::Audio(_) | SynthesisEvent::Mark(_)));
            events.push(e);
            if end {
                break;
            }
        }
        events
    };
    tokio::time::timeout(Duration::from_secs(15), collect)
        .await
        .expect("the synthesis did not end in time")
}

fn samples(events: &[Result<SynthesisEvent, EngineError>]) -> Vec<i16> {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(SynthesisEvent::Audio(a)) => Some(a.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
}

#[tokio::test]
async fn text_comes_back_as_mulaw_audio_in_20_ms_frames() {
    let emu = emulator(Fault::None).await;
    let engine = engine(&emu, KEY, OutputFormat::Mulaw8k);
    assert_eq!(engine.capabilities().sample_rate, 8000);
    let events = speak(
        &engine,
        SynthesisRequest::text("Hello and welcome to the service"),
    )
    .await;
    assert_eq!(events.last(), Some(&Ok(SynthesisEvent::Done)));
    let audio = samples(&events);
    assert!(
        audio.len() > 8000,
        "at least a second of audio: {}",
        audio.len()
    );
    assert!(rms(&audio) > 300.0, "the audio carries sound");
    let frames = events
        .iter()
        .filter(|e| matches!(e, Ok(SynthesisEvent::Audio(a)) if a.len() == 160))
        .count();
    assert!(frames >= 50);
    let log = emu.log();
    assert_eq!(log.formats, vec!["raw-8khz-8bit-mono-mulaw"]);
    assert!(
        log.ssml[0].contains(
            "<voice name=\"en-US-AvaMultilingualNeural\">Hello and welcome to the service</voice>"
        ),
        "{}",
        log.ssml[0]
    );
}

#[tokio::test]
async fn pcm_16k_and_marks_between_requests() {
    let emu = emulator(Fault::None).await;
    let engine = engine(&emu, KEY, OutputFormat::Pcm16k);
    let doc = ssml::parse(
        r#"<speak xml:lang="en-US">First part <mark name="half"/> second part</speak>"#,
    )
    .unwrap();
    let events = speak(&engine, SynthesisRequest::ssml(doc)).await;
    let mark_at = events
        .iter()
        .position(|e| e == &Ok(SynthesisEvent::Mark("half".into())))
        .expect("mark");
    assert!(
        mark_at > 0 && mark_at < events.len() - 2,
        "audio on both sides of the mark"
    );
    assert_eq!(emu.log().ssml.len(), 2, "one request per part");
    assert!(rms(&samples(&events)) > 300.0);
}

#[tokio::test]
async fn a_bad_key_is_auth_and_throttling_is_retried() {
    let emu = emulator(Fault::None).await;
    let events = speak(
        &engine(&emu, "bad-key-bad-key", OutputFormat::Mulaw8k),
        SynthesisRequest::text("hi"),
    )
    .await;
    let Some(Err(error)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
    assert!(!error.to_string().contains("bad-key"));

    let emu = emulator(Fault::Throttle(2)).await;
    let events = speak(
        &engine(&emu, KEY, OutputFormat::Mulaw8k),
        SynthesisRequest::text("hi there"),
    )
    .await;
    assert_eq!(events.last(), Some(&Ok(SynthesisEvent::Done)));
    assert_eq!(emu.log().refused, vec![429, 429]);
}

#[tokio::test]
async fn a_body_broken_off_is_unavailable_and_a_slow_service_times_out() {
    let emu = emulator(Fault::ErrorMidStream).await;
    let events = speak(
        &engine(&emu, KEY, OutputFormat::Mulaw8k),
        SynthesisRequest::text("a longer prompt to break"),
    )
    .await;
    let Some(Err(error)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
    assert!(error.message.contains("broke off"), "{error}");
    assert!(
        !samples(&events).is_empty(),
        "audio before the break was delivered"
    );

    let emu = emulator(Fault::Delay(Duration::from_secs(5))).await;
    let events = speak(
        &engine(&emu, KEY, OutputFormat::Mulaw8k),
        SynthesisRequest::text("slow"),
    )
    .await;
    let Some(Err(error)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, EngineErrorKind::Timeout, "{error}");
}
