//! The input driver shared by the `sip_transaction` fuzz target and the test that replays its
//! corpus: arbitrary bytes become a script of messages, timer steps and application answers fed
//! to one [`Endpoint`]. Not a stable API.

use std::time::{Duration, Instant};

use crate::{
    ConnectionId, Endpoint, EndpointConfig, Event, LocalAddr, Output, Peer, Response, ServerTxId,
    Transport,
};

/// Runs one fuzz input. Chunks are separated by zero bytes; the first byte of a chunk picks the step
/// (modulo 9): `0..=3` a message over UDP, `4` over TCP, `5` a timer step, `6` an answer to the last request
/// handed up, `7` a BYE or CANCEL of the last call, `8` a re-INVITE of the last call.
pub fn run(data: &[u8]) {
    let start = Instant::now();
    let mut now = start;
    let mut ep = Endpoint::new(EndpointConfig {
        local: vec![
            LocalAddr {
                transport: Transport::Udp,
                addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8060)),
            },
            LocalAddr {
                transport: Transport::Tcp,
                addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8060)),
            },
        ],
        options_status: None,
        // Fixed, so a fuzz input replays identically.
        seed: 0,
        ..EndpointConfig::default()
    });
    let udp = Peer {
        transport: Transport::Udp,
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 5090)),
        connection: None,
    };
    let tcp = Peer {
        transport: Transport::Tcp,
        addr: udp.addr,
        connection: Some(ConnectionId(1)),
    };
    let mut last_tx: Option<ServerTxId> = None;
    let mut last_call = None;
    for chunk in data.split(|b| *b == 0).filter(|c| !c.is_empty()) {
        let Some((op, rest)) = chunk.split_first() else {
            continue;
        };
        match op % 9 {
            0..=3 => ep.handle_message(now, rest, udp),
            4 => ep.handle_message(now, rest, tcp),
            5 => {
                let step = rest.first().map_or(500, |b| u64::from(*b) * 250);
                now += Duration::from_millis(step);
                ep.handle_timeout(now);
            }
            6 => {
                if let Some(tx) = last_tx {
                    let code = 100 + u16::from(rest.first().copied().unwrap_or(100)) * 2;
                    let _ = ep.respond(
                        now,
                        tx,
                        Response {
                            code,
                            body: None,
                            ..Response::default()
                        },
                    );
                }
            }
            7 => {
                if let Some(call) = last_call {
                    let _ = if rest.first().is_some_and(|b| b % 2 == 0) {
                        ep.bye(now, call)
                    } else {
                        ep.cancel(now, call)
                    };
                }
            }
            _ => {
                if let Some(call) = last_call {
                    let _ = ep.reinvite(now, call, None);
                }
            }
        }
        while let Some(out) = ep.poll_output() {
            if let Output::Event(ev) = out {
                match ev {
                    Event::IncomingInvite { call, tx, .. } | Event::ReInvite { call, tx, .. } => {
                        last_tx = Some(tx);
                        last_call = Some(call);
                    }
                    Event::Options { tx, .. } => last_tx = Some(tx),
                    _ => {}
                }
            }
        }
    }
    run_proxy(data);
    // Time always ends every transaction and call.
    ep.handle_timeout(now + Duration::from_secs(600));
    while ep.poll_output().is_some() {}
    ep.handle_timeout(now + Duration::from_secs(1200));
    while ep.poll_output().is_some() {}
    assert_eq!(
        ep.transaction_count(),
        0,
        "a transaction outlived every timer"
    );
}

/// The same script through the proxy core: every new request is forwarded to one backend, and a
/// failed branch is finished.
fn run_proxy(data: &[u8]) {
    use crate::proxy::{Proxy, ProxyConfig, ProxyEvent, ProxyOutput};
    let start = Instant::now();
    let mut now = start;
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 5070));
    let mut proxy = Proxy::new(ProxyConfig {
        local: vec![
            LocalAddr {
                transport: Transport::Udp,
                addr: local,
            },
            LocalAddr {
                transport: Transport::Tcp,
                addr: local,
            },
        ],
        // The dispatcher's guards, so the fuzzer reaches them too.
        reply_timeout: Some(Duration::from_secs(4)),
        linger: Some(Duration::from_secs(5)),
        ..ProxyConfig::default()
    });
    let client = Peer {
        transport: Transport::Udp,
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 5090)),
        connection: None,
    };
    let backend = Peer {
        transport: Transport::Udp,
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8060)),
        connection: None,
    };
    for chunk in data.split(|b| *b == 0).filter(|c| !c.is_empty()) {
        let Some((op, rest)) = chunk.split_first() else {
            continue;
        };
        match op % 9 {
            0..=2 => proxy.handle_message(now, rest, client),
            3 | 4 => proxy.handle_message(now, rest, backend),
            5 => {
                now += Duration::from_millis(rest.first().map_or(500, |b| u64::from(*b) * 250));
                proxy.handle_timeout(now);
            }
            6 => proxy.handle_transport_error(now, Transport::Udp, backend.addr),
            _ => {}
        }
        while let Some(out) = proxy.poll_output() {
            match out {
                ProxyOutput::Event(ProxyEvent::NewRequest { id, .. }) => {
                    let _ = proxy.forward(now, id, backend, None);
                }
                ProxyOutput::Event(ProxyEvent::BranchFailed { id, .. }) => {
                    let _ = proxy.finish(now, id);
                }
                ProxyOutput::Event(ProxyEvent::Answered { .. }) | ProxyOutput::Transmit(_) => {}
            }
        }
    }
    for step in [600, 1200] {
        proxy.handle_timeout(now + Duration::from_secs(step));
        while proxy.poll_output().is_some() {}
    }
    assert_eq!(
        proxy.transaction_count(),
        0,
        "a proxy transaction outlived every timer"
    );
}
