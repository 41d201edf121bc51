//! Errors of the SIP helpers.

use thiserror::Error;

/// Why one SIP message could not be parsed (RFC 3261 §7, §18.3).
///
/// [`ParseError::reason`] gives a short text fit for a `400` reason phrase (§21.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The message is larger than the configured limit.
    #[error("message of {size} bytes exceeds limit {limit}")]
    TooLarge {
        /// Size of the message.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No blank line ends the header section.
    #[error("header section has no terminating blank line")]
    UnterminatedHeaders,
    /// The start line is neither a request line nor a status line.
    #[error("malformed start line")]
    BadStartLine,
    /// A header line has no colon or an empty name.
    #[error("malformed header line {line}")]
    BadHeaderLine {
        /// 1-based line number in the header section.
        line: usize,
    },
    /// A header section is not UTF-8.
    #[error("header section is not utf-8")]
    NotUtf8,
    /// `Content-Length` is not a number, or appears twice with different values.
    #[error("invalid content-length")]
    BadContentLength,
    /// `Content-Length` is above the body limit.
    #[error("content-length {length} exceeds limit {limit}")]
    BodyTooLarge {
        /// The announced length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// Fewer body bytes arrived than `Content-Length` announced (§18.3).
    #[error("body of {received} bytes is shorter than content-length {length}")]
    TruncatedBody {
        /// The announced length.
        length: usize,
        /// The bytes present.
        received: usize,
    },
    /// A header that every request or response carries is missing (§8.1.1, §20).
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    /// rsip refused the normalised message.
    #[error("rsip rejected the message: {0}")]
    Rsip(String),
}

impl ParseError {
    /// Short reason phrase for a `400 Bad Request` answering this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } | Self::BodyTooLarge { .. } => "Message Too Large",
            Self::UnterminatedHeaders | Self::BadHeaderLine { .. } | Self::NotUtf8 => {
                "Malformed Header"
            }
            Self::BadStartLine => "Malformed Request Line",
            Self::BadContentLength | Self::TruncatedBody { .. } => "Bad Content-Length",
            Self::MissingHeader(name) => match *name {
                "Via" => "Missing Via",
                "From" => "Missing From",
                "To" => "Missing To",
                "Call-ID" => "Missing Call-ID",
                "CSeq" => "Missing CSeq",
                _ => "Missing Header",
            },
            Self::Rsip(_) => "Malformed Message",
        }
    }
}

/// Why a SIP byte stream cannot be framed any further (RFC 3261 §18.3).
///
/// Every framing error is fatal for the stream: the connection must be closed, since the next
/// message boundary is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FramingError {
    /// The header section grew past the limit without a terminating blank line.
    #[error("header section exceeds limit {limit} bytes")]
    HeadersTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A message on a stream has no `Content-Length` (mandatory there, §18.3, §20.14).
    #[error("missing content-length on a stream transport")]
    MissingContentLength,
    /// `Content-Length` is not a number or is given twice with different values.
    #[error("invalid content-length")]
    BadContentLength,
    /// `Content-Length` is above the body limit.
    #[error("content-length {length} exceeds limit {limit}")]
    BodyTooLarge {
        /// The announced length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// The header section is not UTF-8.
    #[error("header section is not utf-8")]
    NotUtf8,
}
