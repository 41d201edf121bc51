//! `[limits]`: what one peer may take from the server, so a misbehaving or hostile client cannot starve the
//! others.
//!
//! - sessions per source IP address: past the limit an INVITE gets 503 with Retry-After (RFC 3261 §21.5.4),
//!   not 486: the server is not "busy here" for the called user, it refuses more work from that source for a
//!   while, and 503 is what makes a proxy in front (Kamailio, OpenSIPS `dispatcher`, `mrcp-dispatcher`) fail
//!   over to another server (RFC 3261 §16.7 step 6; RFC 3263 §4.3) where 486 would be relayed to the caller;
//! - MRCP control connections per source IP address (a refused connection is closed at once);
//! - the MRCP header section size (the body size is `mrcp.max_message_bytes`) and the grammar size; a grammar
//!   over the limit fails its DEFINE-GRAMMAR or RECOGNIZE with 407 and Completion-Cause 005
//!   grammar-compilation-failure, as any grammar the server refuses to compile (RFC 6787 §9.4.11 has no cause
//!   for size; MRCP has no 413);
//! - slow clients on TCP: a message whose first byte arrived must be complete within
//!   `tcp_message_timeout_ms`, so a peer sending one byte a minute, or holding a half-sent message, is closed,
//!   on MRCP and on SIP over TCP; SIP over TCP also closes a connection idle for `sip_tcp_idle_timeout_s`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::config::ConfigError;

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// `max_sessions_per_source`: sessions at once from one IP address; 0 means no limit other than
    /// `server.max_sessions`. Default 0: FreeSWITCH or a balancer sends every session from one address.
    pub max_sessions_per_source: usize,
    /// `retry_after_s`: the Retry-After of the 503 sent past `max_sessions_per_source`. Default 5.
    pub retry_after_s: u64,
    /// `mrcp_max_connections_per_source`: MRCP control connections at once from one IP address; 0 means no
    /// limit. Default 0: FreeSWITCH opens one connection per session (`a=connection:new`), all from one address.
    pub mrcp_max_connections_per_source: usize,
    /// `mrcp_max_header_bytes`: the largest MRCP start line and header section. Default 65536.
    pub mrcp_max_header_bytes: usize,
    /// `grammar_max_bytes`: the largest grammar text (inline or defined). Default 1048576.
    pub grammar_max_bytes: usize,
    /// `tcp_message_timeout_ms`: time a client has to finish sending a message it started, on MRCP and SIP
    /// over TCP. Default 30000.
    pub tcp_message_timeout_ms: u64,
    /// `sip_tcp_idle_timeout_s`: a SIP TCP connection with no traffic for this long is closed. Default 600.
    pub sip_tcp_idle_timeout_s: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_sessions_per_source: 0,
            retry_after_s: 5,
            mrcp_max_connections_per_source: 0,
            mrcp_max_header_bytes: 64 * 1024,
            grammar_max_bytes: 1024 * 1024,
            tcp_message_timeout_ms: 30_000,
            sip_tcp_idle_timeout_s: 600,
        }
    }
}

impl LimitsConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, problem: &str| ConfigError::Invalid {
            key: format!("limits.{key}"),
            problem: problem.to_owned(),
        };
        if !(1..=3600).contains(&self.retry_after_s) {
            return Err(invalid("retry_after_s", "must be from 1 to 3600 seconds"));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.mrcp_max_header_bytes) {
            return Err(invalid(
                "mrcp_max_header_bytes",
                "must be from 1024 to 16777216",
            ));
        }
        if self.grammar_max_bytes < 256 {
            return Err(invalid("grammar_max_bytes", "must be at least 256"));
        }
        if !(100..=3_600_000).contains(&self.tcp_message_timeout_ms) {
            return Err(invalid(
                "tcp_message_timeout_ms",
                "must be from 100 to 3600000 milliseconds",
            ));
        }
        if !(1..=86_400).contains(&self.sip_tcp_idle_timeout_s) {
            return Err(invalid(
                "sip_tcp_idle_timeout_s",
                "must be from 1 to 86400 seconds",
            ));
        }
        Ok(())
    }

    /// `tcp_message_timeout_ms` as a duration.
    pub fn tcp_message_timeout(&self) -> Duration {
        Duration::from_millis(self.tcp_message_timeout_ms)
    }
}

/// Counts what each source IP address holds, against a per-source limit.
#[derive(Debug, Clone)]
pub struct SourceLimiter {
    limit: usize,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One unit held by a source; given back on drop.
#[derive(Debug)]
pub struct SourceSlot {
    ip: IpAddr,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl SourceLimiter {
    /// A limiter allowing `limit` units per source; 0 means unlimited.
    pub fn new(limit: usize) -> SourceLimiter {
        SourceLimiter {
            limit,
            held: Arc::default(),
        }
    }

    /// Takes a unit for `ip`, or `None` when it holds `limit` already.
    pub fn try_take(&self, ip: IpAddr) -> Option<SourceSlot> {
        let ip = ip.to_canonical();
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let n = held.entry(ip).or_insert(0);
        if self.limit != 0 && *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            ip,
            held: self.held.clone(),
        })
    }

    /// Units `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&ip.to_canonical()).copied().unwrap_or(0)
    }

    /// Sources holding at least one unit (the map never keeps empty entries).
    pub fn sources(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = held.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

/// The read deadline of a TCP peer: armed when a message starts, cleared when the peer has nothing
/// half-sent, so an idle connection is left alone (an MRCP client waits minutes for a result) but a message
/// trickled a byte at a time is cut off.
#[derive(Debug, Clone, Copy)]
pub struct MessageDeadline {
    timeout: Duration,
    at: Option<Instant>,
}

impl MessageDeadline {
    /// A deadline `timeout` after each message starts.
    pub fn new(timeout: Duration) -> MessageDeadline {
        MessageDeadline { timeout, at: None }
    }

    /// Bytes arrived at `now`; `partial` says whether some of a message is still buffered after decoding
    /// and `completed` whether at least one whole message came out.
    pub fn handle_read(&mut self, now: Instant, partial: bool, completed: bool) {
        match (partial, completed, self.at) {
            (false, true, _) => self.at = None,
            // A new message began after the last complete one: its own time starts now.
            (true, true, _) | (true, false, None) => self.at = Some(now + self.timeout),
            // Bytes of the same unfinished message (or a decoder that holds the head): the deadline stays.
            (_, false, Some(_)) | (false, false, None) => {}
        }
    }

    /// When the peer is cut off, if a message is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.at
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_slots_back_on_drop() {
        let limiter = SourceLimiter::new(2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let a = limiter.try_take(ip).unwrap();
        let _b = limiter.try_take(ip).unwrap();
        assert!(limiter.try_take(ip).is_none());
        // Another source is not affected, and an IPv4-mapped IPv6 address is the same source.
        assert!(limiter.try_take("10.0.0.2".parse().unwrap()).is_some());
        assert!(
            limiter
                .try_take("::ffff:10.0.0.1".parse().unwrap())
                .is_none()
        );
        drop(a);
        assert_eq!(limiter.held(ip), 1);
        let _c = limiter.try_take(ip).unwrap();
        drop(_b);
        drop(_c);
        assert_eq!(limiter.sources(), 0);
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = SourceLimiter::new(0);
        let ip: IpAddr = "::1".parse().unwrap();
        let slots: Vec<_> = (0..100).map(|_| limiter.try_take(ip).unwrap()).collect();
        assert_eq!(limiter.held(ip), 100);
        drop(slots);
        assert_eq!(limiter.sources(), 0);
    }

    #[test]
    fn the_deadline_runs_from_the_first_byte_of_a_message() {
        let t0 = Instant::now();
        let mut d = MessageDeadline::new(Duration::from_secs(30));
        assert_eq!(d.poll_timeout(), None);
        // One byte: armed.
        d.handle_read(t0, true, false);
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(30)));
        // More bytes of the same message later: still the first deadline.
        d.handle_read(t0 + Duration::from_secs(20), true, false);
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(30)));
        // The message completes with nothing after it: disarmed.
        d.handle_read(t0 + Duration::from_secs(25), false, true);
        assert_eq!(d.poll_timeout(), None);
        // A message completes and the next one starts in the same read: re-armed from then.
        let t1 = t0 + Duration::from_secs(40);
        d.handle_read(t1, true, false);
        d.handle_read(t1 + Duration::from_secs(1), true, true);
        assert_eq!(d.poll_timeout(), Some(t1 + Duration::from_secs(31)));
    }

    /// The MRCP connection driver on paused time: one byte every 10 s of a message never finished is cut
    /// off at the 30 s deadline; an idle connection with nothing half-sent is not.
    #[tokio::test(start_paused = true)]
    async fn a_trickling_mrcp_peer_is_closed_at_the_deadline() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        use crate::control::{ConnectionId, ControlConfig, SessionRegistry, run_connection};

        let run = |stream| {
            let config = ControlConfig {
                message_timeout: Duration::from_secs(30),
                ..ControlConfig::default()
            };
            tokio::spawn(run_connection(
                stream,
                ConnectionId(1),
                "127.0.0.1:9".parse().unwrap(),
                Arc::new(SessionRegistry::new()),
                config,
                tokio_util::sync::CancellationToken::new(),
            ))
        };
        let (mut slow, server_side) = tokio::io::duplex(1024);
        let started = Instant::now();
        let connection = run(server_side);
        for byte in b"MRCP/2.0 100 " {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
            if connection.is_finished() {
                break;
            }
        }
        tokio::time::timeout(Duration::from_secs(60), connection)
            .await
            .expect("the slow connection was never closed")
            .unwrap();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(30) && took <= Duration::from_secs(40),
            "{took:?}"
        );
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest).await;

        // Idle for an hour with nothing half-sent: still open.
        let (_idle, server_side) = tokio::io::duplex(1024);
        let connection = run(server_side);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!connection.is_finished());
        connection.abort();
    }

    #[test]
    fn validation_names_the_key() {
        let bad = LimitsConfig {
            tcp_message_timeout_ms: 5,
            ..LimitsConfig::default()
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("limits.tcp_message_timeout_ms"), "{e}");
        assert!(LimitsConfig::default().validate().is_ok());
    }
}
