//! Real `mrcp-server` processes on loopback, and DTMF recognitions through a balancer with the
//! `mrcp-client` library (Asterisk profile: RFC 4733 events, the cheapest full session).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mrcp_client::{Session, SessionConfig};
use mrcp_proto::mrcp::{Method, ResourceType, StartLine};
use mrcp_proto::sdp::ClientProfile;
use mrcp_sip::Transport;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub const DEADLINE: Duration = Duration::from_secs(20);

/// `target/<profile>/<name>` next to this test executable (`target/<profile>/deps/…`).
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable outside target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run cargo build -p {name} first (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// An `mrcp-server` process, killed when dropped.
pub struct ServerProcess {
    child: Option<Child>,
    pub sip: SocketAddr,
}

impl ServerProcess {
    /// Starts `mrcp-server` with SIP on `sip` (port 0: any) and RTP in `rtp_ports`.
    pub fn start(sip: &str, rtp_ports: &str) -> ServerProcess {
        let mut child = Command::new(sibling_binary("mrcp-server"))
            .args([
                "--sip-listen",
                sip,
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
            child: Some(child),
            sip: sip.expect("no SIP UDP address printed"),
        }
    }

    /// Kills the process now (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One DTMF recognition through `balancer`: INVITE, RECOGNIZE, digits, RECOGNITION-COMPLETE,
/// BYE. Returns an error text naming the step that failed.
pub async fn recognize_through(
    balancer: SocketAddr,
    transport: Transport,
    rtp_ports: (u16, u16),
) -> Result<(), String> {
    let step = |what: &'static str| move |e: mrcp_client::ClientError| format!("{what}: {e}");
    let mut session = Session::open(&SessionConfig {
        server: balancer,
        transport,
        profile: ClientProfile::Asterisk,
        resource: ResourceType::Speechrecog,
        local_ip: LOCALHOST,
        rtp_ports,
        timeout: DEADLINE,
        tls: None,
    })
    .await
    .map_err(step("session open (INVITE through the balancer)"))?;
    session
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .map_err(step("RECOGNIZE"))?;
    let response = session
        .receive()
        .await
        .map_err(step("RECOGNIZE response"))?;
    if !matches!(&response.start, StartLine::Response { status, .. } if status.code() == 200) {
        return Err(format!("RECOGNIZE answered {}", response.start));
    }
    session.dtmf("1234").await.map_err(step("dtmf"))?;
    let (_, complete) = session
        .until_event("RECOGNITION-COMPLETE")
        .await
        .map_err(step("RECOGNITION-COMPLETE"))?;
    let body = String::from_utf8_lossy(&complete.body).into_owned();
    if !body.contains("1234") {
        return Err(format!("recognition result without the digits: {body}"));
    }
    // BYE follows the Record-Route through the balancer.
    session.close().await;
    Ok(())
}
