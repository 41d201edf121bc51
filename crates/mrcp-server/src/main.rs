//! `mrcp-server`: the open-mrcp MRCPv2 speech server.
//!
//! ```text
//! mrcp-server [--config FILE] [--sip-listen ADDR:PORT] [--mrcp-listen ADDR:PORT] [--rtp-ports MIN-MAX]
//!             [--advertise ADDR] [--http-listen ADDR:PORT] [--max-sessions N]
//! ```
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
    })?;
    init_logging(&config);
    let server = Server::start(config)
        .await
        .context("the server could not start")?;
    for (transport, addr) in &server.sip_addrs {
        println!("sip {transport} {addr}");
    }
    println!("mrcp tcp {}", server.mrcp_addr);
    wait_for_signal().await?;
    tracing::info!(sessions = server.active_sessions(), "stopping");
    server.shutdown().await;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    Ok(())
}
