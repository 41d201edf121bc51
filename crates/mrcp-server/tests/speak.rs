//! End to end on loopback: SPEAK against the `mrcp-server` binary with espeak-ng, driven by the
//! `mrcp-client` library with the FreeSWITCH offer for a speechsynth channel.
//!
//! Needs the Debian package espeak-ng (installed by `scripts/test`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, LOCALHOST, ServerProcess};
use mrcp_client::{Session, SessionConfig};
use mrcp_proto::mrcp::{Message, Method, RequestState, ResourceType, StartLine};
use mrcp_proto::sdp::ClientProfile;
use mrcp_sip::Transport;

async fn synth_session(server: &ServerProcess, rtp_ports: (u16, u16)) -> Session {
    Session::open(&SessionConfig {
        server: server.sip,
        transport: Transport::Udp,
        profile: ClientProfile::FreeSwitch,
        resource: ResourceType::Speechsynth,
        local_ip: LOCALHOST,
        rtp_ports,
        timeout: DEADLINE,
        tls: None,
    })
    .await
    .expect("cannot open the synthesizer session")
}

fn is_event(m: &Message, name: &str) -> bool {
    matches!(&m.start, StartLine::Event { event, .. } if event.as_str() == name)
}

fn status(m: &Message) -> (u16, RequestState) {
    match &m.start {
        StartLine::Response { status, state, .. } => (status.code(), *state),
        other => panic!("expected a response, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_plays_the_prompt_then_completes() {
    let server = ServerProcess::start("34000-34099", &[]);
    let mut client = synth_session(&server, (34500, 34599)).await;
    let text = "Welcome to the open M R C P speech server.";
    client
        .send(
            Method::Speak,
            &[("Voice-Gender", "female")],
            Some(("text/plain", text.as_bytes())),
        )
        .await
        .unwrap();
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::InProgress)
    );
    let started = Instant::now();
    let complete = client.receive().await.unwrap();
    let elapsed = started.elapsed();
    assert!(is_event(&complete, "SPEAK-COMPLETE"), "{}", complete.start);
    assert_eq!(
        complete.headers.get_raw("Completion-Cause"),
        Some("000 normal")
    );
    // The prompt lasts about 2.5 s: paced in real time, the completion cannot come much sooner.
    assert!(
        elapsed > Duration::from_millis(1500),
        "SPEAK-COMPLETE after only {elapsed:?}"
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_the_prompt_without_speak_complete() {
    let server = ServerProcess::start("34100-34199", &[]);
    let mut client = synth_session(&server, (34600, 34699)).await;
    let text = "This is a long prompt that the caller will not hear to its end, because the application stops it.";
    let speak = client
        .send(Method::Speak, &[], Some(("text/plain", text.as_bytes())))
        .await
        .unwrap();
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::InProgress)
    );
    client.send(Method::Stop, &[], None).await.unwrap();
    let stopped = client.receive().await.unwrap();
    assert_eq!(status(&stopped), (200, RequestState::Complete));
    assert_eq!(
        stopped.headers.get_raw("Active-Request-Id-List"),
        Some(speak.0.to_string().as_str())
    );
    let late = tokio::time::timeout(Duration::from_secs(3), client.receive()).await;
    assert!(late.is_err(), "a message followed the STOP: {late:?}");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_speaks_complete_in_order_and_bad_ssml_is_a_parse_failure() {
    let server = ServerProcess::start("34200-34299", &[]);
    let mut client = synth_session(&server, (34700, 34799)).await;
    let first = client
        .send(Method::Speak, &[], Some(("text/plain", b"One.".as_slice())))
        .await
        .unwrap();
    let bad = b"<speak version=\"1.0\"><unclosed></speak>".as_slice();
    let second = client
        .send(Method::Speak, &[], Some(("application/ssml+xml", bad)))
        .await
        .unwrap();
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::InProgress)
    );
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::Pending)
    );
    let one = client.receive().await.unwrap();
    assert!(
        is_event(&one, "SPEAK-COMPLETE") && one.request_id() == first,
        "{}",
        one.start
    );
    let two = client.receive().await.unwrap();
    assert!(
        is_event(&two, "SPEAK-COMPLETE") && two.request_id() == second,
        "{}",
        two.start
    );
    assert_eq!(
        two.headers.get_raw("Completion-Cause"),
        Some("002 parse-failure")
    );
    client.close().await;
}

#[test]
fn list_voices_prints_the_synthesizer_voices() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mrcp-server"))
        .arg("--list-voices")
        .output()
        .expect("cannot run mrcp-server");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // `engine name languages gender description`, one voice a line; espeak-ng always has American English.
    assert!(
        text.lines().any(|l| l.starts_with("espeak\t")
            && l.split('\t')
                .nth(2)
                .is_some_and(|langs| langs.contains("en-us"))),
        "{text}"
    );
}
