//! The kit against the reference engine (every case passes) and against deliberately broken engines (the
//! cases they break fail, with a reason), through the library and through the `engine-check` binary.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use engine_check::asr::AsrOptions;
use engine_check::reference::{Behaviour, Fault, ReferenceEngine};
use engine_check::tts::TtsOptions;
use engine_check::{Outcome, Report};

const DEADLINE: Duration = Duration::from_secs(60);

async fn asr(url: String, token: Option<&str>) -> Report {
    let mut o = AsrOptions::new(url);
    o.token = token.map(str::to_owned);
    o.timeout = Duration::from_secs(3);
    tokio::time::timeout(DEADLINE, engine_check::asr::check(&o))
        .await
        .expect("the ASR cases did not finish")
}

async fn tts(url: String, token: Option<&str>) -> Report {
    let mut o = TtsOptions::new(url);
    o.token = token.map(str::to_owned);
    o.timeout = Duration::from_secs(3);
    tokio::time::timeout(DEADLINE, engine_check::tts::check(&o))
        .await
        .expect("the TTS cases did not finish")
}

#[tokio::test]
async fn the_reference_engine_passes_every_case() {
    let engine = ReferenceEngine::start(Behaviour::hearing("yes").with_token("t0k"))
        .await
        .unwrap();
    for report in [
        asr(engine.asr_url(), Some("t0k")).await,
        tts(engine.tts_url(), Some("t0k")).await,
        tts(engine.http_url(), Some("t0k")).await,
    ] {
        assert!(report.all_passed(), "{report}");
        assert!(
            report
                .cases
                .iter()
                .all(|c| matches!(c.outcome, Outcome::Pass(_))),
            "{report}"
        );
    }
    // Without a credential to test with, the auth cases are skipped, not passed.
    let open = ReferenceEngine::start(Behaviour::hearing("yes"))
        .await
        .unwrap();
    let report = asr(open.asr_url(), None).await;
    assert!(report.all_passed(), "{report}");
    assert!(matches!(report.outcome("asr.auth"), Some(Outcome::Skip(_))));
}

#[tokio::test]
async fn the_expected_text_is_checked() {
    let engine = ReferenceEngine::start(Behaviour::hearing("no thanks"))
        .await
        .unwrap();
    let mut o = AsrOptions::new(engine.asr_url());
    o.expect = Some("yes".into());
    let report = engine_check::asr::check(&o).await;
    let Some(Outcome::Fail(why)) = report.outcome("asr.recognize") else {
        panic!("{report}");
    };
    assert!(why.contains("no thanks"), "{why}");
}

#[tokio::test]
async fn a_sloppy_engine_fails_the_cases_it_breaks() {
    let engine = ReferenceEngine::start(Behaviour::hearing("yes").with_fault(Fault::Sloppy))
        .await
        .unwrap();
    let report = asr(engine.asr_url(), None).await;
    assert_eq!(
        report.failed(),
        vec![
            "asr.recognize",
            "asr.interim",
            "asr.silence",
            "asr.cancel",
            "asr.malformed_start",
            "asr.unsupported_encoding",
            "asr.audio_before_start",
            "asr.idle_timeout",
        ],
        "{report}"
    );
    let Some(Outcome::Fail(why)) = report.outcome("asr.recognize") else {
        unreachable!()
    };
    assert!(why.contains("no started"), "{why}");
    let report = tts(engine.tts_url(), None).await;
    assert_eq!(
        report.failed(),
        vec![
            "tts.speak",
            "tts.marks",
            "tts.stop",
            "tts.malformed_start",
            "tts.missing_text"
        ],
        "{report}"
    );
    let report = tts(engine.http_url(), None).await;
    assert_eq!(report.failed(), vec!["http.bad_request"], "{report}");
}

#[tokio::test]
async fn a_jambonz_engine_is_told_what_it_lacks() {
    let engine = ReferenceEngine::start(Behaviour::hearing("yes").with_fault(Fault::Jambonz))
        .await
        .unwrap();
    let report = asr(engine.asr_url(), None).await;
    let Some(Outcome::Fail(why)) = report.outcome("asr.recognize") else {
        panic!("{report}");
    };
    assert!(why.contains("jambonz"), "{why}");
}

#[tokio::test]
async fn an_engine_that_errors_fails_with_its_message() {
    let fault = Fault::ErrorAfterFrames {
        frames: 2,
        kind: "internal".into(),
        message: "decoder exploded".into(),
    };
    let engine = ReferenceEngine::start(Behaviour::hearing("yes").with_fault(fault))
        .await
        .unwrap();
    let report = asr(engine.asr_url(), None).await;
    let Some(Outcome::Fail(why)) = report.outcome("asr.recognize") else {
        panic!("{report}");
    };
    assert!(why.contains("decoder exploded"), "{why}");
}

/// The binary prints one line per case and exits 0 only when every case passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reports_and_sets_its_exit_status() {
    let good = ReferenceEngine::start(Behaviour::hearing("yes").with_token("bin-key"))
        .await
        .unwrap();
    let bad = ReferenceEngine::start(Behaviour::hearing("yes").with_fault(Fault::Sloppy))
        .await
        .unwrap();
    let run = |args: Vec<String>| async move {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_engine-check"))
            .args(&args)
            .env("ENGINE_CHECK_TEST_KEY", "bin-key")
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(DEADLINE, output)
            .await
            .expect("engine-check did not finish")
            .expect("cannot run engine-check");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let key = || vec!["--token-env".to_owned(), "ENGINE_CHECK_TEST_KEY".to_owned()];
    let (code, out) = run([vec!["asr".into(), good.asr_url()], key()].concat()).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS  asr.recognize"), "{out}");
    assert!(out.contains("PASS  asr.auth"), "{out}");
    assert!(!out.contains("bin-key"), "{out}");
    let (code, out) = run([vec!["tts".into(), good.http_url()], key()].concat()).await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(vec!["tts".into(), bad.tts_url()]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL  tts.speak"), "{out}");
}
