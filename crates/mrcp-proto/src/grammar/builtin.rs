//! Builtin grammars (RFC 6787 §9.5: `builtin:` URIs; the names follow VoiceXML 2.0 Appendix P and what
//! UniMRCP-based servers accept).
//!
//! | URI | input | instance |
//! |---|---|---|
//! | `builtin:dtmf/digits` | keys `0`–`9`; `length`, `minlength`, `maxlength` | the digits, a string (`"1234"`) |
//! | `builtin:dtmf/boolean` | `y` key (default `1`) or `n` key (default `2`) | `true` / `false` |
//! | `builtin:dtmf/number` | digits, optionally `*` and more digits as decimal point | a string (`"12.5"`) |
//! | `builtin:speech/boolean` | yes / no and common synonyms | `true` / `false` |
//! | `builtin:speech/digits` | spoken digits (`oh` is zero); `length`, `minlength`, `maxlength` | a string |
//! | `builtin:speech/number` | cardinal numbers 0 – 999 999 999 (`1234` from the engine works too) | a number |
//! | `builtin:speech/transcribe` | anything (free dictation) | the transcript |
//!
//! Aliases: `builtin:grammar/X` and `builtin:voice/X` mean `builtin:speech/X`; `transcribe` is also spelled
//! `dictation`. Parameters follow `?` and are separated by `;` (or `&`): `builtin:dtmf/digits?minlength=3;maxlength=5`.
//! Unknown parameters are ignored; malformed values of known ones are errors.

use super::compile::CompiledGrammar;
use super::error::{GrammarError, GrammarErrorKind};
use super::limits::GrammarLimits;
use super::model::{Expansion, Grammar, Mode, Rule, RuleRef, Scope, SpecialRule};
use super::srgs_xml::parse_srgs_xml;

/// Whether a grammar URI is a `builtin:` URI.
pub fn is_builtin(uri: &str) -> bool {
    uri.trim()
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("builtin:"))
}

/// What a builtin URI designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinKind {
    /// `dtmf/digits`.
    DtmfDigits,
    /// `dtmf/boolean`.
    DtmfBoolean,
    /// `dtmf/number`.
    DtmfNumber,
    /// `speech/boolean`.
    SpeechBoolean,
    /// `speech/digits`.
    SpeechDigits,
    /// `speech/number`.
    SpeechNumber,
    /// `speech/transcribe`.
    Transcribe,
}

fn parse_uri(uri: &str) -> Result<(BuiltinKind, Vec<(String, String)>), GrammarError> {
    let unknown = || {
        GrammarError::whole(
            uri,
            GrammarErrorKind::UnknownBuiltin {
                uri: uri.to_owned(),
            },
        )
    };
    let trimmed = uri.trim();
    if !is_builtin(trimmed) {
        return Err(unknown());
    }
    let rest = trimmed.get(8..).unwrap_or("");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.to_ascii_lowercase();
    let (kind_part, name) = path.split_once('/').ok_or_else(unknown)?;
    let dtmf = match kind_part {
        "dtmf" => true,
        "speech" | "grammar" | "voice" => false,
        _ => return Err(unknown()),
    };
    let kind = match (dtmf, name) {
        (true, "digits") => BuiltinKind::DtmfDigits,
        (true, "boolean") => BuiltinKind::DtmfBoolean,
        (true, "number") => BuiltinKind::DtmfNumber,
        (false, "boolean") => BuiltinKind::SpeechBoolean,
        (false, "digits") => BuiltinKind::SpeechDigits,
        (false, "number") => BuiltinKind::SpeechNumber,
        (false, "transcribe" | "dictation") => BuiltinKind::Transcribe,
        _ => return Err(unknown()),
    };
    let params = query
        .split([';', '&'])
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    Ok((kind, params))
}

fn length_range(
    uri: &str,
    params: &[(String, String)],
    limits: &GrammarLimits,
) -> Result<(u32, Option<u32>), GrammarError> {
    let num = |name: &str| -> Result<Option<u32>, GrammarError> {
        match params.iter().rev().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) => match v.parse::<u32>() {
                Ok(n) if n <= limits.max_repeat => Ok(Some(n)),
                _ => Err(GrammarError::whole(
                    uri,
                    GrammarErrorKind::BuiltinParameter {
                        name: name.to_owned(),
                        value: v.clone(),
                    },
                )),
            },
        }
    };
    if let Some(len) = num("length")? {
        if len == 0 {
            return Err(GrammarError::whole(
                uri,
                GrammarErrorKind::BuiltinParameter {
                    name: "length".into(),
                    value: "0".into(),
                },
            ));
        }
        return Ok((len, Some(len)));
    }
    let min = num("minlength")?.unwrap_or(1).max(1);
    let max = num("maxlength")?;
    if let Some(m) = max
        && m < min
    {
        return Err(GrammarError::whole(
            uri,
            GrammarErrorKind::BuiltinParameter {
                name: "maxlength".into(),
                value: m.to_string(),
            },
        ));
    }
    Ok((min, max))
}

fn range(min: u32, max: Option<u32>) -> String {
    super::model::format_repeat(min, max)
}

fn key_param(
    uri: &str,
    params: &[(String, String)],
    name: &str,
    default: &str,
) -> Result<String, GrammarError> {
    match params.iter().rev().find(|(k, _)| k == name) {
        None => Ok(default.to_owned()),
        Some((_, v)) if v.chars().count() == 1 && v.chars().all(super::normalize::is_dtmf_key) => {
            Ok(v.to_ascii_uppercase())
        }
        Some((_, v)) => Err(GrammarError::whole(
            uri,
            GrammarErrorKind::BuiltinParameter {
                name: name.to_owned(),
                value: v.clone(),
            },
        )),
    }
}

const HEAD_DTMF: &str = r##"<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="dtmf" tag-format="semantics/1.0""##;
const HEAD_VOICE: &str = r##"<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="voice" xml:lang="en-US" tag-format="semantics/1.0""##;
const DTMF_DIGIT: &str = r##"<rule id="d"><one-of><item>0</item><item>1</item><item>2</item><item>3</item><item>4</item><item>5</item><item>6</item><item>7</item><item>8</item><item>9</item></one-of></rule>"##;
const SPOKEN_DIGIT: &str = r##"<rule id="d"><one-of><item>zero<tag>out="0"</tag></item><item>oh<tag>out="0"</tag></item><item>one<tag>out="1"</tag></item><item>two<tag>out="2"</tag></item><item>three<tag>out="3"</tag></item><item>four<tag>out="4"</tag></item><item>five<tag>out="5"</tag></item><item>six<tag>out="6"</tag></item><item>seven<tag>out="7"</tag></item><item>eight<tag>out="8"</tag></item><item>nine<tag>out="9"</tag></item></one-of></rule>"##;
const SPEECH_NUMBER: &str = r##" root="number">
<rule id="number" scope="public"><one-of>
 <item>zero<tag>out=0</tag></item>
 <item><ruleref uri="#millions"/><tag>out=rules.millions</tag></item>
</one-of></rule>
<rule id="millions"><one-of>
 <item><ruleref uri="#h3"/>million<tag>out=rules.h3*1000000</tag><item repeat="0-1"><item repeat="0-1">and</item><ruleref uri="#thousands"/><tag>out=out+rules.thousands</tag></item></item>
 <item><ruleref uri="#thousands"/><tag>out=rules.thousands</tag></item>
</one-of></rule>
<rule id="thousands"><one-of>
 <item><ruleref uri="#h3"/>thousand<tag>out=rules.h3*1000</tag><item repeat="0-1"><item repeat="0-1">and</item><ruleref uri="#h3"/><tag>out=out+rules.h3</tag></item></item>
 <item><ruleref uri="#h3"/><tag>out=rules.h3</tag></item>
</one-of></rule>
<rule id="h3"><one-of>
 <item><one-of><item><ruleref uri="#u9"/><tag>out=rules.u9*100</tag></item><item>a<tag>out=100</tag></item></one-of>hundred<item repeat="0-1"><item repeat="0-1">and</item><ruleref uri="#u99"/><tag>out=out+rules.u99</tag></item></item>
 <item><ruleref uri="#u99"/><tag>out=rules.u99</tag></item>
</one-of></rule>
<rule id="u99"><one-of>
 <item><ruleref uri="#u9"/><tag>out=rules.u9</tag></item>
 <item><one-of><item>ten<tag>out=10</tag></item><item>eleven<tag>out=11</tag></item><item>twelve<tag>out=12</tag></item><item>thirteen<tag>out=13</tag></item><item>fourteen<tag>out=14</tag></item><item>fifteen<tag>out=15</tag></item><item>sixteen<tag>out=16</tag></item><item>seventeen<tag>out=17</tag></item><item>eighteen<tag>out=18</tag></item><item>nineteen<tag>out=19</tag></item></one-of></item>
 <item><one-of><item>twenty<tag>out=20</tag></item><item>thirty<tag>out=30</tag></item><item>forty<tag>out=40</tag></item><item>fifty<tag>out=50</tag></item><item>sixty<tag>out=60</tag></item><item>seventy<tag>out=70</tag></item><item>eighty<tag>out=80</tag></item><item>ninety<tag>out=90</tag></item></one-of><item repeat="0-1"><ruleref uri="#u9"/><tag>out=out+rules.u9</tag></item></item>
</one-of></rule>
<rule id="u9"><one-of><item>one<tag>out=1</tag></item><item>two<tag>out=2</tag></item><item>three<tag>out=3</tag></item><item>four<tag>out=4</tag></item><item>five<tag>out=5</tag></item><item>six<tag>out=6</tag></item><item>seven<tag>out=7</tag></item><item>eight<tag>out=8</tag></item><item>nine<tag>out=9</tag></item></one-of></rule>
</grammar>"##;
const SPEECH_BOOLEAN: &str = r##" root="boolean">
<rule id="boolean" scope="public"><one-of>
 <item><one-of><item>yes</item><item>yeah</item><item>yep</item><item>yup</item><item>sure</item><item>correct</item><item>right</item><item>true</item><item>affirmative</item><item>okay</item><item>ok</item><item>that's right</item><item>that is right</item><item>yes please</item></one-of><tag>out=true</tag></item>
 <item><one-of><item>no</item><item>nope</item><item>nah</item><item>incorrect</item><item>wrong</item><item>false</item><item>negative</item><item>no thanks</item><item>no thank you</item></one-of><tag>out=false</tag></item>
</one-of></rule>
</grammar>"##;

/// The model of a builtin grammar (SRGS text generated and parsed like any other grammar).
pub fn builtin_grammar(uri: &str) -> Result<Grammar, GrammarError> {
    builtin_grammar_with(uri, &GrammarLimits::default())
}

fn builtin_grammar_with(uri: &str, limits: &GrammarLimits) -> Result<Grammar, GrammarError> {
    let (kind, params) = parse_uri(uri)?;
    let xml = match kind {
        BuiltinKind::DtmfDigits => {
            let (min, max) = length_range(uri, &params, limits)?;
            format!(
                r##"{HEAD_DTMF} root="digits"><rule id="digits" scope="public"><tag>out=""</tag><item repeat="{}"><ruleref uri="#d"/><tag>out+=rules.d</tag></item></rule>{DTMF_DIGIT}</grammar>"##,
                range(min, max)
            )
        }
        BuiltinKind::DtmfBoolean => {
            let y = key_param(uri, &params, "y", "1")?;
            let n = key_param(uri, &params, "n", "2")?;
            if y == n {
                return Err(GrammarError::whole(
                    uri,
                    GrammarErrorKind::BuiltinParameter {
                        name: "n".into(),
                        value: n,
                    },
                ));
            }
            format!(
                r##"{HEAD_DTMF} root="boolean"><rule id="boolean" scope="public"><one-of><item>{}<tag>out=true</tag></item><item>{}<tag>out=false</tag></item></one-of></rule></grammar>"##,
                xml_key(&y),
                xml_key(&n)
            )
        }
        BuiltinKind::DtmfNumber => format!(
            r##"{HEAD_DTMF} root="number"><rule id="number" scope="public"><tag>out=""</tag><item repeat="1-"><ruleref uri="#d"/><tag>out+=rules.d</tag></item><item repeat="0-1">*<tag>out+="."</tag><item repeat="1-"><ruleref uri="#d"/><tag>out+=rules.d</tag></item></item></rule>{DTMF_DIGIT}</grammar>"##
        ),
        BuiltinKind::SpeechBoolean => format!("{HEAD_VOICE}{SPEECH_BOOLEAN}"),
        BuiltinKind::SpeechDigits => {
            let (min, max) = length_range(uri, &params, limits)?;
            format!(
                r##"{HEAD_VOICE} root="digits"><rule id="digits" scope="public"><tag>out=""</tag><item repeat="{}"><ruleref uri="#d"/><tag>out+=rules.d</tag></item></rule>{SPOKEN_DIGIT}</grammar>"##,
                range(min, max)
            )
        }
        BuiltinKind::SpeechNumber => format!("{HEAD_VOICE}{SPEECH_NUMBER}"),
        BuiltinKind::Transcribe => {
            return Ok(Grammar {
                mode: Mode::Voice,
                root: Some("transcribe".to_owned()),
                rules: vec![Rule {
                    name: "transcribe".to_owned(),
                    scope: Scope::Public,
                    body: Expansion::RuleRef(RuleRef::Special(SpecialRule::Garbage)),
                }],
                ..Grammar::default()
            });
        }
    };
    parse_srgs_xml(&xml, uri)
}

fn xml_key(k: &str) -> &str {
    match k {
        "*" => "*",
        "#" => "#",
        other => other,
    }
}

/// The kind of a builtin URI.
pub fn builtin_kind(uri: &str) -> Result<BuiltinKind, GrammarError> {
    parse_uri(uri).map(|(k, _)| k)
}

/// Compile a builtin grammar, ready for matching.
pub fn compile_builtin(uri: &str, limits: &GrammarLimits) -> Result<CompiledGrammar, GrammarError> {
    let g = builtin_grammar_with(uri, limits)?;
    if builtin_kind(uri)? == BuiltinKind::Transcribe {
        return Ok(CompiledGrammar::dictation(uri.trim(), g));
    }
    CompiledGrammar::compile_with(&g, uri.trim(), limits, &|_, _| None)
}
