//! End to end on loopback: the real `mrcp-server` routes RECOGNIZE and SPEAK to an engine-ws v1 engine (the
//! reference engine of `engine_check`, running in this test), with its credential read from a file. The
//! engine's transcript comes back as the NLSML instance; an engine that fails mid-stream ends its RECOGNIZE
//! with Completion-Cause 006 and its SPEAK with 004 while a session on the healthy engine completes normally.
//!
//! Needs espeak-ng and sox for the caller's speech (installed by `scripts/test`).
#![allow(clippy::unwrap_used)]

mod common;

use common::{ServerProcess, body, cause, connect, telephone_speech};
use engine_check::reference::{Behaviour, Fault, ReferenceEngine};
use mrcp_proto::mrcp::Method;
use mrcp_proto::sdp::ClientProfile;

const YES_NO: &str = "#JSGF V1.0;\ngrammar yesno;\npublic <answer> = yes | no;\n";
const KEY: &str = "engine-ws-e2e-key";

fn config(
    healthy: &ReferenceEngine,
    broken: &ReferenceEngine,
    key_file: &std::path::Path,
) -> String {
    format!(
        r#"
[default_engines]
speechrecog = "ws"
speechsynth = "ws"

[engines.ws]
kind = "engine-ws"
asr_url = "{asr}"
tts_url = "{tts}"
api_key = {{ file = "{key}" }}
result_timeout_ms = 3000

[engines.broken]
kind = "engine-ws"
asr_url = "{broken_asr}"
tts_url = "{broken_tts}"

[[routes]]
vendor_parameter = "engine=broken"
engine = "broken"
"#,
        asr = healthy.asr_url(),
        tts = healthy.tts_url(),
        key = key_file.display(),
        broken_asr = broken.asr_url(),
        broken_tts = broken.tts_url(),
    )
}

/// One RECOGNIZE of "yes", on the broken engine when `broken`; returns the cause and the NLSML.
async fn recognize(server: &ServerProcess, broken: bool, rtp: (u16, u16)) -> (u16, String) {
    let mut client = connect(server, ClientProfile::FreeSwitch, rtp).await;
    let mut headers = vec![("Cancel-If-Queue", "false")];
    if broken {
        headers.push(("Vendor-Specific-Parameters", "engine=broken"));
    }
    client
        .send(
            Method::Recognize,
            &headers,
            Some(("application/x-jsgf", YES_NO.as_bytes())),
        )
        .await
        .unwrap();
    client.receive().await.unwrap();
    client.play(telephone_speech("yes")).await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    let result = (cause(&complete), body(&complete));
    client.close().await;
    result
}

/// One SPEAK, on the broken engine when `broken`; returns the cause of SPEAK-COMPLETE.
async fn speak(server: &ServerProcess, broken: bool, rtp: (u16, u16)) -> u16 {
    let mut client = common::synth_session(server, rtp).await;
    let mut headers = vec![];
    if broken {
        headers.push(("Vendor-Specific-Parameters", "engine=broken"));
    }
    let text = "Hello there, caller.";
    client
        .send(
            Method::Speak,
            &headers,
            Some(("text/plain", text.as_bytes())),
        )
        .await
        .unwrap();
    let (_, complete) = client.until_event("SPEAK-COMPLETE").await.unwrap();
    let code = cause(&complete);
    client.close().await;
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recognize_and_speak_through_an_engine_ws_engine() {
    let healthy = ReferenceEngine::start(Behaviour::hearing("yes").with_token(KEY))
        .await
        .unwrap();
    let fault = Fault::ErrorAfterFrames {
        frames: 5,
        kind: "unavailable".into(),
        message: "model crashed".into(),
    };
    let broken = ReferenceEngine::start(Behaviour::hearing("yes").with_fault(fault))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("mrcp-engine-ws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let config_file = dir.join("server.toml");
    std::fs::write(&config_file, config(&healthy, &broken, &key_file)).unwrap();
    let server = ServerProcess::start("47000-47099", &["--config", config_file.to_str().unwrap()]);

    let (ok, failed) = tokio::join!(
        recognize(&server, false, (47500, 47524)),
        recognize(&server, true, (47525, 47549)),
    );
    assert_eq!(ok.0, 0, "the healthy engine: {}", ok.1);
    assert!(
        ok.1.contains("<instance>yes</instance>") || ok.1.contains(">yes<"),
        "{}",
        ok.1
    );
    assert!(ok.1.contains("<input"), "{}", ok.1);
    assert_eq!(failed.0, 6, "the failing engine: {}", failed.1);

    let (ok, failed) = tokio::join!(
        speak(&server, false, (47550, 47574)),
        speak(&server, true, (47575, 47599)),
    );
    assert_eq!(ok, 0, "SPEAK on the healthy engine");
    assert_eq!(failed, 4, "SPEAK on the failing engine");

    // The server is whole after the failures.
    let after = recognize(&server, false, (47600, 47624)).await;
    assert_eq!(after.0, 0, "{}", after.1);
    let _ = std::fs::remove_dir_all(&dir);
}
