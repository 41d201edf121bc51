//! # engine-check
//!
//! The conformance kit of engine-ws v1 (`docs/engine-ws.md` §7): [`asr::check`] and [`tts::check`] drive an
//! engine through every message and error case of the specification and return a [`Report`] with PASS, FAIL
//! (and why) or SKIP per case; the `engine-check` binary prints it and exits non-zero on any failure.
//!
//! [`reference`] is an engine that follows the specification (or breaks it on request) for the tests of the
//! adapters, the server and the kit itself.
//!
//! ```rust,no_run
//! # async fn demo() {
//! let report = engine_check::asr::check(&engine_check::asr::AsrOptions::new("ws://127.0.0.1:2700/asr")).await;
//! println!("{report}");
//! assert!(report.all_passed());
//! # }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod asr;
pub mod client;
pub mod reference;
mod report;
pub mod tts;

pub use report::{CaseResult, Outcome, Report};

/// `scheme://host:port` of a URL: what the kit prints (a query could hold a key).
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}")
}
