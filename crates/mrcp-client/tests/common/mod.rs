//! The real `mrcp-server` binary on loopback, and the `mrcp-client` binary run against it with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The server binary: `MRCP_SERVER_BIN`, else built with cargo beside this test's target directory.
pub fn server_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MRCP_SERVER_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test> → target/<profile>/mrcp-server
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let release = dir.file_name().is_some_and(|n| n == "release");
    let mut build = Command::new(env!("CARGO"));
    build.current_dir(workspace()).args([
        "build",
        "--quiet",
        "-p",
        "mrcp-server",
        "--bin",
        "mrcp-server",
    ]);
    if release {
        build.arg("--release");
    }
    let status = build
        .status()
        .expect("cannot run cargo to build mrcp-server");
    assert!(status.success(), "cargo build -p mrcp-server failed");
    dir.join("mrcp-server")
}

/// The server process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// Its SIP UDP address.
    pub sip: SocketAddr,
}

impl ServerProcess {
    /// Starts `mrcp-server` on free SIP and MRCP ports with RTP in `rtp_ports`.
    pub fn start(rtp_ports: &str) -> ServerProcess {
        let mut child = Command::new(server_binary())
            .args([
                "--sip-listen",
                "127.0.0.1:0",
                "--mrcp-listen",
                "127.0.0.1:0",
                "--rtp-ports",
                rtp_ports,
                // Each test server takes its own metrics port.
                "--http-listen",
                "127.0.0.1:0",
            ])
            .env(
                "RUST_LOG",
                std::env::var("MRCP_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the mrcp-server binary");
        let stdout = child.stdout.take().unwrap();
        let mut sip = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("mrcp-server exited before printing its addresses");
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["sip", "UDP", addr] => sip = Some(addr.parse().unwrap()),
                ["mrcp", "tcp", _] => break,
                _ => {}
            }
        }
        ServerProcess {
            child,
            sip: sip.expect("no SIP UDP address printed"),
        }
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mrcp-client` with `args`; returns its exit code, failing the test past `deadline`.
pub async fn client(args: &[&str], deadline: Duration) -> i32 {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mrcp-client"))
        .args(args)
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start the mrcp-client binary");
    let status = tokio::time::timeout(deadline, child.wait())
        .await
        .unwrap_or_else(|_| panic!("mrcp-client {args:?} did not finish within {deadline:?}"))
        .unwrap();
    status.code().unwrap_or(-1)
}

/// A fresh directory for a test's report files.
pub fn out_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mrcp-load-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads a JSON report.
pub fn read_report(path: &Path) -> mrcp_client::load::report::LoadReport {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Runs `mrcp-client` with `args`; returns its exit code and stdout, failing the test past `deadline`.
pub async fn client_output(args: &[&str], deadline: Duration) -> (i32, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mrcp-client"))
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start the mrcp-client binary");
    let output = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("mrcp-client {args:?} did not finish within {deadline:?}"))
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Fails the test naming the Debian package when `program` is not installed.
pub fn require(program: &str, package: &str) {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{program} is not installed: install the Debian package {package}"
    );
}
