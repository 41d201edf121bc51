//! Framing SIP over a byte stream by `Content-Length` (RFC 3261 §18.3), with the keep-alive
//! CRLFs of RFC 5626 §3.5.1 between messages.
//!
//! The framer follows the `tokio_util::codec::Decoder` contract without depending on it:
//! `Ok(None)` asks for more bytes, `Err` means the stream is corrupt and must be closed.

use bytes::{Buf, Bytes, BytesMut};

use super::{
    FramingError, SipLimits,
    compact::expand_compact_name,
    normalize::{find_blank_line, parse_length},
};

/// One unit cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One whole SIP message (header section plus `Content-Length` bytes of body), still to be
    /// parsed with [`super::parse_message`].
    Message(Bytes),
    /// A keep-alive ping, `CRLF CRLF` (RFC 5626 §3.5.1); the receiver answers with a pong
    /// (`CRLF`).
    Ping,
    /// A keep-alive pong, a single `CRLF` (RFC 5626 §3.5.1).
    Pong,
}

/// Sans-IO framer for one SIP stream connection.
///
/// Push received bytes with [`StreamFramer::push`], then call [`StreamFramer::next_frame`] until it
/// returns `Ok(None)`. Feeding the stream byte by byte gives the same frames as feeding it whole.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: SipLimits,
    /// Header length and body length of the message being read, once its header section is known.
    pending: Option<(usize, usize)>,
}

impl StreamFramer {
    /// A framer applying `limits`.
    pub fn new(limits: SipLimits) -> Self {
        Self {
            buf: BytesMut::new(),
            limits,
            pending: None,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.pending.is_none() {
            // RFC 5626 §3.5.1: CRLFCRLF is a ping, a lone CRLF a pong; both only between messages.
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.advance(4);
                return Ok(Some(Frame::Ping));
            }
            if self.buf.starts_with(b"\r\n") {
                match self.buf.get(2) {
                    None => return Ok(None),
                    Some(b'\r') if self.buf.len() < 4 => return Ok(None),
                    Some(b'\r') => {}
                    Some(_) => {
                        self.buf.advance(2);
                        return Ok(Some(Frame::Pong));
                    }
                }
            }
            let Some(end) = find_blank_line(&self.buf) else {
                if self.buf.len() > self.limits.max_header_bytes {
                    return Err(FramingError::HeadersTooLarge {
                        limit: self.limits.max_header_bytes,
                    });
                }
                return Ok(None);
            };
            let header_len = end + 4;
            if header_len > self.limits.max_header_bytes {
                return Err(FramingError::HeadersTooLarge {
                    limit: self.limits.max_header_bytes,
                });
            }
            let section = self.buf.get(..end).unwrap_or_default();
            let body_len = content_length(section)?.ok_or(FramingError::MissingContentLength)?;
            if body_len > self.limits.max_body_bytes {
                return Err(FramingError::BodyTooLarge {
                    length: body_len,
                    limit: self.limits.max_body_bytes,
                });
            }
            self.pending = Some((header_len, body_len));
        }
        let Some((header_len, body_len)) = self.pending else {
            return Ok(None);
        };
        let total = header_len + body_len;
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.pending = None;
        Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
    }
}

/// Finds `Content-Length` (or `l`) in a raw header section, continuation lines ignored.
fn content_length(section: &[u8]) -> Result<Option<usize>, FramingError> {
    let text = std::str::from_utf8(section).map_err(|_| FramingError::NotUtf8)?;
    let mut found = None;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim_end_matches([' ', '\t']);
        let is_cl = name.eq_ignore_ascii_case("Content-Length")
            || expand_compact_name(name) == Some("Content-Length");
        if !is_cl {
            continue;
        }
        let length = parse_length(value).ok_or(FramingError::BadContentLength)?;
        match found {
            Some(previous) if previous != length => return Err(FramingError::BadContentLength),
            _ => found = Some(length),
        }
    }
    Ok(found)
}
