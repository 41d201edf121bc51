//! Harnesses shared by the fuzz targets (`fuzz/fuzz_targets/srgs_xml.rs`, `srgs_abnf.rs`, `grammar_match.rs`)
//! and the stable test that replays their corpora, so CI runs exactly what the fuzzer runs. Each harness
//! panics only when an invariant breaks (a serializer whose output does not parse back to the same thing).

use super::abnf::{parse_abnf_with, to_abnf};
use super::builtin::compile_builtin;
use super::compile::CompiledGrammar;
use super::dtmf::match_dtmf;
use super::export::{phrase_list, sample_sentence, to_jsgf};
use super::jsgf::parse_jsgf_with;
use super::limits::GrammarLimits;
use super::matcher::{ActiveGrammar, MatchOptions, Transcript, match_transcripts};
use super::model::{Grammar, Mode};
use super::parse_grammar;
use super::srgs_xml::{parse_srgs_xml_with, to_srgs_xml};

fn limits() -> GrammarLimits {
    // Smaller than the defaults so that one fuzz input stays fast.
    GrammarLimits {
        max_bytes: 64 * 1024,
        max_rules: 200,
        max_nodes: 20_000,
        max_match_steps: 50_000,
        ..GrammarLimits::default()
    }
}

fn exercise(g: &Grammar, inputs: &[&str]) {
    let limits = limits();
    let Ok(c) = CompiledGrammar::compile_with(g, "fuzz", &limits, &|_, _| None) else {
        return;
    };
    let jsgf = to_jsgf(&c, "fuzz");
    // JSGF export of anything compiled must parse (rule names and words are sanitized).
    if let Err(e) = parse_jsgf_with(
        &jsgf,
        "export",
        &GrammarLimits {
            max_bytes: usize::MAX,
            ..GrammarLimits::default()
        },
    ) {
        // Unrolled repeats can nest deeper than the parser's nesting limit; anything else is a bug.
        assert!(
            matches!(e.kind, super::GrammarErrorKind::Limit { .. }),
            "exported JSGF does not parse: {e}\n{jsgf}"
        );
    }
    let _ = phrase_list(&c, 10);
    let mut seed = 0x9e37_79b9_u64;
    let mut choose = |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        usize::try_from((seed >> 33) % n.max(1) as u64).unwrap_or(0)
    };
    let sampled = sample_sentence(&c, &mut choose, 30)
        .map(|w| w.join(if c.mode() == Mode::Dtmf { "" } else { " " }));
    let active = [ActiveGrammar {
        id: "fuzz",
        grammar: &c,
        weight: 1.0,
    }];
    let opts = MatchOptions {
        limits: limits.clone(),
        ..MatchOptions::default()
    };
    for input in inputs.iter().copied().chain(sampled.as_deref()) {
        let t = [Transcript {
            text: input.to_owned(),
            confidence: 0.8,
        }];
        let _ = match_transcripts(&active, &t, &opts);
        let _ = match_dtmf(&active, input, &limits);
    }
}

/// SRGS XML: parse; a parsed grammar serializes to XML that parses, and serializing again is stable; then
/// compile, export and match.
pub fn srgs_xml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(g) = parse_srgs_xml_with(text, "fuzz", &limits()) else {
        return;
    };
    let once = to_srgs_xml(&g);
    let again = parse_srgs_xml_with(
        &once,
        "again",
        &GrammarLimits {
            max_bytes: usize::MAX,
            ..limits()
        },
    )
    .unwrap_or_else(|e| panic!("serialized grammar does not parse: {e}\n{once}"));
    assert_eq!(to_srgs_xml(&again), once, "XML serialization is not stable");
    exercise(&g, &["yes", "one two three", "1234#"]);
}

/// SRGS ABNF: as [`srgs_xml`], and the ABNF form of the grammar converted to XML and back is the same model.
pub fn srgs_abnf(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(g) = parse_abnf_with(text, "fuzz", &limits()) else {
        return;
    };
    let once = to_abnf(&g);
    let big = GrammarLimits {
        max_bytes: usize::MAX,
        ..limits()
    };
    let again = parse_abnf_with(&once, "again", &big)
        .unwrap_or_else(|e| panic!("serialized grammar does not parse: {e}\n{once}"));
    assert_eq!(to_abnf(&again), once, "ABNF serialization is not stable");
    if let Ok(via_xml) = parse_srgs_xml_with(&to_srgs_xml(&again), "xml", &big) {
        assert_eq!(
            to_abnf(&via_xml),
            once,
            "ABNF → XML → ABNF changed the grammar"
        );
    }
    exercise(&g, &["yes", "one two three", "1234#"]);
}

/// Matching: the first line is the input (a transcript and, as keys, a DTMF string); the rest is a grammar in
/// any supported form (sniffed), or, when it starts with `builtin:`, a builtin grammar URI.
pub fn grammar_match(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (input, grammar) = text.split_once('\n').unwrap_or((text, ""));
    let limits = limits();
    let compiled = if grammar.trim_start().starts_with("builtin:") {
        compile_builtin(grammar.trim(), &limits).ok()
    } else {
        parse_grammar(None, grammar.as_bytes(), "fuzz", &limits)
            .ok()
            .and_then(|g| CompiledGrammar::compile_with(&g, "fuzz", &limits, &|_, _| None).ok())
    };
    let Some(c) = compiled else { return };
    let active = [ActiveGrammar {
        id: "fuzz",
        grammar: &c,
        weight: 1.0,
    }];
    let opts = MatchOptions {
        limits: limits.clone(),
        ..MatchOptions::default()
    };
    let nbest = [
        Transcript {
            text: input.to_owned(),
            confidence: 0.7,
        },
        Transcript {
            text: input.to_uppercase(),
            confidence: 0.2,
        },
    ];
    if let Some(m) = match_transcripts(&active, &nbest, &opts).best() {
        assert!(
            (0.0..=1.0).contains(&m.confidence),
            "confidence {} out of range",
            m.confidence
        );
    }
    let _ = match_dtmf(&active, input, &limits);
}
