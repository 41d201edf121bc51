//! `mrcp-client load` against the real `mrcp-server` binary on loopback: bounded runs whose JSON report is
//! checked for counts, latencies and classified failures.
//!
//! Needs the Debian packages libpocketsphinx3 and pocketsphinx-en-us for the speech run (installed by
//! `scripts/test`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{ServerProcess, client, out_dir, read_report, workspace};

const DEADLINE: Duration = Duration::from_secs(90);

/// Load runs are timing-sensitive (real-time RTP and in-band tones on two cores): they run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_dtmf_sessions_as_asterisk_all_succeed() {
    let _serial = SERIAL.lock().await;
    let server = ServerProcess::start("34000-34999");
    let dir = out_dir("dtmf");
    let (report, html) = (dir.join("report.json"), dir.join("report.html"));
    let code = client(
        &[
            "load",
            "--server",
            &format!("sip:{}", server.sip),
            "--profile",
            "asterisk",
            "--scenario",
            "recognize",
            "--grammar",
            "builtin:dtmf/digits?length=4",
            "--dtmf",
            "1234",
            "--expect",
            "1234",
            "--sessions",
            "20",
            "--rate",
            "40/s",
            "--duration",
            "30s",
            "--count",
            "20",
            "--rtp-ports",
            "35000-35999",
            "--server-pid",
            &server.pid().to_string(),
            "--report",
            report.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        DEADLINE,
    )
    .await;
    let r = read_report(&report);
    assert_eq!(code, 0, "{r:#?}");
    assert_eq!((r.attempted, r.succeeded, r.failed), (20, 20, 0), "{r:#?}");
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.latency["sip_setup"].count, 20);
    // The asterisk profile sends a URI grammar straight in RECOGNIZE: one request per session.
    assert_eq!(r.latency["mrcp_response"].count, 20);
    assert_eq!(r.latency["start_of_input_to_complete"].count, 20);
    assert_eq!(r.timeline.len(), 20);
    assert!(r.server_cpu.is_some() && r.client_cpu.is_some());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(r#"<svg id="latency-over-time""#));
    assert!(!page.contains("<script"), "the report must work offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_inband_dtmf_sessions_as_freeswitch_all_succeed() {
    let _serial = SERIAL.lock().await;
    // FreeSWITCH's vanilla offer has no telephone-event: the digits go in-band, 70 ms tone + 50 ms gap
    // (reference §7.7), after a 200 ms prompt and START-INPUT-TIMERS.
    let server = ServerProcess::start("44000-44999");
    let dir = out_dir("inband");
    let report = dir.join("report.json");
    let code = client(
        &[
            "load",
            "--server",
            &format!("sip:{}", server.sip),
            "--profile",
            "freeswitch",
            "--dtmf",
            "4321",
            "--expect",
            "4321",
            "--prompt",
            "200ms",
            "--sessions",
            "10",
            "--rate",
            "40/s",
            "--count",
            "10",
            "--rtp-ports",
            "45000-45999",
            "--report",
            report.to_str().unwrap(),
        ],
        DEADLINE,
    )
    .await;
    let r = read_report(&report);
    assert_eq!(code, 0, "{r:#?}");
    assert_eq!((r.attempted, r.succeeded, r.failed), (10, 10, 0), "{r:#?}");
    // RECOGNIZE and START-INPUT-TIMERS per session.
    assert_eq!(r.latency["mrcp_response"].count, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_without_the_expected_digits_is_a_wrong_result() {
    let _serial = SERIAL.lock().await;
    let server = ServerProcess::start("36000-36999");
    let dir = out_dir("wrong");
    let report = dir.join("report.json");
    let code = client(
        &[
            "load",
            "--server",
            &format!("sip:{}", server.sip),
            "--profile",
            "asterisk",
            "--dtmf",
            "1234",
            "--expect",
            "9999",
            "--sessions",
            "5",
            "--rate",
            "20/s",
            "--count",
            "5",
            "--rtp-ports",
            "37000-37999",
            "--report",
            report.to_str().unwrap(),
        ],
        DEADLINE,
    )
    .await;
    let r = read_report(&report);
    assert_eq!(code, 1, "a failed run exits 1");
    assert_eq!((r.attempted, r.succeeded, r.failed), (5, 0, 5), "{r:#?}");
    assert_eq!(r.failures.get("wrong result"), Some(&5), "{:?}", r.failures);
    assert!(r.failure_examples["wrong result"].contains("9999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_sessions_as_freeswitch_hear_the_expected_words() {
    let _serial = SERIAL.lock().await;
    // DEFINE-GRAMMAR with the SRGS file, RECOGNIZE session:<uuid>, a 300 ms prompt, START-INPUT-TIMERS, speech.
    let server = ServerProcess::start("38000-38999");
    let dir = out_dir("speech");
    let report = dir.join("report.json");
    let root = workspace();
    let audio = root.join("examples/audio/check-my-balance.wav");
    let grammar = root.join("examples/grammars/menu.grxml");
    let code = client(
        &[
            "load",
            "--server",
            &format!("sip:{}", server.sip),
            "--profile",
            "freeswitch",
            "--audio",
            audio.to_str().unwrap(),
            "--grammar",
            grammar.to_str().unwrap(),
            "--expect",
            "balance",
            "--prompt",
            "300ms",
            // One at a time: a debug-build server next to the other tests has few decoders to spare, and
            // under that load it answers no-match instead of queueing (see the README's performance notes).
            "--sessions",
            "1",
            "--rate",
            "2/s",
            "--count",
            "2",
            "--rtp-ports",
            "39000-39999",
            "--report",
            report.to_str().unwrap(),
        ],
        DEADLINE,
    )
    .await;
    let r = read_report(&report);
    assert_eq!(code, 0, "{r:#?}");
    assert_eq!((r.attempted, r.succeeded, r.failed), (2, 2, 0), "{r:#?}");
    // DEFINE-GRAMMAR, RECOGNIZE and START-INPUT-TIMERS per session.
    assert_eq!(r.latency["mrcp_response"].count, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_sessions_measure_first_packet_and_jitter() {
    let _serial = SERIAL.lock().await;
    let server = ServerProcess::start("40000-40999");
    let dir = out_dir("speak");
    let (report, html) = (dir.join("report.json"), dir.join("report.html"));
    let code = client(
        &[
            "load",
            "--server",
            &format!("sip:{}", server.sip),
            "--scenario",
            "speak",
            "--text",
            "Your balance is ten dollars.",
            "--sessions",
            "2",
            "--rate",
            "4/s",
            "--count",
            "3",
            "--rtp-ports",
            "41000-41999",
            "--report",
            report.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        DEADLINE,
    )
    .await;
    let r = read_report(&report);
    assert_eq!(code, 0, "{r:#?}");
    assert_eq!((r.attempted, r.succeeded), (3, 3), "{r:#?}");
    for series in [
        "first_tts_audio",
        "first_tts_packet_from_speak",
        "tts_jitter",
        "tts_max_gap",
    ] {
        assert_eq!(r.latency[series].count, 3, "{series}");
        let total: u64 = r.distributions[series].iter().map(|b| b.count).sum();
        assert_eq!(total, 3, "{series}");
    }
    // Paced at 20 ms: the largest gap stays far below UniMRCP's 500 ms drift restart.
    assert!(r.latency["tts_max_gap"].p50_ms >= 15.0, "{r:#?}");
    let page = std::fs::read_to_string(&html).unwrap();
    for id in ["dist-first_tts_audio", "dist-tts_jitter"] {
        assert!(page.contains(&format!(r#"<svg id="{id}""#)), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_sessions_fill_recognition_and_synthesis_series() {
    let _serial = SERIAL.lock().await;
    let server = ServerProcess::start("53000-53999");
    let dir = out_dir("mixed");
    let report = dir.join("report.json");
    let code = client(
        &[
            "load",
            "--server",
            &format!("sip:{}", server.sip),
            "--scenario",
            "mixed",
            "--profile",
            "asterisk",
            "--dtmf",
            "1234",
            "--expect",
            "1234",
            "--sessions",
            "4",
            "--rate",
            "8/s",
            "--count",
            "4",
            "--rtp-ports",
            "54000-54999",
            "--report",
            report.to_str().unwrap(),
        ],
        DEADLINE,
    )
    .await;
    let r = read_report(&report);
    assert_eq!(code, 0, "{r:#?}");
    assert_eq!((r.attempted, r.succeeded), (4, 4), "{r:#?}");
    assert_eq!(r.latency["start_of_input_to_complete"].count, 2);
    assert_eq!(r.latency["first_tts_audio"].count, 2);
    assert_eq!(r.latency["tts_jitter"].count, 2);
}
