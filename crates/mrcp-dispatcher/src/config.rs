//! Configuration: a TOML file (serde) and command-line flags over it. Validation errors name
//! the TOML key.
//!
//! ```toml
//! listen = "127.0.0.1:5070"        # UDP and TCP
//! http_listen = "127.0.0.1:9090"   # optional: GET /metrics (Prometheus) and /healthz
//! algorithm = "round-robin"        # round-robin | weighted | hash | least-loaded
//! invite_timeout = 4               # seconds without any reply before an INVITE fails over
//!
//! [probe]
//! interval = 2                     # seconds between OPTIONS probes of one destination
//! timeout = 2                      # seconds without reply = failure
//! down_after = 2                   # consecutive failures before leaving rotation
//! up_after = 1                     # consecutive 2xx before returning
//!
//! [[destination]]
//! uri = "sip:10.0.0.11:5060"
//! weight = 2
//! priority = 0                     # lower first; higher values are backups
//! ```

use std::{net::SocketAddr, path::Path, time::Duration};

use serde::Deserialize;

use crate::{
    destination::{Destination, UriError},
    health::HealthConfig,
    select::Algorithm,
};

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML does not parse or has unknown keys.
    #[error("{path}: {source}")]
    Toml {
        /// The file.
        path: String,
        /// The parser's message (it names the key and line).
        source: Box<toml::de::Error>,
    },
    /// A value is out of range.
    #[error("{key}: {reason}")]
    Invalid {
        /// The TOML key, e.g. `destination[1].weight`.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A destination URI is unusable.
    #[error("{key}: {source}")]
    Uri {
        /// The TOML key.
        key: String,
        /// Why.
        source: UriError,
    },
}

/// The file format.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address for SIP on UDP and TCP.
    pub listen: Option<SocketAddr>,
    /// Address of the HTTP endpoint (`/metrics`, `/healthz`); none when absent.
    pub http_listen: Option<SocketAddr>,
    /// Selection algorithm.
    pub algorithm: Option<Algorithm>,
    /// Seconds without any reply before an INVITE branch fails over (64·T1 of the proxy).
    pub invite_timeout: Option<f64>,
    /// Health checks.
    #[serde(default)]
    pub probe: ProbeFile,
    /// Destinations.
    #[serde(default)]
    pub destination: Vec<DestinationFile>,
}

/// `[probe]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeFile {
    /// Seconds between probes.
    pub interval: Option<f64>,
    /// Seconds without reply that count as failure.
    pub timeout: Option<f64>,
    /// Failures to leave rotation.
    pub down_after: Option<u32>,
    /// Successes to return.
    pub up_after: Option<u32>,
}

/// `[[destination]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationFile {
    /// `sip:HOST:PORT[;transport=tcp]`.
    pub uri: String,
    /// Weight (overrides a `;weight=` URI parameter).
    pub weight: Option<u32>,
    /// Priority (overrides a `;priority=` URI parameter).
    pub priority: Option<u32>,
}

/// Command-line values that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--destination` (replaces the file's list when given).
    pub destinations: Vec<String>,
    /// `--algorithm`.
    pub algorithm: Option<Algorithm>,
    /// `--probe-interval`.
    pub probe_interval: Option<f64>,
    /// `--http-listen`.
    pub http_listen: Option<SocketAddr>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// SIP address (UDP and TCP).
    pub listen: SocketAddr,
    /// HTTP address of `/metrics` and `/healthz` (none: no HTTP endpoint).
    pub http_listen: Option<SocketAddr>,
    /// Selection algorithm.
    pub algorithm: Algorithm,
    /// No reply at all after this long: the branch fails over.
    pub invite_timeout: Duration,
    /// Health checks.
    pub health: HealthConfig,
    /// Destinations, in [`crate::DestId`] order.
    pub destinations: Vec<Destination>,
}

fn seconds(key: &str, v: f64, min: f64, max: f64) -> Result<Duration, ConfigError> {
    if !(v.is_finite() && v >= min && v <= max) {
        return Err(ConfigError::Invalid {
            key: key.to_owned(),
            reason: "out of range",
        });
    }
    Ok(Duration::from_secs_f64(v))
}

impl FileConfig {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Toml { source, .. } => ConfigError::Toml {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Toml {
            path: "config".into(),
            source: Box::new(e),
        })
    }

    /// Applies the flags and validates.
    pub fn resolve(self, o: Overrides) -> Result<Config, ConfigError> {
        let listen = o
            .listen
            .or(self.listen)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 5060)));
        let invite_timeout = seconds(
            "invite_timeout",
            self.invite_timeout.unwrap_or(4.0),
            0.5,
            32.0,
        )?;
        let health = HealthConfig {
            interval: seconds(
                "probe.interval",
                o.probe_interval.or(self.probe.interval).unwrap_or(2.0),
                0.1,
                3600.0,
            )?,
            timeout: seconds(
                "probe.timeout",
                self.probe.timeout.unwrap_or(2.0),
                0.1,
                60.0,
            )?,
            down_after: positive("probe.down_after", self.probe.down_after.unwrap_or(2))?,
            up_after: positive("probe.up_after", self.probe.up_after.unwrap_or(1))?,
        };
        let mut destinations = Vec::new();
        if o.destinations.is_empty() {
            for (i, d) in self.destination.iter().enumerate() {
                let key = format!("destination[{i}]");
                let mut dest = Destination::parse(&d.uri).map_err(|source| ConfigError::Uri {
                    key: format!("{key}.uri"),
                    source,
                })?;
                if let Some(w) = d.weight {
                    dest.weight = positive_key(format!("{key}.weight"), w)?;
                }
                if let Some(p) = d.priority {
                    dest.priority = p;
                }
                destinations.push(dest);
            }
        } else {
            for (i, uri) in o.destinations.iter().enumerate() {
                destinations.push(Destination::parse(uri).map_err(|source| ConfigError::Uri {
                    key: format!("--destination #{}", i + 1),
                    source,
                })?);
            }
        }
        if destinations.is_empty() {
            return Err(ConfigError::Invalid {
                key: "destination".into(),
                reason: "at least one destination is needed",
            });
        }
        Ok(Config {
            listen,
            http_listen: o.http_listen.or(self.http_listen),
            algorithm: o.algorithm.or(self.algorithm).unwrap_or_default(),
            invite_timeout,
            health,
            destinations,
        })
    }
}

fn positive(key: &str, v: u32) -> Result<u32, ConfigError> {
    positive_key(key.to_owned(), v)
}

fn positive_key(key: String, v: u32) -> Result<u32, ConfigError> {
    if v == 0 {
        return Err(ConfigError::Invalid {
            key,
            reason: "must be at least 1",
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_flags() {
        let f = FileConfig::parse(
            r#"
listen = "127.0.0.1:5070"
algorithm = "weighted"
[probe]
interval = 1.5
[[destination]]
uri = "sip:127.0.0.1:5080"
weight = 3
[[destination]]
uri = "sip:127.0.0.1:5081;transport=tcp"
priority = 1
"#,
        )
        .unwrap();
        let c = f.clone().resolve(Overrides::default()).unwrap();
        assert_eq!(c.algorithm, Algorithm::Weighted);
        assert_eq!(c.health.interval, Duration::from_millis(1500));
        assert_eq!(c.destinations[0].weight, 3);
        assert_eq!(c.destinations[1].priority, 1);
        let c = f
            .resolve(Overrides {
                destinations: vec!["sip:127.0.0.1:6000;weight=2".into()],
                algorithm: Some(Algorithm::Hash),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(c.destinations.len(), 1);
        assert_eq!(c.algorithm, Algorithm::Hash);
    }

    #[test]
    fn errors_name_the_key() {
        let bad = |text: &str| {
            FileConfig::parse(text)
                .and_then(|f| f.resolve(Overrides::default()))
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad("[[destination]]\nuri = \"sip:127.0.0.1:1\"\nweight = 0")
                .starts_with("destination[0].weight")
        );
        assert!(bad("[[destination]]\nuri = \"tel:1\"").starts_with("destination[0].uri"));
        assert!(bad("").starts_with("destination:"));
        assert!(
            bad("[probe]\ninterval = -1\n[[destination]]\nuri = \"sip:127.0.0.1:1\"")
                .starts_with("probe.interval")
        );
        assert!(bad("algorithm = \"random\"").contains("algorithm"));
        assert!(bad("colour = 1").contains("colour"));
    }
}
