//! `mrcp-client record` against the real `mrcp-server` binary on loopback: RECORD with Max-Time, the audio
//! streamed at real pace, the recording returned in the RECORD-COMPLETE body and saved with `--out`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{ServerProcess, client_output, out_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_saves_what_the_server_returns_in_the_body() {
    let server = ServerProcess::start("52000-52099");
    let out = out_dir("record-cli").join("recorded.wav");
    let input = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/audio/check-my-balance.wav"
    );
    let (code, stdout) = client_output(
        &[
            "record",
            "--server",
            &format!("sip:{}", server.sip),
            "--profile",
            "asterisk",
            "--param",
            "Max-Time=2000",
            "--out",
            out.to_str().unwrap(),
            input,
        ],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("RECORD-COMPLETE"), "{stdout}");
    assert!(stdout.contains("Completion-Cause: 001"), "{stdout}");
    let wav = hound::WavReader::open(&out).unwrap();
    let seconds = f64::from(wav.duration()) / f64::from(wav.spec().sample_rate);
    assert!(
        (1.8..=2.2).contains(&seconds),
        "recorded {seconds} s for Max-Time 2 s"
    );
}
