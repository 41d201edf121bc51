//! The operations port of the `mrcp-server` binary: `/healthz`, and `/metrics` after a real session (DTMF
//! recognition, so no speech engine is needed), plus the load a balancer reads on OPTIONS.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ServerProcess, body, cause, connect, http_get, sip_options};
use mrcp_proto::mrcp::{Method, RequestState, StartLine};
use mrcp_proto::sdp::ClientProfile;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_after_a_session() {
    let server = ServerProcess::start("34000-34099", &["--max-sessions", "7"]);
    assert_eq!(
        http_get(&server, "/healthz").await,
        (200, "ok\n".to_owned())
    );
    let (status, text) = http_get(&server, "/nothing").await;
    assert_eq!(status, 404, "{text}");

    let options = sip_options(&server).await;
    assert!(options.starts_with("SIP/2.0 200 "), "{options}");
    assert!(options.contains("X-Load: 0/7\r\n"), "{options}");

    let mut client = connect(&server, ClientProfile::Asterisk, (35000, 35099)).await;
    let options = sip_options(&server).await;
    assert!(options.contains("X-Load: 1/7\r\n"), "{options}");
    let (_, metrics) = http_get(&server, "/metrics").await;
    assert!(metrics.contains("\nmrcp_sessions_active 1\n"), "{metrics}");
    assert!(metrics.contains("\nmrcp_sessions_max 7\n"), "{metrics}");

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
    client.dtmf("1234").await.unwrap();
    let (_, complete) = client.until_event("RECOGNITION-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 0, "{}", body(&complete));

    let (status, metrics) = http_get(&server, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "mrcp_requests_total{resource=\"speechrecog\",method=\"RECOGNIZE\",status=\"200\"} 1",
        "mrcp_completion_causes_total{resource=\"speechrecog\",cause=\"000\"} 1",
        "# TYPE mrcp_recognition_latency_seconds histogram",
        "# TYPE mrcp_rtp_packets_lost_total counter",
        "# TYPE mrcp_rtp_jitter_seconds histogram",
        "# TYPE mrcp_engine_errors_total counter",
        "mrcp_draining 0",
    ] {
        assert!(
            metrics.contains(&format!("{line}\n")),
            "{line} not in:\n{metrics}"
        );
    }
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_say_503_at_capacity() {
    let server = ServerProcess::start("34200-34299", &["--max-sessions", "1"]);
    let client = connect(&server, ClientProfile::Asterisk, (35400, 35499)).await;
    let options = sip_options(&server).await;
    assert!(options.starts_with("SIP/2.0 503 "), "{options}");
    assert!(options.contains("Retry-After: 5\r\n"), "{options}");
    assert!(options.contains("X-Load: 1/1\r\n"), "{options}");
    // Full is not draining: the health check stays green.
    assert_eq!(http_get(&server, "/healthz").await.0, 200);
    client.close().await;
}
