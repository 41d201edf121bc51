//! `mrcp-client record`: one RECORD on a recorder channel (RFC 6787 §10).
//!
//! ```text
//! mrcp-client record --server sip:HOST:PORT [--transport udp|tcp] [--profile freeswitch|asterisk]
//!                    [--param NAME=VALUE ...] [--out FILE.wav] AUDIO.wav
//! ```
//! Sends RECORD with the `--param` header fields, streams the WAV at real pace, prints every response and
//! event and the Record-URI. When the audio has been sent and the recording has not ended by itself, it
//! sends STOP, whose response carries the recording (§10.7). A recording returned in the message body (a
//! RECORD without Record-URI, §10.4.7) is saved to `--out`. Exits 0 on Completion-Cause 000 or 001 (or a
//! STOP that returned a recording), 1 otherwise, 2 when the session failed.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use mrcp_client::{Session, SessionConfig, read_wav_8k};
use mrcp_proto::mrcp::{Message, Method, ResourceType, StartLine};

use crate::{Profile, SipTransport, parse_server};

/// `mrcp-client record`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecordArgs {
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
    /// A RECORD header field, `NAME=VALUE` (repeatable), e.g. `Final-Silence=1000`, `Max-Time=10000`,
    /// `Record-URI=` (empty: the server stores the file and returns its URI).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Where to save a recording the server returns in the message body.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The local address for SIP and RTP.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    /// 8 kHz mono 16-bit WAV to stream at real pace.
    audio: PathBuf,
}

/// Prints a message; audio in the body is summarised, not dumped.
fn print_message(m: &Message) {
    println!("<- {}", m.start);
    for (name, value) in m.headers.iter() {
        println!("   {name}: {value}");
    }
    match m.content_type() {
        _ if m.body.is_empty() => {}
        Some(t) if t.starts_with("audio/") => println!("   [{} bytes of {t}]", m.body.len()),
        _ => println!("{}", String::from_utf8_lossy(&m.body)),
    }
}

fn is_event(m: &Message, name: &str) -> bool {
    matches!(&m.start, StartLine::Event { event, .. } if event.as_str() == name)
}

/// Runs the command; `Ok(true)` when the recording succeeded.
pub(crate) async fn record(args: RecordArgs) -> anyhow::Result<bool> {
    let audio = read_wav_8k(&args.audio)?;
    let mut params: Vec<(String, String)> = Vec::new();
    for p in &args.params {
        let Some((name, value)) = p.split_once('=') else {
            bail!("--param {p:?} is not NAME=VALUE")
        };
        params.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut config = SessionConfig {
        server: parse_server(&args.server)?,
        transport: args.transport.into(),
        profile: args.profile.into(),
        resource: ResourceType::Recorder,
        local_ip: args.local_ip,
        rtp_ports: (40000, 40999),
        timeout: Duration::from_secs(args.timeout),
        tls: None,
    };
    args.tls.apply(&args.server, &mut config)?;
    let mut session = Session::open(&config).await?;
    println!("session {}", session.channel());
    let headers: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    session.send(Method::Record, &headers, None).await?;
    let response = session.receive().await?;
    print_message(&response);
    if !matches!(&response.start, StartLine::Response { status, .. } if status.is_success()) {
        session.close().await;
        return Ok(false);
    }
    session.send_input(audio, "").await?;
    let mut result = None;
    // Events while the audio plays; the recording may end by itself (Final-Silence, Max-Time, no input).
    while let Some(message) = session.until_prompt_end().await? {
        print_message(&message);
        if is_event(&message, "RECORD-COMPLETE") {
            result = Some(message);
            break;
        }
    }
    let result = match result {
        Some(complete) => complete,
        None => {
            println!("-> STOP (the audio has been sent)");
            let stop = session.send(Method::Stop, &[], None).await?;
            let mut complete = None;
            loop {
                let message = session.receive().await?;
                print_message(&message);
                if is_event(&message, "RECORD-COMPLETE") {
                    complete = Some(message);
                } else if message.request_id() == stop {
                    // The STOP response carries the recording, unless the RECORD had just completed.
                    break complete.unwrap_or(message);
                }
            }
        }
    };
    session.close().await;
    let uri = result.headers.get_raw("Record-Uri").map(str::to_owned);
    match &uri {
        Some(uri) => println!("Record-URI: {uri}"),
        None => println!("no Record-URI"),
    }
    if !result.body.is_empty() {
        match &args.out {
            Some(path) => {
                std::fs::write(path, &result.body)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!(
                    "saved {} bytes of {} to {}",
                    result.body.len(),
                    result.content_type().unwrap_or("audio"),
                    path.display()
                );
            }
            None => println!(
                "the recording came in the body ({} bytes); give --out FILE.wav to save it",
                result.body.len()
            ),
        }
    } else if args.out.is_some() {
        println!("nothing saved: the server returned no audio in the body (see the Record-URI)");
    }
    Ok(match result.headers.get_raw("Completion-Cause") {
        Some(cause) => cause.starts_with("000") || cause.starts_with("001"),
        None => uri.is_some(),
    })
}
