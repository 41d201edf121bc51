//! SIP over TLS (RFC 3261 §26.2, RFC 5630) through the tokio driver on loopback, with a PKI made
//! at test time: a call to a `sips:` URI, an untrusted server certificate, a required client
//! certificate, a TLS 1.1 hello, and a peer that never finishes its handshake. Every await has a
//! deadline naming what it awaited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/uas/app.rs"]
mod app;
mod pki;

use std::{net::SocketAddr, time::Duration};

use mrcp_sip::{
    Body, EndReason, Event, Invite, OutOfDialogRequest, Peer, Transport,
    driver::{ConnectError, DriverConfig, SipDriver, SipTls, spawn},
    tls::{self, TlsError, rustls::pki_types::ServerName},
};
use pki::{Ca, tls11_client_hello};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

const WAIT: Duration = Duration::from_secs(10);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A UAS listening on TLS only, presenting a certificate of `ca`.
async fn tls_server(ca: &Ca, client_ca: Option<&Ca>, handshake_timeout: Duration) -> SipDriver {
    let leaf = ca.leaf("sip server");
    let server = tls::server_config_from(
        vec![leaf.cert.clone()],
        leaf.key(),
        client_ca.map(Ca::roots),
    )
    .unwrap();
    spawn(DriverConfig {
        tls: vec![loopback()],
        tls_config: SipTls {
            server: Some(server),
            handshake_timeout,
            ..SipTls::default()
        },
        ..DriverConfig::default()
    })
    .await
    .expect("tls server driver")
}

/// A UAC with a TCP socket (for its Via) that trusts `ca` for TLS.
async fn tls_client(ca: &Ca) -> SipDriver {
    spawn(DriverConfig {
        tcp: vec![loopback()],
        tls_config: SipTls {
            client: Some(tls::client_config_from(ca.roots(), None).unwrap()),
            ..SipTls::default()
        },
        ..DriverConfig::default()
    })
    .await
    .expect("tls client driver")
}

async fn next_event(driver: &mut SipDriver, what: &str) -> Event {
    timeout(WAIT, driver.events.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within {WAIT:?} while waiting for {what}"))
        .unwrap_or_else(|| panic!("driver stopped while waiting for {what}"))
}

fn invite_to(target: SocketAddr) -> Invite {
    Invite {
        uri: format!("sips:mrcp@{target}"),
        peer: Peer {
            transport: Transport::Tls,
            addr: target,
            connection: None,
        },
        from: None,
        to: None,
        headers: vec![],
        body: Some(Body::sdp(app::sdp_answer(
            b"a=resource:speechrecog",
            target.ip(),
            9,
        ))),
    }
}

#[tokio::test]
async fn call_to_a_sips_uri_over_tls() {
    let ca = Ca::new("sip test ca");
    let server = tls_server(&ca, None, Duration::from_secs(5)).await;
    let server_handle = server.handle.clone();
    let target = server_handle.local_addr(Transport::Tls).expect("tls bound");
    let serving = tokio::spawn(app::serve(server, app::Behaviour::default()));
    let mut client = tls_client(&ca).await;
    let call = client
        .handle
        .invite(invite_to(target))
        .await
        .expect("invite");
    let response = loop {
        match next_event(&mut client, "the answer over TLS").await {
            Event::Answered { call: c, response } => {
                assert_eq!(c, call);
                break response;
            }
            Event::Provisional { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    let via = response.header("Via").expect("Via");
    assert!(via.starts_with("SIP/2.0/TLS "), "{via}");
    let contact = response.header("Contact").expect("Contact");
    assert_eq!(contact, format!("<sips:{target}>"), "RFC 5630 SIPS Contact");
    // The BYE goes back over the same TLS connection.
    client.handle.bye(call).await.expect("bye");
    match next_event(&mut client, "the end of the call").await {
        Event::Terminated { reason, .. } => assert_eq!(reason, EndReason::LocalBye),
        other => panic!("unexpected {other:?}"),
    }
    server_handle.shutdown();
    client.handle.shutdown();
    let seen = timeout(WAIT, serving)
        .await
        .expect("server stops")
        .expect("server task");
    assert_eq!((seen.invites, seen.acks, seen.byes), (1, 1, 1), "{seen:?}");
}

#[tokio::test]
async fn untrusted_server_certificate_fails_the_invite_with_the_reason() {
    let server_ca = Ca::new("real ca");
    let other_ca = Ca::new("some other ca");
    let server = tls_server(&server_ca, None, Duration::from_secs(5)).await;
    let target = server.handle.local_addr(Transport::Tls).expect("tls bound");
    let serving = tokio::spawn(app::serve(server, app::Behaviour::default()));
    let mut client = tls_client(&other_ca).await;
    let mut failures = client.handle.connect_failures();
    let call = client
        .handle
        .invite(invite_to(target))
        .await
        .expect("invite");
    match next_event(&mut client, "the failed call").await {
        Event::Terminated { call: c, reason } => {
            assert_eq!((c, reason), (call, EndReason::TransportError));
        }
        other => panic!("unexpected {other:?}"),
    }
    let failure = timeout(WAIT, failures.recv())
        .await
        .expect("no connect failure published")
        .expect("failure channel");
    assert_eq!((failure.transport, failure.addr), (Transport::Tls, target));
    let text = failure.error.to_string();
    assert!(
        matches!(
            &*failure.error,
            ConnectError::Tls(TlsError::Handshake { .. })
        ),
        "{text}"
    );
    assert!(text.contains("UnknownIssuer"), "{text}");
    client.handle.shutdown();
    serving.abort();
}

#[tokio::test]
async fn required_client_certificate_missing_is_refused() {
    let ca = Ca::new("mutual ca");
    let server = tls_server(&ca, Some(&ca), Duration::from_secs(5)).await;
    let target = server.handle.local_addr(Transport::Tls).expect("tls bound");
    let serving = tokio::spawn(app::serve(server, app::Behaviour::default()));
    let name = ServerName::IpAddress(target.ip().into());

    // Without a certificate: TLS 1.3 lets the client finish first, then the server's alert ends it.
    let tcp = TcpStream::connect(target).await.unwrap();
    let config = tls::client_config_from(ca.roots(), None).unwrap();
    let outcome = timeout(WAIT, async {
        let mut stream = tls::connect(config, name.clone(), tcp, target, WAIT).await?;
        stream
            .write_all(b"\r\n\r\n")
            .await
            .map_err(|source| TlsError::Handshake {
                peer: target,
                source,
            })?;
        let mut buf = [0u8; 64];
        stream
            .read(&mut buf)
            .await
            .map_err(|source| TlsError::Handshake {
                peer: target,
                source,
            })
    })
    .await
    .expect("no outcome of the handshake without a client certificate");
    let err = outcome.expect_err("a client without a certificate was served");
    assert!(err.to_string().contains("CertificateRequired"), "{err}");

    // With a certificate of the CA: an OPTIONS gets its 200.
    let me = ca.leaf("client");
    let config =
        tls::client_config_from(ca.roots(), Some((vec![me.cert.clone()], me.key()))).unwrap();
    let tcp = TcpStream::connect(target).await.unwrap();
    let mut stream = tls::connect(config, name, tcp, target, WAIT)
        .await
        .expect("mutual handshake");
    let local = stream.get_ref().0.local_addr().unwrap();
    let options = format!(
        "OPTIONS sips:{target} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKtls1\r\n\
         From: <sips:probe@{local}>;tag=p\r\nTo: <sips:{target}>\r\nCall-ID: tls1@probe\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(options.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("no answer to OPTIONS over mutual TLS")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("SIP/2.0 200 "), "{text}");
    serving.abort();
}

#[tokio::test]
async fn tls11_hello_is_refused_with_a_fatal_alert() {
    let ca = Ca::new("version ca");
    let server = tls_server(&ca, None, Duration::from_secs(5)).await;
    let target = server.handle.local_addr(Transport::Tls).expect("tls bound");
    let serving = tokio::spawn(app::serve(server, app::Behaviour::default()));
    let mut tcp = TcpStream::connect(target).await.unwrap();
    tcp.write_all(&tls11_client_hello()).await.unwrap();
    let mut reply = Vec::new();
    timeout(WAIT, tcp.read_to_end(&mut reply))
        .await
        .expect("the server neither answered nor closed after a TLS 1.1 hello")
        .unwrap();
    // One fatal alert record (content type 21, level 2) and the connection closed: rustls
    // answers a hello with nothing newer than TLS 1.1 with handshake_failure (40) (no TLS 1.2
    // suite or signature algorithm it can use) or protocol_version (70).
    assert!(reply.len() >= 7, "{reply:?}");
    assert_eq!(reply[0], 21, "not an alert record: {reply:?}");
    assert_eq!(reply[5], 2, "not fatal: {reply:?}");
    assert!([40, 70].contains(&reply[6]), "{reply:?}");
    serving.abort();
}

#[tokio::test]
async fn a_stalled_handshake_is_closed_and_blocks_nobody() {
    let ca = Ca::new("stall ca");
    let handshake_timeout = Duration::from_millis(500);
    let server = tls_server(&ca, None, handshake_timeout).await;
    let target = server.handle.local_addr(Transport::Tls).expect("tls bound");
    let serving = tokio::spawn(app::serve(server, app::Behaviour::default()));

    // A peer that opens TCP and never says a word.
    let mut silent = TcpStream::connect(target).await.unwrap();
    // Meanwhile a real client is served.
    let mut client = tls_client(&ca).await;
    let started = tokio::time::Instant::now();
    client
        .handle
        .request(OutOfDialogRequest {
            method: "OPTIONS".to_owned(),
            uri: format!("sips:{target}"),
            peer: Peer {
                transport: Transport::Tls,
                addr: target,
                connection: None,
            },
            headers: vec![],
        })
        .await
        .expect("options");
    match next_event(&mut client, "the answer to OPTIONS beside a stalled peer").await {
        Event::RequestResponse { response, .. } => {
            assert_eq!(response.status(), Some(200));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        started.elapsed() < handshake_timeout,
        "the served client waited for the stalled one"
    );
    // The silent peer is closed once the handshake deadline passes.
    let mut buf = [0u8; 16];
    let n = timeout(WAIT, silent.read(&mut buf))
        .await
        .expect("the stalled connection was not closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "expected EOF");
    client.handle.shutdown();
    serving.abort();
}

#[tokio::test]
async fn a_tls_listener_without_a_certificate_is_refused() {
    let err = spawn(DriverConfig {
        tls: vec![loopback()],
        ..DriverConfig::default()
    })
    .await
    .expect_err("a tls listener without a certificate");
    assert!(
        matches!(err, mrcp_sip::Error::TlsNotConfigured { .. }),
        "{err}"
    );
}

/// Sans-IO: a `sips:` remote target without a transport parameter is reached over TLS at 5061 (RFC 5630
/// §3.1.3), even when the dialog began over UDP, and our requests over TLS carry `SIP/2.0/TLS` Vias.
#[test]
fn a_sips_contact_is_reached_over_tls() {
    use mrcp_sip::{Endpoint, EndpointConfig, LocalAddr, Message, Output};
    let now = std::time::Instant::now();
    let local = |transport, port| LocalAddr {
        transport,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let mut ep = Endpoint::new(EndpointConfig {
        local: vec![local(Transport::Udp, 5080), local(Transport::Tls, 5081)],
        ..EndpointConfig::default()
    });
    let server: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let call = ep
        .invite(
            now,
            Invite {
                uri: format!("sip:mrcp@{server}"),
                peer: Peer {
                    transport: Transport::Udp,
                    addr: server,
                    connection: None,
                },
                from: None,
                to: None,
                headers: vec![],
                body: None,
            },
        )
        .unwrap();
    let Some(Output::Transmit(invite)) = ep.poll_output() else {
        panic!("no INVITE")
    };
    let invite = Message::parse(&invite.payload, &Default::default()).unwrap();
    let mut ok = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        ok += &format!("{name}: {}\r\n", invite.header(name).unwrap());
    }
    ok += &format!(
        "To: {};tag=s1\r\nContact: <sips:mrcp@127.0.0.1>\r\nContent-Length: 0\r\n\r\n",
        invite.header("To").unwrap()
    );
    ep.handle_message(
        now,
        ok.as_bytes(),
        Peer {
            transport: Transport::Udp,
            addr: server,
            connection: None,
        },
    );
    let mut ack = None;
    while let Some(out) = ep.poll_output() {
        if let Output::Transmit(t) = out {
            ack = Some(t);
        }
    }
    let ack = ack.expect("no ACK");
    assert_eq!(ack.peer.transport, Transport::Tls);
    assert_eq!(
        ack.peer.addr,
        "127.0.0.1:5061".parse::<SocketAddr>().unwrap()
    );
    let ack = Message::parse(&ack.payload, &Default::default()).unwrap();
    assert!(
        ack.header("Via")
            .unwrap()
            .starts_with("SIP/2.0/TLS 127.0.0.1:5081"),
        "{:?}",
        ack.header("Via")
    );
    let _ = call;
}
