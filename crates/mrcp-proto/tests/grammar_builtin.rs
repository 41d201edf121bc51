//! Builtin grammars (RFC 6787 §9.5) matched against transcripts and DTMF keys.

use mrcp_proto::grammar::builtin::compile_builtin;
use mrcp_proto::grammar::dtmf::{DtmfOutcome, match_dtmf};
use mrcp_proto::grammar::matcher::{ActiveGrammar, MatchOptions, Transcript, match_transcripts};
use mrcp_proto::grammar::{CompiledGrammar, GrammarLimits};
use serde_json::{Value, json};

fn compile(uri: &str) -> CompiledGrammar {
    compile_builtin(uri, &GrammarLimits::default()).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

fn speech(uri: &str, text: &str) -> Option<Value> {
    let g = compile(uri);
    let active = [ActiveGrammar {
        id: uri,
        grammar: &g,
        weight: 1.0,
    }];
    let t = [Transcript {
        text: text.to_owned(),
        confidence: 0.9,
    }];
    match_transcripts(&active, &t, &MatchOptions::default())
        .best()
        .map(|m| m.instance.clone())
}

fn dtmf(uri: &str, keys: &str) -> DtmfOutcome {
    let g = compile(uri);
    let active = [ActiveGrammar {
        id: uri,
        grammar: &g,
        weight: 1.0,
    }];
    match_dtmf(&active, keys, &GrammarLimits::default())
}

fn complete(o: &DtmfOutcome) -> Option<(Value, bool)> {
    match o {
        DtmfOutcome::Complete {
            matched,
            can_extend,
        } => Some((matched.instance.clone(), *can_extend)),
        _ => None,
    }
}

#[test]
fn dtmf_digits_lengths() {
    let u = "builtin:dtmf/digits?length=4";
    assert_eq!(dtmf(u, "12"), DtmfOutcome::Incomplete);
    assert_eq!(complete(&dtmf(u, "1234")), Some((json!("1234"), false)));
    assert_eq!(dtmf(u, "12345"), DtmfOutcome::NoMatch);
    assert_eq!(dtmf(u, "12#"), DtmfOutcome::NoMatch);
    let u = "builtin:dtmf/digits?minlength=2;maxlength=3";
    assert_eq!(dtmf(u, "1"), DtmfOutcome::Incomplete);
    assert_eq!(complete(&dtmf(u, "12")), Some((json!("12"), true)));
    assert_eq!(complete(&dtmf(u, "123")), Some((json!("123"), false)));
    let u = "builtin:dtmf/digits";
    assert_eq!(complete(&dtmf(u, "0042")), Some((json!("0042"), true)));
}

#[test]
fn dtmf_boolean_and_number() {
    assert_eq!(
        complete(&dtmf("builtin:dtmf/boolean", "1")),
        Some((json!(true), false))
    );
    assert_eq!(
        complete(&dtmf("builtin:dtmf/boolean", "2")),
        Some((json!(false), false))
    );
    assert_eq!(dtmf("builtin:dtmf/boolean", "3"), DtmfOutcome::NoMatch);
    assert_eq!(
        complete(&dtmf("builtin:dtmf/boolean?y=7;n=9", "9")),
        Some((json!(false), false))
    );
    assert_eq!(
        complete(&dtmf("builtin:dtmf/number", "12*5")),
        Some((json!("12.5"), true))
    );
    assert_eq!(dtmf("builtin:dtmf/number", "12*"), DtmfOutcome::Incomplete);
}

#[test]
fn speech_builtins() {
    assert_eq!(speech("builtin:speech/boolean", "Yes."), Some(json!(true)));
    assert_eq!(
        speech("builtin:grammar/boolean", "uh no thanks"),
        Some(json!(false))
    );
    assert_eq!(
        speech("builtin:speech/digits", "one two oh four"),
        Some(json!("1204"))
    );
    assert_eq!(speech("builtin:speech/digits", "1204"), Some(json!("1204")));
    // One word too many: the first three digits match, the fourth is garbage (lower confidence).
    assert_eq!(
        speech("builtin:speech/digits?length=3", "1204"),
        Some(json!("120"))
    );
    assert_eq!(
        speech("builtin:speech/number", "twenty one"),
        Some(json!(21))
    );
    assert_eq!(speech("builtin:speech/number", "1234"), Some(json!(1234)));
    assert_eq!(
        speech(
            "builtin:speech/number",
            "two million three hundred and five thousand and seven"
        ),
        Some(json!(2_305_007))
    );
    assert_eq!(
        speech("builtin:speech/number", "a hundred"),
        Some(json!(100))
    );
    assert_eq!(
        speech("builtin:speech/transcribe", "I want to pay my bill"),
        Some(json!("I want to pay my bill"))
    );
    assert_eq!(speech("builtin:grammar/transcribe", "  "), None);
}

#[test]
fn unknown_builtins_are_errors() {
    for bad in [
        "builtin:dtmf/colour",
        "builtin:foo/digits",
        "builtin:dtmf/digits?length=x",
        "builtin:dtmf/digits?minlength=5;maxlength=2",
    ] {
        assert!(
            compile_builtin(bad, &GrammarLimits::default()).is_err(),
            "{bad}"
        );
    }
}
