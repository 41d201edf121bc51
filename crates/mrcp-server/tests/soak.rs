//! Soak and overload against the real `mrcp-server` binary on loopback (issue 12, item 5), bounded for CI:
//!
//! - a 60 s soak of mixed DTMF recognition and espeak-ng synthesis with `mrcp-client`'s load generator, the
//!   server's `/metrics` sampled every 2 s: no lost result, flat resident memory, and file descriptors, tasks,
//!   RTP ports and engine streams back to their idle baseline at the end (`scripts/soak` is the long version);
//! - an overload far beyond `--max-sessions`: the excess gets 503 with Retry-After at once, no session times
//!   out, and the server stays up and serves afterwards.
//!
//! Needs espeak-ng (installed by `scripts/test`). The soak takes about 75 s; the overload about 10 s.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{LOCALHOST, ServerProcess, http_get, sip_options};
use mrcp_client::SessionConfig;
use mrcp_client::load::report::LoadReport;
use mrcp_client::load::script::{Grammar, RecognizeInput, SpeakInput};
use mrcp_client::load::{LoadConfig, Scenario};
use mrcp_proto::mrcp::ResourceType;
use mrcp_proto::sdp::ClientProfile;
use mrcp_sip::Transport;

/// One `/metrics` sample of the figures a soak watches.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    rss: f64,
    fds: f64,
    tasks: f64,
    rtp_ports: f64,
    engine_streams: f64,
    sessions: f64,
}

async fn sample(server: &ServerProcess) -> Sample {
    let text = http_get(server, "/metrics").await.1;
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
    };
    Sample {
        rss: get("mrcp_process_resident_memory_bytes"),
        fds: get("mrcp_process_open_fds"),
        tasks: get("mrcp_process_tasks"),
        rtp_ports: get("mrcp_rtp_ports_in_use"),
        engine_streams: get("mrcp_engine_streams_active"),
        sessions: get("mrcp_sessions_active"),
    }
}

fn load_config(
    server: &ServerProcess,
    scenario: Scenario,
    sessions: usize,
    rate: f64,
    duration: Duration,
    rtp_ports: (u16, u16),
) -> LoadConfig {
    LoadConfig {
        session: SessionConfig {
            server: server.sip,
            transport: Transport::Udp,
            // Digits as RFC 4733 events (Asterisk's profile negotiates telephone-event): in-band tones from a
            // debug-build client on a starved CI machine are not what this test measures.
            profile: ClientProfile::Asterisk,
            resource: ResourceType::Speechrecog,
            local_ip: LOCALHOST,
            rtp_ports,
            timeout: Duration::from_secs(20),
            tls: None,
        },
        scenario,
        sessions,
        rate,
        duration,
        count: None,
        session_deadline: Duration::from_secs(60),
        recognize: RecognizeInput {
            grammar: Grammar::Uri("builtin:dtmf/digits?length=4".to_owned()),
            audio: Arc::from(Vec::new()),
            digits: "1234".to_owned(),
            expect: Some("1234".to_owned()),
            prompt: Duration::ZERO,
        },
        speak: SpeakInput {
            text: "Your balance is forty two dollars.".to_owned(),
        },
        server_pid: Some(server.pid()),
        mode: mrcp_client::Mode::Strict,
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_soak_keeps_memory_and_descriptors_flat_and_loses_no_result() {
    let server = ServerProcess::start("41000-41999", &["--max-sessions", "100"]);
    let idle = sample(&server).await;
    let config = load_config(
        &server,
        Scenario::Mixed,
        8,
        4.0,
        Duration::from_secs(60),
        (42000, 43999),
    );
    let load = tokio::spawn(mrcp_client::load::run(config, |_| {}));
    let mut samples = Vec::new();
    while !load.is_finished() {
        samples.push(sample(&server).await);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let report: LoadReport = load.await.unwrap().unwrap();
    assert!(report.attempted >= 150, "{report:?}");
    assert_eq!(
        report.failed, 0,
        "lost results: {:?} {:?}",
        report.failures, report.failure_examples
    );
    assert_eq!(report.succeeded, report.attempted);
    // Flat memory: the last quarter is within 10 % (and 8 MiB) of the second; the first is warm-up.
    let rss: Vec<f64> = samples.iter().map(|s| s.rss).collect();
    let quarter = rss.len() / 4;
    assert!(quarter >= 3, "too few samples: {}", rss.len());
    let (q2, q4) = (
        mean(&rss[quarter..2 * quarter]),
        mean(&rss[rss.len() - quarter..]),
    );
    assert!(
        q4 <= q2 * 1.10 && q4 - q2 <= 8.0 * 1024.0 * 1024.0,
        "memory grew from {q2} to {q4} bytes: {rss:?}"
    );
    // Everything given back once the load has ended.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let end = sample(&server).await;
        let back = end.sessions == 0.0
            && end.fds <= idle.fds
            && end.tasks <= idle.tasks
            && end.rtp_ports <= idle.rtp_ports
            && end.engine_streams <= idle.engine_streams;
        if back {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not back to idle after the soak: idle {idle:?}, now {end:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_beyond_max_sessions_gets_503_with_retry_after_and_no_timeouts() {
    let server = ServerProcess::start("44000-44199", &["--max-sessions", "4"]);
    // 40 sessions at once asked for at 40 per second against room for 4.
    let config = load_config(
        &server,
        Scenario::Recognize,
        40,
        40.0,
        Duration::from_secs(4),
        (44200, 45999),
    );
    let load = tokio::spawn(mrcp_client::load::run(config, |_| {}));
    // While full, a balancer's probe sees 503 with Retry-After too.
    let mut saw_full_options = false;
    while !load.is_finished() {
        let options = sip_options(&server).await;
        if options.starts_with("SIP/2.0 503 ") {
            assert!(options.contains("\r\nRetry-After: "), "{options}");
            saw_full_options = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = load.await.unwrap().unwrap();
    let refused = report.failures.get("sip 503").copied().unwrap_or(0);
    assert!(refused > 0, "nothing was refused: {report:?}");
    assert!(saw_full_options, "OPTIONS never answered 503 while full");
    // Every failure is a 503: no timeout, no broken session.
    assert_eq!(
        report.failed, refused,
        "failures other than 503: {:?} {:?}",
        report.failures, report.failure_examples
    );
    assert!(report.succeeded >= 4, "{report:?}");
    let text = http_get(&server, "/metrics").await.1;
    assert!(
        text.contains("mrcp_invites_rejected_total{status=\"503\"}"),
        "{text}"
    );
    // Still up and serving.
    let (status, _) = http_get(&server, "/healthz").await;
    assert_eq!(status, 200);
    let client = common::connect(&server, ClientProfile::FreeSwitch, (46000, 46099)).await;
    client.close().await;
}
