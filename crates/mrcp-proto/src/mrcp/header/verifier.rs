//! Speaker verification headers (RFC 6787 §11.4): names and simple value types, enough to parse and forward
//! them; the verifier resource itself comes later.

use super::header;

header!(
    /// `Repository-URI` of voiceprints (RFC 6787 §11.4).
    RepositoryUri, "Repository-URI", String
);
header!(
    /// `Voiceprint-Identifier` (RFC 6787 §11.4).
    VoiceprintIdentifier, "Voiceprint-Identifier", String
);
header!(
    /// `Verification-Mode: train|verify` (RFC 6787 §11.4).
    VerificationMode, "Verification-Mode", String
);
header!(
    /// `Adapt-Model` (RFC 6787 §11.4).
    AdaptModel, "Adapt-Model", bool
);
header!(
    /// `Abort-Model` (RFC 6787 §11.4).
    AbortModel, "Abort-Model", bool
);
header!(
    /// `Min-Verification-Score`, -1.0..=1.0 (RFC 6787 §11.4); kept as text because of the sign.
    MinVerificationScore, "Min-Verification-Score", String
);
header!(
    /// `Num-Min-Verification-Phrases` (RFC 6787 §11.4).
    NumMinVerificationPhrases, "Num-Min-Verification-Phrases", u32
);
header!(
    /// `Num-Max-Verification-Phrases` (RFC 6787 §11.4).
    NumMaxVerificationPhrases, "Num-Max-Verification-Phrases", u32
);
header!(
    /// `Voiceprint-Exists` (RFC 6787 §11.4).
    VoiceprintExists, "Voiceprint-Exists", bool
);
header!(
    /// `Abort-Verification` (RFC 6787 §11.4).
    AbortVerification, "Abort-Verification", bool
);
