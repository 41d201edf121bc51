//! The tokio driver on loopback sockets: IPv6 UDP and TCP calls between two drivers, bad input
//! answered with 400 or closing only the offending TCP connection. Every await has a deadline.

#[path = "../examples/uas/app.rs"]
mod app;

use std::{net::SocketAddr, time::Duration};

use mrcp_sip::{
    Body, EndReason, Event, Invite, Peer, Transport,
    driver::{DriverConfig, SipDriver, spawn},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
    time::timeout,
};

const WAIT: Duration = Duration::from_secs(10);

async fn driver_on(ip: &str) -> SipDriver {
    // The port is probed on UDP; another process may hold it on TCP by the time we bind, so try a few.
    let mut last_error = None;
    for _ in 0..20 {
        let probe = std::net::UdpSocket::bind((ip, 0)).expect("probe bind");
        let addr = probe.local_addr().expect("addr");
        drop(probe);
        let config = DriverConfig {
            udp: vec![addr],
            tcp: vec![addr],
            ..DriverConfig::default()
        };
        match spawn(config).await {
            Ok(driver) => return driver,
            Err(e) => last_error = Some(e),
        }
    }
    panic!("driver could not bind UDP and TCP on one port in 20 tries: {last_error:?}");
}

async fn next_event(driver: &mut SipDriver, what: &str) -> Event {
    timeout(WAIT, driver.events.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within {WAIT:?} while waiting for {what}"))
        .unwrap_or_else(|| panic!("driver stopped while waiting for {what}"))
}

async fn call_between(transport: Transport, ip: &str) {
    let server = driver_on(ip).await;
    let server_handle = server.handle.clone();
    let target = server_handle.local_addr(transport).expect("server bound");
    let serving = tokio::spawn(app::serve(server, app::Behaviour::default()));
    let mut client = driver_on(ip).await;
    let sdp = app::sdp_answer(b"a=resource:speechsynth", target.ip(), 9);
    let host = if target.is_ipv6() {
        format!("[{}]:{}", target.ip(), target.port())
    } else {
        target.to_string()
    };
    let call = client
        .handle
        .invite(Invite {
            uri: format!("sip:mrcp@{host};transport={}", transport.param()),
            peer: Peer {
                transport,
                addr: target,
                connection: None,
            },
            from: None,
            to: None,
            headers: vec![],
            body: Some(Body::sdp(sdp)),
        })
        .await
        .expect("invite");
    loop {
        match next_event(&mut client, "the answer").await {
            Event::Answered { call: c, response } => {
                assert_eq!(c, call);
                assert!(String::from_utf8_lossy(&response.body).contains("a=channel:"));
                break;
            }
            Event::Provisional { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
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
async fn ipv6_call_over_udp() {
    call_between(Transport::Udp, "::1").await;
}

#[tokio::test]
async fn ipv6_call_over_tcp() {
    call_between(Transport::Tcp, "::1").await;
}

#[tokio::test]
async fn ipv4_call_over_tcp() {
    call_between(Transport::Tcp, "127.0.0.1").await;
}

fn options(branch: &str, local: SocketAddr, content_length: &str) -> String {
    format!(
        "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bK{branch}\r\n\
From: <sip:probe@{local}>;tag=p\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: {branch}@probe\r\n\
CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: {content_length}\r\n\r\n"
    )
}

async fn udp_exchange(socket: &UdpSocket, to: SocketAddr, msg: &str) -> String {
    socket.send_to(msg.as_bytes(), to).await.expect("send");
    let mut buf = vec![0u8; 65_535];
    let (n, _) = timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("a udp response within 10 s")
        .expect("recv");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn bad_input_gets_400_or_closes_only_that_tcp_connection() {
    let driver = driver_on("127.0.0.1").await;
    let handle = driver.handle.clone();
    let serving = tokio::spawn(app::serve(driver, app::Behaviour::default()));
    let udp_target = handle.local_addr(Transport::Udp).expect("udp");
    let tcp_target = handle.local_addr(Transport::Tcp).expect("tcp");
    let probe = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let local = probe.local_addr().expect("addr");

    // Truncated body over UDP: 400 with the reason.
    let reply = udp_exchange(&probe, udp_target, &options("bad1", local, "999")).await;
    assert!(
        reply.starts_with("SIP/2.0 400 Bad Content-Length\r\n"),
        "{reply}"
    );

    // Garbage on one TCP connection closes it; another connection still works.
    let mut bad = TcpStream::connect(tcp_target).await.expect("connect");
    bad.write_all(&vec![b'x'; 20_000])
        .await
        .expect("write garbage");
    let mut buf = [0u8; 64];
    let n = timeout(WAIT, bad.read(&mut buf))
        .await
        .expect("the server closes within 10 s")
        .unwrap_or(0);
    assert_eq!(n, 0, "connection closed on the framing error");
    let mut no_length = TcpStream::connect(tcp_target).await.expect("connect");
    no_length
        .write_all(b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n\r\n")
        .await
        .expect("write");
    let n = timeout(WAIT, no_length.read(&mut buf))
        .await
        .expect("closed within 10 s")
        .unwrap_or(0);
    assert_eq!(n, 0, "missing Content-Length on a stream closes it");

    let mut good = TcpStream::connect(tcp_target).await.expect("connect");
    let msg = options("good", local, "0").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    good.write_all(b"\r\n\r\n").await.expect("keep-alive ping");
    good.write_all(msg.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    timeout(WAIT, async {
        while !String::from_utf8_lossy(&got).contains("SIP/2.0 200") {
            let n = good.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed before the 200");
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("pong and 200 within 10 s");
    assert!(
        got.starts_with(b"\r\nSIP/2.0 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // UDP is unaffected.
    let reply = udp_exchange(&probe, udp_target, &options("good2", local, "0")).await;
    assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");
    handle.shutdown();
    let _ = timeout(WAIT, serving).await.expect("stops");
}
