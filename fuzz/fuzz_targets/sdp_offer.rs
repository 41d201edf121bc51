#![no_main]
//! Fuzz the SDP parser and the server answer path (RFC 6787 §4.2): no input may panic, and anything that parses
//! must re-print to text that parses to the same value.
use std::net::{IpAddr, Ipv4Addr};

use mrcp_proto::mrcp::ChannelId;
use mrcp_proto::sdp::{AnswerBuilder, AnswerConfig, MrcpSdp};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sdp) = MrcpSdp::parse(text) else {
        return;
    };
    let printed = sdp.to_string();
    let again = MrcpSdp::parse(&printed).expect("printed SDP parses");
    assert_eq!(again.to_string(), printed, "print is stable");
    let config = AnswerConfig::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
    if let Ok(mut builder) = AnswerBuilder::new(&sdp, config) {
        for ch in builder.channels() {
            let id = ChannelId::new("0123456789abcdef", ch.resource).expect("valid id");
            builder.accept_control(ch.index, id, None).expect("offered control line");
        }
        for audio in builder.audio() {
            builder.accept_audio(audio.index, 5000).expect("offered audio line");
        }
        let answer = builder.build();
        let text = answer.to_string();
        assert_eq!(MrcpSdp::parse(&text).as_ref(), Ok(&answer), "answer round-trips");
    }
});
