//! # mrcp-server
//!
//! The MRCPv2 (RFC 6787) speech server. This crate is being built; what is here now:
//!
//! - [`config`]: the TOML configuration with UniMRCP's defaults, command-line overrides and validation that
//!   names the key at fault;
//! - [`control`]: MRCPv2 control connections, routed by Channel-Identifier to the owning session;
//! - [`metrics`]: the Prometheus registry and the typed calls that record into it;
//! - [`http`]: `GET /metrics` and `GET /healthz` on the operations port;
//! - [`params`]: SET-PARAMS/GET-PARAMS and the request → channel → default layering of parameters;
//! - [`routing`]: the rules that choose an engine per request;
//! - [`recognizer`]: the speechrecog resource (RFC 6787 §9) as a sans-IO state machine with every timer;
//! - [`synthesizer`]: the speechsynth resource (RFC 6787 §8) as a sans-IO state machine;
//! - [`recorder`]: the recorder resource (RFC 6787 §10) as a sans-IO state machine.
//! - [`tls`]: SIP and MRCP over TLS (certificates, client certificates, the MRCP TLS listener).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod access;
pub mod config;
pub mod control;
pub mod digest;
pub mod engines;
pub mod fetch;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod params;
pub mod recognizer;
pub mod recorder;
pub mod resources;
pub mod routing;
pub mod server;
mod session;
pub mod synthesizer;
pub mod tls;
