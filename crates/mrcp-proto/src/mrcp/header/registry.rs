//! The table of every header this crate types, looked up by name (case-insensitive, RFC 6787 §5.1).

use super::*;

/// What the crate knows about one header name: enough to validate a raw value and to show it typed.
#[derive(Debug, Clone, Copy)]
pub struct HeaderInfo {
    /// The canonical name.
    pub name: &'static str,
    /// Parses the raw value with the header's type and shows the result with `{:?}`.
    pub describe: fn(&str) -> Result<String, ValueError>,
}

impl HeaderInfo {
    /// Checks a raw value against the header's type.
    pub fn validate(&self, value: &str) -> Result<(), ValueError> {
        (self.describe)(value).map(drop)
    }
}

fn describe<H: Header + std::fmt::Debug>(value: &str) -> Result<String, ValueError> {
    H::parse(value).map(|h| format!("{h:?}"))
}

macro_rules! registry {
    ($($ty:ty),* $(,)?) => {
        /// Every typed header, generic first, then recognizer, synthesizer, recorder and verifier.
        pub static KNOWN_HEADERS: &[HeaderInfo] = &[
            $(HeaderInfo { name: <$ty as Header>::NAME, describe: describe::<$ty> },)*
        ];
    };
}

registry![
    ChannelIdentifier,
    Accept,
    ActiveRequestIdList,
    ProxySyncId,
    AcceptCharset,
    ContentType,
    ContentId,
    ContentBase,
    ContentEncoding,
    ContentLocation,
    ContentLength,
    FetchTimeout,
    CacheControl,
    LoggingTag,
    SetCookie,
    VendorSpecificParameters,
    ConfidenceThreshold,
    SensitivityLevel,
    SpeedVsAccuracy,
    NBestListLength,
    InputTypeHeader,
    NoInputTimeout,
    RecognitionTimeout,
    WaveformUri,
    InputWaveformUri,
    MediaType,
    CompletionCause,
    CompletionReason,
    RecognizerContextBlock,
    StartInputTimers,
    SpeechCompleteTimeout,
    SpeechIncompleteTimeout,
    DtmfInterdigitTimeout,
    DtmfTermTimeout,
    DtmfTermChar,
    FailedUri,
    FailedUriCause,
    SaveWaveform,
    NewAudioChannel,
    SpeechLanguage,
    VerBufferUtterance,
    RecognitionModeHeader,
    CancelIfQueue,
    HotwordMaxDuration,
    HotwordMinDuration,
    InterpretText,
    DtmfBufferTime,
    ClearDtmfBuffer,
    EarlyNoMatch,
    NumMinConsistentPronunciations,
    ConsistencyThreshold,
    ClashThreshold,
    PersonalGrammarUri,
    EnrollUtterance,
    PhraseId,
    PhraseNl,
    Weight,
    SaveBestWaveform,
    NewPhraseId,
    ConfusablePhrasesUri,
    AbortPhraseEnrollment,
    JumpSize,
    KillOnBargeIn,
    SpeakerProfile,
    VoiceGenderHeader,
    VoiceAge,
    VoiceVariant,
    VoiceName,
    ProsodyVolumeHeader,
    ProsodyRateHeader,
    SpeechMarkerHeader,
    FetchHint,
    AudioFetchHint,
    SpeakRestart,
    SpeakLength,
    LoadLexicon,
    LexiconSearchOrder,
    RecordUri,
    MaxTime,
    TrimLength,
    FinalSilence,
    CaptureOnSpeech,
    RepositoryUri,
    VoiceprintIdentifier,
    VerificationMode,
    AdaptModel,
    AbortModel,
    MinVerificationScore,
    NumMinVerificationPhrases,
    NumMaxVerificationPhrases,
    VoiceprintExists,
    AbortVerification,
];

/// The typed header with this name, case-insensitively; `None` for a header the crate does not know (a server
/// may answer `403 Unsupported header field` or ignore it).
pub fn lookup(name: &str) -> Option<&'static HeaderInfo> {
    KNOWN_HEADERS
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_case_insensitively() {
        for (i, a) in KNOWN_HEADERS.iter().enumerate() {
            for b in &KNOWN_HEADERS[i + 1..] {
                assert!(!a.name.eq_ignore_ascii_case(b.name), "duplicate {}", a.name);
            }
        }
        assert_eq!(lookup("content-id").map(|h| h.name), Some("Content-Id"));
        assert_eq!(lookup("WAVEFORM-URI").map(|h| h.name), Some("Waveform-Uri"));
        assert!(lookup("X-Nothing").is_none());
        assert!(lookup("No-Input-Timeout").unwrap().validate("abc").is_err());
        assert_eq!(lookup("no-input-timeout").unwrap().validate("5000"), Ok(()));
    }
}
