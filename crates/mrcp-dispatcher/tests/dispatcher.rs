//! `mrcp-dispatcher` in front of two real `mrcp-server` processes on loopback; recognitions with
//! the `mrcp-client` library: calls spread over both, BYE passes, a killed server makes calls
//! fail over and probes take it out of rotation, a drained server (SIGTERM) gets no new session
//! while its running one completes, weights, and least-loaded from the servers' `X-Load`.
//! `cargo build -p mrcp-server` must have run (`cargo test --workspace` does it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{ServerProcess, open_session, recognize_on, recognize_through};
use mrcp_dispatcher::{Algorithm, Config, Destination, Dispatcher, HealthConfig, HealthState};
use mrcp_sip::Transport;

fn config(servers: &[&ServerProcess], algorithm: Algorithm) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: None,
        algorithm,
        invite_timeout: Duration::from_secs(2),
        health: HealthConfig {
            interval: Duration::from_millis(500),
            timeout: Duration::from_millis(500),
            down_after: 2,
            up_after: 1,
        },
        destinations: servers
            .iter()
            .map(|s| Destination::parse(&format!("sip:{}", s.sip)).unwrap())
            .collect(),
    }
}

async fn within<T>(what: &str, secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_spread_over_both_servers_and_bye_passes() {
    let a = ServerProcess::start("127.0.0.1:0", "41000-41049");
    let b = ServerProcess::start("127.0.0.1:0", "41050-41099");
    let dispatcher = Dispatcher::start(config(&[&a, &b], Algorithm::RoundRobin))
        .await
        .unwrap();
    for transport in [Transport::Udp, Transport::Tcp] {
        let addr = dispatcher.sip_addr(transport).unwrap();
        for k in 0..2u16 {
            within("a recognition through the dispatcher", 30, async {
                recognize_through(addr, transport, (41100 + 10 * k, 41109 + 10 * k)).await
            })
            .await
            .unwrap_or_else(|e| panic!("call {k} over {transport}: {e}"));
        }
    }
    let stats = dispatcher.stats();
    assert_eq!(
        stats.iter().map(|s| s.invites).collect::<Vec<_>>(),
        [2, 2],
        "round robin over both servers: {stats:?}"
    );
    assert!(
        stats
            .iter()
            .all(|s| s.failovers == 0 && s.state == HealthState::Up)
    );
    dispatcher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_makes_calls_fail_over_then_leaves_rotation() {
    let a = ServerProcess::start("127.0.0.1:0", "41200-41249");
    let mut b = ServerProcess::start("127.0.0.1:0", "41250-41299");
    let dispatcher = Dispatcher::start(config(&[&a, &b], Algorithm::RoundRobin))
        .await
        .unwrap();
    let addr = dispatcher.sip_addr(Transport::Udp).unwrap();
    within("a recognition before the kill", 30, async {
        recognize_through(addr, Transport::Udp, (41300, 41309)).await
    })
    .await
    .unwrap();
    b.kill();
    // The next call goes to B (round robin), gets silence for invite_timeout, and fails over
    // to A; no call fails.
    for k in 0..3u16 {
        within("a recognition after the kill", 30, async {
            recognize_through(addr, Transport::Udp, (41310 + 10 * k, 41319 + 10 * k)).await
        })
        .await
        .unwrap_or_else(|e| panic!("call {k} after the kill: {e}"));
    }
    let mut watch = dispatcher.watch_stats();
    within("B out of rotation", 10, async {
        watch
            .wait_for(|s| !s.destinations[1].state.in_rotation())
            .await
            .unwrap();
    })
    .await;
    let stats = dispatcher.stats();
    // A: the call before the kill, the failed-over one and the two after B left rotation.
    assert_eq!(
        stats
            .iter()
            .map(|s| (s.invites, s.failovers))
            .collect::<Vec<_>>(),
        [(4, 0), (1, 1)],
        "{stats:?}"
    );
    dispatcher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_apply_to_real_calls() {
    // Weighted 3:1 over two live servers (smooth weighted round robin: A, A, B, A).
    let a = ServerProcess::start("127.0.0.1:0", "41400-41449");
    let b = ServerProcess::start("127.0.0.1:0", "41450-41499");
    let mut cfg = config(&[&a, &b], Algorithm::Weighted);
    cfg.destinations[0].weight = 3;
    let dispatcher = Dispatcher::start(cfg).await.unwrap();
    let addr = dispatcher.sip_addr(Transport::Udp).unwrap();
    for k in 0..4u16 {
        within("a weighted recognition", 30, async {
            recognize_through(addr, Transport::Udp, (41500 + 10 * k, 41509 + 10 * k)).await
        })
        .await
        .unwrap();
    }
    let stats = dispatcher.stats();
    assert_eq!(
        stats.iter().map(|s| s.invites).collect::<Vec<_>>(),
        [3, 1],
        "{stats:?}"
    );
    dispatcher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_server_gets_no_new_session_and_its_running_one_completes() {
    let a = ServerProcess::start("127.0.0.1:0", "41600-41649");
    let mut b = ServerProcess::start_with("127.0.0.1:0", "41650-41699", &["--drain-timeout", "30"]);
    let dispatcher = Dispatcher::start(config(&[&a, &b], Algorithm::RoundRobin))
        .await
        .unwrap();
    let addr = dispatcher.sip_addr(Transport::Udp).unwrap();
    // Round robin: the first session goes to A, the second to B; both stay open.
    let mut on_a = within(
        "a session on A",
        30,
        open_session(addr, Transport::Udp, (41700, 41709)),
    )
    .await
    .unwrap();
    let mut on_b = within(
        "a session on B",
        30,
        open_session(addr, Transport::Udp, (41710, 41719)),
    )
    .await
    .unwrap();
    assert_eq!(
        dispatcher
            .stats()
            .iter()
            .map(|s| s.invites)
            .collect::<Vec<_>>(),
        [1, 1]
    );
    // SIGTERM: B drains, answers OPTIONS with 503 and leaves rotation as draining.
    b.terminate();
    let mut watch = dispatcher.watch_stats();
    within("B draining", 10, async {
        watch
            .wait_for(|s| s.destinations[1].state == HealthState::Draining { successes: 0 })
            .await
            .unwrap();
    })
    .await;
    // New calls all go to A.
    for k in 0..3u16 {
        within("a recognition while B drains", 30, async {
            recognize_through(addr, Transport::Udp, (41720 + 10 * k, 41729 + 10 * k)).await
        })
        .await
        .unwrap_or_else(|e| panic!("call {k} while B drains: {e}"));
    }
    let stats = dispatcher.stats();
    assert_eq!(
        stats
            .iter()
            .map(|s| (s.invites, s.failovers))
            .collect::<Vec<_>>(),
        [(4, 0), (1, 0)],
        "no new session reached the draining server: {stats:?}"
    );
    // The session running on B still works, and ends normally (BYE through the dispatcher).
    within(
        "a recognition on the draining server",
        30,
        recognize_on(&mut on_b),
    )
    .await
    .unwrap_or_else(|e| panic!("the running session on B: {e}"));
    within("BYE of the session on B", 30, on_b.close()).await;
    // With its last session gone, B exits well before its 30 s drain deadline.
    let status = b.wait_exit(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "B exits cleanly once drained: {status:?}"
    );
    within("a recognition on A", 30, recognize_on(&mut on_a))
        .await
        .unwrap();
    within("BYE of the session on A", 30, on_a.close()).await;
    dispatcher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_loaded_follows_the_load_the_servers_report() {
    let a = ServerProcess::start("127.0.0.1:0", "41800-41849");
    let b = ServerProcess::start("127.0.0.1:0", "41850-41899");
    let dispatcher = Dispatcher::start(config(&[&a, &b], Algorithm::LeastLoaded))
        .await
        .unwrap();
    let addr = dispatcher.sip_addr(Transport::Udp).unwrap();
    let mut watch = dispatcher.watch_stats();
    let idle = |s: &mrcp_dispatcher::Stats| s.destinations.iter().all(|d| d.load == Some(0.0));
    within("both loads reported", 10, async {
        watch.wait_for(idle).await.unwrap();
    })
    .await;
    // Equal loads: round robin picks A; the session stays open, so A reports load.
    let held = within(
        "a held session",
        30,
        open_session(addr, Transport::Udp, (41900, 41909)),
    )
    .await
    .unwrap();
    within("A reporting its session", 10, async {
        watch
            .wait_for(|s| s.destinations[0].load.is_some_and(|l| l > 0.0))
            .await
            .unwrap();
    })
    .await;
    // While A is busier, every new call goes to B (waiting each time for B's load to fall
    // back to 0, so the two never look equal).
    for k in 0..3u16 {
        within("B idle again", 10, async {
            watch
                .wait_for(|s| s.destinations[1].load == Some(0.0))
                .await
                .unwrap();
        })
        .await;
        within("a least-loaded recognition", 30, async {
            recognize_through(addr, Transport::Udp, (41910 + 10 * k, 41919 + 10 * k)).await
        })
        .await
        .unwrap_or_else(|e| panic!("call {k}: {e}"));
    }
    let stats = dispatcher.stats();
    assert_eq!(
        stats.iter().map(|s| s.invites).collect::<Vec<_>>(),
        [1, 3],
        "the calls avoided the loaded server: {stats:?}"
    );
    within("BYE of the held session", 30, held.close()).await;
    dispatcher.shutdown();
}
