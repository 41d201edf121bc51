//! End to end on loopback: the `mrcp-server` binary, a client made of the toolkit's SIP, SDP, MRCP and RTP
//! crates sending what FreeSWITCH sends, and real audio at real pace.
//!
//! Needs the Debian packages espeak-ng, sox, libpocketsphinx3 and pocketsphinx-en-us (installed by
//! `scripts/test`).
#![allow(clippy::unwrap_used)]

mod common;

use common::{ServerProcess, body, cause, connect, inband_dtmf, telephone_speech};
use mrcp_proto::mrcp::{Method, RequestState, StartLine};
use mrcp_proto::sdp::ClientProfile;

const YES_NO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" xml:lang="en-US" root="answer" mode="voice">
  <rule id="answer" scope="public">
    <one-of>
      <item>yes</item>
      <item>no</item>
    </one-of>
  </rule>
</grammar>"#;

fn assert_response(m: &mrcp_proto::mrcp::Message, code: u16, state: RequestState) {
    match &m.start {
        StartLine::Response {
            status, state: s, ..
        } => {
            assert_eq!((status.code(), *s), (code, state), "{}", m.start);
        }
        other => panic!("expected a response, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_digits_as_rfc4733_events() {
    // Asterisk's profiles offer telephone-event (reference §11).
    let server = ServerProcess::start("32000-32099", &[]);
    let mut client = connect(&server, ClientProfile::Asterisk, (33000, 33099)).await;
    client
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.dtmf("1234").await.unwrap();
    let (events, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert!(
        events.iter().any(|e| matches!(&e.start, StartLine::Event { event, .. } if event.as_str() == "START-OF-INPUT")),
        "no START-OF-INPUT before the result"
    );
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(body(&complete).contains("1234"), "{}", body(&complete));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_digits_as_inband_tones() {
    // FreeSWITCH's vanilla profiles offer no telephone-event: digits arrive as tones (reference §7.7).
    let server = ServerProcess::start("32400-32499", &[]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (33400, 33499)).await;
    client
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.play(inband_dtmf("4711")).await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(body(&complete).contains("4711"), "{}", body(&complete));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_against_an_inline_grammar_defined_first() {
    let server = ServerProcess::start("32100-32199", &[]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (33100, 33199)).await;
    // FreeSWITCH: DEFINE-GRAMMAR, then RECOGNIZE naming it with a text/uri-list (reference §7.2, §7.3).
    client
        .send(
            Method::DefineGrammar,
            &[("Content-Id", "yesno")],
            Some(("application/srgs+xml", YES_NO.as_bytes())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::Complete,
    );
    client
        .send(
            Method::Recognize,
            &[
                ("Cancel-If-Queue", "false"),
                ("Start-Input-Timers", "true"),
                ("No-Input-Timeout", "5000"),
            ],
            Some(("text/uri-list", "session:yesno".as_bytes())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.play(telephone_speech("yes")).await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(body(&complete).contains(">yes<"), "{}", body(&complete));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_ends_with_no_input_timeout() {
    let server = ServerProcess::start("32200-32299", &[]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (33200, 33299)).await;
    client
        .send(
            Method::Recognize,
            &[("No-Input-Timeout", "1000")],
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 2);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_unknown_grammars_fail_with_a_cause() {
    let server = ServerProcess::start("32300-32399", &[]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (33300, 33399)).await;
    client
        .send(
            Method::Recognize,
            &[],
            Some(("text/uri-list", "session:nosuch".as_bytes())),
        )
        .await
        .unwrap();
    let response = client.receive().await.unwrap();
    assert_response(&response, 407, RequestState::Complete);
    assert_eq!(cause(&response), 4);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mid_recognition_lists_the_request_and_sends_no_completion() {
    let server = ServerProcess::start("32500-32599", &[]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (33500, 33599)).await;
    client
        .send(
            Method::DefineGrammar,
            &[("Content-Id", "yesno")],
            Some(("application/srgs+xml", YES_NO.as_bytes())),
        )
        .await
        .unwrap();
    client.receive().await.unwrap();
    let recognize = client
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", b"session:yesno".as_slice())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.play(telephone_speech("no")).await.unwrap();
    client.send(Method::Stop, &[], None).await.unwrap();
    // START-OF-INPUT may come first if speech already started; then the STOP response.
    let response = loop {
        let m = client.receive().await.unwrap();
        if matches!(m.start, StartLine::Response { .. }) {
            break m;
        }
    };
    assert_response(&response, 200, RequestState::Complete);
    assert_eq!(
        response.headers.get_raw("Active-Request-Id-List"),
        Some(recognize.0.to_string().as_str())
    );
    // §9.10: no RECOGNITION-COMPLETE for a stopped request (FreeSWITCH would take it as the next result).
    let late = tokio::time::timeout(std::time::Duration::from_secs(4), client.receive()).await;
    assert!(late.is_err(), "a message followed the STOP: {late:?}");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_control_connection_ends_the_session_with_bye() {
    let server = ServerProcess::start("32600-32699", &[]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (33600, 33699)).await;
    client
        .send(
            Method::Recognize,
            &[],
            Some(("text/uri-list", b"builtin:dtmf/digits?length=4".as_slice())),
        )
        .await
        .unwrap();
    client.receive().await.unwrap();
    client.drop_control().await.unwrap();
    assert_eq!(
        client.terminated().await.unwrap(),
        mrcp_sip::EndReason::RemoteBye
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_is_refused_with_503_and_freed_by_bye() {
    let server = ServerProcess::start("32700-32799", &["--max-sessions", "1"]);
    let mut first = connect(&server, ClientProfile::FreeSwitch, (33700, 33749)).await;
    first
        .send(
            Method::Recognize,
            &[],
            Some(("text/uri-list", b"builtin:dtmf/digits?length=4".as_slice())),
        )
        .await
        .unwrap();
    first.receive().await.unwrap();
    let refused = common::try_connect(&server, ClientProfile::FreeSwitch, (33750, 33774)).await;
    assert!(
        matches!(
            refused,
            Err(mrcp_client::ClientError::Rejected { status: 503 })
        ),
        "{:?}",
        refused.err()
    );
    // BYE in the middle of a recognition frees the slot.
    first.close().await;
    let deadline = std::time::Instant::now() + common::DEADLINE;
    loop {
        match common::try_connect(&server, ClientProfile::FreeSwitch, (33775, 33799)).await {
            Ok(session) => {
                session.close().await;
                break;
            }
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the slot was not freed within 20 s: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_menu_grammar_gives_its_semantic_instance() {
    let server = ServerProcess::start("32800-32899", &[]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (33800, 33899)).await;
    let menu = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/grammars/menu.grxml"
    ))
    .unwrap();
    client
        .send(
            Method::DefineGrammar,
            &[("Content-Id", "menu")],
            Some(("application/srgs+xml", menu.as_slice())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::Complete,
    );
    client
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", b"session:menu".as_slice())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.play(telephone_speech("pay a bill")).await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(
        body(&complete).contains("<action>pay</action>"),
        "{}",
        body(&complete)
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_waveform_writes_the_utterance_and_reports_its_uri() {
    let dir = std::env::temp_dir().join(format!("mrcp-waveforms-{}", std::process::id()));
    let config = dir.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "[recognizer]\nwaveform_dir = {:?}\n",
            dir.display().to_string()
        ),
    )
    .unwrap();
    let server = ServerProcess::start("35000-35099", &["--config", config.to_str().unwrap()]);
    let mut client = connect(&server, ClientProfile::Asterisk, (35500, 35599)).await;
    client
        .send(
            Method::Recognize,
            &[("Save-Waveform", "true")],
            Some(("text/uri-list", b"builtin:dtmf/digits?length=2".as_slice())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.play(inband_dtmf("42")).await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    let uri = complete
        .headers
        .get_raw("Waveform-Uri")
        .expect("no Waveform-Uri")
        .to_owned();
    // `<file:///…/<session>-1.wav>;size=…;duration=…`, as FreeSWITCH reads it.
    let path = uri
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .trim_start_matches("file://")
        .to_owned();
    assert!(
        uri.contains(";size=") && uri.contains(";duration="),
        "{uri}"
    );
    let deadline = std::time::Instant::now() + common::DEADLINE;
    while !std::path::Path::new(&path).exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let wav = hound::WavReader::open(&path).expect("the waveform file was not written");
    assert_eq!(wav.spec().sample_rate, 8000);
    // Both digits (0.2 s of silence, then 100 ms tones 100 ms apart) end the recognition after ~0.4 s.
    assert!(wav.len() > 2400, "only {} samples saved", wav.len());
    client.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_share_one_control_connection() {
    use bytes::BytesMut;
    use mrcp_proto::mrcp::codec::Decoder;
    use mrcp_proto::mrcp::{Message, RequestId};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = ServerProcess::start("35200-35299", &[]);
    let a = connect(&server, ClientProfile::Asterisk, (35800, 35849)).await;
    let b = connect(&server, ClientProfile::Asterisk, (35850, 35899)).await;
    // `a=connection:existing` in practice: requests of both sessions on one TCP connection (RFC 6787 §4.2).
    let mut shared = tokio::net::TcpStream::connect(server.mrcp).await.unwrap();
    let mut recognize = Message::request(Method::Recognize, RequestId(1), a.channel());
    recognize
        .set_body("text/uri-list", b"builtin:dtmf/digits?length=2".to_vec())
        .unwrap();
    let get_params = Message::request(Method::GetParams, RequestId(1), b.channel());
    let mut bytes = recognize.to_bytes().to_vec();
    bytes.extend_from_slice(&get_params.to_bytes());
    shared.write_all(&bytes).await.unwrap();
    let (mut decoder, mut buf) = (Decoder::default(), BytesMut::new());
    let mut next = async || {
        tokio::time::timeout(common::DEADLINE, async {
            loop {
                if let Some(m) = decoder.decode(&mut buf).unwrap() {
                    return m;
                }
                assert!(
                    shared.read_buf(&mut buf).await.unwrap() > 0,
                    "connection closed"
                );
            }
        })
        .await
        .expect("no message on the shared connection within 20 s")
    };
    let mut answered = Vec::new();
    for _ in 0..2 {
        let m = next().await;
        assert!(matches!(m.start, StartLine::Response { .. }), "{}", m.start);
        answered.push(m.channel_id().unwrap().unwrap());
    }
    assert!(
        answered.contains(a.channel()) && answered.contains(b.channel()),
        "{answered:?}"
    );
    // Session A's events come back on the connection its request came on.
    a.dtmf("12").await.unwrap();
    let complete = loop {
        let m = next().await;
        if matches!(&m.start, StartLine::Event { event, .. } if event.as_str() == "RECOGNITION-COMPLETE")
        {
            break m;
        }
    };
    assert_eq!(complete.channel_id().unwrap().as_ref(), Some(a.channel()));
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_digits_end_with_no_match_at_the_interdigit_timeout() {
    let server = ServerProcess::start("35300-35349", &[]);
    let mut client = connect(&server, ClientProfile::Asterisk, (35900, 35949)).await;
    client
        .send(
            Method::Recognize,
            &[("DTMF-Interdigit-Timeout", "800")],
            Some(("text/uri-list", b"builtin:dtmf/digits?length=4".as_slice())),
        )
        .await
        .unwrap();
    client.receive().await.unwrap();
    client.dtmf("12").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 1, "{}", body(&complete));
    assert!(body(&complete).contains("nomatch"), "{}", body(&complete));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_longer_than_the_recognition_timeout_ends_with_a_maxtime_cause() {
    let server = ServerProcess::start("35350-35399", &[]);
    let mut client = connect(&server, ClientProfile::FreeSwitch, (35950, 35999)).await;
    let menu = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/grammars/menu.grxml"
    ))
    .unwrap();
    client
        .send(
            Method::Recognize,
            &[("Recognition-Timeout", "400")],
            Some(("application/srgs+xml", menu.as_slice())),
        )
        .await
        .unwrap();
    client.receive().await.unwrap();
    client
        .play(telephone_speech(
            "please talk to an agent about my account balance",
        ))
        .await
        .unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    // 008 success-maxtime or 015 no-match-maxtime, depending on what 400 ms of speech matched (§9.4).
    assert!(
        matches!(cause(&complete), 8 | 15),
        "cause {}: {}",
        cause(&complete),
        body(&complete)
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digits_keyed_ahead_count_for_the_next_recognition_unless_cleared() {
    let server = ServerProcess::start("35800-35899", &[]);
    let mut client = connect(&server, ClientProfile::Asterisk, (35900, 35999)).await;
    let recognize = |clear: &'static str| {
        (
            Method::Recognize,
            [("Cancel-If-Queue", "false"), ("Clear-DTMF-Buffer", clear)],
        )
    };
    // Keyed during a prompt, before any RECOGNIZE; RTP and MRCP travel separately, so let the digits land.
    client.dtmf("12").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (method, headers) = recognize("false");
    client
        .send(
            method,
            &headers,
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.dtmf("34").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(body(&complete).contains("1234"), "{}", body(&complete));

    // Clear-DTMF-Buffer: the digits keyed ahead are dropped, so two more make only a partial number.
    client.dtmf("56").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (method, headers) = recognize("true");
    client
        .send(
            method,
            &[headers[0], headers[1], ("DTMF-Interdigit-Timeout", "1000")],
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .unwrap();
    assert_response(
        &client.receive().await.unwrap(),
        200,
        RequestState::InProgress,
    );
    client.dtmf("78").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 1, "{}", body(&complete));
    client.close().await;
}
