//! # engine-check
//!
//! The conformance kit of engine-ws v1 (`docs/engine-ws.md` §7), and a reference engine that follows the
//! specification (or breaks it on request) for the tests of the adapters, the server and the kit itself.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod reference;
