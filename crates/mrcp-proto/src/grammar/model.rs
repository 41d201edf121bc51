//! The grammar model shared by every input format (W3C SRGS 1.0 §2–§4, SRGS ABNF form, JSGF).
//!
//! SRGS XML, SRGS ABNF and JSGF all parse into [`Grammar`]; builtin grammars are built as [`Grammar`]s too.
//! The model is plain data: it is checked and turned into a matcher by [`crate::grammar::CompiledGrammar`].

/// Input mode of a grammar (SRGS 1.0 §4.6): spoken words or DTMF keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Spoken input (the default).
    #[default]
    Voice,
    /// DTMF key presses; tokens are `0`–`9`, `*`, `#`, `A`–`D`.
    Dtmf,
}

impl Mode {
    /// The attribute value used by SRGS (`voice` or `dtmf`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Voice => "voice",
            Mode::Dtmf => "dtmf",
        }
    }
}

/// Scope of a rule (SRGS 1.0 §3.1): public rules may be referenced from other grammars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Only referenced from inside the grammar (the default).
    #[default]
    Private,
    /// May be referenced from other grammars and used as a root.
    Public,
}

/// The special rules of SRGS 1.0 §2.2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialRule {
    /// Matches nothing, always succeeds.
    Null,
    /// Never matches.
    Void,
    /// Matches any (possibly empty) stretch of words.
    Garbage,
}

impl SpecialRule {
    /// The SRGS name (`NULL`, `VOID`, `GARBAGE`).
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialRule::Null => "NULL",
            SpecialRule::Void => "VOID",
            SpecialRule::Garbage => "GARBAGE",
        }
    }
}

/// A rule reference (SRGS 1.0 §2.2).
#[derive(Debug, Clone, PartialEq)]
pub enum RuleRef {
    /// `#name`: a rule of the same grammar.
    Local(String),
    /// One of NULL, VOID, GARBAGE.
    Special(SpecialRule),
    /// A rule of another grammar: its URI without fragment and the rule named by the fragment (the other
    /// grammar's root when absent). Left unresolved in the model; the grammar store resolves it.
    External {
        /// The grammar URI, without the `#fragment`.
        uri: String,
        /// The rule name from the fragment, if any.
        rule: Option<String>,
    },
}

/// One alternative of a `<one-of>` (SRGS 1.0 §2.4) with its weight (§2.4.1, default 1.0).
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    /// Relative weight; positive and finite.
    pub weight: f32,
    /// The alternative's expansion.
    pub body: Expansion,
}

/// A rule expansion (SRGS 1.0 §2).
#[derive(Debug, Clone, PartialEq)]
pub enum Expansion {
    /// One token (SRGS 1.0 §2.1); a `<token>` may contain several words, kept here as one token whose
    /// words the compiler splits.
    Token(String),
    /// A sequence of expansions (§2.3). An empty sequence matches the empty string (like NULL).
    Sequence(Vec<Expansion>),
    /// A set of alternatives (§2.4).
    OneOf(Vec<Alternative>),
    /// `repeat="min-max"` (§2.5); `max` is `None` for an open range (`"2-"`). `repeat-prob` is accepted by the
    /// parsers and ignored.
    Repeat {
        /// The repeated expansion.
        body: Box<Expansion>,
        /// Minimum number of occurrences.
        min: u32,
        /// Maximum number of occurrences, `None` for unbounded.
        max: Option<u32>,
    },
    /// A rule reference (§2.2).
    RuleRef(RuleRef),
    /// A tag (§2.6): its text is interpreted according to the grammar's tag format.
    Tag(String),
}

/// A rule definition (SRGS 1.0 §3).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule name (`id` in XML, `$name` in ABNF, `<name>` in JSGF).
    pub name: String,
    /// Public or private.
    pub scope: Scope,
    /// The rule's expansion.
    pub body: Expansion,
}

/// A grammar in any of the supported formats.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Grammar {
    /// Input mode (§4.6).
    pub mode: Mode,
    /// `xml:lang` / `language` (§4.5).
    pub language: Option<String>,
    /// Root rule name (§4.7); when absent the grammar can only be used through a rule reference with a fragment.
    pub root: Option<String>,
    /// `tag-format` (§4.11), e.g. `semantics/1.0` or `semantics/1.0-literals`.
    pub tag_format: Option<String>,
    /// `xml:base` (§4.9).
    pub base: Option<String>,
    /// Tags declared at grammar level (§2.6.1): run before the root rule in SISR; kept in order.
    pub header_tags: Vec<String>,
    /// The rules in document order.
    pub rules: Vec<Rule>,
}

impl Grammar {
    /// The rule with this name, if any.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The rule a match starts from: the declared root, or the only public rule, or the only rule.
    pub fn effective_root(&self) -> Option<&str> {
        if let Some(root) = &self.root {
            return Some(root);
        }
        let mut public = self.rules.iter().filter(|r| r.scope == Scope::Public);
        match (public.next(), public.next()) {
            (Some(r), None) => return Some(&r.name),
            (Some(r), Some(_)) => return Some(&r.name),
            _ => {}
        }
        match self.rules.as_slice() {
            [only] => Some(&only.name),
            _ => None,
        }
    }
}

/// Parse an SRGS repeat attribute (`"3"`, `"0-1"`, `"2-"`, `"2-5"`; SRGS 1.0 §2.5).
pub fn parse_repeat(value: &str) -> Option<(u32, Option<u32>)> {
    let value = value.trim();
    match value.split_once('-') {
        None => {
            let n = value.parse().ok()?;
            Some((n, Some(n)))
        }
        Some((lo, hi)) => {
            let min: u32 = lo.trim().parse().ok()?;
            let hi = hi.trim();
            if hi.is_empty() {
                return Some((min, None));
            }
            let max: u32 = hi.parse().ok()?;
            (max >= min).then_some((min, Some(max)))
        }
    }
}

/// Format a repeat range the way SRGS writes it.
pub fn format_repeat(min: u32, max: Option<u32>) -> String {
    match max {
        Some(m) if m == min => min.to_string(),
        Some(m) => format!("{min}-{m}"),
        None => format!("{min}-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_forms() {
        assert_eq!(parse_repeat("0-1"), Some((0, Some(1))));
        assert_eq!(parse_repeat("2-"), Some((2, None)));
        assert_eq!(parse_repeat("3"), Some((3, Some(3))));
        assert_eq!(parse_repeat("2-5"), Some((2, Some(5))));
        assert_eq!(parse_repeat("5-2"), None);
        assert_eq!(parse_repeat("x"), None);
        assert_eq!(format_repeat(0, Some(1)), "0-1");
        assert_eq!(format_repeat(2, None), "2-");
    }
}
