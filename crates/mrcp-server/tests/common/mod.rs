//! A real `mrcp-server` process on loopback, and sessions of the `mrcp-client` library, which sends the
//! FreeSWITCH or Asterisk offer, MRCP requests as they write them, and RTP at real pace.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mrcp_client::{Session, SessionConfig};
use mrcp_proto::mrcp::{Message, ResourceType};
use mrcp_proto::sdp::ClientProfile;
use mrcp_sip::Transport;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The server binary, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub sip: SocketAddr,
    pub sip_tcp: SocketAddr,
    pub mrcp: SocketAddr,
    /// `/metrics` and `/healthz`, on a free port.
    pub http: SocketAddr,
}

impl ServerProcess {
    /// Starts `mrcp-server` on free SIP and MRCP ports with RTP in `rtp_ports`.
    pub fn start(rtp_ports: &str, extra: &[&str]) -> ServerProcess {
        Self::start_with_env(rtp_ports, extra, &[])
    }

    /// Like [`ServerProcess::start`], with extra environment variables for the process.
    pub fn start_with_env(rtp_ports: &str, extra: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let mut args = vec![
            "--sip-listen",
            "127.0.0.1:0",
            "--mrcp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        Self::start_on(rtp_ports, &args, env)
    }

    /// Starts `mrcp-server` with exactly these arguments (they must name the listen addresses) and RTP in
    /// `rtp_ports`.
    pub fn start_on(rtp_ports: &str, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mrcp-server"))
            .args(["--rtp-ports", rtp_ports])
            .args(args)
            .envs(env.iter().copied())
            .env(
                "RUST_LOG",
                std::env::var("MRCP_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the mrcp-server binary");
        let stdout = child.stdout.take().unwrap();
        let (mut sip, mut sip_tcp, mut mrcp, mut http) = (None, None, None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("mrcp-server exited before printing its addresses");
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["sip", "UDP", addr] => sip = Some(addr.parse().unwrap()),
                ["sip", "TCP", addr] => sip_tcp = Some(addr.parse().unwrap()),
                ["http", "tcp", addr] => http = Some(addr.parse().unwrap()),
                ["mrcp", "tcp", addr] => {
                    mrcp = Some(addr.parse().unwrap());
                    break;
                }
                _ => {}
            }
        }
        ServerProcess {
            child,
            sip: sip.expect("no SIP UDP address printed"),
            sip_tcp: sip_tcp.expect("no SIP TCP address printed"),
            mrcp: mrcp.expect("no MRCP address printed"),
            http: http.expect("no HTTP address printed"),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (with kill(1): the crate forbids unsafe code, so no libc).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit within `deadline`; kills it and panics when it does not.
    pub fn wait_exit(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let pid = self.pid();
        let (tx, rx) = std::sync::mpsc::channel();
        let child = &mut self.child;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let _ = tx.send(child.wait());
            });
            match rx.recv_timeout(deadline) {
                Ok(status) => status.expect("cannot wait for mrcp-server"),
                Err(_) => {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                    let _ = rx.recv();
                    panic!("mrcp-server did not exit within {deadline:?}");
                }
            }
        })
    }
}

/// `GET path` on the server's HTTP port: the status code and the body.
pub async fn http_get(server: &ServerProcess, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(server.http).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
            .await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        std::io::Result::Ok(text)
    };
    let text = tokio::time::timeout(DEADLINE, exchange)
        .await
        .unwrap_or_else(|_| panic!("no HTTP response to GET {path}"))
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let (head, body) = text.split_once("\r\n\r\n").expect("no end of HTTP head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("no HTTP status");
    (status, body.to_owned())
}

/// Sends an OPTIONS over UDP as a balancer's probe does and returns the response text.
pub async fn sip_options(server: &ServerProcess) -> String {
    let socket = tokio::net::UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let local = socket.local_addr().unwrap();
    let branch = format!("z9hG4bK-probe-{}", rand_suffix());
    let request = format!(
        "OPTIONS sip:{0} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=p{1}\r\nTo: <sip:{0}>\r\nCall-ID: probe-{1}@test\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        server.sip,
        rand_suffix()
    );
    socket
        .send_to(request.as_bytes(), server.sip)
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(DEADLINE, socket.recv_from(&mut buf))
        .await
        .expect("no answer to OPTIONS")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    u64::from(std::process::id()) * 1_000_000 + NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const DEADLINE: Duration = Duration::from_secs(20);

/// Opens a speechrecog session with the client library, as `profile` would.
pub async fn connect(
    server: &ServerProcess,
    profile: ClientProfile,
    rtp_ports: (u16, u16),
) -> Session {
    try_connect(server, profile, rtp_ports)
        .await
        .expect("cannot open the MRCP session")
}

/// Like [`connect`], returning the error.
pub async fn try_connect(
    server: &ServerProcess,
    profile: ClientProfile,
    rtp_ports: (u16, u16),
) -> Result<Session, mrcp_client::ClientError> {
    Session::open(&SessionConfig {
        server: server.sip,
        transport: Transport::Udp,
        profile,
        resource: ResourceType::Speechrecog,
        local_ip: LOCALHOST,
        rtp_ports,
        timeout: DEADLINE,
        tls: None,
    })
    .await
}

/// Opens a speechsynth session with the client library, as FreeSWITCH would.
#[allow(dead_code)]
pub async fn synth_session(server: &ServerProcess, rtp_ports: (u16, u16)) -> Session {
    Session::open(&SessionConfig {
        server: server.sip,
        transport: Transport::Udp,
        profile: ClientProfile::FreeSwitch,
        resource: ResourceType::Speechsynth,
        local_ip: LOCALHOST,
        rtp_ports,
        timeout: DEADLINE,
        tls: None,
    })
    .await
    .expect("cannot open the synthesizer session")
}

/// DTMF as in-band tones (ITU-T Q.23 pairs), 100 ms on and 100 ms off per digit at 8 kHz, as FreeSWITCH's
/// vanilla profiles send them.
pub fn inband_dtmf(digits: &str) -> Vec<i16> {
    const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYS: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    let mut out = vec![0i16; 1600];
    for d in digits.chars() {
        let row = KEYS.iter().position(|r| r.contains(d)).unwrap();
        let col = KEYS[row].find(d).unwrap();
        for n in 0..800 {
            let t = n as f32 / 8000.0;
            let v = (2.0 * std::f32::consts::PI * LOW[row] * t).sin()
                + (2.0 * std::f32::consts::PI * HIGH[col] * t).sin();
            out.push((v * 6000.0) as i16);
        }
        out.extend(std::iter::repeat_n(0, 800));
    }
    out.extend(std::iter::repeat_n(0, 1600));
    out
}

/// Speech by espeak-ng as 8 kHz samples, with silence around it; fails naming the packages when missing.
pub fn telephone_speech(text: &str) -> Vec<i16> {
    let dir = std::env::temp_dir().join(format!("mrcp-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = text.chars().filter(char::is_ascii_alphanumeric).collect();
    let spoken = dir.join(format!("{name}.wav"));
    let phone = dir.join(format!("{name}-8k.wav"));
    let run = |program: &str, args: &[&str]| {
        let status = Command::new(program)
            .args(args)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run {program} ({e}): install the Debian packages espeak-ng and sox")
            });
        assert!(status.success(), "{program} failed");
    };
    run(
        "espeak-ng",
        &["-s", "150", "-w", spoken.to_str().unwrap(), text],
    );
    run(
        "sox",
        &[
            spoken.to_str().unwrap(),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            phone.to_str().unwrap(),
            "pad",
            "0.3",
            "1.5",
        ],
    );
    let reader = hound::WavReader::open(&phone).unwrap();
    reader.into_samples::<i16>().map(Result::unwrap).collect()
}

/// The Completion-Cause code of an event.
pub fn cause(m: &Message) -> u16 {
    let raw = m
        .headers
        .get_raw("Completion-Cause")
        .expect("no Completion-Cause");
    raw[..3].parse().unwrap()
}

/// The body as text.
pub fn body(m: &Message) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}

/// One SPEAK of `text` as FreeSWITCH sends it, routed to `engine` by `Vendor-Specific-Parameters:
/// engine=<name>`: the Completion-Cause (999 when none came) and the 8 kHz samples the client received.
/// Lenient, since a failing engine's SPEAK brings no audio, which strict mode reports as a violation.
#[allow(dead_code)]
pub async fn speak_routed(
    server: &ServerProcess,
    engine: &str,
    text: &str,
    rtp_ports: (u16, u16),
) -> (u16, Vec<i16>) {
    let mut client = synth_session(server, rtp_ports).await;
    client.set_mode(mrcp_client::Mode::Lenient);
    let mut request = mrcp_client::SpeakRequest::text(text);
    request.headers.push((
        "Vendor-Specific-Parameters".to_owned(),
        format!("engine={engine}"),
    ));
    let outcome = client.speak(&request).await.expect("SPEAK failed");
    let cause = outcome.completion_cause().unwrap_or(999);
    client.close().await;
    (cause, outcome.audio)
}
