//! `mrcp-dispatcher`: a SIP load balancer in front of MRCPv2 servers.
//!
//! ```text
//! mrcp-dispatcher --listen ADDR:PORT --destination sip:HOST:PORT[;weight=N] ...
//!     [--algorithm round-robin|weighted|hash|least-loaded] [--probe-interval SECONDS]
//!     [--http-listen ADDR:PORT] [--config FILE]
//! ```
//!
//! Prints `sip UDP ADDR`, `sip TCP ADDR` (and `http ADDR` with `--http-listen`) once listening;
//! stops on SIGTERM or Ctrl-C.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context as _;
use clap::Parser;
use mrcp_dispatcher::{Algorithm, Dispatcher, FileConfig, Overrides};

/// SIP load balancer for MRCPv2 servers.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// SIP address (UDP and TCP), default 0.0.0.0:5060.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A destination, `sip:HOST:PORT[;weight=N][;priority=N][;transport=tcp]`; repeat for more
    /// (replaces the file's list).
    #[arg(long = "destination")]
    destinations: Vec<String>,
    /// Selection algorithm.
    #[arg(long, value_enum)]
    algorithm: Option<Algorithm>,
    /// Seconds between OPTIONS probes of each destination.
    #[arg(long)]
    probe_interval: Option<f64>,
    /// Address of the HTTP endpoint: `GET /metrics` (Prometheus) and `GET /healthz` (200 while
    /// a destination is in rotation, 503 otherwise).
    #[arg(long)]
    http_listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let file = match &cli.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let config = file.resolve(Overrides {
        listen: cli.listen,
        destinations: cli.destinations,
        algorithm: cli.algorithm,
        probe_interval: cli.probe_interval,
        http_listen: cli.http_listen,
    })?;
    let dispatcher = Dispatcher::start(config)
        .await
        .context("the dispatcher could not start")?;
    for l in &dispatcher.sip_addrs {
        println!("sip {} {}", l.transport, l.addr);
    }
    if let Some(addr) = dispatcher.http_addr {
        println!("http {addr}");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    dispatcher.shutdown();
    Ok(())
}
