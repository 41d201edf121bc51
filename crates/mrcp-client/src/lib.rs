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
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod load;
mod session;
mod tones;

pub use session::{ClientError, ClientTls, MediaWait, Session, SessionConfig, read_wav_8k};
pub use tones::inband_dtmf;
