//! `mrcp-client`: one-off MRCP requests against any MRCPv2 server, driven as FreeSWITCH or Asterisk would.
//!
//! ```text
//! mrcp-client recognize --server sip:HOST:PORT [--transport udp|tcp] [--profile freeswitch|asterisk]
//!                       --grammar FILE|URI [--param NAME=VALUE ...] [--dtmf DIGITS] [AUDIO.wav]
//!                       [--tls [--tls-ca FILE]]
//! ```
//! Prints every response and event and the NLSML result; exits 0 when the Completion-Cause is success.
//!
//! ```text
//! mrcp-client load --server sip:HOST:PORT --scenario recognize|speak|mixed --sessions N --rate R/s
//!                  --duration D [--audio WAV] [--grammar FILE|URI] [--dtmf DIGITS] [--expect TEXT]
//!                  [--profile freeswitch|asterisk] --report report.json [--html report.html]
//! ```
//! Runs many sessions at once and writes a JSON and an HTML report; exits 0 when every session succeeded.
//!
//! ```text
//! mrcp-client speak --server sip:HOST:PORT [--transport udp|tcp] [--profile freeswitch|asterisk]
//!                   [--voice NAME] [--ssml] --text TEXT --out OUT.wav [--param NAME=VALUE ...]
//! ```
//! Saves the audio, prints the events, the time to the first packet and the pacing; exits 0 when the
//! Completion-Cause is success.
//!
//! Every command takes `--lenient`: violations of what FreeSWITCH/Asterisk accept are logged, not fatal.
//!
//! `--tls` (or a `sips:` server URI) sends SIP over TLS and offers MRCP over TLS (`TCP/TLS/MRCPv2`), on both
//! commands; `--tls-ca FILE` trusts the CA certificates of a PEM file instead of the Mozilla roots.

mod load_cli;
mod record_cli;
mod speak_cli;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use mrcp_client::{ClientTls, Mode, Session, SessionConfig, read_wav_8k};
use mrcp_proto::mrcp::{Message, Method, ResourceType, StartLine};
use mrcp_proto::sdp::ClientProfile;
use mrcp_sip::Transport;

/// MRCPv2 client: test any MRCP server the way FreeSWITCH and Asterisk drive it.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Recognize a WAV file (8 kHz mono) and/or DTMF digits against a grammar.
    Recognize(RecognizeArgs),
    /// Synthesize text into a WAV file, measuring time to first packet and pacing.
    Speak(speak_cli::SpeakArgs),
    /// Many concurrent sessions at a fixed rate, with a live view and a JSON/HTML report.
    Load(load_cli::LoadArgs),
    /// Record a WAV file (8 kHz mono) streamed to a recorder channel; save the audio returned in the body.
    Record(record_cli::RecordArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Profile {
    Freeswitch,
    Asterisk,
}

impl From<Profile> for ClientProfile {
    fn from(p: Profile) -> Self {
        match p {
            Profile::Freeswitch => ClientProfile::FreeSwitch,
            Profile::Asterisk => ClientProfile::Asterisk,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SipTransport {
    Udp,
    Tcp,
}

impl From<SipTransport> for Transport {
    fn from(t: SipTransport) -> Self {
        match t {
            SipTransport::Udp => Transport::Udp,
            SipTransport::Tcp => Transport::Tcp,
        }
    }
}

#[derive(Debug, clap::Args)]
struct RecognizeArgs {
    /// The server, `sip:HOST:PORT` (or `HOST:PORT`).
    #[arg(long)]
    server: String,
    /// SIP transport.
    #[arg(long, value_enum, default_value = "udp")]
    transport: SipTransport,
    /// Whose wire behaviour to reproduce.
    #[arg(long, value_enum, default_value = "freeswitch")]
    profile: Profile,
    /// A grammar file (SRGS XML, ABNF or JSGF), sent with DEFINE-GRAMMAR, or a URI (`builtin:…`).
    #[arg(long)]
    grammar: String,
    /// A RECOGNIZE header field, `NAME=VALUE` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Digits to send as RFC 4733 events after the audio.
    #[arg(long)]
    dtmf: Option<String>,
    /// The local address for SIP and RTP.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    /// Log violations and carry on instead of failing as FreeSWITCH/Asterisk would.
    #[arg(long)]
    lenient: bool,
    /// 8 kHz mono 16-bit WAV to stream at real pace.
    audio: Option<PathBuf>,
    #[command(flatten)]
    tls: TlsArgs,
}

/// TLS options of every command.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TlsArgs {
    /// SIP over TLS (to `sips:` HOST:PORT) and MRCP over TLS (`TCP/TLS/MRCPv2`); implied by a `sips:` server.
    #[arg(long)]
    tls: bool,
    /// PEM CA certificates the server's certificate must chain to [default: the Mozilla roots]; implies --tls.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// Turns TLS on in `config` when asked for by a flag or by the `sips:` scheme of `server`.
    pub(crate) fn apply(&self, server: &str, config: &mut SessionConfig) -> anyhow::Result<()> {
        if self.tls || self.tls_ca.is_some() || server.starts_with("sips:") {
            config.transport = Transport::Tls;
            let tls = ClientTls::from_ca_file(self.tls_ca.as_deref())
                .context("--tls-ca: cannot load the CA certificates")?;
            config.tls = Some(tls);
        }
        Ok(())
    }
}

fn parse_server(s: &str) -> anyhow::Result<SocketAddr> {
    let addr = s
        .strip_prefix("sips:")
        .or_else(|| s.strip_prefix("sip:"))
        .unwrap_or(s);
    addr.parse()
        .with_context(|| format!("--server {s:?} is not sip:IP:PORT or sips:IP:PORT"))
}

fn print_message(m: &Message) {
    println!("<- {}", m.start);
    for (name, value) in m.headers.iter() {
        println!("   {name}: {value}");
    }
    if !m.body.is_empty() {
        println!("{}", String::from_utf8_lossy(&m.body));
    }
}

async fn recognize(args: RecognizeArgs) -> anyhow::Result<bool> {
    let audio = args.audio.as_deref().map(read_wav_8k).transpose()?;
    let grammar_body =
        if args.grammar.contains(':') && !std::path::Path::new(&args.grammar).exists() {
            None
        } else {
            Some(
                std::fs::read(&args.grammar)
                    .with_context(|| format!("cannot read grammar file {}", args.grammar))?,
            )
        };
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
        resource: ResourceType::Speechrecog,
        local_ip: args.local_ip,
        rtp_ports: (40000, 40999),
        timeout: Duration::from_secs(args.timeout),
        tls: None,
    };
    args.tls.apply(&args.server, &mut config)?;
    let mut session = Session::open(&config).await?;
    if args.lenient {
        session.set_mode(Mode::Lenient);
    }
    println!("session {}", session.channel());
    // FreeSWITCH defines a file grammar first, then recognizes it by reference (reference §7.2, §7.3).
    let uri_list = match &grammar_body {
        Some(body) => {
            let content_type = grammar_type(body);
            session
                .send(
                    Method::DefineGrammar,
                    &[("Content-Id", "grammar-1")],
                    Some((content_type, body)),
                )
                .await?;
            let response = session.receive().await?;
            print_message(&response);
            "session:grammar-1".to_owned()
        }
        None => args.grammar.clone(),
    };
    let mut headers: Vec<(&str, &str)> = vec![("Cancel-If-Queue", "false")];
    headers.extend(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    session
        .send(
            Method::Recognize,
            &headers,
            Some(("text/uri-list", uri_list.as_bytes())),
        )
        .await?;
    let response = session.receive().await?;
    print_message(&response);
    if !matches!(&response.start, StartLine::Response { status, .. } if status.is_success()) {
        session.close().await;
        return Ok(false);
    }
    if let Some(samples) = audio {
        session.play(samples).await?;
    }
    if let Some(digits) = &args.dtmf {
        session.dtmf(digits).await?;
    }
    let (events, complete) = session.until_event("RECOGNITION-COMPLETE").await?;
    events.iter().for_each(print_message);
    print_message(&complete);
    for v in session.violations() {
        println!("violation {}: {v}", v.name());
    }
    session.close().await;
    Ok(complete
        .headers
        .get_raw("Completion-Cause")
        .is_some_and(|c| c.starts_with("000")))
}

/// The media type of a grammar file by its first characters, as FreeSWITCH sniffs it.
fn grammar_type(body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(body);
    let t = text.trim_start();
    if t.starts_with("#ABNF") {
        "application/srgs"
    } else if t.starts_with("#JSGF") {
        "application/x-jsgf"
    } else {
        "application/srgs+xml"
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Recognize(args) => recognize(args).await,
        Command::Speak(args) => speak_cli::speak(args).await,
        Command::Load(args) => load_cli::load(args).await,
        Command::Record(args) => record_cli::record(args).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("mrcp-client: {error:#}");
            ExitCode::from(2)
        }
    }
}
