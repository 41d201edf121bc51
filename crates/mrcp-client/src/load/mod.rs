//! The load generator: many concurrent MRCP sessions from one process, each driven as FreeSWITCH or
//! Asterisk drives it (see [`script`]), opened at a fixed rate up to a concurrency limit for a duration,
//! with latency histograms, classified failures and a JSON and HTML report.
//!
//! One tokio task per session; the scheduler owns every result, so there is no shared state. RTP ports
//! never collide: the client range is cut into one sub-range per session slot, and a slot's
//! [`PortAllocator`] travels with the session that holds the slot and comes back with its outcome.
//!
//! ```text
//!  scheduler ── sleep_until(next open), if a slot is free ──▶ spawn session(slot, ports)
//!      ▲                                                          │ INVITE, DEFINE-GRAMMAR, RECOGNIZE,
//!      └──────────── JoinSet: (slot, ports, Outcome) ◀────────────┘ audio, RECOGNITION-COMPLETE, BYE
//! ```

pub mod html;
pub mod report;
pub mod script;

use std::time::{Duration, Instant};

use mrcp_media::endpoint::{PortAllocator, PortRange};
use mrcp_proto::mrcp::ResourceType;
use mrcp_proto::sdp::ClientProfile;
use tokio::task::JoinSet;

use crate::session::SessionConfig;
use crate::violation::Mode;
use report::{CpuUse, LoadReport, Recorder, Snapshot, cpu_seconds};
use script::{Failure, Outcome, RecognizeInput, SpeakInput, Timings};

/// Which requests each session makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Speech recognition (speech audio and/or DTMF).
    Recognize,
    /// Speech synthesis.
    Speak,
    /// Recognition and synthesis sessions alternately.
    Mixed,
}

impl Scenario {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Recognize => "recognize",
            Scenario::Speak => "speak",
            Scenario::Mixed => "mixed",
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Too few RTP ports for the sessions.
    #[error(
        "rtp ports {start}-{end} hold {pairs} pairs, fewer than 2 per session for {sessions} sessions"
    )]
    TooFewPorts {
        /// Range start.
        start: u16,
        /// Range end.
        end: u16,
        /// Pairs in it.
        pairs: u16,
        /// Concurrent sessions asked for.
        sessions: usize,
    },
    /// A setting is out of range.
    #[error("{name} must be positive")]
    NotPositive {
        /// The setting.
        name: &'static str,
    },
}

/// A load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Where and how each session connects; `rtp_ports` is the whole client range, cut per slot.
    pub session: SessionConfig,
    /// What each session does.
    pub scenario: Scenario,
    /// Most sessions open at once.
    pub sessions: usize,
    /// Sessions opened per second.
    pub rate: f64,
    /// How long new sessions are opened.
    pub duration: Duration,
    /// Stop after opening this many sessions (for bounded runs).
    pub count: Option<u64>,
    /// Longest a session may take, end to end; it then fails as `timeout: session`.
    pub session_deadline: Duration,
    /// Recognition sessions.
    pub recognize: RecognizeInput,
    /// Synthesis sessions.
    pub speak: SpeakInput,
    /// The server's pid, to report its CPU use (same machine only).
    pub server_pid: Option<u32>,
    /// Strict: a violation fails the session (counted as `violation: <name>`); lenient: logged only.
    pub mode: Mode,
}

/// Cuts `range` into `slots` sub-ranges of whole even/odd pairs.
pub fn slot_ranges(range: PortRange, slots: usize) -> Result<Vec<PortRange>, LoadError> {
    let pairs = range.pairs();
    let per = usize::from(pairs) / slots.max(1);
    if slots == 0 || per < 2 {
        return Err(LoadError::TooFewPorts {
            start: range.start,
            end: range.end,
            pairs,
            sessions: slots,
        });
    }
    let per = u16::try_from(per).unwrap_or(u16::MAX);
    Ok((0..slots)
        .map(|i| {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            let start = range.start + i * per * 2;
            PortRange::new(start, start + per * 2 - 1)
        })
        .collect())
}

/// Runs the load and returns its report; `progress` is called about four times a second.
pub async fn run(
    config: LoadConfig,
    mut progress: impl FnMut(&Snapshot),
) -> Result<LoadReport, LoadError> {
    if config.rate <= 0.0 || !config.rate.is_finite() {
        return Err(LoadError::NotPositive { name: "rate" });
    }
    let ranges = slot_ranges(
        PortRange::new(config.session.rtp_ports.0, config.session.rtp_ports.1),
        config.sessions,
    )?;
    let mut free: Vec<(usize, PortAllocator)> = ranges
        .into_iter()
        .map(PortAllocator::new)
        .enumerate()
        .rev()
        .collect();
    let client_cpu_before = cpu_seconds(std::process::id());
    let server_cpu_before = config.server_pid.and_then(cpu_seconds);
    let start = Instant::now();
    let stop_opening = start + config.duration;
    let interval = Duration::from_secs_f64(1.0 / config.rate);
    let mut next_open = tokio::time::Instant::from_std(start);
    let mut recorder = Recorder::new(start);
    let mut tasks: JoinSet<(usize, PortAllocator, Outcome)> = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let shared = std::sync::Arc::new(config.clone());
    loop {
        let now = Instant::now();
        let opening = now < stop_opening && config.count.is_none_or(|c| recorder.attempted() < c);
        if !opening && tasks.is_empty() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep_until(next_open), if opening && !free.is_empty() => {
                let Some((slot, ports)) = free.pop() else { continue };
                let index = recorder.attempted();
                recorder.started(tasks.len() + 1);
                let config = shared.clone();
                tasks.spawn(async move {
                    let (ports, outcome) = one_session(&config, index, ports).await;
                    (slot, ports, outcome)
                });
                // A run that waited for a free slot does not burst to catch up.
                let now = tokio::time::Instant::now();
                let floor = now.checked_sub(interval).unwrap_or(now);
                next_open = (next_open + interval).max(floor);
            }
            Some(joined) = tasks.join_next() => {
                if let Ok((slot, ports, outcome)) = joined {
                    recorder.finished(&outcome);
                    free.push((slot, ports));
                }
            }
            _ = tick.tick() => progress(&recorder.snapshot(Instant::now(), tasks.len())),
        }
    }
    progress(&recorder.snapshot(Instant::now(), 0));
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = |pid: u32, before: Option<f64>| {
        let used = cpu_seconds(pid)? - before?;
        Some(CpuUse {
            pid,
            cpu_s: used,
            percent_of_one_core: if elapsed > 0.0 {
                used / elapsed * 100.0
            } else {
                0.0
            },
        })
    };
    let client_cpu = cpu(std::process::id(), client_cpu_before);
    let server_cpu = config.server_pid.and_then(|p| cpu(p, server_cpu_before));
    let parts = recorder.into_parts();
    Ok(LoadReport {
        scenario: config.scenario.as_str().to_owned(),
        profile: match config.session.profile {
            ClientProfile::Asterisk => "asterisk",
            _ => "freeswitch",
        }
        .to_owned(),
        server: config.session.server.to_string(),
        max_concurrent: config.sessions,
        peak_concurrent: parts.peak_concurrent,
        rate_per_s: config.rate,
        duration_s: config.duration.as_secs_f64(),
        elapsed_s: elapsed,
        attempted: parts.attempted,
        succeeded: parts.succeeded,
        failed: parts.failed,
        completed_before_end_of_input: parts.completed_before_end_of_input,
        failures: parts.failures,
        failure_examples: parts.failure_examples,
        latency: parts.latency,
        distributions: parts.distributions,
        client_cpu,
        server_cpu,
        timeline: parts.timeline,
    })
}

/// One session of the scenario, bounded by the session deadline; gives the port allocator back.
async fn one_session(
    config: &LoadConfig,
    index: u64,
    mut ports: PortAllocator,
) -> (PortAllocator, Outcome) {
    let started = Instant::now();
    let speak = match config.scenario {
        Scenario::Recognize => false,
        Scenario::Speak => true,
        Scenario::Mixed => index % 2 == 1,
    };
    let mut timings = Timings::default();
    let deadline = started + config.session_deadline;
    let run = async {
        if speak {
            let input = &config.speak;
            let mode = config.mode;
            script::speak(
                &config.session,
                &mut ports,
                input,
                &mut timings,
                deadline,
                mode,
            )
            .await
        } else {
            let input = &config.recognize;
            let mode = config.mode;
            script::recognize(
                &config.session,
                &mut ports,
                input,
                &mut timings,
                deadline,
                mode,
            )
            .await
        }
    };
    // A backstop: the scripts end themselves at the deadline and then send BYE, which has its own timeout.
    let backstop = config.session_deadline + config.session.timeout * 2;
    let result = tokio::time::timeout(backstop, run).await;
    let failure = match result {
        Ok(Ok(())) => None,
        Ok(Err(f)) => Some(f),
        Err(_) => Some(Failure::Timeout("session")),
    };
    timings.total = Some(started.elapsed());
    let outcome = Outcome {
        started,
        resource: if speak {
            ResourceType::Speechsynth
        } else {
            ResourceType::Speechrecog
        },
        timings,
        failure,
    };
    (ports, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_never_overlap() {
        let ranges = slot_ranges(PortRange::new(30000, 59999), 1000).unwrap();
        assert_eq!(ranges.len(), 1000);
        for w in ranges.windows(2) {
            assert!(w[0].end < w[1].start, "{:?} {:?}", w[0], w[1]);
            assert_eq!(w[0].start % 2, 0);
            assert!(w[0].pairs() >= 2);
        }
        assert!(ranges[999].end <= 59999);
        assert!(matches!(
            slot_ranges(PortRange::new(30000, 30009), 10),
            Err(LoadError::TooFewPorts { .. })
        ));
    }
}
