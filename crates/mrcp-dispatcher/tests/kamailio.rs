//! Real Kamailio (Debian package `kamailio`) with `examples/kamailio/kamailio.cfg` in front of two
//! `mrcp-server` processes on loopback; recognitions with the `mrcp-client` library: calls spread
//! over both, BYE passes Kamailio, a killed server makes calls fail over, a drained server (SIGTERM,
//! OPTIONS answered 503) leaves Kamailio's rotation while its running session completes. The
//! tests write a copy
//! of the example with its own ports and runtime directory, runs Kamailio in the foreground
//! (`-DD -E`) and kills only that PID at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    net::{SocketAddr, TcpListener, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{ServerProcess, open_session, recognize_on, recognize_through};
use mrcp_sip::Transport;

const KAMAILIO_MISSING: &str = "kamailio not found: install the Debian package kamailio";

fn kamailio_bin() -> PathBuf {
    ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(KAMAILIO_MISSING)
}

/// A port free on loopback for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

struct Kamailio {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Kamailio {
    fn start(backends: &[SocketAddr]) -> Kamailio {
        let bin = kamailio_bin();
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mrcp-kamailio-{}-{}",
            std::process::id(),
            RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kamailio");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let cfg = std::fs::read_to_string(example.join("kamailio.cfg"))
            .unwrap()
            .replace("127.0.0.1:5070", &addr.to_string());
        std::fs::write(dir.join("kamailio.cfg"), cfg).unwrap();
        let list = std::fs::read_to_string(example.join("dispatcher.list"))
            .unwrap()
            .replace("sip:127.0.0.1:5080", &format!("sip:{}", backends[0]))
            .replace("sip:127.0.0.1:5081", &format!("sip:{}", backends[1]));
        std::fs::write(dir.join("dispatcher.list"), list).unwrap();
        let log = std::fs::File::create(dir.join("kamailio.log")).unwrap();
        let child = Command::new(bin)
            .arg("-f")
            .arg(dir.join("kamailio.cfg"))
            .args(["-DD", "-E", "-m", "64", "-M", "8"])
            .arg("-Y")
            .arg(dir.join("run"))
            .arg("-A")
            .arg(format!(
                "DSLIST=\"{}\"",
                dir.join("dispatcher.list").display()
            ))
            .arg("-A")
            .arg(format!(
                "CTLSOCK=\"unix:{}\"",
                dir.join("run/ctl").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect(KAMAILIO_MISSING);
        let k = Kamailio { child, dir, addr };
        k.wait_ready();
        k
    }

    /// Waits until Kamailio answers an OPTIONS ping (bounded: 10 s).
    fn wait_ready(&self) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let local = socket.local_addr().unwrap();
        for k in 0..50 {
            let ping = format!(
                "OPTIONS sip:{a} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bKready{k}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:test@{local}>;tag=t{k}\r\nTo: <sip:{a}>\r\n\
                 Call-ID: ready-{k}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                a = self.addr
            );
            socket.send_to(ping.as_bytes(), self.addr).unwrap();
            let mut buf = [0u8; 2048];
            if let Ok(n) = socket.recv(&mut buf)
                && buf[..n].starts_with(b"SIP/2.0 200")
            {
                return;
            }
        }
        panic!(
            "kamailio did not answer OPTIONS within 10 s; log:\n{}",
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default()
    }

    /// `DISPATCH` log lines towards `backend`.
    fn dispatched_to(&self, backend: SocketAddr) -> usize {
        let needle = format!("-> sip:{backend}");
        self.log()
            .lines()
            .filter(|l| l.contains("DISPATCH") && l.contains(&needle))
            .count()
    }

    fn failovers(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("FAILOVER"))
            .count()
    }

    /// The dispatcher flags of `backend` as `kamcmd dispatcher.list` shows them (`AP` = active
    /// and probed, `TP` = trying, `IP` = inactive).
    fn flags_of(&self, backend: SocketAddr) -> String {
        let out = Command::new("kamcmd")
            .arg("-s")
            .arg(format!("unix:{}", self.dir.join("run/ctl").display()))
            .arg("dispatcher.list")
            .output()
            .expect("kamcmd (Debian package kamailio)");
        let text = String::from_utf8_lossy(&out.stdout);
        let uri = format!("URI: sip:{backend}");
        let mut lines = text.lines().skip_while(|l| !l.contains(&uri));
        lines
            .find_map(|l| l.trim().strip_prefix("FLAGS:").map(|f| f.trim().to_owned()))
            .unwrap_or_else(|| panic!("no flags for {backend} in {text}"))
    }

    /// A core statistic read with kamcmd over the test's control socket.
    fn stat(&self, name: &str) -> u64 {
        let out = Command::new("kamcmd")
            .arg("-s")
            .arg(format!("unix:{}", self.dir.join("run/ctl").display()))
            .args(["stats.get_statistics", name])
            .output()
            .expect("kamcmd (Debian package kamailio)");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split('=')
            .nth(1)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no statistic {name} in {text:?}"))
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // Only our PID: kamailio's main process takes its children down on SIGTERM.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn within<T>(what: &str, secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_spreads_calls_passes_bye_and_fails_over() {
    let a = ServerProcess::start("127.0.0.1:0", "42000-42049");
    let mut b = ServerProcess::start("127.0.0.1:0", "42050-42099");
    let kamailio = Kamailio::start(&[a.sip, b.sip]);
    for (k, transport) in [
        Transport::Udp,
        Transport::Udp,
        Transport::Tcp,
        Transport::Tcp,
    ]
    .into_iter()
    .enumerate()
    {
        let k = k as u16;
        within("a recognition through kamailio", 30, async {
            recognize_through(kamailio.addr, transport, (42100 + 10 * k, 42109 + 10 * k)).await
        })
        .await
        .unwrap_or_else(|e| panic!("call {k} over {transport}: {e}\n{}", kamailio.log()));
    }
    assert_eq!(
        (kamailio.dispatched_to(a.sip), kamailio.dispatched_to(b.sip)),
        (2, 2),
        "round robin over both servers"
    );
    // Counted per received message: UDP retransmissions and the server's own BYEs count too.
    let byes = kamailio.stat("rcv_requests_bye");
    assert!(byes >= 4, "every BYE passed kamailio, counted {byes}");

    b.kill();
    for k in 0..3u16 {
        within("a recognition after the kill", 30, async {
            recognize_through(
                kamailio.addr,
                Transport::Udp,
                (42200 + 10 * k, 42209 + 10 * k),
            )
            .await
        })
        .await
        .unwrap_or_else(|e| panic!("call {k} after the kill: {e}\n{}", kamailio.log()));
    }
    assert!(
        kamailio.failovers() >= 1,
        "the call that went to the dead server failed over"
    );
    assert_eq!(kamailio.dispatched_to(a.sip) + kamailio.failovers(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_stops_sending_to_a_drained_server_whose_session_completes() {
    let a = ServerProcess::start("127.0.0.1:0", "42300-42349");
    let mut b = ServerProcess::start_with("127.0.0.1:0", "42350-42399", &["--drain-timeout", "30"]);
    let kamailio = Kamailio::start(&[a.sip, b.sip]);
    // Round robin: of two sessions held open, one is on each server.
    let first = within(
        "a first session",
        30,
        open_session(kamailio.addr, Transport::Udp, (42400, 42409)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", kamailio.log()));
    let second = within(
        "a second session",
        30,
        open_session(kamailio.addr, Transport::Udp, (42410, 42419)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", kamailio.log()));
    assert_eq!(
        (kamailio.dispatched_to(a.sip), kamailio.dispatched_to(b.sip)),
        (1, 1)
    );
    // Which one is on B: Kamailio's round robin does not promise where it starts.
    let log = kamailio.log();
    let first_on_b = log
        .lines()
        .find(|l| l.contains("DISPATCH"))
        .is_some_and(|l| l.contains(&format!("-> sip:{}", b.sip)));
    let (mut on_a, mut on_b) = if first_on_b {
        (second, first)
    } else {
        (first, second)
    };

    // SIGTERM: B drains and answers OPTIONS with 503; Kamailio's pings (every 2 s, threshold
    // 2) make it inactive. Polled with kamcmd: Kamailio reports no event for it.
    b.terminate();
    within("kamailio marking the draining server inactive", 20, async {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            if kamailio.flags_of(b.sip).starts_with('I') {
                return;
            }
        }
    })
    .await;
    let to_b = kamailio.dispatched_to(b.sip);
    for k in 0..3u16 {
        within("a recognition while B drains", 30, async {
            recognize_through(
                kamailio.addr,
                Transport::Udp,
                (42420 + 10 * k, 42429 + 10 * k),
            )
            .await
        })
        .await
        .unwrap_or_else(|e| panic!("call {k} while B drains: {e}\n{}", kamailio.log()));
    }
    assert_eq!(
        kamailio.dispatched_to(b.sip),
        to_b,
        "no new INVITE reached B"
    );
    assert_eq!(kamailio.dispatched_to(a.sip), 4);
    assert_eq!(kamailio.failovers(), 0);
    // B's running session still works and ends with a BYE through Kamailio; then B exits.
    within(
        "a recognition on the draining server",
        30,
        recognize_on(&mut on_b),
    )
    .await
    .unwrap_or_else(|e| panic!("the running session on B: {e}"));
    within("BYE of the session on B", 30, on_b.close()).await;
    let status = b.wait_exit(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "B exits once drained: {status:?}"
    );
    within("a recognition on A", 30, recognize_on(&mut on_a))
        .await
        .unwrap();
    within("BYE of the session on A", 30, on_a.close()).await;
}
