//! Transaction timers, named as in RFC 3261 Table 4 and RFC 6026.

use std::time::Duration;

/// The timers of RFC 3261 §17 (Table 4) and RFC 6026 (L, M).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmit interval, UDP only (initially T1, doubling).
    A,
    /// INVITE transaction timeout (64·T1).
    B,
    /// Proxy INVITE transaction timeout (> 3 min).
    C,
    /// Wait time for response retransmits (32 s UDP, 0 reliable).
    D,
    /// Non-INVITE request retransmit interval, UDP only (T1 doubling to T2).
    E,
    /// Non-INVITE transaction timeout (64·T1).
    F,
    /// INVITE response retransmit interval (T1 doubling to T2).
    G,
    /// Wait time for ACK receipt (64·T1).
    H,
    /// Wait time for ACK retransmits (T4 UDP, 0 reliable).
    I,
    /// Wait time for non-INVITE request retransmits (64·T1 UDP, 0 reliable).
    J,
    /// Wait time for response retransmits (T4 UDP, 0 reliable).
    K,
    /// Wait time for accepted INVITE request retransmits (64·T1, RFC 6026).
    L,
    /// Wait time for retransmission of 2xx to INVITE (64·T1, RFC 6026).
    M,
}

/// The base intervals of RFC 3261 §17.1.1.1 (Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s.
    pub t2: Duration,
    /// Maximum duration a message remains in the network, default 5 s.
    pub t4: Duration,
    /// Timer D for unreliable transports (at least 32 s).
    pub timer_d: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J, L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}
