//! MRCPv2 messages (RFC 6787 §5), typed headers (§6, §8–§11) and the streaming codec.
//!
//! - [`Message`] = [`StartLine`] (request, response or event) + [`Headers`] + body.
//! - [`header`]: every header as a type ([`header::Header`]): const name, parser, printer.
//! - [`codec`]: the sans-IO [`codec::Decoder`] (arbitrary chunks in, messages out, limits before allocation)
//!   and the canonical encoder ([`Message::encode`]).
//!
//! ```
//! use bytes::BytesMut;
//! use mrcp_proto::mrcp::{codec::Decoder, header::NoInputTimeout, Message, RequestState, StatusCode};
//!
//! let wire = b"MRCP/2.0 133 RECORD 1\r\nChannel-Identifier: 5476f07e1cff455a@recorder\r\n\
//!              No-Input-Timeout: 5000\r\nFinal-Silence: 300\r\nMax-Time: 10000\r\n\r\n";
//! let mut buf = BytesMut::from(&wire[..]);
//! let request = Decoder::default().decode(&mut buf).unwrap().unwrap();
//! let timeout = request.headers.get::<NoInputTimeout>().unwrap().unwrap();
//! assert_eq!(timeout.0.as_millis(), 5000);
//! let response = Message::response_to(&request, StatusCode::SUCCESS, RequestState::InProgress);
//! assert_eq!(response.to_bytes().len(), 80);
//! ```

mod channel;
pub mod codec;
pub mod header;
mod headers;
mod message;
mod method;
mod resource;
mod status;

/// The buffer types of the codec API, re-exported so callers need not pin `bytes` themselves.
pub use bytes::{Bytes, BytesMut};
pub use channel::{ChannelId, ChannelIdError};
pub use headers::{Headers, InvalidHeader};
pub use message::{Message, StartLine, VERSION};
pub use method::{EventName, Method, NotAToken, Token};
pub use resource::{ResourceType, UnknownResource};
pub use status::{BadNumber, RequestId, RequestState, StatusCode, UnknownRequestState};
