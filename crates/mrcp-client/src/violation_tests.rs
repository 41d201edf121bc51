//! Each violation from a scripted peer: the exact bytes a server sends, decoded as the session decodes them,
//! through the checker in strict and lenient mode.
#![allow(clippy::unwrap_used)]

use super::*;
use bytes::BytesMut;
use mrcp_proto::mrcp::codec::Decoder;

const CHANNEL: &str = "32AECB23433801@speechrecog";
const SYNTH: &str = "32AECB23433801@speechsynth";

/// A message from a start line without its length (`MRCP/2.0 {} …`), headers and body, with the
/// message-length computed as a server writes it.
fn wire(start: &str, headers: &[&str], body: &str) -> Message {
    let mut rest = String::new();
    for h in headers {
        rest.push_str(h);
        rest.push_str("\r\n");
    }
    if !body.is_empty() {
        rest.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    rest.push_str("\r\n");
    rest.push_str(body);
    // The length counts its own digits: try lengths until it is a fixed point.
    let mut len = 0;
    let text = loop {
        let t = format!("MRCP/2.0 {len} {start}\r\n{rest}");
        if t.len() == len {
            break t;
        }
        len = t.len();
    };
    let mut buf = BytesMut::from(text.as_bytes());
    Decoder::default().decode(&mut buf).unwrap().unwrap()
}

fn on(channel: &str) -> String {
    format!("Channel-Identifier: {channel}")
}

fn checker(channel: &str, mode: Mode) -> Conformance {
    Conformance::new(channel.parse().unwrap(), mode)
}

/// A recognizer with RECOGNIZE 1 answered IN-PROGRESS.
fn recognizing(mode: Mode) -> Conformance {
    let mut c = checker(CHANNEL, mode);
    c.sent(RequestId(1), Method::Recognize);
    let r = wire("1 200 IN-PROGRESS", &[&on(CHANNEL)], "");
    assert_eq!(
        c.on_message(&r),
        Ok(Accepted::Response {
            request: RequestId(1)
        })
    );
    c
}

#[test]
fn a_conforming_recognition_passes() {
    let mut c = recognizing(Mode::Strict);
    let soi = wire("START-OF-INPUT 1 IN-PROGRESS", &[&on(CHANNEL)], "");
    assert!(matches!(
        c.on_message(&soi),
        Ok(Accepted::Event {
            complete: false,
            ..
        })
    ));
    let done = wire(
        "RECOGNITION-COMPLETE 1 COMPLETE",
        &[
            &on(CHANNEL),
            "Completion-Cause: 000 success",
            "Content-Type: application/nlsml+xml",
        ],
        "<result/>",
    );
    assert!(matches!(
        c.on_message(&done),
        Ok(Accepted::Event { complete: true, .. })
    ));
    assert!(c.violations().is_empty());
    assert!(c.in_progress().is_empty());
}

#[test]
fn wrong_request_id() {
    let mut c = checker(CHANNEL, Mode::Strict);
    c.sent(RequestId(2), Method::DefineGrammar);
    let r = wire("7 200 COMPLETE", &[&on(CHANNEL)], "");
    let v = c.on_message(&r).unwrap_err();
    assert_eq!(v.name(), "wrong-request-id");
    assert!(matches!(
        v,
        Violation::WrongRequestId {
            expected: Some(RequestId(2)),
            got: RequestId(7),
            ..
        }
    ));
    assert_eq!(
        v.to_string(),
        "the server sent \"7 200 COMPLETE\" while request 2 was outstanding"
    );
}

#[test]
fn an_event_for_another_request_is_a_wrong_request_id() {
    let mut c = recognizing(Mode::Strict);
    let e = wire(
        "RECOGNITION-COMPLETE 9 COMPLETE",
        &[&on(CHANNEL), "Completion-Cause: 000 success"],
        "",
    );
    assert_eq!(c.on_message(&e).unwrap_err().name(), "wrong-request-id");
}

#[test]
fn unexpected_event() {
    let mut c = recognizing(Mode::Strict);
    let e = wire("INTERMEDIATE-RESULT 1 IN-PROGRESS", &[&on(CHANNEL)], "");
    let v = c.on_message(&e).unwrap_err();
    assert_eq!(v.name(), "unexpected-event");
    assert!(
        v.to_string()
            .contains("INTERMEDIATE-RESULT for RECOGNIZE 1"),
        "{v}"
    );
}

#[test]
fn speech_marker_is_unexpected_for_freeswitch() {
    let mut c = checker(SYNTH, Mode::Strict);
    c.sent(RequestId(1), Method::Speak);
    c.on_message(&wire("1 200 IN-PROGRESS", &[&on(SYNTH)], ""))
        .unwrap();
    let e = wire(
        "SPEECH-MARKER 1 IN-PROGRESS",
        &[&on(SYNTH), "Speech-Marker: timestamp=0"],
        "",
    );
    assert_eq!(c.on_message(&e).unwrap_err().name(), "unexpected-event");
}

#[test]
fn an_event_after_completion_is_unexpected() {
    let mut c = recognizing(Mode::Strict);
    let done = wire(
        "RECOGNITION-COMPLETE 1 COMPLETE",
        &[&on(CHANNEL), "Completion-Cause: 001 no-match"],
        "",
    );
    c.on_message(&done).unwrap();
    let again = wire(
        "RECOGNITION-COMPLETE 1 COMPLETE",
        &[&on(CHANNEL), "Completion-Cause: 001 no-match"],
        "",
    );
    assert_eq!(c.on_message(&again).unwrap_err().name(), "unexpected-event");
}

#[test]
fn second_response() {
    // The pattern of signalwire/freeswitch#721: PENDING, then IN-PROGRESS for the same request.
    let mut c = checker(SYNTH, Mode::Strict);
    c.sent(RequestId(1), Method::Speak);
    let pending = wire("1 200 PENDING", &[&on(SYNTH)], "");
    // PENDING is already the wrong state for SPEAK (FreeSWITCH wants IN-PROGRESS).
    assert_eq!(
        c.on_message(&pending).unwrap_err().name(),
        "wrong-request-state"
    );
    let in_progress = wire("1 200 IN-PROGRESS", &[&on(SYNTH)], "");
    let v = c.on_message(&in_progress).unwrap_err();
    assert_eq!(
        v,
        Violation::SecondResponse {
            request: RequestId(1),
            first: RequestState::Pending,
            state: RequestState::InProgress
        }
    );
    assert_eq!(
        v.to_string(),
        "the server sent a second response to request 1 (IN-PROGRESS after PENDING)"
    );
}

#[test]
fn wrong_request_state() {
    let mut c = checker(SYNTH, Mode::Strict);
    c.sent(RequestId(1), Method::Speak);
    let r = wire("1 200 COMPLETE", &[&on(SYNTH)], "");
    let v = c.on_message(&r).unwrap_err();
    assert_eq!(
        v.to_string(),
        "the server answered SPEAK 1 with 200 COMPLETE, where IN-PROGRESS was required"
    );
    // A failure status in COMPLETE is a refusal, not a violation.
    c.sent(RequestId(2), Method::Speak);
    let refused = wire("2 407 COMPLETE", &[&on(SYNTH)], "");
    assert_eq!(
        c.on_message(&refused),
        Ok(Accepted::Response {
            request: RequestId(2)
        })
    );
}

#[test]
fn wrong_channel() {
    let mut c = checker(CHANNEL, Mode::Strict);
    c.sent(RequestId(1), Method::Recognize);
    let r = wire("1 200 IN-PROGRESS", &[&on("FFFF@speechrecog")], "");
    let v = c.on_message(&r).unwrap_err();
    assert_eq!(v.name(), "wrong-channel");
    assert!(v.to_string().contains("on channel FFFF@speechrecog"), "{v}");
    let none = wire("1 200 IN-PROGRESS", &[], "");
    assert!(
        c.on_message(&none)
            .unwrap_err()
            .to_string()
            .contains("on channel none")
    );
}

#[test]
fn missing_completion_cause() {
    let mut c = recognizing(Mode::Strict);
    let done = wire("RECOGNITION-COMPLETE 1 COMPLETE", &[&on(CHANNEL)], "");
    assert_eq!(
        c.on_message(&done).unwrap_err(),
        Violation::MissingCompletionCause {
            event: "RECOGNITION-COMPLETE".to_owned(),
            request: RequestId(1)
        }
    );
}

#[test]
fn request_from_server() {
    let mut c = checker(CHANNEL, Mode::Strict);
    let r = wire("STOP 1", &[&on(CHANNEL)], "");
    assert_eq!(c.on_message(&r).unwrap_err().name(), "request-from-server");
}

#[test]
fn media_and_timeout_violations_are_reported_by_mode() {
    let mut strict = checker(SYNTH, Mode::Strict);
    let v = Violation::AudioOutsideRequest {
        request: RequestId(1),
        packets: 3,
        when: AudioTiming::AfterComplete,
    };
    assert_eq!(
        v.to_string(),
        "the server sent 3 RTP packet(s) after SPEAK-COMPLETE of SPEAK 1"
    );
    assert_eq!(strict.report(v.clone()), Err(v.clone()));
    let mut lenient = checker(SYNTH, Mode::Lenient);
    assert_eq!(lenient.report(v.clone()), Ok(()));
    let never = Violation::NeverCompleted {
        request: RequestId(2),
        method: Method::Recognize,
        event: "RECOGNITION-COMPLETE",
        waited: Duration::from_millis(300),
    };
    assert_eq!(
        never.to_string(),
        "the server never completed RECOGNIZE 2: no RECOGNITION-COMPLETE within 300 ms"
    );
    assert_eq!(lenient.report(never), Ok(()));
    assert_eq!(lenient.violations().len(), 2);
    for v in [
        Violation::WrongPayloadType {
            got: 8,
            negotiated: 0,
        },
        Violation::RtpToWrongPort {
            port: 40001,
            rtp_port: 40000,
            packets: 5,
        },
        Violation::NoAudio {
            request: RequestId(1),
            port: 40000,
        },
    ] {
        assert!(v.to_string().starts_with("the server "), "{v}");
    }
}

#[test]
fn lenient_mode_logs_and_carries_on() {
    let mut c = checker(CHANNEL, Mode::Lenient);
    c.sent(RequestId(1), Method::Recognize);
    // A response with the wrong id is taken as the awaited one, and the request is IN-PROGRESS.
    let r = wire("5 200 IN-PROGRESS", &[&on(CHANNEL)], "");
    assert_eq!(
        c.on_message(&r),
        Ok(Accepted::Response {
            request: RequestId(5)
        })
    );
    let e = wire("INTERMEDIATE-RESULT 1 IN-PROGRESS", &[&on(CHANNEL)], "");
    assert_eq!(c.on_message(&e), Ok(Accepted::Tolerated));
    let names: Vec<_> = c.violations().iter().map(Violation::name).collect();
    assert_eq!(names, ["wrong-request-id", "wrong-request-id"]);
}

#[test]
fn a_queued_speak_may_be_pending_and_completes_in_order() {
    // A caller that pipelines two SPEAKs (UniMRCP never does): the second is queued, so PENDING is legal.
    let mut c = checker(SYNTH, Mode::Strict);
    c.sent(RequestId(1), Method::Speak);
    c.sent(RequestId(2), Method::Speak);
    c.on_message(&wire("1 200 IN-PROGRESS", &[&on(SYNTH)], ""))
        .unwrap();
    c.on_message(&wire("2 200 PENDING", &[&on(SYNTH)], ""))
        .unwrap();
    for id in [1, 2] {
        let done = wire(
            &format!("SPEAK-COMPLETE {id} COMPLETE"),
            &[&on(SYNTH), "Completion-Cause: 000 normal"],
            "",
        );
        assert!(matches!(
            c.on_message(&done),
            Ok(Accepted::Event { complete: true, .. })
        ));
    }
    assert!(c.violations().is_empty(), "{:?}", c.violations());
}

#[test]
fn stop_ends_the_speak_and_a_trailing_speak_complete_is_harmless() {
    let mut c = checker(SYNTH, Mode::Strict);
    c.sent(RequestId(1), Method::Speak);
    c.on_message(&wire("1 200 IN-PROGRESS", &[&on(SYNTH)], ""))
        .unwrap();
    c.sent(RequestId(2), Method::Stop);
    let stopped = wire(
        "2 200 COMPLETE",
        &[&on(SYNTH), "Active-Request-Id-List: 1"],
        "",
    );
    c.on_message(&stopped).unwrap();
    assert!(c.in_progress().is_empty());
    let late = wire(
        "SPEAK-COMPLETE 1 COMPLETE",
        &[&on(SYNTH), "Completion-Cause: 001 barge-in"],
        "",
    );
    assert!(c.on_message(&late).is_ok());
    // A RECOGNITION-COMPLETE after the STOP response leaks into the next result (reference §12 #19).
    let mut r = recognizing(Mode::Strict);
    r.sent(RequestId(2), Method::Stop);
    r.on_message(&wire(
        "2 200 COMPLETE",
        &[&on(CHANNEL), "Active-Request-Id-List: 1"],
        "",
    ))
    .unwrap();
    let leak = wire(
        "RECOGNITION-COMPLETE 1 COMPLETE",
        &[&on(CHANNEL), "Completion-Cause: 000 success"],
        "",
    );
    assert_eq!(r.on_message(&leak).unwrap_err().name(), "unexpected-event");
}
