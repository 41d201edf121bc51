//! Grammars: W3C SRGS 1.0 (XML and ABNF forms), JSGF, builtin grammars (RFC 6787 §9.5), W3C SISR 1.0 semantic
//! tags, matching transcripts and DTMF against the active grammars (RFC 6787 §9.4.13), export to JSGF and
//! word/phrase lists, and the per-session grammar store (DEFINE-GRAMMAR, RFC 6787 §9.8; `session:` URIs).
//!
//! Sans-IO: nothing here fetches, reads a clock or spawns. The [`store`] says which URIs need fetching; the
//! caller fetches (honouring Fetch-Timeout) and hands the bodies back with the current time.
//!
//! # Layers, bottom up
//! | module | role |
//! |---|---|
//! | [`model`] | the [`Grammar`] every format parses into |
//! | [`srgs_xml`], [`abnf`], [`jsgf`] | parsers (and SRGS XML / ABNF serializers); errors name source, line and problem |
//! | [`builtin`] | `builtin:dtmf/digits?length=4` and friends, generated as SRGS with SISR tags |
//! | [`semantics`] | the supported SISR subset (documented there; the rest is a compile error) |
//! | [`compile`] | [`CompiledGrammar`]: rules resolved, words interned, tags compiled, [`GrammarLimits`] enforced |
//! | [`normalize`], [`matcher`], [`dtmf`] | matching an n-best list or a DTMF string |
//! | [`export`] | JSGF (PocketSphinx), word and phrase lists (cloud hints), random sentences |
//! | [`store`] | grammars of a session: DEFINE-GRAMMAR, `session:`, `builtin:`, fetched URIs with caching |
//!
//! # Use in the recognizer
//! ```
//! use std::time::Instant;
//! use mrcp_proto::grammar::store::{GrammarStore, Resolution, parse_uri_list};
//! use mrcp_proto::grammar::{ActiveGrammar, GrammarLimits, MatchOptions, Transcript, match_transcripts};
//!
//! let now = Instant::now();
//! let mut store = GrammarStore::new(GrammarLimits::default());
//! // DEFINE-GRAMMAR, Content-Id: yesno
//! let body = br#"<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" root="yn"
//!   tag-format="semantics/1.0"><rule id="yn"><one-of><item>yes<tag>out=true</tag></item>
//!   <item>no<tag>out=false</tag></item></one-of></rule></grammar>"#;
//! store.define("yesno", "application/srgs+xml", body, now).expect("valid grammar");
//! // RECOGNIZE with a text/uri-list body
//! let Resolution::Ready(grammars) = store.resolve(&parse_uri_list("session:yesno\r\n"), now).expect("known")
//! else { unreachable!("no URI to fetch") };
//! let active: Vec<ActiveGrammar<'_>> = grammars
//!     .iter()
//!     .map(|g| ActiveGrammar { id: &g.id, grammar: &g.grammar, weight: g.weight })
//!     .collect();
//! // The engine heard "Yes, please." with confidence 0.82.
//! let nbest = [Transcript { text: "Yes, please.".into(), confidence: 0.82 }];
//! let best = match_transcripts(&active, &nbest, &MatchOptions::default());
//! let m = best.best().expect("a match");
//! assert_eq!((m.grammar_id.as_str(), m.instance.clone()), ("session:yesno", serde_json::json!(true)));
//! ```
//!
//! # Coverage
//! | specification | status |
//! |---|---|
//! | SRGS 1.0 XML §2 (tokens, ruleref local/special/external, one-of + weights, repeat, tag), §3 (rules, scope), §4 (mode, root, xml:lang, tag-format, xml:base) | done; `<lexicon>`, `<meta>`, `<example>` skipped; `xml:lang` on items ignored |
//! | SRGS 1.0 ABNF form | done (same model; `!lang` suffixes and `repeat-prob` ignored) |
//! | JSGF 1.0 | done for one grammar per body (imports are not resolved) |
//! | SISR 1.0 `semantics/1.0` | subset: see [`semantics`]; grammar-level tags rejected |
//! | SISR 1.0 `semantics/1.0-literals` | done |
//! | RFC 6787 §9.5 builtin grammars | dtmf/digits, dtmf/boolean, dtmf/number, speech/boolean, speech/digits, speech/number, speech/transcribe (+ `grammar/`, `voice/` aliases) |
//! | RFC 6787 §9.8 DEFINE-GRAMMAR | done, empty body unloads; `text/uri-list` bodies (FreeSWITCH `define-grammar=true`) |
//! | RFC 9111 caching of fetched grammars | `max-age`, `no-cache`, `no-store`, `Expires` − `Date` |
//!
//! # Limits and non-goals
//! - Left recursion is cut (a left-recursive alternative contributes nothing); right recursion works.
//! - Matching is exact on normalized words, with GARBAGE (explicit, and around the sentence when allowed);
//!   there is no fuzzy (phonetic or edit-distance) matching of misrecognized words.
//! - Every size and the work per match are bounded by [`GrammarLimits`].

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
mod scanner;
pub mod semantics;
pub mod srgs_xml;
pub mod store;

pub use compile::CompiledGrammar;
pub use dtmf::{DtmfOutcome, match_dtmf};
pub use error::{GrammarError, GrammarErrorKind, Location};
pub use limits::GrammarLimits;
pub use matcher::{
    ActiveGrammar, GrammarMatch, MatchOptions, MatchOutcome, Transcript, match_transcripts,
};
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
