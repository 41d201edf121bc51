//! SSML documents: the `application/ssml+xml` body of SPEAK (RFC 6787 §8.6, W3C SSML 1.0 and 1.1).
//!
//! * [`parse`] turns a document into a typed [`Document`] (with quick-xml), with an [`SsmlError`] that says
//!   what is wrong and where (line, column) for malformed input; the server answers such a SPEAK with
//!   SPEAK-COMPLETE `002 parse-failure` and the error as Completion-Reason.
//! * [`Document::to_xml`] writes it back; `parse(doc.to_xml()) == doc` for every document (property-tested).
//! * [`segments`] flattens a document into the ordered [`Segment`]s an engine speaks one after another: text
//!   with its effective voice, language and prosody, breaks, marks and audio references. [`plain_text`] does
//!   the same for a `text/plain` body (one segment). Engines that do not take SSML speak segments; engines
//!   that do get the document.
//!
//! The parser is meant for hostile input: the size, the nesting depth, the number of nodes and the number of
//! segments are bounded by [`Limits`]; DTD entities are never expanded (only the five predefined entities and
//! character references are).
//!
//! Leniency, from what real clients send: the SSML namespace and `version` may be missing, attributes the
//! parser does not know and elements or attributes in another namespace (vendor extensions such as
//! `<amazon:effect>`) are ignored, the latter keeping their content, as are SSML 1.1's `<token>`, `<w>` and
//! `<lookup>`. `<meta>`, `<metadata>` and `<desc>` are skipped. An unknown element in no namespace is an
//! error.

mod error;
mod parse;
mod segment;
#[cfg(test)]
mod tests;
mod value;
mod write;

use std::time::Duration;

pub use error::{Position, SsmlError, SsmlErrorKind};
pub use parse::{parse, parse_with};
pub use segment::{
    Context, EffectiveProsody, Segment, Speech, VoiceSelection, plain_text, segments,
};

/// The SSML namespace (SSML 1.0 §2.1), written on the root by [`Document::to_xml`].
pub const SSML_NAMESPACE: &str = "http://www.w3.org/2001/10/synthesis";

/// Bounds on what a document may cost (hostile input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest document, in bytes. Default 256 KiB.
    pub max_bytes: usize,
    /// The deepest element nesting, `<speak>` counting as 1. Default 32.
    pub max_depth: usize,
    /// Elements plus text runs in a document. Default 20 000.
    pub max_nodes: usize,
    /// Segments [`segments`] may produce. Default 4 096.
    pub max_segments: usize,
    /// The longest single `<break>`. Default 60 s.
    pub max_break: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024,
            max_depth: 32,
            max_nodes: 20_000,
            max_segments: 4_096,
            max_break: Duration::from_secs(60),
        }
    }
}

/// A parsed SSML document: the `<speak>` root (SSML 1.0 §3.1.1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// `version` (`1.0` or `1.1`); missing in some real-world documents.
    pub version: Option<String>,
    /// `xml:lang`: the language of the whole document.
    pub lang: Option<String>,
    /// `xml:base`: the base URI for relative `<audio src>` and lexicon URIs.
    pub base: Option<String>,
    /// `<lexicon uri>` children (SSML 1.0 §3.1.4), in order.
    pub lexicons: Vec<String>,
    /// The content.
    pub children: Vec<Node>,
}

/// A piece of content.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Text, with entities and character references resolved.
    Text(String),
    /// `<voice>` (SSML 1.0 §3.2.1).
    Voice(Voice),
    /// `<prosody>` (SSML 1.0 §3.2.4).
    Prosody(Prosody),
    /// `<break/>` (SSML 1.0 §3.2.3).
    Break(Break),
    /// `<mark name/>` (SSML 1.0 §3.3.2).
    Mark(String),
    /// `<say-as>` (SSML 1.0 §3.1.8).
    SayAs(SayAs),
    /// `<sub alias>` (SSML 1.0 §3.1.10).
    Sub(Sub),
    /// `<phoneme>` (SSML 1.0 §3.1.9).
    Phoneme(Phoneme),
    /// `<emphasis>` (SSML 1.0 §3.2.2).
    Emphasis(Emphasis),
    /// `<p>` (SSML 1.0 §3.1.7).
    Paragraph(Block),
    /// `<s>` (SSML 1.0 §3.1.7).
    Sentence(Block),
    /// `<audio src>` (SSML 1.0 §3.3.1); the children are the fallback when the audio cannot be played.
    Audio(Audio),
    /// `<lang xml:lang>` (SSML 1.1 §3.1.3).
    Lang(Lang),
}

/// `gender` of `<voice>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// `male`.
    Male,
    /// `female`.
    Female,
    /// `neutral`.
    Neutral,
}

impl Gender {
    /// The attribute value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Neutral => "neutral",
        }
    }
}

/// `<voice>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Voice {
    /// `name`: a space-separated list of voice names, preferred first.
    pub name: Option<String>,
    /// `gender`.
    pub gender: Option<Gender>,
    /// `age`, in years.
    pub age: Option<u32>,
    /// `variant`: which of the otherwise matching voices, from 1.
    pub variant: Option<u32>,
    /// `languages` (SSML 1.1): the languages the voice must speak, space-separated.
    pub languages: Option<String>,
    /// `xml:lang` (SSML 1.0 allowed it on `<voice>`).
    pub lang: Option<String>,
    /// The content.
    pub children: Vec<Node>,
}

/// `<prosody>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prosody {
    /// `rate`: a keyword, a multiplier (`1.5`) or a relative change (`+10%`).
    pub rate: Option<ProsodyValue>,
    /// `volume`: a keyword, `0`–`100`, a relative change (`+10`) or decibels (`-6dB`).
    pub volume: Option<ProsodyValue>,
    /// `pitch`: a keyword, hertz (`200Hz`, `+10Hz`), semitones (`-2st`) or a relative change (`+5%`).
    pub pitch: Option<ProsodyValue>,
    /// The content.
    pub children: Vec<Node>,
}

/// A value of a `<prosody>` attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProsodyValue {
    /// A keyword.
    Label(ProsodyLabel),
    /// A number with an optional sign and unit.
    Number(ProsodyNumber),
}

/// The prosody keywords; which ones an attribute takes is checked by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the variants are the SSML keywords, named as written
pub enum ProsodyLabel {
    XSlow,
    Slow,
    Fast,
    XFast,
    Silent,
    XSoft,
    Soft,
    Loud,
    XLoud,
    XLow,
    Low,
    High,
    XHigh,
    Medium,
    Default,
}

impl ProsodyLabel {
    /// Every keyword.
    pub const ALL: [ProsodyLabel; 15] = [
        Self::XSlow,
        Self::Slow,
        Self::Fast,
        Self::XFast,
        Self::Silent,
        Self::XSoft,
        Self::Soft,
        Self::Loud,
        Self::XLoud,
        Self::XLow,
        Self::Low,
        Self::High,
        Self::XHigh,
        Self::Medium,
        Self::Default,
    ];

    /// The keyword as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::XSlow => "x-slow",
            Self::Slow => "slow",
            Self::Fast => "fast",
            Self::XFast => "x-fast",
            Self::Silent => "silent",
            Self::XSoft => "x-soft",
            Self::Soft => "soft",
            Self::Loud => "loud",
            Self::XLoud => "x-loud",
            Self::XLow => "x-low",
            Self::Low => "low",
            Self::High => "high",
            Self::XHigh => "x-high",
            Self::Medium => "medium",
            Self::Default => "default",
        }
    }
}

/// A signed or unsigned number with a unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProsodyNumber {
    /// `+` or `-` for a change relative to the inherited value; `None` for an absolute value.
    pub sign: Option<Sign>,
    /// The magnitude, finite and not negative.
    pub value: f32,
    /// The unit.
    pub unit: ProsodyUnit,
}

/// The sign of a relative prosody value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sign {
    /// `+`.
    Plus,
    /// `-`.
    Minus,
}

/// The unit of a prosody number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProsodyUnit {
    /// No unit: a multiplier for `rate`, 0–100 for `volume`.
    None,
    /// `%`.
    Percent,
    /// `dB` (volume, SSML 1.1).
    Decibels,
    /// `Hz` (pitch).
    Hertz,
    /// `st`, semitones (pitch).
    Semitones,
}

impl ProsodyUnit {
    /// The suffix as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Percent => "%",
            Self::Decibels => "dB",
            Self::Hertz => "Hz",
            Self::Semitones => "st",
        }
    }
}

/// `<break/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Break {
    /// `time`, kept to the millisecond; it wins over `strength`.
    pub time: Option<Duration>,
    /// `strength`.
    pub strength: Option<BreakStrength>,
}

/// `strength` of `<break/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakStrength {
    /// `none`: no pause at all.
    None,
    /// `x-weak`.
    XWeak,
    /// `weak`.
    Weak,
    /// `medium`, the default of a bare `<break/>`.
    Medium,
    /// `strong`.
    Strong,
    /// `x-strong`.
    XStrong,
}

impl BreakStrength {
    /// Every strength, weakest first.
    pub const ALL: [BreakStrength; 6] = [
        Self::None,
        Self::XWeak,
        Self::Weak,
        Self::Medium,
        Self::Strong,
        Self::XStrong,
    ];

    /// The keyword as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::XWeak => "x-weak",
            Self::Weak => "weak",
            Self::Medium => "medium",
            Self::Strong => "strong",
            Self::XStrong => "x-strong",
        }
    }

    /// The pause this toolkit renders for the strength.
    pub const fn duration(self) -> Duration {
        Duration::from_millis(match self {
            Self::None => 0,
            Self::XWeak => 100,
            Self::Weak => 250,
            Self::Medium => 400,
            Self::Strong => 700,
            Self::XStrong => 1_000,
        })
    }
}

/// `<say-as>`: how to read the text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SayAs {
    /// `interpret-as` (`digits`, `characters`, `telephone`, `date`, `cardinal`, …).
    pub interpret_as: String,
    /// `format` (for `date`: `mdy`, `dmy`, …).
    pub format: Option<String>,
    /// `detail`.
    pub detail: Option<String>,
    /// The text to read.
    pub text: String,
}

/// `<sub alias>`: speak the alias instead of the text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sub {
    /// What to speak.
    pub alias: String,
    /// What is written.
    pub text: String,
}

/// `<phoneme>`: a pronunciation for the text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Phoneme {
    /// `ph`: the pronunciation.
    pub ph: String,
    /// `alphabet` (`ipa`, `x-sampa`, …).
    pub alphabet: Option<String>,
    /// What is written, spoken by engines that cannot use `ph`.
    pub text: String,
}

/// `<emphasis>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Emphasis {
    /// `level`; `moderate` when missing.
    pub level: Option<EmphasisLevel>,
    /// The content.
    pub children: Vec<Node>,
}

/// `level` of `<emphasis>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmphasisLevel {
    /// `strong`.
    Strong,
    /// `moderate`.
    Moderate,
    /// `none`.
    None,
    /// `reduced`.
    Reduced,
}

impl EmphasisLevel {
    /// Every level.
    pub const ALL: [EmphasisLevel; 4] = [Self::Strong, Self::Moderate, Self::None, Self::Reduced];

    /// The keyword as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Strong => "strong",
            Self::Moderate => "moderate",
            Self::None => "none",
            Self::Reduced => "reduced",
        }
    }
}

/// `<p>` or `<s>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    /// `xml:lang`.
    pub lang: Option<String>,
    /// The content.
    pub children: Vec<Node>,
}

/// `<audio src>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Audio {
    /// `src`: the URI of the recording.
    pub src: String,
    /// The fallback content, spoken when the recording cannot be played.
    pub children: Vec<Node>,
}

/// `<lang xml:lang>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lang {
    /// `xml:lang`.
    pub lang: String,
    /// The content.
    pub children: Vec<Node>,
}

/// Whether a body of this media type is SSML (`application/ssml+xml`, or UniMRCP's `application/synthesis+ssml`;
/// parameters ignored).
pub fn is_ssml_media_type(content_type: &str) -> bool {
    // `application/synthesis+ssml` is the pre-registration name that UniMRCP's clients still send.
    content_type.split(';').next().is_some_and(|t| {
        let t = t.trim();
        t.eq_ignore_ascii_case("application/ssml+xml")
            || t.eq_ignore_ascii_case("application/synthesis+ssml")
    })
}
