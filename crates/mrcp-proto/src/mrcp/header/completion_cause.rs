//! `Completion-Cause`: a 3-digit code and a name, defined per resource (RFC 6787 §8.4 synthesizer, §9.4
//! recognizer, §10.4 recorder, §11.4 verifier).

use std::borrow::Cow;

use super::{Header, ValueError};

/// `Completion-Cause: 000 success`: why a request ended. The code's meaning depends on the resource; use
/// [`CompletionCause::recognizer`] and its siblings to read it as a typed cause.
///
/// Parsed by its leading integer as UniMRCP does (`"000 success"` → 0, `"2"` → 2), so a peer that misspells
/// the name is still understood; the name is kept as written and printed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionCause {
    /// The number, 0..=999.
    pub code: u16,
    /// The name after the number (may be empty).
    pub name: Cow<'static, str>,
}

impl Header for CompletionCause {
    const NAME: &'static str = "Completion-Cause";

    fn parse(value: &str) -> Result<Self, ValueError> {
        let digits = value.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 3 {
            return Err(ValueError::Syntax {
                expected: "a 3-digit cause code and a name, like 000 success",
            });
        }
        let (num, rest) = value.split_at(digits);
        if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
            return Err(ValueError::Syntax {
                expected: "a 3-digit cause code and a name, like 000 success",
            });
        }
        if rest.contains(['\r', '\n']) {
            return Err(ValueError::LineBreak);
        }
        let code = num.parse().map_err(|_| ValueError::Syntax {
            expected: "a 3-digit cause code",
        })?;
        Ok(CompletionCause {
            code,
            name: Cow::Owned(rest.trim().to_owned()),
        })
    }

    fn write(&self, out: &mut String) {
        let code = self.code.min(999);
        out.push(char::from(b'0' + (code / 100) as u8));
        out.push(char::from(b'0' + (code / 10 % 10) as u8));
        out.push(char::from(b'0' + (code % 10) as u8));
        if !self.name.is_empty() {
            out.push(' ');
            out.push_str(&self.name);
        }
    }
}

macro_rules! causes {
    ($(#[$doc:meta])* $ty:ident, $ctor:ident, $getter:ident { $($(#[$vdoc:meta])* $var:ident = $code:literal $name:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty {
            $($(#[$vdoc])* $var,)*
        }

        impl $ty {
            /// Every cause, in code order.
            pub const ALL: &'static [$ty] = &[$($ty::$var,)*];

            /// The 3-digit code.
            pub const fn code(self) -> u16 {
                match self {
                    $($ty::$var => $code,)*
                }
            }

            /// The name as the RFC spells it.
            pub const fn name(self) -> &'static str {
                match self {
                    $($ty::$var => $name,)*
                }
            }

            /// The cause with this code, if the RFC defines one.
            pub fn from_code(code: u16) -> Option<$ty> {
                Self::ALL.iter().copied().find(|c| c.code() == code)
            }
        }

        impl From<$ty> for CompletionCause {
            fn from(c: $ty) -> CompletionCause {
                CompletionCause {
                    code: c.code(),
                    name: Cow::Borrowed(c.name()),
                }
            }
        }

        impl CompletionCause {
            #[doc = concat!("The header value for a [`", stringify!($ty), "`].")]
            pub fn $ctor(c: $ty) -> CompletionCause {
                c.into()
            }

            #[doc = concat!("Reads the code as a [`", stringify!($ty), "`] (by number, like UniMRCP).")]
            pub fn $getter(&self) -> Option<$ty> {
                $ty::from_code(self.code)
            }
        }
    };
}

causes! {
    /// Recognizer completion causes (RFC 6787 §9.4).
    RecognizerCause, recognizer, as_recognizer {
        /// 000: a grammar matched.
        Success = 0 "success",
        /// 001: speech did not match any grammar.
        NoMatch = 1 "no-match",
        /// 002: No-Input-Timeout expired before speech.
        NoInputTimeout = 2 "no-input-timeout",
        /// 003: hotword mode reached Hotword-Max-Duration.
        HotwordMaxtime = 3 "hotword-maxtime",
        /// 004: a grammar could not be loaded.
        GrammarLoadFailure = 4 "grammar-load-failure",
        /// 005: a grammar could not be compiled.
        GrammarCompilationFailure = 5 "grammar-compilation-failure",
        /// 006: recognizer error.
        RecognizerError = 6 "recognizer-error",
        /// 007: speech started before the prompt allowed it.
        SpeechTooEarly = 7 "speech-too-early",
        /// 008: Recognition-Timeout reached with a match.
        SuccessMaxtime = 8 "success-maxtime",
        /// 009: a URI could not be fetched.
        UriFailure = 9 "uri-failure",
        /// 010: the language is not supported.
        LanguageUnsupported = 10 "language-unsupported",
        /// 011: a new request cancelled this one.
        Cancelled = 11 "cancelled",
        /// 012: semantic interpretation failed.
        SemanticsFailure = 12 "semantics-failure",
        /// 013: partial match (enrollment, hotword).
        PartialMatch = 13 "partial-match",
        /// 014: partial match when Recognition-Timeout expired.
        PartialMatchMaxtime = 14 "partial-match-maxtime",
        /// 015: no match when Recognition-Timeout expired.
        NoMatchMaxtime = 15 "no-match-maxtime",
        /// 016: a grammar definition failed.
        GrammarDefinitionFailure = 16 "grammar-definition-failure",
    }
}

causes! {
    /// Synthesizer completion causes (RFC 6787 §8.4).
    SynthesizerCause, synthesizer, as_synthesizer {
        /// 000: SPEAK completed normally.
        Normal = 0 "normal",
        /// 001: barge-in stopped it.
        BargeIn = 1 "barge-in",
        /// 002: the SSML/text could not be parsed.
        ParseFailure = 2 "parse-failure",
        /// 003: a URI could not be fetched.
        UriFailure = 3 "uri-failure",
        /// 004: synthesizer error.
        Error = 4 "error",
        /// 005: the language is not supported.
        LanguageUnsupported = 5 "language-unsupported",
        /// 006: a lexicon failed to load.
        LexiconLoadFailure = 6 "lexicon-load-failure",
        /// 007: a STOP or a new SPEAK cancelled it.
        Cancelled = 7 "cancelled",
    }
}

causes! {
    /// Recorder completion causes (RFC 6787 §10.4).
    RecorderCause, recorder, as_recorder {
        /// 000: stopped on final silence.
        SuccessSilence = 0 "success-silence",
        /// 001: stopped at Max-Time.
        SuccessMaxtime = 1 "success-maxtime",
        /// 002: no speech before No-Input-Timeout.
        NoInputTimeout = 2 "no-input-timeout",
        /// 003: the Record-URI could not be written.
        UriFailure = 3 "uri-failure",
        /// 004: recorder error.
        Error = 4 "error",
    }
}

causes! {
    /// Verifier completion causes (RFC 6787 §11.4).
    VerifierCause, verifier, as_verifier {
        /// 000: verification done.
        Success = 0 "success",
        /// 001: verifier error.
        Error = 1 "error",
        /// 002: no speech before No-Input-Timeout.
        NoInputTimeout = 2 "no-input-timeout",
        /// 003: too much speech.
        TooMuchSpeechTimeout = 3 "too-much-speech-timeout",
        /// 004: speech started too early.
        SpeechTooEarly = 4 "speech-too-early",
        /// 005: VERIFY-FROM-BUFFER with an empty buffer.
        BufferEmpty = 5 "buffer-empty",
        /// 006: method out of sequence.
        OutOfSequence = 6 "out-of-sequence",
        /// 007: the repository URI failed.
        RepositoryUriFailure = 7 "repository-uri-failure",
        /// 008: the repository URI is missing.
        RepositoryUriMissing = 8 "repository-uri-missing",
        /// 009: the voiceprint id is missing.
        VoiceprintIdMissing = 9 "voiceprint-id-missing",
        /// 010: the voiceprint does not exist.
        VoiceprintIdNotExist = 10 "voiceprint-id-not-exist",
        /// 011: the speech was not usable.
        SpeechNotUsable = 11 "speech-not-usable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(c: &CompletionCause) -> String {
        let mut s = String::new();
        c.write(&mut s);
        s
    }

    #[test]
    fn parses_by_leading_integer() {
        let c = CompletionCause::parse("000 success").unwrap();
        assert_eq!(c.as_recognizer(), Some(RecognizerCause::Success));
        assert_eq!(
            CompletionCause::parse("2").unwrap().as_recognizer(),
            Some(RecognizerCause::NoInputTimeout)
        );
        assert_eq!(
            CompletionCause::parse("000 success-silence")
                .unwrap()
                .as_recorder(),
            Some(RecorderCause::SuccessSilence)
        );
        assert_eq!(
            print(&CompletionCause::parse("000 normal").unwrap()),
            "000 normal"
        );
        assert_eq!(print(&CompletionCause::parse("7").unwrap()), "007");
        assert!(CompletionCause::parse("success").is_err());
        assert!(CompletionCause::parse("0001 x").is_err());
        assert!(CompletionCause::parse("12abc").is_err());
    }

    #[test]
    fn tables_are_complete() {
        assert_eq!(RecognizerCause::ALL.len(), 17);
        assert_eq!(SynthesizerCause::ALL.len(), 8);
        assert_eq!(RecorderCause::ALL.len(), 5);
        assert_eq!(VerifierCause::ALL.len(), 12);
        for (i, c) in RecognizerCause::ALL.iter().enumerate() {
            assert_eq!(usize::from(c.code()), i);
        }
        assert_eq!(
            print(&CompletionCause::recognizer(
                RecognizerCause::NoMatchMaxtime
            )),
            "015 no-match-maxtime"
        );
        assert_eq!(print(&SynthesizerCause::BargeIn.into()), "001 barge-in");
    }
}
