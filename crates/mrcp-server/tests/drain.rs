//! Graceful drain of the `mrcp-server` binary on SIGTERM (issue 10): OPTIONS and new INVITEs get 503 with
//! Retry-After, `/healthz` says draining, a running session completes its recognition, and the process exits
//! once it ends, or ends it with BYE when the drain deadline passes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, ServerProcess, body, cause, connect, http_get, sip_options, try_connect};
use mrcp_proto::mrcp::{Method, RequestState, StartLine};
use mrcp_proto::sdp::ClientProfile;

/// Sends SIGTERM and waits until `/healthz` reports the drain: each probe is a full HTTP exchange with the
/// process, so the loop is paced by the server, bounded by [`DEADLINE`].
async fn terminate_and_await_drain(server: &ServerProcess) {
    server.terminate();
    let started = Instant::now();
    loop {
        let (status, text) = http_get(server, "/healthz").await;
        if status == 503 {
            assert_eq!(text, "draining\n");
            return;
        }
        assert_eq!(status, 200, "{text}");
        assert!(
            started.elapsed() < DEADLINE,
            "/healthz never reported the drain after SIGTERM"
        );
        tokio::task::yield_now().await;
    }
}

async fn start_recognition(client: &mut mrcp_client::Session) {
    client
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", "builtin:dtmf/digits?length=4".as_bytes())),
        )
        .await
        .unwrap();
    let response = client.receive().await.unwrap();
    assert!(
        matches!(
            response.start,
            StartLine::Response {
                state: RequestState::InProgress,
                ..
            }
        ),
        "{}",
        response.start
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_refuses_new_calls_and_lets_running_ones_finish() {
    let mut server = ServerProcess::start("34100-34199", &["--drain-timeout", "30"]);
    let mut client = connect(&server, ClientProfile::Asterisk, (35100, 35199)).await;
    start_recognition(&mut client).await;

    terminate_and_await_drain(&server).await;

    // A balancer's probe sees 503 and takes the server out of rotation; the load is still reported.
    let options = sip_options(&server).await;
    assert!(options.starts_with("SIP/2.0 503 "), "{options}");
    assert!(options.contains("Retry-After: 30\r\n"), "{options}");
    assert!(options.contains("X-Load: 1/1000\r\n"), "{options}");
    // A new call is refused at once.
    match try_connect(&server, ClientProfile::FreeSwitch, (35200, 35299)).await {
        Err(mrcp_client::ClientError::Rejected { status }) => assert_eq!(status, 503),
        Err(other) => panic!("expected 503, got {other}"),
        Ok(_) => panic!("a new session was accepted while draining"),
    }
    let (_, metrics) = http_get(&server, "/metrics").await;
    assert!(metrics.contains("\nmrcp_draining 1\n"), "{metrics}");
    assert!(
        metrics.contains("\nmrcp_invites_rejected_total{status=\"503\"} 1\n"),
        "{metrics}"
    );

    // The running session still recognizes.
    client.dtmf("4321").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));
    assert!(body(&complete).contains("4321"), "{}", body(&complete));
    client.close().await;

    // Its BYE was the last session: the process exits long before the 30 s deadline.
    let status = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(10)));
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_still_running_at_the_deadline_get_bye() {
    let mut server = ServerProcess::start("34300-34399", &["--drain-timeout", "1"]);
    let mut client = connect(&server, ClientProfile::Asterisk, (35300, 35399)).await;
    start_recognition(&mut client).await;
    terminate_and_await_drain(&server).await;

    // No digits come: after one second the server ends the session itself.
    let reason = client.terminated().await.unwrap();
    assert_eq!(reason, mrcp_sip::EndReason::RemoteBye);
    let status = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(10)));
    assert!(status.success(), "{status}");
}
