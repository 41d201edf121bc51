//! The dispatcher between `mrcp-sip` endpoints on loopback, at the SIP level: a draining backend
//! (OPTIONS answered 503) leaves the rotation and comes back when healthy, an INVITE answered
//! 503 fails over at once, the SDP passes untouched, Record-Route puts the dispatcher on the
//! path of ACK and BYE, and `/metrics` and `/healthz` answer real HTTP requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, time::Duration};

use mrcp_dispatcher::{Algorithm, Config, Destination, Dispatcher, HealthConfig};
use mrcp_sip::{
    Body, EndReason, EndpointConfig, Event, Invite, Peer, Response, Transport,
    driver::{DriverConfig, SipDriver, SipHandle, spawn},
};
use tokio::sync::mpsc;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\n\
                   a=resource:speechrecog\r\na=cmid:1\r\n";

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("timed out after 10 s waiting for {what}"))
}

async fn endpoint(options_status: Option<u16>) -> SipDriver {
    spawn(DriverConfig {
        udp: vec!["127.0.0.1:0".parse().unwrap()],
        endpoint: EndpointConfig {
            options_status,
            seed: rand_seed(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap()
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into()
}

/// What a backend saw.
#[derive(Debug)]
enum Seen {
    Invite {
        backend: usize,
        record_route: Option<String>,
        sdp: String,
    },
    Bye {
        backend: usize,
    },
}

/// Runs a backend: answers INVITE with `invite_status` (200 with an SDP answer, or an error).
fn serve(
    index: usize,
    mut driver: SipDriver,
    invite_status: u16,
    seen: mpsc::Sender<Seen>,
) -> SipHandle {
    let handle = driver.handle.clone();
    let h = handle.clone();
    tokio::spawn(async move {
        while let Some(ev) = driver.events.recv().await {
            match ev {
                Event::IncomingInvite { tx, request, .. } => {
                    let _ = seen
                        .send(Seen::Invite {
                            backend: index,
                            record_route: request.header("Record-Route").map(str::to_owned),
                            sdp: String::from_utf8_lossy(&request.body).into_owned(),
                        })
                        .await;
                    let response = if invite_status == 200 {
                        Response::ok_with_sdp(SDP)
                    } else {
                        Response::status(invite_status)
                    };
                    h.respond(tx, response).await.unwrap();
                }
                Event::Terminated {
                    reason: EndReason::RemoteBye,
                    ..
                } => {
                    let _ = seen.send(Seen::Bye { backend: index }).await;
                }
                _ => {}
            }
        }
    });
    handle
}

fn sip_addr(h: &SipHandle) -> SocketAddr {
    h.local_addr(Transport::Udp).unwrap()
}

/// One call from `client` through `dispatcher`: INVITE, 200 (with Record-Route), ACK, BYE.
async fn call(client: &mut SipDriver, dispatcher: SocketAddr) -> Option<String> {
    let call = client
        .handle
        .invite(Invite {
            uri: format!("sip:mrcp@{dispatcher}"),
            peer: Peer {
                transport: Transport::Udp,
                addr: dispatcher,
                connection: None,
            },
            from: None,
            to: None,
            headers: vec![],
            body: Some(Body::sdp(SDP)),
        })
        .await
        .unwrap();
    let response = within("the 200 OK through the dispatcher", async {
        loop {
            match client.events.recv().await.unwrap() {
                Event::Answered { call: c, response } if c == call => return response,
                Event::Terminated { call: c, reason } if c == call => {
                    panic!("call failed: {reason:?}")
                }
                _ => {}
            }
        }
    })
    .await;
    client.handle.bye(call).await.unwrap();
    response.header("Record-Route").map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_backend_leaves_rotation_and_rejected_invites_fail_over() {
    let (seen_tx, mut seen) = mpsc::channel(64);
    let a = serve(0, endpoint(Some(200)).await, 200, seen_tx.clone());
    // Draining: answers OPTIONS with 503.
    let drained = serve(1, endpoint(Some(503)).await, 200, seen_tx.clone());
    // Healthy for OPTIONS but rejects INVITE with 503 (overload).
    let rejecting = serve(2, endpoint(Some(200)).await, 503, seen_tx.clone());
    let dispatcher = Dispatcher::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: None,
        algorithm: Algorithm::RoundRobin,
        invite_timeout: Duration::from_secs(2),
        health: HealthConfig {
            interval: Duration::from_millis(200),
            timeout: Duration::from_millis(500),
            down_after: 2,
            up_after: 1,
        },
        destinations: [&a, &drained, &rejecting]
            .iter()
            .map(|h| Destination::parse(&format!("sip:{}", sip_addr(h))).unwrap())
            .collect(),
    })
    .await
    .unwrap();
    let addr = dispatcher.sip_addr(Transport::Udp).unwrap();
    let mut stats = dispatcher.watch_stats();
    within("the draining backend out of rotation", async {
        stats
            .wait_for(|s| !s.destinations[1].state.in_rotation())
            .await
            .unwrap();
    })
    .await;

    let mut client = endpoint(Some(200)).await;
    for _ in 0..4 {
        let rr = call(&mut client, addr).await;
        assert!(
            rr.as_deref()
                .is_some_and(|rr| rr.contains(&addr.to_string())),
            "the 200 OK carries the dispatcher's Record-Route: {rr:?}"
        );
    }
    let mut invites = [0; 3];
    let mut byes = [0; 3];
    within("4 BYEs at the backends", async {
        while byes.iter().sum::<i32>() < 4 {
            match seen.recv().await.unwrap() {
                Seen::Invite {
                    backend,
                    record_route,
                    sdp,
                } => {
                    invites[backend] += 1;
                    assert!(record_route.unwrap_or_default().contains(&addr.to_string()));
                    assert_eq!(sdp, SDP, "the SDP passes untouched");
                }
                Seen::Bye { backend } => byes[backend] += 1,
            }
        }
    })
    .await;
    // Every call is answered by A; those that reached the rejecting backend failed over.
    assert_eq!(byes, [4, 0, 0]);
    assert_eq!(invites[1], 0, "no INVITE reaches the draining backend");
    let s = dispatcher.stats();
    assert_eq!(s[2].failovers, invites[2] as u64, "{s:?}");
    assert!(
        invites[2] >= 1,
        "round robin sent some calls to the rejecting backend"
    );
    assert!(
        s[2].state.in_rotation(),
        "a 503 to INVITE does not take a backend out"
    );

    // The drained backend becomes healthy: it returns to rotation and gets calls again.
    drained.set_options_status(Some(200)).await.unwrap();
    within("the drained backend back in rotation", async {
        stats
            .wait_for(|s| s.destinations[1].state.in_rotation())
            .await
            .unwrap();
    })
    .await;
    for _ in 0..3 {
        call(&mut client, addr).await;
    }
    within("a BYE at the returned backend", async {
        loop {
            if let Seen::Bye { backend: 1 } = seen.recv().await.unwrap() {
                return;
            }
        }
    })
    .await;
    dispatcher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_destination_refusing_connections_fails_over_at_once() {
    let (seen_tx, mut seen) = mpsc::channel(64);
    let backend = spawn(DriverConfig {
        udp: vec!["127.0.0.1:0".parse().unwrap()],
        tcp: vec!["127.0.0.1:0".parse().unwrap()],
        endpoint: EndpointConfig {
            seed: rand_seed(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let tcp = backend.handle.local_addr(Transport::Tcp).unwrap();
    let a = serve(0, backend, 200, seen_tx);
    // A TCP port with nothing listening: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dispatcher = Dispatcher::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: None,
        algorithm: Algorithm::RoundRobin,
        // Long enough that only the transport error can explain a quick failover.
        invite_timeout: Duration::from_secs(30),
        health: HealthConfig {
            interval: Duration::from_secs(3600),
            ..HealthConfig::default()
        },
        destinations: vec![
            Destination::parse(&format!("sip:{closed};transport=tcp")).unwrap(),
            Destination::parse(&format!("sip:{tcp};transport=tcp")).unwrap(),
        ],
    })
    .await
    .unwrap();
    let addr = dispatcher.sip_addr(Transport::Udp).unwrap();
    let mut client = endpoint(Some(200)).await;
    let started = std::time::Instant::now();
    call(&mut client, addr).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failover on connection refused, not on a timer"
    );
    within("the INVITE at the live TCP backend", async {
        assert!(matches!(
            seen.recv().await.unwrap(),
            Seen::Invite { backend: 0, .. }
        ));
    })
    .await;
    let s = dispatcher.stats();
    assert_eq!((s[0].failovers, s[1].invites), (1, 1), "{s:?}");
    drop(a);
    dispatcher.shutdown();
}

/// `GET path` over a real TCP connection; the status code and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    within("an http response", async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
}

fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_healthz_over_http() {
    let (seen_tx, _seen) = mpsc::channel(64);
    let backend = serve(0, endpoint(Some(200)).await, 200, seen_tx);
    let uri = format!("sip:{}", sip_addr(&backend));
    let dispatcher = Dispatcher::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: Some("127.0.0.1:0".parse().unwrap()),
        algorithm: Algorithm::RoundRobin,
        invite_timeout: Duration::from_secs(2),
        health: HealthConfig {
            interval: Duration::from_millis(200),
            timeout: Duration::from_millis(500),
            down_after: 2,
            up_after: 1,
        },
        destinations: vec![Destination::parse(&uri).unwrap()],
    })
    .await
    .unwrap();
    let http = dispatcher.http_addr.expect("http bound");
    let mut stats = dispatcher.watch_stats();
    within("a first probe answered", async {
        stats
            .wait_for(|s| s.destinations[0].probes.ok >= 1)
            .await
            .unwrap();
    })
    .await;
    assert_eq!(http_get(http, "/healthz").await, (200, "ok\n".to_owned()));

    let mut client = endpoint(Some(200)).await;
    call(&mut client, dispatcher.sip_addr(Transport::Udp).unwrap()).await;
    let (status, body) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    let d = format!("destination=\"{uri}\"");
    for (series, value) in [
        (
            format!("mrcp_dispatcher_destination_state{{{d},state=\"up\"}}"),
            1.0,
        ),
        (
            format!("mrcp_dispatcher_requests_forwarded_total{{{d}}}"),
            1.0,
        ),
        (
            format!("mrcp_dispatcher_responses_total{{{d},class=\"2xx\"}}"),
            1.0,
        ),
        (format!("mrcp_dispatcher_failovers_total{{{d}}}"), 0.0),
        ("mrcp_dispatcher_invites_total".to_owned(), 1.0),
        ("mrcp_dispatcher_destinations_in_rotation".to_owned(), 1.0),
    ] {
        assert_eq!(metric(&body, &series), Some(value), "{series} in\n{body}");
    }
    assert!(
        metric(
            &body,
            &format!("mrcp_dispatcher_probes_total{{{d},result=\"ok\"}}")
        )
        .is_some_and(|v| v >= 1.0),
        "{body}"
    );

    // The only backend drains: out of rotation, /healthz turns 503, the state shows draining.
    backend.set_options_status(Some(503)).await.unwrap();
    within("the backend draining", async {
        stats
            .wait_for(|s| !s.destinations[0].state.in_rotation())
            .await
            .unwrap();
    })
    .await;
    assert_eq!(http_get(http, "/healthz").await.0, 503);
    let (_, body) = http_get(http, "/metrics").await;
    assert_eq!(
        metric(
            &body,
            &format!("mrcp_dispatcher_destination_state{{{d},state=\"draining\"}}")
        ),
        Some(1.0),
        "{body}"
    );
    assert!(
        metric(
            &body,
            &format!("mrcp_dispatcher_probes_total{{{d},result=\"draining\"}}")
        )
        .is_some_and(|v| v >= 1.0)
    );
    assert_eq!(
        metric(&body, "mrcp_dispatcher_destinations_in_rotation"),
        Some(0.0)
    );
    dispatcher.shutdown();
}
