//! Replays the `sdp_offer` fuzz corpus (`fuzz/corpus/sdp_offer`, including crash regressions) with the fuzz
//! target's checks, so stable CI covers what the fuzzer found.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::net::{IpAddr, Ipv4Addr};

use mrcp_proto::mrcp::ChannelId;
use mrcp_proto::sdp::{AnswerBuilder, AnswerConfig, MrcpSdp};

fn check(text: &str) {
    let Ok(sdp) = MrcpSdp::parse(text) else {
        return;
    };
    let printed = sdp.to_string();
    let again = MrcpSdp::parse(&printed).expect("printed SDP parses");
    assert_eq!(again.to_string(), printed, "print is stable");
    let config = AnswerConfig::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
    if let Ok(mut builder) = AnswerBuilder::new(&sdp, config) {
        for ch in builder.channels() {
            let id = ChannelId::new("0123456789abcdef", ch.resource).unwrap();
            builder.accept_control(ch.index, id, None).unwrap();
        }
        for audio in builder.audio() {
            builder.accept_audio(audio.index, 5000).unwrap();
        }
        let answer = builder.build();
        assert_eq!(MrcpSdp::parse(&answer.to_string()).as_ref(), Ok(&answer));
    }
}

#[test]
fn replays_sdp_offer_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/sdp_offer");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/corpus/sdp_offer exists") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            check(text);
        }
        n += 1;
    }
    assert!(n >= 8, "corpus has {n} files");
}
