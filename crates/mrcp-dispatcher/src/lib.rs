//! # mrcp-dispatcher
//!
//! A SIP load balancer for MRCPv2 (RFC 6787) server farms: a stateful proxy (RFC 3261 §16)
//! built on `mrcp-sip`'s proxy core that picks a destination for every INVITE, fails over to
//! the next one on 5xx, 408, silence or transport error, inserts `Record-Route` so ACK, BYE and
//! re-INVITE reach the same server, and probes every destination with OPTIONS so that dead or
//! draining servers (OPTIONS answered 503) leave the rotation and come back when healthy. The
//! MRCP control connection and the RTP go straight from the client to the chosen server; the
//! dispatcher never reads or changes the SDP.
//!
//! ```text
//!  client ──SIP──> mrcp-dispatcher ──SIP──> mrcp-server A / B / …
//!     └────────── MRCP (TCP) + RTP ─────────────┘ (direct)
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`destination`] | destination URIs, weights, priorities |
//! | [`select`] | sans-IO selection: round robin, weighted, Call-ID hash, least-loaded |
//! | [`health`] | sans-IO OPTIONS health machine on injected time |
//! | [`config`] | TOML file and flags |
//! | [`metrics`] | counters per destination, Prometheus text format |
//! | [`http`] | `GET /metrics` and `GET /healthz` |
//! | [`run`] | the tokio task around the proxy core and the probing UAC |
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
pub mod destination;
pub mod health;
pub mod http;
pub mod metrics;
pub mod run;
pub mod select;

pub use config::{Config, ConfigError, FileConfig, Overrides};
pub use destination::{DestId, Destination};
pub use health::{Health, HealthConfig, HealthState};
pub use metrics::{DestinationStats, Stats};
pub use run::Dispatcher;
pub use select::{Algorithm, Selector};
