//! Golden tests: every MRCPv2 message captured from UniMRCP 1.8 (client and server) decodes, its typed headers
//! parse, and the canonical encoder writes it back byte for byte (RFC 6787 §5, §6).

mod mrcp_support;

use std::time::Duration;

use bytes::BytesMut;
use mrcp_proto::mrcp::codec::Decoder;
use mrcp_proto::mrcp::header::{
    self, CompletionCause, ConfidenceThreshold, ContentId, NoInputTimeout, RecognizerCause,
    RecordUri, RecorderCause, SaveWaveform, StartInputTimers, SynthesizerCause, VoiceAge,
};
use mrcp_proto::mrcp::{
    EventName, Message, Method, RequestState, ResourceType, StartLine, StatusCode,
};
use mrcp_support::capture::{self, Frame};

fn frames() -> Vec<Frame> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/unimrcp-wire-captures.txt"
    );
    let text = std::fs::read(path).expect("read the bundled capture file");
    capture::parse(&text).expect("parse the capture file")
}

fn decode_one(payload: &[u8]) -> Message {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(payload);
    let msg = dec
        .decode_eof(&mut buf)
        .unwrap_or_else(|e| panic!("decode failed: {e}\n{}", String::from_utf8_lossy(payload)))
        .expect("a whole message");
    assert!(buf.is_empty(), "bytes left after the message");
    assert_eq!(
        dec.last_length_mismatch(),
        None,
        "UniMRCP writes exact lengths"
    );
    msg
}

#[test]
fn every_captured_mrcp_message_round_trips_byte_for_byte() {
    let mrcp: Vec<Frame> = frames().into_iter().filter(Frame::is_mrcp).collect();
    assert_eq!(mrcp.len(), 25, "MRCP messages in the capture");
    for f in &mrcp {
        let msg = decode_one(&f.payload);
        let channel = msg
            .channel_id()
            .expect("valid channel")
            .expect("channel present");
        assert_eq!(channel.session_id().len(), 16, "frame {}", f.number);
        for (name, value) in msg.headers.iter() {
            let info = header::lookup(name)
                .unwrap_or_else(|| panic!("frame {}: unknown header {name}", f.number));
            info.validate(value)
                .unwrap_or_else(|e| panic!("frame {}: {name}: {value:?}: {e}", f.number));
        }
        let encoded = msg.to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&encoded),
            String::from_utf8_lossy(&f.payload),
            "frame {} re-encodes to the captured bytes",
            f.number
        );
        assert_eq!(decode_one(&encoded), msg);
    }
}

#[test]
fn captured_headers_have_the_expected_typed_values() {
    let msgs: Vec<(u32, Message)> = frames()
        .into_iter()
        .filter(Frame::is_mrcp)
        .map(|f| (f.number, decode_one(&f.payload)))
        .collect();
    let by_frame = |n: u32| &msgs.iter().find(|(f, _)| *f == n).expect("frame present").1;

    let define = by_frame(30);
    assert!(matches!(
        define.start,
        StartLine::Request {
            method: Method::DefineGrammar,
            ..
        }
    ));
    assert_eq!(
        define.headers.get::<ContentId>().unwrap(),
        Some(ContentId("request1@form-level".into()))
    );
    assert_eq!(define.content_type(), Some("application/srgs+xml"));
    assert_eq!(define.body.len(), 269);

    let recognize = by_frame(34);
    assert_eq!(
        recognize.channel_id().unwrap().unwrap().resource(),
        ResourceType::Speechrecog
    );
    assert_eq!(
        recognize.headers.get::<NoInputTimeout>().unwrap(),
        Some(NoInputTimeout(Duration::from_millis(5000)))
    );
    assert_eq!(
        recognize.headers.get::<StartInputTimers>().unwrap(),
        Some(StartInputTimers(true))
    );
    assert_eq!(
        recognize.headers.get::<SaveWaveform>().unwrap(),
        Some(SaveWaveform(true))
    );
    assert_eq!(
        recognize
            .headers
            .get::<ConfidenceThreshold>()
            .unwrap()
            .map(|c| c.0.get()),
        Some(0.5)
    );
    assert_eq!(&recognize.body[..], b"session:request1@form-level");

    let in_progress = by_frame(35);
    assert_eq!(
        in_progress.start,
        StartLine::Response {
            request_id: mrcp_proto::mrcp::RequestId(2),
            status: StatusCode::SUCCESS,
            state: RequestState::InProgress
        }
    );

    let complete = by_frame(39);
    assert!(matches!(
        complete.start,
        StartLine::Event {
            event: EventName::RecognitionComplete,
            state: RequestState::Complete,
            ..
        }
    ));
    let cause = complete.headers.get::<CompletionCause>().unwrap().unwrap();
    assert_eq!(cause.as_recognizer(), Some(RecognizerCause::Success));
    assert!(complete.body.starts_with(b"<?xml"));

    let speak_complete = by_frame(16);
    let cause = speak_complete
        .headers
        .get::<CompletionCause>()
        .unwrap()
        .unwrap();
    assert_eq!(cause.as_synthesizer(), Some(SynthesizerCause::Normal));

    let speak = by_frame(54);
    assert_eq!(speak.headers.get::<VoiceAge>().unwrap(), Some(VoiceAge(28)));

    let record_complete = by_frame(140);
    let cause = record_complete
        .headers
        .get::<CompletionCause>()
        .unwrap()
        .unwrap();
    assert_eq!(cause.as_recorder(), Some(RecorderCause::SuccessSilence));
    let uri = record_complete
        .headers
        .get::<RecordUri>()
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(
        uri.uri,
        "file://mediaserver/data/rec-8kHz-5476f07e1cff455a-1.pcm"
    );
    assert_eq!(uri.size, Some(40480));
    assert_eq!(uri.duration, Some(Duration::from_millis(2530)));
}

#[test]
fn each_tcp_connection_decodes_as_one_stream_split_anywhere() {
    let mrcp: Vec<Frame> = frames().into_iter().filter(Frame::is_mrcp).collect();
    // Group by the client side of each connection, in capture order, both directions separately.
    let mut streams: Vec<(String, Vec<u8>, Vec<Message>)> = Vec::new();
    for f in &mrcp {
        let key = format!("{}->{}", f.src, f.dst);
        let msg = decode_one(&f.payload);
        match streams.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, bytes, msgs)) => {
                bytes.extend_from_slice(&f.payload);
                msgs.push(msg);
            }
            None => streams.push((key, f.payload.clone(), vec![msg])),
        }
    }
    assert!(streams.len() >= 8);
    for (key, bytes, expected) in &streams {
        for chunk in [1, 2, 3, 7, 64, 1024, bytes.len()] {
            let mut dec = Decoder::default();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for piece in bytes.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(m) = dec.decode(&mut buf).expect("stream decodes") {
                    got.push(m);
                }
            }
            assert!(dec.decode_eof(&mut buf).expect("clean end").is_none());
            assert_eq!(&got, expected, "{key} in chunks of {chunk}");
        }
    }
}

#[test]
fn every_single_split_point_of_a_captured_stream_decodes_the_same() {
    let mrcp: Vec<Frame> = frames().into_iter().filter(Frame::is_mrcp).collect();
    // The server side of the umc recognition: 200 COMPLETE, IN-PROGRESS, START-OF-INPUT, RECOGNITION-COMPLETE.
    let stream: Vec<u8> = mrcp
        .iter()
        .filter(|f| [32, 35, 37, 39].contains(&f.number))
        .flat_map(|f| f.payload.clone())
        .collect();
    let expected: Vec<Message> = [32, 35, 37, 39]
        .iter()
        .map(|n| decode_one(&mrcp.iter().find(|f| f.number == *n).expect("frame").payload))
        .collect();
    for cut in 0..=stream.len() {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::from(&stream[..cut]);
        let mut got = Vec::new();
        while let Some(m) = dec.decode(&mut buf).expect("first part decodes") {
            got.push(m);
        }
        buf.extend_from_slice(&stream[cut..]);
        while let Some(m) = dec.decode_eof(&mut buf).expect("rest decodes") {
            got.push(m);
        }
        assert_eq!(got, expected, "split at byte {cut}");
    }
}
