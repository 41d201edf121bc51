//! The HTML report: one self-contained page with inline SVG plots (latency over time, percentiles by
//! series, failures by class) and the tables behind them. No script and no external resource, so it opens
//! in any browser without network. The SVG is written by hand: three simple charts do not justify a
//! plotting crate and its font and image dependencies.

use std::fmt::Write;

use super::report::{Bucket, LoadReport, TimelinePoint};

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 40.0;
const COLORS: [&str; 4] = ["#4878cf", "#e8a33d", "#d65f5f", "#6acc65"];

/// Escapes text for HTML and SVG content and attributes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round axis maximum at or above `v`: 1, 2 or 5 times a power of ten.
fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// Axes with five ticks on y and x, labels and a title.
fn axes(out: &mut String, x_max: f64, y_max: f64, x_label: &str, y_label: &str) {
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>"##
    );
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let y = TOP + ph * (1.0 - f);
        let x = LEFT + pw * f;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            LEFT + pw,
            LEFT - 5.0,
            y + 4.0,
            fmt_num(y_max * f)
        );
        if x_max > 0.0 {
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{}" text-anchor="middle" font-size="11">{}</text>"#,
                TOP + ph + 15.0,
                fmt_num(x_max * f)
            );
        }
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text><text x="14" y="{}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {})">{}</text>"#,
        LEFT + pw / 2.0,
        HEIGHT - 5.0,
        esc(x_label),
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(y_label)
    );
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn open_svg(out: &mut String, id: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg id="{id}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">"#
    );
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    let mut x = LEFT + 10.0;
    for (color, label) in items {
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            TOP + 6.0,
            x + 14.0,
            TOP + 15.0,
            esc(label)
        );
        x += 40.0 + 6.5 * label.chars().count() as f64;
    }
}

/// Latency of each finished session against its start time; failed sessions as red crosses on the axis.
fn latency_over_time(out: &mut String, points: &[TimelinePoint], result_label: &str) {
    open_svg(out, "latency-over-time", HEIGHT);
    let x_max = nice_max(points.iter().map(|p| p.t_s).fold(0.0, f64::max));
    let y_max = nice_max(
        points
            .iter()
            .flat_map(|p| [p.sip_setup_ms, p.result_ms])
            .flatten()
            .fold(0.0, f64::max),
    );
    axes(out, x_max, y_max, "session start (s)", "latency (ms)");
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let px = |t: f64| LEFT + pw * (t / x_max).clamp(0.0, 1.0);
    let py = |v: f64| TOP + ph * (1.0 - (v / y_max).clamp(0.0, 1.0));
    for p in points {
        if let Some(v) = p.sip_setup_ms {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{}" fill-opacity="0.6"/>"#,
                px(p.t_s),
                py(v),
                COLORS[1]
            );
        }
        if let Some(v) = p.result_ms {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{}" fill-opacity="0.6"/>"#,
                px(p.t_s),
                py(v),
                COLORS[0]
            );
        }
        if !p.ok {
            let (x, y) = (px(p.t_s), TOP + ph - 4.0);
            let _ = write!(
                out,
                r#"<path d="M{:.1} {:.1}l6 6m0 -6l-6 6" stroke="{}" stroke-width="1.5"/>"#,
                x - 3.0,
                y - 3.0,
                COLORS[2]
            );
        }
    }
    legend(
        out,
        &[
            (COLORS[0], result_label),
            (COLORS[1], "INVITE → 200 OK"),
            (COLORS[2], "failed session"),
        ],
    );
    out.push_str("</svg>");
}

/// Grouped bars on a logarithmic axis (the series span microseconds to seconds): p50, p90, p99 and max of
/// each latency series that has samples.
fn percentiles(out: &mut String, report: &LoadReport) {
    open_svg(out, "percentiles", HEIGHT);
    let series: Vec<(&String, [f64; 4])> = report
        .latency
        .iter()
        .filter(|(_, s)| s.count > 0)
        .map(|(k, s)| (k, [s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms]))
        .collect();
    let values = || series.iter().flat_map(|(_, v)| *v).filter(|v| *v > 0.0);
    let lo = values()
        .fold(f64::INFINITY, f64::min)
        .min(1.0)
        .log10()
        .floor();
    let hi = nice_max(values().fold(0.0, f64::max))
        .log10()
        .ceil()
        .max(lo + 1.0);
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let py = |v: f64| {
        let f = ((v.max(10f64.powf(lo)).log10() - lo) / (hi - lo)).clamp(0.0, 1.0);
        TOP + ph * (1.0 - f)
    };
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>"##
    );
    let mut decade = lo;
    while decade <= hi {
        let v = 10f64.powf(decade);
        let y = py(v);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            LEFT + pw,
            LEFT - 5.0,
            y + 4.0,
            fmt_num(v)
        );
        decade += 1.0;
    }
    let _ = write!(
        out,
        r#"<text x="14" y="{}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {})">latency (ms, log scale)</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    let group = pw / series.len().max(1) as f64;
    let bar = group / 6.0;
    for (g, (name, values)) in series.iter().enumerate() {
        let x0 = LEFT + group * g as f64 + bar;
        for (i, v) in values.iter().enumerate() {
            let top = py(*v);
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {v:.1} ms</title></rect>"#,
                x0 + bar * i as f64,
                bar * 0.9,
                TOP + ph - top,
                COLORS[i],
                esc(name)
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="11">{}</text>"#,
            x0 + bar * 2.0,
            TOP + ph + 15.0,
            esc(name)
        );
    }
    legend(
        out,
        &[
            (COLORS[0], "p50"),
            (COLORS[1], "p90"),
            (COLORS[2], "p99"),
            (COLORS[3], "max"),
        ],
    );
    out.push_str("</svg>");
}

/// Vertical bars of a distribution whose buckets grow geometrically; the x labels are their upper bounds.
fn distribution(out: &mut String, id: &str, buckets: &[Bucket], x_label: &str) {
    const H: f64 = 240.0;
    open_svg(out, id, H);
    let (pw, ph) = (WIDTH - LEFT - RIGHT, H - TOP - BOTTOM);
    let y_max = nice_max(buckets.iter().map(|b| b.count as f64).fold(0.0, f64::max));
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>"##
    );
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let y = TOP + ph * (1.0 - f);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            LEFT + pw,
            LEFT - 5.0,
            y + 4.0,
            fmt_num(y_max * f)
        );
    }
    let bar = pw / buckets.len().max(1) as f64;
    // Label every bar while they fit, else every other or fewer.
    let every = (buckets.len() / 16).max(1);
    for (i, b) in buckets.iter().enumerate() {
        let h = ph * (b.count as f64 / y_max).clamp(0.0, 1.0);
        let x = LEFT + bar * i as f64;
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>≤ {} ms: {}</title></rect>"#,
            x + bar * 0.1,
            TOP + ph - h,
            bar * 0.8,
            COLORS[0],
            fmt_num(b.le_ms),
            b.count
        );
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10">{}</text>"#,
                x + bar / 2.0,
                TOP + ph + 14.0,
                fmt_num(b.le_ms)
            );
        }
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text><text x="14" y="{}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {})">sessions</text>"#,
        LEFT + pw / 2.0,
        H - 5.0,
        esc(x_label),
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    out.push_str("</svg>");
}

/// What each synthesis distribution shows.
const TTS_PLOTS: [(&str, &str, &str); 4] = [
    (
        "first_tts_audio",
        "Time to first TTS packet after IN-PROGRESS",
        "ms after the SPEAK's IN-PROGRESS (bucket upper bound)",
    ),
    (
        "first_tts_packet_from_speak",
        "Time to first TTS packet after SPEAK",
        "ms after SPEAK was sent (bucket upper bound)",
    ),
    (
        "tts_jitter",
        "TTS pacing jitter (RFC 3550 interarrival jitter per stream)",
        "jitter, ms (bucket upper bound)",
    ),
    (
        "tts_max_gap",
        "Largest gap between TTS packets per stream",
        "ms (bucket upper bound)",
    ),
];

/// Horizontal bars: sessions by outcome class.
fn failures(out: &mut String, report: &LoadReport) {
    let mut rows: Vec<(String, u64, &str)> =
        vec![("succeeded".to_owned(), report.succeeded, COLORS[3])];
    rows.extend(
        report
            .failures
            .iter()
            .map(|(k, v)| (k.clone(), *v, COLORS[2])),
    );
    open_svg(out, "failures", TOP * 2.0 + 30.0 * rows.len() as f64);
    let x_max = nice_max(rows.iter().map(|r| r.1 as f64).fold(0.0, f64::max));
    let label_w = 220.0;
    let row_h = 30.0;
    for (i, (name, count, color)) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64;
        let w = (WIDTH - label_w - RIGHT - 60.0) * (*count as f64 / x_max).clamp(0.0, 1.0);
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12">{}</text><rect x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="12">{count}</text>"#,
            label_w - 6.0,
            y + row_h * 0.65,
            esc(name),
            y + 2.0,
            row_h - 4.0,
            label_w + w + 6.0,
            y + row_h * 0.65
        );
    }
    out.push_str("</svg>");
}

/// The whole page.
pub fn render(report: &LoadReport) -> String {
    let mut out = String::with_capacity(64 * 1024 + report.timeline.len() * 120);
    let title = format!(
        "mrcp-client load: {} ({}) against {}",
        report.scenario, report.profile, report.server
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>body{{font-family:sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse;margin:8px 0 24px}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}th{{background:#f0f0f0}}td:first-child,th:first-child{{text-align:left}}svg{{display:block;margin:8px 0 24px}}</style></head><body><h1>{t}</h1>",
        t = esc(&title)
    );
    let cpu = |c: &Option<super::report::CpuUse>| match c {
        Some(c) => format!(
            "{:.1} s ({:.0} % of one core)",
            c.cpu_s, c.percent_of_one_core
        ),
        None => "not measured".to_owned(),
    };
    let _ = write!(
        out,
        "<table><tr><th>sessions attempted</th><td>{}</td></tr><tr><th>succeeded</th><td>{}</td></tr><tr><th>failed</th><td>{}</td></tr><tr><th>results before the end of the input</th><td>{}</td></tr><tr><th>peak concurrent (limit)</th><td>{} ({})</td></tr><tr><th>rate</th><td>{} /s for {} s</td></tr><tr><th>wall time</th><td>{:.1} s</td></tr><tr><th>client CPU</th><td>{}</td></tr><tr><th>server CPU</th><td>{}</td></tr></table>",
        report.attempted,
        report.succeeded,
        report.failed,
        report.completed_before_end_of_input,
        report.peak_concurrent,
        report.max_concurrent,
        report.rate_per_s,
        report.duration_s,
        report.elapsed_s,
        cpu(&report.client_cpu),
        cpu(&report.server_cpu)
    );
    let result_label = match report.scenario.as_str() {
        "speak" => "SPEAK → first audio",
        "mixed" => "start of input → result / SPEAK → first audio",
        _ => "start of input → RECOGNITION-COMPLETE",
    };
    out.push_str("<h2>Latency over time</h2>");
    latency_over_time(&mut out, &report.timeline, result_label);
    out.push_str("<h2>Latency percentiles</h2>");
    percentiles(&mut out, report);
    out.push_str("<table><tr><th>series</th><th>count</th><th>min</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max (ms)</th></tr>");
    for (name, s) in &report.latency {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            esc(name),
            s.count,
            s.min_ms,
            s.mean_ms,
            s.p50_ms,
            s.p90_ms,
            s.p99_ms,
            s.max_ms
        );
    }
    out.push_str("</table>");
    for (key, title, x_label) in TTS_PLOTS {
        if let Some(buckets) = report.distributions.get(key).filter(|b| !b.is_empty()) {
            let _ = write!(out, "<h2>{}</h2>", esc(title));
            distribution(&mut out, &format!("dist-{key}"), buckets, x_label);
        }
    }
    out.push_str("<h2>Outcomes</h2>");
    failures(&mut out, report);
    if !report.failures.is_empty() {
        out.push_str("<table><tr><th>failure</th><th>count</th><th>first seen</th></tr>");
        for (class, count) in &report.failures {
            let example = report
                .failure_examples
                .get(class)
                .map_or("", String::as_str);
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{count}</td><td>{}</td></tr>",
                esc(class),
                esc(example)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axis_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(450.0), 500.0);
    }

    #[test]
    fn page_has_three_charts_and_no_script() {
        use crate::load::report::{LatencySummary, LoadReport, TimelinePoint};
        let report = LoadReport {
            scenario: "recognize".to_owned(),
            profile: "freeswitch".to_owned(),
            server: "127.0.0.1:5060".to_owned(),
            max_concurrent: 10,
            peak_concurrent: 10,
            rate_per_s: 5.0,
            duration_s: 2.0,
            elapsed_s: 3.0,
            attempted: 3,
            succeeded: 2,
            failed: 1,
            completed_before_end_of_input: 0,
            failures: [("sip 503".to_owned(), 1)].into(),
            failure_examples: [("sip 503".to_owned(), "<busy>".to_owned())].into(),
            latency: [(
                "sip_setup".to_owned(),
                LatencySummary {
                    count: 2,
                    min_ms: 1.0,
                    mean_ms: 1.5,
                    p50_ms: 1.0,
                    p90_ms: 2.0,
                    p99_ms: 2.0,
                    max_ms: 2.0,
                },
            )]
            .into(),
            distributions: [(
                "tts_jitter".to_owned(),
                vec![
                    crate::load::report::Bucket {
                        le_ms: 0.02,
                        count: 1,
                    },
                    crate::load::report::Bucket {
                        le_ms: 0.04,
                        count: 0,
                    },
                    crate::load::report::Bucket {
                        le_ms: 0.08,
                        count: 2,
                    },
                ],
            )]
            .into(),
            client_cpu: None,
            server_cpu: None,
            timeline: (0..3)
                .map(|i| TimelinePoint {
                    t_s: f64::from(i) * 0.2,
                    sip_setup_ms: Some(1.0),
                    result_ms: (i > 0).then_some(400.0),
                    ok: i > 0,
                })
                .collect(),
        };
        let page = render(&report);
        for id in ["latency-over-time", "percentiles", "failures"] {
            assert!(page.contains(&format!(r#"<svg id="{id}""#)), "{id}");
        }
        assert_eq!(page.matches("<circle").count(), 5);
        assert!(page.contains(r#"<svg id="dist-tts_jitter""#));
        assert!(
            !page.contains(r#"<svg id="dist-first_tts_audio""#),
            "no plot without samples"
        );
        assert!(page.contains("&lt;busy&gt;"));
        // Offline: no script, and the only URL is the SVG namespace name (never fetched).
        assert!(!page.contains("<script"));
        assert_eq!(
            page.matches("http").count(),
            page.matches("http://www.w3.org/2000/svg").count()
        );
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
