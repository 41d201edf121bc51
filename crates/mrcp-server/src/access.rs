//! `[access]`: who may use each listener. An allow-list of CIDR networks per listener (SIP, MRCP, HTTP); an
//! empty list allows everyone. A refused SIP INVITE gets 403 Forbidden (RFC 3261 §21.4.4); a refused MRCP or
//! HTTP connection is closed at once, before a byte is read. Each refusal is logged and counted in
//! `mrcp_refused_total{listener,reason="access"}`. `[access.digest]` adds SIP digest authentication of
//! INVITEs ([`crate::digest`]).

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::digest::DigestConfig;

/// `[access]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// `sip_allow`: networks whose SIP INVITEs and OPTIONS are served (`["10.0.0.0/8", "192.0.2.7", "::1"]`).
    /// Default empty: everyone.
    pub sip_allow: AllowList,
    /// `mrcp_allow`: networks that may open MRCP control connections. Default empty: everyone.
    pub mrcp_allow: AllowList,
    /// `http_allow`: networks that may read `/metrics` and `/healthz`. Default empty: everyone (the port
    /// listens on 127.0.0.1 by default).
    pub http_allow: AllowList,
    /// `[access.digest]`: SIP digest authentication of INVITEs (RFC 3261 §22, RFC 7616). Default: off.
    pub digest: Option<DigestConfig>,
}

impl AccessConfig {
    /// Checks the digest section (the lists are checked as they parse); errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.digest {
            Some(digest) => digest.validate(),
            None => Ok(()),
        }
    }
}

/// A list of networks; empty allows every address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    nets: Vec<IpNet>,
}

impl AllowList {
    /// Whether `ip` may connect. An IPv4-mapped IPv6 address (a dual-stack socket) is matched as IPv4.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.is_empty() || self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Whether the list allows everyone.
    pub fn is_open(&self) -> bool {
        self.nets.is_empty()
    }
}

/// Why an allow-list entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} is not an address or a CIDR network (like \"10.0.0.0/8\" or \"2001:db8::/32\")")]
pub struct BadNetwork {
    /// The entry.
    pub entry: String,
}

impl FromStr for AllowList {
    type Err = BadNetwork;

    /// A comma-separated list, as on a command line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let nets = s
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(parse_net)
            .collect::<Result<_, _>>()?;
        Ok(AllowList { nets })
    }
}

fn parse_net(entry: &str) -> Result<IpNet, BadNetwork> {
    let bad = || BadNetwork {
        entry: entry.to_owned(),
    };
    if entry.contains('/') {
        // `10.0.0.1/8` names the network 10.0.0.0/8: host bits are ignored, as in iptables.
        IpNet::from_str(entry).map(|n| n.trunc()).map_err(|_| bad())
    } else {
        IpAddr::from_str(entry).map(IpNet::from).map_err(|_| bad())
    }
}

impl<'de> Deserialize<'de> for AllowList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        let nets = entries
            .iter()
            .map(|e| parse_net(e.trim()))
            .collect::<Result<_, _>>()
            .map_err(serde::de::Error::custom)?;
        Ok(AllowList { nets })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_and_single_addresses_match() {
        let list: AllowList = "10.0.0.0/8, 192.0.2.7, 2001:db8::/32".parse().unwrap();
        assert!(list.allows(ip("10.200.3.4")));
        assert!(list.allows(ip("192.0.2.7")));
        assert!(!list.allows(ip("192.0.2.8")));
        assert!(list.allows(ip("2001:db8::1")));
        assert!(!list.allows(ip("2001:db9::1")));
        // A dual-stack socket reports IPv4 peers as mapped IPv6 addresses.
        assert!(list.allows(ip("::ffff:10.1.1.1")));
        assert!(!list.allows(ip("127.0.0.1")));
    }

    #[test]
    fn an_empty_list_allows_everyone() {
        let list = AllowList::default();
        assert!(list.is_open());
        assert!(list.allows(ip("203.0.113.9")));
    }

    #[test]
    fn bad_entries_are_named() {
        let e = "10.0.0.0/33".parse::<AllowList>().unwrap_err();
        assert_eq!(e.entry, "10.0.0.0/33");
        assert!("localhost".parse::<AllowList>().is_err());
        // Host bits in a network are ignored.
        let list: AllowList = "10.1.2.3/8".parse().unwrap();
        assert!(list.allows(ip("10.9.9.9")));
    }

    #[test]
    fn toml_lists_parse_and_bad_ones_name_the_key() {
        #[derive(Deserialize)]
        struct Doc {
            access: AccessConfig,
        }
        let doc: Doc =
            toml::from_str("[access]\nmrcp_allow = [\"127.0.0.0/8\", \"::1\"]\n").unwrap();
        assert!(doc.access.mrcp_allow.allows(ip("127.0.0.2")));
        assert!(doc.access.sip_allow.is_open());
        let e = toml::from_str::<Doc>("[access]\nsip_allow = [\"10.0.0.300\"]\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("sip_allow") && e.contains("10.0.0.300"), "{e}");
    }
}
