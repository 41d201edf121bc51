//! `mrcp-server`: the open-mrcp MRCPv2 speech server.
//!
//! ```text
//! mrcp-server [--config FILE] [--sip-listen ADDR:PORT] [--mrcp-listen ADDR:PORT] [--rtp-ports MIN-MAX]
//!             [--advertise ADDR] [--http-listen ADDR:PORT] [--max-sessions N] [--drain-timeout SECONDS]
//!             [--tls-cert FILE --tls-key FILE] [--sip-tls-listen ADDR:PORT] [--mrcp-tls-listen ADDR:PORT]
//! ```
//! On SIGTERM the server drains: OPTIONS and new INVITEs get 503, running sessions go on up to the drain
//! timeout, then the rest get BYE and the process exits. Ctrl-C (SIGINT) stops at once, ending sessions with BYE.
//!
//! Once listening it prints one line per socket on stdout (`sip UDP <addr>`, `sip TCP <addr>`, `sip TLS <addr>`,
//! `http tcp <addr>`, `mrcp tls <addr>`, `mrcp tcp <addr>`, in that order; the TLS lines only with a certificate),
//! for scripts that pass port 0.
//! With no file, the defaults of `examples/mrcp-server.toml` apply: SIP on 8060 (UDP and TCP), MRCP on 1544,
//! RTP from 5000 to 20000, PocketSphinx as the recognizer.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use mrcp_server::config::{Config, LogFormat, Overrides, PortRange};
use mrcp_server::server::Server;
use tracing_subscriber::EnvFilter;

/// The open-mrcp MRCPv2 (RFC 6787) speech server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (every key optional; see examples/mrcp-server.toml).
    #[arg(long, env = "MRCP_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// SIP address for UDP and TCP [default: 0.0.0.0:8060].
    #[arg(long, value_name = "ADDR:PORT")]
    sip_listen: Option<SocketAddr>,
    /// MRCPv2 control address [default: 0.0.0.0:1544].
    #[arg(long, value_name = "ADDR:PORT")]
    mrcp_listen: Option<SocketAddr>,
    /// RTP port range [default: 5000-20000].
    #[arg(long, value_name = "MIN-MAX", value_parser = parse_ports)]
    rtp_ports: Option<PortRange>,
    /// Address written in SDP and Contact, when clients reach the server through NAT or port forwarding.
    #[arg(long, value_name = "ADDR")]
    advertise: Option<IpAddr>,
    /// Address of /metrics and /healthz [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR:PORT")]
    http_listen: Option<SocketAddr>,
    /// Sessions at once; more INVITEs get 503 [default: 1000].
    #[arg(long, value_name = "N")]
    max_sessions: Option<usize>,
    /// On SIGTERM, seconds running sessions may go on before they are ended [default: 300].
    #[arg(long, value_name = "SECONDS")]
    drain_timeout: Option<u64>,
    /// PEM certificate chain for SIP and MRCP over TLS (`[tls] cert`); TLS is off without it.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate (`[tls] key`).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// SIP over TLS address [default: 0.0.0.0:5061 with a certificate].
    #[arg(long, value_name = "ADDR:PORT")]
    sip_tls_listen: Option<SocketAddr>,
    /// MRCPv2 over TLS address [default: 0.0.0.0:1545 with a certificate].
    #[arg(long, value_name = "ADDR:PORT")]
    mrcp_tls_listen: Option<SocketAddr>,
    /// Print the voices of the configured synthesizers (for Voice-Name) and exit.
    #[arg(long)]
    list_voices: bool,
}

fn parse_ports(s: &str) -> Result<PortRange, String> {
    s.parse()
}

fn init_logging(config: &Config) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// `--list-voices`: one line per voice, `engine name languages gender description`, tab-separated.
async fn list_voices(config: &Config) -> anyhow::Result<()> {
    let engines = mrcp_server::engines::Engines::from_config(config).await;
    for (engine, synthesizer) in engines.synthesizers() {
        for voice in &synthesizer.capabilities().voices {
            let gender = voice
                .gender
                .map_or("-".to_owned(), |g| format!("{g:?}").to_lowercase());
            let languages = voice.languages.join(",");
            println!(
                "{engine}\t{}\t{languages}\t{gender}\t{}",
                voice.name, voice.description
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let config = config.apply(&Overrides {
        sip_listen: cli.sip_listen,
        mrcp_listen: cli.mrcp_listen,
        rtp_ports: cli.rtp_ports,
        advertise: cli.advertise,
        http_listen: cli.http_listen,
        max_sessions: cli.max_sessions,
        drain_timeout_s: cli.drain_timeout,
        tls_cert: cli.tls_cert,
        tls_key: cli.tls_key,
        sip_tls_listen: cli.sip_tls_listen,
        mrcp_tls_listen: cli.mrcp_tls_listen,
    })?;
    let drain_timeout = config.drain_timeout();
    init_logging(&config);
    if cli.list_voices {
        return list_voices(&config).await;
    }
    let server = Server::start(config)
        .await
        .context("the server could not start")?;
    for (transport, addr) in &server.sip_addrs {
        println!("sip {transport} {addr}");
    }
    // Printed before the MRCP line: scripts read up to that one.
    println!("http tcp {}", server.http_addr);
    if let Some(addr) = server.mrcp_tls_addr {
        println!("mrcp tls {addr}");
    }
    println!("mrcp tcp {}", server.mrcp_addr);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            result?;
            tracing::info!(sessions = server.active_sessions(), "stopping");
            server.shutdown().await;
        }
        _ = term.recv() => {
            // SIGTERM (systemd, Kubernetes, an operator): drain. A second SIGTERM or Ctrl-C stops at once.
            let drain = server.drain(drain_timeout);
            tokio::pin!(drain);
            tokio::select! {
                () = &mut drain => {}
                _ = term.recv() => tracing::warn!("second SIGTERM: exiting without waiting for sessions"),
                _ = tokio::signal::ctrl_c() => tracing::warn!("Ctrl-C: exiting without waiting for sessions"),
            }
        }
    }
    Ok(())
}
