//! Prometheus metrics of the server (text exposition format 0.0.4), served on `GET /metrics` by [`crate::http`].
//!
//! A small registry of our own rather than the `metrics` facade and `metrics-exporter-prometheus`: the server
//! has a fixed set of families, every label value is bounded by a type here (methods, resources, status and
//! cause codes), and rendering the text format takes a page. That avoids a global recorder install, an
//! exporter with its own HTTP stack, and a dozen dependencies for what fits in this file.
//!
//! Names follow `style.md`: `mrcp_`-prefixed, snake_case, unit suffix, bounded labels (never a Call-ID).
//! The typed functions at the bottom record into one process-wide [`Registry`]; tests build their own.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use mrcp_proto::engine::EngineError;
use mrcp_proto::mrcp::{Method, ResourceType, StatusCode};
use tts_adapters::cache::PromptCache;

/// The most label sets one family keeps; beyond it, new sets are counted under `overflow` label values so a
/// misbehaving peer or engine cannot grow memory.
pub const MAX_SERIES: usize = 512;

/// Bucket bounds (seconds) of `mrcp_recognition_latency_seconds`: from a fast DTMF match to a slow cloud engine.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Bucket bounds (seconds) of `mrcp_rtp_jitter_seconds`, observed once per RTP stream when it closes.
pub const JITTER_BUCKETS: [f64; 9] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32];

/// How a session ended, the `outcome` label of `mrcp_sessions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutcome {
    /// The client sent BYE (or the dialog failed at the SIP layer).
    Bye,
    /// The MRCP control connection closed.
    ControlClosed,
    /// No RTP for the inactivity limit.
    RtpInactive,
    /// No request and no audio for the idle limit.
    Idle,
    /// The server stopped or its drain deadline passed.
    Shutdown,
    /// The INVITE was accepted for set-up but refused (bad offer, no ports) or its 200 could not be sent.
    SetupFailed,
}

impl SessionOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionOutcome::Bye => "bye",
            SessionOutcome::ControlClosed => "control_closed",
            SessionOutcome::RtpInactive => "rtp_inactive",
            SessionOutcome::Idle => "idle",
            SessionOutcome::Shutdown => "shutdown",
            SessionOutcome::SetupFailed => "setup_failed",
        }
    }
}

/// A counter family with labels.
#[derive(Debug, Default)]
struct Family {
    series: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl Family {
    fn add(&self, labels: &[&str], n: u64) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let key: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        let key = if series.contains_key(&key) || series.len() < MAX_SERIES {
            key
        } else {
            vec!["overflow".to_owned(); labels.len()]
        };
        *series.entry(key).or_insert(0) += n;
    }

    fn render(&self, out: &mut String, name: &str, help: &str, names: &[&str]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        for (values, n) in series.iter() {
            let _ = writeln!(out, "{name}{} {n}", label_set(names, values));
        }
    }
}

/// A histogram without labels.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    inner: Mutex<HistogramState>,
}

#[derive(Debug, Default)]
struct HistogramState {
    /// Non-cumulative counts per bucket; the last is `+Inf`.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            inner: Mutex::new(HistogramState {
                buckets: vec![0; bounds.len() + 1],
                ..HistogramState::default()
            }),
        }
    }

    fn observe(&self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        let slot = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bucket) = state.buckets.get_mut(slot) {
            *bucket += 1;
        }
        state.sum += value;
        state.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut cumulative = 0;
        for (i, n) in state.buckets.iter().enumerate() {
            cumulative += n;
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum {}", state.sum);
        let _ = writeln!(out, "{name}_count {}", state.count);
    }
}

/// Every metric of the server.
#[derive(Debug)]
pub struct Registry {
    sessions_active: AtomicI64,
    sessions_max: AtomicU64,
    sessions_total: Family,
    requests_total: Family,
    completion_causes_total: Family,
    recognition_latency: Histogram,
    rtp_packets_lost_total: AtomicU64,
    rtp_jitter: Histogram,
    engine_errors_total: Family,
    engine_requests_total: Family,
    engine_results_total: Family,
    engine_result_microseconds_total: Family,
    invites_rejected_total: Family,
    draining: AtomicI64,
    /// The RTP port range (`min << 16 | max`) for `mrcp_rtp_ports_in_use`.
    rtp_range: AtomicU64,
    refused_total: Family,
    /// The prompt cache whose counters `mrcp_tts_cache_*` show, read at each scrape.
    tts_cache: Mutex<Option<Arc<PromptCache>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry {
            sessions_active: AtomicI64::new(0),
            sessions_max: AtomicU64::new(0),
            sessions_total: Family::default(),
            requests_total: Family::default(),
            completion_causes_total: Family::default(),
            recognition_latency: Histogram::new(&LATENCY_BUCKETS),
            rtp_packets_lost_total: AtomicU64::new(0),
            rtp_jitter: Histogram::new(&JITTER_BUCKETS),
            engine_errors_total: Family::default(),
            engine_requests_total: Family::default(),
            engine_results_total: Family::default(),
            engine_result_microseconds_total: Family::default(),
            invites_rejected_total: Family::default(),
            draining: AtomicI64::new(0),
            rtp_range: AtomicU64::new(0),
            refused_total: Family::default(),
            tts_cache: Mutex::new(None),
        }
    }

    /// A session took a slot.
    pub fn session_started(&self) {
        self.sessions_active.fetch_add(1, Ordering::Relaxed);
    }

    /// A session gave its slot back.
    pub fn session_released(&self) {
        self.sessions_active.fetch_sub(1, Ordering::Relaxed);
    }

    /// A session ended, for `mrcp_sessions_total{outcome}`.
    pub fn session_outcome(&self, outcome: SessionOutcome) {
        self.sessions_total.add(&[outcome.as_str()], 1);
    }

    /// The configured capacity (`mrcp_sessions_max`), so load can be computed from the scrape alone.
    pub fn set_capacity(&self, max: usize) {
        self.sessions_max
            .store(u64::try_from(max).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The RTP port range, for `mrcp_rtp_ports_in_use`.
    pub fn set_rtp_range(&self, min: u16, max: u16) {
        self.rtp_range
            .store(u64::from(min) << 16 | u64::from(max), Ordering::Relaxed);
    }

    /// The prompt cache the `mrcp_tts_cache_*` families report (none: they stay at 0).
    pub fn set_tts_cache(&self, cache: Option<Arc<PromptCache>>) {
        *self
            .tts_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = cache;
    }

    /// A peer refused by an access or limit rule, for `mrcp_refused_total{listener,reason}`.
    pub fn refused(&self, listener: &'static str, reason: &'static str) {
        self.refused_total.add(&[listener, reason], 1);
    }

    /// Whether the server is draining (`mrcp_draining` 1 or 0).
    pub fn set_draining(&self, draining: bool) {
        self.draining.store(i64::from(draining), Ordering::Relaxed);
    }

    /// One MRCP response sent, for `mrcp_requests_total{resource,method,status}`. Extension methods count as
    /// `other` and a request without a usable channel as resource `unknown`, so labels stay bounded.
    pub fn request(&self, resource: Option<ResourceType>, method: &Method, status: StatusCode) {
        let method = match method {
            Method::Other(_) => "other",
            known => known.as_str(),
        };
        let resource = resource.map_or("unknown", ResourceType::as_str);
        self.requests_total
            .add(&[resource, method, &status.code().to_string()], 1);
    }

    /// One request completed with a Completion-Cause (RFC 6787 §8.4.2, §9.4.11), written as its three digits.
    pub fn completion(&self, resource: ResourceType, cause: u16) {
        let cause = if cause <= 999 {
            format!("{cause:03}")
        } else {
            "other".to_owned()
        };
        self.completion_causes_total
            .add(&[resource.as_str(), &cause], 1);
    }

    /// Time from the end of speech (or the last digit) to RECOGNITION-COMPLETE.
    pub fn recognition_latency(&self, latency: Duration) {
        self.recognition_latency.observe(latency.as_secs_f64());
    }

    /// An RTP stream closed: the packets it lost and its last interarrival jitter (RFC 3550 §6.4.1).
    pub fn rtp_report(&self, lost: u64, jitter: Duration) {
        self.rtp_packets_lost_total
            .fetch_add(lost, Ordering::Relaxed);
        self.rtp_jitter.observe(jitter.as_secs_f64());
    }

    /// An engine failed a request. `engine` is a configured engine name; `kind` is one of a few fixed words:
    /// the [`mrcp_proto::engine::EngineErrorKind`] labels, or `no_result` for a stream that ended without one.
    pub fn engine_error(&self, engine: &str, kind: &str) {
        self.engine_errors_total.add(&[engine, kind], 1);
    }

    /// A request was handed to an engine; `resource` is `speechrecog` or `speechsynth`.
    pub fn engine_request(&self, engine: &str, resource: &str) {
        self.engine_requests_total.add(&[engine, resource], 1);
    }

    /// A recognizer gave its final result `latency` after the caller's input ended.
    pub fn engine_result(&self, engine: &str, latency: Duration) {
        self.engine_results_total.add(&[engine], 1);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.engine_result_microseconds_total.add(&[engine], micros);
    }

    /// An INVITE refused with `status` (503 at capacity or draining, 488 for an offer we cannot serve…).
    pub fn invite_rejected(&self, status: u16) {
        self.invites_rejected_total.add(&[&status.to_string()], 1);
    }

    /// Sessions running now, as counted here.
    pub fn sessions_active(&self) -> i64 {
        self.sessions_active.load(Ordering::Relaxed)
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        gauge(
            &mut out,
            "mrcp_sessions_active",
            "Sessions running now.",
            self.sessions_active.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "mrcp_sessions_max",
            "Sessions the server accepts at once (server.max_sessions).",
            self.sessions_max.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "mrcp_draining",
            "1 while the server drains: OPTIONS and new INVITEs get 503.",
            self.draining.load(Ordering::Relaxed),
        );
        self.sessions_total.render(
            &mut out,
            "mrcp_sessions_total",
            "Sessions ended, by how they ended.",
            &["outcome"],
        );
        self.requests_total.render(
            &mut out,
            "mrcp_requests_total",
            "MRCP requests answered, by resource, method and response status.",
            &["resource", "method", "status"],
        );
        self.completion_causes_total.render(
            &mut out,
            "mrcp_completion_causes_total",
            "Requests completed, by resource and Completion-Cause code.",
            &["resource", "cause"],
        );
        self.recognition_latency.render(
            &mut out,
            "mrcp_recognition_latency_seconds",
            "Time from the end of speech to RECOGNITION-COMPLETE.",
        );
        counter(
            &mut out,
            "mrcp_rtp_packets_lost_total",
            "RTP packets lost on received streams.",
            self.rtp_packets_lost_total.load(Ordering::Relaxed),
        );
        self.rtp_jitter.render(
            &mut out,
            "mrcp_rtp_jitter_seconds",
            "Interarrival jitter of received RTP streams when they close.",
        );
        self.engine_errors_total.render(
            &mut out,
            "mrcp_engine_errors_total",
            "Engine failures, by engine and kind.",
            &["engine", "kind"],
        );
        self.engine_requests_total.render(
            &mut out,
            "mrcp_engine_requests_total",
            "Requests handed to engines, by engine and resource.",
            &["engine", "resource"],
        );
        self.engine_results_total.render(
            &mut out,
            "mrcp_engine_results_total",
            "Final recognition results, by engine.",
            &["engine"],
        );
        self.engine_result_microseconds_total.render(
            &mut out,
            "mrcp_engine_result_microseconds_total",
            "Time from the end of the caller's input to the engine's final result, summed, by engine \
             (divide by mrcp_engine_results_total for the mean).",
            &["engine"],
        );
        self.invites_rejected_total.render(
            &mut out,
            "mrcp_invites_rejected_total",
            "INVITEs refused, by SIP status.",
            &["status"],
        );
        self.refused_total.render(
            &mut out,
            "mrcp_refused_total",
            "Peers refused by an access or limit rule, by listener and reason.",
            &["listener", "reason"],
        );
        self.render_tts_cache(&mut out);
        let range = self.rtp_range.load(Ordering::Relaxed);
        let range = (
            u16::try_from((range >> 16) & 0xffff).unwrap_or(0),
            u16::try_from(range & 0xffff).unwrap_or(0),
        );
        crate::resources::render(&mut out, &crate::resources::snapshot(range));
        out
    }

    fn render_tts_cache(&self, out: &mut String) {
        let stats = self
            .tts_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|cache| cache.stats())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "# HELP mrcp_tts_cache_requests_total SPEAKs seen by the prompt cache: played from a recording \
             (hit), following one being made (joined), synthesized (miss), or not cacheable (bypassed).\n\
             # TYPE mrcp_tts_cache_requests_total counter"
        );
        for (outcome, n) in [
            ("hit", stats.hits),
            ("joined", stats.joined),
            ("miss", stats.misses),
            ("bypassed", stats.bypassed),
        ] {
            let _ = writeln!(
                out,
                "mrcp_tts_cache_requests_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        counter(
            out,
            "mrcp_tts_cache_evictions_total",
            "Recordings dropped for space or age.",
            stats.evicted,
        );
        gauge(
            out,
            "mrcp_tts_cache_entries",
            "Prompts the cache holds.",
            stats.entries,
        );
        gauge(
            out,
            "mrcp_tts_cache_bytes",
            "Bytes of audio (and keys) the cache holds.",
            stats.bytes,
        );
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    unlabelled(out, "gauge", name, help, value);
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    unlabelled(out, "counter", name, help, value);
}

/// A family of one unlabelled sample: its HELP and TYPE lines, then the value.
fn unlabelled(out: &mut String, kind: &str, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// `{a="x",b="y"}`, with values escaped as the text format requires (backslash, quote, newline).
fn label_set(names: &[&str], values: &[String]) -> String {
    let mut out = String::from("{");
    let pairs = names.iter().copied().zip(values.iter().map(String::as_str));
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

static GLOBAL: LazyLock<Registry> = LazyLock::new(Registry::new);

/// The process-wide registry.
pub fn global() -> &'static Registry {
    &GLOBAL
}

/// See [`Registry::session_outcome`].
pub fn session_outcome(outcome: SessionOutcome) {
    GLOBAL.session_outcome(outcome);
}

/// See [`Registry::request`].
pub fn request(resource: Option<ResourceType>, method: &Method, status: StatusCode) {
    GLOBAL.request(resource, method, status);
}

/// See [`Registry::completion`].
pub fn completion(resource: ResourceType, cause: u16) {
    GLOBAL.completion(resource, cause);
}

/// See [`Registry::recognition_latency`].
pub fn recognition_latency(latency: Duration) {
    GLOBAL.recognition_latency(latency);
}

/// See [`Registry::rtp_report`]. `jitter_units` is RFC 3550 jitter in timestamp units, `clock_rate` the
/// payload's RTP clock (8000 for PCMU/PCMA).
pub fn rtp_report(lost: u64, jitter_units: u32, clock_rate: u32) {
    let jitter = if clock_rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(f64::from(jitter_units) / f64::from(clock_rate))
    };
    GLOBAL.rtp_report(lost, jitter);
}

/// See [`Registry::engine_error`].
pub fn engine_error(engine: &str, kind: &str) {
    GLOBAL.engine_error(engine, kind);
}

/// See [`Registry::engine_request`].
pub fn engine_request(engine: &str, resource: &str) {
    GLOBAL.engine_request(engine, resource);
}

/// See [`Registry::engine_result`].
pub fn engine_result(engine: &str, latency: Duration) {
    GLOBAL.engine_result(engine, latency);
}

/// An engine's error value, counted under its engine name and kind (`unavailable`, `auth`, `bad_request`,
/// `timeout`, `internal`).
pub fn engine_failed(error: &EngineError) {
    GLOBAL.engine_error(&error.engine, error.kind.as_str());
}

/// See [`Registry::invite_rejected`].
pub fn invite_rejected(status: u16) {
    GLOBAL.invite_rejected(status);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_help_and_type() {
        let r = Registry::new();
        let text = r.render();
        for name in [
            "mrcp_sessions_active",
            "mrcp_sessions_total",
            "mrcp_requests_total",
            "mrcp_completion_causes_total",
            "mrcp_recognition_latency_seconds",
            "mrcp_rtp_packets_lost_total",
            "mrcp_rtp_jitter_seconds",
            "mrcp_engine_errors_total",
            "mrcp_engine_requests_total",
            "mrcp_engine_results_total",
            "mrcp_engine_result_microseconds_total",
            "mrcp_invites_rejected_total",
            "mrcp_tts_cache_requests_total",
            "mrcp_tts_cache_evictions_total",
            "mrcp_tts_cache_entries",
            "mrcp_tts_cache_bytes",
        ] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
        }
        assert!(text.contains("mrcp_sessions_active 0\n"));
        assert!(text.contains("mrcp_rtp_packets_lost_total 0\n"));
    }

    #[test]
    fn counts_requests_with_bounded_labels() {
        let r = Registry::new();
        let recognize: Method = "RECOGNIZE".parse().unwrap();
        r.request(
            Some(ResourceType::Speechrecog),
            &recognize,
            StatusCode::SUCCESS,
        );
        r.request(
            Some(ResourceType::Speechrecog),
            &recognize,
            StatusCode::SUCCESS,
        );
        let vendor: Method = "X-FROBNICATE".parse().unwrap();
        r.request(None, &vendor, StatusCode::MANDATORY_HEADER_MISSING);
        let text = r.render();
        assert!(
            text.contains(
                "mrcp_requests_total{resource=\"speechrecog\",method=\"RECOGNIZE\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "mrcp_requests_total{resource=\"unknown\",method=\"other\",status=\"406\"} 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn completion_causes_are_three_digits() {
        let r = Registry::new();
        r.completion(ResourceType::Speechrecog, 0);
        r.completion(ResourceType::Speechrecog, 2);
        let text = r.render();
        assert!(
            text.contains(
                "mrcp_completion_causes_total{resource=\"speechrecog\",cause=\"000\"} 1\n"
            )
        );
        assert!(
            text.contains(
                "mrcp_completion_causes_total{resource=\"speechrecog\",cause=\"002\"} 1\n"
            )
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let r = Registry::new();
        r.recognition_latency(Duration::from_millis(3));
        r.recognition_latency(Duration::from_millis(300));
        r.recognition_latency(Duration::from_secs(100));
        r.recognition_latency(Duration::from_millis(300));
        let text = r.render();
        let name = "mrcp_recognition_latency_seconds";
        assert!(text.contains(&format!("{name}_bucket{{le=\"0.005\"}} 1\n")));
        assert!(text.contains(&format!("{name}_bucket{{le=\"0.25\"}} 1\n")));
        assert!(text.contains(&format!("{name}_bucket{{le=\"0.5\"}} 3\n")));
        assert!(text.contains(&format!("{name}_bucket{{le=\"30\"}} 3\n")));
        assert!(text.contains(&format!("{name}_bucket{{le=\"+Inf\"}} 4\n")));
        assert!(text.contains(&format!("{name}_count 4\n")));
        assert!(text.contains(&format!("{name}_sum 100.603\n")), "{text}");
    }

    #[test]
    fn series_are_capped() {
        let r = Registry::new();
        for i in 0..(MAX_SERIES + 10) {
            r.engine_error(&format!("engine{i}"), "error");
        }
        let text = r.render();
        let lines = text
            .lines()
            .filter(|l| l.starts_with("mrcp_engine_errors_total{"))
            .count();
        assert_eq!(lines, MAX_SERIES + 1);
        assert!(
            text.contains("mrcp_engine_errors_total{engine=\"overflow\",kind=\"overflow\"} 10\n")
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let r = Registry::new();
        r.engine_error("a\"b\\c\nd", "error");
        assert!(
            r.render().contains(
                "mrcp_engine_errors_total{engine=\"a\\\"b\\\\c\\nd\",kind=\"error\"} 1\n"
            )
        );
    }

    #[test]
    fn sessions_gauge_and_rtp() {
        let r = Registry::new();
        r.session_started();
        r.session_started();
        r.session_released();
        r.session_outcome(SessionOutcome::Bye);
        r.rtp_report(3, Duration::from_millis(4));
        r.invite_rejected(503);
        r.set_capacity(10);
        let text = r.render();
        assert!(text.contains("mrcp_sessions_active 1\n"));
        assert!(text.contains("mrcp_sessions_max 10\n"));
        assert!(text.contains("mrcp_sessions_total{outcome=\"bye\"} 1\n"));
        assert!(text.contains("mrcp_rtp_packets_lost_total 3\n"));
        assert!(text.contains("mrcp_rtp_jitter_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("mrcp_invites_rejected_total{status=\"503\"} 1\n"));
    }
}
