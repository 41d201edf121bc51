//! RTP and RTCP wire formats (RFC 3550), the G.711 μ-law/A-law companding tables (ITU-T G.711),
//! linear 16-bit PCM in network byte order (RFC 3551 §4.5.11) and telephone-event payloads
//! (RFC 4733 §2.3).
//!
//! Everything here works on byte slices: parsing never allocates from a length the peer sent,
//! and malformed input is an error value, never a panic.
//!
//! | type / function | format | specification |
//! |---|---|---|
//! | [`RtpPacket`] | RTP fixed header, CSRC list, header extension, padding | RFC 3550 §5.1, §5.3.1 |
//! | [`RtcpPacket`], [`RtcpCompound`] | SR, RR, SDES, BYE (APP and others kept raw) | RFC 3550 §6.4–§6.6 |
//! | [`g711`] | PCMU / PCMA sample conversion | ITU-T G.711, RFC 3551 §4.5.14 |
//! | [`l16`] | 16-bit linear PCM, big-endian | RFC 3551 §4.5.11 |
//! | [`TelephoneEvent`] | DTMF named events | RFC 4733 §2.3, §3.2 |

pub mod g711;
pub mod l16;
mod packet;
mod rtcp;
mod telephone_event;

pub use packet::{
    HeaderExtension, MAX_CSRC, PayloadType, RTP_HEADER_LEN, RTP_VERSION, RtpError, RtpPacket, Ssrc,
};
pub use rtcp::{
    ByePacket, ReceiverReport, ReportBlock, RtcpCompound, RtcpError, RtcpPacket, SdesChunk,
    SdesItem, SenderInfo, SenderReport,
};
pub use telephone_event::{DtmfEvent, TELEPHONE_EVENT_LEN, TelephoneEvent, TelephoneEventError};
