//! The Azure Speech adapter against the Azure emulator (`vendor_emulators::azure`): the happy path, and
//! each failure a caller must survive, with the kind and message the server maps to Completion-Cause 006.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use asr_adapters::azure::{AzureAuth, AzureRecognizer, AzureSpeechConfig};
use asr_adapters::{
    CompiledGrammars, Constraint, EngineError, EngineErrorKind, RecognitionRequest, Recognizer,
    RecognizerEvent,
};
use mrcp_proto::engine::Secret;
use vendor_emulators::azure::{Fault, Script, stt};
use vendor_emulators::speech_audio::speech_like;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const DEADLINE: Duration = Duration::from_secs(15);

fn config(endpoint: String, key: &str) -> AzureSpeechConfig {
    let mut c = AzureSpeechConfig::new(endpoint, AzureAuth::SubscriptionKey(Secret::new(key)));
    c.result_timeout = Duration::from_millis(800);
    c.connect_timeout = Duration::from_millis(800);
    c
}

fn request(phrases: &[&str]) -> RecognitionRequest {
    RecognitionRequest {
        language: Some("en-US".into()),
        constraint: Constraint::Grammars(CompiledGrammars {
            jsgf: String::new(),
            words: Vec::new(),
            phrases: phrases.iter().map(|p| (*p).to_owned()).collect(),
        }),
        n_best: 2,
        vendor_parameters: Vec::new(),
    }
}

/// Half a second of silence, speech, half a second of silence at 16 kHz.
fn utterance(text: &str) -> Vec<i16> {
    let mut audio = vec![0i16; 8000];
    audio.extend(speech_like(text, 16_000));
    audio.extend(std::iter::repeat_n(0, 8000));
    audio
}

/// Streams `audio` in 20 ms frames, finishes, and collects events until the stream ends or fails.
async fn recognize(
    engine: &AzureRecognizer,
    audio: &[i16],
) -> Vec<Result<RecognizerEvent, EngineError>> {
    let mut stream = engine
        .start(request(&["yes please", "no thanks"]))
        .expect("start");
    let run = async {
        for frame in audio.chunks(320) {
            if stream.push(frame.to_vec()).await.is_err() {
                break;
            }
        }
        stream.finish();
        let mut events = Vec::new();
        while let Some(event) = stream.next_event().await {
            let end = !matches!(
                event,
                Ok(RecognizerEvent::Partial { .. }
                    | RecognizerEvent::SpeechStarted
                    | RecognizerEvent::SpeechEnded)
            );
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

#[tokio::test]
async fn speech_comes_back_as_partials_and_an_n_best_final() {
    let mut script = Script::new(KEY, "yes please");
    script.alternatives.push(("yes police".into(), 0.4));
    let emulator = stt::start(script).await.unwrap();
    let engine =
        AzureRecognizer::new("azure", config(format!("ws://{}", emulator.addr()), KEY)).unwrap();
    let events = recognize(&engine, &utterance("yes please")).await;
    assert!(
        events.contains(&Ok(RecognizerEvent::SpeechStarted)),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Ok(RecognizerEvent::Partial { text }) if text == "yes")),
        "{events:?}"
    );
    let Some(Ok(RecognizerEvent::Final(alternatives))) = events.last() else {
        panic!("no final: {events:?}");
    };
    assert_eq!(alternatives[0].text, "yes please");
    assert!((alternatives[0].confidence - 0.92).abs() < 1e-6);
    assert_eq!(alternatives[1].text, "yes police");
    wait_for("the adapter to close the stream after its final", || {
        emulator.log().client_closes == 1
    })
    .await;
    let log = emulator.log();
    assert_eq!(log.connections, 1);
    assert_eq!(log.phrases, vec!["yes please", "no thanks"]);
    assert!(log.audio_bytes >= 32_000, "audio reached the emulator");
}

/// Waits (bounded) for a condition on the emulator's log.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let poll = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(DEADLINE, poll)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test]
async fn dropping_the_stream_closes_the_vendor_connection() {
    let emulator = stt::start(Script::new(KEY, "yes")).await.unwrap();
    let engine =
        AzureRecognizer::new("azure", config(format!("ws://{}", emulator.addr()), KEY)).unwrap();
    let stream = engine.start(request(&[])).expect("start");
    for frame in utterance("yes").chunks(320).take(20) {
        stream.push(frame.to_vec()).await.unwrap();
    }
    wait_for("the connection", || emulator.log().audio_bytes > 0).await;
    drop(stream);
    wait_for("the adapter to close the connection on cancel", || {
        emulator.log().client_closes == 1
    })
    .await;
}

#[tokio::test]
async fn a_bearer_token_works_as_well_as_a_key() {
    let emulator = stt::start(Script::new(KEY, "no")).await.unwrap();
    let mut c = config(format!("ws://{}", emulator.addr()), KEY);
    c.auth = AzureAuth::BearerToken(Secret::new(KEY));
    let engine = AzureRecognizer::new("azure", c).unwrap();
    let events = recognize(&engine, &utterance("no")).await;
    assert!(
        matches!(events.last(), Some(Ok(RecognizerEvent::Final(a))) if a[0].text == "no"),
        "{events:?}"
    );
}

#[tokio::test]
async fn silence_gives_an_empty_final() {
    let emulator = stt::start(Script::new(KEY, "yes")).await.unwrap();
    let engine =
        AzureRecognizer::new("azure", config(format!("ws://{}", emulator.addr()), KEY)).unwrap();
    let events = recognize(&engine, &vec![0i16; 16_000]).await;
    assert_eq!(events.last(), Some(&Ok(RecognizerEvent::Final(Vec::new()))));
}

#[tokio::test]
async fn a_bad_key_is_an_auth_error_that_does_not_show_the_key() {
    let emulator = stt::start(Script::new(KEY, "yes")).await.unwrap();
    let engine = AzureRecognizer::new(
        "azure",
        config(format!("ws://{}", emulator.addr()), "wrong-key-wrong-key"),
    )
    .unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes")).await);
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
    assert!(error.message.contains("401"), "{error}");
    assert!(!error.to_string().contains("wrong-key"), "{error}");
    assert_eq!(emulator.log().refused, vec![401]);
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_reported() {
    let emulator = stt::start(Script::new(KEY, "yes").with_fault(Fault::Throttle(1)))
        .await
        .unwrap();
    let engine =
        AzureRecognizer::new("azure", config(format!("ws://{}", emulator.addr()), KEY)).unwrap();
    let events = recognize(&engine, &utterance("yes")).await;
    assert!(matches!(events.last(), Some(Ok(RecognizerEvent::Final(a))) if a[0].text == "yes"));
    assert_eq!(emulator.log().refused, vec![429]);

    let emulator = stt::start(Script::new(KEY, "yes").with_fault(Fault::Throttle(10)))
        .await
        .unwrap();
    let engine =
        AzureRecognizer::new("azure", config(format!("ws://{}", emulator.addr()), KEY)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes")).await);
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
    assert_eq!(emulator.log().refused.len(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_late_final_is_a_timeout() {
    let emulator =
        stt::start(Script::new(KEY, "yes").with_fault(Fault::Delay(Duration::from_secs(5))))
            .await
            .unwrap();
    let engine =
        AzureRecognizer::new("azure", config(format!("ws://{}", emulator.addr()), KEY)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes")).await);
    assert_eq!(error.kind, EngineErrorKind::Timeout, "{error}");
}

#[tokio::test]
async fn a_service_error_mid_stream_carries_the_service_reason() {
    let emulator = stt::start(Script::new(KEY, "yes please").with_fault(Fault::ErrorMidStream))
        .await
        .unwrap();
    let engine =
        AzureRecognizer::new("azure", config(format!("ws://{}", emulator.addr()), KEY)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes please")).await);
    assert!(
        error.message.contains("1011") && error.message.contains("Internal service error"),
        "{error}"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_unavailable() {
    let emulator = stt::start(Script::new(KEY, "yes").with_fault(Fault::Disconnect))
        .await
        .unwrap();
    let engine =
        AzureRecognizer::new("azure", config(format!("ws://{}", emulator.addr()), KEY)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes")).await);
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
}

#[tokio::test]
async fn a_handshake_that_never_completes_is_a_connect_timeout() {
    // A listener that accepts TCP and never answers the WebSocket handshake.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let engine = AzureRecognizer::new("azure", config(format!("ws://{addr}"), KEY)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes")).await);
    assert_eq!(error.kind, EngineErrorKind::Timeout, "{error}");
    assert!(error.message.contains("accept the connection"), "{error}");
}

#[tokio::test]
async fn an_unreachable_service_is_unavailable() {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let engine = AzureRecognizer::new("azure", config(format!("ws://{addr}"), KEY)).unwrap();
    let error = last_error(&recognize(&engine, &utterance("yes")).await);
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
}
