//! Recognizer headers (RFC 6787 §9.4). Several are shared with the recorder and verifier; each name is defined
//! once, here or in the module of the resource that introduced it.

use std::num::NonZeroU32;
use std::time::Duration;

use super::value::{InputType, MediaUri, RecognitionMode, Score};
use super::{HeaderValue, ValueError, header};

impl HeaderValue for NonZeroU32 {
    fn parse(value: &str) -> Result<Self, ValueError> {
        NonZeroU32::new(u32::parse(value)?).ok_or(ValueError::OutOfRange {
            allowed: "1..=4294967295",
        })
    }
    fn write(&self, out: &mut String) {
        self.get().write(out);
    }
}

header!(
    /// `Confidence-Threshold` 0.0–1.0: results below it are a no-match (RFC 6787 §9.4).
    ConfidenceThreshold, "Confidence-Threshold", Score
);
header!(
    /// `Sensitivity-Level` 0.0–1.0: speech detector sensitivity; also recorder (RFC 6787 §9.4, §10.4).
    SensitivityLevel, "Sensitivity-Level", Score
);
header!(
    /// `Speed-Vs-Accuracy` 0.0–1.0: 0 fastest, 1 most accurate (RFC 6787 §9.4).
    SpeedVsAccuracy, "Speed-Vs-Accuracy", Score
);
header!(
    /// `N-Best-List-Length` ≥ 1: how many results to return (RFC 6787 §9.4).
    NBestListLength, "N-Best-List-Length", NonZeroU32
);
header!(
    /// `Input-Type: speech|dtmf` in START-OF-INPUT (RFC 6787 §9.4).
    InputTypeHeader, "Input-Type", InputType
);
header!(
    /// `No-Input-Timeout` in ms before `002 no-input-timeout`; also recorder and verifier (RFC 6787 §9.4).
    NoInputTimeout, "No-Input-Timeout", Duration
);
header!(
    /// `Recognition-Timeout` in ms from start of speech to the result (RFC 6787 §9.4).
    RecognitionTimeout, "Recognition-Timeout", Duration
);
header!(
    /// `Waveform-Uri: <uri>;size=;duration=` of the saved utterance (RFC 6787 §9.4).
    WaveformUri, "Waveform-Uri", MediaUri
);
header!(
    /// `Input-Waveform-Uri`: recognize this audio instead of the RTP stream (RFC 6787 §9.4).
    InputWaveformUri, "Input-Waveform-Uri", String
);
header!(
    /// `Media-Type` for saved waveforms; also recorder (RFC 6787 §9.4).
    MediaType, "Media-Type", String
);
header!(
    /// `Completion-Reason`: free text accompanying Completion-Cause (RFC 6787 §9.4, §8.4, §10.4).
    CompletionReason, "Completion-Reason", String
);
header!(
    /// `Recognizer-Context-Block`: opaque vendor state (RFC 6787 §9.4).
    RecognizerContextBlock, "Recognizer-Context-Block", String
);
header!(
    /// `Start-Input-Timers`: `false` delays No-Input-Timeout until START-INPUT-TIMERS (RFC 6787 §9.4).
    StartInputTimers, "Start-Input-Timers", bool
);
header!(
    /// `Speech-Complete-Timeout` in ms of silence after a complete match (RFC 6787 §9.4).
    SpeechCompleteTimeout, "Speech-Complete-Timeout", Duration
);
header!(
    /// `Speech-Incomplete-Timeout` in ms of silence after an incomplete match (RFC 6787 §9.4).
    SpeechIncompleteTimeout, "Speech-Incomplete-Timeout", Duration
);
header!(
    /// `DTMF-Interdigit-Timeout` in ms between digits (RFC 6787 §9.4).
    DtmfInterdigitTimeout, "DTMF-Interdigit-Timeout", Duration
);
header!(
    /// `DTMF-Term-Timeout` in ms after a complete DTMF match (RFC 6787 §9.4).
    DtmfTermTimeout, "DTMF-Term-Timeout", Duration
);
header!(
    /// `DTMF-Term-Char`: the digit that ends DTMF input, e.g. `#` (RFC 6787 §9.4).
    DtmfTermChar, "DTMF-Term-Char", char
);
header!(
    /// `Failed-Uri`: the URI that failed to load (RFC 6787 §9.4, §8.4, §10.4).
    FailedUri, "Failed-Uri", String
);
header!(
    /// `Failed-Uri-Cause`: why it failed, e.g. an HTTP status (RFC 6787 §9.4, §8.4, §10.4).
    FailedUriCause, "Failed-Uri-Cause", String
);
header!(
    /// `Save-Waveform`: keep the utterance and report its Waveform-Uri (RFC 6787 §9.4).
    SaveWaveform, "Save-Waveform", bool
);
header!(
    /// `New-Audio-Channel`: the audio is a new stream (reset the endpointer); also recorder (RFC 6787 §9.4).
    NewAudioChannel, "New-Audio-Channel", bool
);
header!(
    /// `Speech-Language`: RFC 5646 tag, e.g. `en-US`; also synthesizer (RFC 6787 §9.4, §8.4).
    SpeechLanguage, "Speech-Language", String
);
header!(
    /// `Ver-Buffer-Utterance`: also feed the verification buffer (RFC 6787 §9.4, §10.4, §11.4).
    VerBufferUtterance, "Ver-Buffer-Utterance", bool
);
header!(
    /// `Recognition-Mode: normal|hotword` (RFC 6787 §9.4).
    RecognitionModeHeader, "Recognition-Mode", RecognitionMode
);
header!(
    /// `Cancel-If-Queue`: a new RECOGNIZE cancels a queued one (RFC 6787 §9.4).
    CancelIfQueue, "Cancel-If-Queue", bool
);
header!(
    /// `Hotword-Max-Duration` in ms (RFC 6787 §9.4).
    HotwordMaxDuration, "Hotword-Max-Duration", Duration
);
header!(
    /// `Hotword-Min-Duration` in ms (RFC 6787 §9.4).
    HotwordMinDuration, "Hotword-Min-Duration", Duration
);
header!(
    /// `Interpret-Text`: the grammar to use for INTERPRET (RFC 6787 §9.4).
    InterpretText, "Interpret-Text", String
);
header!(
    /// `DTMF-Buffer-Time` in ms of buffered digits (RFC 6787 §9.4).
    DtmfBufferTime, "DTMF-Buffer-Time", Duration
);
header!(
    /// `Clear-DTMF-Buffer`: drop buffered digits before recognizing (RFC 6787 §9.4).
    ClearDtmfBuffer, "Clear-DTMF-Buffer", bool
);
header!(
    /// `Early-No-Match`: report no-match as soon as it is certain (RFC 6787 §9.4).
    EarlyNoMatch, "Early-No-Match", bool
);
header!(
    /// `Num-Min-Consistent-Pronunciations` for enrollment (RFC 6787 §9.4).
    NumMinConsistentPronunciations, "Num-Min-Consistent-Pronunciations", u32
);
header!(
    /// `Consistency-Threshold` 0.0–1.0 for enrollment (RFC 6787 §9.4).
    ConsistencyThreshold, "Consistency-Threshold", Score
);
header!(
    /// `Clash-Threshold` 0.0–1.0 for enrollment (RFC 6787 §9.4).
    ClashThreshold, "Clash-Threshold", Score
);
header!(
    /// `Personal-Grammar-URI` for enrollment (RFC 6787 §9.4).
    PersonalGrammarUri, "Personal-Grammar-URI", String
);
header!(
    /// `Enroll-Utterance`: the utterance is for enrollment (RFC 6787 §9.4).
    EnrollUtterance, "Enroll-Utterance", bool
);
header!(
    /// `Phrase-ID` for enrollment (RFC 6787 §9.4).
    PhraseId, "Phrase-ID", String
);
header!(
    /// `Phrase-NL`: natural-language meaning of an enrolled phrase (RFC 6787 §9.4).
    PhraseNl, "Phrase-NL", String
);
header!(
    /// `Weight` of an enrolled phrase (RFC 6787 §9.4).
    Weight, "Weight", f32
);
header!(
    /// `Save-Best-Waveform` during enrollment (RFC 6787 §9.4).
    SaveBestWaveform, "Save-Best-Waveform", bool
);
header!(
    /// `New-Phrase-ID` for MODIFY-PHRASE (RFC 6787 §9.4).
    NewPhraseId, "New-Phrase-ID", String
);
header!(
    /// `Confusable-Phrases-URI` (RFC 6787 §9.4).
    ConfusablePhrasesUri, "Confusable-Phrases-URI", String
);
header!(
    /// `Abort-Phrase-Enrollment` (RFC 6787 §9.4).
    AbortPhraseEnrollment, "Abort-Phrase-Enrollment", bool
);
