//! The MRCPv2 stream codec (RFC 6787 §5.1): a sans-IO [`Decoder`] that frames messages out of arbitrary TCP
//! chunks, and an encoder that writes canonical messages.
//!
//! Framing follows what UniMRCP does (see `shared/reference/freeswitch-unimrcp-client.md` §6): the header
//! section ends at the first empty line (CRLF or bare LF), the body length comes only from `Content-Length` (in
//! bytes; absent means no body), and the start-line message-length is checked against what was framed but not
//! used for framing. The `tokio_util::codec` adapter lives with the socket, not here.

mod decoder;
mod encoder;

pub use decoder::{DecodeError, Decoder, LengthMismatch, LengthPolicy, Limits};
pub use encoder::{encode, message_length};
