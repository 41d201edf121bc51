//! The rules a fetch URI must pass: scheme, host, resolved address, file root.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::FetchConfig;
use crate::config::ConfigError;

/// One `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// `prompts.example.com`.
    Name(String),
    /// `*.example.com`: any name ending in `.example.com`.
    Suffix(String),
    /// `10.1.0.0/16` or a single address.
    Net(IpNet),
}

impl HostRule {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('[').trim_end_matches(']');
        if let Ok(net) = text.parse::<IpNet>() {
            return Some(HostRule::Net(net));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(HostRule::Net(IpNet::from(ip)));
        }
        let valid = |name: &str| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        match text.strip_prefix("*.") {
            Some(suffix) if valid(suffix) => Some(HostRule::Suffix(format!(
                ".{}",
                suffix.to_ascii_lowercase()
            ))),
            None if valid(text) => Some(HostRule::Name(text.to_ascii_lowercase())),
            _ => None,
        }
    }

    fn matches_name(&self, host: &str) -> bool {
        match self {
            HostRule::Name(name) => host.eq_ignore_ascii_case(name),
            HostRule::Suffix(suffix) => host.to_ascii_lowercase().ends_with(suffix.as_str()),
            HostRule::Net(_) => false,
        }
    }
}

/// The checks of `[fetch]`, compiled once.
#[derive(Debug)]
pub struct FetchPolicy {
    schemes: Vec<String>,
    hosts: Vec<HostRule>,
    allow_private: bool,
    file_roots: Vec<PathBuf>,
    max_bytes: usize,
    timeout: Duration,
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: format!("fetch.{key}"),
        problem: problem.into(),
    }
}

impl FetchPolicy {
    /// Compiles and checks a config; errors name the key.
    pub fn new(config: &FetchConfig) -> Result<Self, ConfigError> {
        let mut schemes = Vec::new();
        for scheme in &config.allowed_schemes {
            let scheme = scheme.to_ascii_lowercase();
            if !matches!(scheme.as_str(), "http" | "https" | "file") {
                return Err(invalid(
                    "allowed_schemes",
                    format!("{scheme:?} is not one of \"http\", \"https\", \"file\""),
                ));
            }
            schemes.push(scheme);
        }
        let hosts = config
            .allowed_hosts
            .iter()
            .map(|h| {
                HostRule::parse(h).ok_or_else(|| {
                    invalid(
                        "allowed_hosts",
                        format!("{h:?} is not a host name, *.suffix, address or CIDR block"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut file_roots = Vec::new();
        for root in &config.file_roots {
            let canonical = std::fs::canonicalize(root)
                .map_err(|e| invalid("file_roots", format!("{}: {e}", root.display())))?;
            file_roots.push(canonical);
        }
        if schemes.iter().any(|s| s == "file") && file_roots.is_empty() {
            return Err(invalid(
                "file_roots",
                "\"file\" is in fetch.allowed_schemes, so name the directories it may read",
            ));
        }
        if config.max_bytes == 0 {
            return Err(invalid("max_bytes", "must be at least 1"));
        }
        if !(1..=60_000).contains(&config.timeout_ms) {
            return Err(invalid("timeout_ms", "must be from 1 to 60000"));
        }
        Ok(Self {
            schemes,
            hosts,
            allow_private: config.allow_private_addresses,
            file_roots,
            max_bytes: config.max_bytes,
            timeout: Duration::from_millis(config.timeout_ms),
        })
    }

    /// The size cap.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The time cap.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether a URL may be fetched before any resolution: its scheme, its host against `allowed_hosts`,
    /// and an address literal against the private ranges.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        let scheme = url.scheme();
        if !self.schemes.iter().any(|s| s == scheme) {
            return Err(format!("scheme {scheme}: is not in fetch.allowed_schemes"));
        }
        if scheme == "file" {
            return Ok(());
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) => return self.check_name(name),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            None => return Err("the URI has no host".to_owned()),
        };
        self.check_address(None, host)
    }

    fn check_name(&self, name: &str) -> Result<(), String> {
        if self.hosts.is_empty() || self.hosts.iter().any(|r| r.matches_name(name)) {
            Ok(())
        } else {
            Err(format!("host {name} is not in fetch.allowed_hosts"))
        }
    }

    /// Whether an address may be connected to, for `name` when it was resolved from one.
    pub fn check_address(&self, name: Option<&str>, ip: IpAddr) -> Result<(), String> {
        let listed_net = self
            .hosts
            .iter()
            .any(|r| matches!(r, HostRule::Net(net) if net.contains(&ip)));
        let listed_name = name.is_some_and(|n| self.hosts.iter().any(|r| r.matches_name(n)));
        if name.is_none() && !self.hosts.is_empty() && !listed_net {
            return Err(format!("address {ip} is not in fetch.allowed_hosts"));
        }
        if is_internal(ip) && !self.allow_private && !listed_net && !listed_name {
            return Err(format!(
                "address {ip} is internal (loopback, private or link-local); list it in \
                 fetch.allowed_hosts to allow it"
            ));
        }
        Ok(())
    }

    /// Whether a canonical file path is below a root.
    pub fn check_file(&self, path: &Path) -> Result<(), String> {
        if self.file_roots.iter().any(|root| path.starts_with(root)) {
            Ok(())
        } else {
            Err("the file is outside fetch.file_roots".to_owned())
        }
    }
}

/// Loopback, private, link-local, unique-local, CGNAT, unspecified, multicast and broadcast addresses:
/// what a client must not reach through the server.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Resolves host names for the HTTP client and drops the addresses the policy refuses, so a public name
/// pointing at an internal address cannot be used to reach it.
pub(super) struct GuardedResolver {
    policy: Arc<FetchPolicy>,
}

impl GuardedResolver {
    pub(super) fn new(policy: Arc<FetchPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            policy.check_name(&host).map_err(boxed)?;
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| policy.check_address(Some(&host), a.ip()).is_ok())
                .collect();
            if allowed.is_empty() {
                let refusal = match resolved.first() {
                    Some(a) => policy
                        .check_address(Some(&host), a.ip())
                        .err()
                        .unwrap_or_default(),
                    None => format!("{host} has no address"),
                };
                return Err(boxed(refusal));
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

fn boxed(message: String) -> Box<dyn std::error::Error + Send + Sync> {
    message.into()
}
