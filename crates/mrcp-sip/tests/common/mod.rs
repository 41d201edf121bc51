//! Helpers shared by the sans-IO tests: an endpoint on fixed addresses, scripted peer messages,
//! and output collection.
#![allow(dead_code)]

use std::{net::SocketAddr, time::Instant};

use mrcp_sip::{
    Endpoint, EndpointConfig, Event, LocalAddr, Message, Output, Peer, Transmit, Transport,
};

pub const LOCAL: &str = "127.0.0.1:8060";
pub const REMOTE: &str = "127.0.0.1:8062";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

pub fn endpoint(seed: u64) -> Endpoint {
    Endpoint::new(EndpointConfig {
        local: vec![
            LocalAddr {
                transport: Transport::Udp,
                addr: addr(LOCAL),
            },
            LocalAddr {
                transport: Transport::Tcp,
                addr: addr(LOCAL),
            },
        ],
        seed,
        ..EndpointConfig::default()
    })
}

pub fn udp_peer() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr(REMOTE),
        connection: None,
    }
}

pub fn tcp_peer() -> Peer {
    Peer {
        transport: Transport::Tcp,
        addr: addr("127.0.0.1:40000"),
        connection: Some(mrcp_sip::ConnectionId(7)),
    }
}

/// The UniMRCP client's INVITE (captures, frame 5), with `branch` and extra headers.
pub fn invite(branch: &str, extra: &str) -> Vec<u8> {
    let sdp = "v=0\r\no=UniMRCPClient 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:speechsynth\r\na=cmid:1\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=recvonly\r\na=mid:1\r\n";
    format!(
        "INVITE sip:127.0.0.1:8060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:8062;rport;branch={branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:127.0.0.1:8062>;tag=7t5SXv39r28vj\r\n\
To: <sip:127.0.0.1:8060>\r\n\
Call-ID: 25e74185-61d5-1240-7889-2e54be204836\r\n\
CSeq: 1001105667 INVITE\r\n\
Contact: <sip:127.0.0.1:8062;transport=udp>\r\n\
User-Agent: UniMRCP SofiaSIP 1.8.0\r\n\
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, MESSAGE, SUBSCRIBE, NOTIFY, REFER, UPDATE\r\n\
Supported: timer, 100rel\r\n\
{extra}\
Content-Type: application/sdp\r\n\
Content-Disposition: session\r\n\
Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

/// A request in the dialog of [`invite`], from the client.
pub fn in_dialog(method: &str, branch: &str, to_tag: &str, cseq: u32) -> Vec<u8> {
    format!(
        "{method} sip:127.0.0.1:8060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:8062;rport;branch={branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:127.0.0.1:8062>;tag=7t5SXv39r28vj\r\n\
To: <sip:127.0.0.1:8060>;tag={to_tag}\r\n\
Call-ID: 25e74185-61d5-1240-7889-2e54be204836\r\n\
CSeq: {cseq} {method}\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Everything the endpoint wants to do now.
pub fn drain(ep: &mut Endpoint) -> (Vec<Transmit>, Vec<Event>) {
    let (mut tx, mut ev) = (Vec::new(), Vec::new());
    while let Some(out) = ep.poll_output() {
        match out {
            Output::Transmit(t) => tx.push(t),
            Output::Event(e) => ev.push(e),
        }
    }
    (tx, ev)
}

/// Parses a transmitted message.
pub fn parse(t: &Transmit) -> Message {
    Message::parse(&t.payload, &Default::default()).expect("endpoint sent a parsable message")
}

/// Status codes of transmitted responses.
pub fn statuses(tx: &[Transmit]) -> Vec<u16> {
    tx.iter().filter_map(|t| parse(t).status()).collect()
}

/// Advances time to every deadline up to `until`, collecting transmit times (ms since `start`).
pub fn run_until(
    ep: &mut Endpoint,
    start: Instant,
    until: Instant,
) -> (Vec<(u128, Transmit)>, Vec<Event>) {
    let (mut txs, mut evs) = (Vec::new(), Vec::new());
    while let Some(at) = ep.poll_timeout() {
        if at > until {
            break;
        }
        ep.handle_timeout(at);
        let (t, e) = drain(ep);
        txs.extend(
            t.into_iter()
                .map(|t| (at.duration_since(start).as_millis(), t)),
        );
        evs.extend(e);
    }
    (txs, evs)
}

/// The To tag of a transmitted response.
pub fn to_tag(t: &Transmit) -> String {
    let msg = parse(t);
    mrcp_sip::header::tag_of(msg.header("To").expect("to"))
        .expect("to tag")
        .to_owned()
}
