//! Golden, property and corpus tests of the SIP helpers (`mrcp_proto::sip`).

use mrcp_proto::sip::{
    Frame, FramingError, Message, ParseError, SipLimits, StreamFramer, parse_message,
};
use proptest::prelude::*;
use rsip::prelude::*;

/// Every SIP payload of the UniMRCP captures, with its transport.
fn captured_sip() -> Vec<(String, Vec<u8>)> {
    let text = include_str!("data/unimrcp-wire-captures.txt");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("----- frame ") {
        let after = &rest[start..];
        let header_end = after.find('\n').expect("frame header line");
        let header = &after[..header_end];
        let body_start = header_end + 1;
        let end = after[body_start..]
            .find("----- end -----")
            .expect("frame end")
            + body_start;
        let payload = &after[body_start..end];
        if (header.contains(":8060") || header.contains(":8062"))
            && (payload.starts_with("SIP/2.0")
                || payload
                    .split(' ')
                    .nth(2)
                    .is_some_and(|v| v.starts_with("SIP/2.0")))
        {
            out.push((header.to_owned(), payload.as_bytes().to_vec()));
        }
        rest = &after[end..];
    }
    out
}

#[test]
fn every_captured_sip_message_parses_and_round_trips() {
    let messages = captured_sip();
    assert!(
        messages.len() >= 20,
        "found only {} SIP messages in the captures",
        messages.len()
    );
    for (header, raw) in messages {
        let msg =
            parse_message(&raw, &SipLimits::default()).unwrap_or_else(|e| panic!("{header}: {e}"));
        msg.call_id_header()
            .unwrap_or_else(|e| panic!("{header}: {e}"));
        msg.cseq_header()
            .expect("cseq")
            .typed()
            .expect("typed cseq");
        msg.via_header().expect("via").typed().expect("typed via");
        let printed = msg.to_string();
        let again = parse_message(printed.as_bytes(), &SipLimits::default()).expect("reparse");
        assert_eq!(msg, again, "{header}");
        // Over TCP the same bytes frame into exactly one message.
        let mut framer = StreamFramer::new(SipLimits::default());
        framer.push(&raw);
        assert_eq!(
            framer.next_frame(),
            Ok(Some(Frame::Message(raw.clone().into()))),
            "{header}"
        );
    }
}

const COMPACT: &str = "INVITE sip:bob@[2001:db8::1]:8060 SIP/2.0\r\n\
v: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK1, SIP/2.0/TCP proxy.example.com;branch=z9hG4bK2\r\n\
f: \"Alice, A.\" <sip:alice@example.com>;tag=1\r\n\
t: <sip:bob@example.com>\r\n\
i: abc@host\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:alice@[2001:db8::9]:5060>\r\n\
k: timer,\r\n 100rel\r\n\
x: 1800;refresher=uac\r\n\
X-Unknown: kept\r\n\
c: application/sdp\r\n\
l: 5\r\n\
\r\n\
v=0\r\nEXTRA";

#[test]
fn compact_forms_folding_and_multi_via_are_normalised() {
    // rsip 0.4 cannot parse the IPv6 Request-URI; `Message` can.
    assert!(parse_message(COMPACT.as_bytes(), &SipLimits::default()).is_err());
    let req = Message::parse(COMPACT.as_bytes(), &SipLimits::default()).expect("parse");
    assert_eq!(req.headers_named("Via").count(), 2);
    assert_eq!(req.header("Call-ID"), Some("abc@host"));
    assert_eq!(&req.body[..], b"v=0\r\n", "body cut to content-length");
    let text = String::from_utf8(req.to_bytes().to_vec()).expect("utf-8");
    let v4 = COMPACT
        .replace("[2001:db8::1]", "192.0.2.1")
        .replace("[2001:db8::9]", "192.0.2.9");
    let rsip_msg = parse_message(v4.as_bytes(), &SipLimits::default()).expect("rsip parse");
    assert_eq!(
        rsip_msg.call_id_header().expect("call-id").value(),
        "abc@host"
    );
    assert!(text.contains("Supported: timer, 100rel"), "{text}");
    assert!(
        text.contains("Session-Expires: 1800;refresher=uac"),
        "{text}"
    );
    assert!(text.contains("X-Unknown: kept"), "{text}");
    assert!(
        text.contains("From: \"Alice, A.\" <sip:alice@example.com>;tag=1"),
        "{text}"
    );
}

#[test]
fn malformed_messages_give_errors_with_reasons() {
    let limits = SipLimits::default();
    let cases: [(&str, ParseError); 5] = [
        (
            "INVITE sip:a SIP/3.0\r\nVia: x\r\n\r\n",
            ParseError::BadStartLine,
        ),
        ("garbage\r\n\r\n", ParseError::BadStartLine),
        (
            "OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n",
            ParseError::MissingHeader("From"),
        ),
        (
            "OPTIONS sip:a SIP/2.0\r\nl: x1\r\n\r\n",
            ParseError::BadContentLength,
        ),
        (
            "OPTIONS sip:a SIP/2.0\r\nContent-Length: 10\r\n\r\nabc",
            ParseError::TruncatedBody {
                length: 10,
                received: 3,
            },
        ),
    ];
    for (raw, expected) in cases {
        let err = parse_message(raw.as_bytes(), &limits).expect_err(raw);
        assert_eq!(err, expected, "{raw}");
        assert!(!err.reason().is_empty());
    }
    let big = vec![b'a'; limits.max_message_bytes() + 1];
    assert!(matches!(
        parse_message(&big, &limits),
        Err(ParseError::TooLarge { .. })
    ));
}

#[test]
fn framer_handles_keepalives_and_limits() {
    let limits = SipLimits {
        max_header_bytes: 256,
        max_body_bytes: 8,
    };
    let mut framer = StreamFramer::new(limits);
    framer.push(b"\r\n\r\n\r\nOPTIONS sip:a SIP/2.0\r\nl: 2\r\n\r\nokNEXT");
    assert_eq!(framer.next_frame(), Ok(Some(Frame::Ping)));
    assert_eq!(framer.next_frame(), Ok(Some(Frame::Pong)));
    assert_eq!(
        framer.next_frame(),
        Ok(Some(Frame::Message(bytes::Bytes::from_static(
            b"OPTIONS sip:a SIP/2.0\r\nl: 2\r\n\r\nok"
        ))))
    );
    assert_eq!(framer.next_frame(), Ok(None));
    assert_eq!(framer.buffered(), 4);

    let mut framer = StreamFramer::new(limits);
    framer.push(b"BYE sip:a SIP/2.0\r\nContent-Length: 9\r\n\r\n");
    assert_eq!(
        framer.next_frame(),
        Err(FramingError::BodyTooLarge {
            length: 9,
            limit: 8
        })
    );
    let mut framer = StreamFramer::new(limits);
    framer.push(b"BYE sip:a SIP/2.0\r\nVia: x\r\n\r\n");
    assert_eq!(framer.next_frame(), Err(FramingError::MissingContentLength));
    let mut framer = StreamFramer::new(limits);
    framer.push(&[b'x'; 300]);
    assert_eq!(
        framer.next_frame(),
        Err(FramingError::HeadersTooLarge { limit: 256 })
    );
}

fn frames_of(chunks: &[&[u8]]) -> Result<Vec<Frame>, FramingError> {
    let mut framer = StreamFramer::new(SipLimits::default());
    let mut out = Vec::new();
    for chunk in chunks {
        framer.push(chunk);
        while let Some(frame) = framer.next_frame()? {
            out.push(frame);
        }
    }
    Ok(out)
}

proptest! {
    #[test]
    fn framing_is_independent_of_split_points(cuts in proptest::collection::vec(0usize..2000, 0..12)) {
        let mut stream = Vec::new();
        for (_, raw) in captured_sip().into_iter().take(6) {
            stream.extend_from_slice(&raw);
            stream.extend_from_slice(b"\r\n\r\n");
        }
        let whole = frames_of(&[&stream]).expect("whole");
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % stream.len()).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for cut in cuts {
            chunks.push(&stream[last..cut]);
            last = cut;
        }
        chunks.push(&stream[last..]);
        prop_assert_eq!(frames_of(&chunks).expect("split"), whole);
    }

    #[test]
    fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_message(&data, &SipLimits::default());
        let _ = frames_of(&[&data]);
    }
}

/// Replays the fuzz corpus of `fuzz/fuzz_targets/sip_message.rs` through the same code.
#[test]
fn fuzz_corpus_replays_cleanly() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sip_message");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.expect("entry").path()).expect("read corpus file");
        let _ = parse_message(&data, &SipLimits::default());
        let _ = frames_of(&[&data]);
        count += 1;
    }
    assert!(count > 0, "empty corpus in {}", dir.display());
}
