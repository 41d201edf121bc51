//! Method and event names of MRCPv2 (RFC 6787 §5.2, §5.5; resources in §8–§11).

use std::fmt;
use std::str::FromStr;

/// A name outside the RFC tables, kept so a server can still answer it (e.g. `401 Method not allowed`).
///
/// Always a non-empty RFC 6787 `token` (visible ASCII without separators), so it can be written back safely.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(Box<str>);

/// A string that is not an RFC 6787 §5.1 token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a token")]
pub struct NotAToken(pub String);

impl Token {
    /// Checks and wraps a token.
    pub fn new(s: &str) -> Result<Token, NotAToken> {
        if is_token(s) {
            Ok(Token(s.into()))
        } else {
            Err(NotAToken(s.to_owned()))
        }
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `token` of RFC 6787 §5.1 (from RFC 3261 §25.1): alphanumerics and `-.!%*_+`~'`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| TOKEN_BYTES[usize::from(b)])
}

/// Lookup table of the token alphabet, indexed by byte (the decoder checks every header name with it).
pub(crate) static TOKEN_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

macro_rules! names {
    ($(#[$tdoc:meta])* $ty:ident, $unknown:literal { $($(#[$doc:meta])* $var:ident = $wire:literal,)* }) => {
        $(#[$tdoc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $ty {
            $($(#[$doc])* $var,)*
            /// A name the RFC does not define (vendor extension); a server answers it with an error status.
            Other(Token),
        }

        impl $ty {
            /// Every name the RFC defines.
            pub const KNOWN: &'static [$ty] = &[$($ty::$var,)*];

            /// The name as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($ty::$var => $wire,)*
                    $ty::Other(t) => t.as_str(),
                }
            }
        }

        impl FromStr for $ty {
            type Err = NotAToken;

            /// Parses a name; names are case-sensitive on the wire (RFC 6787 §5.2), unknown tokens become `Other`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($ty::$var),)*
                    _ => Token::new(s).map($ty::Other),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// A request method (RFC 6787 §5.2 `method-name`): generic (§6.1), synthesizer (§8.2), recognizer (§9.2),
    /// recorder (§10.2) and verifier (§11.2) methods. `STOP` and `START-INPUT-TIMERS` are shared by resources.
    Method, "method" {
        /// `SET-PARAMS` (RFC 6787 §6.1).
        SetParams = "SET-PARAMS",
        /// `GET-PARAMS` (RFC 6787 §6.1).
        GetParams = "GET-PARAMS",
        /// `SPEAK` (RFC 6787 §8.2).
        Speak = "SPEAK",
        /// `STOP` (RFC 6787 §8.2, §9.2, §10.2, §11.2).
        Stop = "STOP",
        /// `PAUSE` (RFC 6787 §8.2).
        Pause = "PAUSE",
        /// `RESUME` (RFC 6787 §8.2).
        Resume = "RESUME",
        /// `BARGE-IN-OCCURRED` (RFC 6787 §8.2).
        BargeInOccurred = "BARGE-IN-OCCURRED",
        /// `CONTROL` (RFC 6787 §8.2).
        Control = "CONTROL",
        /// `DEFINE-LEXICON` (RFC 6787 §8.2).
        DefineLexicon = "DEFINE-LEXICON",
        /// `DEFINE-GRAMMAR` (RFC 6787 §9.2).
        DefineGrammar = "DEFINE-GRAMMAR",
        /// `RECOGNIZE` (RFC 6787 §9.2).
        Recognize = "RECOGNIZE",
        /// `INTERPRET` (RFC 6787 §9.2).
        Interpret = "INTERPRET",
        /// `GET-RESULT` (RFC 6787 §9.2).
        GetResult = "GET-RESULT",
        /// `START-INPUT-TIMERS` (RFC 6787 §9.2, §10.2, §11.2).
        StartInputTimers = "START-INPUT-TIMERS",
        /// `START-PHRASE-ENROLLMENT` (RFC 6787 §9.2).
        StartPhraseEnrollment = "START-PHRASE-ENROLLMENT",
        /// `ENROLLMENT-ROLLBACK` (RFC 6787 §9.2).
        EnrollmentRollback = "ENROLLMENT-ROLLBACK",
        /// `END-PHRASE-ENROLLMENT` (RFC 6787 §9.2).
        EndPhraseEnrollment = "END-PHRASE-ENROLLMENT",
        /// `MODIFY-PHRASE` (RFC 6787 §9.2).
        ModifyPhrase = "MODIFY-PHRASE",
        /// `DELETE-PHRASE` (RFC 6787 §9.2).
        DeletePhrase = "DELETE-PHRASE",
        /// `RECORD` (RFC 6787 §10.2).
        Record = "RECORD",
        /// `START-SESSION` (RFC 6787 §11.2).
        StartSession = "START-SESSION",
        /// `END-SESSION` (RFC 6787 §11.2).
        EndSession = "END-SESSION",
        /// `QUERY-VOICEPRINT` (RFC 6787 §11.2).
        QueryVoiceprint = "QUERY-VOICEPRINT",
        /// `DELETE-VOICEPRINT` (RFC 6787 §11.2).
        DeleteVoiceprint = "DELETE-VOICEPRINT",
        /// `VERIFY` (RFC 6787 §11.2).
        Verify = "VERIFY",
        /// `VERIFY-FROM-BUFFER` (RFC 6787 §11.2).
        VerifyFromBuffer = "VERIFY-FROM-BUFFER",
        /// `VERIFY-ROLLBACK` (RFC 6787 §11.2).
        VerifyRollback = "VERIFY-ROLLBACK",
        /// `CLEAR-BUFFER` (RFC 6787 §11.2).
        ClearBuffer = "CLEAR-BUFFER",
        /// `GET-INTERMEDIATE-RESULT` (RFC 6787 §11.2).
        GetIntermediateResult = "GET-INTERMEDIATE-RESULT",
    }
}

names! {
    /// An event name (RFC 6787 §5.5 `event-name`): synthesizer (§8.2), recognizer (§9.2), recorder (§10.2) and
    /// verifier (§11.2) events.
    EventName, "event" {
        /// `SPEECH-MARKER` (RFC 6787 §8.3).
        SpeechMarker = "SPEECH-MARKER",
        /// `SPEAK-COMPLETE` (RFC 6787 §8.3).
        SpeakComplete = "SPEAK-COMPLETE",
        /// `START-OF-INPUT` (RFC 6787 §9.3, §10.3, §11.3).
        StartOfInput = "START-OF-INPUT",
        /// `RECOGNITION-COMPLETE` (RFC 6787 §9.3).
        RecognitionComplete = "RECOGNITION-COMPLETE",
        /// `INTERPRETATION-COMPLETE` (RFC 6787 §9.3).
        InterpretationComplete = "INTERPRETATION-COMPLETE",
        /// `RECORD-COMPLETE` (RFC 6787 §10.3).
        RecordComplete = "RECORD-COMPLETE",
        /// `VERIFICATION-COMPLETE` (RFC 6787 §11.3).
        VerificationComplete = "VERIFICATION-COMPLETE",
        /// `INTERMEDIATE-RESULT`: UniMRCP's extension for interim recognition results (not in RFC 6787).
        /// FreeSWITCH and Asterisk fail on it, so servers send it only to a client that asked.
        IntermediateResult = "INTERMEDIATE-RESULT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip() {
        for m in Method::KNOWN {
            assert_eq!(m.as_str().parse::<Method>().as_ref(), Ok(m));
        }
        for e in EventName::KNOWN {
            assert_eq!(e.as_str().parse::<EventName>().as_ref(), Ok(e));
        }
    }

    #[test]
    fn unknown_names_are_kept_as_tokens() {
        let m: Method = "X-VENDOR-THING".parse().unwrap();
        assert_eq!(m.as_str(), "X-VENDOR-THING");
        assert!(matches!(m, Method::Other(_)));
        assert!("BAD NAME".parse::<Method>().is_err());
        assert!("".parse::<EventName>().is_err());
        assert!(matches!(
            "recognize".parse::<Method>(),
            Ok(Method::Other(_))
        ));
    }
}
