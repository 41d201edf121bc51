use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn rtp(seq: u16, ts: u32, ssrc: u32, pt: u8) -> Vec<u8> {
    RtpPacket::new(
        PayloadType::new(pt).unwrap(),
        seq,
        ts,
        Ssrc(ssrc),
        false,
        &[0xff; 160],
    )
    .to_bytes()
    .unwrap()
}

fn session(now: Instant) -> RtpSession {
    let mut cfg = RtpSessionConfig::new(Ssrc(0x1234), 8000);
    cfg.payload_types = vec![PayloadType::PCMU, PayloadType::new(101).unwrap()];
    cfg.remote_rtp = Some(addr("127.0.0.1:4000"));
    cfg.inactivity_timeout = Some(Duration::from_secs(10));
    RtpSession::new(cfg, now)
}

fn drain(s: &mut RtpSession) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn media(out: &[Output]) -> Vec<u16> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(SessionEvent::Media(p)) => Some(p.sequence),
            _ => None,
        })
        .collect()
}

#[test]
fn latches_to_the_real_source_and_ignores_strangers() {
    let t0 = Instant::now();
    let mut s = session(t0);
    assert_eq!(s.rtp_destination(), Some(addr("127.0.0.1:4000")));
    let nat = addr("127.0.0.1:40000");
    s.handle_rtp(t0, nat, &rtp(1, 0, 9, 0));
    let out = drain(&mut s);
    assert_eq!(out[0], Output::Event(SessionEvent::Latched(nat)));
    assert_eq!(media(&out), vec![1]);
    assert_eq!(s.rtp_destination(), Some(nat));
    // A stranger while the latched source is active: dropped.
    s.handle_rtp(
        t0 + Duration::from_millis(20),
        addr("127.0.0.1:50000"),
        &rtp(2, 160, 9, 0),
    );
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.stats().stranger, 1);
    // After a second of silence from the latched address, the new one takes over.
    let later = t0 + Duration::from_millis(1100);
    s.handle_rtp(later, addr("127.0.0.1:50000"), &rtp(3, 160 * 55, 9, 0));
    assert_eq!(
        drain(&mut s)[0],
        Output::Event(SessionEvent::Latched(addr("127.0.0.1:50000")))
    );
    // Sending follows the latch.
    let p = RtpPacket::new(PayloadType::PCMU, 7, 0, Ssrc(0x1234), true, &[0xff; 160]);
    assert!(s.send_rtp(later, &p));
    match drain(&mut s).pop() {
        Some(Output::Transmit(t)) => {
            assert_eq!(t.destination, addr("127.0.0.1:50000"));
            assert_eq!(t.channel, Channel::Rtp);
            assert_eq!(RtpPacket::parse(&t.payload).unwrap(), p);
        }
        other => panic!("expected a transmit, got {other:?}"),
    }
}

#[test]
fn bad_input_is_counted_and_dropped() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let from = addr("127.0.0.1:4000");
    let mut wrong_version = rtp(1, 0, 9, 0);
    wrong_version[0] = 0x40;
    s.handle_rtp(t0, from, &wrong_version);
    let mut bad_padding = rtp(1, 0, 9, 0);
    bad_padding[0] |= 0x20;
    *bad_padding.last_mut().unwrap() = 200;
    s.handle_rtp(t0, from, &bad_padding);
    let mut bad_ext = rtp(1, 0, 9, 0);
    bad_ext[0] |= 0x10;
    bad_ext[14] = 0xff;
    bad_ext[15] = 0xff;
    s.handle_rtp(t0, from, &bad_ext);
    s.handle_rtp(t0, from, &rtp(1, 0, 9, 96));
    s.handle_rtp(t0, from, &vec![0x80; 70_000]);
    s.handle_rtp(t0, from, &[]);
    s.handle_rtcp(t0, from, &[0x80, 201, 0xff, 0xff]);
    assert!(drain(&mut s).is_empty());
    let st = s.stats();
    assert_eq!(st.malformed, 4);
    assert_eq!(st.unknown_payload_type, 1);
    assert_eq!(st.oversized, 1);
    assert_eq!(st.rtcp_malformed, 1);
    assert_eq!(st.received, 0);
}

#[test]
fn new_ssrc_needs_probation() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let from = addr("127.0.0.1:4000");
    s.handle_rtp(t0, from, &rtp(1, 0, 9, 0));
    drain(&mut s);
    for i in 0..5u16 {
        s.handle_rtp(t0, from, &rtp(100 + i, 0, 10, 0));
    }
    assert!(media(&drain(&mut s)).is_empty());
    assert_eq!(s.stats().probation, 5);
    s.handle_rtp(t0, from, &rtp(105, 0, 10, 0));
    let out = drain(&mut s);
    assert_eq!(
        out[0],
        Output::Event(SessionEvent::SsrcChanged {
            old: Ssrc(9),
            new: Ssrc(10)
        })
    );
    assert_eq!(media(&out), vec![105]);
    assert_eq!(s.remote_ssrc(), Some(Ssrc(10)));
}

#[test]
fn duplicates_are_dropped_and_loss_is_counted() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let from = addr("127.0.0.1:4000");
    for seq in [1u16, 2, 2, 4, 3, 3, 7] {
        s.handle_rtp(
            t0 + Duration::from_millis(20 * u64::from(seq)),
            from,
            &rtp(seq, u32::from(seq) * 160, 9, 0),
        );
    }
    assert_eq!(media(&drain(&mut s)), vec![1, 2, 4, 3, 7]);
    let st = s.stats();
    assert_eq!(
        (
            st.received,
            st.duplicates,
            st.reordered,
            st.expected,
            st.lost
        ),
        (5, 2, 1, 7, 2)
    );
    assert_eq!(st.jitter, 0);
}

#[test]
fn rtcp_reports_sr_and_bye() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let from = addr("127.0.0.1:4000");
    s.handle_rtp(t0, from, &rtp(1, 0, 9, 0));
    // Peer's SR, then our report must echo LSR and a DLSR.
    let sr = RtcpCompound {
        packets: vec![RtcpPacket::SenderReport(SenderReport {
            ssrc: Ssrc(9),
            info: SenderInfo {
                ntp_timestamp: 0x0001_2345_6789_0000,
                rtp_timestamp: 0,
                packet_count: 1,
                octet_count: 160,
            },
            reports: vec![],
        })],
    };
    s.handle_rtcp(
        t0 + Duration::from_secs(1),
        addr("127.0.0.1:4001"),
        &sr.to_bytes().unwrap(),
    );
    drain(&mut s);
    let p = RtpPacket::new(PayloadType::PCMU, 1, 0, Ssrc(0x1234), true, &[0xff; 160]);
    s.send_rtp(t0, &p);
    drain(&mut s);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    s.handle_timeout(t0 + Duration::from_secs(5));
    let out = drain(&mut s);
    let Some(Output::Transmit(t)) = out.first() else {
        panic!("expected an rtcp report, got {out:?}")
    };
    assert_eq!(t.channel, Channel::Rtcp);
    assert_eq!(t.destination, addr("127.0.0.1:4001"));
    let c = RtcpCompound::parse(&t.payload).unwrap();
    let RtcpPacket::SenderReport(ours) = &c.packets[0] else {
        panic!("expected SR first")
    };
    assert_eq!(ours.info.packet_count, 1);
    assert_eq!(ours.reports[0].ssrc, Ssrc(9));
    assert_eq!(ours.reports[0].last_sr, 0x2345_6789);
    assert_eq!(ours.reports[0].delay_since_last_sr, 4 * 65536);
    assert!(
        matches!(&c.packets[1], RtcpPacket::Sdes(chunks) if chunks[0].items[0].kind == SdesItem::CNAME)
    );
    // No RTP sent since: the next report is an RR.
    s.handle_timeout(t0 + Duration::from_secs(10));
    let out = drain(&mut s);
    let rr = out.iter().find_map(|o| match o {
        Output::Transmit(t) => RtcpCompound::parse(&t.payload)
            .ok()
            .map(|c| matches!(c.packets[0], RtcpPacket::ReceiverReport(_))),
        _ => None,
    });
    assert_eq!(rr, Some(true));
    // BYE from the peer.
    let bye = RtcpCompound {
        packets: vec![
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: Ssrc(9),
                reports: vec![],
            }),
            RtcpPacket::Bye(ByePacket {
                sources: vec![Ssrc(9)],
                reason: None,
            }),
        ],
    };
    s.handle_rtcp(
        t0 + Duration::from_secs(11),
        addr("127.0.0.1:4001"),
        &bye.to_bytes().unwrap(),
    );
    assert_eq!(
        drain(&mut s),
        vec![Output::Event(SessionEvent::Bye(Ssrc(9)))]
    );
}

#[test]
fn inactivity_is_reported_once_and_rearmed() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let mut cfg = s.cfg.clone();
    cfg.rtcp_interval = None;
    s = RtpSession::new(cfg, t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    s.handle_timeout(t0 + Duration::from_secs(9));
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(
        drain(&mut s),
        vec![Output::Event(SessionEvent::Inactive { last_activity: t0 })]
    );
    assert_eq!(s.poll_timeout(), None);
    let t1 = t0 + Duration::from_secs(12);
    s.handle_rtp(t1, addr("127.0.0.1:4000"), &rtp(1, 0, 9, 0));
    assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(10)));
}

proptest::proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.handle_rtp(t0, addr("127.0.0.1:4000"), &data);
        s.handle_rtcp(t0, addr("127.0.0.1:4001"), &data);
        drain(&mut s);
    }
}
