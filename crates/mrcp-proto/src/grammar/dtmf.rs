//! Matching DTMF key strings against the active DTMF grammars (RFC 6787 §9.4.13 Recognize with DTMF input;
//! timers §9.4.24 DTMF-Interdigit-Timeout and §9.4.25 DTMF-Term-Timeout).
//!
//! The recognizer feeds the keys received so far (without the Dtmf-Term-Char) and acts on the answer:
//!
//! | answer | recognizer action |
//! |---|---|
//! | [`DtmfOutcome::Complete`] with `can_extend == false` | complete now (success) |
//! | [`DtmfOutcome::Complete`] with `can_extend == true` | wait DTMF-Term-Timeout for more keys, then succeed |
//! | [`DtmfOutcome::Incomplete`] | wait DTMF-Interdigit-Timeout; if it fires, partial-match / no-match |
//! | [`DtmfOutcome::NoMatch`] | complete now with no-match |

use super::compile::Sym;
use super::limits::GrammarLimits;
use super::matcher::{ActiveGrammar, Ctx, GrammarMatch, UNKNOWN};
use super::model::Mode;
use super::normalize::is_dtmf_key;

/// Result of matching a DTMF string.
#[derive(Debug, Clone, PartialEq)]
pub enum DtmfOutcome {
    /// The keys form a complete sentence of a grammar.
    Complete {
        /// The best match.
        matched: GrammarMatch,
        /// Some active grammar would also accept more keys after these.
        can_extend: bool,
    },
    /// No grammar matches yet, but more keys could make one match.
    Incomplete,
    /// No grammar can match these keys, whatever follows.
    NoMatch,
}

/// Match keys (`0`–`9`, `*`, `#`, `A`–`D`; anything else makes the input a no-match) against the DTMF grammars
/// of the active list. Voice grammars are ignored. The first grammar (in list order, weight breaking ties) with
/// a complete parse wins.
pub fn match_dtmf(
    grammars: &[ActiveGrammar<'_>],
    keys: &str,
    limits: &GrammarLimits,
) -> DtmfOutcome {
    let keys: Vec<String> = keys
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase().to_string())
        .collect();
    if keys.is_empty()
        || keys.len() > limits.max_input_tokens
        || !keys.iter().all(|k| k.chars().all(is_dtmf_key))
    {
        return if keys.is_empty() && grammars.iter().any(|g| g.grammar.mode() == Mode::Dtmf) {
            DtmfOutcome::Incomplete
        } else {
            DtmfOutcome::NoMatch
        };
    }
    let mut best: Option<(f32, f32, GrammarMatch)> = None;
    let mut can_extend = false;
    let mut incomplete = false;
    for (gi, active) in grammars.iter().enumerate() {
        let g = active.grammar;
        if g.mode() != Mode::Dtmf {
            continue;
        }
        let syms: Vec<Sym> = keys.iter().map(|k| g.sym(k).unwrap_or(UNKNOWN)).collect();
        let mut ctx = Ctx::new(g, &syms, &keys, limits, true);
        let parse = ctx.best_parse(false);
        if ctx.exhausted {
            continue;
        }
        can_extend |= ctx.wants_more;
        match parse {
            Some(p) => {
                let input = keys.concat();
                let fit = p.fit();
                let m = GrammarMatch {
                    grammar_index: gi,
                    grammar_id: active.id.to_owned(),
                    input,
                    matched_text: p.text.clone(),
                    mode: Mode::Dtmf,
                    confidence: fit,
                    instance: p.value,
                    transcript_index: 0,
                };
                let key = (fit * active.weight.max(0.0), p.logp);
                if best
                    .as_ref()
                    .is_none_or(|(a, b, _)| key.0 > *a || key.0 == *a && key.1 > *b)
                {
                    best = Some((key.0, key.1, m));
                }
            }
            None => incomplete |= ctx.wants_more,
        }
    }
    match best {
        Some((_, _, matched)) => DtmfOutcome::Complete {
            matched,
            can_extend,
        },
        None if incomplete => DtmfOutcome::Incomplete,
        None => DtmfOutcome::NoMatch,
    }
}
