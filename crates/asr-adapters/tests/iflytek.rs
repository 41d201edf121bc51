//! The iFlytek IAT adapter against the iFlytek emulator (`vendor_emulators::iflytek`): signed handshake,
//! frames, dynamic correction, limits and each failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use asr_adapters::iflytek::{IflytekIatConfig, IflytekRecognizer};
use asr_adapters::{
    Constraint, EngineError, EngineErrorKind, RecognitionRequest, Recognizer, RecognizerEvent,
};
use mrcp_proto::engine::Secret;
use vendor_emulators::iflytek::{Emulator, Fault, Script};
use vendor_emulators::speech_audio::speech_like;

const APP: &str = "5f8a9b2c";
const KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const SECRET: &str = "ZmFrZS1zZWNyZXQtZm9yLXRoZS1lbXVs";
const DEADLINE: Duration = Duration::from_secs(15);

fn config(emulator: &Emulator, secret: &str) -> IflytekIatConfig {
    let mut c = IflytekIatConfig::new(
        emulator.iat_url(),
        APP,
        Secret::new(KEY),
        Secret::new(secret),
    );
    c.result_timeout = Duration::from_millis(800);
    c.connect_timeout = Duration::from_millis(800);
    c
}

fn utterance(text: &str) -> Vec<i16> {
    let mut audio = vec![0i16; 4000];
    audio.extend(speech_like(text, 8000));
    audio.extend(std::iter::repeat_n(0, 4000));
    audio
}

async fn recognize(
    engine: &IflytekRecognizer,
    audio: &[i16],
    finish: bool,
) -> Vec<Result<RecognizerEvent, EngineError>> {
    let mut stream = engine
        .start(RecognitionRequest {
            language: Some("en-US".into()),
            constraint: Constraint::Dictation,
            n_best: 1,
            vendor_parameters: Vec::new(),
        })
        .expect("start");
    let run = async {
        for frame in audio.chunks(160) {
            if stream.push(frame.to_vec()).await.is_err() {
                break;
            }
        }
        if finish {
            stream.finish();
        }
        let mut events = Vec::new();
        while let Some(event) = stream.next_event().await {
            let end = !matches!(event, Ok(RecognizerEvent::Partial { .. }));
            events.push(event);
            if end {
                break;
            }
        }
        events
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the recognition did not end in time")
}

fn last_error(events: &[Result<RecognizerEvent, EngineError>]) -> EngineError {
    match events.last() {
        Some(Err(e)) => e.clone(),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn final_text(events: &[Result<RecognizerEvent, EngineError>]) -> String {
    match events.last() {
        Some(Ok(RecognizerEvent::Final(a))) => {
            a.first().map(|a| a.text.clone()).unwrap_or_default()
        }
        other => panic!("expected a final, got {other:?}"),
    }
}

#[tokio::test]
async fn speech_comes_back_as_appended_partials_and_a_final() {
    let emulator = Emulator::start(Script::new(APP, KEY, SECRET, "yes please do"))
        .await
        .unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, SECRET)).unwrap();
    let events = recognize(&engine, &utterance("yes please do"), true).await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Ok(RecognizerEvent::Partial { text }) if text == "yes")),
        "{events:?}"
    );
    assert_eq!(final_text(&events), "yes please do");
    let log = emulator.log();
    assert_eq!(log.connections, 1);
    assert_eq!(log.business[0]["language"], "en_us");
    assert_eq!(log.business[0]["domain"], "iat");
    assert!(log.audio_bytes > 16_000);
}

#[tokio::test]
async fn dynamic_correction_replaces_earlier_results() {
    let emulator = Emulator::start(Script::new(APP, KEY, SECRET, "今天 天气 很好"))
        .await
        .unwrap();
    let mut c = config(&emulator, SECRET);
    c.dynamic_correction = true;
    let engine = IflytekRecognizer::new("xf", c).unwrap();
    let events = recognize(&engine, &utterance("今天天气很好"), true).await;
    let partials: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Ok(RecognizerEvent::Partial { text }) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(partials.len() >= 2, "{events:?}");
    assert_eq!(final_text(&events), "今天 天气 很好");
    assert_eq!(emulator.log().business[0]["dwa"], "wpgs");
}

#[tokio::test]
async fn a_bad_secret_is_refused_at_the_handshake() {
    let emulator = Emulator::start(Script::new(APP, KEY, SECRET, "yes"))
        .await
        .unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, "not-the-secret")).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes"), true).await);
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
    assert!(
        error.message.contains("HMAC signature does not match"),
        "{error}"
    );
    assert!(!error.message.contains("authorization="), "{error}");
    assert_eq!(emulator.log().refused[0].0, 401);
}

#[tokio::test]
async fn a_wrong_app_id_is_error_10313() {
    let emulator = Emulator::start(Script::new("other-app", KEY, SECRET, "yes"))
        .await
        .unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, SECRET)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes"), true).await);
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
    assert!(error.message.contains("10313"), "{error}");
}

#[tokio::test]
async fn a_vendor_error_mid_stream_carries_its_code_and_message() {
    let emulator = Emulator::start(Script::new(APP, KEY, SECRET, "yes please").with_fault(
        Fault::ErrorMidStream(11201, "licc limit: daily quota exceeded".into()),
    ))
    .await
    .unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, SECRET)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes please"), true).await);
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
    assert!(
        error.message.contains("11201") && error.message.contains("daily quota"),
        "{error}"
    );
}

#[tokio::test]
async fn a_late_final_is_a_timeout_and_a_drop_is_unavailable() {
    let emulator = Emulator::start(
        Script::new(APP, KEY, SECRET, "yes").with_fault(Fault::Delay(Duration::from_secs(5))),
    )
    .await
    .unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, SECRET)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes"), true).await);
    assert_eq!(error.kind, EngineErrorKind::Timeout, "{error}");

    let emulator =
        Emulator::start(Script::new(APP, KEY, SECRET, "yes").with_fault(Fault::Disconnect))
            .await
            .unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, SECRET)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes"), true).await);
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
}

#[tokio::test]
async fn the_idle_limit_ends_a_stalled_session_with_10200() {
    let mut script = Script::new(APP, KEY, SECRET, "yes");
    script.idle_timeout = Duration::from_millis(300);
    let emulator = Emulator::start(script).await.unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, SECRET)).unwrap();
    // Some silence, then nothing: the input is never finished.
    let error = last_error(&recognize(&engine, &vec![0i16; 1600], false).await);
    assert_eq!(error.kind, EngineErrorKind::Timeout, "{error}");
    assert!(error.message.contains("10200"), "{error}");
}

#[tokio::test]
async fn the_audio_limit_ends_the_session_with_a_final() {
    let mut script = Script::new(APP, KEY, SECRET, "yes please");
    script.max_audio = Duration::from_secs(1);
    let emulator = Emulator::start(script).await.unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, SECRET)).unwrap();
    let long: Vec<i16> = speech_like(&"yes please ".repeat(8), 8000);
    let events = recognize(&engine, &long, false).await;
    assert_eq!(final_text(&events), "yes please");
}

#[tokio::test]
async fn throttling_is_retried() {
    let emulator =
        Emulator::start(Script::new(APP, KEY, SECRET, "yes").with_fault(Fault::Throttle(2)))
            .await
            .unwrap();
    let engine = IflytekRecognizer::new("xf", config(&emulator, SECRET)).unwrap();
    let events = recognize(&engine, &utterance("yes"), true).await;
    assert_eq!(final_text(&events), "yes");
    assert_eq!(emulator.log().refused.len(), 2);
}
