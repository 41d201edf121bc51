//! Health of each destination from SIP OPTIONS probes (RFC 3261 §11), sans-IO.
//!
//! ```text
//!            2xx                      failure x down_after           2xx x up_after
//!   Up <----------- Suspect <-------- ... ---------> Down <------------------------ (probing)
//!    |  failure        ^ (still in rotation)          ^ an INVITE branch timed out or hit a
//!    +-----------------+                              | transport error (at once)
//!    |
//!    +-- 503 reply (from any state) --> Draining --2xx x up_after--> Up
//! ```
//!
//! A probe counts as alive only for a 2xx reply; a reply of 503 means the server is draining
//! (or full) and takes it out at once, as `Draining`; any other reply, and a probe without reply
//! within the probe timeout (the 408 the dispatcher would generate itself), is a failure. Down
//! and draining destinations keep being probed and come back after `up_after` consecutive 2xx.
//!
//! Run loop: call [`Health::handle_timeout`] at [`Health::poll_timeout`], send a probe for every
//! [`HealthOutput::Probe`], feed replies with [`Health::handle_probe_result`].

use std::{collections::VecDeque, time::Duration, time::Instant};

use crate::destination::DestId;

/// Probe settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthConfig {
    /// Time between probes of one destination.
    pub interval: Duration,
    /// A probe without reply after this long is a failure.
    pub timeout: Duration,
    /// Consecutive failures that take an up destination out of rotation.
    pub down_after: u32,
    /// Consecutive 2xx that bring a down destination back.
    pub up_after: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            down_after: 2,
            up_after: 1,
        }
    }
}

/// State of one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// In rotation.
    Up,
    /// In rotation, `failures` consecutive probes failed.
    Suspect {
        /// Consecutive failures so far.
        failures: u32,
    },
    /// Out of rotation, `successes` consecutive 2xx so far.
    Down {
        /// Consecutive successes so far.
        successes: u32,
    },
    /// Out of rotation: the last probe was answered 503 (the server drains or is full);
    /// `successes` consecutive 2xx so far.
    Draining {
        /// Consecutive successes so far.
        successes: u32,
    },
}

impl HealthState {
    /// Whether new calls may go there.
    pub fn in_rotation(self) -> bool {
        matches!(self, HealthState::Up | HealthState::Suspect { .. })
    }

    /// `up`, `down` or `draining` (a suspect destination is still up), as in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Up | HealthState::Suspect { .. } => "up",
            HealthState::Down { .. } => "down",
            HealthState::Draining { .. } => "draining",
        }
    }
}

/// How a probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    /// A final response with this status from the destination.
    Status(u16),
    /// No final response (our own timeout) or the transport failed.
    NoReply,
}

/// What the application must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthOutput {
    /// Send an OPTIONS probe to this destination; report it with this sequence number.
    Probe(DestId, u64),
    /// A destination entered or left rotation.
    Changed {
        /// The destination.
        dest: DestId,
        /// In rotation now.
        in_rotation: bool,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    state: HealthState,
    next_probe: Instant,
    /// The probe in flight: its sequence number and deadline.
    pending: Option<(u64, Instant)>,
}

/// The health checker of a destination set.
#[derive(Debug, Clone)]
pub struct Health {
    cfg: HealthConfig,
    entries: Vec<Entry>,
    out: VecDeque<HealthOutput>,
    seq: u64,
}

impl Health {
    /// `count` destinations, all up; the first probes are due at `now`.
    pub fn new(cfg: HealthConfig, count: usize, now: Instant) -> Self {
        let entry = Entry {
            state: HealthState::Up,
            next_probe: now,
            pending: None,
        };
        Self {
            cfg: HealthConfig {
                down_after: cfg.down_after.max(1),
                up_after: cfg.up_after.max(1),
                ..cfg
            },
            entries: vec![entry; count],
            out: VecDeque::new(),
            seq: 0,
        }
    }

    /// The state of `dest`.
    pub fn state(&self, dest: DestId) -> Option<HealthState> {
        self.entries.get(dest.0).map(|e| e.state)
    }

    /// Whether new calls may go to `dest`.
    pub fn in_rotation(&self, dest: DestId) -> bool {
        self.state(dest).is_some_and(HealthState::in_rotation)
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<HealthOutput> {
        self.out.pop_front()
    }

    /// The next probe or probe deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .map(|e| match e.pending {
                // The next probe waits for the one in flight.
                Some((_, deadline)) => deadline,
                None => e.next_probe,
            })
            .min()
    }

    /// Fires due probes and probe deadlines. Spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.entries.len() {
            let Some(e) = self.entries.get_mut(i) else {
                continue;
            };
            if let Some((_, deadline)) = e.pending
                && deadline <= now
            {
                e.pending = None;
                self.failure(DestId(i), false);
            }
            let Some(e) = self.entries.get_mut(i) else {
                continue;
            };
            if e.pending.is_none() && e.next_probe <= now {
                self.seq += 1;
                e.pending = Some((self.seq, now + self.cfg.timeout));
                e.next_probe = now + self.cfg.interval;
                self.out.push_back(HealthOutput::Probe(DestId(i), self.seq));
            }
        }
    }

    /// The probe `seq` to `dest` ended. Results of probes already timed out are ignored.
    pub fn handle_probe_result(
        &mut self,
        _now: Instant,
        dest: DestId,
        seq: u64,
        result: ProbeResult,
    ) {
        let Some(e) = self.entries.get_mut(dest.0) else {
            return;
        };
        if e.pending.map(|(s, _)| s) != Some(seq) {
            return;
        }
        e.pending = None;
        match result {
            ProbeResult::Status(200..=299) => self.success(dest),
            // Draining or at capacity: out of rotation now (reference §2.1).
            ProbeResult::Status(503) => self.draining(dest),
            ProbeResult::Status(_) | ProbeResult::NoReply => self.failure(dest, false),
        }
    }

    /// An INVITE branch to `dest` got no reply or hit a transport error: out of rotation until
    /// probes bring it back (as Kamailio's `ds_mark_dst("ip")`).
    pub fn handle_branch_failure(&mut self, _now: Instant, dest: DestId) {
        self.failure(dest, true);
    }

    fn success(&mut self, dest: DestId) {
        let up_after = self.cfg.up_after;
        let Some(e) = self.entries.get_mut(dest.0) else {
            return;
        };
        e.state = match e.state {
            HealthState::Down { successes } if successes + 1 < up_after => HealthState::Down {
                successes: successes + 1,
            },
            HealthState::Draining { successes } if successes + 1 < up_after => {
                HealthState::Draining {
                    successes: successes + 1,
                }
            }
            HealthState::Down { .. } | HealthState::Draining { .. } => {
                self.out.push_back(HealthOutput::Changed {
                    dest,
                    in_rotation: true,
                });
                HealthState::Up
            }
            _ => HealthState::Up,
        };
    }

    fn failure(&mut self, dest: DestId, at_once: bool) {
        let down_after = self.cfg.down_after;
        let Some(e) = self.entries.get_mut(dest.0) else {
            return;
        };
        let failures = match e.state {
            HealthState::Down { .. } | HealthState::Draining { .. } => {
                e.state = HealthState::Down { successes: 0 };
                return;
            }
            HealthState::Up => 1,
            HealthState::Suspect { failures } => failures + 1,
        };
        e.state = if at_once || failures >= down_after {
            self.out.push_back(HealthOutput::Changed {
                dest,
                in_rotation: false,
            });
            HealthState::Down { successes: 0 }
        } else {
            HealthState::Suspect { failures }
        };
    }

    fn draining(&mut self, dest: DestId) {
        let Some(e) = self.entries.get_mut(dest.0) else {
            return;
        };
        if e.state.in_rotation() {
            self.out.push_back(HealthOutput::Changed {
                dest,
                in_rotation: false,
            });
        }
        e.state = HealthState::Draining { successes: 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn probes(h: &mut Health) -> Vec<(DestId, u64)> {
        std::iter::from_fn(|| h.poll_output())
            .filter_map(|o| match o {
                HealthOutput::Probe(d, s) => Some((d, s)),
                HealthOutput::Changed { .. } => None,
            })
            .collect()
    }

    fn cfg() -> HealthConfig {
        HealthConfig {
            interval: 2 * S,
            timeout: S,
            down_after: 2,
            up_after: 2,
        }
    }

    #[test]
    fn probes_every_interval_and_failures_take_it_out() {
        let t0 = Instant::now();
        let mut h = Health::new(cfg(), 1, t0);
        assert_eq!(h.poll_timeout(), Some(t0));
        h.handle_timeout(t0);
        let [(d, seq)] = probes(&mut h)[..] else {
            panic!()
        };
        h.handle_probe_result(t0, d, seq, ProbeResult::Status(200));
        assert_eq!(h.state(d), Some(HealthState::Up));
        assert_eq!(h.poll_timeout(), Some(t0 + 2 * S));
        h.handle_timeout(t0 + S);
        assert!(probes(&mut h).is_empty(), "spurious timeout");
        h.handle_timeout(t0 + 2 * S);
        let [(_, seq)] = probes(&mut h)[..] else {
            panic!()
        };
        h.handle_probe_result(t0, d, seq, ProbeResult::Status(500));
        assert_eq!(h.state(d), Some(HealthState::Suspect { failures: 1 }));
        assert!(h.in_rotation(d), "one failure: still in rotation");
        h.handle_timeout(t0 + 4 * S);
        let [(_, seq)] = probes(&mut h)[..] else {
            panic!()
        };
        // No reply within the probe timeout: the 408 we would generate is a failure.
        assert_eq!(h.poll_timeout(), Some(t0 + 5 * S));
        h.handle_timeout(t0 + 5 * S);
        assert!(!h.in_rotation(d));
        assert_eq!(
            h.poll_output(),
            Some(HealthOutput::Changed {
                dest: d,
                in_rotation: false
            })
        );
        // A late 200 for the timed-out probe does not count.
        h.handle_probe_result(t0, d, seq, ProbeResult::Status(200));
        assert!(!h.in_rotation(d));
    }

    #[test]
    fn draining_leaves_at_once_and_returns_after_up_after_successes() {
        let t0 = Instant::now();
        let mut h = Health::new(cfg(), 2, t0);
        h.handle_timeout(t0);
        let p = probes(&mut h);
        assert_eq!(p.len(), 2);
        h.handle_probe_result(t0, DestId(1), p[1].1, ProbeResult::Status(503));
        assert!(!h.in_rotation(DestId(1)));
        assert_eq!(
            h.state(DestId(1)),
            Some(HealthState::Draining { successes: 0 })
        );
        assert_eq!(
            h.state(DestId(1)).map(HealthState::as_str),
            Some("draining")
        );
        assert!(h.in_rotation(DestId(0)));
        let mut now = t0;
        for round in 0..2 {
            now += 2 * S;
            h.handle_timeout(now);
            let p = probes(&mut h);
            assert_eq!(p.len(), 2, "down destinations are still probed");
            h.handle_probe_result(now, DestId(1), p[1].1, ProbeResult::Status(200));
            assert_eq!(h.in_rotation(DestId(1)), round == 1);
        }
    }

    #[test]
    fn branch_failure_takes_it_out_until_probes_succeed() {
        let t0 = Instant::now();
        let mut h = Health::new(
            HealthConfig {
                up_after: 1,
                ..cfg()
            },
            1,
            t0,
        );
        h.handle_branch_failure(t0, DestId(0));
        assert!(!h.in_rotation(DestId(0)));
        h.handle_timeout(t0);
        let [(d, seq)] = probes(&mut h)[..] else {
            panic!()
        };
        h.handle_probe_result(t0, d, seq, ProbeResult::Status(200));
        assert!(h.in_rotation(d));
    }
}
