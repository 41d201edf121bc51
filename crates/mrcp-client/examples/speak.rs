//! Speaks a text on an MRCPv2 server as FreeSWITCH would, and saves the audio.
//!
//! ```sh
//! cargo run -p mrcp-client --example speak -- 127.0.0.1:8060 "Your balance is ten dollars." out.wav
//! ```
//! Prints the SPEAK-COMPLETE cause, the time to the first RTP packet and the pacing of the stream.

use std::path::Path;
use std::time::Duration;

use mrcp_client::tts::write_wav;
use mrcp_client::{Session, SessionConfig, SpeakRequest};
use mrcp_proto::mrcp::ResourceType;
use mrcp_proto::sdp::ClientProfile;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, text, out] = args.as_slice() else {
        return Err("usage: speak HOST:PORT TEXT OUT.wav".into());
    };
    let mut session = Session::open(&SessionConfig {
        server: server.trim_start_matches("sip:").parse()?,
        transport: mrcp_sip::Transport::Udp,
        profile: ClientProfile::FreeSwitch,
        resource: ResourceType::Speechsynth,
        local_ip: "127.0.0.1".parse()?,
        rtp_ports: (40000, 40999),
        timeout: Duration::from_secs(10),
        tls: None,
    })
    .await?;
    let outcome = session.speak(&SpeakRequest::text(text)).await?;
    session.close().await;
    let s = &outcome.stats;
    println!(
        "completion-cause {:?}; {} packets, {:.2} s of audio",
        outcome.completion_cause(),
        s.packets,
        s.samples as f64 / f64::from(s.sample_rate.max(1))
    );
    println!(
        "first packet {:?} after IN-PROGRESS; gaps p50 {:.1} ms, p99 {:.1} ms; jitter {:.2} ms",
        s.first_packet_from_in_progress,
        s.pacing.gap_p50_ms,
        s.pacing.gap_p99_ms,
        s.pacing.jitter_ms
    );
    for v in &outcome.violations {
        println!("violation: {v}");
    }
    write_wav(Path::new(out), s.sample_rate, &outcome.audio)?;
    Ok(())
}
