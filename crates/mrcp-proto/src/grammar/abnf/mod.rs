//! SRGS 1.0 ABNF form (W3C SRGS 1.0 §2–§4 ABNF syntax; media type `application/srgs`): parser into
//! [`Grammar`] and serializer back.
//!
//! Accepted: the `#ABNF 1.0 [encoding];` header; `language`, `mode`, `root`, `tag-format`, `base`
//! declarations (`lexicon`, `meta`, `http-equiv` are read and ignored); header tags `{…};`; rules
//! `[public|private] $name = expansion;`; tokens (bare or `"quoted"`), `$rule`, `$<uri#rule>`, `$<uri>`,
//! `$NULL`, `$VOID`, `$GARBAGE`, `( … )`, `[ … ]`, `|` with `/weight/`, repeats `<n>`, `<n->`, `<n-m>`
//! (an optional `/prob/` inside is ignored), tags `{…}` and `{!{…}!}`, language suffixes `!en-US` (ignored),
//! and `//` and `/* */` comments.

mod write;

pub use write::to_abnf;

use std::ops::{Deref, DerefMut};

use super::error::{GrammarError, GrammarErrorKind};
use super::limits::GrammarLimits;
use super::model::{Expansion, Grammar, Mode, Rule, RuleRef, Scope, SpecialRule};
use super::scanner::{self, Scanner};
use super::srgs_xml::{parse_rule_uri, valid_rule_name};

/// Parse an ABNF grammar with the default limits.
pub fn parse_abnf(text: &str, source: &str) -> Result<Grammar, GrammarError> {
    parse_abnf_with(text, source, &GrammarLimits::default())
}

/// Parse an ABNF grammar with explicit limits.
pub fn parse_abnf_with(
    text: &str,
    source: &str,
    limits: &GrammarLimits,
) -> Result<Grammar, GrammarError> {
    if text.len() > limits.max_bytes {
        return Err(GrammarError::whole(
            source,
            GrammarErrorKind::Limit {
                what: "grammar size",
                value: text.len() as u64,
                limit: limits.max_bytes as u64,
            },
        ));
    }
    let mut p = P(Scanner::new(text, source, 0, limits.max_nesting));
    p.header()?;
    let mut g = Grammar::default();
    loop {
        p.skip_ws()?;
        if p.at_end() {
            break;
        }
        if p.peek() == Some('{') {
            let t = p.tag()?;
            g.header_tags.push(t);
            p.expect(';')?;
            continue;
        }
        let word = p.word();
        match word.as_str() {
            "language" => {
                g.language = Some(p.until_semicolon()?);
            }
            "mode" => {
                let at = p.pos;
                g.mode = match p.until_semicolon()?.as_str() {
                    "voice" => Mode::Voice,
                    "dtmf" => Mode::Dtmf,
                    other => {
                        return Err(p.err_at(
                            at,
                            GrammarErrorKind::InvalidAttribute {
                                element: "grammar",
                                attribute: "mode",
                                value: other.to_owned(),
                            },
                        ));
                    }
                };
            }
            "root" => {
                let at = p.pos;
                let v = p.until_semicolon()?;
                let name = v
                    .strip_prefix('$')
                    .filter(|n| valid_rule_name(n))
                    .ok_or_else(|| {
                        p.err_at(
                            at,
                            GrammarErrorKind::InvalidAttribute {
                                element: "grammar",
                                attribute: "root",
                                value: v.clone(),
                            },
                        )
                    })?;
                g.root = Some(name.to_owned());
            }
            "tag-format" => g.tag_format = Some(strip_angles(&p.until_semicolon()?)),
            "base" => g.base = Some(strip_angles(&p.until_semicolon()?)),
            "lexicon" | "meta" | "http-equiv" => p.skip_declaration()?,
            "public" | "private" | "" => {
                let scope = if word == "public" {
                    Scope::Public
                } else {
                    Scope::Private
                };
                if !word.is_empty() {
                    p.skip_ws()?;
                }
                let at = p.pos;
                if !p.eat('$') {
                    return Err(p.syntax("a rule definition ($name = …;)"));
                }
                let name = p.word();
                if !valid_rule_name(&name) {
                    return Err(p.err_at(
                        at,
                        GrammarErrorKind::InvalidAttribute {
                            element: "rule",
                            attribute: "name",
                            value: name,
                        },
                    ));
                }
                if g.rule(&name).is_some() {
                    return Err(p.err_at(at, GrammarErrorKind::DuplicateRule { name }));
                }
                if g.rules.len() >= limits.max_rules {
                    return Err(p.err_at(
                        at,
                        GrammarErrorKind::Limit {
                            what: "rule count",
                            value: g.rules.len() as u64 + 1,
                            limit: limits.max_rules as u64,
                        },
                    ));
                }
                p.skip_ws()?;
                p.expect('=')?;
                let body = p.alternatives()?;
                p.skip_ws()?;
                p.expect(';')?;
                g.rules.push(Rule { name, scope, body });
            }
            _ => return Err(p.syntax("a declaration or a rule")),
        }
    }
    if let Some(root) = &g.root
        && g.rule(root).is_none()
    {
        return Err(GrammarError::whole(
            source,
            GrammarErrorKind::UndefinedRule { name: root.clone() },
        ));
    }
    Ok(g)
}

fn strip_angles(v: &str) -> String {
    v.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_owned()
}

/// The ABNF parser: the shared scanner plus the ABNF productions below.
struct P<'a>(Scanner<'a>);

impl<'a> Deref for P<'a> {
    type Target = Scanner<'a>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for P<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl P<'_> {
    fn header(&mut self) -> Result<(), GrammarError> {
        self.pos = self.text.len() - self.text.trim_start_matches('\u{feff}').len();
        self.skip_ws()?;
        if !self.rest().starts_with("#ABNF") {
            return Err(self.syntax("the #ABNF header"));
        }
        let end = self
            .rest()
            .find(';')
            .ok_or_else(|| self.syntax("';' after the #ABNF header"))?;
        self.pos += end + 1;
        Ok(())
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '\'' | '@') {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        self.text.get(start..self.pos).unwrap_or("").to_owned()
    }

    /// The value of a declaration up to `;`: one word (a language tag, mode, rule name or `<uri>`).
    fn until_semicolon(&mut self) -> Result<String, GrammarError> {
        self.skip_ws()?;
        let r = self.rest();
        let end = r.find(';').ok_or_else(|| self.syntax("';'"))?;
        let v = r.get(..end).unwrap_or("").trim().to_owned();
        if v.is_empty() || v.contains(char::is_whitespace) {
            return Err(self.syntax("one value before ';'"));
        }
        self.pos += end + 1;
        Ok(v)
    }

    /// A `lexicon`, `meta` or `http-equiv` declaration, skipped up to `;`.
    fn skip_declaration(&mut self) -> Result<(), GrammarError> {
        let end = self.rest().find(';').ok_or_else(|| self.syntax("';'"))?;
        self.pos += end + 1;
        Ok(())
    }

    fn alternatives(&mut self) -> Result<Expansion, GrammarError> {
        scanner::alternatives(self, Self::sequence)
    }

    fn sequence(&mut self) -> Result<Expansion, GrammarError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                None | Some('|' | ')' | ']' | ';') => break,
                _ => {}
            }
            let item = self.item()?;
            items.push(item);
        }
        if items.is_empty() {
            return Err(self.syntax("a token, rule reference, group or tag"));
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expansion::Sequence(Vec::new()))
        } else {
            Expansion::Sequence(items)
        })
    }

    fn item(&mut self) -> Result<Expansion, GrammarError> {
        let at = self.pos;
        let mut e = match self.peek() {
            Some('(') => {
                self.bump();
                let inner = self.alternatives()?;
                self.expect(')')?;
                inner
            }
            Some('[') => {
                self.bump();
                let inner = self.alternatives()?;
                self.expect(']')?;
                Expansion::Repeat {
                    body: Box::new(inner),
                    min: 0,
                    max: Some(1),
                }
            }
            Some('{') => Expansion::Tag(self.tag()?),
            Some('$') => {
                self.bump();
                if self.eat('<') {
                    let end = self
                        .rest()
                        .find('>')
                        .ok_or_else(|| self.syntax("'>' closing a rule URI"))?;
                    let uri = self.rest().get(..end).unwrap_or("").trim().to_owned();
                    self.pos += end + 1;
                    let r = parse_rule_uri(&uri).ok_or_else(|| {
                        self.err_at(
                            at,
                            GrammarErrorKind::InvalidAttribute {
                                element: "ruleref",
                                attribute: "uri",
                                value: uri.clone(),
                            },
                        )
                    })?;
                    Expansion::RuleRef(r)
                } else {
                    let name = self.word();
                    Expansion::RuleRef(match name.as_str() {
                        "NULL" => RuleRef::Special(SpecialRule::Null),
                        "VOID" => RuleRef::Special(SpecialRule::Void),
                        "GARBAGE" => RuleRef::Special(SpecialRule::Garbage),
                        n if valid_rule_name(n) => RuleRef::Local(n.to_owned()),
                        _ => return Err(self.syntax("a rule name after '$'")),
                    })
                }
            }
            Some('"') => {
                self.bump();
                let end = self
                    .rest()
                    .find('"')
                    .ok_or_else(|| self.syntax("'\"' closing a token"))?;
                let t = self
                    .rest()
                    .get(..end)
                    .unwrap_or("")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                self.pos += end + 1;
                if t.is_empty() {
                    return Err(self.err_at(
                        at,
                        GrammarErrorKind::Syntax {
                            expected: "a non-empty token",
                            found: "\"\"".into(),
                        },
                    ));
                }
                Expansion::Token(t)
            }
            _ => {
                let w = self.token_word();
                if w.is_empty() {
                    return Err(self.syntax("a token, rule reference, group or tag"));
                }
                Expansion::Token(w)
            }
        };
        // Language attachment (ignored) and repeat operators.
        loop {
            if self.peek() == Some('!') {
                self.bump();
                self.word();
                continue;
            }
            let save = self.pos;
            self.skip_ws()?;
            if self.peek() == Some('<') {
                let at = self.pos;
                self.bump();
                let end = self
                    .rest()
                    .find('>')
                    .ok_or_else(|| self.syntax("'>' closing a repeat"))?;
                let spec = self.rest().get(..end).unwrap_or("").to_owned();
                self.pos += end + 1;
                let range = spec.split('/').next().unwrap_or("").trim();
                let (min, max) = super::model::parse_repeat(range).ok_or_else(|| {
                    self.err_at(
                        at,
                        GrammarErrorKind::InvalidAttribute {
                            element: "item",
                            attribute: "repeat",
                            value: spec.trim().to_owned(),
                        },
                    )
                })?;
                e = Expansion::Repeat {
                    body: Box::new(e),
                    min,
                    max,
                };
                continue;
            }
            self.pos = save;
            break;
        }
        Ok(e)
    }

    fn token_word(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace()
                || matches!(
                    c,
                    '|' | '(' | ')' | '[' | ']' | '{' | '}' | ';' | '<' | '$' | '"' | '!' | '/'
                )
            {
                break;
            }
            self.pos += c.len_utf8();
        }
        self.text.get(start..self.pos).unwrap_or("").to_owned()
    }

    fn tag(&mut self) -> Result<String, GrammarError> {
        if self.rest().starts_with("{!{") {
            let end = self
                .rest()
                .find("}!}")
                .ok_or_else(|| self.syntax("'}!}' closing a tag"))?;
            let t = self.rest().get(3..end).unwrap_or("").to_owned();
            self.pos += end + 3;
            return Ok(t);
        }
        self.bump();
        let end = self
            .rest()
            .find('}')
            .ok_or_else(|| self.syntax("'}' closing a tag"))?;
        let t = self.rest().get(..end).unwrap_or("").to_owned();
        self.pos += end + 1;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::Alternative;

    #[test]
    fn parses_spec_style_grammar() {
        let g = parse_abnf(
            "#ABNF 1.0 UTF-8;\nlanguage en-US;\nmode voice;\nroot $order;\ntag-format <semantics/1.0>;\n\
             // a comment\npublic $order = /2/ [$polite] small | /1/ large {out=\"l\"} | /1/ $<http://x/g#size> <0-1 /0.5/>;\n\
             $polite = please | \"could you\";\n",
            "g",
        )
        .expect("parses");
        assert_eq!(g.root.as_deref(), Some("order"));
        assert_eq!(g.tag_format.as_deref(), Some("semantics/1.0"));
        let Expansion::OneOf(alts) = &g.rules[0].body else {
            panic!("one-of expected: {:?}", g.rules[0].body)
        };
        assert_eq!(alts.len(), 3);
        assert_eq!(alts[0].weight, 2.0);
        assert_eq!(
            alts[2].body,
            Expansion::Repeat {
                body: Box::new(Expansion::RuleRef(RuleRef::External {
                    uri: "http://x/g".into(),
                    rule: Some("size".into())
                })),
                min: 0,
                max: Some(1)
            }
        );
        assert_eq!(
            g.rules[1].body,
            Expansion::OneOf(vec![
                Alternative {
                    weight: 1.0,
                    body: Expansion::Token("please".into())
                },
                Alternative {
                    weight: 1.0,
                    body: Expansion::Token("could you".into())
                },
            ])
        );
        let again = parse_abnf(&to_abnf(&g), "g").expect("reparses");
        assert_eq!(g, again);
    }

    #[test]
    fn errors_name_line() {
        let e =
            parse_abnf("#ABNF 1.0;\nroot $a;\n$a = (one | two;\n", "g.abnf").expect_err("unclosed");
        assert_eq!(e.location.line, 3);
        assert!(e.to_string().contains("expected ')'"), "{e}");
        let e = parse_abnf("$a = x;", "g").expect_err("header");
        assert!(e.to_string().contains("#ABNF"), "{e}");
        assert!(parse_abnf("#ABNF 1.0;\n$a = x <2-1>;", "g").is_err());
        assert!(parse_abnf("#ABNF 1.0;\nroot $b;\n$a = x;", "g").is_err());
    }
}
