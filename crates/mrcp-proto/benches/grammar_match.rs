//! Match time of one transcript or key string against typical grammars (issue 6: aim under 50 µs).
//!
//! Run: `cargo bench -p mrcp-proto --bench grammar_match`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mrcp_proto::grammar::builtin::compile_builtin;
use mrcp_proto::grammar::dtmf::match_dtmf;
use mrcp_proto::grammar::matcher::{ActiveGrammar, MatchOptions, Transcript, match_transcripts};
use mrcp_proto::grammar::srgs_xml::parse_srgs_xml;
use mrcp_proto::grammar::{CompiledGrammar, GrammarLimits};

const ADJECTIVES: &[&str] = &[
    "red", "blue", "green", "small", "large", "fast", "quiet", "north", "south", "central",
];
const NOUNS: &[&str] = &[
    "account", "card", "loan", "branch", "office", "team", "desk", "line", "service", "center",
];
const EXTRA: &[&str] = &[
    "billing",
    "support",
    "sales",
    "claims",
    "travel",
    "payroll",
    "security",
    "records",
    "legal",
    "facilities",
];

/// A 1,000-item menu ("<adjective> <noun> <department>"), each item with a tag, like a large directory.
fn menu_grammar() -> CompiledGrammar {
    let mut items = String::new();
    let mut k = 0;
    for a in ADJECTIVES {
        for n in NOUNS {
            for e in EXTRA {
                items.push_str(&format!("<item>{a} {n} {e}<tag>out.id = {k};</tag></item>"));
                k += 1;
            }
        }
    }
    let xml = format!(
        r#"<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" root="menu" tag-format="semantics/1.0"><rule id="menu"><one-of>{items}</one-of></rule></grammar>"#
    );
    let g = parse_srgs_xml(&xml, "menu").expect("menu grammar parses");
    CompiledGrammar::compile(&g, "menu").expect("menu grammar compiles")
}

fn bench(c: &mut Criterion) {
    let menu = menu_grammar();
    let digits =
        compile_builtin("builtin:speech/digits", &GrammarLimits::default()).expect("digits");
    let dtmf = compile_builtin("builtin:dtmf/digits?length=5", &GrammarLimits::default())
        .expect("dtmf digits");
    let opts = MatchOptions::default();

    let active = [ActiveGrammar {
        id: "session:menu",
        grammar: &menu,
        weight: 1.0,
    }];
    let t = [Transcript {
        text: "i need quiet loan payroll".into(),
        confidence: 0.9,
    }];
    assert!(match_transcripts(&active, &t, &opts).best().is_some());
    c.bench_function("menu_1000_items/5_words", |b| {
        b.iter(|| match_transcripts(black_box(&active), black_box(&t), &opts))
    });

    let miss = [Transcript {
        text: "i want to speak to someone".into(),
        confidence: 0.9,
    }];
    c.bench_function("menu_1000_items/5_words_no_match", |b| {
        b.iter(|| match_transcripts(black_box(&active), black_box(&miss), &opts))
    });

    let active = [ActiveGrammar {
        id: "builtin:speech/digits",
        grammar: &digits,
        weight: 1.0,
    }];
    let t = [Transcript {
        text: "four one five two nine".into(),
        confidence: 0.9,
    }];
    assert!(match_transcripts(&active, &t, &opts).best().is_some());
    c.bench_function("speech_digits/5_words", |b| {
        b.iter(|| match_transcripts(black_box(&active), black_box(&t), &opts))
    });

    let active = [ActiveGrammar {
        id: "builtin:dtmf/digits",
        grammar: &dtmf,
        weight: 1.0,
    }];
    let limits = GrammarLimits::default();
    c.bench_function("dtmf_digits/5_keys", |b| {
        b.iter(|| match_dtmf(black_box(&active), black_box("41529"), &limits))
    });

    c.bench_function("compile/menu_1000_items", |b| b.iter(menu_grammar));
}

criterion_group!(benches, bench);
criterion_main!(benches);
