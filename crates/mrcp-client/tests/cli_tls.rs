//! The `mrcp-client` binary with `--tls`/`--tls-ca` (and a `sips:` server) against the `mrcp-server` binary with a
//! certificate made at test time: a DTMF recognition and a small load run succeed over SIP/TLS and MRCP/TLS; a
//! client that does not trust the server's CA exits 2 naming the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../mrcp-sip/tests/pki/mod.rs"]
mod pki;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{out_dir, read_report, server_binary};
use pki::{Ca, TempDir};

const DEADLINE: Duration = Duration::from_secs(60);

struct TlsServer {
    child: Child,
    sip_tls: SocketAddr,
}

impl TlsServer {
    fn start(dir: &TempDir, ca: &Ca, rtp_ports: &str) -> TlsServer {
        let leaf = ca.leaf("mrcp server");
        let cert = dir.write("server.crt", &leaf.cert_pem);
        let key = dir.write("server.key", &leaf.key_pem);
        let mut child = Command::new(server_binary())
            .args([
                "--sip-listen",
                "127.0.0.1:0",
                "--mrcp-listen",
                "127.0.0.1:0",
            ])
            .args(["--http-listen", "127.0.0.1:0", "--rtp-ports", rtp_ports])
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .args(["--sip-tls-listen", "127.0.0.1:0"])
            .args(["--mrcp-tls-listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the mrcp-server binary");
        let stdout = child.stdout.take().unwrap();
        let mut sip_tls = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("mrcp-server exited before printing its addresses");
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["sip", "TLS", addr] => sip_tls = Some(addr.parse().unwrap()),
                ["mrcp", "tcp", _] => break,
                _ => {}
            }
        }
        TlsServer {
            child,
            sip_tls: sip_tls.expect("no `sip TLS` line printed"),
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mrcp-client`; returns its exit code and stderr, failing past the deadline.
async fn run_client(args: &[&str]) -> (i32, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mrcp-client"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start the mrcp-client binary");
    let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("mrcp-client {args:?} did not finish within {DEADLINE:?}"))
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recognize_and_load_over_tls() {
    let dir = TempDir::new("cli");
    let ca = Ca::new("cli ca");
    let ca_file = dir.write("ca.crt", &ca.pem);
    let server = TlsServer::start(&dir, &ca, "36000-36099");
    let sips = format!("sips:{}", server.sip_tls);
    let (code, stderr) = run_client(&[
        "recognize",
        "--server",
        &sips,
        "--tls-ca",
        ca_file.to_str().unwrap(),
        "--profile",
        "asterisk",
        "--grammar",
        "builtin:dtmf/digits?length=4",
        "--dtmf",
        "1357",
    ])
    .await;
    assert_eq!(code, 0, "recognize over TLS failed: {stderr}");

    let out = out_dir("tls");
    let report = out.join("report.json");
    let (code, stderr) = run_client(&[
        "load",
        "--server",
        &format!("sip:{}", server.sip_tls),
        "--tls",
        "--tls-ca",
        ca_file.to_str().unwrap(),
        "--profile",
        "asterisk",
        "--scenario",
        "recognize",
        "--grammar",
        "builtin:dtmf/digits?length=4",
        "--dtmf",
        "2468",
        "--expect",
        "2468",
        "--sessions",
        "4",
        "--rate",
        "20/s",
        "--duration",
        "10s",
        "--count",
        "4",
        "--rtp-ports",
        "36200-36299",
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    let r = read_report(&report);
    assert_eq!(code, 0, "{stderr}\n{r:#?}");
    assert_eq!((r.attempted, r.succeeded), (4, 4), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_server_certificate_is_a_clear_error() {
    let dir = TempDir::new("cli-untrusted");
    let ca = Ca::new("real ca");
    let stranger = dir.write("stranger.crt", &Ca::new("stranger ca").pem);
    let server = TlsServer::start(&dir, &ca, "36400-36499");
    let (code, stderr) = run_client(&[
        "recognize",
        "--server",
        &format!("sips:{}", server.sip_tls),
        "--tls-ca",
        stranger.to_str().unwrap(),
        "--grammar",
        "builtin:dtmf/digits?length=4",
        "--dtmf",
        "1",
        "--timeout",
        "10",
    ])
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot reach the server") && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
}
