//! The sans-IO proxy core of `mrcp-sip` as the dispatcher drives it: one full call (INVITE, 100,
//! 200, ACK, BYE, 200) with `poll_timeout` after every message as the driver does, while
//! 0, 10,000 or 100,000 earlier calls' transactions still linger in their 64·T1 timers. With the
//! deadline index the cost per call stays flat; a scan of every transaction grows with them.
//!
//! `cargo bench -p mrcp-dispatcher --bench proxy_core`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{hint::black_box, net::SocketAddr, time::Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mrcp_sip::{
    LocalAddr, Peer, Transport,
    proxy::{Proxy, ProxyConfig, ProxyEvent, ProxyOutput},
};

const CLIENT: &str = "127.0.0.1:5090";
const PROXY: &str = "127.0.0.1:5070";
const BACKEND: &str = "127.0.0.1:8060";

fn peer(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse::<SocketAddr>().unwrap(),
        connection: None,
    }
}

/// Runs the proxy's outputs: forwards new requests to the backend; returns what was sent to
/// the backend (the last message).
fn pump(proxy: &mut Proxy, now: Instant) -> Option<bytes::Bytes> {
    let mut to_backend = None;
    while let Some(out) = proxy.poll_output() {
        match out {
            ProxyOutput::Event(ProxyEvent::NewRequest { id, .. }) => {
                proxy.forward(now, id, peer(BACKEND), None).unwrap();
            }
            ProxyOutput::Event(_) => {}
            ProxyOutput::Transmit(t) => {
                if t.peer.addr == peer(BACKEND).addr {
                    to_backend = Some(t.payload);
                }
            }
        }
    }
    black_box(proxy.poll_timeout());
    to_backend
}

/// The backend's answer to a forwarded request: every Via, From, To (tagged), Call-ID, CSeq
/// and Record-Route copied.
fn answer(request: &[u8], status: &str) -> Vec<u8> {
    let text = std::str::from_utf8(request).unwrap();
    let mut out = format!("SIP/2.0 {status}\r\n");
    for line in text.split("\r\n").skip(1) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" | "record-route" => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            "to" if line.contains("tag=") => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            "to" => {
                out.push_str(line);
                out.push_str(";tag=srv\r\n");
            }
            _ => {}
        }
    }
    out.push_str("Contact: <sip:mrcp@127.0.0.1:8060>\r\nContent-Length: 0\r\n\r\n");
    out.into_bytes()
}

fn call(proxy: &mut Proxy, now: Instant, k: u64) {
    let client = peer(CLIENT);
    let backend = peer(BACKEND);
    let invite = format!(
        "INVITE sip:mrcp@{PROXY} SIP/2.0\r\nVia: SIP/2.0/UDP {CLIENT};branch=z9hG4bKi{k}\r\n\
         From: <sip:c@127.0.0.1>;tag=c{k}\r\nTo: <sip:mrcp@127.0.0.1>\r\nCall-ID: bench-{k}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:c@{CLIENT}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    proxy.handle_message(now, invite.as_bytes(), client);
    let forwarded = pump(proxy, now).expect("INVITE forwarded");
    proxy.handle_message(now, &answer(&forwarded, "100 Trying"), backend);
    pump(proxy, now);
    proxy.handle_message(now, &answer(&forwarded, "200 OK"), backend);
    pump(proxy, now);
    let route = format!("Route: <sip:{PROXY};lr>\r\n");
    let ack = format!(
        "ACK sip:mrcp@{BACKEND} SIP/2.0\r\nVia: SIP/2.0/UDP {CLIENT};branch=z9hG4bKa{k}\r\n{route}\
         From: <sip:c@127.0.0.1>;tag=c{k}\r\nTo: <sip:mrcp@127.0.0.1>;tag=srv\r\nCall-ID: bench-{k}\r\n\
         CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    proxy.handle_message(now, ack.as_bytes(), client);
    pump(proxy, now);
    let bye = format!(
        "BYE sip:mrcp@{BACKEND} SIP/2.0\r\nVia: SIP/2.0/UDP {CLIENT};branch=z9hG4bKb{k}\r\n{route}\
         From: <sip:c@127.0.0.1>;tag=c{k}\r\nTo: <sip:mrcp@127.0.0.1>;tag=srv\r\nCall-ID: bench-{k}\r\n\
         CSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    proxy.handle_message(now, bye.as_bytes(), client);
    let bye_forwarded = pump(proxy, now).expect("BYE forwarded");
    proxy.handle_message(now, &answer(&bye_forwarded, "200 OK"), backend);
    pump(proxy, now);
}

fn full_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("proxy_full_call");
    for lingering_calls in [0u64, 10_000, 100_000] {
        let mut proxy = Proxy::new(ProxyConfig {
            local: vec![LocalAddr {
                transport: Transport::Udp,
                addr: PROXY.parse().unwrap(),
            }],
            ..Default::default()
        });
        let now = Instant::now();
        for k in 0..lingering_calls {
            call(&mut proxy, now, k);
        }
        let transactions = proxy.transaction_count();
        let mut k = lingering_calls;
        group.bench_function(
            BenchmarkId::new("lingering_transactions", transactions),
            |b| {
                b.iter(|| {
                    k += 1;
                    call(&mut proxy, now, k);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, full_call);
criterion_main!(benches);
