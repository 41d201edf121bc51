//! `mrcp-client speak`: one SPEAK as FreeSWITCH's `mod_unimrcp` or Asterisk's `MRCPSynth` sends it (reference
//! §8.2, §11.3), the audio saved to a WAV, and what the audio looked like on the wire.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use mrcp_client::tts::{TtsStats, write_wav};
use mrcp_client::{ClientError, Mode, Session, SessionConfig, SpeakRequest};
use mrcp_proto::mrcp::{ResourceType, StartLine};

use crate::{Profile, SipTransport, parse_server, print_message};

#[derive(Debug, clap::Args)]
pub struct SpeakArgs {
    /// The server, `sip:HOST:PORT` (or `HOST:PORT`).
    #[arg(long)]
    server: String,
    #[command(flatten)]
    tls: crate::TlsArgs,
    /// SIP transport.
    #[arg(long, value_enum, default_value = "udp")]
    transport: SipTransport,
    /// Whose wire behaviour to reproduce.
    #[arg(long, value_enum, default_value = "freeswitch")]
    profile: Profile,
    /// Voice-Name.
    #[arg(long)]
    voice: Option<String>,
    /// Send the text as `application/ssml+xml` (else detected as FreeSWITCH does: `<?xml` or `<speak`).
    #[arg(long)]
    ssml: bool,
    /// What to say.
    #[arg(long)]
    text: String,
    /// Where to save the audio (WAV, 16-bit mono at the codec's rate: 8 kHz for PCMU/PCMA).
    #[arg(long)]
    out: PathBuf,
    /// A SPEAK header field, `NAME=VALUE` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Log violations and carry on instead of failing as FreeSWITCH/Asterisk would.
    #[arg(long)]
    lenient: bool,
    /// The local address for SIP and RTP.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// Local RTP ports.
    #[arg(long, default_value = "40000-40999", value_parser = crate::load_cli::parse_ports_arg)]
    rtp_ports: (u16, u16),
    /// Seconds to wait for each SIP or MRCP answer (and between TTS packets).
    #[arg(long, default_value_t = 20.0)]
    timeout: f64,
}

/// The request FreeSWITCH would write: Content-Type, Voice-Name, then the parameters in order.
fn request(args: &SpeakArgs) -> anyhow::Result<SpeakRequest> {
    let mut request = SpeakRequest::text(&args.text);
    if args.ssml {
        "application/ssml+xml".clone_into(&mut request.content_type);
    }
    if let Some(voice) = &args.voice {
        request
            .headers
            .push(("Voice-Name".to_owned(), voice.clone()));
    }
    for p in &args.params {
        let Some((name, value)) = p.split_once('=') else {
            bail!("--param {p:?} is not NAME=VALUE")
        };
        request
            .headers
            .push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(request)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0),
    )
}

/// The figures printed after the events.
pub fn print_stats(s: &TtsStats) {
    println!(
        "audio: {} packets, {:.2} s ({} samples at {} Hz)",
        s.packets,
        s.samples as f64 / f64::from(s.sample_rate.max(1)),
        s.samples,
        s.sample_rate
    );
    println!(
        "time to first packet: {} after IN-PROGRESS, {} after SPEAK",
        ms(s.first_packet_from_in_progress),
        ms(s.first_packet_from_request)
    );
    println!(
        "pacing: gap p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} gaps; jitter {:.2} ms; max drift {:.1} ms",
        s.pacing.gap_p50_ms,
        s.pacing.gap_p99_ms,
        s.pacing.gap_max_ms,
        s.pacing.gaps,
        s.pacing.jitter_ms,
        s.pacing.max_drift_ms
    );
    println!(
        "last packet to SPEAK-COMPLETE: {}; outside the request: {} before IN-PROGRESS, {} after SPEAK-COMPLETE",
        ms(s.last_packet_to_complete),
        s.before_in_progress,
        s.after_complete
    );
}

/// Runs one SPEAK; `Ok(true)` on Completion-Cause 000 with no violation in strict mode.
pub async fn speak(args: SpeakArgs) -> anyhow::Result<bool> {
    let request = request(&args)?;
    let mut config = SessionConfig {
        server: parse_server(&args.server)?,
        transport: args.transport.into(),
        profile: args.profile.into(),
        resource: ResourceType::Speechsynth,
        local_ip: args.local_ip,
        rtp_ports: args.rtp_ports,
        timeout: Duration::from_secs_f64(args.timeout.max(0.001)),
        tls: None,
    };
    args.tls.apply(&args.server, &mut config)?;
    let mode = if args.lenient {
        Mode::Lenient
    } else {
        Mode::Strict
    };
    let mut session = Session::open(&config).await?;
    session.set_mode(mode);
    println!("session {}", session.channel());
    let result = session.speak(&request).await;
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            session.close().await;
            return Err(e.into());
        }
    };
    let violations = session.violations().to_vec();
    session.close().await;
    print_message(&outcome.response);
    outcome.events.iter().for_each(print_message);
    if let StartLine::Response { .. } = &outcome.response.start
        && !outcome.accepted()
    {
        return Ok(false);
    }
    print_stats(&outcome.stats);
    write_wav(&args.out, outcome.stats.sample_rate, &outcome.audio)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("saved {}", args.out.display());
    for v in &violations {
        println!("violation {}: {v}", v.name());
    }
    if mode == Mode::Strict
        && let Some(v) = outcome.violations.first()
    {
        return Err(ClientError::Violation(v.clone()).into());
    }
    Ok(outcome.completion_cause() == Some(0))
}
