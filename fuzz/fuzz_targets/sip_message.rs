#![no_main]
//! Fuzzes the SIP helpers: datagram parsing (compact forms, folding, Content-Length) and stream
//! framing, then re-parses whatever rsip printed back.
use mrcp_proto::sip::{Frame, SipLimits, StreamFramer, parse_message};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = SipLimits::default();
    if let Ok(msg) = parse_message(data, &limits) {
        let printed = msg.to_string();
        let _ = parse_message(printed.as_bytes(), &limits);
    }
    let mut framer = StreamFramer::new(limits);
    let (a, b) = data.split_at(data.len() / 2);
    for chunk in [a, b] {
        framer.push(chunk);
        while let Ok(Some(frame)) = framer.next_frame() {
            if let Frame::Message(bytes) = frame {
                let _ = parse_message(&bytes, &limits);
            }
        }
    }
});
