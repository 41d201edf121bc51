//! # mrcp-sip
//!
//! The one SIP stack of open-mrcp: the server answers INVITEs with it (UAS), the client sends
//! them (UAC), and the dispatcher relays them (proxy core).
//!
//! ```text
//!  mrcp-server / mrcp-client / mrcp-dispatcher
//!        |  commands (respond, invite, bye, ...)        ^ events (IncomingInvite, Ack, Bye, ...)
//!        v                                              |
//!  driver::SipDriver (tokio: UDP socket tasks, TCP connection tasks, one core task)
//!        |  bytes + peer, time                          ^ transmits, next deadline
//!        v                                              |
//!  endpoint::Endpoint (sans-IO: transactions §17, dialogs §12-§15, UAS/UAC cores)
//!        |
//!  mrcp_proto::sip (compact forms, Content-Length framing, Message)
//! ```
//!
//! | module | what | RFC |
//! |---|---|---|
//! | [`transaction`] | INVITE/non-INVITE client/server machines, timers A–M | RFC 3261 §17, RFC 6026 |
//! | [`endpoint`] | transaction matching, UAS/UAC cores, dialogs, CANCEL, session timers | §8, §9, §12–§15, RFC 4028 |
//! | [`transport`] | transports, response routing | §18, RFC 3581 |
//! | [`header`] | typed Via, CSeq, tags, SIP URIs with IPv6 | §20, §25 |
//! | [`proxy`] | stateful proxy core for the dispatcher | §16 |
//! | [`driver`] | tokio drivers of the endpoint and the proxy: UDP and TCP (IPv4/IPv6), connection reuse, limits | §18 |
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod driver;
pub mod endpoint;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod proxy;
pub mod transaction;
pub mod transport;

pub use endpoint::{
    Body, CallHandle, ClientRequestId, EndReason, Endpoint, EndpointConfig, Event, Invite,
    LocalAddr, OutOfDialogRequest, Output, Response, ServerTxId, Transmit,
};
pub use error::Error;
pub use mrcp_proto::sip::{Message, StartLine};
pub use transport::{ConnectionId, Peer, Transport};
