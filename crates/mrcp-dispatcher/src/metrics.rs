//! The dispatcher's counters and their Prometheus text exposition (format 0.0.4), served on
//! `GET /metrics` by [`crate::http`].
//!
//! Like the server's registry, a fixed set of families rendered by hand: every label value is
//! bounded (a destination URI from the configuration, a status class, a probe result), so no
//! global recorder or exporter crate is needed. Names are `mrcp_dispatcher_`-prefixed snake case.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `mrcp_dispatcher_destination_state` | gauge (1 for the current state) | `destination`, `state` = up, down, draining |
//! | `mrcp_dispatcher_destination_load` | gauge (last `X-Load` reported) | `destination` |
//! | `mrcp_dispatcher_requests_forwarded_total` | counter (INVITE branches sent) | `destination` |
//! | `mrcp_dispatcher_failovers_total` | counter (branches retried elsewhere) | `destination` |
//! | `mrcp_dispatcher_responses_total` | counter (final answers to forwarded INVITEs) | `destination`, `class` = 2xx … 6xx, timeout |
//! | `mrcp_dispatcher_probes_total` | counter (OPTIONS probe results) | `destination`, `result` = ok, draining, failed, timeout |
//! | `mrcp_dispatcher_destinations_in_rotation` | gauge | — |
//! | `mrcp_dispatcher_invites_total` | counter (new INVITEs received) | — |
//! | `mrcp_dispatcher_no_destination_total` | counter (INVITEs answered 503: nothing in rotation) | — |

use std::fmt::Write as _;

use crate::health::HealthState;

/// Final answers a destination gave to forwarded INVITEs, by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseCounts {
    /// 2xx, 3xx, 4xx, 5xx, 6xx in that order.
    pub classes: [u64; 5],
    /// No final answer within `invite_timeout`, or a transport error.
    pub timeouts: u64,
}

impl ResponseCounts {
    /// Counts a final `status` (values outside 200..=699 are ignored).
    pub fn record(&mut self, status: u16) {
        let class = usize::from(status / 100);
        if let Some(slot) = class.checked_sub(2).and_then(|i| self.classes.get_mut(i)) {
            *slot += 1;
        }
    }
}

/// Results of the OPTIONS probes of a destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeCounts {
    /// 2xx.
    pub ok: u64,
    /// 503: draining or full.
    pub draining: u64,
    /// Any other reply.
    pub failed: u64,
    /// No reply within the probe timeout (or the probe could not be sent).
    pub timeout: u64,
}

/// Counters and state of one destination.
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationStats {
    /// The destination's URI.
    pub uri: String,
    /// Its health.
    pub state: HealthState,
    /// INVITEs forwarded to it (first attempts and failovers).
    pub invites: u64,
    /// INVITE branches to it that failed and were retried elsewhere.
    pub failovers: u64,
    /// Load it last reported in `X-Load` (`active/max` as a fraction, or a plain number).
    pub load: Option<f64>,
    /// Its final answers to forwarded INVITEs.
    pub responses: ResponseCounts,
    /// Its probe results.
    pub probes: ProbeCounts,
}

/// Counters of the whole dispatcher and of each destination.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Per destination, in [`crate::DestId`] order.
    pub destinations: Vec<DestinationStats>,
    /// New INVITEs received.
    pub invites: u64,
    /// INVITEs answered 503 because no destination was in rotation.
    pub no_destination: u64,
}

impl Stats {
    /// Whether at least one destination takes new calls (what `/healthz` reports).
    pub fn any_in_rotation(&self) -> bool {
        self.destinations.iter().any(|d| d.state.in_rotation())
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let dests = &self.destinations;
        family(
            &mut out,
            "mrcp_dispatcher_destination_state",
            "gauge",
            "1 for the destination's current state (up, down, draining)",
        );
        for d in dests {
            for state in ["up", "down", "draining"] {
                let v = u8::from(d.state.as_str() == state);
                let _ = writeln!(
                    out,
                    "mrcp_dispatcher_destination_state{{destination=\"{}\",state=\"{state}\"}} {v}",
                    escape(&d.uri)
                );
            }
        }
        family(
            &mut out,
            "mrcp_dispatcher_destination_load",
            "gauge",
            "load the destination last reported in X-Load (fraction of its capacity)",
        );
        for d in dests {
            if let Some(load) = d.load {
                let _ = writeln!(
                    out,
                    "mrcp_dispatcher_destination_load{{destination=\"{}\"}} {load}",
                    escape(&d.uri)
                );
            }
        }
        per_destination(
            &mut out,
            dests,
            "mrcp_dispatcher_requests_forwarded_total",
            "INVITE branches forwarded to the destination",
            |d| d.invites,
        );
        per_destination(
            &mut out,
            dests,
            "mrcp_dispatcher_failovers_total",
            "INVITE branches to the destination that failed and were retried elsewhere",
            |d| d.failovers,
        );
        family(
            &mut out,
            "mrcp_dispatcher_responses_total",
            "counter",
            "final answers of the destination to forwarded INVITEs, by class",
        );
        for d in dests {
            let classes = ["2xx", "3xx", "4xx", "5xx", "6xx"]
                .into_iter()
                .zip(d.responses.classes)
                .chain([("timeout", d.responses.timeouts)]);
            for (class, v) in classes {
                let _ = writeln!(
                    out,
                    "mrcp_dispatcher_responses_total{{destination=\"{}\",class=\"{class}\"}} {v}",
                    escape(&d.uri)
                );
            }
        }
        family(
            &mut out,
            "mrcp_dispatcher_probes_total",
            "counter",
            "OPTIONS probe results of the destination",
        );
        for d in dests {
            let p = d.probes;
            for (result, v) in [
                ("ok", p.ok),
                ("draining", p.draining),
                ("failed", p.failed),
                ("timeout", p.timeout),
            ] {
                let _ = writeln!(
                    out,
                    "mrcp_dispatcher_probes_total{{destination=\"{}\",result=\"{result}\"}} {v}",
                    escape(&d.uri)
                );
            }
        }
        let in_rotation = dests.iter().filter(|d| d.state.in_rotation()).count();
        for (name, kind, help, v) in [
            (
                "mrcp_dispatcher_destinations_in_rotation",
                "gauge",
                "destinations taking new calls",
                in_rotation as u64,
            ),
            (
                "mrcp_dispatcher_invites_total",
                "counter",
                "new INVITEs received",
                self.invites,
            ),
            (
                "mrcp_dispatcher_no_destination_total",
                "counter",
                "INVITEs answered 503 because no destination was in rotation",
                self.no_destination,
            ),
        ] {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {v}");
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn per_destination(
    out: &mut String,
    dests: &[DestinationStats],
    name: &str,
    help: &str,
    value: impl Fn(&DestinationStats) -> u64,
) {
    family(out, name, "counter", help);
    for d in dests {
        let _ = writeln!(
            out,
            "{name}{{destination=\"{}\"}} {}",
            escape(&d.uri),
            value(d)
        );
    }
}

/// A label value with `\`, `"` and newlines escaped (text format 0.0.4).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(uri: &str, state: HealthState) -> DestinationStats {
        DestinationStats {
            uri: uri.into(),
            state,
            invites: 0,
            failovers: 0,
            load: None,
            responses: ResponseCounts::default(),
            probes: ProbeCounts::default(),
        }
    }

    #[test]
    fn renders_every_family_with_bounded_labels() {
        let mut a = dest("sip:10.0.0.1:5060", HealthState::Up);
        a.invites = 7;
        a.failovers = 1;
        a.load = Some(0.25);
        a.responses.record(200);
        a.responses.record(200);
        a.responses.record(503);
        a.responses.record(99);
        a.responses.record(700);
        a.responses.timeouts = 1;
        a.probes.ok = 3;
        let b = dest("sip:10.0.0.2:5060", HealthState::Draining { successes: 0 });
        let stats = Stats {
            destinations: vec![a, b],
            invites: 6,
            no_destination: 0,
        };
        let text = stats.render();
        for line in [
            "mrcp_dispatcher_destination_state{destination=\"sip:10.0.0.1:5060\",state=\"up\"} 1",
            "mrcp_dispatcher_destination_state{destination=\"sip:10.0.0.2:5060\",state=\"draining\"} 1",
            "mrcp_dispatcher_destination_state{destination=\"sip:10.0.0.2:5060\",state=\"up\"} 0",
            "mrcp_dispatcher_destination_load{destination=\"sip:10.0.0.1:5060\"} 0.25",
            "mrcp_dispatcher_requests_forwarded_total{destination=\"sip:10.0.0.1:5060\"} 7",
            "mrcp_dispatcher_failovers_total{destination=\"sip:10.0.0.1:5060\"} 1",
            "mrcp_dispatcher_responses_total{destination=\"sip:10.0.0.1:5060\",class=\"2xx\"} 2",
            "mrcp_dispatcher_responses_total{destination=\"sip:10.0.0.1:5060\",class=\"5xx\"} 1",
            "mrcp_dispatcher_responses_total{destination=\"sip:10.0.0.1:5060\",class=\"timeout\"} 1",
            "mrcp_dispatcher_probes_total{destination=\"sip:10.0.0.1:5060\",result=\"ok\"} 3",
            "mrcp_dispatcher_destinations_in_rotation 1",
            "mrcp_dispatcher_invites_total 6",
            "# TYPE mrcp_dispatcher_no_destination_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(stats.any_in_rotation());
        assert!(!text.contains("destination=\"sip:10.0.0.2:5060\"} 0.")); // no load reported
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
