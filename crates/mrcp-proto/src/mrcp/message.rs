//! MRCPv2 messages: requests, responses and events with their start lines (RFC 6787 §5).

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::header::{ChannelIdentifier, ContentType};
use super::headers::{Headers, InvalidHeader};
use super::method::{EventName, Method};
use super::status::{RequestId, RequestState, StatusCode};
use super::{ChannelId, codec};

/// The protocol version token of every MRCPv2 start line (RFC 6787 §5.1).
pub const VERSION: &str = "MRCP/2.0";

/// The start line without its message-length, which the encoder computes (RFC 6787 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `MRCP/2.0 <length> <method> <request-id>` (RFC 6787 §5.2).
    Request {
        /// The method.
        method: Method,
        /// Its request id.
        request_id: RequestId,
    },
    /// `MRCP/2.0 <length> <request-id> <status-code> <request-state>` (RFC 6787 §5.3).
    Response {
        /// The request answered.
        request_id: RequestId,
        /// The status.
        status: StatusCode,
        /// Whether events follow.
        state: RequestState,
    },
    /// `MRCP/2.0 <length> <event-name> <request-id> <request-state>` (RFC 6787 §5.5).
    Event {
        /// The event.
        event: EventName,
        /// The request it belongs to.
        request_id: RequestId,
        /// `IN-PROGRESS` while more events follow, `COMPLETE` for the last.
        state: RequestState,
    },
}

impl StartLine {
    /// The request id, whatever the kind.
    pub fn request_id(&self) -> RequestId {
        match self {
            StartLine::Request { request_id, .. }
            | StartLine::Response { request_id, .. }
            | StartLine::Event { request_id, .. } => *request_id,
        }
    }
}

impl fmt::Display for StartLine {
    /// The start line as on the wire, without version and length: `RECOGNIZE 2`, `2 200 IN-PROGRESS`, ….
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartLine::Request { method, request_id } => write!(f, "{method} {request_id}"),
            StartLine::Response {
                request_id,
                status,
                state,
            } => write!(f, "{request_id} {status} {state}"),
            StartLine::Event {
                event,
                request_id,
                state,
            } => write!(f, "{event} {request_id} {state}"),
        }
    }
}

/// One MRCPv2 message: start line, headers and body (RFC 6787 §5.1).
///
/// The body length is the framing: a decoded message's headers never hold `Content-Length`, and the encoder
/// writes it from `body` (only when the body is not empty, as UniMRCP does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request, response or event line.
    pub start: StartLine,
    /// Header fields in order, `Channel-Identifier` normally first.
    pub headers: Headers,
    /// The body bytes (grammar, SSML, NLSML, URI list, …); empty when there is none.
    pub body: Bytes,
}

impl Message {
    fn with_channel(start: StartLine, channel: &ChannelId) -> Message {
        let mut headers = Headers::with_capacity(8);
        let mut v = String::with_capacity(32);
        super::header::HeaderValue::write(channel, &mut v);
        headers.push_owned(<ChannelIdentifier as super::header::Header>::NAME, v);
        Message {
            start,
            headers,
            body: Bytes::new(),
        }
    }

    /// A request on `channel`, with `Channel-Identifier` as its first header.
    pub fn request(method: Method, request_id: RequestId, channel: &ChannelId) -> Message {
        Message::with_channel(StartLine::Request { method, request_id }, channel)
    }

    /// An event on `channel`.
    pub fn event(
        event: EventName,
        request_id: RequestId,
        state: RequestState,
        channel: &ChannelId,
    ) -> Message {
        Message::with_channel(
            StartLine::Event {
                event,
                request_id,
                state,
            },
            channel,
        )
    }

    /// The response to `request`: same request id, its `Channel-Identifier` echoed byte for byte (even one that
    /// did not parse, so a `4xx` can still be addressed).
    pub fn response_to(request: &Message, status: StatusCode, state: RequestState) -> Message {
        let mut headers = Headers::with_capacity(4);
        if let Some(ch) = request
            .headers
            .get_raw(<ChannelIdentifier as super::header::Header>::NAME)
        {
            headers.push_owned(
                <ChannelIdentifier as super::header::Header>::NAME,
                ch.to_owned(),
            );
        }
        Message {
            start: StartLine::Response {
                request_id: request.start.request_id(),
                status,
                state,
            },
            headers,
            body: Bytes::new(),
        }
    }

    /// The request id of the start line.
    pub fn request_id(&self) -> RequestId {
        self.start.request_id()
    }

    /// The parsed `Channel-Identifier` (RFC 6787 §6.2.1); `Ok(None)` when it is missing (answer `406`).
    pub fn channel_id(&self) -> Result<Option<ChannelId>, InvalidHeader> {
        Ok(self.headers.get::<ChannelIdentifier>()?.map(|c| c.0))
    }

    /// Sets the body and its `Content-Type`.
    pub fn set_body(
        &mut self,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<(), InvalidHeader> {
        self.headers.set(&ContentType(content_type.to_owned()))?;
        self.body = body.into();
        Ok(())
    }

    /// The `Content-Type` of the body, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get_raw(<ContentType as super::header::Header>::NAME)
    }

    /// The exact message-length the encoder writes: the whole message in bytes, its own digits included.
    pub fn message_length(&self) -> usize {
        codec::message_length(self)
    }

    /// Appends the canonical wire form to `dst` (see [`codec::encode`]).
    pub fn encode(&self, dst: &mut BytesMut) {
        codec::encode(self, dst);
    }

    /// The canonical wire form.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.message_length());
        self.encode(&mut b);
        b.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrcp::ResourceType;
    use crate::mrcp::codec::{Decoder, LengthPolicy, Limits};

    fn decode(bytes: &[u8]) -> Message {
        let mut dec = Decoder::new(Limits::default(), LengthPolicy::Reject);
        let mut buf = BytesMut::from(bytes);
        dec.decode_eof(&mut buf).unwrap().unwrap()
    }

    #[test]
    fn utf8_body_is_framed_in_bytes() {
        let ch = ChannelId::new("abc123", ResourceType::Speechsynth).unwrap();
        let mut speak = Message::request(Method::Speak, RequestId(1), &ch);
        speak.set_body("text/plain", "Grüße, 世界").unwrap();
        let bytes = speak.to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains("Content-Length: 15\r\n"), "{text}");
        assert_eq!(decode(&bytes), speak);
        assert_eq!(speak.content_type(), Some("text/plain"));
    }

    #[test]
    fn response_echoes_an_unparsable_channel() {
        let req = decode(b"MRCP/2.0 63 SPEAK 7\r\nChannel-Identifier: abc@nosuchresource\r\n\r\n");
        assert!(req.channel_id().is_err());
        let resp = Message::response_to(
            &req,
            StatusCode::RESOURCE_NOT_ALLOCATED,
            RequestState::Complete,
        );
        assert_eq!(
            &resp.to_bytes()[..],
            b"MRCP/2.0 70 7 405 COMPLETE\r\nChannel-Identifier: abc@nosuchresource\r\n\r\n"
        );
        assert_eq!(resp.request_id(), RequestId(7));
    }

    #[test]
    fn start_lines_display_without_version_and_length() {
        let ch = ChannelId::new("abc", ResourceType::Speechrecog).unwrap();
        let ev = Message::event(
            EventName::StartOfInput,
            RequestId(2),
            RequestState::InProgress,
            &ch,
        );
        assert_eq!(ev.start.to_string(), "START-OF-INPUT 2 IN-PROGRESS");
        assert_eq!(decode(&ev.to_bytes()), ev);
    }
}
