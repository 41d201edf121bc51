//! Property tests: generated grammars survive SRGS XML and ABNF round trips and both forms parse to the same
//! model; every sentence generated from a grammar matches it (speech and DTMF).

use mrcp_proto::grammar::abnf::{parse_abnf, to_abnf};
use mrcp_proto::grammar::dtmf::{DtmfOutcome, match_dtmf};
use mrcp_proto::grammar::export::{phrase_list, sample_sentence, to_jsgf};
use mrcp_proto::grammar::jsgf::parse_jsgf;
use mrcp_proto::grammar::matcher::{
    ActiveGrammar, MatchOptions, MatchOutcome, Transcript, match_transcripts,
};
use mrcp_proto::grammar::srgs_xml::{parse_srgs_xml, to_srgs_xml};
use mrcp_proto::grammar::{
    Alternative, CompiledGrammar, Expansion, Grammar, GrammarLimits, Mode, Rule, RuleRef, Scope,
    SpecialRule,
};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "yes", "no", "account", "balance", "pay", "my", "bill", "new york", "operator", "two", "seven",
    "please",
];
const KEYS: &[&str] = &["0", "1", "2", "5", "9", "*", "#"];

fn leaf(mode: Mode, rules_after: usize, first_rule: usize) -> BoxedStrategy<Expansion> {
    let words: &'static [&'static str] = if mode == Mode::Dtmf { KEYS } else { WORDS };
    let token = prop::sample::select(words).prop_map(|w| Expansion::Token(w.to_owned()));
    let tag = prop::sample::select(&["yes", "a", "b"][..])
        .prop_map(|v| Expansion::Tag(format!("out.v = \"{v}\";")));
    let null = Just(Expansion::RuleRef(RuleRef::Special(SpecialRule::Null)));
    let garbage = Just(Expansion::RuleRef(RuleRef::Special(SpecialRule::Garbage)));
    if rules_after > 0 && mode == Mode::Voice {
        let rref = (0..rules_after)
            .prop_map(move |i| Expansion::RuleRef(RuleRef::Local(format!("r{}", first_rule + i))));
        prop_oneof![6 => token, 1 => tag, 1 => null, 1 => garbage, 2 => rref].boxed()
    } else if rules_after > 0 {
        let rref = (0..rules_after)
            .prop_map(move |i| Expansion::RuleRef(RuleRef::Local(format!("r{}", first_rule + i))));
        prop_oneof![6 => token, 1 => tag, 1 => null, 2 => rref].boxed()
    } else {
        prop_oneof![6 => token, 1 => tag, 1 => null].boxed()
    }
}

/// Expansions in the canonical shape the parsers produce (no one-element or empty sequences).
fn expansion(mode: Mode, rules_after: usize, first_rule: usize) -> BoxedStrategy<Expansion> {
    leaf(mode, rules_after, first_rule)
        .prop_recursive(3, 24, 4, |inner| {
            let weight = prop::sample::select(&[1.0_f32, 0.5, 2.0, 3.25][..]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expansion::Sequence),
                prop::collection::vec((weight, inner.clone()), 1..4).prop_map(|alts| {
                    Expansion::OneOf(
                        alts.into_iter()
                            .map(|(weight, body)| Alternative { weight, body })
                            .collect(),
                    )
                }),
                (
                    inner,
                    prop::sample::select(
                        &[
                            (0_u32, Some(1_u32)),
                            (1, Some(3)),
                            (2, None),
                            (0, None),
                            (2, Some(2))
                        ][..]
                    )
                )
                    .prop_map(|(b, (min, max))| Expansion::Repeat {
                        body: Box::new(b),
                        min,
                        max
                    }),
            ]
        })
        .boxed()
}

fn grammar(mode: Mode) -> impl Strategy<Value = Grammar> {
    (1_usize..4).prop_flat_map(move |n| {
        let rules: Vec<BoxedStrategy<Expansion>> =
            (0..n).map(|i| expansion(mode, n - i - 1, i + 1)).collect();
        (rules, prop::option::of(Just("en-US".to_owned()))).prop_map(move |(bodies, language)| {
            Grammar {
                mode,
                language,
                root: Some("r0".to_owned()),
                tag_format: Some("semantics/1.0".to_owned()),
                base: None,
                header_tags: Vec::new(),
                rules: bodies
                    .into_iter()
                    .enumerate()
                    .map(|(i, body)| Rule {
                        name: format!("r{i}"),
                        scope: if i == 0 {
                            Scope::Public
                        } else {
                            Scope::Private
                        },
                        body,
                    })
                    .collect(),
            }
        })
    })
}

fn chooser(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    move |n| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((state >> 33) % (n.max(1) as u64)).unwrap_or(0)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn xml_and_abnf_forms_are_equivalent(g in grammar(Mode::Voice)) {
        let from_xml = parse_srgs_xml(&to_srgs_xml(&g), "gen").expect("xml parses");
        let from_abnf = parse_abnf(&to_abnf(&g), "gen").expect("abnf parses");
        prop_assert_eq!(&from_xml, &g);
        prop_assert_eq!(&from_abnf, &g);
    }

    #[test]
    fn dtmf_xml_and_abnf_forms_are_equivalent(g in grammar(Mode::Dtmf)) {
        prop_assert_eq!(parse_srgs_xml(&to_srgs_xml(&g), "gen").expect("xml"), parse_abnf(&to_abnf(&g), "gen").expect("abnf"));
    }

    #[test]
    fn generated_sentences_match(g in grammar(Mode::Voice), seed in any::<u64>()) {
        let c = CompiledGrammar::compile(&g, "gen").expect("compiles");
        let mut choose = chooser(seed);
        if let Some(words) = sample_sentence(&c, &mut choose, 40) {
            prop_assume!(!words.is_empty());
            let active = [ActiveGrammar { id: "gen", grammar: &c, weight: 1.0 }];
            let t = [Transcript { text: words.join(" "), confidence: 1.0 }];
            let opts = MatchOptions { allow_surrounding_garbage: false, drop_fillers: false, ..MatchOptions::default() };
            let out = match_transcripts(&active, &t, &opts);
            prop_assert!(matches!(out, MatchOutcome::Match(_)), "{:?} does not match {}", words, to_srgs_xml(&g));
            // The grammar exported to JSGF parses back and accepts the same sentence.
            let j = parse_jsgf(&to_jsgf(&c, "gen"), "gen.jsgf").expect("exported jsgf parses");
            let cj = CompiledGrammar::compile(&j, "gen.jsgf").expect("compiles");
            let active = [ActiveGrammar { id: "gen", grammar: &cj, weight: 1.0 }];
            prop_assert!(matches!(match_transcripts(&active, &t, &opts), MatchOutcome::Match(_)));
        }
        let _ = phrase_list(&c, 20);
    }

    #[test]
    fn generated_key_strings_match(g in grammar(Mode::Dtmf), seed in any::<u64>()) {
        let c = CompiledGrammar::compile(&g, "gen").expect("compiles");
        let mut choose = chooser(seed);
        if let Some(keys) = sample_sentence(&c, &mut choose, 40) {
            prop_assume!(!keys.is_empty());
            let active = [ActiveGrammar { id: "gen", grammar: &c, weight: 1.0 }];
            let out = match_dtmf(&active, &keys.concat(), &GrammarLimits::default());
            prop_assert!(matches!(out, DtmfOutcome::Complete { .. }), "{:?}: {:?}", keys, out);
            // Every proper prefix is complete or incomplete, never a no-match.
            for cut in 1..keys.len() {
                let out = match_dtmf(&active, &keys[..cut].concat(), &GrammarLimits::default());
                prop_assert!(!matches!(out, DtmfOutcome::NoMatch), "prefix {:?}", &keys[..cut]);
            }
        }
    }
}
