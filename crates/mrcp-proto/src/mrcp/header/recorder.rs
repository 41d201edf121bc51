//! Recorder headers (RFC 6787 §10.4) not already defined for the recognizer (Sensitivity-Level,
//! No-Input-Timeout, Completion-Cause/Reason, Failed-Uri(-Cause), Media-Type, Ver-Buffer-Utterance,
//! Start-Input-Timers, New-Audio-Channel are shared).

use std::time::Duration;

use super::header;
use super::value::MediaUri;

header!(
    /// `Record-Uri: <uri>;size=;duration=`: where the recording went (RFC 6787 §10.4).
    RecordUri, "Record-Uri", MediaUri
);
header!(
    /// `Max-Time` in ms of recording (RFC 6787 §10.4).
    MaxTime, "Max-Time", Duration
);
header!(
    /// `Trim-Length` in ms to cut from the end (RFC 6787 §10.4).
    TrimLength, "Trim-Length", Duration
);
header!(
    /// `Final-Silence` in ms that ends the recording (RFC 6787 §10.4).
    FinalSilence, "Final-Silence", Duration
);
header!(
    /// `Capture-On-Speech`: start recording at speech, not at once (RFC 6787 §10.4).
    CaptureOnSpeech, "Capture-On-Speech", bool
);
