//! Recognizes DTMF digits (RFC 4733, or in-band when the server did not answer telephone-event) or a WAV
//! file against a grammar URI, as FreeSWITCH's `detect_speech` does with a builtin grammar (reference §10.2).
//!
//! ```sh
//! cargo run -p mrcp-client --example recognize -- 127.0.0.1:8060 'builtin:dtmf/digits?length=4' 1234
//! cargo run -p mrcp-client --example recognize -- 127.0.0.1:8060 builtin:grammar/boolean yes.wav
//! ```
//! Prints the RECOGNITION-COMPLETE cause and its NLSML.

use std::path::Path;
use std::time::Duration;

use mrcp_client::{Session, SessionConfig, read_wav_8k};
use mrcp_proto::mrcp::{Method, ResourceType};
use mrcp_proto::sdp::ClientProfile;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, grammar, input] = args.as_slice() else {
        return Err("usage: recognize HOST:PORT GRAMMAR-URI DIGITS|AUDIO.wav".into());
    };
    let (audio, digits) = if input.ends_with(".wav") {
        (read_wav_8k(Path::new(input))?, "")
    } else {
        (Vec::new(), input.as_str())
    };
    let mut session = Session::open(&SessionConfig {
        server: server.trim_start_matches("sip:").parse()?,
        transport: mrcp_sip::Transport::Udp,
        profile: ClientProfile::Asterisk,
        resource: ResourceType::Speechrecog,
        local_ip: "127.0.0.1".parse()?,
        rtp_ports: (40000, 40999),
        timeout: Duration::from_secs(10),
        tls: None,
    })
    .await?;
    // Strict mode (the default) checks every message as UniMRCP would.
    session
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false"), ("Start-Input-Timers", "true")],
            Some(("text/uri-list", grammar.as_bytes())),
        )
        .await?;
    let response = session.receive().await?;
    println!("<- {}", response.start);
    session.send_input(audio, digits).await?;
    let (events, complete) = session.until_event("RECOGNITION-COMPLETE").await?;
    for e in &events {
        println!("<- {}", e.start);
    }
    println!("<- {}", complete.start);
    println!(
        "Completion-Cause: {}",
        complete
            .headers
            .get_raw("Completion-Cause")
            .unwrap_or("none")
    );
    println!("{}", String::from_utf8_lossy(&complete.body));
    session.close().await;
    Ok(())
}
