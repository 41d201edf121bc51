//! The Deepgram live recognizer against the Deepgram emulator: the happy path (interim results, VAD
//! events, Finalize then CloseStream), μ-law, Deepgram's own endpointing, KeepAlive, and every failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use asr_adapters::deepgram::{DeepgramEncoding, DeepgramListenConfig, DeepgramRecognizer};
use asr_adapters::{EngineErrorKind, Recognizer, RecognizerEvent};
use common::{read, recognize, utterance, yes_no};
use mrcp_proto::engine::Secret;
use vendor_emulators::deepgram::{DeepgramEmulator, DeepgramEmulatorConfig};
use vendor_emulators::openai::control::Faults;

async fn emulator(config: DeepgramEmulatorConfig) -> DeepgramEmulator {
    DeepgramEmulator::start(config)
        .await
        .expect("start the emulator")
}

fn transcript(text: &str) -> DeepgramEmulatorConfig {
    DeepgramEmulatorConfig {
        transcripts: vec![text.to_owned()],
        ..DeepgramEmulatorConfig::default()
    }
}

fn engine(emu: &DeepgramEmulator, config: DeepgramListenConfig) -> DeepgramRecognizer {
    let key = Secret::new(DeepgramEmulatorConfig::default().api_key);
    DeepgramRecognizer::new("deepgram", &emu.base_url(), key, config).expect("engine")
}

#[tokio::test]
async fn live_stream_gives_partials_vad_and_the_final_transcript() {
    let emu = emulator(transcript("book a flight to paris")).await;
    let dg = engine(&emu, DeepgramListenConfig::default());
    let out = recognize(&dg, yes_no(), &utterance(8000), true).await;
    assert_eq!(
        out.final_texts(),
        Some(vec!["book a flight to paris".to_owned()]),
        "{out:?}"
    );
    assert!(
        out.events.contains(&RecognizerEvent::SpeechStarted),
        "{out:?}"
    );
    let partials = out.partials();
    assert!(
        partials.first().is_some_and(|p| p == "book"),
        "{partials:?}"
    );
    let stats = emu.stats();
    assert_eq!(stats.sessions, 1);
    assert_eq!(stats.audio_bytes, 2 * 8000 * 22 / 10, "2.2 s of linear16");
    assert!(stats.voiced_ms >= 500, "{}", stats.voiced_ms);
    assert!(
        stats
            .control
            .ends_with(&["Finalize".to_owned(), "CloseStream".to_owned()]),
        "{:?}",
        stats.control
    );
}

#[tokio::test]
async fn mulaw_sends_one_byte_per_sample() {
    let emu = emulator(transcript("yes")).await;
    let config = DeepgramListenConfig {
        encoding: DeepgramEncoding::Mulaw,
        ..DeepgramListenConfig::default()
    };
    let dg = engine(&emu, config);
    let out = recognize(&dg, yes_no(), &utterance(8000), true).await;
    assert_eq!(out.final_texts(), Some(vec!["yes".to_owned()]), "{out:?}");
    assert_eq!(emu.stats().audio_bytes, 8000 * 22 / 10);
}

#[tokio::test]
async fn speech_cut_by_the_end_of_input_is_flushed_by_finalize() {
    let emu = emulator(transcript("no")).await;
    let dg = engine(&emu, DeepgramListenConfig::default());
    // The input ends in the middle of speech: only Finalize can make it final.
    let audio: Vec<i16> = utterance(8000).into_iter().take(8000).collect();
    let out = recognize(&dg, yes_no(), &audio, true).await;
    assert_eq!(out.final_texts(), Some(vec!["no".to_owned()]), "{out:?}");
    assert_eq!(emu.stats().finals_sent.len(), 1);
}

#[tokio::test]
async fn vendor_endpointing_ends_without_the_end_of_input() {
    let emu = emulator(transcript("yes")).await;
    let config = DeepgramListenConfig {
        vendor_endpointing: true,
        ..DeepgramListenConfig::default()
    };
    let dg = engine(&emu, config);
    let out = recognize(&dg, yes_no(), &utterance(8000), false).await;
    assert_eq!(out.final_texts(), Some(vec!["yes".to_owned()]), "{out:?}");
}

#[tokio::test]
async fn silence_is_no_result() {
    let emu = emulator(transcript("yes")).await;
    let dg = engine(&emu, DeepgramListenConfig::default());
    let out = recognize(&dg, yes_no(), &vec![0; 16_000], true).await;
    assert_eq!(out.final_texts(), Some(vec![]), "{out:?}");
}

#[tokio::test]
async fn keepalive_holds_a_quiet_stream_open() {
    let emu = emulator(DeepgramEmulatorConfig {
        idle_timeout: Duration::from_millis(400),
        ..transcript("yes")
    })
    .await;
    let config = DeepgramListenConfig {
        keepalive_ms: 100,
        ..DeepgramListenConfig::default()
    };
    let dg = engine(&emu, config);
    let mut stream = dg.start(yes_no()).expect("start");
    for frame in utterance(8000).chunks(160) {
        stream.push(frame.to_vec()).await.unwrap();
    }
    // No audio for three idle timeouts: only KeepAlive keeps Deepgram from closing with NET-0001.
    let quiet = tokio::time::timeout(Duration::from_millis(1200), async {
        loop {
            match stream.next_event().await {
                Some(Ok(RecognizerEvent::Final(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "the stream ended while quiet");
    stream.finish();
    let out = read(&mut stream).await;
    assert_eq!(out.final_texts(), Some(vec!["yes".to_owned()]), "{out:?}");
    assert!(emu.stats().control.iter().any(|c| c == "KeepAlive"));
}

#[tokio::test]
async fn without_keepalive_deepgram_closes_with_net_0001() {
    let emu = emulator(DeepgramEmulatorConfig {
        idle_timeout: Duration::from_millis(300),
        ..transcript("yes")
    })
    .await;
    let config = DeepgramListenConfig {
        keepalive_ms: 60_000,
        ..DeepgramListenConfig::default()
    };
    let dg = engine(&emu, config);
    let mut stream = dg.start(yes_no()).expect("start");
    stream.push(vec![0; 160]).await.unwrap();
    let out = read(&mut stream).await;
    let error = out.error();
    assert_eq!(error.kind, EngineErrorKind::Unavailable);
    assert!(
        error.message.contains("1011") && error.message.contains("NET-0001"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_key_is_an_auth_error() {
    let emu = emulator(transcript("yes")).await;
    let dg = DeepgramRecognizer::new(
        "deepgram",
        &emu.base_url(),
        Secret::new("wrong-key-5678"),
        DeepgramListenConfig::default(),
    )
    .unwrap();
    let out = recognize(&dg, yes_no(), &utterance(8000), true).await;
    let error = out.error();
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
    assert!(
        error.message.contains("INVALID_AUTH") && !error.message.contains("wrong-key"),
        "{error}"
    );
    assert_eq!(emu.stats().auth_failures, 1);
}

#[tokio::test]
async fn handshake_429_is_retried() {
    let emu = emulator(transcript("yes")).await;
    emu.set_faults(Faults {
        refuse: Some((429, 2)),
        ..Faults::default()
    });
    let dg = engine(&emu, DeepgramListenConfig::default());
    let out = recognize(&dg, yes_no(), &utterance(8000), true).await;
    assert_eq!(out.final_texts(), Some(vec!["yes".to_owned()]), "{out:?}");
    assert_eq!(emu.stats().refused, 2);
}

#[tokio::test]
async fn vendor_error_mid_stream_carries_its_reason() {
    let emu = emulator(transcript("yes")).await;
    emu.set_faults(Faults {
        error_after_speech: Some(Duration::from_millis(200)),
        ..Faults::default()
    });
    let dg = engine(&emu, DeepgramListenConfig::default());
    let out = recognize(&dg, yes_no(), &utterance(8000), true).await;
    let error = out.error();
    assert_eq!(error.kind, EngineErrorKind::Unavailable);
    assert!(error.message.contains("NET-0000"), "{error}");
}

#[tokio::test]
async fn disconnect_is_unavailable() {
    let emu = emulator(transcript("yes")).await;
    emu.set_faults(Faults {
        disconnect_after_speech: Some(Duration::from_millis(200)),
        ..Faults::default()
    });
    let dg = engine(&emu, DeepgramListenConfig::default());
    let out = recognize(&dg, yes_no(), &utterance(8000), true).await;
    assert_eq!(
        out.error().kind,
        EngineErrorKind::Unavailable,
        "{}",
        out.error()
    );
}

#[tokio::test]
async fn slow_final_times_out() {
    let emu = emulator(transcript("yes")).await;
    emu.set_faults(Faults {
        first_result_delay: Duration::from_secs(3),
        ..Faults::default()
    });
    let config = DeepgramListenConfig {
        result_timeout_ms: 300,
        vad_events: false,
        interim_results: false,
        ..DeepgramListenConfig::default()
    };
    let dg = engine(&emu, config);
    let out = recognize(&dg, yes_no(), &utterance(8000), true).await;
    assert_eq!(
        out.error().kind,
        EngineErrorKind::Timeout,
        "{}",
        out.error()
    );
}

#[tokio::test]
async fn a_dropped_recognition_closes_the_vendor_stream() {
    let emu = emulator(transcript("yes")).await;
    let dg = engine(&emu, DeepgramListenConfig::default());
    let stream = dg.start(yes_no()).expect("start");
    for frame in utterance(8000).chunks(160).take(25) {
        stream.push(frame.to_vec()).await.unwrap();
    }
    // STOP: the server drops its end; Deepgram must hear CloseStream rather than a vanished socket.
    drop(stream);
    tokio::time::timeout(common::DEADLINE, async {
        while !emu.stats().control.iter().any(|c| c == "CloseStream") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("no CloseStream after the recognition was dropped");
    assert!(!emu.stats().control.iter().any(|c| c == "Finalize"));
}
