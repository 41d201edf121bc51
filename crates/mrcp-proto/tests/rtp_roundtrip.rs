//! Property tests for the RTP module: serialize → parse is identity for generated RTP packets,
//! RTCP compounds and telephone events; G.711 encode → decode → encode is stable; and every
//! file of the `rtp_packet` fuzz corpus replays without panic.

use mrcp_proto::rtp::{
    ByePacket, HeaderExtension, PayloadType, ReceiverReport, ReportBlock, RtcpCompound, RtcpPacket,
    RtpPacket, SdesChunk, SdesItem, SenderInfo, SenderReport, Ssrc, TelephoneEvent, g711,
};
use proptest::prelude::*;

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000i32..=0x7f_ffff,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(s, f, c, h, j, l, d)| ReportBlock {
            ssrc: Ssrc(s),
            fraction_lost: f,
            cumulative_lost: c,
            extended_highest_seq: h,
            jitter: j,
            last_sr: l,
            delay_since_last_sr: d,
        })
}

proptest! {
    #[test]
    fn rtp_round_trip(
        marker: bool,
        pt in 0u8..128,
        seq: u16,
        ts: u32,
        ssrc: u32,
        csrcs in prop::collection::vec(any::<u32>(), 0..=15),
        ext in prop::option::of((any::<u16>(), prop::collection::vec(any::<u8>(), 0..4).prop_map(|w| w.repeat(4)))),
        payload in prop::collection::vec(any::<u8>(), 0..400),
        padding: u8,
    ) {
        let mut p = RtpPacket::new(PayloadType::new(pt).unwrap(), seq, ts, Ssrc(ssrc), marker, &payload);
        p.set_csrcs(&csrcs).unwrap();
        p.extension = ext.as_ref().map(|(profile, data)| HeaderExtension { profile: *profile, data });
        p.padding = padding;
        let bytes = p.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), p.wire_len());
        prop_assert_eq!(RtpPacket::parse(&bytes).unwrap(), p);
    }

    #[test]
    fn rtcp_round_trip(
        rr_blocks in prop::collection::vec(report_block(), 0..4),
        sr in prop::option::of((any::<u32>(), any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>())),
        cname in "[a-z0-9@.]{1,40}",
        bye in prop::option::of(prop::collection::vec(any::<u32>(), 0..4)),
        reason in prop::option::of("[a-z ]{1,20}"),
    ) {
        let mut packets = Vec::new();
        match sr {
            Some((ssrc, ntp, rtp, pc, oc)) => packets.push(RtcpPacket::SenderReport(SenderReport {
                ssrc: Ssrc(ssrc),
                info: SenderInfo { ntp_timestamp: ntp, rtp_timestamp: rtp, packet_count: pc, octet_count: oc },
                reports: rr_blocks.clone(),
            })),
            None => packets.push(RtcpPacket::ReceiverReport(ReceiverReport { ssrc: Ssrc(9), reports: rr_blocks.clone() })),
        }
        packets.push(RtcpPacket::Sdes(vec![SdesChunk { ssrc: Ssrc(9), items: vec![SdesItem { kind: SdesItem::CNAME, value: cname.as_bytes() }] }]));
        if let Some(ids) = bye {
            packets.push(RtcpPacket::Bye(ByePacket { sources: ids.into_iter().map(Ssrc).collect(), reason: reason.as_deref().map(str::as_bytes) }));
        }
        let compound = RtcpCompound { packets };
        let bytes = compound.to_bytes().unwrap();
        prop_assert_eq!(RtcpCompound::parse(&bytes).unwrap(), compound);
    }

    #[test]
    fn telephone_event_round_trip(event: u8, end: bool, volume in 0u8..64, duration: u16) {
        let e = TelephoneEvent { event, end, volume, duration };
        prop_assert_eq!(TelephoneEvent::parse(&e.to_bytes().unwrap()).unwrap(), e);
    }

    #[test]
    fn g711_is_idempotent(samples in prop::collection::vec(any::<i16>(), 0..200)) {
        let mut u = Vec::new();
        g711::encode_ulaw(&samples, &mut u);
        let mut lin = Vec::new();
        g711::decode_ulaw(&u, &mut lin);
        let mut u2 = Vec::new();
        g711::encode_ulaw(&lin, &mut u2);
        prop_assert_eq!(&u, &u2);
        let mut a = Vec::new();
        g711::encode_alaw(&samples, &mut a);
        lin.clear();
        g711::decode_alaw(&a, &mut lin);
        let mut a2 = Vec::new();
        g711::encode_alaw(&lin, &mut a2);
        prop_assert_eq!(a, a2);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        check_datagram(&data);
    }
}

/// The same checks as `fuzz/fuzz_targets/rtp_packet.rs`: whatever parses re-serializes to bytes
/// that parse to the same value.
fn check_datagram(data: &[u8]) {
    if let Ok(p) = RtpPacket::parse(data) {
        let bytes = p.to_bytes().expect("a parsed packet is writable");
        assert_eq!(RtpPacket::parse(&bytes).expect("re-parse"), p);
    }
    if let Ok(c) = RtcpCompound::parse(data)
        && let Ok(bytes) = c.to_bytes()
    {
        assert_eq!(RtcpCompound::parse(&bytes).expect("re-parse rtcp"), c);
    }
    if let Ok(e) = TelephoneEvent::parse(data) {
        let _ = e.dtmf();
    }
}

#[test]
fn fuzz_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/rtp_packet");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/rtp_packet exists") {
        let path = entry.expect("corpus entry").path();
        if path.is_file() {
            check_datagram(&std::fs::read(&path).expect("corpus file"));
            n += 1;
        }
    }
    assert!(n > 0, "no corpus files in {}", dir.display());
}
