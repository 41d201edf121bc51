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
        Self::start_with(sip, rtp_ports, &[])
    }

    /// [`ServerProcess::start`] with extra flags (e.g. `--drain-timeout 30`).
    pub fn start_with(sip: &str, rtp_ports: &str, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(sibling_binary("mrcp-server"))
            .args(extra)
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

    /// Sends SIGTERM: the server drains (OPTIONS and new INVITEs get 503, running sessions go on).
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("kill");
            assert!(status.success(), "kill -TERM failed");
        }
    }

    /// Waits up to `limit` for the process to exit by itself; `None` if it is still running
    /// (it is then killed).
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id();
        let waiter = tokio::task::spawn_blocking(move || child.wait());
        match tokio::time::timeout(limit, waiter).await {
            Ok(Ok(Ok(status))) => Some(status),
            _ => {
                // Only our own child, by PID; the blocking wait then returns.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                None
            }
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

fn step(what: &'static str) -> impl Fn(mrcp_client::ClientError) -> String {
    move |e| format!("{what}: {e}")
}

/// One DTMF recognition through `balancer`: INVITE, RECOGNIZE, digits, RECOGNITION-COMPLETE,
/// BYE. Returns an error text naming the step that failed.
pub async fn recognize_through(
    balancer: SocketAddr,
    transport: Transport,
    rtp_ports: (u16, u16),
) -> Result<(), String> {
    let mut session = open_session(balancer, transport, rtp_ports).await?;
    recognize_on(&mut session).await?;
    // BYE follows the Record-Route through the balancer.
    session.close().await;
    Ok(())
}

/// A session set up through `balancer` (INVITE, 200, ACK; MRCP connected to the chosen server).
pub async fn open_session(
    balancer: SocketAddr,
    transport: Transport,
    rtp_ports: (u16, u16),
) -> Result<Session, String> {
    Session::open(&SessionConfig {
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
    .map_err(step("session open (INVITE through the balancer)"))
}

/// One DTMF recognition on an open session: RECOGNIZE, digits, RECOGNITION-COMPLETE.
pub async fn recognize_on(session: &mut Session) -> Result<(), String> {
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
    Ok(())
}
