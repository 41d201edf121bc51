//! Corpus tests: the grammars of `tests/data/grammars/` (written for this project) with transcripts and DTMF
//! strings and their expected instances (`cases.tsv`). Every SRGS XML grammar that has ABNF (`.abnf`) or JSGF
//! (`.jsgf`) versions is checked against the same cases in those forms.

use std::path::{Path, PathBuf};

use mrcp_proto::grammar::dtmf::{DtmfOutcome, match_dtmf};
use mrcp_proto::grammar::matcher::{
    ActiveGrammar, MatchOptions, MatchOutcome, Transcript, match_transcripts,
};
use mrcp_proto::grammar::{CompiledGrammar, GrammarLimits, parse_grammar};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/grammars")
}

fn load(file: &str) -> CompiledGrammar {
    let path = dir().join(file);
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let g = parse_grammar(None, &body, file, &GrammarLimits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    CompiledGrammar::compile(&g, file).unwrap_or_else(|e| panic!("{e}"))
}

fn outcome(g: &CompiledGrammar, kind: &str, input: &str) -> String {
    let active = [ActiveGrammar {
        id: "g",
        grammar: g,
        weight: 1.0,
    }];
    match kind {
        "speech" => {
            let t = [Transcript {
                text: input.to_owned(),
                confidence: 0.9,
            }];
            match match_transcripts(&active, &t, &MatchOptions::default()) {
                MatchOutcome::Match(m) => {
                    let best = &m[0];
                    assert!(
                        best.confidence > 0.0 && best.confidence <= 0.9,
                        "confidence {}",
                        best.confidence
                    );
                    assert_eq!(best.input, input.trim());
                    best.instance.to_string()
                }
                MatchOutcome::NoMatch { budget_exhausted } => {
                    assert!(!budget_exhausted);
                    "nomatch".to_owned()
                }
            }
        }
        "dtmf" => match match_dtmf(&active, input, &GrammarLimits::default()) {
            DtmfOutcome::Complete {
                matched,
                can_extend,
            } => {
                assert_eq!(matched.input, input);
                format!(
                    "{}{}",
                    if can_extend { "more:" } else { "" },
                    matched.instance
                )
            }
            DtmfOutcome::Incomplete => "incomplete".to_owned(),
            DtmfOutcome::NoMatch => "nomatch".to_owned(),
        },
        other => panic!("unknown input kind {other}"),
    }
}

fn normalize_expected(e: &str) -> String {
    let (prefix, json) = e.strip_prefix("more:").map_or(("", e), |j| ("more:", j));
    match serde_json::from_str::<Value>(json) {
        Ok(v) => format!("{prefix}{v}"),
        Err(_) => e.to_owned(),
    }
}

#[test]
fn corpus_cases() {
    let cases = std::fs::read_to_string(dir().join("cases.tsv")).expect("cases.tsv");
    let mut checked = 0;
    for (n, line) in cases.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, kind, input, expected] = cols.as_slice() else {
            panic!("cases.tsv:{}: 4 columns expected", n + 1)
        };
        let expected = normalize_expected(expected);
        let stem = file.trim_end_matches(".grxml");
        for variant in [
            file.to_string(),
            format!("{stem}.abnf"),
            format!("{stem}.jsgf"),
        ] {
            if !dir().join(&variant).exists() {
                continue;
            }
            let g = load(&variant);
            let got = outcome(&g, kind, input);
            assert_eq!(
                got,
                expected,
                "cases.tsv:{}: {variant} {kind} {input:?}",
                n + 1
            );
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} cases checked");
}

#[test]
fn several_active_grammars_and_weights() {
    let yesno = load("yesno.grxml");
    let menu = load("account_menu.grxml");
    let active = [
        ActiveGrammar {
            id: "session:yesno",
            grammar: &yesno,
            weight: 1.0,
        },
        ActiveGrammar {
            id: "session:menu",
            grammar: &menu,
            weight: 1.0,
        },
    ];
    let nbest = [
        Transcript {
            text: "balance".into(),
            confidence: 0.6,
        },
        Transcript {
            text: "yes".into(),
            confidence: 0.5,
        },
    ];
    let MatchOutcome::Match(m) = match_transcripts(&active, &nbest, &MatchOptions::default())
    else {
        panic!("no match")
    };
    assert_eq!(m[0].grammar_id, "session:menu");
    assert_eq!(m[0].transcript_index, 0);
    assert!((m[0].confidence - 0.6).abs() < 1e-6);
    assert_eq!(m[1].grammar_id, "session:yesno");
    assert_eq!(m[1].instance, Value::from("yes"));
    // A weight favours a grammar.
    let active = [
        ActiveGrammar {
            id: "session:yesno",
            grammar: &yesno,
            weight: 2.0,
        },
        ActiveGrammar {
            id: "session:menu",
            grammar: &menu,
            weight: 0.5,
        },
    ];
    let best = match_transcripts(&active, &nbest, &MatchOptions::default());
    assert_eq!(
        best.best().map(|b| b.grammar_id.as_str()),
        Some("session:yesno")
    );
}

#[test]
fn garbage_lowers_confidence_and_can_be_refused() {
    let menu = load("account_menu.grxml");
    let active = [ActiveGrammar {
        id: "m",
        grammar: &menu,
        weight: 1.0,
    }];
    let t = |s: &str| {
        [Transcript {
            text: s.into(),
            confidence: 1.0,
        }]
    };
    let exact = match_transcripts(&active, &t("transfer"), &MatchOptions::default());
    let noisy = match_transcripts(
        &active,
        &t("hello transfer thanks"),
        &MatchOptions::default(),
    );
    let (exact, noisy) = (
        exact.best().expect("exact").confidence,
        noisy.best().expect("noisy").confidence,
    );
    assert!((exact - 1.0).abs() < 1e-6);
    assert!(noisy < 0.5 && noisy > 0.2, "{noisy}");
    let strict = MatchOptions {
        allow_surrounding_garbage: false,
        ..MatchOptions::default()
    };
    assert!(matches!(
        match_transcripts(&active, &t("hello transfer thanks"), &strict),
        MatchOutcome::NoMatch { .. }
    ));
}

#[test]
fn unimrcp_capture_grammar_instance_is_the_word() {
    let captures = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/unimrcp-wire-captures.txt"),
    )
    .expect("captures");
    let start = captures
        .find("<?xml version=\"1.0\"?>\n<grammar")
        .expect("grammar in captures");
    let end = captures[start..].find("</grammar>").expect("end") + start + "</grammar>".len();
    let g = parse_grammar(
        Some("application/srgs+xml"),
        &captures.as_bytes()[start..end],
        "request1@form-level",
        &GrammarLimits::default(),
    )
    .expect("parses");
    let g = CompiledGrammar::compile(&g, "request1@form-level").expect("compiles");
    // The capture's engine heard "one" and the server answered <instance>one</instance>.
    assert_eq!(outcome(&g, "speech", "one"), "\"one\"");
    assert_eq!(outcome(&g, "speech", "1"), "\"one\"");
    assert_eq!(outcome(&g, "speech", "four"), "nomatch");
}

#[test]
fn numbers_match_as_words_and_numerals_both_ways() {
    let xml = br#"<grammar version="1.0" root="r"><rule id="r"><one-of><item>gate 21</item><item>platform twelve</item><item>press 1 for sales</item></one-of></rule></grammar>"#;
    let g = parse_grammar(None, xml, "numbers", &GrammarLimits::default()).expect("parses");
    let g = CompiledGrammar::compile(&g, "numbers").expect("compiles");
    assert_eq!(
        outcome(&g, "speech", "Gate twenty-one"),
        "\"gate twenty one\""
    );
    assert_eq!(outcome(&g, "speech", "gate 21"), "\"gate twenty one\"");
    assert_eq!(outcome(&g, "speech", "Platform 12."), "\"platform twelve\"");
    assert_eq!(
        outcome(&g, "speech", "press one for sales"),
        "\"press one for sales\""
    );
    assert_eq!(outcome(&g, "speech", "gate 2 1"), "nomatch");
    // "oh" is read as zero for grammars that know zero but not oh.
    let d = CompiledGrammar::compile(
        &parse_grammar(None, br#"<grammar root="r"><rule id="r">room <item repeat="3"><one-of><item>zero</item><item>four</item></one-of></item></rule></grammar>"#, "oh", &GrammarLimits::default()).expect("parses"),
        "oh",
    )
    .expect("compiles");
    assert_eq!(
        outcome(&d, "speech", "room four oh four"),
        "\"room four zero four\""
    );
}
