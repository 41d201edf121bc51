//! Errors of the grammar module: where (source and line) and what is wrong.
//!
//! A grammar error maps to MRCP completion causes (RFC 6787 §9.4.11): parse errors to 005
//! `grammar-compilation-failure` (or 016 `grammar-definition-failure` for DEFINE-GRAMMAR), store errors about
//! fetching to 004 `grammar-load-failure` / 009 `uri-failure`.

use std::fmt;

/// Where in a grammar text an error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The grammar's name: a Content-ID, URI or `builtin:` name.
    pub source: String,
    /// 1-based line, 0 when the error concerns the grammar as a whole.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.source)
        } else {
            write!(f, "{}:{}", self.source, self.line)
        }
    }
}

/// What is wrong with a grammar.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GrammarErrorKind {
    /// The XML is not well formed.
    #[error("malformed xml: {message}")]
    Xml {
        /// The XML reader's description.
        message: String,
    },
    /// The text is not valid UTF-8.
    #[error("grammar is not valid utf-8")]
    NotUtf8,
    /// The document's top element is not `<grammar>`.
    #[error("root element is <{found}>, expected <grammar>")]
    NotAGrammar {
        /// The element found.
        found: String,
    },
    /// An element SRGS does not allow where it was found.
    #[error("element <{element}> is not allowed inside <{parent}>")]
    UnexpectedElement {
        /// The element.
        element: String,
        /// Its parent.
        parent: String,
    },
    /// A required attribute is missing.
    #[error("<{element}> lacks the required attribute {attribute}")]
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// An attribute value is invalid.
    #[error("<{element}> has an invalid {attribute}=\"{value}\"")]
    InvalidAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// The value found.
        value: String,
    },
    /// ABNF or JSGF syntax error.
    #[error("syntax error: expected {expected}, found {found}")]
    Syntax {
        /// What the parser expected.
        expected: &'static str,
        /// What it found (a short excerpt).
        found: String,
    },
    /// Two rules have the same name.
    #[error("rule {name} is defined twice")]
    DuplicateRule {
        /// The rule name.
        name: String,
    },
    /// A local rule reference names no rule of the grammar.
    #[error("reference to undefined rule {name}")]
    UndefinedRule {
        /// The rule name.
        name: String,
    },
    /// The grammar has no root rule and no single public rule.
    #[error("grammar has no root rule")]
    NoRoot,
    /// The grammar references another grammar that was not supplied.
    #[error("external grammar {uri} is not resolved")]
    UnresolvedExternal {
        /// The URI.
        uri: String,
    },
    /// The tag format is not supported.
    #[error("unsupported tag-format {format} (supported: semantics/1.0, semantics/1.0-literals)")]
    UnsupportedTagFormat {
        /// The declared format.
        format: String,
    },
    /// A semantic tag uses script outside the supported SISR subset, or is malformed.
    #[error("tag \"{tag}\": {message}")]
    Semantics {
        /// The tag text (truncated to 80 characters).
        tag: String,
        /// What is wrong.
        message: String,
    },
    /// A limit against hostile grammars was exceeded.
    #[error("{what} {value} exceeds limit {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The configured limit.
        limit: u64,
    },
    /// An unknown or malformed `builtin:` URI.
    #[error("unknown builtin grammar {uri}")]
    UnknownBuiltin {
        /// The URI.
        uri: String,
    },
    /// A builtin grammar parameter is invalid.
    #[error("builtin grammar parameter {name}={value} is invalid")]
    BuiltinParameter {
        /// The parameter name.
        name: String,
        /// The value.
        value: String,
    },
    /// A content type the module does not parse.
    #[error("unsupported grammar content type {content_type}")]
    UnsupportedContentType {
        /// The content type.
        content_type: String,
    },
}

/// A grammar error: its location and kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct GrammarError {
    /// Where.
    pub location: Location,
    /// What.
    pub kind: GrammarErrorKind,
}

impl GrammarError {
    /// An error at a line of a source.
    pub fn at(source: &str, line: u32, kind: GrammarErrorKind) -> Self {
        GrammarError {
            location: Location {
                source: source.to_owned(),
                line,
            },
            kind,
        }
    }

    /// An error about a grammar as a whole.
    pub fn whole(source: &str, kind: GrammarErrorKind) -> Self {
        Self::at(source, 0, kind)
    }
}

/// Truncate a text for an error message (at most `max` characters).
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// 1-based line number of a byte offset in a text.
pub(crate) fn line_of(text: &str, offset: usize) -> u32 {
    let end = offset.min(text.len());
    let count = text
        .as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
    u32::try_from(count).unwrap_or(u32::MAX).saturating_add(1)
}
