//! Engines are guests (docs/architecture.md, rule 3): an engine that panics, hangs or fails ends only the
//! requests routed to it, with Completion-Cause 006, while a session on a healthy engine recognizes correctly
//! at the same time on the same server.
//!
//! Needs espeak-ng, sox, libpocketsphinx3 and pocketsphinx-en-us (installed by `scripts/test`).
#![allow(clippy::unwrap_used)]

mod common;

use common::{ServerProcess, body, cause, connect, telephone_speech};
use mrcp_proto::mrcp::Method;
use mrcp_proto::sdp::ClientProfile;

const YES_NO: &str = "#JSGF V1.0;\ngrammar yesno;\npublic <answer> = yes | no;\n";

const CONFIG: &str = r#"
[recognizer]
engine_deadline_ms = 1500

[engines.pocketsphinx]
kind = "pocketsphinx"

[engines.espeak]
kind = "espeak"

[engines.crashing]
kind = "fault"
mode = "panic"

[engines.stuck]
kind = "fault"
mode = "hang"

[engines.broken]
kind = "fault"
mode = "error"

[[routes]]
vendor_parameter = "engine=crashing"
engine = "crashing"

[[routes]]
vendor_parameter = "engine=stuck"
engine = "stuck"

[[routes]]
vendor_parameter = "engine=broken"
engine = "broken"
"#;

/// One recognition of "yes" routed by `engine` (empty: the default engine); returns the cause and the NLSML.
async fn recognize(server: &ServerProcess, engine: &str, rtp: (u16, u16)) -> (u16, String) {
    let mut client = connect(server, ClientProfile::FreeSwitch, rtp).await;
    let vsp = format!("engine={engine}");
    let mut headers = vec![("Cancel-If-Queue", "false")];
    if !engine.is_empty() {
        headers.push(("Vendor-Specific-Parameters", vsp.as_str()));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_engines_end_only_their_own_requests() {
    let config =
        std::env::temp_dir().join(format!("mrcp-engine-faults-{}.toml", std::process::id()));
    std::fs::write(&config, CONFIG).unwrap();
    let server = ServerProcess::start("35100-35199", &["--config", config.to_str().unwrap()]);
    let (crashing, stuck, broken, healthy) = tokio::join!(
        recognize(&server, "crashing", (35600, 35624)),
        recognize(&server, "stuck", (35625, 35649)),
        recognize(&server, "broken", (35650, 35674)),
        recognize(&server, "", (35675, 35699)),
    );
    assert_eq!(crashing.0, 6, "a panicking engine: {}", crashing.1);
    assert_eq!(stuck.0, 6, "a hanging engine: {}", stuck.1);
    assert_eq!(broken.0, 6, "a failing engine: {}", broken.1);
    assert_eq!(healthy.0, 0, "the healthy session: {}", healthy.1);
    assert!(healthy.1.contains(">yes<"), "{}", healthy.1);
    // The server is still whole: a new session after the faults recognizes too.
    let after = recognize(&server, "", (35700, 35724)).await;
    assert_eq!(after.0, 0, "{}", after.1);
    let _ = std::fs::remove_file(&config);
}
