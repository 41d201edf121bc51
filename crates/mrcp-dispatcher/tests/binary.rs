//! The `mrcp-dispatcher` binary: flags, TOML errors naming the key, and a recognition through it
//! to a real `mrcp-server`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Command, Stdio},
    time::Duration,
};

use common::{ServerProcess, recognize_through};
use mrcp_sip::Transport;

const BIN: &str = env!("CARGO_BIN_EXE_mrcp-dispatcher");

#[test]
fn config_errors_name_the_key() {
    let dir = std::env::temp_dir().join(format!("mrcp-dispatcher-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[[destination]]\nuri = \"sip:127.0.0.1:5080\"\nweight = 0\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("destination[0].weight"), "{err}");
    let out = Command::new(BIN)
        .args(["--destination", "sip:mrcp.example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--destination #1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recognition_through_the_binary() {
    let server = ServerProcess::start("127.0.0.1:0", "43000-43049");
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--algorithm",
            "hash",
            "--probe-interval",
            "1",
        ])
        .args(["--destination", &format!("sip:{};weight=2", server.sip)])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut udp: Option<SocketAddr> = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("mrcp-dispatcher exited before printing its addresses");
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["sip", "UDP", addr] => udp = Some(addr.parse().unwrap()),
            ["sip", "TCP", _] => break,
            _ => {}
        }
    }
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        recognize_through(
            udp.expect("no UDP address printed"),
            Transport::Udp,
            (43100, 43109),
        ),
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
        .expect("timed out after 30 s waiting for a recognition through the binary")
        .unwrap();
}
