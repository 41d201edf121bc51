//! MRCPv2 messages (RFC 6787 §5), typed headers (§6, §8–§11) and the streaming codec.
//!
//! - [`Message`] = [`StartLine`] (request, response or event) + [`Headers`] + body.
//! - [`header`]: every header as a type ([`header::Header`]): const name, parser, printer.
//! - [`codec`]: the sans-IO [`codec::Decoder`] (arbitrary chunks in, messages out, limits before allocation)
//!   and the canonical encoder ([`Message::encode`]).
//!
//! ## Run loop (sans-IO)
//! The connection task owns one [`codec::Decoder`] and a [`BytesMut`]: append each socket read, then call
//! `decode` until it returns `Ok(None)`; hand each [`Message`] to the session; on `Err` close the connection
//! (the stream can no longer be framed). Replies are written with [`Message::encode`]. A
//! `tokio_util::codec::{Decoder, Encoder}` adapter is three lines around these two calls and lives with the socket.
//!
//! ## RFC 6787 coverage
//! | section | what | status |
//! |---|---|---|
//! | §5.1 | start line, message-length (exact, own digits included), header section, body by Content-Length | done |
//! | §5.2–§5.5 | requests, responses, status codes, request states, events | done; unknown method/event tokens kept as `Other` |
//! | §6.1, §6.2 | generic methods and headers | typed |
//! | §8.2–§8.4 | synthesizer methods, events, headers, completion causes | typed |
//! | §9.2–§9.4 | recognizer methods, events, headers, completion causes | typed |
//! | §10.2–§10.4 | recorder methods, events, headers, completion causes | typed |
//! | §11.2–§11.4 | verifier methods, events, completion causes; headers by name with simple value types | partial |
//!
//! ## Accepted beyond the letter of the RFC (what UniMRCP peers send or tolerate)
//! Bare LF line ends; no `Content-Length` when there is no body; a wrong start-line message-length (reported by
//! [`codec::Decoder::last_length_mismatch`], or refused with [`codec::LengthPolicy::Reject`]); empty lines
//! between messages; `Completion-Cause` read by its leading integer; case-insensitive booleans and keywords.
//! Refused: control characters (including a CR not followed by LF) in the header section, non-token header
//! names, conflicting `Content-Length`s, anything over the [`codec::Limits`].
//!
//! ## Tests, benchmark, fuzzing
//! `cargo test -p mrcp-proto` runs the unit tests, `tests/mrcp_golden.rs` (every MRCP message of the bundled
//! UniMRCP capture round-trips byte for byte), `tests/mrcp_proptest.rs` and `tests/mrcp_fuzz_corpus.rs`.
//! `cargo bench -p mrcp-proto --bench mrcp_codec` prints messages per CPU-second, then the criterion figures.
//! `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run mrcp_decoder` fuzzes the decoder and encoder.
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
