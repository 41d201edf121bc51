//! # mrcp-sip
//!
//! The one SIP stack of open-mrcp: the server answers INVITEs with it (UAS), the client sends
//! them (UAC), and the dispatcher relays them (proxy core).
//!
//! ```text
//!  mrcp-server / mrcp-client / mrcp-dispatcher
//!        |  commands (respond, invite, bye, ...)        ^ events (IncomingInvite, Ack, Bye, ...)
//!        v                                              |
//!  driver::SipDriver (tokio: UDP socket tasks, TCP and TLS connection tasks, one core task)
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
//! | [`driver`] | tokio drivers of the endpoint and the proxy: UDP, TCP and TLS (IPv4/IPv6), connection reuse, limits | §18, §26.2 |
//! | [`tls`] | rustls configurations (TLS 1.2/1.3 only), PEM loading, handshakes with a deadline, fingerprints | §26.2, RFC 5630, RFC 6787 §4.2 |
//!
//! ## Example: the sans-IO endpoint answers a balancer's OPTIONS ping
//!
//! ```
//! use std::time::Instant;
//! use mrcp_sip::{Endpoint, EndpointConfig, LocalAddr, Output, Peer, Transport};
//!
//! let local = LocalAddr { transport: Transport::Udp, addr: "127.0.0.1:8060".parse().unwrap() };
//! let mut endpoint = Endpoint::new(EndpointConfig { local: vec![local], ..EndpointConfig::default() });
//! let balancer = Peer { transport: Transport::Udp, addr: "127.0.0.1:5070".parse().unwrap(), connection: None };
//! let ping = "OPTIONS sip:127.0.0.1:8060 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK1\r\n\
//!             f: <sip:lb@127.0.0.1>;tag=a\r\nt: <sip:127.0.0.1:8060>\r\ni: ping-1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
//! endpoint.handle_message(Instant::now(), ping.as_bytes(), balancer);
//! let Some(Output::Transmit(reply)) = endpoint.poll_output() else { panic!("no reply") };
//! assert!(reply.payload.starts_with(b"SIP/2.0 200 OK\r\n"));
//! assert_eq!(reply.peer.addr, balancer.addr); // rport: back to the source port
//! endpoint.set_options_status(Some(503)); // draining: balancers take us out of rotation
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod driver;
pub mod endpoint;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod proxy;
pub mod tls;
pub mod transaction;
pub mod transport;

pub use endpoint::{
    Body, CallHandle, ClientRequestId, EndReason, Endpoint, EndpointConfig, Event, Invite,
    LocalAddr, OutOfDialogRequest, Output, Response, ServerTxId, Transmit,
};
pub use error::Error;
pub use mrcp_proto::sip::{Message, StartLine};
pub use transport::{ConnectionId, Peer, Transport};
