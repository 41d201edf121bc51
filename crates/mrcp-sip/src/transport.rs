//! Transports and where messages go (RFC 3261 §18, RFC 3581).
//!
//! The sans-IO core names a destination as a [`Peer`]: transport, address and, for stream
//! transports, the connection a message arrived on. [`received_via`] applies §18.2.1 and RFC 3581 §4
//! to the top `Via` of a received request; [`response_peer`] applies §18.2.2 and RFC 3581 §4 to
//! choose where its responses go.

use std::net::SocketAddr;

use crate::header::Via;

/// A SIP transport (§18). The core treats TLS as a reliable stream like TCP; the driver runs the
/// handshakes ([`crate::driver::SipTls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP, unreliable: the transaction layer retransmits.
    Udp,
    /// TCP, reliable stream framed by `Content-Length`.
    Tcp,
    /// TLS over TCP (RFC 3261 §26.2, `sips:` of RFC 5630).
    Tls,
}

impl Transport {
    /// Whether the transport is reliable (no retransmissions, §17.1.1.2).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// Parses the token of a `Via` sent-protocol or a `transport` URI parameter.
    pub fn from_token(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("udp") {
            Some(Self::Udp)
        } else if token.eq_ignore_ascii_case("tcp") {
            Some(Self::Tcp)
        } else if token.eq_ignore_ascii_case("tls") {
            Some(Self::Tls)
        } else {
            None
        }
    }

    /// The lowercase token for URI parameters (`transport=tcp`).
    pub fn param(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        })
    }
}

/// Identifies one stream connection inside a driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The transport.
    pub transport: Transport,
    /// The remote address.
    pub addr: SocketAddr,
    /// For stream transports, the connection to use if it is still open (§18.2.2: responses go
    /// back over the connection the request came on).
    pub connection: Option<ConnectionId>,
}

/// Applies §18.2.1 and RFC 3581 §4 to the top `Via` of a request received from `source`: adds
/// `received` when the sent-by host differs from the source address, and fills an empty `rport`.
pub fn received_via(via: &mut Via, source: SocketAddr) {
    let ip = source.ip().to_string();
    let rport_requested = via.param("rport").is_some();
    if via.host != ip || rport_requested {
        via.set_param("received", Some(ip));
    }
    if rport_requested {
        via.set_param("rport", Some(source.port().to_string()));
    }
}

/// Where the responses of a request go (§18.2.2, RFC 3581 §4), given its top `Via` after
/// [`received_via`] and the peer it came from.
pub fn response_peer(via: &Via, source: &Peer) -> Peer {
    if source.transport.is_reliable() {
        // Over the same connection; if it is gone, the driver connects to the source address
        // (which is `received` plus the sent-by or source port).
        return *source;
    }
    let ip = via
        .param("received")
        .flatten()
        .and_then(|r| r.parse().ok())
        .unwrap_or(source.addr.ip());
    let port = match via.param("rport").flatten().and_then(|p| p.parse().ok()) {
        Some(p) => p,
        None => via.port.unwrap_or(5060),
    };
    Peer {
        transport: source.transport,
        addr: SocketAddr::new(ip, port),
        connection: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str) -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: addr.parse().expect("addr"),
            connection: None,
        }
    }

    #[test]
    fn rport_sends_back_to_the_source_port() {
        let mut via = Via::parse("SIP/2.0/UDP 10.0.0.1:5090;rport;branch=z9hG4bKx").expect("via");
        received_via(&mut via, "192.0.2.7:40000".parse().expect("addr"));
        assert_eq!(
            via.to_string(),
            "SIP/2.0/UDP 10.0.0.1:5090;rport=40000;branch=z9hG4bKx;received=192.0.2.7"
        );
        assert_eq!(
            response_peer(&via, &peer("192.0.2.7:40000")).addr,
            "192.0.2.7:40000".parse().expect("addr")
        );
    }

    #[test]
    fn without_rport_uses_received_and_sent_by_port() {
        let mut via = Via::parse("SIP/2.0/UDP host.example:5090;branch=z9hG4bKx").expect("via");
        received_via(&mut via, "192.0.2.7:40000".parse().expect("addr"));
        assert_eq!(
            response_peer(&via, &peer("192.0.2.7:40000")).addr,
            "192.0.2.7:5090".parse().expect("addr")
        );
        let mut via = Via::parse("SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKx").expect("via");
        received_via(&mut via, "192.0.2.7:40000".parse().expect("addr"));
        assert_eq!(via.param("received"), None, "same host: no received");
        assert_eq!(
            response_peer(&via, &peer("192.0.2.7:40000")).addr,
            "192.0.2.7:5060".parse().expect("addr")
        );
    }
}
