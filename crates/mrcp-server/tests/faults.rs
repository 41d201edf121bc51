//! Fault injection against the real `mrcp-server` binary on loopback (issue 12, item 4). Each test breaks
//! one thing while a healthy session runs beside it, and checks three things: the affected request or session
//! ends the right way, the healthy one is unaffected, and the leak counters of `/metrics` (tasks, file
//! descriptors, RTP ports, engine streams, session actors, MRCP connections) return to their baseline.
//!
//! Engine panic, hang and error causes alone are in `engine_faults.rs`; here they are checked for leaks, with
//! an engine that answers garbage. Needs espeak-ng and sox (speech for the fault engines) and permission to
//! mount a tmpfs for the disk-full case (else a directory that cannot be created stands in; the test says
//! which).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DEADLINE, ServerProcess, body, cause, connect, http_get, telephone_speech};
use mrcp_client::Session;
use mrcp_proto::mrcp::{Method, RequestState, StartLine};
use mrcp_proto::sdp::ClientProfile;
use tokio::io::AsyncWriteExt;

/// The leak counters, by metric name.
type Counters = BTreeMap<&'static str, i64>;

const COUNTERS: [&str; 6] = [
    "mrcp_process_tasks",
    "mrcp_process_open_fds",
    "mrcp_rtp_ports_in_use",
    "mrcp_engine_streams_active",
    "mrcp_session_tasks_active",
    "mrcp_control_connections_active",
];

fn parse_counters(text: &str) -> Counters {
    COUNTERS
        .iter()
        .map(|name| {
            let value = text
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing from /metrics"));
            (*name, value)
        })
        .collect()
}

async fn counters(server: &ServerProcess) -> Counters {
    parse_counters(&http_get(server, "/metrics").await.1)
}

/// Polls `/metrics` until every counter is at or below its baseline; panics naming those that stay above.
async fn await_baseline(server: &ServerProcess, baseline: &Counters, what: &str) {
    let started = Instant::now();
    loop {
        let now = counters(server).await;
        let above: Vec<String> = COUNTERS
            .iter()
            .filter(|name| now[*name] > baseline[*name])
            .map(|name| format!("{name} {} (baseline {})", now[name], baseline[name]))
            .collect();
        if above.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "after {what}, leak counters stayed above baseline: {}",
            above.join(", ")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A metric's value (0 when absent).
async fn metric(server: &ServerProcess, series: &str) -> f64 {
    let text = http_get(server, "/metrics").await.1;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn recognize_dtmf_start(client: &mut Session, extra: &[(&str, &str)]) {
    let mut headers = vec![("Cancel-If-Queue", "false")];
    headers.extend_from_slice(extra);
    client
        .send(
            Method::Recognize,
            &headers,
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .unwrap();
    let response = client.receive().await.unwrap();
    assert!(
        matches!(
            response.start,
            StartLine::Response {
                state: RequestState::InProgress,
                ..
            }
        ),
        "{}",
        response.start
    );
}

/// A complete DTMF recognition of 4321 on a new session: the healthy session beside every fault.
async fn healthy_dtmf(server: &ServerProcess, rtp: (u16, u16)) {
    let mut client = connect(server, ClientProfile::Asterisk, rtp).await;
    recognize_dtmf_start(&mut client, &[]).await;
    client.dtmf("4321").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(body(&complete).contains("4321"), "{}", body(&complete));
    client.close().await;
}

fn config_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mrcp-faults-{name}-{}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

const ENGINES: &str = r#"
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

[engines.junk]
kind = "fault"
mode = "garbage"

[[routes]]
vendor_parameter = "engine=crashing"
engine = "crashing"

[[routes]]
vendor_parameter = "engine=stuck"
engine = "stuck"

[[routes]]
vendor_parameter = "engine=junk"
engine = "junk"
"#;

/// One speech recognition routed to `engine`; returns the cause and the NLSML.
async fn recognize_speech(server: &ServerProcess, engine: &str, rtp: (u16, u16)) -> (u16, String) {
    const YES_NO: &str = "#JSGF V1.0;\ngrammar yesno;\npublic <answer> = yes | no;\n";
    let mut client = connect(server, ClientProfile::FreeSwitch, rtp).await;
    let vsp = format!("engine={engine}");
    client
        .send(
            Method::Recognize,
            &[
                ("Cancel-If-Queue", "false"),
                ("Vendor-Specific-Parameters", vsp.as_str()),
            ],
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
async fn engine_panic_hang_and_garbage_end_their_requests_and_leak_nothing() {
    let config = config_file("engines", ENGINES);
    let server = ServerProcess::start("39000-39099", &["--config", config.to_str().unwrap()]);
    // Warm-up, so lazily created state (pools, caches) is in the baseline.
    healthy_dtmf(&server, (39200, 39249)).await;
    let baseline = counters(&server).await;
    let (crashing, stuck, junk, ()) = tokio::join!(
        recognize_speech(&server, "crashing", (39250, 39299)),
        recognize_speech(&server, "stuck", (39300, 39349)),
        recognize_speech(&server, "junk", (39350, 39399)),
        healthy_dtmf(&server, (39400, 39449)),
    );
    assert_eq!(crashing.0, 6, "a panicking engine: {}", crashing.1);
    assert_eq!(stuck.0, 6, "a hanging engine: {}", stuck.1);
    // Nothing the garbage engine said matches the grammar, and none of it reaches the NLSML unescaped.
    assert_eq!(junk.0, 1, "a garbage engine: {}", junk.1);
    assert!(!junk.1.contains("<injected/>"), "{}", junk.1);
    assert!(!junk.1.contains('\u{0}'), "{}", junk.1);
    await_baseline(&server, &baseline, "engine faults").await;
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_clients_and_stopped_rtp_are_torn_down() {
    let config = config_file("vanish", "[rtp]\ninactivity_timeout_s = 2\n");
    let server = ServerProcess::start("39500-39599", &["--config", config.to_str().unwrap()]);
    healthy_dtmf(&server, (39600, 39649)).await;
    let baseline = counters(&server).await;

    // A client whose RTP stops in the middle of a recognition, the control connection still open: two
    // digits of four, then nothing. The recognition ends by its interdigit timeout, then the session by
    // RTP inactivity, with BYE from the server.
    let stopped = async {
        let mut client = connect(&server, ClientProfile::Asterisk, (39650, 39699)).await;
        recognize_dtmf_start(&mut client, &[("DTMF-Interdigit-Timeout", "800")]).await;
        client.dtmf("43").await.unwrap();
        let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
        let reason = client.terminated().await.unwrap();
        (cause(&complete), body(&complete), reason)
    };
    // A client that vanishes without BYE: its control connection closes (the process died), and it sends
    // no more RTP.
    let vanished = async {
        let mut client = connect(&server, ClientProfile::FreeSwitch, (39700, 39749)).await;
        client.drop_control().await.unwrap();
        client.terminated().await.unwrap()
    };
    let (stopped, vanished, ()) =
        tokio::join!(stopped, vanished, healthy_dtmf(&server, (39750, 39799)));
    // RFC 6787 §9.4.11: too few digits when the interdigit timer fires is a partial match.
    assert!(
        [1, 2, 13].contains(&stopped.0),
        "stopped RTP ended the recognition with {}: {}",
        stopped.0,
        stopped.1
    );
    assert_eq!(stopped.2, mrcp_sip::EndReason::RemoteBye);
    assert_eq!(vanished, mrcp_sip::EndReason::RemoteBye);
    // The stopped one ends by RTP inactivity; the vanished one by its closed connection, or by RTP inactivity
    // when that timer (2 s) fires first on a slow machine.
    let inactive = metric(&server, "mrcp_sessions_total{outcome=\"rtp_inactive\"}").await;
    let closed = metric(&server, "mrcp_sessions_total{outcome=\"control_closed\"}").await;
    assert!(
        inactive >= 1.0 && inactive + closed >= 2.0,
        "{inactive} {closed}"
    );
    await_baseline(&server, &baseline, "vanished clients").await;
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_reset_mid_message_ends_only_that_connection() {
    let server = ServerProcess::start("39800-39899", &[]);
    healthy_dtmf(&server, (39900, 39949)).await;
    let baseline = counters(&server).await;
    let mut client = connect(&server, ClientProfile::Asterisk, (39950, 39999)).await;
    // A second connection names the same channel, sends half a RECOGNIZE and is reset (SO_LINGER 0).
    let raw = tokio::net::TcpStream::connect(server.mrcp).await.unwrap();
    let half = format!(
        "MRCP/2.0 400 RECOGNIZE 9\r\nChannel-Identifier: {}\r\nContent-Type: text/uri-list\r\n\
         Content-Length: 200\r\n\r\nbuiltin:dtmf/",
        client.channel()
    );
    let mut raw = raw;
    raw.write_all(half.as_bytes()).await.unwrap();
    raw.set_zero_linger().unwrap();
    drop(raw);
    // The session on its own connection is unaffected.
    recognize_dtmf_start(&mut client, &[]).await;
    client.dtmf("1234").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    client.close().await;
    await_baseline(&server, &baseline, "a reset connection").await;
}

/// A directory where writes fail for lack of room: a 16 KiB tmpfs when this process may mount one, else a
/// path below a regular file (ENOTDIR). Returns the directory and how it was made.
fn full_disk(name: &str) -> (std::path::PathBuf, &'static str) {
    let dir = std::env::temp_dir().join(format!("mrcp-faults-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=16k",
            "tmpfs",
            dir.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if mounted {
        return (dir, "a 16 KiB tmpfs");
    }
    let file = dir.join("not-a-directory");
    std::fs::write(&file, b"x").unwrap();
    (file.join("waveforms"), "a path below a regular file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_while_saving_a_waveform_gives_an_empty_waveform_uri() {
    let (dir, how) = full_disk("full");
    println!("waveform_dir is {how}: {}", dir.display());
    let config = config_file(
        "full",
        &format!("[recognizer]\nwaveform_dir = \"{}\"\n", dir.display()),
    );
    let server = ServerProcess::start("40000-40099", &["--config", config.to_str().unwrap()]);
    healthy_dtmf(&server, (40100, 40149)).await;
    let baseline = counters(&server).await;
    let saving = async {
        let mut client = connect(&server, ClientProfile::Asterisk, (40150, 40199)).await;
        recognize_dtmf_start(&mut client, &[("Save-Waveform", "true")]).await;
        // 1.6 s of audio before the digits: 25 KiB at 8 kHz, more than the tmpfs holds.
        client.send_input(vec![0; 12_800], "1234").await.unwrap();
        let wait = client
            .until_event_with_media("RECOGNITION-COMPLETE")
            .await
            .unwrap();
        client.close().await;
        wait.event
    };
    let (complete, ()) = tokio::join!(saving, healthy_dtmf(&server, (40200, 40249)));
    // The recognition itself succeeded; the recording could not be kept (RFC 6787 §9.4.30: empty header).
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    let uri = complete.headers.get_raw("Waveform-Uri");
    assert_eq!(uri.map(str::trim), Some(""), "{complete:?}");
    // No partial file is left to fill the disk further.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let left: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
    await_baseline(&server, &baseline, "a failed waveform write").await;
    if how.contains("tmpfs") {
        let _ = Command::new("umount").arg(&dir).status();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&config);
}

fn free_port() -> u16 {
    // A port free for both UDP and TCP (SIP listens on both).
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_session_and_restarted_on_the_same_ports() {
    let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port)).to_string();
    let (sip, mrcp, http) = (addr(free_port()), addr(free_port()), addr(free_port()));
    let args = [
        "--sip-listen",
        sip.as_str(),
        "--mrcp-listen",
        mrcp.as_str(),
        "--http-listen",
        http.as_str(),
    ];
    let server = ServerProcess::start_on("40300-40399", &args, &[]);
    let mut client = connect(&server, ClientProfile::Asterisk, (40400, 40449)).await;
    recognize_dtmf_start(&mut client, &[]).await;
    // SIGKILL: no drain, no BYE, no cleanup in the process.
    let status = Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The running request ends with the connection: the client learns at once, not at a timeout.
    let started = Instant::now();
    let ended = client.until_event("RECOGNITION-COMPLETE").await;
    assert!(
        matches!(ended, Err(mrcp_client::ClientError::Closed)),
        "{ended:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(server);
    // The same ports bind again at once, and the new process serves.
    let server = ServerProcess::start_on("40300-40399", &args, &[]);
    assert_eq!(server.sip.to_string(), sip);
    assert_eq!(server.mrcp.to_string(), mrcp);
    healthy_dtmf(&server, (40450, 40499)).await;
    let baseline = counters(&server).await;
    healthy_dtmf(&server, (40450, 40499)).await;
    await_baseline(&server, &baseline, "a restart").await;
}
