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
#[doc(hidden)]
pub mod fuzz_support;
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

/// Parse a grammar body by media type (RFC 6787 §9.5): `application/srgs+xml` (and the older
/// `application/grammar+xml`), `application/srgs` (ABNF), `application/x-jsgf` / `application/jsgf`. For a
/// missing or generic type (`text/plain`, `application/octet-stream`) the format is sniffed as FreeSWITCH does:
/// `<` means XML, `#ABNF` ABNF, `#JSGF` JSGF. `source` names the grammar in errors.
pub fn parse_grammar(
    content_type: Option<&str>,
    body: &[u8],
    source: &str,
    limits: &GrammarLimits,
) -> Result<Grammar, GrammarError> {
    if body.len() > limits.max_bytes {
        return Err(GrammarError::whole(
            source,
            GrammarErrorKind::Limit {
                what: "grammar size",
                value: body.len() as u64,
                limit: limits.max_bytes as u64,
            },
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| GrammarError::whole(source, GrammarErrorKind::NotUtf8))?;
    let text = text.trim_start_matches('\u{feff}');
    let media = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let sniffed = || {
        let t = text.trim_start();
        if t.starts_with('<') {
            Some("application/srgs+xml")
        } else if t.starts_with("#ABNF") {
            Some("application/srgs")
        } else if t.starts_with("#JSGF") {
            Some("application/x-jsgf")
        } else {
            None
        }
    };
    let kind = match media.as_deref() {
        Some(
            "application/srgs+xml" | "application/grammar+xml" | "application/xml" | "text/xml",
        ) => "application/srgs+xml",
        Some("application/srgs" | "application/x-srgs" | "application/grammar") => {
            "application/srgs"
        }
        Some("application/x-jsgf" | "application/jsgf" | "text/jsgf") => "application/x-jsgf",
        None | Some("text/plain" | "application/octet-stream" | "") => {
            sniffed().ok_or_else(|| {
                GrammarError::whole(
                    source,
                    GrammarErrorKind::UnsupportedContentType {
                        content_type: media.clone().unwrap_or_default(),
                    },
                )
            })?
        }
        Some(other) => {
            return Err(GrammarError::whole(
                source,
                GrammarErrorKind::UnsupportedContentType {
                    content_type: other.to_owned(),
                },
            ));
        }
    };
    match kind {
        "application/srgs+xml" => srgs_xml::parse_srgs_xml_with(text, source, limits),
        "application/srgs" => abnf::parse_abnf_with(text, source, limits),
        _ => jsgf::parse_jsgf_with(text, source, limits),
    }
}
