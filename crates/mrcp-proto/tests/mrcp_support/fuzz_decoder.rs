#![allow(dead_code)]
//! The body of the `mrcp_decoder` fuzz target, shared with the corpus-replay test so CI runs the same checks
//! on stable (`fuzz/fuzz_targets/mrcp_decoder.rs` includes this file with `#[path]`).
//!
//! Checks, for any input: no panic; the same messages (and the same error) whether the bytes arrive at once, in
//! two pieces split at an input-chosen point, or byte at a time; every decoded message re-encodes to bytes that
//! decode to an equal message with an exact message-length; typed parsers of known headers never panic.

use mrcp_proto::mrcp::codec::{DecodeError, Decoder, LengthPolicy, Limits};
use mrcp_proto::mrcp::header;
use mrcp_proto::mrcp::{BytesMut, Headers, Message};

type Outcome = (Vec<Message>, Option<DecodeError>);

fn decode_chunks<'a>(limits: Limits, chunks: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut dec = Decoder::new(limits, LengthPolicy::Tolerate);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// What the canonical encoder makes of `msg`: the first `Channel-Identifier` moved to the front.
pub fn canonical(msg: &Message) -> Message {
    let first = msg
        .headers
        .iter()
        .position(|(n, _)| n.eq_ignore_ascii_case("Channel-Identifier"));
    let mut headers = Headers::new();
    let fields: Vec<(&str, &str)> = msg.headers.iter().collect();
    let order = first
        .into_iter()
        .chain((0..fields.len()).filter(|&i| Some(i) != first));
    for i in order {
        let (n, v) = fields[i];
        headers.append_raw(n, v).expect("decoded fields are valid");
    }
    Message {
        start: msg.start.clone(),
        headers,
        body: msg.body.clone(),
    }
}

/// Runs every check on `data`; panics on a violated property.
pub fn run(data: &[u8]) {
    let small = Limits {
        max_start_line: 64,
        max_header_section: 512,
        max_headers: 8,
        max_body: 256,
    };
    for limits in [Limits::default(), small] {
        let whole = decode_chunks(limits, std::iter::once(data));
        let split_at = data
            .first()
            .map_or(0, |&b| usize::from(b) % (data.len() + 1));
        let (a, b) = data.split_at(split_at);
        let two = decode_chunks(limits, [a, b].into_iter());
        assert_eq!(whole, two, "split at {split_at} changed the result");
        if data.len() <= 4096 {
            let bytewise = decode_chunks(limits, data.chunks(1));
            assert_eq!(whole, bytewise, "byte-at-a-time changed the result");
        }
        for msg in &whole.0 {
            let encoded = msg.to_bytes();
            assert_eq!(encoded.len(), msg.message_length());
            let mut dec = Decoder::new(Limits::default(), LengthPolicy::Reject);
            let mut buf = BytesMut::from(&encoded[..]);
            let again = dec
                .decode_eof(&mut buf)
                .expect("re-encoded message decodes")
                .expect("one message");
            assert!(buf.is_empty());
            assert_eq!(again, canonical(msg));
            for (name, value) in msg.headers.iter() {
                if let Some(info) = header::lookup(name) {
                    let _ = info.validate(value);
                }
            }
            let _ = msg.channel_id();
        }
    }
}
