//! NLSML recognition results (RFC 6787 §9.6, the W3C NLSML subset that MRCPv2 defines), read and written with
//! quick-xml.
//!
//! ```text
//! <?xml version="1.0"?>
//! <result>
//!   <interpretation grammar="session:request1@form-level.store" confidence="0.97">
//!     <instance>one</instance>
//!     <input mode="speech">one</input>
//!   </interpretation>
//! </result>
//! ```
//!
//! The semantic `<instance>` is a [`serde_json::Value`], the contract with the grammar module:
//! * text content ↔ a string (a text instance round-trips as the same string, surrounding whitespace trimmed);
//! * child elements ↔ an object keyed by element name; repeated elements ↔ an array; attributes ↔ `"@name"` keys;
//!   text beside child elements ↔ a `"#text"` key;
//! * numbers and booleans are written as text and read back as strings (XML has no types); `null` and empty
//!   objects are written as an empty element and read back as `""`; a top-level array is written as `<item>`
//!   elements.
//!
//! Confidence is written 0.0–1.0; both 0–1 and 0–100 are read (values above 1 are divided by 100, as UniMRCP's
//! `apt_nlsml_doc` does). Asterisk and FreeSWITCH consumers are described in the reference, §7.6 and §10.4.
//!
//! ```
//! use mrcp_proto::nlsml::{Input, Interpretation, Nlsml, WriteOptions};
//! use serde_json::json;
//!
//! let result = Nlsml::new(vec![Interpretation {
//!     grammar: Some("session:pizza".into()),
//!     confidence: Some(0.87),
//!     instance: Some(json!({"size": "large", "topping": ["ham", "olives"]})),
//!     input: Some(Input::speech("a large pizza with ham & olives")),
//! }]);
//! let xml = result.to_xml(&WriteOptions::default())?;
//! assert!(xml.contains("<input mode=\"speech\">a large pizza with ham &amp; olives</input>"));
//! assert_eq!(Nlsml::parse(&xml)?, result);
//! # Ok::<(), mrcp_proto::nlsml::NlsmlError>(())
//! ```

mod parse;
mod write;

#[cfg(test)]
mod tests;

pub use write::WriteOptions;

/// The MRCPv2 NLSML namespace (RFC 6787 §9.6, §16.3).
pub const NAMESPACE: &str = "urn:ietf:params:xml:ns:mrcpv2";

/// Largest NLSML document accepted, in bytes.
pub const MAX_NLSML_LEN: usize = 256 * 1024;

/// Deepest element nesting accepted (result → interpretation → instance → application elements).
pub const MAX_DEPTH: usize = 32;

/// A `<result>` document: the body of RECOGNITION-COMPLETE, INTERMEDIATE-RESULT and GET-RESULT responses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Nlsml {
    /// The `grammar` attribute of `<result>` (default for interpretations without one).
    pub grammar: Option<String>,
    /// The n-best list, best first.
    pub interpretations: Vec<Interpretation>,
}

/// One `<interpretation>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interpretation {
    /// The `grammar` attribute: the URI of the matching grammar (`session:<content-id>`, `builtin:…`).
    pub grammar: Option<String>,
    /// The `confidence` attribute, 0.0–1.0.
    pub confidence: Option<f32>,
    /// The semantic `<instance>`; see the module docs for the XML ↔ JSON mapping.
    pub instance: Option<serde_json::Value>,
    /// The `<input>`.
    pub input: Option<Input>,
}

/// `<input mode=… confidence=…>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The `mode` attribute.
    pub mode: Option<InputMode>,
    /// The `confidence` attribute, 0.0–1.0.
    pub confidence: Option<f32>,
    /// What was heard, or why nothing was.
    pub content: InputContent,
}

impl Input {
    /// `<input mode="speech">text</input>`.
    pub fn speech(text: impl Into<String>) -> Self {
        Self {
            mode: Some(InputMode::Speech),
            confidence: None,
            content: InputContent::Text(text.into()),
        }
    }

    /// `<input mode="dtmf">digits</input>`.
    pub fn dtmf(digits: impl Into<String>) -> Self {
        Self {
            mode: Some(InputMode::Dtmf),
            confidence: None,
            content: InputContent::Text(digits.into()),
        }
    }
}

/// The content of `<input>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputContent {
    /// The recognized text or digits.
    Text(String),
    /// `<nomatch/>`: input was received but matched no grammar.
    NoMatch,
    /// `<noinput/>`: no input was received.
    NoInput,
}

/// The `mode` of `<input>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputMode {
    /// `speech`.
    Speech,
    /// `dtmf`.
    Dtmf,
}

impl InputMode {
    /// The token as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            InputMode::Speech => "speech",
            InputMode::Dtmf => "dtmf",
        }
    }
}

impl Nlsml {
    /// A result with these interpretations and no result-level grammar.
    pub fn new(interpretations: Vec<Interpretation>) -> Self {
        Self {
            grammar: None,
            interpretations,
        }
    }

    /// The RFC 6787 §9.6 no-match result: one interpretation whose input is `<nomatch/>`.
    pub fn no_match(mode: Option<InputMode>) -> Self {
        Self::new(vec![Interpretation {
            input: Some(Input {
                mode,
                confidence: None,
                content: InputContent::NoMatch,
            }),
            ..Interpretation::default()
        }])
    }

    /// The no-input result: one interpretation whose input is `<noinput/>`.
    pub fn no_input() -> Self {
        Self::new(vec![Interpretation {
            input: Some(Input {
                mode: None,
                confidence: None,
                content: InputContent::NoInput,
            }),
            ..Interpretation::default()
        }])
    }
}

/// Why an NLSML document was refused or could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NlsmlError {
    /// The document is longer than [`MAX_NLSML_LEN`].
    #[error("nlsml document of {len} bytes exceeds limit {limit}")]
    TooLarge {
        /// Length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not well-formed XML; `detail` is quick-xml's description or ours, `position` the byte offset.
    #[error("malformed xml at byte {position}: {detail}")]
    Xml {
        /// Byte offset where the problem was found.
        position: u64,
        /// What is wrong.
        detail: String,
    },
    /// Elements nest deeper than [`MAX_DEPTH`].
    #[error("xml nesting deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The root element is not `<result>`.
    #[error("root element is <{0}>, expected <result>")]
    NotResult(String),
    /// A `confidence` value that is not a number in 0–1 or 0–100.
    #[error("confidence {0:?} is not a number in 0-1 or 0-100")]
    BadConfidence(String),
    /// A `mode` value other than `speech` or `dtmf`.
    #[error("input mode {0:?} is not speech or dtmf")]
    BadMode(String),
    /// Writing: an instance key that is not an XML element name.
    #[error("instance key {0:?} is not an xml name")]
    BadElementName(String),
    /// Writing: a character XML 1.0 cannot carry (§2.2), such as U+0000 or most control characters.
    #[error("character U+{0:04X} cannot be written in xml 1.0")]
    BadCharacter(u32),
}
