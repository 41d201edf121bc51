//! Why an SDP body was refused, with the SIP response it maps to (RFC 3261 §21.4.26 `488 Not Acceptable Here`,
//! §20.43 Warning codes).

/// An SDP body that does not parse, or an offer the server cannot serve.
///
/// Every variant is answered with SIP `488 Not Acceptable Here` ([`SdpError::sip_status`]) and a `Warning` whose
/// code [`SdpError::sip_warning_code`] gives. `index` fields are 0-based m-line positions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is longer than the limit.
    #[error("sdp body of {len} bytes exceeds limit {limit}")]
    TooLarge {
        /// Body length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not valid SDP (RFC 4566 §5); `detail` is sdp-rs's description or ours.
    #[error("malformed sdp: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// A line that sdp-rs could not place in the RFC 4566 order, or that we refuse (`r=`, `z=`).
    #[error("unexpected sdp line {line_number}: {line:?}")]
    UnexpectedLine {
        /// 1-based line number.
        line_number: usize,
        /// The line, truncated to 80 characters.
        line: String,
    },
    /// An attribute value that does not parse.
    #[error("m-line {index}: bad a={name} value {value:?}")]
    BadAttribute {
        /// m-line position.
        index: usize,
        /// Attribute name.
        name: String,
        /// Its value.
        value: String,
    },
    /// A payload format that is not a number in 0–127.
    #[error("m-line {index}: payload type {value:?} is not a number in 0-127")]
    BadPayloadType {
        /// m-line position.
        index: usize,
        /// The format token.
        value: String,
    },
    /// `a=rtpmap` or `a=fmtp` for a payload type that the m-line does not list.
    #[error("m-line {index}: a={name} for payload type {payload_type} not in the m-line")]
    UnlistedPayloadType {
        /// m-line position.
        index: usize,
        /// `rtpmap` or `fmtp`.
        name: &'static str,
        /// The payload type.
        payload_type: u8,
    },
    /// The offer has no usable `m=application … TCP/MRCPv2` line (RFC 6787 §4.2).
    #[error("offer has no MRCPv2 control m-line")]
    NoControlMedia,
    /// A control line asks for a resource RFC 6787 §3.1 does not define, or this server does not run.
    #[error("m-line {index}: unknown or unsupported resource {resource:?}")]
    UnknownResource {
        /// m-line position.
        index: usize,
        /// The `a=resource` value.
        resource: String,
    },
    /// A control line without `a=resource`.
    #[error("m-line {index}: control m-line without a=resource")]
    MissingResource {
        /// m-line position.
        index: usize,
    },
    /// A control line whose `a=channel` is not `<session-id>@<resource>`.
    #[error("m-line {index}: bad a=channel {value:?}")]
    BadChannel {
        /// m-line position.
        index: usize,
        /// The value.
        value: String,
    },
    /// A control or audio line on a transport we do not serve (e.g. `TCP/TLS/MRCPv2` without TLS, `RTP/SAVP`).
    #[error("m-line {index}: unsupported transport {proto:?}")]
    UnsupportedTransport {
        /// m-line position.
        index: usize,
        /// The proto token.
        proto: String,
    },
    /// An audio line shares no codec with our preferences.
    #[error("m-line {index}: no common codec")]
    NoCommonCodec {
        /// m-line position.
        index: usize,
    },
    /// The client was given an answer whose m-lines do not match its offer.
    #[error("answer has {answer} m-lines of that kind, offer has {offer}")]
    MediaCountMismatch {
        /// Count in the offer.
        offer: usize,
        /// Count in the answer.
        answer: usize,
    },
    /// An accepted control line in an answer without `a=channel`.
    #[error("m-line {index}: accepted control m-line without a=channel")]
    MissingChannel {
        /// m-line position.
        index: usize,
    },
    /// A media line with no address: neither its own `c=` nor a session `c=`.
    #[error("m-line {index}: no connection address")]
    NoConnectionAddress {
        /// m-line position.
        index: usize,
    },
    /// The answer builder was told about an m-line that is not of that kind.
    #[error("m-line {index} is not an active {expected} line of the offer")]
    NotSuchMedia {
        /// m-line position.
        index: usize,
        /// `control` or `audio`.
        expected: &'static str,
    },
}

impl SdpError {
    /// The SIP status for an INVITE whose offer failed this way: always `488 Not Acceptable Here`
    /// (RFC 3261 §21.4.26, RFC 3264 §6).
    pub const fn sip_status(&self) -> u16 {
        488
    }

    /// The SIP `Warning` code that names the reason (RFC 3261 §20.43).
    pub const fn sip_warning_code(&self) -> u16 {
        match self {
            SdpError::UnsupportedTransport { .. } => 302, // Incompatible transport protocol
            SdpError::NoControlMedia => 304,              // Media type not available
            SdpError::NoCommonCodec { .. } => 305,        // Incompatible media format
            SdpError::UnknownResource { .. } | SdpError::MissingResource { .. } => 306, // Attribute not understood
            _ => 399, // Miscellaneous warning
        }
    }

    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        SdpError::Malformed {
            detail: detail.into(),
        }
    }
}
