//! The character scanner the ABNF and JSGF parsers share: position, peeking, the comments both forms allow
//! (`//` and `/* */`), and errors that name the source and line.

use std::ops::DerefMut;

use super::error::{GrammarError, GrammarErrorKind, excerpt, line_of};
use super::model::{Alternative, Expansion};

/// A parse position in a grammar's text, with the nesting bound against hostile grammars.
pub(super) struct Scanner<'a> {
    pub(super) text: &'a str,
    pub(super) source: &'a str,
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) max_depth: usize,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str, source: &'a str, pos: usize, max_depth: usize) -> Self {
        Self {
            text,
            source,
            pos,
            depth: 0,
            max_depth,
        }
    }

    pub(super) fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    pub(super) fn err_at(&self, at: usize, kind: GrammarErrorKind) -> GrammarError {
        GrammarError::at(self.source, line_of(self.text, at), kind)
    }

    /// A syntax error at the current position: what was expected and an excerpt of what was found.
    pub(super) fn syntax(&self, expected: &'static str) -> GrammarError {
        let found = if self.at_end() {
            "end of grammar".to_owned()
        } else {
            format!(
                "\"{}\"",
                excerpt(self.rest().lines().next().unwrap_or(""), 24)
            )
        };
        self.err_at(self.pos, GrammarErrorKind::Syntax { expected, found })
    }

    /// Skips white space and comments, then requires the delimiter `c`.
    pub(super) fn expect(&mut self, c: char) -> Result<(), GrammarError> {
        self.skip_ws()?;
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.syntax(match c {
                ';' => "';'",
                '=' => "'='",
                ')' => "')'",
                ']' => "']'",
                '>' => "'>'",
                '/' => "'/'",
                _ => "a delimiter",
            }))
        }
    }

    /// Reads an alternative's weight `/w/` (both ABNF and JSGF write weights so), the scanner being at the
    /// opening `/`; a weight must be a finite number of at least 0.
    pub(super) fn slash_weight(&mut self) -> Result<f32, GrammarError> {
        let at = self.pos;
        self.bump();
        let end = self
            .rest()
            .find('/')
            .ok_or_else(|| self.syntax("'/' closing a weight"))?;
        let w = self.rest().get(..end).unwrap_or("").trim().to_owned();
        self.pos += end + 1;
        match w.parse::<f32>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => Err(self.err_at(
                at,
                GrammarErrorKind::InvalidAttribute {
                    element: "item",
                    attribute: "weight",
                    value: w,
                },
            )),
        }
    }

    /// Skips white space, `// …` line comments and `/* … */` block comments.
    pub(super) fn skip_ws(&mut self) -> Result<(), GrammarError> {
        loop {
            let r = self.rest();
            if let Some(c) = r.chars().next().filter(|c| c.is_whitespace()) {
                self.pos += c.len_utf8();
            } else if r.starts_with("//") {
                self.pos += r.find('\n').unwrap_or(r.len());
            } else if r.starts_with("/*") {
                match r.get(2..).and_then(|x| x.find("*/")) {
                    Some(end) => self.pos += end + 4,
                    None => return Err(self.syntax("the end of a comment")),
                }
            } else {
                return Ok(());
            }
        }
    }

    /// One level deeper into groups, refused past the nesting bound (a hostile grammar's `((((…` would
    /// otherwise exhaust the stack).
    pub(super) fn enter(&mut self) -> Result<(), GrammarError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.err_at(
                self.pos,
                GrammarErrorKind::Limit {
                    what: "group nesting",
                    value: self.depth as u64,
                    limit: self.max_depth as u64,
                },
            ));
        }
        Ok(())
    }
}

/// `alternatives := [weight] sequence ( '|' [weight] sequence )*`, the same production in SRGS ABNF (SRGS 1.0
/// §2.5, weights §2.5.1) and JSGF; `sequence` is the grammar's own. A single unweighted alternative is just
/// its sequence.
pub(super) fn alternatives<'a, P>(
    p: &mut P,
    sequence: fn(&mut P) -> Result<Expansion, GrammarError>,
) -> Result<Expansion, GrammarError>
where
    P: DerefMut<Target = Scanner<'a>>,
{
    p.enter()?;
    let mut alts = Vec::new();
    let mut weighted = false;
    loop {
        p.skip_ws()?;
        let mut weight = 1.0;
        if p.peek() == Some('/') && !p.rest().starts_with("//") && !p.rest().starts_with("/*") {
            weight = p.slash_weight()?;
            weighted = true;
        }
        let body = sequence(p)?;
        alts.push(Alternative { weight, body });
        p.skip_ws()?;
        if !p.eat('|') {
            break;
        }
    }
    p.depth -= 1;
    if alts.len() == 1 && !weighted {
        return Ok(alts
            .pop()
            .map(|a| a.body)
            .unwrap_or(Expansion::Sequence(Vec::new())));
    }
    Ok(Expansion::OneOf(alts))
}
