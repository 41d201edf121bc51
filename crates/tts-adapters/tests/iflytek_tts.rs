//! The iFlytek TTS adapter against the iFlytek emulator (`vendor_emulators::iflytek::tts`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mrcp_proto::engine::Secret;
use mrcp_proto::ssml;
use tts_adapters::iflytek::{IflytekSynthesizer, IflytekTtsConfig};
use tts_adapters::{EngineError, EngineErrorKind, SynthesisEvent, SynthesisRequest, Synthesizer};
use vendor_emulators::iflytek::{Emulator, Fault, Script};

const APP: &str = "5f8a9b2c";
const KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const SECRET: &str = "ZmFrZS1zZWNyZXQtZm9yLXRoZS1lbXVs";

async fn emulator(fault: Fault) -> Emulator {
    Emulator::start(Script::new(APP, KEY, SECRET, "").with_fault(fault))
        .await
        .unwrap()
}

fn engine(emu: &Emulator, secret: &str) -> IflytekSynthesizer {
    let mut c = IflytekTtsConfig::new(emu.tts_url(), APP, Secret::new(KEY), Secret::new(secret));
    c.read_timeout = Duration::from_millis(800);
    IflytekSynthesizer::new("xf-tts", c).unwrap()
}

async fn speak(
    engine: &IflytekSynthesizer,
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

fn audio_len(events: &[Result<SynthesisEvent, EngineError>]) -> usize {
    events
        .iter()
        .map(|e| match e {
            Ok(SynthesisEvent::Audio(a)) => a.len(),
            _ => 0,
        })
        .sum()
}

#[tokio::test]
async fn text_comes_back_as_pcm_with_silences_and_marks() {
    let emu = emulator(Fault::None).await;
    let engine = engine(&emu, SECRET);
    let doc =
        ssml::parse(r#"<speak>你好 <break time="500ms"/> 欢迎 <mark name="m"/> 再见</speak>"#)
            .unwrap();
    let events = speak(&engine, SynthesisRequest::ssml(doc)).await;
    assert_eq!(events.last(), Some(&Ok(SynthesisEvent::Done)));
    assert!(events.contains(&Ok(SynthesisEvent::Mark("m".into()))));
    assert!(
        audio_len(&events) > 4000 + 3 * 2400,
        "speech plus the 500 ms break"
    );
    assert_eq!(emu.log().texts, vec!["你好", "欢迎", "再见"]);
}

#[tokio::test]
async fn a_bad_secret_is_auth_and_a_vendor_error_keeps_its_code() {
    let emu = emulator(Fault::None).await;
    let events = speak(&engine(&emu, "wrong"), SynthesisRequest::text("hello")).await;
    let Some(Err(error)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, EngineErrorKind::Auth, "{error}");

    let emu = emulator(Fault::ErrorMidStream(10163, "param validate error".into())).await;
    let events = speak(
        &engine(&emu, SECRET),
        SynthesisRequest::text("a somewhat longer sentence to synthesize"),
    )
    .await;
    let Some(Err(error)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, EngineErrorKind::BadRequest, "{error}");
    assert!(error.message.contains("10163"), "{error}");
}

#[tokio::test]
async fn a_dropped_connection_is_unavailable() {
    let emu = emulator(Fault::Disconnect).await;
    let events = speak(&engine(&emu, SECRET), SynthesisRequest::text("hello")).await;
    let Some(Err(error)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
}

#[tokio::test]
async fn text_over_the_documented_limit_is_refused_up_front() {
    let emu = emulator(Fault::None).await;
    let long = "天".repeat(3000); // 9000 bytes of UTF-8
    let error = engine(&emu, SECRET)
        .start(SynthesisRequest::text(long))
        .expect_err("over 8000 bytes");
    assert_eq!(error.kind, EngineErrorKind::BadRequest, "{error}");
    assert!(error.message.contains("8000"), "{error}");
    assert_eq!(emu.log().connections, 0, "nothing was sent");
}
