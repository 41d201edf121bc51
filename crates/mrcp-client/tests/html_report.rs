//! The HTML report of a real load run opens in headless Chromium with no network, and its plots render:
//! the DOM holds the SVG charts (latency, percentiles, outcomes and the four synthesis distributions of a mixed run)
//! with their marks, and a screenshot is written.
//!
//! Needs the Debian package `chromium`.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{ServerProcess, client, out_dir};

const DEADLINE: Duration = Duration::from_secs(90);

/// Runs headless Chromium with `args` and the page; returns its stdout. Fails naming the package when
/// Chromium is not installed.
async fn chromium(args: &[&str], page: &str) -> String {
    let child = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .args(args)
        .arg(page)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run chromium ({e}): install the Debian package chromium")
        });
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("chromium did not finish rendering the report within 60 s")
        .unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {:?}",
        output.status
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_renders_in_headless_chromium() {
    let server = ServerProcess::start("42000-42999");
    let dir = out_dir("html");
    let (report, html, png) = (
        dir.join("report.json"),
        dir.join("report.html"),
        dir.join("report.png"),
    );
    let code = client(
        &[
            "load",
            "--server",
            &format!("sip:{}", server.sip),
            // Recognition and synthesis sessions alternately, so that every chart has data.
            "--scenario",
            "mixed",
            "--profile",
            "asterisk",
            "--dtmf",
            "1234",
            "--expect",
            "1234",
            "--sessions",
            "10",
            "--rate",
            "40/s",
            "--count",
            "10",
            "--rtp-ports",
            "43000-43999",
            "--report",
            report.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        DEADLINE,
    )
    .await;
    assert_eq!(code, 0, "the load run failed; see {}", report.display());
    let page = format!("file://{}", html.display());
    let dom = chromium(&["--dump-dom"], &page).await;
    for chart in [
        "latency-over-time",
        "percentiles",
        "failures",
        "dist-first_tts_audio",
        "dist-first_tts_packet_from_speak",
        "dist-tts_jitter",
        "dist-tts_max_gap",
    ] {
        assert!(
            dom.contains(&format!(r#"<svg id="{chart}""#)),
            "no {chart} chart in the rendered DOM"
        );
    }
    assert!(
        dom.matches("<circle").count() >= 20,
        "latency points missing"
    );
    let screenshot = format!("--screenshot={}", png.display());
    chromium(&[&screenshot, "--window-size=1000,3000"], &page).await;
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    assert!(
        bytes.len() > 20_000,
        "the screenshot is nearly blank: {} bytes",
        bytes.len()
    );
    eprintln!("screenshot of the report: {}", png.display());
}
