//! UAS scenarios on the sans-IO endpoint with injected time (RFC 3261 §13.3, §17.2, §9.2, §15).

mod common;

use std::time::{Duration, Instant};

use common::*;
use mrcp_sip::{EndReason, Event, Response};

const SDP: &str = "v=0\r\no=s 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=application 1544 TCP/MRCPv2 1\r\n";

/// INVITE in, 100 out; returns the call and transaction.
fn incoming(
    ep: &mut mrcp_sip::Endpoint,
    now: Instant,
    extra: &str,
) -> (mrcp_sip::CallHandle, mrcp_sip::ServerTxId) {
    ep.handle_message(now, &invite("z9hG4bK7yyt1K7K8avyg", extra), udp_peer());
    let (tx, ev) = drain(ep);
    assert_eq!(statuses(&tx), vec![100]);
    match ev.as_slice() {
        [
            Event::IncomingInvite {
                call,
                tx,
                request,
                peer,
            },
        ] => {
            assert_eq!(*peer, udp_peer());
            assert!(request.body.starts_with(b"v=0"));
            (*call, *tx)
        }
        other => panic!("expected one IncomingInvite, got {other:?}"),
    }
}

#[test]
fn invite_answer_ack_bye() {
    let now = Instant::now();
    let mut ep = endpoint(1);
    let (call, tx) = incoming(&mut ep, now, "");
    ep.respond(now, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    let (out, _) = drain(&mut ep);
    let ok = parse(&out[0]);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        out[0].peer.addr,
        addr(REMOTE),
        "rport: back to the source port"
    );
    assert!(ok.header("Via").expect("via").contains("rport=8062"));
    assert!(
        ok.header("Contact")
            .expect("contact")
            .contains("127.0.0.1:8060")
    );
    assert_eq!(ok.header("Content-Type"), Some("application/sdp"));
    assert_eq!(&ok.body[..], SDP.as_bytes());
    let tag = to_tag(&out[0]);

    ep.handle_message(
        now,
        &in_dialog("ACK", "z9hG4bKack", &tag, 1001105667),
        udp_peer(),
    );
    let (out, ev) = drain(&mut ep);
    assert!(out.is_empty());
    assert!(matches!(ev.as_slice(), [Event::Ack { call: c, .. }] if *c == call));
    // No 2xx retransmission after the ACK.
    let (late, _) = run_until(&mut ep, now, now + Duration::from_secs(40));
    assert!(late.is_empty(), "{late:?}");

    ep.handle_message(
        now,
        &in_dialog("BYE", "z9hG4bKbye", &tag, 1001105668),
        udp_peer(),
    );
    let (out, ev) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![200]);
    assert_eq!(
        ev,
        vec![Event::Terminated {
            call,
            reason: EndReason::RemoteBye
        }]
    );
    assert_eq!(ep.call_count(), 0);
}

#[test]
fn lost_ack_retransmits_2xx_then_sends_bye() {
    let start = Instant::now();
    let mut ep = endpoint(2);
    let (call, tx) = incoming(&mut ep, start, "");
    ep.respond(start, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    drain(&mut ep);
    let (sent, ev) = run_until(&mut ep, start, start + Duration::from_secs(40));
    let oks: Vec<u128> = sent
        .iter()
        .filter(|(_, t)| parse(t).status() == Some(200))
        .map(|(ms, _)| *ms)
        .collect();
    // §13.3.1.4: T1, then doubling to T2 (500, 1500, 3500, 7500, 11500, ...), until 64*T1.
    assert_eq!(oks[..5], [500, 1500, 3500, 7500, 11500]);
    assert!(oks.iter().all(|ms| *ms < 32_000));
    let byes: Vec<_> = sent
        .iter()
        .filter(|(_, t)| parse(t).method() == Some("BYE"))
        .collect();
    assert_eq!(byes[0].0, 32_000, "a BYE once 64*T1 passed without ACK");
    let branch = parse(&byes[0].1).header("Via").map(str::to_owned);
    assert!(
        byes.iter()
            .all(|(_, t)| parse(t).header("Via").map(str::to_owned) == branch),
        "Timer E resends one BYE"
    );
    assert!(ev.contains(&Event::Terminated {
        call,
        reason: EndReason::AckTimeout
    }));
}

#[test]
fn duplicate_invite_gets_the_last_response_again() {
    let now = Instant::now();
    let mut ep = endpoint(3);
    let (_, tx) = incoming(&mut ep, now, "");
    ep.handle_message(now, &invite("z9hG4bK7yyt1K7K8avyg", ""), udp_peer());
    let (out, ev) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![100]);
    assert!(ev.is_empty(), "a retransmission is not a new call");
    ep.respond(now, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    drain(&mut ep);
    // After the 2xx (RFC 6026 Accepted) the retransmitted INVITE is absorbed.
    ep.handle_message(now, &invite("z9hG4bK7yyt1K7K8avyg", ""), udp_peer());
    let (out, ev) = drain(&mut ep);
    assert!(out.is_empty() && ev.is_empty());
}

#[test]
fn merged_request_gets_482() {
    let now = Instant::now();
    let mut ep = endpoint(4);
    incoming(&mut ep, now, "");
    ep.handle_message(now, &invite("z9hG4bKotherpath", ""), udp_peer());
    let (out, ev) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![482]);
    assert!(ev.is_empty());
}

fn cancel() -> Vec<u8> {
    b"CANCEL sip:127.0.0.1:8060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:8062;rport;branch=z9hG4bK7yyt1K7K8avyg\r\n\
Max-Forwards: 70\r\nFrom: <sip:127.0.0.1:8062>;tag=7t5SXv39r28vj\r\nTo: <sip:127.0.0.1:8060>\r\n\
Call-ID: 25e74185-61d5-1240-7889-2e54be204836\r\nCSeq: 1001105667 CANCEL\r\nContent-Length: 0\r\n\r\n"
        .to_vec()
}

#[test]
fn cancel_before_answer_gives_487_and_ends_the_call() {
    let start = Instant::now();
    let mut ep = endpoint(5);
    let (call, tx) = incoming(&mut ep, start, "");
    ep.handle_message(start, &cancel(), udp_peer());
    let (out, ev) = drain(&mut ep);
    let msgs: Vec<_> = out.iter().map(parse).collect();
    assert_eq!(
        msgs.iter()
            .map(|m| (m.status(), m.header("CSeq").map(str::to_owned)))
            .collect::<Vec<_>>(),
        vec![
            (Some(200), Some("1001105667 CANCEL".to_owned())),
            (Some(487), Some("1001105667 INVITE".to_owned())),
        ]
    );
    assert_eq!(
        ev,
        vec![Event::Terminated {
            call,
            reason: EndReason::Cancelled
        }]
    );
    assert!(
        ep.respond(start, tx, Response::status(200)).is_err(),
        "the INVITE has its final response"
    );
    // Timer G retransmits the 487 until the ACK (same branch) arrives.
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_millis(600));
    assert_eq!(sent.len(), 1);
    let tag = to_tag(&out[1]);
    let ack = String::from_utf8(in_dialog("ACK", "z9hG4bK7yyt1K7K8avyg", &tag, 1001105667))
        .expect("utf-8");
    ep.handle_message(
        start + Duration::from_millis(600),
        ack.as_bytes(),
        udp_peer(),
    );
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(60));
    assert!(sent.is_empty(), "no retransmission after the ACK: {sent:?}");
    assert_eq!(
        ep.transaction_count(),
        0,
        "Timer I and J ended every transaction"
    );
}

#[test]
fn late_cancel_after_200_changes_nothing() {
    let now = Instant::now();
    let mut ep = endpoint(6);
    let (_, tx) = incoming(&mut ep, now, "");
    ep.respond(now, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    drain(&mut ep);
    ep.handle_message(now, &cancel(), udp_peer());
    let (out, ev) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![200], "200 to the CANCEL, no 487");
    assert!(ev.is_empty());
    assert_eq!(ep.call_count(), 1);
}

#[test]
fn bye_before_ack_ends_the_call_and_stops_retransmission() {
    let start = Instant::now();
    let mut ep = endpoint(7);
    let (call, tx) = incoming(&mut ep, start, "");
    ep.respond(start, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    let (out, _) = drain(&mut ep);
    let tag = to_tag(&out[0]);
    ep.handle_message(
        start,
        &in_dialog("BYE", "z9hG4bKbye", &tag, 1001105668),
        udp_peer(),
    );
    let (out, ev) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![200]);
    assert_eq!(
        ev,
        vec![Event::Terminated {
            call,
            reason: EndReason::RemoteBye
        }]
    );
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(40));
    assert!(sent.is_empty(), "{sent:?}");
}

#[test]
fn rejection_retransmits_on_timer_g_until_timer_h() {
    let start = Instant::now();
    let mut ep = endpoint(8);
    let (call, tx) = incoming(&mut ep, start, "");
    ep.respond(
        start,
        tx,
        Response {
            code: 503,
            headers: vec![("Retry-After".into(), "5".into())],
            ..Default::default()
        },
    )
    .expect("respond");
    let (out, ev) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![503]);
    assert!(parse(&out[0]).header("Retry-After").is_some());
    assert_eq!(
        ev,
        vec![Event::Terminated {
            call,
            reason: EndReason::Rejected
        }]
    );
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(40));
    let times: Vec<u128> = sent.iter().map(|(ms, _)| *ms).collect();
    // Timer G: 500, 1500, 3500, 7500 then every T2 (4 s); Timer H at 64*T1 = 32 s.
    assert_eq!(times[..6], [500, 1500, 3500, 7500, 11500, 15500]);
    assert!(*times.last().expect("some") < 32_000);
    assert_eq!(ep.transaction_count(), 0);
}

#[test]
fn tcp_has_no_retransmissions_and_answers_on_the_connection() {
    let start = Instant::now();
    let mut ep = endpoint(9);
    let raw = String::from_utf8(invite("z9hG4bKtcp1", ""))
        .expect("utf-8")
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    ep.handle_message(start, raw.as_bytes(), tcp_peer());
    let (out, ev) = drain(&mut ep);
    assert_eq!(out[0].peer, tcp_peer());
    let Event::IncomingInvite { tx, .. } = ev[0].clone() else {
        panic!("invite")
    };
    ep.respond(start, tx, Response::status(486))
        .expect("respond");
    let (out, _) = drain(&mut ep);
    assert_eq!(out[0].peer, tcp_peer());
    let (sent, _) = run_until(&mut ep, start, start + Duration::from_secs(40));
    assert!(sent.is_empty(), "no Timer G over TCP");
}

#[test]
fn options_are_answered_by_the_endpoint_or_handed_up() {
    let now = Instant::now();
    let mut ep = endpoint(10);
    let options = |branch: &str| {
        format!(
            "OPTIONS sip:127.0.0.1:8060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
From: <sip:dispatcher@127.0.0.1:5070>;tag=a\r\nTo: <sip:127.0.0.1:8060>\r\nCall-ID: {branch}\r\n\
CSeq: 10 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
    };
    ep.handle_message(now, options("z9hG4bKo1").as_bytes(), udp_peer());
    let (out, _) = drain(&mut ep);
    let ok = parse(&out[0]);
    assert_eq!(ok.status(), Some(200));
    assert!(ok.header("Allow").is_some_and(|a| a.contains("INVITE")));
    ep.set_options_status(Some(503));
    ep.handle_message(now, options("z9hG4bKo2").as_bytes(), udp_peer());
    assert_eq!(statuses(&drain(&mut ep).0), vec![503]);
    ep.set_options_status(None);
    ep.handle_message(now, options("z9hG4bKo3").as_bytes(), udp_peer());
    let (out, ev) = drain(&mut ep);
    assert!(out.is_empty());
    let [Event::Options { tx, .. }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    ep.respond(now, *tx, Response::status(200))
        .expect("respond");
    assert_eq!(statuses(&drain(&mut ep).0), vec![200]);
}

#[test]
fn unknown_dialog_gets_481_and_unsupported_require_420() {
    let now = Instant::now();
    let mut ep = endpoint(11);
    ep.handle_message(
        now,
        &in_dialog("BYE", "z9hG4bKx", "nosuchtag", 5),
        udp_peer(),
    );
    assert_eq!(statuses(&drain(&mut ep).0), vec![481]);
    ep.handle_message(
        now,
        &invite("z9hG4bKreq", "Require: 100rel\r\n"),
        udp_peer(),
    );
    let (out, ev) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![420]);
    assert_eq!(parse(&out[0]).header("Unsupported"), Some("100rel"));
    assert!(ev.is_empty());
}

#[test]
fn malformed_requests_get_400_with_a_reason_or_are_dropped() {
    let now = Instant::now();
    let mut ep = endpoint(12);
    let raw = String::from_utf8(invite("z9hG4bKbad", ""))
        .expect("utf-8")
        .replace("Content-Length: ", "Content-Length: x");
    ep.handle_message(now, raw.as_bytes(), udp_peer());
    let (out, _) = drain(&mut ep);
    let bad = parse(&out[0]);
    assert_eq!(bad.status(), Some(400));
    assert_eq!(
        bad.start,
        mrcp_sip::StartLine::Response {
            code: 400,
            reason: "Bad Content-Length".into()
        }
    );
    let raw = String::from_utf8(invite("z9hG4bKbad2", ""))
        .expect("utf-8")
        .replace("Call-ID: ", "X-Call-ID: ");
    ep.handle_message(now, raw.as_bytes(), udp_peer());
    assert_eq!(
        statuses(&drain(&mut ep).0),
        Vec::<u16>::new(),
        "no Call-ID: no response possible"
    );
    let raw = String::from_utf8(invite("z9hG4bKbad4", ""))
        .expect("utf-8")
        .replace(
            "INVITE sip:127.0.0.1:8060 SIP/2.0",
            "INVITE  sip:x SIP/2.0 junk",
        );
    ep.handle_message(now, raw.as_bytes(), udp_peer());
    let (out, _) = drain(&mut ep);
    assert_eq!(
        parse(&out[0]).start,
        mrcp_sip::StartLine::Response {
            code: 400,
            reason: "Malformed Request Line".into()
        }
    );
    ep.handle_message(now, b"\x00\x01garbage", udp_peer());
    assert!(drain(&mut ep).0.is_empty());
    let raw = String::from_utf8(invite("z9hG4bKbad3", ""))
        .expect("utf-8")
        .replace("CSeq: 1001105667 INVITE", "CSeq: 1 BYE");
    ep.handle_message(now, raw.as_bytes(), udp_peer());
    assert_eq!(statuses(&drain(&mut ep).0), vec![400]);
}

#[test]
fn session_timer_is_accepted_and_refreshed_never_required() {
    let now = Instant::now();
    let mut ep = endpoint(13);
    let (_, tx) = incoming(&mut ep, now, "Session-Expires: 1800\r\nMin-SE: 90\r\n");
    ep.respond(now, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    let (out, _) = drain(&mut ep);
    let ok = parse(&out[0]);
    assert_eq!(ok.header("Session-Expires"), Some("1800;refresher=uac"));
    assert_eq!(ok.header("Require"), Some("timer"));
    // Without a request for it, nothing about timers in the answer.
    let mut ep = endpoint(14);
    let (_, tx) = incoming(&mut ep, now, "");
    ep.respond(now, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    let ok = parse(&drain(&mut ep).0[0]);
    assert!(ok.header("Session-Expires").is_none() && ok.header("Require").is_none());
    // Too small: 422 with Min-SE.
    let mut ep = endpoint(15);
    ep.handle_message(
        now,
        &invite("z9hG4bKse", "Session-Expires: 30\r\n"),
        udp_peer(),
    );
    let (out, _) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![422]);
    assert_eq!(parse(&out[0]).header("Min-SE"), Some("90"));
}

#[test]
fn reinvite_refresh_and_glare() {
    let now = Instant::now();
    let mut ep = endpoint(16);
    let (call, tx) = incoming(&mut ep, now, "");
    ep.respond(now, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    let tag = to_tag(&drain(&mut ep).0[0]);
    ep.handle_message(
        now,
        &in_dialog("ACK", "z9hG4bKack", &tag, 1001105667),
        udp_peer(),
    );
    drain(&mut ep);
    // The peer refreshes with a re-INVITE (RFC 4028 via Sofia): handed up, answered.
    ep.handle_message(
        now,
        &in_dialog("INVITE", "z9hG4bKre1", &tag, 1001105668),
        udp_peer(),
    );
    let (out, ev) = drain(&mut ep);
    assert_eq!(statuses(&out), vec![100]);
    let [Event::ReInvite { call: c, tx, .. }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    assert_eq!(*c, call);
    // A second re-INVITE while the first is pending: 500 with Retry-After (§14.2).
    ep.handle_message(
        now,
        &in_dialog("INVITE", "z9hG4bKre2", &tag, 1001105669),
        udp_peer(),
    );
    assert_eq!(statuses(&drain(&mut ep).0), vec![500]);
    ep.respond(now, *tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    assert_eq!(statuses(&drain(&mut ep).0), vec![200]);
    ep.handle_message(
        now,
        &in_dialog("ACK", "z9hG4bKack2", &tag, 1001105668),
        udp_peer(),
    );
    assert!(matches!(drain(&mut ep).1.as_slice(), [Event::Ack { .. }]));
    // Our own re-INVITE pending: the peer's gets 491 (glare).
    ep.reinvite(now, call, Some(mrcp_sip::Body::sdp(SDP)))
        .expect("reinvite");
    let (out, _) = drain(&mut ep);
    let ours = parse(&out[0]);
    assert_eq!(ours.method(), Some("INVITE"));
    assert_eq!(
        ours.header("From").map(mrcp_sip::header::tag_of),
        Some(Some(tag.as_str()))
    );
    assert_eq!(
        out[0].peer.addr,
        addr(REMOTE),
        "sent to the remote target from Contact"
    );
    ep.handle_message(
        now,
        &in_dialog("INVITE", "z9hG4bKre3", &tag, 1001105670),
        udp_peer(),
    );
    assert_eq!(statuses(&drain(&mut ep).0), vec![491]);
}

#[test]
fn out_of_order_cseq_in_dialog_gets_500() {
    let now = Instant::now();
    let mut ep = endpoint(17);
    let (_, tx) = incoming(&mut ep, now, "");
    ep.respond(now, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    let tag = to_tag(&drain(&mut ep).0[0]);
    ep.handle_message(
        now,
        &in_dialog("INFO", "z9hG4bKi1", &tag, 1001105600),
        udp_peer(),
    );
    assert_eq!(statuses(&drain(&mut ep).0), vec![500]);
}

#[test]
fn unanswered_invite_gets_500_after_the_answer_timeout() {
    let start = Instant::now();
    let mut ep = endpoint(18);
    let (call, _) = incoming(&mut ep, start, "");
    let (sent, ev) = run_until(&mut ep, start, start + Duration::from_secs(31));
    let first = sent
        .iter()
        .find(|(_, t)| parse(t).status() == Some(500))
        .expect("a 500");
    assert_eq!(first.0, 30_000, "answer_timeout defaults to 30 s");
    assert!(parse(&first.1).header("Retry-After").is_some());
    assert_eq!(
        ev,
        vec![Event::Terminated {
            call,
            reason: EndReason::NotAnswered
        }]
    );
}

#[test]
fn server_bye_over_tcp_reuses_the_clients_connection() {
    let now = Instant::now();
    let mut ep = endpoint(19);
    let raw = String::from_utf8(invite("z9hG4bKtcp2", ""))
        .expect("utf-8")
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        .replace("transport=udp", "transport=tcp");
    ep.handle_message(now, raw.as_bytes(), tcp_peer());
    let (_, ev) = drain(&mut ep);
    let Event::IncomingInvite { call, tx, .. } = ev[0].clone() else {
        panic!("invite")
    };
    ep.respond(now, tx, Response::ok_with_sdp(SDP))
        .expect("respond");
    drain(&mut ep);
    ep.bye(now, call).expect("bye");
    let (out, _) = drain(&mut ep);
    let bye = parse(&out[0]);
    assert_eq!(bye.method(), Some("BYE"));
    assert_eq!(
        out[0].peer,
        tcp_peer(),
        "sent on the connection the INVITE came on"
    );
    assert!(
        bye.header("Via")
            .is_some_and(|v| v.starts_with("SIP/2.0/TCP"))
    );
}
