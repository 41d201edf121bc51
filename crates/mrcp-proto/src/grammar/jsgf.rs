//! JSGF 1.0 (Java Speech Grammar Format, W3C note 2000-06-05; media type `application/x-jsgf`, which
//! FreeSWITCH sends for text grammars starting with `#JSGF`) parser into [`Grammar`].
//!
//! Accepted: the `#JSGF V1.0 [encoding [locale]];` header (the locale becomes the language), `grammar name;`,
//! `import <…>;` (read and ignored: imported rules must not be referenced), `[public] <rule> = expansion;`,
//! bare and `"quoted"` tokens, `<rule>` (a qualified `<grammar.rule>` naming this grammar is accepted),
//! `<NULL>`, `<VOID>`, `|` with `/weight/`, `( … )`, `[ … ]`, `*`, `+`, tags `{…}`, and comments. The root is
//! the first public rule. Tags are interpreted like SRGS tags without a declared tag-format.

use std::ops::{Deref, DerefMut};

use super::error::{GrammarError, GrammarErrorKind, excerpt};
use super::limits::GrammarLimits;
use super::model::{Expansion, Grammar, Mode, Rule, RuleRef, Scope, SpecialRule};
use super::scanner::{self, Scanner};

/// Parse a JSGF grammar with the default limits.
pub fn parse_jsgf(text: &str, source: &str) -> Result<Grammar, GrammarError> {
    parse_jsgf_with(text, source, &GrammarLimits::default())
}

/// Parse a JSGF grammar with explicit limits.
pub fn parse_jsgf_with(
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
    let bom = text.len() - text.trim_start_matches('\u{feff}').len();
    let mut p = P(Scanner::new(text, source, bom, limits.max_nesting));
    p.skip_ws()?;
    if !p.rest().starts_with("#JSGF") {
        return Err(p.syntax("the #JSGF header"));
    }
    let end = p
        .rest()
        .find(';')
        .ok_or_else(|| p.syntax("';' after the #JSGF header"))?;
    let language = p
        .rest()
        .get(..end)
        .unwrap_or("")
        .split_whitespace()
        .nth(3)
        .map(str::to_owned);
    p.pos += end + 1;
    let mut g = Grammar {
        mode: Mode::Voice,
        language,
        ..Grammar::default()
    };
    let mut grammar_name = String::new();
    loop {
        p.skip_ws()?;
        if p.at_end() {
            break;
        }
        let at = p.pos;
        let word = p.word();
        match word.as_str() {
            "grammar" => {
                p.skip_ws()?;
                grammar_name = p.word();
                p.expect(';')?;
            }
            "import" => {
                let end = p
                    .rest()
                    .find(';')
                    .ok_or_else(|| p.syntax("';' after import"))?;
                p.pos += end + 1;
            }
            "public" | "" => {
                let scope = if word == "public" {
                    Scope::Public
                } else {
                    Scope::Private
                };
                p.skip_ws()?;
                if !p.eat('<') {
                    return Err(p.syntax("a rule definition (<name> = …;)"));
                }
                let name = p.rule_name()?;
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
                p.expect('=')?;
                let body = p.alternatives()?;
                p.expect(';')?;
                if scope == Scope::Public && g.root.is_none() {
                    g.root = Some(name.clone());
                }
                g.rules.push(Rule { name, scope, body });
            }
            _ => {
                return Err(p.err_at(
                    at,
                    GrammarErrorKind::Syntax {
                        expected: "grammar, import or a rule",
                        found: excerpt(&word, 24),
                    },
                ));
            }
        }
    }
    // Qualified references to this grammar's own rules become local references.
    let prefix = format!("{grammar_name}.");
    for r in &mut g.rules {
        unqualify(&mut r.body, &prefix);
    }
    for r in &g.rules {
        check_refs(&r.body, &g, source)?;
    }
    Ok(g)
}

fn unqualify(e: &mut Expansion, prefix: &str) {
    match e {
        Expansion::RuleRef(RuleRef::Local(n)) => {
            if let Some(rest) = n.strip_prefix(prefix) {
                *n = rest.to_owned();
            }
        }
        Expansion::Sequence(items) => items.iter_mut().for_each(|i| unqualify(i, prefix)),
        Expansion::OneOf(alts) => alts.iter_mut().for_each(|a| unqualify(&mut a.body, prefix)),
        Expansion::Repeat { body, .. } => unqualify(body, prefix),
        _ => {}
    }
}

fn check_refs(e: &Expansion, g: &Grammar, source: &str) -> Result<(), GrammarError> {
    match e {
        Expansion::RuleRef(RuleRef::Local(n)) if g.rule(n).is_none() => Err(GrammarError::whole(
            source,
            GrammarErrorKind::UndefinedRule { name: n.clone() },
        )),
        Expansion::Sequence(items) => items.iter().try_for_each(|i| check_refs(i, g, source)),
        Expansion::OneOf(alts) => alts.iter().try_for_each(|a| check_refs(&a.body, g, source)),
        Expansion::Repeat { body, .. } => check_refs(body, g, source),
        _ => Ok(()),
    }
}

/// The JSGF parser: the shared scanner plus the JSGF productions below.
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
    fn word(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\'') {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        self.text.get(start..self.pos).unwrap_or("").to_owned()
    }
    fn rule_name(&mut self) -> Result<String, GrammarError> {
        let end = self
            .rest()
            .find('>')
            .ok_or_else(|| self.syntax("'>' closing a rule name"))?;
        let name = self.rest().get(..end).unwrap_or("").trim().to_owned();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '$' | ':'))
        {
            return Err(self.syntax("a rule name"));
        }
        self.pos += end + 1;
        Ok(name)
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
                Some('{') => {
                    let t = self.tag()?;
                    items.push(Expansion::Tag(t));
                    continue;
                }
                _ => {}
            }
            items.push(self.item()?);
        }
        if items.is_empty() {
            return Err(self.syntax("a token, rule reference or group"));
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expansion::Sequence(Vec::new()))
        } else {
            Expansion::Sequence(items)
        })
    }

    fn item(&mut self) -> Result<Expansion, GrammarError> {
        let mut e = match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.alternatives()?;
                self.expect(')')?;
                inner
            }
            Some('[') => {
                self.pos += 1;
                let inner = self.alternatives()?;
                self.expect(']')?;
                Expansion::Repeat {
                    body: Box::new(inner),
                    min: 0,
                    max: Some(1),
                }
            }
            Some('<') => {
                self.pos += 1;
                let name = self.rule_name()?;
                Expansion::RuleRef(match name.as_str() {
                    "NULL" => RuleRef::Special(SpecialRule::Null),
                    "VOID" => RuleRef::Special(SpecialRule::Void),
                    _ => RuleRef::Local(name),
                })
            }
            Some('"') => {
                self.pos += 1;
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
                    return Err(self.syntax("a non-empty token"));
                }
                Expansion::Token(t)
            }
            _ => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c.is_whitespace()
                        || matches!(
                            c,
                            '|' | '('
                                | ')'
                                | '['
                                | ']'
                                | '{'
                                | '}'
                                | ';'
                                | '<'
                                | '"'
                                | '*'
                                | '+'
                                | '/'
                                | '='
                        )
                    {
                        break;
                    }
                    self.pos += c.len_utf8();
                }
                let w = self.text.get(start..self.pos).unwrap_or("").to_owned();
                if w.is_empty() {
                    return Err(self.syntax("a token, rule reference or group"));
                }
                Expansion::Token(w)
            }
        };
        loop {
            if self.eat('*') {
                e = Expansion::Repeat {
                    body: Box::new(e),
                    min: 0,
                    max: None,
                };
            } else if self.eat('+') {
                e = Expansion::Repeat {
                    body: Box::new(e),
                    min: 1,
                    max: None,
                };
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn tag(&mut self) -> Result<String, GrammarError> {
        self.pos += 1;
        let mut depth = 1;
        let start = self.pos;
        while let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(self.text.get(start..self.pos - 1).unwrap_or("").to_owned());
                    }
                }
                '\\' => {
                    if let Some(n) = self.peek() {
                        self.pos += n.len_utf8();
                    }
                }
                _ => {}
            }
        }
        Err(self.syntax("'}' closing a tag"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_freeswitch_style_jsgf() {
        let g = parse_jsgf(
            "#JSGF V1.0 UTF-8 en-US;\ngrammar demo;\n/* menu */\npublic <cmd> = [please] (/5/ call | dial) <name>+ {out=\"call\"};\n<name> = \"john smith\" | mary | <demo.other>;\n<other> = <NULL>;\n",
            "demo.jsgf",
        )
        .expect("parses");
        assert_eq!(g.root.as_deref(), Some("cmd"));
        assert_eq!(g.language.as_deref(), Some("en-US"));
        let Expansion::Sequence(items) = &g.rules[0].body else {
            panic!("sequence")
        };
        assert_eq!(items.len(), 4);
        assert!(matches!(
            &items[2],
            Expansion::Repeat {
                min: 1,
                max: None,
                ..
            }
        ));
        assert_eq!(items[3], Expansion::Tag("out=\"call\"".into()));
        let Expansion::OneOf(alts) = &g.rules[1].body else {
            panic!("one-of")
        };
        assert_eq!(
            alts[2].body,
            Expansion::RuleRef(RuleRef::Local("other".into()))
        );
    }

    #[test]
    fn errors() {
        let e =
            parse_jsgf("#JSGF V1.0;\ngrammar g;\npublic <a> = <b>;\n", "g").expect_err("undefined");
        assert!(e.to_string().contains("undefined rule b"), "{e}");
        let e = parse_jsgf(
            "#JSGF V1.0;\ngrammar g;\n\npublic <a> = (x | y;\n",
            "g.jsgf",
        )
        .expect_err("paren");
        assert_eq!(e.location.line, 4);
    }
}
