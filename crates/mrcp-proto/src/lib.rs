//! # mrcp-proto
//!
//! Every wire and document format of the toolkit, without I/O: bytes in, typed values out, and back.
//! Nothing here reads a clock, opens a socket or depends on an async runtime (see `design.md`, rule 1).
//!
//! | module | format | specification |
//! |---|---|---|
//! | [`mrcp`] | MRCPv2 messages, typed headers, the streaming decoder and encoder | RFC 6787 §5, §6, §8–§10 |
//! | [`sdp`] | SDP offers and answers for MRCP sessions | RFC 6787 §4.2, RFC 4145, RFC 4566 |
//! | [`nlsml`] | recognition results | RFC 6787 §9.6 |
//! | [`grammar`] | SRGS XML and ABNF, JSGF, builtin grammars, semantic tags, matching | W3C SRGS 1.0, SISR 1.0 |
//! | [`sip`] | SIP helpers over rsip: compact header forms, stream framing | RFC 3261 §7.3.3, §18.3 |
//! | [`ssml`] | SSML documents for SPEAK: parsing, writing, segments for engines | W3C SSML 1.0/1.1, RFC 6787 §8 |
//! | [`engine`] | the failure vocabulary engines and the server share | — |
//! | [`rtp`] | RTP/RTCP packets, G.711 tables, telephone-event payloads | RFC 3550, ITU-T G.711, RFC 4733 |
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod engine;
pub mod grammar;
pub mod mrcp;
pub mod nlsml;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod ssml;
