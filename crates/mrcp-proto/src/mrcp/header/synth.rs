//! Synthesizer headers (RFC 6787 §8.4).

use super::header;
use super::value::{ProsodyRate, ProsodyVolume, VoiceGender};

header!(
    /// `Jump-Size`: how far CONTROL moves, e.g. `+10 Word` (RFC 6787 §8.4); kept as text.
    JumpSize, "Jump-Size", String
);
header!(
    /// `Kill-On-Barge-In`: stop the prompt on barge-in (RFC 6787 §8.4).
    KillOnBargeIn, "Kill-On-Barge-In", bool
);
header!(
    /// `Speaker-Profile`: URI of a voice profile (RFC 6787 §8.4).
    SpeakerProfile, "Speaker-Profile", String
);
header!(
    /// `Voice-Gender: male|female|neutral` (RFC 6787 §8.4).
    VoiceGenderHeader, "Voice-Gender", VoiceGender
);
header!(
    /// `Voice-Age` in years (RFC 6787 §8.4).
    VoiceAge, "Voice-Age", u32
);
header!(
    /// `Voice-Variant`: which of several matching voices (RFC 6787 §8.4).
    VoiceVariant, "Voice-Variant", u32
);
header!(
    /// `Voice-Name`: engine voice name, e.g. `Joanna` (RFC 6787 §8.4).
    VoiceName, "Voice-Name", String
);
header!(
    /// `Prosody-Volume`: keyword or number (RFC 6787 §8.4).
    ProsodyVolumeHeader, "Prosody-Volume", ProsodyVolume
);
header!(
    /// `Prosody-Rate`: keyword or number (RFC 6787 §8.4).
    ProsodyRateHeader, "Prosody-Rate", ProsodyRate
);
header!(
    /// `Speech-Marker`: the last mark reached, `timestamp=…;mark` (RFC 6787 §8.4); kept as text.
    SpeechMarkerHeader, "Speech-Marker", String
);
header!(
    /// `Fetch-Hint: prefetch|safe` (RFC 6787 §8.4).
    FetchHint, "Fetch-Hint", String
);
header!(
    /// `Audio-Fetch-Hint: prefetch|safe|stream` (RFC 6787 §8.4).
    AudioFetchHint, "Audio-Fetch-Hint", String
);
header!(
    /// `Speak-Restart`: the prompt restarted after CONTROL (RFC 6787 §8.4).
    SpeakRestart, "Speak-Restart", bool
);
header!(
    /// `Speak-Length`: how much to speak, e.g. `+5 Second` (RFC 6787 §8.4); kept as text.
    SpeakLength, "Speak-Length", String
);
header!(
    /// `Load-Lexicon`: load (true) or unload a lexicon (RFC 6787 §8.4).
    LoadLexicon, "Load-Lexicon", bool
);
header!(
    /// `Lexicon-Search-Order`: lexicon URIs in search order (RFC 6787 §8.4).
    LexiconSearchOrder, "Lexicon-Search-Order", String
);
