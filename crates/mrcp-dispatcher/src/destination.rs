//! Destinations (backends) of the dispatcher and their SIP URIs (RFC 3261 §19.1.1):
//! `sip:HOST:PORT[;transport=udp|tcp][;weight=N][;priority=N]`. The host must be an IP literal
//! (IPv6 in brackets): the proxy core resolves no names.

use std::net::{IpAddr, SocketAddr};

use mrcp_sip::{Peer, Transport};

/// Index of a destination in the dispatcher's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestId(pub usize);

/// One backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The URI as configured (used as the Request-URI of OPTIONS probes).
    pub uri: String,
    /// Where to send SIP.
    pub addr: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Relative share for the weighted algorithm (at least 1).
    pub weight: u32,
    /// Lower is preferred: higher-priority values are used only when every destination with a
    /// lower value is out of rotation.
    pub priority: u32,
}

impl Destination {
    /// The next hop of a request to this destination.
    pub fn peer(&self) -> Peer {
        Peer {
            transport: self.transport,
            addr: self.addr,
            connection: None,
        }
    }
}

/// Why a destination URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not a `sip:` URI.
    #[error("destination {uri:?} is not a sip: uri")]
    Scheme {
        /// The URI.
        uri: String,
    },
    /// The host is not an IP literal or the port is invalid.
    #[error("destination {uri:?} needs an ip literal host and a port, e.g. sip:10.0.0.5:5060")]
    HostPort {
        /// The URI.
        uri: String,
    },
    /// A parameter has an unusable value.
    #[error("destination {uri:?}: parameter {param} has an invalid value {value:?}")]
    Param {
        /// The URI.
        uri: String,
        /// The parameter.
        param: &'static str,
        /// Its value.
        value: String,
    },
}

impl Destination {
    /// Parses `sip:HOST[:PORT][;transport=..][;weight=N][;priority=N]` (port 5060 by default).
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let rest = uri
            .trim()
            .strip_prefix("sip:")
            .ok_or_else(|| UriError::Scheme { uri: uri.into() })?;
        let mut parts = rest.split(';');
        let hostport = parts.next().unwrap_or_default();
        let addr = hostport
            .parse::<SocketAddr>()
            .ok()
            .or_else(|| {
                let host = hostport.trim_start_matches('[').trim_end_matches(']');
                host.parse::<IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, 5060))
            })
            .filter(|a| a.port() != 0)
            .ok_or_else(|| UriError::HostPort { uri: uri.into() })?;
        let mut dest = Destination {
            uri: format!("sip:{hostport}"),
            addr,
            transport: Transport::Udp,
            weight: 1,
            priority: 0,
        };
        for param in parts {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let bad = |param: &'static str| UriError::Param {
                uri: uri.into(),
                param,
                value: value.into(),
            };
            match name.to_ascii_lowercase().as_str() {
                "transport" => {
                    dest.transport = match value.to_ascii_lowercase().as_str() {
                        "udp" => Transport::Udp,
                        "tcp" => Transport::Tcp,
                        _ => return Err(bad("transport")),
                    };
                    if dest.transport == Transport::Tcp {
                        dest.uri = format!("sip:{hostport};transport=tcp");
                    }
                }
                "weight" => {
                    dest.weight = value
                        .parse()
                        .ok()
                        .filter(|w| *w >= 1)
                        .ok_or_else(|| bad("weight"))?;
                }
                "priority" => dest.priority = value.parse().map_err(|_| bad("priority"))?,
                // Other URI parameters (lr, user=...) do not matter for the next hop.
                _ => {}
            }
        }
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_params_and_ipv6() {
        let d = Destination::parse("sip:127.0.0.1:5080;weight=3;priority=1;transport=TCP").unwrap();
        assert_eq!(d.addr, "127.0.0.1:5080".parse().unwrap());
        assert_eq!((d.weight, d.priority, d.transport), (3, 1, Transport::Tcp));
        assert_eq!(d.uri, "sip:127.0.0.1:5080;transport=tcp");
        let d = Destination::parse("sip:[::1]:5062").unwrap();
        assert_eq!(d.addr, "[::1]:5062".parse().unwrap());
        let d = Destination::parse("sip:10.0.0.1").unwrap();
        assert_eq!(d.addr.port(), 5060);
    }

    #[test]
    fn refuses_bad_uris() {
        assert!(matches!(
            Destination::parse("http://x"),
            Err(UriError::Scheme { .. })
        ));
        assert!(matches!(
            Destination::parse("sip:mrcp.example.com:5060"),
            Err(UriError::HostPort { .. })
        ));
        assert!(matches!(
            Destination::parse("sip:127.0.0.1:5060;weight=0"),
            Err(UriError::Param {
                param: "weight",
                ..
            })
        ));
        assert!(matches!(
            Destination::parse("sip:127.0.0.1:5060;transport=sctp"),
            Err(UriError::Param {
                param: "transport",
                ..
            })
        ));
    }
}
