//! The header values the stack reads and writes, as types (RFC 3261 §20, §25.1; RFC 3581).
//!
//! Only what transactions and dialogs need: `Via`, the tag of `From`/`To`, `CSeq`, the URI of a
//! name-addr (`Contact`, `Route`, `Record-Route`), host and port of a SIP URI with IPv6 references.

use std::net::{IpAddr, SocketAddr};

use crate::transport::Transport;

/// A parsed `Via` value (§20.42, RFC 3581 `rport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport of the sent-protocol (`SIP/2.0/UDP`).
    pub transport: Transport,
    /// Sent-by host, IPv6 without brackets.
    pub host: String,
    /// Sent-by port, if given.
    pub port: Option<u16>,
    /// Parameters in order, `(name, value)`.
    pub params: Vec<(String, Option<String>)>,
}

impl Via {
    /// Parses one `Via` value; `None` when malformed.
    pub fn parse(value: &str) -> Option<Self> {
        let (protocol, rest) = value.trim().split_once([' ', '\t'])?;
        let mut proto = protocol.split('/');
        let (name, version, transport) = (proto.next()?, proto.next()?, proto.next()?);
        if !name.trim().eq_ignore_ascii_case("SIP") || version.trim() != "2.0" {
            return None;
        }
        let transport = Transport::from_token(transport.trim())?;
        let mut parts = rest.split(';');
        let (host, port) = parse_host_port(parts.next()?.trim())?;
        let params = parts
            .map(|p| match p.split_once('=') {
                Some((n, v)) => (n.trim().to_owned(), Some(v.trim().to_owned())),
                None => (p.trim().to_owned(), None),
            })
            .filter(|(n, _)| !n.is_empty())
            .collect();
        Some(Self {
            transport,
            host,
            port,
            params,
        })
    }

    /// The value of parameter `name` (`Some(None)` for a flag parameter).
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// Sets (or adds) parameter `name`.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        match self
            .params
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.params.push((name.to_owned(), value)),
        }
    }

    /// The branch parameter (§8.1.1.7).
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// Whether the branch carries the RFC 3261 magic cookie `z9hG4bK`.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }

    /// The `sent-by` as text, used as part of the transaction key (§17.2.3).
    pub fn sent_by(&self) -> String {
        format_host_port(&self.host, self.port)
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SIP/2.0/{} {}",
            self.transport,
            format_host_port(&self.host, self.port)
        )?;
        for (name, value) in &self.params {
            match value {
                Some(v) => write!(f, ";{name}={v}")?,
                None => write!(f, ";{name}")?,
            }
        }
        Ok(())
    }
}

/// Formats host and port, bracketing IPv6 addresses (§25.1 `IPv6reference`).
pub fn format_host_port(host: &str, port: Option<u16>) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Parses `host[:port]` with IPv6 references; the host is returned without brackets.
pub fn parse_host_port(text: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match text.split_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_owned(), Some(port.parse().ok()?))),
        Some(_) => None,
        None if !text.is_empty() => Some((text.to_owned(), None)),
        None => None,
    }
}

/// The `tag` parameter of a `From` or `To` value (§19.3), ignoring parameters inside `<...>`.
pub fn tag_of(value: &str) -> Option<&str> {
    let params = match value.rfind('>') {
        Some(i) => value.get(i + 1..)?,
        None => value.split_once(';').map(|(_, p)| p).unwrap_or_default(),
    };
    params.split(';').find_map(|p| {
        let (name, v) = p.split_once('=')?;
        name.trim().eq_ignore_ascii_case("tag").then(|| v.trim())
    })
}

/// The URI of a name-addr or addr-spec (`"Bob" <sip:bob@h>;p=1` → `sip:bob@h`).
pub fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => value.get(a + 1..b).unwrap_or_default(),
        _ => value.split(';').next().unwrap_or_default().trim(),
    }
}

/// A `CSeq` value (§20.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number, below 2^31.
    pub seq: u32,
    /// Method.
    pub method: String,
}

impl CSeq {
    /// Parses `1 INVITE`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split_whitespace();
        let seq: u32 = parts.next()?.parse().ok()?;
        let method = parts.next()?.to_owned();
        if parts.next().is_some() || seq >= 1 << 31 {
            return None;
        }
        Some(Self { seq, method })
    }
}

impl std::fmt::Display for CSeq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// Host, port and `transport` parameter of a SIP URI (`sip:user@host:port;transport=tcp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// Host, IPv6 without brackets.
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// The `transport` parameter, if given and known.
    pub transport: Option<Transport>,
    /// Whether the `lr` parameter is present (§19.1.1, loose routing).
    pub lr: bool,
    /// Whether the scheme is `sips`.
    pub secure: bool,
}

impl SipUri {
    /// Parses the parts of a `sip:`/`sips:` URI the stack needs; `None` for other schemes.
    pub fn parse(uri: &str) -> Option<Self> {
        let uri = uri.trim();
        let (secure, rest) = if let Some(r) = strip_prefix_ci(uri, "sips:") {
            (true, r)
        } else {
            (false, strip_prefix_ci(uri, "sip:")?)
        };
        let rest = rest.split('?').next().unwrap_or_default();
        let mut parts = rest.split(';');
        let hostpart = parts.next()?;
        let hostport = match hostpart.rfind('@') {
            Some(i) => hostpart.get(i + 1..)?,
            None => hostpart,
        };
        let (host, port) = parse_host_port(hostport)?;
        let mut transport = None;
        let mut lr = false;
        for p in parts {
            match p.split_once('=') {
                Some((n, v)) if n.eq_ignore_ascii_case("transport") => {
                    transport = Transport::from_token(v)
                }
                None if p.eq_ignore_ascii_case("lr") => lr = true,
                _ => {}
            }
        }
        Some(Self {
            host,
            port,
            transport,
            lr,
            secure,
        })
    }

    /// The socket address when the host is an IP literal; port defaults per transport (§19.1.2).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: IpAddr = self.host.parse().ok()?;
        let default = if self.secure || self.transport == Some(Transport::Tls) {
            5061
        } else {
            5060
        };
        Some(SocketAddr::new(ip, self.port.unwrap_or(default)))
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Splits a header value holding a comma-separated list (`Route`, `Record-Route`, `Supported`),
/// ignoring commas inside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(value.get(start..i).unwrap_or_default().trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value.get(start..).unwrap_or_default().trim());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_round_trips_with_ipv6_and_rport() {
        let v = Via::parse("SIP/2.0/UDP [2001:db8::9]:5060;rport;branch=z9hG4bK1").expect("via");
        assert_eq!(v.host, "2001:db8::9");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.param("rport"), Some(None));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP [2001:db8::9]:5060;rport;branch=z9hG4bK1"
        );
        assert!(Via::parse("SIP/3.0/UDP h").is_none());
        assert!(Via::parse("garbage").is_none());
    }

    #[test]
    fn tags_uris_and_cseq() {
        assert_eq!(tag_of("\"A;tag=x\" <sip:a@h;tag=no>;tag=yes"), Some("yes"));
        assert_eq!(tag_of("sip:a@h;tag=t1"), Some("t1"));
        assert_eq!(tag_of("<sip:a@h>"), None);
        assert_eq!(uri_of("\"Bob\" <sip:bob@h;lr>;p=1"), "sip:bob@h;lr");
        let u = SipUri::parse("sip:mrcp@[::1]:8060;transport=TCP;lr").expect("uri");
        assert_eq!(u.socket_addr(), Some("[::1]:8060".parse().expect("addr")));
        assert_eq!(u.transport, Some(Transport::Tcp));
        assert!(u.lr);
        assert_eq!(
            CSeq::parse("1001105667 INVITE"),
            Some(CSeq {
                seq: 1001105667,
                method: "INVITE".into()
            })
        );
        assert!(CSeq::parse("4294967295 INVITE").is_none());
        assert_eq!(
            split_list("<sip:a;lr>, \"x,y\" <sip:b>"),
            vec!["<sip:a;lr>", "\"x,y\" <sip:b>"]
        );
    }
}
