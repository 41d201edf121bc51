//! UAC scenarios on the sans-IO endpoint with injected time (RFC 3261 §13.2, §17.1, §9.1, §15),
//! and our UAC against our UAS, stepped on simulated time.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mrcp_sip::{
    Body, CallHandle, EndReason, Endpoint, Event, Invite, Message, OutOfDialogRequest, Output,
    Peer, Response,
};

const OFFER: &str = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=application 9 TCP/MRCPv2 1\r\na=resource:speechrecog\r\n";

fn server_peer() -> Peer {
    Peer {
        transport: mrcp_sip::Transport::Udp,
        addr: addr("127.0.0.1:9060"),
        connection: None,
    }
}

fn start_invite(ep: &mut Endpoint, now: Instant) -> (CallHandle, Message) {
    let call = ep
        .invite(
            now,
            Invite {
                uri: "sip:mrcp@127.0.0.1:9060".into(),
                peer: server_peer(),
                from: None,
                to: None,
                headers: vec![],
                body: Some(Body::sdp(OFFER)),
            },
        )
        .expect("invite");
    let (out, _) = drain(ep);
    assert_eq!(out.len(), 1);
    (call, parse(&out[0]))
}

/// A response to `request` as a peer UAS would write it.
fn reply(request: &Message, code: u16, tag: Option<&str>, extra: &str) -> Vec<u8> {
    let mut text = format!("SIP/2.0 {code} X\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        text += &format!("{name}: {}\r\n", request.header(name).expect(name));
    }
    let to = request.header("To").expect("to");
    match tag {
        Some(tag) => text += &format!("To: {to};tag={tag}\r\n"),
        None => text += &format!("To: {to}\r\n"),
    }
    text += extra;
    text += "Content-Length: 0\r\n\r\n";
    text.into_bytes()
}

#[test]
fn invite_retransmits_on_timer_a_and_times_out_on_timer_b() {
    let start = Instant::now();
    let mut ep = endpoint(21);
    let (call, _) = start_invite(&mut ep, start);
    let (sent, ev) = run_until(&mut ep, start, start + Duration::from_secs(40));
    let times: Vec<u128> = sent.iter().map(|(ms, _)| *ms).collect();
    // Timer A: T1 doubling without cap: 500, 1500, 3500, 7500, 15500, 31500; Timer B at 32 s.
    assert_eq!(times, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(
        ev,
        vec![Event::Terminated {
            call,
            reason: EndReason::Timeout
        }]
    );
    assert_eq!(ep.transaction_count(), 0);
}

#[test]
fn answered_invite_is_acked_along_the_route_set_and_bye_completes() {
    let start = Instant::now();
    let mut ep = endpoint(22);
    let (call, invite) = start_invite(&mut ep, start);
    assert_eq!(invite.header("Supported"), Some("timer"), "never 100rel");
    ep.handle_message(start, &reply(&invite, 100, None, ""), server_peer());
    ep.handle_message(start, &reply(&invite, 180, Some("srv"), ""), server_peer());
    let (out, ev) = drain(&mut ep);
    assert!(out.is_empty());
    assert!(matches!(ev.as_slice(), [Event::Provisional { call: c, .. }] if *c == call));
    let rr = "Record-Route: <sip:127.0.0.1:5070;lr>\r\nContact: <sip:mrcp@127.0.0.1:9061>\r\n";
    let ok = reply(&invite, 200, Some("srv"), rr);
    ep.handle_message(start, &ok, server_peer());
    let (out, ev) = drain(&mut ep);
    assert!(matches!(ev.as_slice(), [Event::Answered { call: c, .. }] if *c == call));
    let ack = parse(&out[0]);
    assert_eq!(
        ack.start,
        mrcp_sip::StartLine::Request {
            method: "ACK".into(),
            uri: "sip:mrcp@127.0.0.1:9061".into()
        }
    );
    assert_eq!(ack.header("Route"), Some("<sip:127.0.0.1:5070;lr>"));
    assert_eq!(
        out[0].peer.addr,
        addr("127.0.0.1:5070"),
        "loose route: to the first Route"
    );
    let seq =
        |m: &Message| mrcp_sip::header::CSeq::parse(m.header("CSeq").expect("cseq")).expect("cseq");
    assert_eq!(seq(&ack).seq, seq(&invite).seq);
    assert_ne!(
        ack.header("Via"),
        invite.header("Via"),
        "the 2xx ACK is a new transaction"
    );
    // A retransmitted 200 is ACKed again.
    ep.handle_message(start, &ok, server_peer());
    let (out, ev) = drain(&mut ep);
    assert_eq!(parse(&out[0]).method(), Some("ACK"));
    assert!(ev.is_empty());

    ep.bye(start, call).expect("bye");
    let (out, _) = drain(&mut ep);
    let bye = parse(&out[0]);
    assert_eq!(seq(&bye).seq, seq(&invite).seq + 1);
    assert_eq!(
        bye.header("To").and_then(mrcp_sip::header::tag_of),
        Some("srv")
    );
    ep.handle_message(start, &reply(&bye, 200, None, ""), server_peer());
    assert_eq!(
        drain(&mut ep).1,
        vec![Event::Terminated {
            call,
            reason: EndReason::LocalBye
        }]
    );
}

#[test]
fn rejected_invite_is_acked_in_the_transaction() {
    let start = Instant::now();
    let mut ep = endpoint(23);
    let (call, invite) = start_invite(&mut ep, start);
    let busy = reply(&invite, 503, Some("srv"), "Retry-After: 5\r\n");
    ep.handle_message(start, &busy, server_peer());
    let (out, ev) = drain(&mut ep);
    let ack = parse(&out[0]);
    assert_eq!(ack.method(), Some("ACK"));
    assert_eq!(
        ack.header("Via"),
        invite.header("Via"),
        "same branch as the INVITE (§17.1.1.3)"
    );
    assert!(matches!(
        ev.as_slice(),
        [
            Event::Rejected { .. },
            Event::Terminated {
                reason: EndReason::Rejected,
                ..
            }
        ]
    ));
    let _ = call;
    ep.handle_message(start, &busy, server_peer());
    assert_eq!(
        parse(&drain(&mut ep).0[0]).method(),
        Some("ACK"),
        "ACK again for the retransmitted 503"
    );
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(40));
    assert!(sent.is_empty());
    assert_eq!(ep.transaction_count(), 0, "Timer D ended the transaction");
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let start = Instant::now();
    let mut ep = endpoint(24);
    let (call, invite) = start_invite(&mut ep, start);
    ep.cancel(start, call).expect("cancel");
    assert!(
        drain(&mut ep).0.is_empty(),
        "§9.1: no CANCEL before a provisional response"
    );
    ep.handle_message(start, &reply(&invite, 100, None, ""), server_peer());
    let (out, _) = drain(&mut ep);
    let cancel = parse(&out[0]);
    assert_eq!(cancel.method(), Some("CANCEL"));
    assert_eq!(cancel.header("Via"), invite.header("Via"));
    ep.handle_message(start, &reply(&cancel, 200, None, ""), server_peer());
    ep.handle_message(start, &reply(&invite, 487, Some("srv"), ""), server_peer());
    let (out, ev) = drain(&mut ep);
    assert_eq!(parse(&out[0]).method(), Some("ACK"));
    assert!(ev.contains(&Event::Terminated {
        call,
        reason: EndReason::Rejected
    }));
}

#[test]
fn options_ping_reports_the_response_or_timer_f() {
    let start = Instant::now();
    let mut ep = endpoint(25);
    let request = OutOfDialogRequest {
        method: "OPTIONS".into(),
        uri: "sip:127.0.0.1:9060".into(),
        peer: server_peer(),
        headers: vec![],
    };
    let id = ep.request(start, request.clone()).expect("request");
    let sent = parse(&drain(&mut ep).0[0]);
    ep.handle_message(start, &reply(&sent, 503, Some("x"), ""), server_peer());
    assert!(
        matches!(drain(&mut ep).1.as_slice(), [Event::RequestResponse { id: i, response }] if *i == id && response.status() == Some(503))
    );
    let id = ep.request(start, request).expect("request");
    drain(&mut ep);
    let (sent, ev) = run_until(&mut ep, start, start + Duration::from_secs(40));
    let times: Vec<u128> = sent.iter().map(|(ms, _)| *ms).collect();
    // Timer E: 500, 1500, 3500, 7500, then every T2 until Timer F (32 s).
    assert_eq!(times[..5], [500, 1500, 3500, 7500, 11500]);
    assert_eq!(ev, vec![Event::RequestTimeout { id }]);
}

/// Two endpoints joined by a lossless in-memory link; `progress` delivers every message and
/// advances simulated time to the earliest deadline when nothing is in flight.
struct Pair {
    now: Instant,
    client: Endpoint,
    server: Endpoint,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
    drop_to_server: usize,
}

impl Pair {
    fn new() -> Self {
        let server = endpoint(31);
        let client = Endpoint::new(mrcp_sip::EndpointConfig {
            local: vec![mrcp_sip::LocalAddr {
                transport: mrcp_sip::Transport::Udp,
                addr: addr(REMOTE),
            }],
            seed: 32,
            ..Default::default()
        });
        Self {
            now: Instant::now(),
            client,
            server,
            client_events: vec![],
            server_events: vec![],
            drop_to_server: 0,
        }
    }

    /// Delivers messages until both sides are idle (no timers advanced).
    fn deliver(&mut self) {
        loop {
            let mut moved = false;
            while let Some(out) = self.client.poll_output() {
                moved = true;
                match out {
                    Output::Transmit(t) if self.drop_to_server > 0 => {
                        self.drop_to_server -= 1;
                        let _ = t;
                    }
                    Output::Transmit(t) => {
                        let from = Peer {
                            transport: t.peer.transport,
                            addr: addr(REMOTE),
                            connection: None,
                        };
                        self.server.handle_message(self.now, &t.payload, from);
                    }
                    Output::Event(e) => self.client_events.push(e),
                }
            }
            while let Some(out) = self.server.poll_output() {
                moved = true;
                match out {
                    Output::Transmit(t) => {
                        let from = Peer {
                            transport: t.peer.transport,
                            addr: addr(LOCAL),
                            connection: None,
                        };
                        self.client.handle_message(self.now, &t.payload, from);
                    }
                    Output::Event(e) => self.server_events.push(e),
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Advances to the next deadline of either side, if it is before `limit`.
    fn step_time(&mut self, limit: Instant) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= limit => {
                self.now = self.now.max(t);
                self.client.handle_timeout(self.now);
                self.server.handle_timeout(self.now);
                self.deliver();
                true
            }
            _ => false,
        }
    }
}

#[test]
fn our_uac_against_our_uas_with_a_lost_invite() {
    let mut pair = Pair::new();
    let start = pair.now;
    pair.drop_to_server = 1; // the first INVITE is lost; Timer A resends it
    let call = pair
        .client
        .invite(
            start,
            Invite {
                uri: "sip:mrcp@127.0.0.1:8060".into(),
                peer: Peer {
                    transport: mrcp_sip::Transport::Udp,
                    addr: addr(LOCAL),
                    connection: None,
                },
                from: None,
                to: None,
                headers: vec![],
                body: Some(Body::sdp(OFFER)),
            },
        )
        .expect("invite");
    pair.deliver();
    assert!(pair.server_events.is_empty());
    assert!(pair.step_time(start + Duration::from_secs(1)));
    let Some(Event::IncomingInvite {
        tx,
        call: server_call,
        ..
    }) = pair.server_events.first().cloned()
    else {
        panic!("server got no INVITE: {:?}", pair.server_events)
    };
    assert_eq!(
        pair.now - start,
        Duration::from_millis(500),
        "Timer A fired at T1"
    );
    pair.server
        .respond(pair.now, tx, Response::ok_with_sdp(OFFER))
        .expect("respond");
    pair.deliver();
    assert!(pair.client_events.iter().any(|e| matches!(e, Event::Answered { call: c, response } if *c == call && &response.body[..] == OFFER.as_bytes())));
    assert!(
        pair.server_events
            .iter()
            .any(|e| matches!(e, Event::Ack { .. }))
    );
    // The server hangs up this time.
    pair.server.bye(pair.now, server_call).expect("server bye");
    pair.deliver();
    assert!(pair.client_events.contains(&Event::Terminated {
        call,
        reason: EndReason::RemoteBye
    }));
    assert!(pair.server_events.contains(&Event::Terminated {
        call: server_call,
        reason: EndReason::LocalBye
    }));
    while pair.step_time(start + Duration::from_secs(120)) {}
    assert_eq!(
        pair.client.transaction_count() + pair.server.transaction_count(),
        0
    );
    assert_eq!(pair.client.call_count() + pair.server.call_count(), 0);
}

#[test]
fn session_timer_from_a_unimrcp_server_is_refreshed_by_reinvite() {
    let start = Instant::now();
    let mut ep = endpoint(26);
    let (call, invite) = start_invite(&mut ep, start);
    // The UniMRCP server's 200 OK (captures, frame 7) asks the UAC to refresh every 600 s.
    let extra = "Contact: <sip:127.0.0.1:9060>\r\nRequire: timer\r\nSession-Expires: 600;refresher=uac\r\nMin-SE: 120\r\n";
    ep.handle_message(
        start,
        &reply(&invite, 200, Some("srv"), extra),
        server_peer(),
    );
    drain(&mut ep);
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(299));
    assert!(
        sent.iter()
            .all(|(_, t)| parse(t).method() != Some("INVITE")),
        "no refresh before half the interval"
    );
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(301));
    let (at, refresh) = sent
        .iter()
        .find(|(_, t)| parse(t).method() == Some("INVITE"))
        .expect("a refresh re-INVITE");
    assert_eq!(*at, 300_000);
    let refresh = parse(refresh);
    assert_eq!(
        &refresh.body[..],
        OFFER.as_bytes(),
        "the refresh repeats our offer"
    );
    assert_eq!(
        refresh.header("To").and_then(mrcp_sip::header::tag_of),
        Some("srv")
    );
    let now = start + Duration::from_secs(300);
    ep.handle_message(now, &reply(&refresh, 200, None, extra), server_peer());
    let (out, ev) = drain(&mut ep);
    assert_eq!(parse(&out[0]).method(), Some("ACK"));
    assert!(matches!(ev.as_slice(), [Event::ReInviteResponse { call: c, .. }] if *c == call));
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(601));
    assert!(
        sent.iter()
            .any(|(at, t)| *at == 600_000 && parse(t).method() == Some("INVITE")),
        "next refresh 300 s later"
    );
}

#[test]
fn refresher_uas_means_we_do_not_refresh() {
    let start = Instant::now();
    let mut ep = endpoint(27);
    let (_, invite) = start_invite(&mut ep, start);
    let extra = "Contact: <sip:127.0.0.1:9060>\r\nSession-Expires: 600;refresher=uas\r\n";
    ep.handle_message(
        start,
        &reply(&invite, 200, Some("srv"), extra),
        server_peer(),
    );
    drain(&mut ep);
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(700));
    assert!(
        sent.iter()
            .all(|(_, t)| parse(t).method() != Some("INVITE"))
    );
}
