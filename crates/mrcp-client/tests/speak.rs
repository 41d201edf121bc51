//! `mrcp-client speak` against the real `mrcp-server` binary (espeak-ng synthesizer) on loopback: the WAV
//! holds the speech, the figures are printed, the exit code follows the Completion-Cause.
//!
//! Needs the Debian package espeak-ng (installed by `scripts/test`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{ServerProcess, client_output, out_dir, require};

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_saves_the_audio_and_reports_pacing() {
    require("espeak-ng", "espeak-ng");
    let server = ServerProcess::start("49000-49999");
    let out = out_dir("speak-cli").join("out.wav");
    let (code, stdout) = client_output(
        &[
            "speak",
            "--server",
            &format!("sip:{}", server.sip),
            "--profile",
            "freeswitch",
            "--text",
            "Your balance is one hundred dollars.",
            "--param",
            "Prosody-Rate=medium",
            "--out",
            out.to_str().unwrap(),
            "--rtp-ports",
            "50000-50099",
            "--timeout",
            "15",
        ],
        DEADLINE,
    )
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("SPEAK-COMPLETE 1 COMPLETE"), "{stdout}");
    assert!(stdout.contains("Completion-Cause: 000"), "{stdout}");
    assert!(stdout.contains("time to first packet: "), "{stdout}");
    assert!(stdout.contains("pacing: gap p50 "), "{stdout}");
    let wav = hound::WavReader::open(&out).unwrap();
    let spec = wav.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (8000, 1, 16)
    );
    let samples: Vec<i16> = wav.into_samples().collect::<Result<_, _>>().unwrap();
    // About two seconds of speech, not silence.
    assert!(samples.len() > 8000, "{} samples", samples.len());
    let loud = samples.iter().filter(|s| s.unsigned_abs() > 1000).count();
    assert!(loud > 800, "only {loud} samples above 1000: silence?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_ssml_as_asterisk() {
    require("espeak-ng", "espeak-ng");
    let server = ServerProcess::start("47000-47999");
    let out = out_dir("speak-ssml").join("out.wav");
    let ssml = r#"<?xml version="1.0"?><speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">Hello <break time="200ms"/> world.</speak>"#;
    let (code, stdout) = client_output(
        &[
            "speak",
            "--server",
            &format!("sip:{}", server.sip),
            "--profile",
            "asterisk",
            "--ssml",
            "--text",
            ssml,
            "--out",
            out.to_str().unwrap(),
            "--rtp-ports",
            "48000-48099",
            "--timeout",
            "15",
        ],
        DEADLINE,
    )
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("audio: "), "{stdout}");
    assert!(std::fs::metadata(&out).unwrap().len() > 44);
}
