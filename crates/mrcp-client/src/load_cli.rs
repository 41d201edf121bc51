//! `mrcp-client load`: the command line of the load generator ([`mrcp_client::load`]), its live view
//! (indicatif, on a terminal only) and its report files.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mrcp_client::load::script::{Grammar, RecognizeInput, SpeakInput};
use mrcp_client::load::{LoadConfig, Scenario, html, run};
use mrcp_client::{Mode, SessionConfig, read_wav_8k};
use mrcp_proto::mrcp::ResourceType;

use crate::{Profile, SipTransport, TlsArgs, grammar_type, parse_server};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScenarioArg {
    Recognize,
    Speak,
    Mixed,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The server, `sip:HOST:PORT` (or `HOST:PORT`).
    #[arg(long)]
    server: String,
    #[command(flatten)]
    tls: TlsArgs,
    /// SIP transport.
    #[arg(long, value_enum, default_value = "udp")]
    transport: SipTransport,
    /// Whose wire behaviour each session reproduces.
    #[arg(long, value_enum, default_value = "freeswitch")]
    profile: Profile,
    /// What each session does.
    #[arg(long, value_enum, default_value = "recognize")]
    scenario: ScenarioArg,
    /// Most sessions open at once.
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    /// Sessions opened per second: `50` or `50/s`.
    #[arg(long, default_value = "1/s", value_parser = parse_rate)]
    rate: f64,
    /// How long new sessions are opened: `90s`, `2m`, `500ms` or seconds.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after opening this many sessions.
    #[arg(long)]
    count: Option<u64>,
    /// 8 kHz mono 16-bit WAV each recognition session streams at real pace.
    #[arg(long)]
    audio: Option<PathBuf>,
    /// A grammar file (sent with DEFINE-GRAMMAR) or a URI (`builtin:dtmf/digits?length=4`).
    #[arg(long, default_value = "builtin:dtmf/digits?length=4")]
    grammar: String,
    /// Digits sent as RFC 4733 events after the audio.
    #[arg(long)]
    dtmf: Option<String>,
    /// Text that must appear in the NLSML input or instance of every result.
    #[arg(long)]
    expect: Option<String>,
    /// A simulated prompt before the input: RECOGNIZE with Start-Input-Timers false, silence, then
    /// START-INPUT-TIMERS (as play_and_detect_speech does).
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    prompt: Duration,
    /// What synthesis sessions ask to speak.
    #[arg(
        long,
        default_value = "Thank you for calling. Your balance is one hundred dollars."
    )]
    text: String,
    /// The local address for SIP and RTP.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// Local RTP ports, cut into one sub-range per concurrent session.
    #[arg(long, default_value = "30000-59999")]
    rtp_ports: String,
    /// Seconds to wait for each SIP or MRCP answer.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    /// Seconds a whole session may take.
    #[arg(long, default_value_t = 120)]
    session_timeout: u64,
    /// The server's pid, to report its CPU use (same machine).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Where to write the JSON report.
    #[arg(long)]
    report: PathBuf,
    /// Where to write the HTML report.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Log violations and carry on instead of failing sessions as FreeSWITCH/Asterisk would.
    #[arg(long)]
    lenient: bool,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let n = s.trim().trim_end_matches("/s");
    match n.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("{s:?} is not a positive rate like 50/s")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(Duration::from_secs_f64(v * scale)),
        _ => Err(format!("{s:?} is not a duration like 30s, 2m or 500ms")),
    }
}

/// `LOW-HIGH` for clap.
pub fn parse_ports_arg(s: &str) -> Result<(u16, u16), String> {
    parse_ports(s).map_err(|e| e.to_string())
}

fn parse_ports(s: &str) -> anyhow::Result<(u16, u16)> {
    let (a, b) = s
        .split_once('-')
        .with_context(|| format!("--rtp-ports {s:?} is not LOW-HIGH"))?;
    let (a, b): (u16, u16) = (a.trim().parse()?, b.trim().parse()?);
    if a >= b {
        bail!("--rtp-ports {s:?}: LOW must be below HIGH");
    }
    Ok((a, b))
}

/// Runs the load; `Ok(true)` when every session succeeded.
pub async fn load(args: LoadArgs) -> anyhow::Result<bool> {
    let audio: Arc<[i16]> = match &args.audio {
        Some(path) => read_wav_8k(path)?.into(),
        None => Arc::from(Vec::new()),
    };
    let grammar = if args.grammar.contains(':') && !std::path::Path::new(&args.grammar).exists() {
        Grammar::Uri(args.grammar.clone())
    } else {
        let body = std::fs::read(&args.grammar)
            .with_context(|| format!("cannot read grammar file {}", args.grammar))?;
        Grammar::Inline {
            content_type: grammar_type(&body).to_owned(),
            body: body.into(),
        }
    };
    let scenario = match args.scenario {
        ScenarioArg::Recognize => Scenario::Recognize,
        ScenarioArg::Speak => Scenario::Speak,
        ScenarioArg::Mixed => Scenario::Mixed,
    };
    let digits = args.dtmf.clone().unwrap_or_default();
    if scenario != Scenario::Speak && audio.is_empty() && digits.is_empty() {
        bail!("a recognize scenario needs --audio WAV or --dtmf DIGITS");
    }
    let mut session = SessionConfig {
        server: parse_server(&args.server)?,
        transport: args.transport.into(),
        profile: args.profile.into(),
        resource: ResourceType::Speechrecog,
        local_ip: args.local_ip,
        rtp_ports: parse_ports(&args.rtp_ports)?,
        timeout: Duration::from_secs(args.timeout),
        tls: None,
    };
    args.tls.apply(&args.server, &mut session)?;
    let config = LoadConfig {
        session,
        scenario,
        sessions: args.sessions,
        rate: args.rate,
        duration: args.duration,
        count: args.count,
        session_deadline: Duration::from_secs(args.session_timeout),
        recognize: RecognizeInput {
            grammar,
            audio,
            digits,
            expect: args.expect.clone(),
            prompt: args.prompt,
        },
        speak: SpeakInput {
            text: args.text.clone(),
        },
        server_pid: args.server_pid,
        mode: if args.lenient {
            Mode::Lenient
        } else {
            Mode::Strict
        },
    };
    // The live view only on a terminal: piped or captured stderr gets the summary line alone.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let report = run(config, |s| {
        bar.set_message(format!(
            "active {} | ok {} | failed {} | {:.1}/s | result p50 {:.0} ms p99 {:.0} ms",
            s.active, s.succeeded, s.failed, s.rate_per_s, s.p50_ms, s.p99_ms
        ));
        bar.tick();
    })
    .await?;
    bar.finish_and_clear();
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.report, json)
        .with_context(|| format!("cannot write {}", args.report.display()))?;
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "{} sessions: {} succeeded, {} failed (peak {} concurrent); report in {}",
        report.attempted,
        report.succeeded,
        report.failed,
        report.peak_concurrent,
        args.report.display()
    );
    for (class, count) in &report.failures {
        eprintln!("  {count} × {class}");
    }
    for (key, label) in [
        ("sip_setup", "SIP setup"),
        ("mrcp_response", "MRCP response"),
        (
            "start_of_input_to_complete",
            "start of input → RECOGNITION-COMPLETE",
        ),
        ("first_tts_audio", "IN-PROGRESS → first TTS packet"),
        ("first_tts_packet_from_speak", "SPEAK → first TTS packet"),
        ("tts_jitter", "TTS pacing jitter"),
        ("tts_max_gap", "largest TTS packet gap"),
    ] {
        if let Some(s) = report.latency.get(key).filter(|s| s.count > 0) {
            eprintln!(
                "  {label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
                s.p50_ms, s.p99_ms, s.max_ms, s.count
            );
        }
    }
    Ok(report.failed == 0 && report.attempted > 0)
}
