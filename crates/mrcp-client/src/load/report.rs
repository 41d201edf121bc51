//! What a load run measured: latency histograms (hdrhistogram, microseconds), failure counts by class,
//! a timeline of finished sessions, and the JSON report built from them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::script::Outcome;

/// Most timeline points kept in a report; later sessions are sampled so that the file stays small.
pub const MAX_TIMELINE: usize = 20_000;

/// The latency series a run records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Series {
    /// INVITE → 200 OK.
    SipSetup,
    /// Each MRCP request → its response.
    MrcpResponse,
    /// End of the input audio → RECOGNITION-COMPLETE.
    InputToComplete,
    /// Start of the input → RECOGNITION-COMPLETE.
    InputStartToComplete,
    /// SPEAK IN-PROGRESS → first TTS RTP packet.
    FirstAudio,
    /// SPEAK sent → first TTS RTP packet.
    FirstAudioFromRequest,
    /// RFC 3550 interarrival jitter of each TTS stream.
    TtsJitter,
    /// Largest gap between two packets of each TTS stream.
    TtsMaxGap,
    /// Whole session, INVITE to BYE.
    Session,
}

impl Series {
    /// Every series, in report order.
    pub const ALL: [Series; 9] = [
        Series::SipSetup,
        Series::MrcpResponse,
        Series::InputToComplete,
        Series::InputStartToComplete,
        Series::FirstAudio,
        Series::FirstAudioFromRequest,
        Series::TtsJitter,
        Series::TtsMaxGap,
        Series::Session,
    ];

    /// The synthesis series, whose distributions the report keeps.
    pub const TTS: [Series; 4] = [
        Series::FirstAudio,
        Series::FirstAudioFromRequest,
        Series::TtsJitter,
        Series::TtsMaxGap,
    ];

    /// The key in the JSON report.
    pub fn key(self) -> &'static str {
        match self {
            Series::SipSetup => "sip_setup",
            Series::MrcpResponse => "mrcp_response",
            Series::InputToComplete => "end_of_audio_to_complete",
            Series::InputStartToComplete => "start_of_input_to_complete",
            Series::FirstAudio => "first_tts_audio",
            Series::FirstAudioFromRequest => "first_tts_packet_from_speak",
            Series::TtsJitter => "tts_jitter",
            Series::TtsMaxGap => "tts_max_gap",
            Series::Session => "session",
        }
    }
}

/// Percentiles of one series, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Smallest.
    pub min_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// One bar of a distribution: samples at or below `le_ms` and above the previous bar's bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Upper bound, milliseconds.
    pub le_ms: f64,
    /// Samples in the bar.
    pub count: u64,
}

/// One finished session on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds from the start of the run to the session's start.
    pub t_s: f64,
    /// INVITE → 200 OK, if it got that far.
    pub sip_setup_ms: Option<f64>,
    /// Start of input → RECOGNITION-COMPLETE, or SPEAK → first audio.
    pub result_ms: Option<f64>,
    /// Whether it succeeded.
    pub ok: bool,
}

/// CPU time used by a process during the run, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// The process.
    pub pid: u32,
    /// User plus system seconds.
    pub cpu_s: f64,
    /// `cpu_s` over the wall time of the run, in percent of one core.
    pub percent_of_one_core: f64,
}

/// The JSON report of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// `recognize`, `speak` or `mixed`.
    pub scenario: String,
    /// `freeswitch` or `asterisk`.
    pub profile: String,
    /// The server's SIP address.
    pub server: String,
    /// The most sessions allowed at once (`--sessions`).
    pub max_concurrent: usize,
    /// The most sessions that were active at once.
    pub peak_concurrent: usize,
    /// Sessions opened per second (`--rate`).
    pub rate_per_s: f64,
    /// How long new sessions were opened (`--duration`), seconds.
    pub duration_s: f64,
    /// Wall time of the whole run, draining included, seconds.
    pub elapsed_s: f64,
    /// Sessions started.
    pub attempted: u64,
    /// Sessions that met every check.
    pub succeeded: u64,
    /// Sessions that failed.
    pub failed: u64,
    /// Recognitions whose result came before the end of their input audio (so not in
    /// `end_of_audio_to_complete`): DTMF grammars complete at the last digit.
    pub completed_before_end_of_input: u64,
    /// Failures by class (`sip 503`, `timeout: MRCP message`, `completion-cause 001`, …).
    pub failures: BTreeMap<String, u64>,
    /// The first description seen for each failure class.
    pub failure_examples: BTreeMap<String, String>,
    /// Latency percentiles by series (`sip_setup`, `mrcp_response`, `end_of_audio_to_complete`, …).
    pub latency: BTreeMap<String, LatencySummary>,
    /// Histograms (buckets growing by √2) of the synthesis series that have samples:
    /// `first_tts_audio`, `first_tts_packet_from_speak`, `tts_jitter`, `tts_max_gap`.
    #[serde(default)]
    pub distributions: BTreeMap<String, Vec<Bucket>>,
    /// CPU used by this client.
    pub client_cpu: Option<CpuUse>,
    /// CPU used by the server, when its pid was given.
    pub server_cpu: Option<CpuUse>,
    /// Finished sessions in order (at most [`MAX_TIMELINE`]).
    pub timeline: Vec<TimelinePoint>,
}

/// A live view of a run, for a progress display.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    /// Seconds since the start.
    pub elapsed_s: f64,
    /// Sessions now open.
    pub active: usize,
    /// Sessions that succeeded.
    pub succeeded: u64,
    /// Sessions that failed.
    pub failed: u64,
    /// Sessions started per second so far.
    pub rate_per_s: f64,
    /// Median result latency (start of input → RECOGNITION-COMPLETE, or SPEAK → first audio), ms.
    pub p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub p99_ms: f64,
}

/// Accumulates outcomes as sessions finish.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    histograms: BTreeMap<Series, Histogram<u64>>,
    result: Histogram<u64>,
    attempted: u64,
    succeeded: u64,
    failed: u64,
    peak: usize,
    failures: BTreeMap<String, u64>,
    examples: BTreeMap<String, String>,
    timeline: Vec<TimelinePoint>,
    finished: u64,
    stride: u64,
    before_end: u64,
}

fn histogram() -> Histogram<u64> {
    // One microsecond to one hour at three significant digits; auto-resize takes anything longer.
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_histogram()));
    h.auto(true);
    h
}

#[allow(clippy::panic)]
fn unreachable_histogram() -> Histogram<u64> {
    // Three significant digits are always accepted (hdrhistogram allows 0..=5).
    panic!("hdrhistogram refused 3 significant digits")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Recorder {
    /// A recorder for a run that started at `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            histograms: Series::ALL.iter().map(|s| (*s, histogram())).collect(),
            result: histogram(),
            attempted: 0,
            succeeded: 0,
            failed: 0,
            peak: 0,
            failures: BTreeMap::new(),
            examples: BTreeMap::new(),
            timeline: Vec::new(),
            finished: 0,
            stride: 1,
            before_end: 0,
        }
    }

    /// A session started; `active` counts it.
    pub fn started(&mut self, active: usize) {
        self.attempted += 1;
        self.peak = self.peak.max(active);
    }

    fn record(&mut self, series: Series, d: Duration) {
        if let Some(h) = self.histograms.get_mut(&series) {
            h.saturating_record(micros(d));
        }
    }

    /// A session finished.
    pub fn finished(&mut self, outcome: &Outcome) {
        let t = &outcome.timings;
        if let Some(d) = t.sip_setup {
            self.record(Series::SipSetup, d);
        }
        for d in &t.mrcp_responses {
            self.record(Series::MrcpResponse, *d);
        }
        if let Some(d) = t.input_to_complete {
            self.record(Series::InputToComplete, d);
        }
        if let Some(d) = t.input_start_to_complete {
            self.record(Series::InputStartToComplete, d);
        }
        if t.completed_before_end_of_input {
            self.before_end += 1;
        }
        if let Some(d) = t.first_audio {
            self.record(Series::FirstAudio, d);
        }
        if let Some(d) = t.first_audio_from_request {
            self.record(Series::FirstAudioFromRequest, d);
        }
        if let Some(d) = t.tts_jitter {
            self.record(Series::TtsJitter, d);
        }
        if let Some(d) = t.tts_max_gap {
            self.record(Series::TtsMaxGap, d);
        }
        if let Some(d) = t.total {
            self.record(Series::Session, d);
        }
        let result = t.input_start_to_complete.or(t.first_audio);
        if let Some(d) = result {
            self.result.saturating_record(micros(d));
        }
        match &outcome.failure {
            None => self.succeeded += 1,
            Some(f) => {
                self.failed += 1;
                let class = f.class();
                *self.failures.entry(class.clone()).or_default() += 1;
                self.examples.entry(class).or_insert_with(|| f.detail());
            }
        }
        self.finished += 1;
        // Every `stride`-th session; when the cap is reached, drop every other point and double the stride,
        // so the plot keeps spanning the whole run.
        if self.finished.is_multiple_of(self.stride) {
            if self.timeline.len() >= MAX_TIMELINE {
                let mut keep = false;
                self.timeline.retain(|_| {
                    keep = !keep;
                    keep
                });
                self.stride *= 2;
            }
            self.timeline.push(TimelinePoint {
                t_s: outcome
                    .started
                    .saturating_duration_since(self.start)
                    .as_secs_f64(),
                sip_setup_ms: t.sip_setup.map(|d| d.as_secs_f64() * 1000.0),
                result_ms: result.map(|d| d.as_secs_f64() * 1000.0),
                ok: outcome.failure.is_none(),
            });
        }
    }

    /// The live view.
    pub fn snapshot(&self, now: Instant, active: usize) -> Snapshot {
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        Snapshot {
            elapsed_s: elapsed,
            active,
            succeeded: self.succeeded,
            failed: self.failed,
            rate_per_s: if elapsed > 0.0 {
                self.attempted as f64 / elapsed
            } else {
                0.0
            },
            p50_ms: ms(self.result.value_at_quantile(0.5)),
            p99_ms: ms(self.result.value_at_quantile(0.99)),
        }
    }

    /// Percentiles of one series.
    pub fn summary(&self, series: Series) -> LatencySummary {
        let Some(h) = self.histograms.get(&series) else {
            return LatencySummary::default();
        };
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min_ms: ms(h.min()),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }

    /// The distribution of one series in buckets growing by √2 from 10 µs, from the first non-empty one to
    /// the last.
    pub fn distribution(&self, series: Series) -> Vec<Bucket> {
        let Some(h) = self.histograms.get(&series).filter(|h| !h.is_empty()) else {
            return Vec::new();
        };
        let mut buckets: Vec<Bucket> = h
            .iter_log(10, std::f64::consts::SQRT_2)
            .map(|v| Bucket {
                le_ms: ms(v.value_iterated_to()),
                count: v.count_since_last_iteration(),
            })
            .skip_while(|b| b.count == 0)
            .collect();
        while buckets.last().is_some_and(|b| b.count == 0) {
            buckets.pop();
        }
        buckets
    }

    /// Sessions started.
    pub fn attempted(&self) -> u64 {
        self.attempted
    }

    /// The report, without the run's settings (filled in by the caller).
    pub fn into_parts(self) -> RecordedParts {
        let latency = Series::ALL
            .iter()
            .map(|s| (s.key().to_owned(), self.summary(*s)))
            .collect();
        let distributions = Series::TTS
            .iter()
            .map(|s| (s.key().to_owned(), self.distribution(*s)))
            .filter(|(_, d)| !d.is_empty())
            .collect();
        RecordedParts {
            attempted: self.attempted,
            succeeded: self.succeeded,
            failed: self.failed,
            peak_concurrent: self.peak,
            completed_before_end_of_input: self.before_end,
            failures: self.failures,
            failure_examples: self.examples,
            latency,
            distributions,
            timeline: self.timeline,
        }
    }
}

/// The counted part of a [`LoadReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedParts {
    /// Sessions started.
    pub attempted: u64,
    /// Sessions that met every check.
    pub succeeded: u64,
    /// Sessions that failed.
    pub failed: u64,
    /// The most sessions active at once.
    pub peak_concurrent: usize,
    /// Results that came before the end of their input.
    pub completed_before_end_of_input: u64,
    /// Failures by class.
    pub failures: BTreeMap<String, u64>,
    /// One description per class.
    pub failure_examples: BTreeMap<String, String>,
    /// Percentiles by series key.
    pub latency: BTreeMap<String, LatencySummary>,
    /// Distributions of the synthesis series.
    pub distributions: BTreeMap<String, Vec<Bucket>>,
    /// Finished sessions.
    pub timeline: Vec<TimelinePoint>,
}

/// User plus system CPU seconds of a process, from fields 14 and 15 of `/proc/<pid>/stat` (proc(5)),
/// in clock ticks of 1/100 s (the value of `sysconf(_SC_CLK_TCK)` on every Linux architecture we run on).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it start past the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::script::{Failure, Timings};
    use mrcp_proto::mrcp::ResourceType;

    #[test]
    fn counts_and_percentiles() {
        let start = Instant::now();
        let mut r = Recorder::new(start);
        for i in 0..100u64 {
            r.started(1);
            r.finished(&Outcome {
                started: start,
                resource: ResourceType::Speechrecog,
                timings: Timings {
                    sip_setup: Some(Duration::from_millis(i + 1)),
                    ..Timings::default()
                },
                failure: (i % 10 == 0).then_some(Failure::SipStatus(503)),
            });
        }
        let parts = r.into_parts();
        assert_eq!(
            (parts.attempted, parts.succeeded, parts.failed),
            (100, 90, 10)
        );
        assert_eq!(parts.failures.get("sip 503"), Some(&10));
        let setup = parts.latency["sip_setup"];
        assert_eq!(setup.count, 100);
        assert!((setup.p50_ms - 50.0).abs() < 0.5, "{setup:?}");
        assert!((setup.max_ms - 100.0).abs() < 0.5, "{setup:?}");
        assert_eq!(parts.timeline.len(), 100);
    }

    #[test]
    fn tts_series_have_distributions() {
        let start = Instant::now();
        let mut r = Recorder::new(start);
        for i in 0..20u64 {
            r.started(1);
            r.finished(&Outcome {
                started: start,
                resource: ResourceType::Speechsynth,
                timings: Timings {
                    first_audio: Some(Duration::from_millis(40 + i)),
                    first_audio_from_request: Some(Duration::from_millis(45 + i)),
                    tts_jitter: Some(Duration::from_micros(100 + 10 * i)),
                    tts_max_gap: Some(Duration::from_millis(21)),
                    ..Timings::default()
                },
                failure: None,
            });
        }
        let parts = r.into_parts();
        assert_eq!(parts.latency["tts_jitter"].count, 20);
        let d = &parts.distributions["first_tts_audio"];
        assert_eq!(d.iter().map(|b| b.count).sum::<u64>(), 20);
        assert!(d.windows(2).all(|w| w[0].le_ms < w[1].le_ms), "{d:?}");
        assert!(d.first().is_some_and(|b| b.count > 0) && d.last().is_some_and(|b| b.count > 0));
        assert!(parts.distributions.contains_key("tts_jitter"));
        assert!(!parts.distributions.contains_key("sip_setup"));
    }

    #[test]
    fn reads_own_cpu_time() {
        assert!(cpu_seconds(std::process::id()).is_some());
    }
}
