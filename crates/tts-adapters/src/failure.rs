//! Which SPEAK-COMPLETE Completion-Cause (RFC 6787 §8.4.10) an engine failure stands for.
//!
//! [`EngineError`] carries a kind and a message; synthesizers put one of the prefixes below at the start of
//! the message when the failure is one the client should hear about precisely, and [`failure_of`] reads it
//! back. Everything else is `004 error`.

use mrcp_proto::engine::{EngineError, EngineErrorKind};

/// What a failed synthesis should be reported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SynthesisFailure {
    /// `002 parse-failure`: the content could not be read.
    ParseFailure,
    /// `003 uri-failure`: a URI in the content could not be fetched.
    UriFailure,
    /// `005 language-unsupported`: no voice speaks the language (or the voice asked for does not exist).
    LanguageUnsupported,
    /// `006 lexicon-load-failure`: a lexicon could not be used.
    LexiconLoadFailure,
    /// `004 error`: anything else.
    Error,
}

impl SynthesisFailure {
    /// The message prefix that marks an [`EngineError`] as this failure (`None` for [`Self::Error`]).
    pub const fn prefix(self) -> Option<&'static str> {
        match self {
            Self::ParseFailure => Some("parse-failure: "),
            Self::UriFailure => Some("uri-failure: "),
            Self::LanguageUnsupported => Some("language-unsupported: "),
            Self::LexiconLoadFailure => Some("lexicon-load-failure: "),
            Self::Error => None,
        }
    }

    /// An error of the named engine standing for this failure.
    pub fn error(
        self,
        engine: &str,
        kind: EngineErrorKind,
        detail: impl AsRef<str>,
    ) -> EngineError {
        let message = format!("{}{}", self.prefix().unwrap_or_default(), detail.as_ref());
        EngineError::new(engine, kind, message)
    }
}

/// The failure an engine error stands for.
pub fn failure_of(error: &EngineError) -> SynthesisFailure {
    [
        SynthesisFailure::ParseFailure,
        SynthesisFailure::UriFailure,
        SynthesisFailure::LanguageUnsupported,
        SynthesisFailure::LexiconLoadFailure,
    ]
    .into_iter()
    .find(|f| f.prefix().is_some_and(|p| error.message.starts_with(p)))
    .unwrap_or(SynthesisFailure::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_round_trip() {
        for f in [
            SynthesisFailure::ParseFailure,
            SynthesisFailure::UriFailure,
            SynthesisFailure::LanguageUnsupported,
            SynthesisFailure::LexiconLoadFailure,
            SynthesisFailure::Error,
        ] {
            assert_eq!(
                failure_of(&f.error("e", EngineErrorKind::BadRequest, "x")),
                f
            );
        }
        let plain = EngineError::new("e", EngineErrorKind::Internal, "crashed");
        assert_eq!(failure_of(&plain), SynthesisFailure::Error);
    }
}
