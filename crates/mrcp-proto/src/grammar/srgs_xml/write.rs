//! SRGS 1.0 XML serializer (W3C SRGS 1.0 XML form): the inverse of the parser in the parent module.

use super::super::model::{Expansion, Grammar, RuleRef, Scope, format_repeat};

/// Serialize a grammar as SRGS XML.
pub fn to_srgs_xml(g: &Grammar) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str("<grammar xmlns=\"http://www.w3.org/2001/06/grammar\" version=\"1.0\"");
    s.push_str(&format!(" mode=\"{}\"", g.mode.as_str()));
    if let Some(l) = &g.language {
        s.push_str(&format!(" xml:lang=\"{}\"", esc(l)));
    }
    if let Some(r) = &g.root {
        s.push_str(&format!(" root=\"{}\"", esc(r)));
    }
    if let Some(t) = &g.tag_format {
        s.push_str(&format!(" tag-format=\"{}\"", esc(t)));
    }
    if let Some(b) = &g.base {
        s.push_str(&format!(" xml:base=\"{}\"", esc(b)));
    }
    s.push_str(">\n");
    for t in &g.header_tags {
        s.push_str(&format!("  <tag>{}</tag>\n", esc(t)));
    }
    for r in &g.rules {
        let scope = if r.scope == Scope::Public {
            " scope=\"public\""
        } else {
            ""
        };
        s.push_str(&format!("  <rule id=\"{}\"{scope}>", esc(&r.name)));
        write_expansion(&mut s, &r.body);
        s.push_str("</rule>\n");
    }
    s.push_str("</grammar>\n");
    s
}

fn write_expansion(s: &mut String, e: &Expansion) {
    match e {
        Expansion::Token(t) => s.push_str(&format!("<token>{}</token>", esc(t))),
        Expansion::Sequence(items) => {
            if items.is_empty() {
                s.push_str("<ruleref special=\"NULL\"/>");
            }
            for item in items {
                match item {
                    // A nested sequence needs its own <item> to keep its structure. An empty one is written as
                    // the bare NULL reference, which is what it reads back as (an <item> around a single
                    // element is that element): fuzzing found `<item></item>x` not serializing stably.
                    Expansion::Sequence(inner) if !inner.is_empty() => {
                        s.push_str("<item>");
                        write_expansion(s, item);
                        s.push_str("</item>");
                    }
                    _ => write_expansion(s, item),
                }
            }
        }
        Expansion::OneOf(alts) => {
            s.push_str("<one-of>");
            for a in alts {
                if a.weight == 1.0 {
                    s.push_str("<item>");
                } else {
                    s.push_str(&format!("<item weight=\"{}\">", a.weight));
                }
                write_expansion(s, &a.body);
                s.push_str("</item>");
            }
            s.push_str("</one-of>");
        }
        Expansion::Repeat { body, min, max } => {
            s.push_str(&format!("<item repeat=\"{}\">", format_repeat(*min, *max)));
            write_expansion(s, body);
            s.push_str("</item>");
        }
        Expansion::RuleRef(r) => match r {
            RuleRef::Local(n) => s.push_str(&format!("<ruleref uri=\"#{}\"/>", esc(n))),
            RuleRef::Special(sp) => s.push_str(&format!("<ruleref special=\"{}\"/>", sp.as_str())),
            RuleRef::External {
                uri,
                rule: Some(rule),
            } => {
                s.push_str(&format!("<ruleref uri=\"{}#{}\"/>", esc(uri), esc(rule)));
            }
            RuleRef::External { uri, rule: None } => {
                s.push_str(&format!("<ruleref uri=\"{}\"/>", esc(uri)))
            }
        },
        Expansion::Tag(t) => s.push_str(&format!("<tag>{}</tag>", esc(t))),
    }
}

fn esc(t: &str) -> String {
    // Whitespace other than spaces is written as character references: attribute-value normalization would
    // otherwise turn it into spaces on the next parse.
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}
