//! SDP for MRCPv2 sessions (RFC 6787 §4.2 on RFC 4566, RFC 3264 offer/answer, RFC 4145 `a=setup` and
//! `a=connection`, RFC 4572 fingerprints kept as attributes).
//!
//! * [`MrcpSdp`] is the typed body of an offer or answer: [`MrcpSdp::parse`] reads it (on sdp-rs, see the
//!   `wire` module notes for what is done by hand) and `Display` prints it with CRLF line ends.
//! * Server: [`AnswerBuilder`] validates an offer against an [`AnswerConfig`] (errors are [`SdpError`]s that
//!   map to SIP 488), lets the session accept or reject each channel and audio line, and builds the answer the
//!   way UniMRCP's server writes it.
//! * Client: [`build_offer`] writes offers exactly as UniMRCP inside FreeSWITCH or Asterisk does
//!   ([`ClientProfile`]), and [`read_answer`] reads the server's answer as UniMRCP does.
//!
//! ```
//! use mrcp_proto::sdp::{AnswerBuilder, AnswerConfig, MrcpSdp};
//! use mrcp_proto::mrcp::{ChannelId, ResourceType};
//!
//! let offer = MrcpSdp::parse(
//!     "v=0\r\no=UniMRCPClient 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
//!      m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:speechrecog\r\n\
//!      a=cmid:1\r\nm=audio 4000 RTP/AVP 0 8\r\na=sendonly\r\na=mid:1\r\n",
//! )?;
//! let mut answer = AnswerBuilder::new(&offer, AnswerConfig::new("10.0.0.2".parse().unwrap(), 42))?;
//! for ch in answer.channels() {
//!     answer.accept_control(ch.index, ChannelId::new("1a2b3c4d", ch.resource).unwrap(), None)?;
//! }
//! for audio in answer.audio() {
//!     answer.accept_audio(audio.index, 5000)?;
//! }
//! let body = answer.build().to_string();
//! assert!(body.contains("a=channel:1a2b3c4d@speechrecog\r\n"));
//! assert!(body.contains("m=audio 5000 RTP/AVP 0\r\n"));
//! assert!(body.contains("a=recvonly\r\n"));
//! # Ok::<(), mrcp_proto::sdp::SdpError>(())
//! ```

mod answer;
mod client;
mod codec;
mod error;
mod model;
mod wire;

pub use answer::{AnswerBuilder, AnswerConfig, AudioPlan, ChannelRequest};
pub use client::{
    ChannelOffer, ClientProfile, NegotiatedAudio, NegotiatedChannel, OfferConfig, build_offer,
    offer_direction, read_answer,
};
pub use codec::{Codec, CodecOrder, CodecPreferences, TELEPHONE_EVENT};
pub use error::SdpError;
pub use model::{
    Attribute, AudioMedia, ConnectionMode, ControlMedia, ControlTransport, Direction, Media,
    MrcpSdp, Origin, OtherMedia, Setup, UnknownToken,
};
pub use wire::{MAX_MEDIA, MAX_SDP_LEN};

#[cfg(test)]
mod tests;
