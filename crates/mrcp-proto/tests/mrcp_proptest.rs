//! Property tests for the MRCPv2 codec (RFC 6787 §5): serialize → parse is the identity for generated messages,
//! the decoder gives the same messages for every way of splitting the stream, and typed headers round-trip.

use std::time::Duration;

use mrcp_proto::mrcp::codec::{Decoder, LengthPolicy, Limits};
use mrcp_proto::mrcp::header::{
    ActiveRequestIdList, CompletionCause, ConfidenceThreshold, DtmfTermChar, Header, MediaUri,
    NoInputTimeout, ProsodyNumber, ProsodyRate, ProsodyRateHeader, RateLabel, RecognizerCause,
    Score, SpeechLanguage, VendorParam, VendorParams, VendorSpecificParameters, WaveformUri,
};
use mrcp_proto::mrcp::{
    Bytes, BytesMut, ChannelId, EventName, Headers, Message, Method, RequestId, RequestState,
    ResourceType, StartLine, StatusCode,
};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,20}"
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        3 => proptest::sample::select(Method::KNOWN.to_vec()),
        1 => "X-[A-Z-]{1,12}".prop_map(|s| s.parse().expect("token")),
    ]
}

fn event() -> impl Strategy<Value = EventName> {
    prop_oneof![
        3 => proptest::sample::select(EventName::KNOWN.to_vec()),
        1 => "X-[A-Z-]{1,12}".prop_map(|s| s.parse().expect("token")),
    ]
}

fn state() -> impl Strategy<Value = RequestState> {
    proptest::sample::select(vec![
        RequestState::Complete,
        RequestState::InProgress,
        RequestState::Pending,
    ])
}

fn start_line() -> impl Strategy<Value = StartLine> {
    let id = any::<u32>().prop_map(RequestId);
    prop_oneof![
        (method(), id.clone())
            .prop_map(|(method, request_id)| StartLine::Request { method, request_id }),
        (id.clone(), 100u16..=599, state()).prop_map(|(request_id, code, state)| {
            StartLine::Response {
                request_id,
                status: StatusCode::new(code).expect("in range"),
                state,
            }
        }),
        (event(), id, state()).prop_map(|(event, request_id, state)| StartLine::Event {
            event,
            request_id,
            state
        }),
    ]
}

fn channel() -> impl Strategy<Value = ChannelId> {
    (
        "[0-9a-f]{1,32}",
        proptest::sample::select(ResourceType::ALL.to_vec()),
    )
        .prop_map(|(s, r)| ChannelId::new(s, r).expect("valid channel"))
}

/// A header value as the decoder stores it: no control characters, no leading/trailing whitespace.
fn raw_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[!-~\u{a0}-\u{2fff}]([ -~\u{a0}-\u{2fff}]{0,40}[!-~\u{a0}-\u{2fff}])?",
    ]
}

fn typed_header(h: &mut Headers, pick: u8, n: u32) {
    let r = match pick % 6 {
        0 => h.set(&NoInputTimeout(Duration::from_millis(u64::from(n)))),
        1 => h.set(&ConfidenceThreshold(
            Score::new((n % 1001) as f32 / 1000.0).expect("in range"),
        )),
        2 => h.set(&CompletionCause::recognizer(
            RecognizerCause::ALL[(n % 17) as usize],
        )),
        3 => h.set(&ActiveRequestIdList(vec![RequestId(n), RequestId(n / 3)])),
        4 => h.set(&SpeechLanguage("en-US".into())),
        _ => h.set(&VendorSpecificParameters(VendorParams(vec![VendorParam {
            name: "com.example.n".into(),
            value: Some(n.to_string()),
        }]))),
    };
    r.expect("typed values print without line breaks");
}

fn message() -> impl Strategy<Value = Message> {
    (
        start_line(),
        channel(),
        proptest::collection::vec(
            (
                any::<bool>(),
                token(),
                raw_value(),
                any::<u8>(),
                any::<u32>(),
            ),
            0..8,
        ),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(start, channel, fields, body)| {
            let mut msg = Message::request(Method::Stop, RequestId(0), &channel);
            msg.start = start;
            for (typed, name, value, pick, n) in fields {
                if typed {
                    typed_header(&mut msg.headers, pick, n);
                } else if !name.eq_ignore_ascii_case("content-length")
                    && !name.eq_ignore_ascii_case("channel-identifier")
                {
                    msg.headers
                        .append_raw(&name, &value)
                        .expect("valid raw header");
                }
            }
            msg.body = Bytes::from(body);
            msg
        })
}

fn decode_stream(chunks: &[&[u8]]) -> Vec<Message> {
    let mut dec = Decoder::new(Limits::default(), LengthPolicy::Reject);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        while let Some(m) = dec.decode(&mut buf).expect("generated stream decodes") {
            out.push(m);
        }
    }
    assert!(dec.decode_eof(&mut buf).expect("clean end").is_none());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_decode_is_identity(msg in message()) {
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), msg.message_length());
        let got = decode_stream(&[&bytes]);
        prop_assert_eq!(got, vec![msg]);
    }

    #[test]
    fn every_split_of_a_stream_gives_the_same_messages(
        msgs in proptest::collection::vec(message(), 1..4),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut stream = BytesMut::new();
        for m in &msgs {
            m.encode(&mut stream);
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&stream[last..p]);
            last = p;
        }
        chunks.push(&stream[last..]);
        prop_assert_eq!(&decode_stream(&chunks), &msgs);
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        prop_assert_eq!(&decode_stream(&bytewise), &msgs);
    }

    #[test]
    fn typed_values_round_trip(
        ms in any::<u64>(),
        score in 0.0f32..=1.0,
        code in 0u16..=999,
        name in "[a-z-]{0,20}",
        pairs in proptest::collection::vec(("[a-z.]{1,10}", proptest::option::of("[a-z0-9]{0,8}")), 0..5),
        uri in "[a-z:/.0-9]{1,30}", size in proptest::option::of(any::<u64>()), dur in proptest::option::of(any::<u32>()),
        c in "[0-9#*A-D]",
        rate in proptest::option::of((proptest::option::of(proptest::sample::select(vec!['+', '-'])), 0.0f32..1000.0, any::<bool>())),
    ) {
        fn rt<H: Header + PartialEq + std::fmt::Debug>(h: H) -> Result<(), TestCaseError> {
            let mut s = String::new();
            h.write(&mut s);
            prop_assert_eq!(H::parse(&s).map_err(|e| TestCaseError::fail(e.to_string()))?, h);
            Ok(())
        }
        rt(NoInputTimeout(Duration::from_millis(ms % 10_000_000_000_000)))?;
        rt(ConfidenceThreshold(Score::new(score).expect("in range")))?;
        rt(CompletionCause { code, name: name.into() })?;
        rt(VendorSpecificParameters(VendorParams(
            pairs.into_iter().map(|(name, value)| VendorParam { name, value }).collect(),
        )))?;
        rt(WaveformUri(MediaUri {
            uri,
            size,
            duration: dur.map(|d| Duration::from_millis(u64::from(d))),
            other: vec![],
        }))?;
        rt(DtmfTermChar(c.chars().next().expect("one char")))?;
        let rate = match rate {
            Some((sign, value, percent)) => ProsodyRate::Number(ProsodyNumber { sign, value, percent }),
            None => ProsodyRate::Label(RateLabel::Fast),
        };
        rt(ProsodyRateHeader(rate))?;
    }
}
