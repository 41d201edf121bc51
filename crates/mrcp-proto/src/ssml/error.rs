//! Why an SSML document was refused, and where (W3C SSML 1.0 §2.1 conformance; RFC 6787 §8.4.10 maps it to
//! Completion-Cause `002 parse-failure`).

use std::fmt;

/// A place in the input, for the Completion-Reason and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Position {
    /// The position of byte `offset` of `input` (clamped to its length).
    pub fn of(input: &str, offset: usize) -> Self {
        let mut end = offset.min(input.len());
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        let before = input.get(..end).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
        Self {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// An SSML document that cannot be spoken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}{}", .position.map(|p| format!(" at {p}")).unwrap_or_default())]
pub struct SsmlError {
    /// What is wrong.
    pub kind: SsmlErrorKind,
    /// Where, when it is about one place of the input.
    pub position: Option<Position>,
}

impl SsmlError {
    pub(crate) fn at(kind: SsmlErrorKind, input: &str, offset: usize) -> Self {
        Self {
            kind,
            position: Some(Position::of(input, offset)),
        }
    }

    pub(crate) fn whole(kind: SsmlErrorKind) -> Self {
        Self {
            kind,
            position: None,
        }
    }
}

/// What is wrong with a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsmlErrorKind {
    /// The document is larger than [`super::Limits::max_bytes`].
    #[error("document of {len} bytes exceeds limit {limit}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The XML itself is malformed (as quick-xml reports it).
    #[error("malformed xml: {reason}")]
    Xml {
        /// quick-xml's description.
        reason: String,
    },
    /// The document has no root element.
    #[error("no <speak> element")]
    NoRoot,
    /// The root element is not `<speak>`.
    #[error("root element is <{found}>, expected <speak>")]
    NotSpeak {
        /// The root found.
        found: String,
    },
    /// Something other than whitespace, comments or processing instructions after the root.
    #[error("content after the </speak> root")]
    AfterRoot,
    /// An element SSML does not define.
    #[error("unknown element <{name}>")]
    UnknownElement {
        /// Its name.
        name: String,
    },
    /// An element where SSML does not allow it.
    #[error("<{element}> is not allowed inside <{parent}>")]
    Misplaced {
        /// The element.
        element: String,
        /// Its parent.
        parent: &'static str,
    },
    /// A required attribute is missing.
    #[error("<{element}> requires the {attribute} attribute")]
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// An attribute value is not valid.
    #[error("<{element}> {attribute}=\"{value}\" is not {expected}")]
    InvalidAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An entity other than the five XML predefines (DTD entities are never expanded).
    #[error("unknown entity &{name};")]
    UnknownEntity {
        /// Its name.
        name: String,
    },
    /// A character reference to a character XML does not allow.
    #[error("invalid character reference &{reference};")]
    InvalidCharRef {
        /// The reference, without `&` and `;`.
        reference: String,
    },
    /// Elements nested deeper than [`super::Limits::max_depth`].
    #[error("elements nested deeper than limit {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More nodes than [`super::Limits::max_nodes`].
    #[error("more than {limit} elements and text runs")]
    TooManyNodes {
        /// The limit.
        limit: usize,
    },
    /// More segments than [`super::Limits::max_segments`].
    #[error("more than {limit} segments to speak")]
    TooManySegments {
        /// The limit.
        limit: usize,
    },
    /// A `<break time>` longer than [`super::Limits::max_break`].
    #[error("break of {millis} ms exceeds limit {limit_millis} ms")]
    BreakTooLong {
        /// The break asked for.
        millis: u128,
        /// The limit.
        limit_millis: u128,
    },
}
