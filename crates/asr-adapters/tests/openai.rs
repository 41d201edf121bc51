//! The OpenAI-compatible recognizers against the OpenAI emulator: REST transcription and Realtime
//! transcription, on the happy path and on every failure the adapters must map.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use asr_adapters::EngineErrorKind;
use asr_adapters::openai::{
    OpenAiRealtime, OpenAiRealtimeConfig, OpenAiTranscriber, OpenAiTranscriptionConfig,
    RealtimeAudioFormat,
};
use common::{recognize, utterance, yes_no};
use mrcp_proto::engine::Secret;
use vendor_emulators::openai::control::Faults;
use vendor_emulators::openai::{OpenAiEmulator, OpenAiEmulatorConfig};

async fn emulator(transcript: &str) -> OpenAiEmulator {
    OpenAiEmulator::start(OpenAiEmulatorConfig {
        transcripts: vec![transcript.to_owned()],
        ..OpenAiEmulatorConfig::default()
    })
    .await
    .expect("start the emulator")
}

fn key() -> Option<Secret> {
    Some(Secret::new(OpenAiEmulatorConfig::default().api_key))
}

fn rest(
    emu: &OpenAiEmulator,
    key: Option<Secret>,
    config: OpenAiTranscriptionConfig,
) -> OpenAiTranscriber {
    OpenAiTranscriber::new("openai", &emu.base_url(), key, config).expect("engine")
}

fn realtime(
    emu: &OpenAiEmulator,
    key: Option<Secret>,
    config: OpenAiRealtimeConfig,
) -> OpenAiRealtime {
    OpenAiRealtime::new("openai-rt", &emu.base_url(), key, config)
}

#[tokio::test]
async fn rest_uploads_the_utterance_and_returns_the_transcript() {
    let emu = emulator("yes please").await;
    let engine = rest(&emu, key(), OpenAiTranscriptionConfig::default());
    let out = recognize(&engine, yes_no(), &utterance(16_000), true).await;
    assert_eq!(
        out.final_texts(),
        Some(vec!["yes please".to_owned()]),
        "{out:?}"
    );
    let stats = emu.stats();
    assert_eq!(stats.sessions, 1);
    assert!(
        stats.voiced_ms >= 500,
        "the emulator heard {} ms of speech",
        stats.voiced_ms
    );
}

#[tokio::test]
async fn rest_verbose_json_gives_a_confidence() {
    let emu = emulator("no").await;
    let config = OpenAiTranscriptionConfig {
        response_format: "verbose_json".into(),
        sample_rate: 8000,
        ..OpenAiTranscriptionConfig::default()
    };
    let engine = rest(&emu, key(), config);
    let out = recognize(&engine, yes_no(), &utterance(8000), true).await;
    let confidence = out.events.iter().find_map(|e| match e {
        asr_adapters::RecognizerEvent::Final(a) => a.first().map(|a| a.confidence),
        _ => None,
    });
    assert!(
        confidence.is_some_and(|c| (c - (-0.05f32).exp()).abs() < 1e-3),
        "{out:?}"
    );
}

#[tokio::test]
async fn rest_silence_is_no_result() {
    let emu = emulator("yes").await;
    let engine = rest(&emu, key(), OpenAiTranscriptionConfig::default());
    let out = recognize(&engine, yes_no(), &vec![0; 16_000], true).await;
    assert_eq!(out.final_texts(), Some(vec![]), "{out:?}");
}

#[tokio::test]
async fn rest_bad_key_is_an_auth_error_without_the_key() {
    let emu = emulator("yes").await;
    let engine = rest(
        &emu,
        Some(Secret::new("sk-wrong-key-1234")),
        OpenAiTranscriptionConfig::default(),
    );
    let out = recognize(&engine, yes_no(), &utterance(16_000), true).await;
    let error = out.error();
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
    assert!(
        error.message.contains("401") && error.message.contains("Incorrect API key"),
        "{error}"
    );
    assert!(!error.to_string().contains("sk-wrong-key"), "{error}");
}

#[tokio::test]
async fn rest_429_is_retried() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        refuse: Some((429, 2)),
        ..Faults::default()
    });
    let engine = rest(&emu, key(), OpenAiTranscriptionConfig::default());
    let out = recognize(&engine, yes_no(), &utterance(16_000), true).await;
    assert_eq!(out.final_texts(), Some(vec!["yes".to_owned()]), "{out:?}");
    assert_eq!(emu.stats().refused, 2);
}

#[tokio::test]
async fn rest_503_beyond_the_retries_is_unavailable() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        refuse: Some((503, 10)),
        ..Faults::default()
    });
    let config = OpenAiTranscriptionConfig {
        max_retries: 1,
        ..OpenAiTranscriptionConfig::default()
    };
    let engine = rest(&emu, key(), config);
    let out = recognize(&engine, yes_no(), &utterance(16_000), true).await;
    assert_eq!(
        out.error().kind,
        EngineErrorKind::Unavailable,
        "{}",
        out.error()
    );
    assert_eq!(emu.stats().refused, 2);
}

#[tokio::test]
async fn rest_slow_vendor_times_out() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        first_result_delay: Duration::from_secs(3),
        ..Faults::default()
    });
    let config = OpenAiTranscriptionConfig {
        result_timeout_ms: 300,
        ..OpenAiTranscriptionConfig::default()
    };
    let engine = rest(&emu, key(), config);
    let out = recognize(&engine, yes_no(), &utterance(16_000), true).await;
    assert_eq!(
        out.error().kind,
        EngineErrorKind::Timeout,
        "{}",
        out.error()
    );
}

#[tokio::test]
async fn rest_vendor_error_carries_its_message() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        error_after_speech: Some(Duration::ZERO),
        ..Faults::default()
    });
    let engine = rest(&emu, key(), OpenAiTranscriptionConfig::default());
    let out = recognize(&engine, yes_no(), &utterance(16_000), true).await;
    let error = out.error();
    assert_eq!(error.kind, EngineErrorKind::Internal);
    assert!(
        error.message.contains("HTTP 500") && error.message.contains("server had an error"),
        "{error}"
    );
}

#[tokio::test]
async fn rest_disconnect_mid_response_is_unavailable() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        disconnect_after_speech: Some(Duration::ZERO),
        ..Faults::default()
    });
    let engine = rest(&emu, key(), OpenAiTranscriptionConfig::default());
    let out = recognize(&engine, yes_no(), &utterance(16_000), true).await;
    assert_eq!(
        out.error().kind,
        EngineErrorKind::Unavailable,
        "{}",
        out.error()
    );
}

#[tokio::test]
async fn rest_unreachable_server_is_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let engine =
        OpenAiTranscriber::new("openai", &url, key(), OpenAiTranscriptionConfig::default())
            .unwrap();
    let out = recognize(&engine, yes_no(), &utterance(16_000), true).await;
    let error = out.error();
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
    assert!(error.message.contains("cannot connect"), "{error}");
}

#[tokio::test]
async fn realtime_streams_partials_then_the_transcript() {
    let emu = emulator("yes please").await;
    let engine = realtime(&emu, key(), OpenAiRealtimeConfig::default());
    let out = recognize(&engine, yes_no(), &utterance(24_000), true).await;
    assert_eq!(
        out.final_texts(),
        Some(vec!["yes please".to_owned()]),
        "{out:?}"
    );
    assert_eq!(out.partials(), ["yes", "yes please"], "{out:?}");
    let stats = emu.stats();
    assert_eq!(
        stats.control,
        ["session.update", "input_audio_buffer.commit"]
    );
    // 1.2 s of 24 kHz 16-bit audio went over the socket.
    assert!(stats.audio_bytes >= 24_000 * 2, "{}", stats.audio_bytes);
}

#[tokio::test]
async fn realtime_pcmu_sends_the_call_rate() {
    let emu = emulator("no").await;
    let config = OpenAiRealtimeConfig {
        audio_format: RealtimeAudioFormat::Pcmu,
        ..OpenAiRealtimeConfig::default()
    };
    let engine = realtime(&emu, key(), config);
    assert_eq!(
        asr_adapters::Recognizer::capabilities(&engine).sample_rate,
        8000
    );
    let out = recognize(&engine, yes_no(), &utterance(8000), true).await;
    assert_eq!(out.final_texts(), Some(vec!["no".to_owned()]), "{out:?}");
    // μ-law: one byte per sample.
    let bytes = emu.stats().audio_bytes;
    assert_eq!(bytes, 17_600, "2.2 s at one byte per sample");
}

#[tokio::test]
async fn realtime_under_100_ms_is_no_result_without_a_commit() {
    let emu = emulator("yes").await;
    let engine = realtime(&emu, key(), OpenAiRealtimeConfig::default());
    let out = recognize(&engine, yes_no(), &vec![0; 480], true).await;
    assert_eq!(out.final_texts(), Some(vec![]), "{out:?}");
    assert!(
        !emu.stats()
            .control
            .iter()
            .any(|c| c == "input_audio_buffer.commit")
    );
}

#[tokio::test]
async fn realtime_bad_key_is_refused_at_the_handshake() {
    let emu = emulator("yes").await;
    let engine = realtime(
        &emu,
        Some(Secret::new("sk-nope-9999")),
        OpenAiRealtimeConfig::default(),
    );
    let out = recognize(&engine, yes_no(), &utterance(24_000), true).await;
    let error = out.error();
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");
    assert!(
        error.message.contains("invalid_api_key") && !error.message.contains("sk-nope"),
        "{error}"
    );
}

#[tokio::test]
async fn realtime_handshake_429_is_retried() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        refuse: Some((429, 1)),
        ..Faults::default()
    });
    let engine = realtime(&emu, key(), OpenAiRealtimeConfig::default());
    let out = recognize(&engine, yes_no(), &utterance(24_000), true).await;
    assert_eq!(out.final_texts(), Some(vec!["yes".to_owned()]), "{out:?}");
    assert_eq!(emu.stats().refused, 1);
}

#[tokio::test]
async fn realtime_vendor_error_mid_stream_ends_the_recognition() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        error_after_speech: Some(Duration::from_millis(200)),
        ..Faults::default()
    });
    let engine = realtime(&emu, key(), OpenAiRealtimeConfig::default());
    let out = recognize(&engine, yes_no(), &utterance(24_000), true).await;
    let error = out.error();
    assert!(error.message.contains("server had an error"), "{error}");
}

#[tokio::test]
async fn realtime_disconnect_is_unavailable() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        disconnect_after_speech: Some(Duration::from_millis(200)),
        ..Faults::default()
    });
    let engine = realtime(&emu, key(), OpenAiRealtimeConfig::default());
    let out = recognize(&engine, yes_no(), &utterance(24_000), true).await;
    assert_eq!(
        out.error().kind,
        EngineErrorKind::Unavailable,
        "{}",
        out.error()
    );
}

#[tokio::test]
async fn realtime_slow_transcript_times_out() {
    let emu = emulator("yes").await;
    emu.set_faults(Faults {
        first_result_delay: Duration::from_secs(3),
        ..Faults::default()
    });
    let config = OpenAiRealtimeConfig {
        result_timeout_ms: 300,
        ..OpenAiRealtimeConfig::default()
    };
    let engine = realtime(&emu, key(), config);
    let out = recognize(&engine, yes_no(), &utterance(24_000), true).await;
    assert_eq!(
        out.error().kind,
        EngineErrorKind::Timeout,
        "{}",
        out.error()
    );
}
