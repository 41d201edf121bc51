//! Fetching what clients name by URI: grammars (`text/uri-list` bodies and external rule references, RFC 6787
//! §9.4.13, §9.8) and prompts (SPEAK `text/uri-list` and SSML `<audio src>`, §8.4.14).
//!
//! A client must not be able to make the server reach what only the server can reach (server-side request
//! forgery): every fetch passes the [`FetchPolicy`] of the `[fetch]` config section first, redirects included,
//! and host names are checked again after resolution so a public name that resolves to `127.0.0.1` is refused
//! too. Bodies are capped at `max_bytes` while they stream in, and the whole fetch at `timeout_ms`.

mod policy;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use serde::Deserialize;

use crate::config::ConfigError;
pub use policy::FetchPolicy;
use policy::GuardedResolver;

/// `[fetch]`: what URIs clients may make the server fetch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// `allowed_schemes`: any of `"http"`, `"https"`, `"file"`. Default `["http", "https"]`.
    pub allowed_schemes: Vec<String>,
    /// `allowed_hosts`: host names (`"prompts.example.com"`, `"*.example.com"`), addresses or CIDR blocks
    /// (`"10.1.0.0/16"`). Empty (the default) allows every host with a public address. A host listed here may
    /// have a private or loopback address.
    pub allowed_hosts: Vec<String>,
    /// `allow_private_addresses`: fetch from loopback, private, link-local and unique-local addresses of any
    /// host. Default false.
    pub allow_private_addresses: bool,
    /// `file_roots`: the directories `file:` URIs may read below (needed when `"file"` is allowed).
    pub file_roots: Vec<PathBuf>,
    /// `max_bytes`: the largest document fetched. Default 4 MiB.
    pub max_bytes: usize,
    /// `timeout_ms`: the longest a fetch may take, connection to last byte. Default 5000.
    pub timeout_ms: u64,
    /// `max_redirects`: redirects followed, each checked like the first URI. Default 3.
    pub max_redirects: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            allowed_schemes: vec!["http".to_owned(), "https".to_owned()],
            allowed_hosts: Vec::new(),
            allow_private_addresses: false,
            file_roots: Vec::new(),
            max_bytes: 4 << 20,
            timeout_ms: 5_000,
            max_redirects: 3,
        }
    }
}

impl FetchConfig {
    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        FetchPolicy::new(self).map(|_| ())
    }
}

/// A fetched document.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URI as asked for.
    pub uri: String,
    /// The media type the server gave (parameters included), if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
    /// `Cache-Control`, for the grammar cache's freshness (RFC 9111).
    pub cache_control: Option<String>,
    /// `Expires`.
    pub expires: Option<String>,
    /// `Date`.
    pub date: Option<String>,
}

/// Why a fetch failed; the message is what the client sees after Failed-URI-Cause, so it names the URI's
/// problem but nothing of the server's internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not a URI.
    #[error("{uri} is not a valid URI")]
    Malformed {
        /// The text.
        uri: String,
    },
    /// The policy forbids it.
    #[error("{uri} is not allowed: {reason}")]
    Forbidden {
        /// The URI.
        uri: String,
        /// Which rule refused it.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{uri} answered HTTP {status}")]
    Status {
        /// The URI.
        uri: String,
        /// The status code.
        status: u16,
    },
    /// The document is larger than `max_bytes`.
    #[error("{uri} is larger than {limit} bytes")]
    TooLarge {
        /// The URI.
        uri: String,
        /// The limit.
        limit: usize,
    },
    /// The fetch took longer than `timeout_ms`.
    #[error("{uri} did not answer within {ms} ms")]
    Timeout {
        /// The URI.
        uri: String,
        /// The limit.
        ms: u64,
    },
    /// Connection, TLS or file error.
    #[error("{uri} could not be fetched: {reason}")]
    Unreachable {
        /// The URI.
        uri: String,
        /// What failed.
        reason: String,
    },
}

/// Fetches documents under a [`FetchPolicy`]; cheap to clone and share between sessions.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl Fetcher {
    /// A fetcher for a validated config.
    pub fn new(config: &FetchConfig) -> Result<Self, ConfigError> {
        // reqwest takes its TLS provider from the process default; the workspace builds rustls with ring only.
        // Installing fails only when another part of the process installed one first, which is as good.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let policy = Arc::new(FetchPolicy::new(config)?);
        let redirects = policy.clone();
        let max_redirects = config.max_redirects;
        let client = reqwest::Client::builder()
            // An operator's HTTP_PROXY would hide the real destination from the address checks.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > max_redirects {
                    attempt.error(format!("more than {max_redirects} redirects"))
                } else if let Err(reason) = redirects.check_url(attempt.url()) {
                    attempt.error(reason)
                } else {
                    attempt.follow()
                }
            }))
            .timeout(policy.timeout())
            .user_agent(concat!("open-mrcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Invalid {
                key: "fetch".to_owned(),
                problem: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self { client, policy })
    }

    /// Fetches `uri` (absolute), within the policy, the size cap and the timeout.
    pub async fn fetch(&self, uri: &str) -> Result<Fetched, FetchError> {
        let url = Url::parse(uri.trim()).map_err(|_| FetchError::Malformed {
            uri: uri.to_owned(),
        })?;
        self.policy
            .check_url(&url)
            .map_err(|reason| FetchError::Forbidden {
                uri: uri.to_owned(),
                reason,
            })?;
        let ms = duration_ms(self.policy.timeout());
        let fetched = if url.scheme() == "file" {
            tokio::time::timeout(self.policy.timeout(), self.read_file(uri, &url)).await
        } else {
            tokio::time::timeout(self.policy.timeout(), self.get(uri, url)).await
        };
        fetched.unwrap_or_else(|_| {
            Err(FetchError::Timeout {
                uri: uri.to_owned(),
                ms,
            })
        })
    }

    async fn get(&self, uri: &str, url: Url) -> Result<Fetched, FetchError> {
        let limit = self.policy.max_bytes();
        let unreachable = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout {
                    uri: uri.to_owned(),
                    ms: duration_ms(self.policy.timeout()),
                }
            } else {
                FetchError::Unreachable {
                    uri: uri.to_owned(),
                    reason: error_chain(&e),
                }
            }
        };
        let mut response = self.client.get(url).send().await.map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                uri: uri.to_owned(),
                status: status.as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            uri: uri.to_owned(),
            limit,
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let cache_control = header(reqwest::header::CACHE_CONTROL);
        let expires = header(reqwest::header::EXPIRES);
        let date = header(reqwest::header::DATE);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            uri: uri.to_owned(),
            content_type,
            body: body.into(),
            cache_control,
            expires,
            date,
        })
    }

    async fn read_file(&self, uri: &str, url: &Url) -> Result<Fetched, FetchError> {
        let unreachable = |reason: String| FetchError::Unreachable {
            uri: uri.to_owned(),
            reason,
        };
        let path = url
            .to_file_path()
            .map_err(|()| unreachable("not a local file path".to_owned()))?;
        let path = tokio::fs::canonicalize(&path)
            .await
            .map_err(|e| unreachable(e.kind().to_string()))?;
        self.policy
            .check_file(&path)
            .map_err(|reason| FetchError::Forbidden {
                uri: uri.to_owned(),
                reason,
            })?;
        let limit = self.policy.max_bytes();
        let size = tokio::fs::metadata(&path)
            .await
            .map_err(|e| unreachable(e.kind().to_string()))?
            .len();
        if size > limit as u64 {
            return Err(FetchError::TooLarge {
                uri: uri.to_owned(),
                limit,
            });
        }
        let body = tokio::fs::read(&path)
            .await
            .map_err(|e| unreachable(e.kind().to_string()))?;
        Ok(Fetched {
            uri: uri.to_owned(),
            content_type: media_type_of(&path).map(str::to_owned),
            body: body.into(),
            cache_control: None,
            expires: None,
            date: None,
        })
    }
}

/// The media type of a local file, from its extension (a file has no Content-Type).
fn media_type_of(path: &std::path::Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "grxml" => "application/srgs+xml",
        "gram" | "abnf" => "application/srgs",
        "jsgf" => "application/x-jsgf",
        "ssml" => "application/ssml+xml",
        "wav" => "audio/wav",
        "txt" => "text/plain",
        _ => return None,
    })
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// reqwest's top-level message is generic ("error sending request"); the cause says what failed.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
