//! Parse + transaction handling per request on the sans-IO endpoint (no sockets).
//!
//! `uas_call` runs one whole UAS call per iteration, the flow a server sees from FreeSWITCH:
//! INVITE (with an MRCP offer) → 100 + 200 with SDP → ACK → BYE → 200, i.e. three requests
//! parsed and matched and three responses built. `options` is one health-check OPTIONS.
//! Run: `cargo bench -p mrcp-sip --bench sip_transaction`.

use std::{hint::black_box, time::Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mrcp_sip::{Endpoint, EndpointConfig, Event, LocalAddr, Output, Peer, Response, Transport};

const SDP_OFFER: &str = "v=0\r\no=FreeSWITCH 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:speechrecog\r\na=cmid:1\r\n\
m=audio 14238 RTP/AVP 0 8 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 L16/8000\r\na=sendonly\r\na=mid:1\r\n";
const SDP_ANSWER: &str = "v=0\r\no=open-mrcp 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=application 1544 TCP/MRCPv2 1\r\na=setup:passive\r\na=connection:new\r\na=channel:0123456789abcdef@speechrecog\r\na=cmid:1\r\n\
m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=recvonly\r\na=mid:1\r\n";

fn request(
    method: &str,
    n: u64,
    branch: &str,
    to_tag: Option<&str>,
    cseq: u32,
    body: &str,
) -> Vec<u8> {
    let to = match to_tag {
        Some(t) => format!("<sip:127.0.0.1:8060>;tag={t}"),
        None => "<sip:127.0.0.1:8060>".to_owned(),
    };
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\nContent-Disposition: session\r\n"
    };
    format!(
        "{method} sip:127.0.0.1:8060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;rport;branch=z9hG4bK{branch}{n}\r\n\
Max-Forwards: 70\r\nFrom: <sip:127.0.0.1:5090>;tag=f{n}\r\nTo: {to}\r\nCall-ID: call-{n}@127.0.0.1\r\n\
CSeq: {cseq} {method}\r\nContact: <sip:127.0.0.1:5090>\r\nUser-Agent: FreeSWITCH\r\n\
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, MESSAGE, SUBSCRIBE, NOTIFY, REFER, UPDATE\r\n\
Supported: timer, 100rel\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn endpoint() -> Endpoint {
    Endpoint::new(EndpointConfig {
        local: vec![LocalAddr {
            transport: Transport::Udp,
            addr: "127.0.0.1:8060".parse().expect("addr"),
        }],
        ..EndpointConfig::default()
    })
}

fn drain(ep: &mut Endpoint) -> (usize, Option<Event>) {
    let (mut n, mut last) = (0, None);
    while let Some(out) = ep.poll_output() {
        match out {
            Output::Transmit(t) => n += black_box(t.payload.len()),
            Output::Event(e) => last = Some(e),
        }
    }
    (n, last)
}

fn bench(c: &mut Criterion) {
    let peer = Peer {
        transport: Transport::Udp,
        addr: "127.0.0.1:5090".parse().expect("addr"),
        connection: None,
    };
    let mut group = c.benchmark_group("sip");
    group.throughput(Throughput::Elements(3));
    group.bench_function("uas_call (3 requests)", |b| {
        let mut ep = endpoint();
        let mut n = 0u64;
        let now = Instant::now();
        b.iter(|| {
            n += 1;
            ep.handle_message(now, &request("INVITE", n, "inv", None, 1, SDP_OFFER), peer);
            let Some(Event::IncomingInvite { tx, .. }) = drain(&mut ep).1 else {
                panic!("no invite event")
            };
            ep.respond(now, tx, Response::ok_with_sdp(SDP_ANSWER))
                .expect("respond");
            let mut to_tag = String::new();
            while let Some(out) = ep.poll_output() {
                if let Output::Transmit(t) = out {
                    let text = String::from_utf8_lossy(&t.payload);
                    if let Some(i) = text.find(";tag=") {
                        let rest = &text[i + 5..];
                        if rest.len() > 12 && text.starts_with("SIP/2.0 200") {
                            to_tag = rest[..12].to_owned();
                        }
                    }
                }
            }
            ep.handle_message(now, &request("ACK", n, "ack", Some(&to_tag), 1, ""), peer);
            drain(&mut ep);
            ep.handle_message(now, &request("BYE", n, "bye", Some(&to_tag), 2, ""), peer);
            drain(&mut ep);
            // Let Timer J/L end the transactions so the maps stay small.
            if n.is_multiple_of(1024) {
                ep.handle_timeout(now + std::time::Duration::from_secs(120));
                drain(&mut ep);
            }
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("options", |b| {
        let mut ep = endpoint();
        let mut n = 0u64;
        let now = Instant::now();
        b.iter(|| {
            n += 1;
            ep.handle_message(now, &request("OPTIONS", n, "opt", None, 1, ""), peer);
            drain(&mut ep);
            if n.is_multiple_of(1024) {
                ep.handle_timeout(now + std::time::Duration::from_secs(120));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
