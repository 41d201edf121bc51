//! SIP wire helpers over [`rsip`]: what rsip 0.4 does not do by itself.
//!
//! * [`parse_message`] turns one datagram (or one frame cut by [`StreamFramer`]) into an
//!   [`rsip::SipMessage`] after normalising the header section: compact header names are expanded
//!   (RFC 3261 §7.3.3, RFC 3262/3515/4028/6665 additions), folded lines are unfolded (§7.3.1),
//!   comma-separated `Via` values are split into one header each (§7.3.1), and the body is cut to
//!   `Content-Length` (§18.3: extra bytes of a datagram are discarded, a short body is an error).
//! * [`StreamFramer`] frames SIP over a byte stream (TCP, TLS) by `Content-Length` (RFC 3261 §18.3),
//!   tolerating RFC 5626 §3.5.1 keep-alive CRLFs between messages, with limits checked before any
//!   allocation sized by the peer.
//! * [`RawHeaders`] walks the normalised header lines of a message that rsip refused, so a transport
//!   can still answer `400 Bad Request` when the headers it needs for a response are present.
//!
//! * [`Message`] is the same normalised message without rsip's URI parsing, which rejects IPv6
//!   references in rsip 0.4; the SIP stack (`mrcp-sip`) runs on it.
//!
//! rsip parses header values lazily and keeps unknown headers as `Header::Other`, so unknown
//! headers pass through untouched.

mod compact;
mod error;
mod framer;
mod message;
mod normalize;

pub use compact::expand_compact_name;
pub use error::{FramingError, ParseError};
pub use framer::{Frame, StreamFramer};
pub use message::{Message, StartLine};
pub use normalize::{RawHeaders, normalize, parse_message};

/// Size limits applied by [`parse_message`] and [`StreamFramer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipLimits {
    /// Largest start line plus header section, in bytes, terminating blank line included.
    pub max_header_bytes: usize,
    /// Largest body (`Content-Length`) accepted, in bytes.
    pub max_body_bytes: usize,
}

impl SipLimits {
    /// Largest whole message these limits allow.
    pub fn max_message_bytes(&self) -> usize {
        self.max_header_bytes.saturating_add(self.max_body_bytes)
    }
}

impl Default for SipLimits {
    /// 16 KiB of headers and 64 KiB of body: an MRCP offer is about 1 KiB, and RFC 3261 §18.1.1
    /// keeps UDP messages under the path MTU anyway.
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
        }
    }
}
