//! # mrcp-client
//!
//! An MRCPv2 client that drives a server the way FreeSWITCH's `mod_unimrcp` and Asterisk's UniMRCP modules
//! do: their SDP offers ([`mrcp_proto::sdp::ClientProfile`]), one SIP dialog per resource, MRCP requests over
//! TCP and RTP at real pace. It shares no code with the server: they meet on the wire.
//!
//! [`load`] is the load generator behind `mrcp-client load`: many concurrent sessions at a rate, checked
//! results, latency histograms and JSON/HTML reports.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mrcp_client::ClientError> {
//! use mrcp_client::{Session, SessionConfig};
//! use mrcp_proto::mrcp::{Method, ResourceType};
//! use mrcp_proto::sdp::ClientProfile;
//!
//! let mut session = Session::open(&SessionConfig {
//!     server: "127.0.0.1:8060".parse().unwrap(),
//!     transport: mrcp_sip::Transport::Udp,
//!     profile: ClientProfile::FreeSwitch,
//!     resource: ResourceType::Speechrecog,
//!     local_ip: "127.0.0.1".parse().unwrap(),
//!     rtp_ports: (40000, 40999),
//!     timeout: std::time::Duration::from_secs(10),
//!     tls: None,
//! })
//! .await?;
//! session.send(Method::Recognize, &[], Some(("text/uri-list", b"builtin:dtmf/digits?length=4"))).await?;
//! let _in_progress = session.receive().await?;
//! session.dtmf("1234").await?;
//! let (_events, complete) = session.until_event("RECOGNITION-COMPLETE").await?;
//! println!("{}", String::from_utf8_lossy(&complete.body));
//! session.close().await;
//! # Ok(()) }
//! ```
//!
//! Synthesis: [`Session::speak`] sends SPEAK and receives the RTP packet by packet ([`tts`]); the outcome holds
//! the decoded audio, the time to the first packet and the pacing. Every message is checked as the UniMRCP
//! client checks it ([`violation`]): strict mode (the default) fails on a [`Violation`], lenient mode logs it.
//!
//! ```no_run
//! # async fn demo(config: mrcp_client::SessionConfig) -> Result<(), mrcp_client::ClientError> {
//! use mrcp_client::{Mode, Session, SpeakRequest};
//!
//! let mut session = Session::open(&config).await?; // config.resource = ResourceType::Speechsynth
//! session.set_mode(Mode::Lenient);
//! let outcome = session.speak(&SpeakRequest::text("Hello world")).await?;
//! mrcp_client::tts::write_wav("out.wav".as_ref(), outcome.stats.sample_rate, &outcome.audio)?;
//! println!("first packet after {:?}, jitter {:.2} ms", outcome.stats.first_packet_from_in_progress,
//!     outcome.stats.pacing.jitter_ms);
//! session.close().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
pub mod load;
mod session;
mod speak;
pub mod synth_and_recog;
mod tones;
pub mod tts;
pub mod violation;

pub use session::{ClientError, ClientTls, MediaWait, Session, SessionConfig, read_wav_8k};
pub use speak::{DEFAULT_TAIL, SpeakOutcome, SpeakRequest};
pub use tones::inband_dtmf;
pub use violation::{Mode, Violation};
