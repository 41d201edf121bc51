//! Example UAS on mrcp-sip: answers INVITEs with an MRCPv2 SDP answer over UDP and TCP.
//!
//! ```text
//! cargo run -p mrcp-sip --example uas -- 127.0.0.1:8060 [status]
//! ```
//! Prints the bound addresses, then serves until Ctrl-C.

mod app;

use mrcp_sip::driver::{DriverConfig, spawn};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let addr: std::net::SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8060".to_owned())
        .parse()?;
    let invite_status: u16 = args.next().map_or(Ok(200), |s| s.parse())?;
    let driver = spawn(DriverConfig {
        udp: vec![addr],
        tcp: vec![addr],
        ..DriverConfig::default()
    })
    .await?;
    for local in driver.handle.local_addrs() {
        println!("listening {} {}", local.transport, local.addr);
    }
    let handle = driver.handle.clone();
    let serving = tokio::spawn(app::serve(
        driver,
        app::Behaviour {
            invite_status,
            answer: true,
        },
    ));
    tokio::signal::ctrl_c().await?;
    handle.shutdown();
    let seen = serving.await?;
    println!("{seen:?}");
    Ok(())
}
