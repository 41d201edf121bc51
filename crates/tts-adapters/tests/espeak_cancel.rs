//! Cancelling a prompt kills and reaps its espeak-ng process (Debian package `espeak-ng`). In a test binary
//! of its own so the only espeak-ng children of this process are this test's.

mod common;

use std::path::Path;

use common::{DEADLINE, engine};
use tts_adapters::espeak::EspeakConfig;
use tts_adapters::{SynthesisEvent, SynthesisRequest, Synthesizer};

/// The espeak-ng processes whose parent is this test process, from `/proc`.
fn espeak_children() -> Vec<u32> {
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
    {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        let Some((head, tail)) = stat.rsplit_once(") ") else {
            continue;
        };
        let ppid = tail
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(me) && head.contains("(espeak-ng") {
            pids.push(pid);
        }
    }
    pids
}

#[tokio::test]
async fn dropping_the_stream_kills_and_reaps_espeak() {
    // A small read-ahead keeps the process alive, blocked on its pipe, while the prompt plays.
    let engine = engine(EspeakConfig {
        max_buffered: std::time::Duration::from_millis(200),
        ..EspeakConfig::default()
    })
    .await;
    let long = "This prompt is far too long to finish before the caller interrupts it. ".repeat(40);
    let mut stream = engine.start(SynthesisRequest::text(long)).unwrap();
    let first = tokio::time::timeout(DEADLINE, stream.next_event())
        .await
        .expect("first frame of the long prompt")
        .expect("stream open")
        .expect("no error");
    assert!(matches!(first, SynthesisEvent::Audio(_)));
    let pids = espeak_children();
    assert_eq!(
        pids.len(),
        1,
        "expected one running espeak-ng child, found {pids:?}"
    );
    let pid = pids[0];

    drop(stream);
    tokio::time::timeout(DEADLINE, engine.idle())
        .await
        .expect("the engine did not release the cancelled process");
    let proc_dir = format!("/proc/{pid}");
    assert!(
        !Path::new(&proc_dir).exists(),
        "espeak-ng {pid} is still there (running or a zombie): {:?}",
        std::fs::read_to_string(format!("{proc_dir}/stat"))
    );
    assert!(espeak_children().is_empty());
}
