//! TLS end to end on loopback: the `mrcp-server` binary with a certificate made at test time, and the client
//! library over SIP/TLS (`sips:`) and MRCP/TLS (`TCP/TLS/MRCPv2`). Also: a client that does not trust the
//! server's CA, a required client certificate, a TLS 1.1 hello, a peer stalled in its handshake, and start-up
//! errors naming the key and the file. Every await has a deadline naming what it awaited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../mrcp-sip/tests/pki/mod.rs"]
mod pki;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::{DEADLINE, LOCALHOST, body, cause};
use mrcp_client::{ClientError, ClientTls, Session, SessionConfig};
use mrcp_proto::mrcp::{Method, ResourceType, StartLine};
use mrcp_proto::sdp::ClientProfile;
use mrcp_sip::Transport;
use mrcp_sip::driver::ConnectError;
use mrcp_sip::tls::{self, rustls::pki_types::ServerName};
use pki::{Ca, TempDir, tls11_client_hello};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The server binary with TLS listeners, killed when dropped.
struct TlsServer {
    child: Child,
    sip_tls: SocketAddr,
    mrcp_tls: SocketAddr,
    mrcp_tcp: SocketAddr,
    _dir: TempDir,
}

impl TlsServer {
    /// Starts the server with a certificate of `ca`; `extra_toml` is appended to the `[tls]` section.
    fn start(ca: &Ca, rtp_ports: &str, extra_toml: &str) -> TlsServer {
        let dir = TempDir::new("server");
        let leaf = ca.leaf("mrcp server");
        let cert = dir.write("server.crt", &leaf.cert_pem);
        let key = dir.write("server.key", &leaf.key_pem);
        let config = dir.write("server.toml", &format!("[tls]\n{extra_toml}\n"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mrcp-server"))
            .arg("--config")
            .arg(&config)
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
            .env(
                "RUST_LOG",
                std::env::var("MRCP_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the mrcp-server binary");
        let stdout = child.stdout.take().unwrap();
        let (mut sip_tls, mut mrcp_tls, mut mrcp_tcp) = (None, None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("mrcp-server exited before printing its addresses");
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["sip", "TLS", addr] => sip_tls = Some(addr.parse().unwrap()),
                ["mrcp", "tls", addr] => mrcp_tls = Some(addr.parse().unwrap()),
                ["mrcp", "tcp", addr] => {
                    mrcp_tcp = Some(addr.parse().unwrap());
                    break;
                }
                _ => {}
            }
        }
        TlsServer {
            child,
            sip_tls: sip_tls.expect("no `sip TLS` line printed"),
            mrcp_tls: mrcp_tls.expect("no `mrcp tls` line printed"),
            mrcp_tcp: mrcp_tcp.expect("no `mrcp tcp` line printed"),
            _dir: dir,
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_session(server: &TlsServer, trust: &Ca, rtp_ports: (u16, u16)) -> SessionConfig {
    SessionConfig {
        server: server.sip_tls,
        transport: Transport::Tls,
        profile: ClientProfile::Asterisk,
        resource: ResourceType::Speechrecog,
        local_ip: LOCALHOST,
        rtp_ports,
        timeout: DEADLINE,
        tls: Some(ClientTls {
            config: tls::client_config_from(trust.roots(), None).unwrap(),
            server_name: None,
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_recognition_over_sip_tls_and_mrcp_tls() {
    let ca = Ca::new("e2e ca");
    let server = TlsServer::start(&ca, "34000-34099", "");
    let mut client = timeout(
        DEADLINE,
        Session::open(&tls_session(&server, &ca, (34100, 34199))),
    )
    .await
    .expect("no session over TLS in time")
    .expect("cannot open the session over TLS");
    // The TLS channel cannot be reached over the plain TCP listener.
    let mut plain = TcpStream::connect(server.mrcp_tcp).await.unwrap();
    let request = format!(
        "MRCP/2.0 LEN GET-PARAMS 1\r\nChannel-Identifier: {}\r\n\r\n",
        client.channel()
    );
    let request = request.replace("LEN", &request.len().to_string());
    plain.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = timeout(DEADLINE, plain.read(&mut buf))
        .await
        .expect("no answer on the plain MRCP port")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.contains(" 405 COMPLETE"), "{text}");
    client
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .unwrap();
    let response = client.receive().await.unwrap();
    assert!(
        matches!(&response.start, StartLine::Response { status, .. } if status.is_success()),
        "{}",
        response.start
    );
    client.dtmf("2468").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(body(&complete).contains("2468"), "{}", body(&complete));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_server_ca_fails_clearly() {
    let ca = Ca::new("server ca");
    let server = TlsServer::start(&ca, "34200-34299", "");
    let stranger = Ca::new("another ca");
    let outcome = timeout(
        DEADLINE,
        Session::open(&tls_session(&server, &stranger, (34300, 34399))),
    )
    .await
    .expect("no outcome of an untrusted TLS session in time");
    let Err(error) = outcome else {
        panic!("a session opened with an untrusted certificate")
    };
    let text = error.to_string();
    match &error {
        ClientError::Connect {
            addr,
            transport,
            error,
        } => {
            assert_eq!((*addr, *transport), (server.sip_tls, Transport::Tls));
            assert!(matches!(**error, ConnectError::Tls(_)), "{text}");
        }
        other => panic!("expected a connect error, got {other}"),
    }
    assert!(
        text.contains("UnknownIssuer") && text.contains("over TLS"),
        "{text}"
    );
}

/// A TLS client of the MRCP TLS port, presenting `identity` if any; returns what a first read gives.
async fn mrcp_tls_probe(
    server: &TlsServer,
    ca: &Ca,
    identity: Option<&pki::Leaf>,
) -> Result<usize, String> {
    let config = tls::client_config_from(
        ca.roots(),
        identity.map(|leaf| (vec![leaf.cert.clone()], leaf.key())),
    )
    .unwrap();
    let tcp = TcpStream::connect(server.mrcp_tls).await.unwrap();
    let name = ServerName::IpAddress(server.mrcp_tls.ip().into());
    let mut stream = tls::connect(config, name, tcp, server.mrcp_tls, DEADLINE)
        .await
        .map_err(|e| e.to_string())?;
    // An MRCP request for a session that does not exist: 405 (RFC 6787 §5.4) proves the stream is served.
    let request =
        "MRCP/2.0 LEN GET-PARAMS 1\r\nChannel-Identifier: 0000000000000001@speechrecog\r\n\r\n";
    let request = request.replace("LEN", &request.len().to_string());
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1024];
    let n = timeout(DEADLINE, stream.read(&mut buf))
        .await
        .expect("no answer on the MRCP TLS port")
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(text.contains(" 405 COMPLETE"), "{text}");
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_required_by_client_ca() {
    let ca = Ca::new("mutual ca");
    let dir = TempDir::new("client-ca");
    let ca_file = dir.write("clients.crt", &ca.pem);
    let server = TlsServer::start(
        &ca,
        "34400-34499",
        &format!("client_ca = {:?}", ca_file.to_str().unwrap()),
    );
    let refused = timeout(DEADLINE, mrcp_tls_probe(&server, &ca, None))
        .await
        .expect("no outcome without a client certificate");
    let error = refused.expect_err("served a client without a certificate");
    assert!(error.contains("CertificateRequired"), "{error}");
    let me = ca.leaf("client");
    timeout(DEADLINE, mrcp_tls_probe(&server, &ca, Some(&me)))
        .await
        .expect("no outcome with a client certificate")
        .expect("refused a client with a certificate of the CA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_is_closed_and_tls11_is_refused() {
    let ca = Ca::new("stall ca");
    let server = TlsServer::start(&ca, "34600-34699", "handshake_timeout_ms = 300");
    // A peer that connects and never speaks.
    let mut silent = TcpStream::connect(server.mrcp_tls).await.unwrap();
    // A TLS 1.1 client.
    let mut old = TcpStream::connect(server.mrcp_tls).await.unwrap();
    old.write_all(&tls11_client_hello()).await.unwrap();
    // Meanwhile a proper client is served.
    timeout(DEADLINE, mrcp_tls_probe(&server, &ca, None))
        .await
        .expect("a client was kept waiting by a stalled one")
        .expect("a proper client was refused");
    let mut reply = Vec::new();
    timeout(DEADLINE, old.read_to_end(&mut reply))
        .await
        .expect("the TLS 1.1 client was neither answered nor closed")
        .unwrap();
    assert!(
        reply.len() >= 7 && reply[0] == 21 && reply[5] == 2,
        "no fatal alert: {reply:?}"
    );
    let mut buf = [0u8; 16];
    let n = timeout(DEADLINE, silent.read(&mut buf))
        .await
        .expect("the stalled connection was not closed after the handshake timeout")
        .unwrap_or(0);
    assert_eq!(n, 0, "expected EOF");
}

#[test]
fn start_up_errors_name_the_key_and_the_file() {
    let ca = Ca::new("config ca");
    let dir = TempDir::new("config");
    let leaf = ca.leaf("a");
    let other = ca.leaf("b");
    let cert = dir.write("server.crt", &leaf.cert_pem);
    let wrong_key = dir.write("wrong.key", &other.key_pem);
    let run = |cert: &std::path::Path, key: &std::path::Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_mrcp-server"))
            .args([
                "--sip-listen",
                "127.0.0.1:0",
                "--mrcp-listen",
                "127.0.0.1:0",
            ])
            .args(["--http-listen", "127.0.0.1:0"])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .args([
                "--sip-tls-listen",
                "127.0.0.1:0",
                "--mrcp-tls-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "off")
            .output()
            .expect("cannot run mrcp-server");
        assert!(
            !output.status.success(),
            "started with a bad TLS configuration"
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run(&cert, &wrong_key);
    assert!(
        stderr.contains("tls.key")
            && stderr.contains("wrong.key")
            && stderr.contains("does not match"),
        "{stderr}"
    );
    let stderr = run(&dir.path().join("absent.crt"), &wrong_key);
    assert!(
        stderr.contains("tls.cert") && stderr.contains("absent.crt"),
        "{stderr}"
    );
}
