//! Asterisk's SynthAndRecog against the real `mrcp-server` on loopback: a prompt on one session, a recognition
//! on another, and the caller's digits barging in — the client stops the prompt with STOP, as app_unimrcp does.
//!
//! Needs the Debian package espeak-ng (installed by `scripts/test`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{ServerProcess, require};
use mrcp_client::synth_and_recog::{RecogInput, synth_and_recog};
use mrcp_client::{Session, SessionConfig, SpeakRequest};
use mrcp_proto::mrcp::ResourceType;
use mrcp_proto::sdp::ClientProfile;
use mrcp_sip::Transport;

async fn open(server: &ServerProcess, resource: ResourceType, rtp: (u16, u16)) -> Session {
    Session::open(&SessionConfig {
        server: server.sip,
        transport: Transport::Udp,
        profile: ClientProfile::Asterisk,
        resource,
        local_ip: "127.0.0.1".parse().unwrap(),
        rtp_ports: rtp,
        timeout: Duration::from_secs(20),
        tls: None,
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digits_over_the_prompt_stop_it_and_are_recognized() {
    require("espeak-ng", "espeak-ng");
    let server = ServerProcess::start("51000-51099");
    let mut synth = open(&server, ResourceType::Speechsynth, (51200, 51299)).await;
    let mut recog = open(&server, ResourceType::Speechrecog, (51300, 51399)).await;
    let prompt = SpeakRequest::text(
        "Welcome. Please enter your four digit account number followed by the pound key, \
         or stay on the line to speak with one of our agents.",
    );
    let outcome = synth_and_recog(
        &mut synth,
        &mut recog,
        &prompt,
        RecogInput {
            headers: &[],
            grammar: ("text/uri-list", b"builtin:dtmf/digits?length=4"),
            audio: Vec::new(),
            digits: "1234",
        },
    )
    .await
    .unwrap();
    assert!(outcome.barged_in, "the digits did not barge in");
    assert!(
        outcome.speak_complete.is_none(),
        "a stopped prompt gets no SPEAK-COMPLETE"
    );
    let stop = outcome.stop_response.unwrap();
    assert!(
        stop.headers.get_raw("Active-Request-Id-List").is_some(),
        "STOP must list the prompt it ended: {stop:?}"
    );
    assert_eq!(
        outcome.recognition.headers.get_raw("Completion-Cause"),
        Some("000 success")
    );
    assert!(String::from_utf8_lossy(&outcome.recognition.body).contains("1234"));
    synth.close().await;
    recog.close().await;
}
