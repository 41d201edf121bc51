#![no_main]
//! RTP, RTCP and telephone-event parsers: no panic on any datagram, and whatever parses
//! re-serializes to bytes that parse to the same value. `crates/mrcp-proto/tests/rtp_roundtrip.rs`
//! replays the corpus with the same checks.
use mrcp_proto::rtp::{RtcpCompound, RtpPacket, TelephoneEvent};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
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
});
