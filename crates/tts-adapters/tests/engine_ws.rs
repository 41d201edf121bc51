//! The engine-ws synthesizers (WebSocket and HTTP) against the reference engine (`engine_check::reference`)
//! on loopback: the happy path with marks, and each failure (refused credential, timeout, disconnect
//! mid-stream, the engine's error), plus `stop` on drop seen by a raw WebSocket server.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use engine_check::reference::{Behaviour, Fault, ReferenceEngine};
use futures_util::StreamExt;
use mrcp_proto::engine::Secret;
use tts_adapters::engine_ws::{EngineWsSynthesizer, EngineWsTtsConfig, HttpSynthesizer};
use tts_adapters::{EngineError, EngineErrorKind, SynthesisEvent, SynthesisRequest, Synthesizer};

const DEADLINE: Duration = Duration::from_secs(10);

fn config(url: String) -> EngineWsTtsConfig {
    EngineWsTtsConfig {
        connect_timeout: Duration::from_millis(500),
        result_timeout: Duration::from_millis(500),
        ..EngineWsTtsConfig::new(url)
    }
}

fn ssml_request() -> SynthesisRequest {
    let doc = mrcp_proto::ssml::parse(
        r#"<speak version="1.0" xml:lang="en-US">Hello there. <mark name="m1"/> Goodbye now.</speak>"#,
    )
    .unwrap();
    SynthesisRequest::ssml(doc)
}

/// Runs a synthesis to its end: the events before the end, and how it ended.
async fn speak(
    engine: &dyn Synthesizer,
    request: SynthesisRequest,
) -> (Vec<SynthesisEvent>, Result<(), EngineError>) {
    let mut stream = engine.start(request).expect("start");
    let run = async {
        let mut seen = Vec::new();
        while let Some(event) = stream.next_event().await {
            match event {
                Ok(SynthesisEvent::Done) => return (seen, Ok(())),
                Ok(other) => seen.push(other),
                Err(error) => return (seen, Err(error)),
            }
        }
        panic!("the stream ended without done or an error");
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("no end from the synthesizer")
}

fn audio_ms(events: &[SynthesisEvent], rate: usize) -> usize {
    events
        .iter()
        .map(|e| match e {
            SynthesisEvent::Audio(a) => a.len(),
            _ => 0,
        })
        .sum::<usize>()
        * 1000
        / rate
}

#[tokio::test]
async fn websocket_synthesis_streams_frames_and_marks_in_place() {
    let engine = ReferenceEngine::start(Behaviour::default().with_token("k"))
        .await
        .unwrap();
    let mut cfg = config(engine.tts_url());
    cfg.credential = Some(Secret::new("k"));
    let synth = EngineWsSynthesizer::new("ref", cfg).unwrap();
    assert!(synth.capabilities().reports_marks);
    let (events, end) = speak(&synth, ssml_request()).await;
    end.unwrap();
    let mark = events
        .iter()
        .position(|e| *e == SynthesisEvent::Mark("m1".into()))
        .expect("no mark");
    assert!(
        mark > 0 && mark < events.len() - 1,
        "mark at {mark} of {}",
        events.len()
    );
    // Every frame is 20 ms at 16 kHz but the last before the mark and the last of all.
    let short = events
        .iter()
        .filter(|e| matches!(e, SynthesisEvent::Audio(a) if a.len() != 320))
        .count();
    assert!(short <= 2, "{short} short frames");
    assert!(audio_ms(&events, 16_000) > 500);
}

#[tokio::test]
async fn http_synthesis_streams_the_body() {
    let engine = ReferenceEngine::start(Behaviour::default()).await.unwrap();
    let mut cfg = config(engine.http_url());
    cfg.sample_rate = 8000;
    let synth = HttpSynthesizer::new("ref-http", cfg).unwrap();
    assert!(!synth.capabilities().reports_marks);
    let (events, end) = speak(
        &synth,
        SynthesisRequest::text("Hello from the HTTP engine."),
    )
    .await;
    end.unwrap();
    assert!(audio_ms(&events, 8000) > 500);
    assert!(
        events
            .iter()
            .all(|e| matches!(e, SynthesisEvent::Audio(a) if a.len() <= 160))
    );
    let (events, end) = speak(&synth, ssml_request()).await;
    end.unwrap();
    assert!(!events.is_empty());
}

#[tokio::test]
async fn refused_credentials_are_auth_errors() {
    let engine = ReferenceEngine::start(Behaviour::default().with_token("right"))
        .await
        .unwrap();
    for (synth, what) in [
        (
            Box::new(
                EngineWsSynthesizer::new("ws", with_key(config(engine.tts_url()), "nope-42"))
                    .unwrap(),
            ) as Box<dyn Synthesizer>,
            "ws",
        ),
        (
            Box::new(
                HttpSynthesizer::new("http", with_key(config(engine.http_url()), "nope-42"))
                    .unwrap(),
            ),
            "http",
        ),
    ] {
        let (_, end) = speak(synth.as_ref(), SynthesisRequest::text("hi")).await;
        let error = end.unwrap_err();
        assert_eq!(error.kind, EngineErrorKind::Auth, "{what}: {error}");
        assert!(!error.to_string().contains("nope-42"), "{what}: {error}");
    }
}

fn with_key(mut cfg: EngineWsTtsConfig, key: &str) -> EngineWsTtsConfig {
    cfg.credential = Some(Secret::new(key));
    cfg
}

#[tokio::test]
async fn hanging_engines_time_out() {
    let engine = ReferenceEngine::start(Behaviour::default().with_fault(Fault::Hang))
        .await
        .unwrap();
    let ws = EngineWsSynthesizer::new("ws", config(engine.tts_url())).unwrap();
    let (_, end) = speak(&ws, SynthesisRequest::text("hi")).await;
    assert_eq!(end.unwrap_err().kind, EngineErrorKind::Timeout);
    let http = HttpSynthesizer::new("http", config(engine.http_url())).unwrap();
    let (_, end) = speak(&http, SynthesisRequest::text("hi")).await;
    assert_eq!(end.unwrap_err().kind, EngineErrorKind::Timeout);
}

#[tokio::test]
async fn disconnects_mid_stream_fail_after_the_audio_so_far() {
    let engine =
        ReferenceEngine::start(Behaviour::default().with_fault(Fault::DisconnectAfterFrames(5)))
            .await
            .unwrap();
    let ws = EngineWsSynthesizer::new("ws", config(engine.tts_url())).unwrap();
    let (events, end) = speak(
        &ws,
        SynthesisRequest::text("A sentence long enough for many frames."),
    )
    .await;
    let error = end.unwrap_err();
    assert_eq!(error.kind, EngineErrorKind::Unavailable, "{error}");
    assert_eq!(events.len(), 5);
    let http = HttpSynthesizer::new("http", config(engine.http_url())).unwrap();
    let (_, end) = speak(
        &http,
        SynthesisRequest::text("A sentence long enough for many frames."),
    )
    .await;
    assert_eq!(end.unwrap_err().kind, EngineErrorKind::Unavailable);
}

#[tokio::test]
async fn the_engines_error_comes_back_with_its_message() {
    let fault = Fault::ErrorAfterFrames {
        frames: 2,
        kind: "bad_request".into(),
        message: "language-unsupported: no voice for xx".into(),
    };
    let engine = ReferenceEngine::start(Behaviour::default().with_fault(fault))
        .await
        .unwrap();
    let ws = EngineWsSynthesizer::new("ws", config(engine.tts_url())).unwrap();
    let (_, end) = speak(&ws, SynthesisRequest::text("Hello there, how are you?")).await;
    let error = end.unwrap_err();
    assert_eq!(error.kind, EngineErrorKind::BadRequest);
    assert_eq!(
        tts_adapters::failure_of(&error),
        tts_adapters::SynthesisFailure::LanguageUnsupported
    );
    let http = HttpSynthesizer::new("http", config(engine.http_url())).unwrap();
    let (_, end) = speak(&http, SynthesisRequest::text("Hello")).await;
    let error = end.unwrap_err();
    assert_eq!(error.kind, EngineErrorKind::BadRequest);
    assert_eq!(error.message, "language-unsupported: no voice for xx");
}

#[test]
fn urls_must_match_the_transport() {
    assert!(EngineWsSynthesizer::new("x", EngineWsTtsConfig::new("http://h/tts")).is_err());
    assert!(HttpSynthesizer::new("x", EngineWsTtsConfig::new("ws://h/tts")).is_err());
}

/// Dropping the stream sends `stop` and closes: seen from a raw WebSocket server.
#[tokio::test]
async fn dropping_the_stream_sends_stop() {
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("ws://{}/tts", listener.local_addr().unwrap());
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::channel::<String>(64);
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
        while let Some(Ok(message)) = ws.next().await {
            let text = match message {
                Message::Text(t) => t.to_string(),
                Message::Close(_) => "close".to_owned(),
                _ => continue,
            };
            let started = text.contains(r#""type":"start""#);
            let _ = seen_tx.send(text).await;
            if started {
                use futures_util::SinkExt;
                let _ = ws
                    .send(Message::text(r#"{"type":"started","version":1}"#))
                    .await;
                let _ = ws.send(Message::binary(vec![0u8; 640])).await;
            }
        }
    });
    let synth = EngineWsSynthesizer::new("raw", config(url)).unwrap();
    let mut stream = synth.start(SynthesisRequest::text("hello")).unwrap();
    let first = tokio::time::timeout(DEADLINE, stream.next_event())
        .await
        .expect("no audio");
    assert!(
        matches!(first, Some(Ok(SynthesisEvent::Audio(_)))),
        "{first:?}"
    );
    let start = next(&mut seen_rx).await;
    assert!(start.contains(r#""textType":"text""#), "{start}");
    drop(stream);
    assert_eq!(next(&mut seen_rx).await, r#"{"type":"stop"}"#);
    assert_eq!(next(&mut seen_rx).await, "close");
}

async fn next(rx: &mut tokio::sync::mpsc::Receiver<String>) -> String {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("the raw engine saw nothing")
        .expect("the raw engine ended")
}
