//! SRGS 1.0 ABNF serializer (W3C SRGS 1.0 ABNF form): the inverse of the parser in the parent module.

use super::super::model::{Expansion, Grammar, RuleRef, Scope, format_repeat};

/// Serialize a grammar in ABNF form.
pub fn to_abnf(g: &Grammar) -> String {
    let mut s = String::from("#ABNF 1.0 UTF-8;\n");
    if let Some(l) = &g.language {
        s.push_str(&format!("language {l};\n"));
    }
    s.push_str(&format!("mode {};\n", g.mode.as_str()));
    if let Some(r) = &g.root {
        s.push_str(&format!("root ${r};\n"));
    }
    if let Some(t) = &g.tag_format {
        s.push_str(&format!("tag-format <{t}>;\n"));
    }
    if let Some(b) = &g.base {
        s.push_str(&format!("base <{b}>;\n"));
    }
    for t in &g.header_tags {
        s.push_str(&format!("{};\n", tag(t)));
    }
    for r in &g.rules {
        let scope = if r.scope == Scope::Public {
            "public "
        } else {
            ""
        };
        s.push_str(&format!("{scope}${} = ", r.name));
        expansion(&mut s, &r.body, true);
        s.push_str(";\n");
    }
    s
}

fn tag(t: &str) -> String {
    if t.contains('}') {
        format!("{{!{{{t}}}!}}")
    } else {
        format!("{{{t}}}")
    }
}

fn token(t: &str) -> String {
    let bare = !t.is_empty()
        && t.chars().all(|c| {
            c.is_alphanumeric()
                || matches!(
                    c,
                    '_' | '-'
                        | '.'
                        | ':'
                        | '\''
                        | '@'
                        | '*'
                        | '#'
                        | ','
                        | '?'
                        | '&'
                        | '%'
                        | '+'
                        | '='
                )
        })
        && !t.starts_with("//");
    if bare {
        t.to_owned()
    } else {
        format!("\"{}\"", t.replace('"', ""))
    }
}

fn expansion(s: &mut String, e: &Expansion, top: bool) {
    match e {
        Expansion::Token(t) => s.push_str(&token(t)),
        Expansion::Sequence(items) => {
            if items.is_empty() {
                s.push_str("$NULL");
                return;
            }
            if !top {
                s.push('(');
            }
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    s.push(' ');
                }
                expansion(s, item, false);
            }
            if !top {
                s.push(')');
            }
        }
        Expansion::OneOf(alts) => {
            s.push('(');
            let weighted = alts.len() == 1 || alts.iter().any(|a| a.weight != 1.0);
            for (k, a) in alts.iter().enumerate() {
                if k > 0 {
                    s.push_str(" | ");
                }
                if weighted {
                    s.push_str(&format!("/{}/ ", a.weight));
                }
                // An alternative that is itself a sequence needs no extra parentheses.
                expansion(s, &a.body, true);
            }
            s.push(')');
        }
        Expansion::Repeat { body, min, max } => {
            s.push('(');
            expansion(s, body, true);
            s.push_str(&format!(") <{}>", format_repeat(*min, *max)));
        }
        Expansion::RuleRef(RuleRef::Local(n)) => s.push_str(&format!("${n}")),
        Expansion::RuleRef(RuleRef::Special(sp)) => s.push_str(&format!("${}", sp.as_str())),
        Expansion::RuleRef(RuleRef::External { uri, rule: Some(r) }) => {
            s.push_str(&format!("$<{uri}#{r}>"))
        }
        Expansion::RuleRef(RuleRef::External { uri, rule: None }) => {
            s.push_str(&format!("$<{uri}>"))
        }
        Expansion::Tag(t) => s.push_str(&tag(t)),
    }
}
