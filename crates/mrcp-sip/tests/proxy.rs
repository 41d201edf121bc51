//! The proxy core between real endpoints on an in-memory network: failover after a 503,
//! Record-Route so ACK and BYE come back through the proxy, CANCEL forwarding, Max-Forwards.

use std::{net::SocketAddr, time::Instant};

use mrcp_sip::{
    Body, EndReason, Endpoint, EndpointConfig, Event, Invite, LocalAddr, Message, Output, Peer,
    Response, Transport,
    proxy::{Proxy, ProxyConfig, ProxyEvent, ProxyOutput},
};

fn a(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn ep(addr: &str, seed: u64) -> Endpoint {
    Endpoint::new(EndpointConfig {
        local: vec![LocalAddr {
            transport: Transport::Udp,
            addr: a(addr),
        }],
        seed,
        ..Default::default()
    })
}

const CLIENT: &str = "127.0.0.1:5090";
const PROXY: &str = "127.0.0.1:5070";
const BACKEND_A: &str = "127.0.0.1:8060";
const BACKEND_B: &str = "127.0.0.1:8061";

struct Net {
    now: Instant,
    client: Endpoint,
    proxy: Proxy,
    a: Endpoint,
    b: Endpoint,
    events: Vec<(&'static str, Event)>,
    proxy_events: Vec<ProxyEvent>,
    /// (from, to, first line) of every message that crossed the network.
    wire: Vec<(SocketAddr, SocketAddr, String)>,
}

impl Net {
    fn new() -> Self {
        Self {
            now: Instant::now(),
            client: ep(CLIENT, 1),
            proxy: Proxy::new(ProxyConfig {
                local: vec![LocalAddr {
                    transport: Transport::Udp,
                    addr: a(PROXY),
                }],
                ..Default::default()
            }),
            a: ep(BACKEND_A, 2),
            b: ep(BACKEND_B, 3),
            events: vec![],
            proxy_events: vec![],
            wire: vec![],
        }
    }

    fn run(&mut self) {
        loop {
            let mut sends: Vec<(SocketAddr, mrcp_sip::Transmit)> = Vec::new();
            for (name, node, from) in [
                ("client", &mut self.client, CLIENT),
                ("a", &mut self.a, BACKEND_A),
                ("b", &mut self.b, BACKEND_B),
            ] {
                while let Some(out) = node.poll_output() {
                    match out {
                        Output::Transmit(t) => sends.push((a(from), t)),
                        Output::Event(e) => self.events.push((name, e)),
                    }
                }
            }
            while let Some(out) = self.proxy.poll_output() {
                match out {
                    ProxyOutput::Transmit(t) => sends.push((a(PROXY), t)),
                    ProxyOutput::Event(e) => self.proxy_events.push(e),
                }
            }
            if sends.is_empty() {
                return;
            }
            for (from, t) in sends {
                let first = String::from_utf8_lossy(&t.payload)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                self.wire.push((from, t.peer.addr, first));
                let peer = Peer {
                    transport: Transport::Udp,
                    addr: from,
                    connection: None,
                };
                match t.peer.addr.to_string().as_str() {
                    CLIENT => self.client.handle_message(self.now, &t.payload, peer),
                    PROXY => self.proxy.handle_message(self.now, &t.payload, peer),
                    BACKEND_A => self.a.handle_message(self.now, &t.payload, peer),
                    BACKEND_B => self.b.handle_message(self.now, &t.payload, peer),
                    other => panic!("message to unknown address {other}"),
                }
            }
        }
    }

    fn take_events(&mut self, who: &str) -> Vec<Event> {
        let (mine, rest): (Vec<_>, Vec<_>) = self.events.drain(..).partition(|(n, _)| *n == who);
        self.events = rest;
        mine.into_iter().map(|(_, e)| e).collect()
    }

    fn invite(&mut self) -> mrcp_sip::CallHandle {
        let call = self
            .client
            .invite(
                self.now,
                Invite {
                    uri: "sip:mrcp@127.0.0.1:5070".into(),
                    peer: Peer {
                        transport: Transport::Udp,
                        addr: a(PROXY),
                        connection: None,
                    },
                    from: None,
                    to: None,
                    headers: vec![],
                    body: Some(Body::sdp("v=0\r\n")),
                },
            )
            .expect("invite");
        self.run();
        call
    }
}

fn server_tx(events: &[Event]) -> (mrcp_sip::CallHandle, mrcp_sip::ServerTxId, Message) {
    events
        .iter()
        .find_map(|e| match e {
            Event::IncomingInvite {
                call, tx, request, ..
            } => Some((*call, *tx, request.clone())),
            _ => None,
        })
        .expect("backend got the INVITE")
}

#[test]
fn failover_then_dialog_through_the_record_route() {
    let mut net = Net::new();
    let call = net.invite();
    let [ProxyEvent::NewRequest { id, request }] = net.proxy_events.as_slice() else {
        panic!("{:?}", net.proxy_events)
    };
    let id = *id;
    assert_eq!(request.method(), Some("INVITE"));
    net.proxy_events.clear();
    net.proxy
        .forward(
            net.now,
            id,
            Peer {
                transport: Transport::Udp,
                addr: a(BACKEND_A),
                connection: None,
            },
            None,
        )
        .expect("forward");
    net.run();
    let (_, tx_a, req_a) = server_tx(&net.take_events("a"));
    assert_eq!(
        req_a.headers_named("Via").count(),
        2,
        "proxy pushed its Via"
    );
    assert_eq!(req_a.header("Max-Forwards"), Some("69"));
    assert!(
        req_a
            .header("Record-Route")
            .is_some_and(|rr| rr.contains("127.0.0.1:5070;lr"))
    );
    net.a
        .respond(net.now, tx_a, Response::status(503))
        .expect("503");
    net.run();
    assert!(matches!(
        net.proxy_events.as_slice(),
        [ProxyEvent::BranchFailed {
            status: Some(503),
            ..
        }]
    ));
    net.proxy_events.clear();
    assert!(
        net.take_events("client")
            .iter()
            .all(|e| !matches!(e, Event::Rejected { .. })),
        "503 not forwarded yet"
    );
    net.proxy
        .forward(
            net.now,
            id,
            Peer {
                transport: Transport::Udp,
                addr: a(BACKEND_B),
                connection: None,
            },
            None,
        )
        .expect("forward");
    net.run();
    let (b_call, tx_b, _) = server_tx(&net.take_events("b"));
    net.b
        .respond(net.now, tx_b, Response::ok_with_sdp("v=0\r\n"))
        .expect("200");
    net.run();
    let client_events = net.take_events("client");
    let answered = client_events.iter().find_map(|e| match e {
        Event::Answered { response, .. } => Some(response.clone()),
        _ => None,
    });
    let ok = answered.expect("client got the 200");
    assert_eq!(ok.headers_named("Via").count(), 1, "proxy popped its Via");
    assert!(
        net.take_events("b")
            .iter()
            .any(|e| matches!(e, Event::Ack { .. })),
        "ACK reached B through the proxy"
    );
    let ack_path: Vec<_> = net
        .wire
        .iter()
        .filter(|(_, _, l)| l.starts_with("ACK"))
        .map(|(f, t, _)| (*f, *t))
        .collect();
    // The proxy ACKs A's 503 itself (hop by hop); the client's 2xx ACK follows the route to B.
    assert_eq!(
        ack_path,
        vec![
            (a(PROXY), a(BACKEND_A)),
            (a(CLIENT), a(PROXY)),
            (a(PROXY), a(BACKEND_B))
        ]
    );
    // BYE from the client goes through the proxy too.
    net.wire.clear();
    net.client.bye(net.now, call).expect("bye");
    net.run();
    assert!(net.take_events("b").contains(&Event::Terminated {
        call: b_call,
        reason: EndReason::RemoteBye
    }));
    assert!(net.take_events("client").contains(&Event::Terminated {
        call,
        reason: EndReason::LocalBye
    }));
    let bye_path: Vec<_> = net
        .wire
        .iter()
        .filter(|(_, _, l)| l.starts_with("BYE"))
        .map(|(f, t, _)| (*f, *t))
        .collect();
    assert_eq!(
        bye_path,
        vec![(a(CLIENT), a(PROXY)), (a(PROXY), a(BACKEND_B))]
    );
}

#[test]
fn cancel_is_forwarded_and_487_returned() {
    let mut net = Net::new();
    let call = net.invite();
    let [ProxyEvent::NewRequest { id, .. }] = net.proxy_events.as_slice() else {
        panic!()
    };
    let id = *id;
    net.proxy
        .forward(
            net.now,
            id,
            Peer {
                transport: Transport::Udp,
                addr: a(BACKEND_A),
                connection: None,
            },
            None,
        )
        .expect("forward");
    net.run();
    let (a_call, _, _) = server_tx(&net.take_events("a"));
    net.client.cancel(net.now, call).expect("cancel");
    net.run();
    assert!(net.take_events("a").contains(&Event::Terminated {
        call: a_call,
        reason: EndReason::Cancelled
    }));
    let client = net.take_events("client");
    assert!(
        client.iter().any(
            |e| matches!(e, Event::Rejected { response, .. } if response.status() == Some(487))
        ),
        "{client:?}"
    );
}

#[test]
fn max_forwards_zero_gets_483() {
    let mut net = Net::new();
    let msg = "OPTIONS sip:x@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKmf\r\n\
From: <sip:c@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: mf\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n";
    net.proxy.handle_message(
        net.now,
        msg.as_bytes(),
        Peer {
            transport: Transport::Udp,
            addr: a(CLIENT),
            connection: None,
        },
    );
    let Some(ProxyOutput::Transmit(t)) = net.proxy.poll_output() else {
        panic!("no response")
    };
    assert!(t.payload.starts_with(b"SIP/2.0 483 Too Many Hops"));
}

/// Many transactions on injected time: the deadline index fires each branch's Timer B at its own
/// deadline, in deadline order (here the order in which the application forwarded, not the order
/// in which the requests arrived), and every transaction ends with nothing left indexed.
#[test]
fn many_transactions_time_out_in_deadline_order() {
    const N: u64 = 600;
    let t0 = Instant::now();
    let mut proxy = Proxy::new(ProxyConfig {
        local: vec![LocalAddr {
            transport: Transport::Udp,
            addr: a(PROXY),
        }],
        ..Default::default()
    });
    let client = Peer {
        transport: Transport::Udp,
        addr: a(CLIENT),
        connection: None,
    };
    let silent_backend = Peer {
        transport: Transport::Udp,
        addr: a(BACKEND_A),
        connection: None,
    };
    for k in 0..N {
        let invite = format!(
            "INVITE sip:mrcp@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP {CLIENT};branch=z9hG4bKorder{k}\r\n\
             From: <sip:c@127.0.0.1>;tag=f{k}\r\nTo: <sip:mrcp@127.0.0.1>\r\nCall-ID: order-{k}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:c@{CLIENT}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        proxy.handle_message(t0, invite.as_bytes(), client);
    }
    let mut ids = Vec::new();
    while let Some(out) = proxy.poll_output() {
        if let ProxyOutput::Event(ProxyEvent::NewRequest { id, .. }) = out {
            ids.push(id);
        }
    }
    assert_eq!(ids.len() as u64, N);
    // The application forwards them in a scrambled order, one per millisecond.
    let order: Vec<_> = (0..N).map(|k| ids[((k * 7919) % N) as usize]).collect();
    let mut forwarded_at = std::collections::HashMap::new();
    for (k, id) in order.iter().enumerate() {
        let at = t0 + std::time::Duration::from_millis(k as u64 + 1);
        proxy
            .forward(at, *id, silent_backend, None)
            .expect("forward");
        forwarded_at.insert(*id, at);
    }
    while proxy.poll_output().is_some() {}
    let timer_b = mrcp_sip::transaction::TimerConfig::default().t1x64();
    // Step time as a driver does: always to the earliest deadline.
    let mut now = t0;
    let mut failed = Vec::new();
    let mut steps = 0;
    while let Some(deadline) = proxy.poll_timeout() {
        assert!(deadline >= now, "a deadline in the past");
        now = deadline;
        proxy.handle_timeout(now);
        while let Some(out) = proxy.poll_output() {
            if let ProxyOutput::Event(ProxyEvent::BranchFailed { id, status, .. }) = out {
                assert_eq!(status, None, "silence, not a reply");
                failed.push((id, now));
                proxy.finish(now, id).expect("finish");
            }
        }
        steps += 1;
        assert!(steps < 100 * N, "the timers never settle");
    }
    assert_eq!(
        failed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        order,
        "Timer B fired in deadline order"
    );
    for (id, at) in &failed {
        assert_eq!(*at, forwarded_at[id] + timer_b, "Timer B of {id:?} on time");
    }
    assert_eq!(proxy.transaction_count(), 0, "every transaction ended");
}

/// `reply_timeout`: a branch without any response fails at that deadline, while the INVITE is
/// retransmitted on the standard T1 schedule until then; a branch that got a 100 does not.
#[test]
fn silent_branch_fails_at_the_reply_timeout() {
    let t0 = Instant::now();
    let reply_timeout = std::time::Duration::from_secs(2);
    let mut proxy = Proxy::new(ProxyConfig {
        local: vec![LocalAddr {
            transport: Transport::Udp,
            addr: a(PROXY),
        }],
        reply_timeout: Some(reply_timeout),
        ..Default::default()
    });
    let client = Peer {
        transport: Transport::Udp,
        addr: a(CLIENT),
        connection: None,
    };
    let backend = Peer {
        transport: Transport::Udp,
        addr: a(BACKEND_A),
        connection: None,
    };
    let invite = format!(
        "INVITE sip:mrcp@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP {CLIENT};branch=z9hG4bKsilent\r\n\
         From: <sip:c@127.0.0.1>;tag=f\r\nTo: <sip:mrcp@127.0.0.1>\r\nCall-ID: silent\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:c@{CLIENT}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    proxy.handle_message(t0, invite.as_bytes(), client);
    let mut id = None;
    while let Some(out) = proxy.poll_output() {
        if let ProxyOutput::Event(ProxyEvent::NewRequest { id: i, .. }) = out {
            id = Some(i);
        }
    }
    let id = id.expect("new request");
    proxy.forward(t0, id, backend, None).expect("forward");
    while proxy.poll_output().is_some() {}
    let mut resent = Vec::new();
    let failed_at = loop {
        let now = proxy.poll_timeout().expect("a deadline");
        proxy.handle_timeout(now);
        let mut failed = false;
        while let Some(out) = proxy.poll_output() {
            match out {
                ProxyOutput::Transmit(t) if t.peer.addr == backend.addr => resent.push(now - t0),
                ProxyOutput::Event(ProxyEvent::BranchFailed { status: None, .. }) => failed = true,
                _ => {}
            }
        }
        if failed {
            break now;
        }
    };
    assert_eq!(failed_at - t0, reply_timeout, "failed at the reply timeout");
    let ms = std::time::Duration::from_millis;
    assert_eq!(resent, [ms(500), ms(1500)], "Timer A on the standard T1");
}

/// `linger`: once answered, the INVITE's server and client transactions are forgotten after the
/// linger time instead of Timers L and M (64·T1).
#[test]
fn answered_transactions_are_forgotten_after_the_linger_time() {
    let t0 = Instant::now();
    let linger = std::time::Duration::from_secs(5);
    let mut proxy = Proxy::new(ProxyConfig {
        local: vec![LocalAddr {
            transport: Transport::Udp,
            addr: a(PROXY),
        }],
        linger: Some(linger),
        ..Default::default()
    });
    let client = Peer {
        transport: Transport::Udp,
        addr: a(CLIENT),
        connection: None,
    };
    let backend = Peer {
        transport: Transport::Udp,
        addr: a(BACKEND_A),
        connection: None,
    };
    let invite = format!(
        "INVITE sip:mrcp@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP {CLIENT};branch=z9hG4bKlinger\r\n\
         From: <sip:c@127.0.0.1>;tag=f\r\nTo: <sip:mrcp@127.0.0.1>\r\nCall-ID: linger\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:c@{CLIENT}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    proxy.handle_message(t0, invite.as_bytes(), client);
    let mut forwarded = None;
    while let Some(out) = proxy.poll_output() {
        match out {
            ProxyOutput::Event(ProxyEvent::NewRequest { id, .. }) => {
                proxy.forward(t0, id, backend, None).expect("forward");
            }
            ProxyOutput::Transmit(t) if t.peer.addr == backend.addr => forwarded = Some(t.payload),
            _ => {}
        }
    }
    let forwarded = String::from_utf8(forwarded.expect("forwarded").to_vec()).expect("utf-8");
    let mut ok = "SIP/2.0 200 OK\r\n".to_owned();
    for line in forwarded.split("\r\n").skip(1) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if ["via", "from", "call-id", "cseq", "record-route"].contains(&name.as_str()) {
            ok.push_str(&format!("{line}\r\n"));
        } else if name == "to" {
            ok.push_str(&format!("{line};tag=b\r\n"));
        }
    }
    ok.push_str(&format!(
        "Contact: <sip:mrcp@{BACKEND_A}>\r\nContent-Length: 0\r\n\r\n"
    ));
    let answered_at = t0 + std::time::Duration::from_millis(20);
    proxy.handle_message(answered_at, ok.as_bytes(), backend);
    let mut answered = false;
    while let Some(out) = proxy.poll_output() {
        if let ProxyOutput::Event(ProxyEvent::Answered { status, .. }) = out {
            answered = status == 200;
        }
    }
    assert!(answered, "the application is told");
    assert_eq!(proxy.transaction_count(), 2);
    assert_eq!(proxy.poll_timeout(), Some(answered_at + linger));
    proxy.handle_timeout(answered_at + linger);
    assert_eq!(proxy.transaction_count(), 0, "both sides forgotten");
    assert_eq!(proxy.poll_timeout(), None);
}
