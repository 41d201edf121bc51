//! Grammars: W3C SRGS 1.0 (XML and ABNF forms), JSGF, builtin grammars (RFC 6787 §9.5), W3C SISR 1.0 semantic
//! tags, matching transcripts and DTMF against active grammars, export to JSGF and word lists, and the
//! per-session grammar store (DEFINE-GRAMMAR, RFC 6787 §9.8; `session:` URIs, §9.4.16... see [`store`]).
//!
//! Sans-IO: nothing here fetches, reads a clock or spawns. The store says which URIs need fetching; the caller
//! fetches and hands the bodies back with the current time.
//!
//! Layers, bottom up:
//! - [`model`]: the [`Grammar`] every format parses into;
//! - [`srgs_xml`], [`abnf`], [`jsgf`]: parsers (and serializers);
//! - [`builtin`]: `builtin:dtmf/digits?length=4` and friends as [`Grammar`]s;
//! - [`semantics`]: the supported SISR subset;
//! - [`compile`]: [`CompiledGrammar`], checked against [`GrammarLimits`];
//! - [`normalize`], [`matcher`], [`dtmf`]: matching an n-best list or a DTMF string;
//! - [`export`]: JSGF and word/phrase lists;
//! - [`store`]: grammars of a session.

pub mod abnf;
pub mod builtin;
pub mod compile;
pub mod dtmf;
pub mod error;
pub mod export;
pub mod jsgf;
pub mod limits;
pub mod matcher;
pub mod model;
pub mod normalize;
pub mod semantics;
pub mod srgs_xml;
pub mod store;

pub use compile::CompiledGrammar;
pub use error::{GrammarError, GrammarErrorKind, Location};
pub use limits::GrammarLimits;
pub use model::{Alternative, Expansion, Grammar, Mode, Rule, RuleRef, Scope, SpecialRule};
