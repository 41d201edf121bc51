//! Typed MRCPv2 headers (RFC 6787 §6.2 generic, §8.4 synthesizer, §9.4 recognizer, §10.4 recorder, §11.4
//! verifier).
//!
//! Each header is a type with a const wire name, a parser and a printer ([`Header`]). Most are newtypes over a
//! value type that implements [`HeaderValue`] (durations in milliseconds, booleans, 0.0–1.0 scores, texts, …).
//! A [`crate::mrcp::Headers`] collection stores raw values and parses them lazily with these types, so unknown
//! headers pass through untouched. [`lookup`] finds the description of a known header by name, for a server that
//! validates every header of a request and answers `403`/`404`/`409` naming the offending one.

mod completion_cause;
mod generic;
mod recog;
mod recorder;
mod registry;
mod synth;
mod value;
mod verifier;

pub use completion_cause::{
    CompletionCause, RecognizerCause, RecorderCause, SynthesizerCause, VerifierCause,
};
pub use generic::*;
pub use recog::*;
pub use recorder::*;
pub use registry::{HeaderInfo, KNOWN_HEADERS, lookup};
pub use synth::*;
pub use value::{
    InputType, MediaUri, ProsodyNumber, ProsodyRate, ProsodyVolume, RateLabel, RecognitionMode,
    Score, VendorParam, VendorParams, VoiceGender, VolumeLabel,
};
pub use verifier::*;

use std::time::Duration;

/// A header as a type: its name and how its value is parsed and printed (RFC 6787 §5.1 `generic-field`).
pub trait Header: Sized {
    /// The canonical spelling of the name, as UniMRCP writes it. Comparison is case-insensitive.
    const NAME: &'static str;
    /// Parses the value (already trimmed of surrounding whitespace).
    fn parse(value: &str) -> Result<Self, ValueError>;
    /// Appends the value, as it goes on the wire, to `out`.
    fn write(&self, out: &mut String);
}

/// A value type that headers share: how it is parsed and printed.
pub trait HeaderValue: Sized {
    /// Parses the trimmed value.
    fn parse(value: &str) -> Result<Self, ValueError>;
    /// Appends the wire form to `out`.
    fn write(&self, out: &mut String);
}

/// Why a header value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value does not follow the header's grammar (RFC 6787 §5.4: answer `404`).
    #[error("expected {expected}")]
    Syntax {
        /// What the grammar wants, e.g. "a decimal number of milliseconds".
        expected: &'static str,
    },
    /// The syntax is right but the value is out of the allowed range (answer `409`).
    #[error("value outside {allowed}")]
    OutOfRange {
        /// The allowed range, e.g. "0.0..=1.0".
        allowed: &'static str,
    },
    /// The value contains CR or LF, which would break the message framing.
    #[error("value contains a line break")]
    LineBreak,
}

/// Defines a newtype header over a [`HeaderValue`].
macro_rules! header {
    ($(#[$doc:meta])* $name:ident, $wire:literal, $inner:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(pub $inner);

        impl $crate::mrcp::header::Header for $name {
            const NAME: &'static str = $wire;
            fn parse(value: &str) -> Result<Self, $crate::mrcp::header::ValueError> {
                <$inner as $crate::mrcp::header::HeaderValue>::parse(value).map($name)
            }
            fn write(&self, out: &mut String) {
                $crate::mrcp::header::HeaderValue::write(&self.0, out)
            }
        }
    };
}
pub(crate) use header;

impl HeaderValue for String {
    /// Free text (`*VCHAR`/UTF-8); only line breaks are refused.
    fn parse(value: &str) -> Result<Self, ValueError> {
        if value.contains(['\r', '\n']) {
            return Err(ValueError::LineBreak);
        }
        Ok(value.to_owned())
    }
    fn write(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl HeaderValue for bool {
    /// `boolean-value = "true" / "false"` (RFC 6787 §6.2); case-insensitive as UniMRCP reads it.
    fn parse(value: &str) -> Result<Self, ValueError> {
        if value.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if value.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(ValueError::Syntax {
                expected: "true or false",
            })
        }
    }
    fn write(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

fn parse_u64(value: &str, expected: &'static str) -> Result<u64, ValueError> {
    let err = ValueError::Syntax { expected };
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err);
    }
    value.parse().map_err(|_| err)
}

impl HeaderValue for u32 {
    /// `1*19DIGIT` within `u32`.
    fn parse(value: &str) -> Result<Self, ValueError> {
        let n = parse_u64(value, "a decimal number")?;
        u32::try_from(n).map_err(|_| ValueError::OutOfRange {
            allowed: "0..=4294967295",
        })
    }
    fn write(&self, out: &mut String) {
        push_display(out, self);
    }
}

impl HeaderValue for u64 {
    fn parse(value: &str) -> Result<Self, ValueError> {
        parse_u64(value, "a decimal number")
    }
    fn write(&self, out: &mut String) {
        push_display(out, self);
    }
}

impl HeaderValue for Duration {
    /// Milliseconds, `1*19DIGIT` (RFC 6787 §9.4 and friends).
    fn parse(value: &str) -> Result<Self, ValueError> {
        parse_u64(value, "a decimal number of milliseconds").map(Duration::from_millis)
    }
    fn write(&self, out: &mut String) {
        // Saturates beyond u64 milliseconds (585 million years), which no timer reaches.
        let ms = u64::try_from(self.as_millis()).unwrap_or(u64::MAX);
        push_display(out, &ms);
    }
}

impl HeaderValue for char {
    /// A single visible character, e.g. `DTMF-Term-Char: #` (RFC 6787 §9.4).
    fn parse(value: &str) -> Result<Self, ValueError> {
        let mut chars = value.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_whitespace() && !c.is_control() => Ok(c),
            _ => Err(ValueError::Syntax {
                expected: "exactly one visible character",
            }),
        }
    }
    fn write(&self, out: &mut String) {
        out.push(*self);
    }
}

impl HeaderValue for f32 {
    /// `FLOAT` without range (e.g. `Weight`, RFC 6787 §9.4).
    fn parse(value: &str) -> Result<Self, ValueError> {
        value::parse_float(value)
    }
    fn write(&self, out: &mut String) {
        value::write_float(*self, out);
    }
}

fn push_display(out: &mut String, v: &dyn std::fmt::Display) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = write!(out, "{v}");
}
