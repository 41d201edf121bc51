//! Hostile grammars and inputs: size, nesting, repeat and rule limits at parse/compile time, and bounded work
//! per match (left recursion, ambiguous repeats, deep reference chains, long inputs).

use mrcp_proto::grammar::dtmf::match_dtmf;
use mrcp_proto::grammar::matcher::{
    ActiveGrammar, MatchOptions, MatchOutcome, Transcript, match_transcripts,
};
use mrcp_proto::grammar::srgs_xml::parse_srgs_xml;
use mrcp_proto::grammar::{CompiledGrammar, GrammarErrorKind, GrammarLimits, parse_grammar};

fn compile(xml: &str) -> Result<CompiledGrammar, mrcp_proto::grammar::GrammarError> {
    let g = parse_grammar(
        Some("application/srgs+xml"),
        xml.as_bytes(),
        "hostile",
        &GrammarLimits::default(),
    )?;
    CompiledGrammar::compile(&g, "hostile")
}

fn run(g: &CompiledGrammar, text: &str, limits: GrammarLimits) -> MatchOutcome {
    let active = [ActiveGrammar {
        id: "h",
        grammar: g,
        weight: 1.0,
    }];
    let t = [Transcript {
        text: text.into(),
        confidence: 1.0,
    }];
    match_transcripts(
        &active,
        &t,
        &MatchOptions {
            limits,
            ..MatchOptions::default()
        },
    )
}

fn limit_of(e: &mrcp_proto::grammar::GrammarError) -> &'static str {
    match e.kind {
        GrammarErrorKind::Limit { what, .. } => what,
        _ => panic!("limit error expected, got {e}"),
    }
}

#[test]
fn huge_repeats_are_refused() {
    let e = compile(
        r##"<grammar root="a"><rule id="a"><item repeat="0-1000000">x</item></rule></grammar>"##,
    )
    .expect_err("repeat");
    assert_eq!(limit_of(&e), "repeat count");
    assert_eq!(
        e.to_string(),
        "hostile: repeat count 1000000 exceeds limit 1000"
    );
}

#[test]
fn deep_nesting_and_size_are_refused() {
    let deep = format!(
        r##"<grammar root="a"><rule id="a">{}x{}</rule></grammar>"##,
        "<item>".repeat(100),
        "</item>".repeat(100)
    );
    let e = compile(&deep).expect_err("nesting");
    assert_eq!(limit_of(&e), "element nesting");
    let limits = GrammarLimits {
        max_bytes: 100,
        ..GrammarLimits::default()
    };
    let big = format!(
        r##"<grammar root="a"><rule id="a">{}</rule></grammar>"##,
        "x ".repeat(100)
    );
    let e = parse_grammar(None, big.as_bytes(), "big", &limits).expect_err("size");
    assert_eq!(limit_of(&e), "grammar size");
    let abnf = format!(
        "#ABNF 1.0;\nroot $a;\n$a = {}x{};",
        "(".repeat(200),
        ")".repeat(200)
    );
    let e = parse_grammar(
        Some("application/srgs"),
        abnf.as_bytes(),
        "deep.abnf",
        &GrammarLimits::default(),
    )
    .expect_err("abnf");
    assert_eq!(limit_of(&e), "group nesting");
}

#[test]
fn too_many_rules_and_nodes_are_refused() {
    let rules: String = (0..3000)
        .map(|i| format!(r##"<rule id="r{i}">w{i}</rule>"##))
        .collect();
    let e = parse_srgs_xml(
        &format!(r##"<grammar root="r0">{rules}</grammar>"##),
        "many",
    )
    .map_err(|e| e.to_string());
    // Parsing keeps them; compiling only pulls in the reachable ones, so chain them to make them all reachable.
    assert!(e.is_ok());
    let chain: String = (0..3000)
        .map(|i| format!(r##"<rule id="r{i}">w <ruleref uri="#r{}"/></rule>"##, i + 1))
        .collect();
    let e = compile(&format!(
        r##"<grammar root="r0">{chain}<rule id="r3000">end</rule></grammar>"##
    ))
    .expect_err("rules");
    assert_eq!(limit_of(&e), "rule count");
    let limits = GrammarLimits {
        max_nodes: 50,
        ..GrammarLimits::default()
    };
    let g = parse_srgs_xml(
        &format!(
            r##"<grammar root="a"><rule id="a">{}</rule></grammar>"##,
            "w ".repeat(60)
        ),
        "n",
    )
    .expect("parses");
    let e = CompiledGrammar::compile_with(&g, "n", &limits, &|_, _| None).expect_err("nodes");
    assert_eq!(limit_of(&e), "expansion node count");
}

#[test]
fn left_recursion_terminates() {
    let g = compile(r##"<grammar root="a"><rule id="a"><one-of><item><ruleref uri="#a"/> x</item><item>x</item></one-of></rule></grammar>"##)
        .expect("compiles");
    // Left recursion is cut: the grammar still matches its non-recursive sentences, in bounded work.
    assert!(matches!(
        run(&g, "x", GrammarLimits::default()),
        MatchOutcome::Match(_)
    ));
    let _ = run(&g, &"x ".repeat(60), GrammarLimits::default());
    // Right recursion is fine.
    let g = compile(r##"<grammar root="a"><rule id="a"><one-of><item>x <ruleref uri="#a"/></item><item>x</item></one-of></rule></grammar>"##)
        .expect("compiles");
    let strict = MatchOptions {
        allow_surrounding_garbage: false,
        ..MatchOptions::default()
    };
    let active = [ActiveGrammar {
        id: "h",
        grammar: &g,
        weight: 1.0,
    }];
    let t = [Transcript {
        text: "x x x x x".into(),
        confidence: 1.0,
    }];
    assert!(matches!(
        match_transcripts(&active, &t, &strict),
        MatchOutcome::Match(_)
    ));
}

#[test]
fn ambiguous_repeats_are_polynomial() {
    // (x | x x | GARBAGE x)* over 64 words has exponentially many parses; the chart keeps one per position.
    let g = compile(
        r##"<grammar root="a"><rule id="a"><item repeat="0-"><one-of><item>x</item><item>x x</item><item><ruleref special="GARBAGE"/> x</item></one-of></item></rule></grammar>"##,
    )
    .expect("compiles");
    let text = "x ".repeat(64);
    let out = run(&g, &text, GrammarLimits::default());
    assert!(matches!(out, MatchOutcome::Match(_)), "{out:?}");
    // A small budget is reported as exhausted rather than taking longer.
    let small = GrammarLimits {
        max_match_steps: 1_000,
        ..GrammarLimits::default()
    };
    assert_eq!(
        run(&g, &text, small),
        MatchOutcome::NoMatch {
            budget_exhausted: true
        }
    );
}

#[test]
fn deep_reference_chains_are_cut() {
    let chain: String = (0..1500)
        .map(|i| format!(r##"<rule id="r{i}"><ruleref uri="#r{}"/></rule>"##, i + 1))
        .collect();
    let g = compile(&format!(
        r##"<grammar root="r0">{chain}<rule id="r1500">end</rule></grammar>"##
    ))
    .expect("compiles");
    // Deeper than max_rule_depth: no match, no stack overflow.
    assert!(matches!(
        run(&g, "end", GrammarLimits::default()),
        MatchOutcome::NoMatch { .. }
    ));
    let shallow: String = (0..20)
        .map(|i| format!(r##"<rule id="r{i}"><ruleref uri="#r{}"/></rule>"##, i + 1))
        .collect();
    let g = compile(&format!(
        r##"<grammar root="r0">{shallow}<rule id="r20">end</rule></grammar>"##
    ))
    .expect("compiles");
    assert!(matches!(
        run(&g, "end", GrammarLimits::default()),
        MatchOutcome::Match(_)
    ));
}

#[test]
fn deep_rules_of_deep_expansions_do_not_exhaust_the_stack() {
    // 120 chained rules, each 60 items deep: 7,200 nested expansions on one path.
    let rules: String = (0..120)
        .map(|i| {
            format!(
                r##"<rule id="r{i}">{}<ruleref uri="#r{}"/>{}</rule>"##,
                r#"<item repeat="1-2">"#.repeat(60),
                i + 1,
                "</item>".repeat(60)
            )
        })
        .collect();
    let g = compile(&format!(
        r##"<grammar root="r0">{rules}<rule id="r120">end</rule></grammar>"##
    ))
    .expect("compiles");
    assert_eq!(
        run(&g, "end", GrammarLimits::default()),
        MatchOutcome::NoMatch {
            budget_exhausted: true
        }
    );
}

#[test]
fn long_inputs_are_bounded() {
    let g =
        compile(r##"<grammar root="a"><rule id="a"><item repeat="1-">x</item></rule></grammar>"##)
            .expect("compiles");
    // Longer than max_input_tokens: not considered at all.
    assert!(matches!(
        run(&g, &"x ".repeat(1000), GrammarLimits::default()),
        MatchOutcome::NoMatch { .. }
    ));
    let d = compile(r##"<grammar mode="dtmf" root="a"><rule id="a"><item repeat="1-">1</item></rule></grammar>"##).expect("dtmf");
    let active = [ActiveGrammar {
        id: "d",
        grammar: &d,
        weight: 1.0,
    }];
    assert_eq!(
        match_dtmf(&active, &"1".repeat(1000), &GrammarLimits::default()),
        mrcp_proto::grammar::dtmf::DtmfOutcome::NoMatch
    );
}

#[test]
fn sisr_outside_subset_is_rejected_at_compile_time() {
    for (tag, why) in [
        ("var x = 1; out = x;", "'var' statements"),
        (
            "out = Math.floor(2.5);",
            "outside the supported SISR subset",
        ),
        ("out = rules.nosuch;", "rules.nosuch names no rule"),
        ("if (true) out = 1;", "'if' statements"),
    ] {
        let xml = format!(
            r##"<grammar root="a" tag-format="semantics/1.0"><rule id="a">x<tag>{tag}</tag></rule></grammar>"##
        );
        let e = compile(&xml).expect_err(tag);
        assert!(e.to_string().contains(why), "{tag}: {e}");
    }
    let e = compile(r##"<grammar root="a" tag-format="swi-semantics/1.0"><rule id="a">x<tag>$="a"</tag></rule></grammar>"##).expect_err("format");
    assert!(
        e.to_string()
            .contains("unsupported tag-format swi-semantics/1.0"),
        "{e}"
    );
    // Without tags, the tag format does not matter.
    assert!(
        compile(
            r##"<grammar root="a" tag-format="swi-semantics/1.0"><rule id="a">x</rule></grammar>"##
        )
        .is_ok()
    );
}
