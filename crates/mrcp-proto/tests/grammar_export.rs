//! Export for engines: JSGF for PocketSphinx, word and phrase lists for cloud hints.

use mrcp_proto::grammar::builtin::compile_builtin;
use mrcp_proto::grammar::export::{phrase_list, to_jsgf, word_list};
use mrcp_proto::grammar::jsgf::parse_jsgf;
use mrcp_proto::grammar::srgs_xml::parse_srgs_xml;
use mrcp_proto::grammar::{CompiledGrammar, GrammarLimits};

fn compile(xml: &str) -> CompiledGrammar {
    CompiledGrammar::compile(&parse_srgs_xml(xml, "g").expect("parses"), "g").expect("compiles")
}

#[test]
fn jsgf_golden() {
    let g = compile(
        r##"<grammar root="cmd" tag-format="semantics/1.0"><rule id="cmd" scope="public"><item repeat="0-1">please</item>
        <one-of><item weight="3">Call<tag>out="call"</tag></item><item>dial</item></one-of>
        <ruleref uri="#digit"/><item repeat="2-3"><ruleref uri="#digit"/></item><ruleref special="GARBAGE"/></rule>
        <rule id="digit"><one-of><item>1</item><item>2</item></one-of></rule></grammar>"##,
    );
    let jsgf = to_jsgf(&g, "session:cmd@x");
    assert_eq!(
        jsgf,
        "#JSGF V1.0 UTF-8;\ngrammar session_cmd_x;\n\n\
         public <cmd> = (([(please)]) (/0.7500/ (call) | /0.2500/ dial) <digit_1> ((<digit_1>) (<digit_1>) [(<digit_1>)]));\n\
         <digit_1> = (one | two);\n"
    );
    // GARBAGE is left out of the sequence: PocketSphinx cannot decode `<NULL>` there.
    // PocketSphinx-style consumers parse it back.
    parse_jsgf(&jsgf, "export").expect("exported JSGF parses");
}

#[test]
fn word_and_phrase_lists() {
    let g = compile(
        r#"<grammar root="m"><rule id="m"><one-of><item>Check balance</item><item>transfer 20</item><item>agent</item></one-of></rule></grammar>"#,
    );
    assert_eq!(
        word_list(&g),
        ["check", "balance", "transfer", "twenty", "agent"]
    );
    assert_eq!(
        phrase_list(&g, 10),
        ["check balance", "transfer twenty", "agent"]
    );
    assert_eq!(phrase_list(&g, 2).len(), 2);
    let yesno =
        compile_builtin("builtin:speech/boolean", &GrammarLimits::default()).expect("builtin");
    let phrases = phrase_list(&yesno, 100);
    assert!(
        phrases.contains(&"yes".to_owned()) && phrases.contains(&"no thank you".to_owned()),
        "{phrases:?}"
    );
    let dict =
        compile_builtin("builtin:speech/transcribe", &GrammarLimits::default()).expect("builtin");
    assert!(phrase_list(&dict, 10).is_empty());
    let dtmf = compile_builtin("builtin:dtmf/digits?length=2", &GrammarLimits::default())
        .expect("builtin");
    assert_eq!(phrase_list(&dtmf, 3), ["00", "01", "02"]);
}
