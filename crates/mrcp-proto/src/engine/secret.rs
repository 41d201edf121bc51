//! Credentials for cloud engines: read from an environment variable or a file, never shown.
//!
//! A [`Secret`]'s `Debug` and `Display` print `<redacted>`, so a credential cannot leak through a log line, an
//! error or a config dump by accident; the one way to the value is [`Secret::expose`], at the point where it
//! goes on the wire.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// A credential value. Cloning is cheap enough for per-request use.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (tests, and values read by the caller).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the request that carries it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a credential comes from, as written in the server's config:
/// `api_key = { env = "DEEPGRAM_API_KEY" }` or `api_key = { file = "/run/secrets/deepgram" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretSource {
    /// The named environment variable.
    Env(String),
    /// The whole file, without its trailing newline (Docker and Kubernetes secrets).
    File(PathBuf),
}

/// Why a credential could not be read. The message names the variable or file, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is unset or not UTF-8.
    #[error("environment variable {0} is not set (or is not UTF-8): export it with the credential")]
    EnvMissing(String),
    /// The file could not be read.
    #[error("cannot read credential file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The variable or file is empty.
    #[error("credential {0} is empty")]
    Empty(String),
}

impl SecretSource {
    /// Reads the credential now.
    pub fn load(&self) -> Result<Secret, SecretError> {
        let (value, origin) = match self {
            SecretSource::Env(name) => (
                std::env::var(name).map_err(|_| SecretError::EnvMissing(name.clone()))?,
                name.clone(),
            ),
            SecretSource::File(path) => (
                std::fs::read_to_string(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?,
                path.display().to_string(),
            ),
        };
        let value = value.trim_end_matches(['\r', '\n']);
        if value.is_empty() {
            return Err(SecretError::Empty(origin));
        }
        Ok(Secret(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("sk-very-secret");
        assert!(!format!("{secret:?}").contains("very"));
        assert!(!format!("{secret}").contains("very"));
        assert_eq!(secret.expose(), "sk-very-secret");
    }

    #[test]
    fn a_file_credential_loses_its_trailing_newline() {
        let path = std::env::temp_dir().join(format!("mrcp-secret-{}", std::process::id()));
        std::fs::write(&path, "key123\n").expect("write temp file");
        let secret = SecretSource::File(path.clone()).load().expect("load");
        assert_eq!(secret.expose(), "key123");
        std::fs::write(&path, "\n").expect("write temp file");
        assert!(matches!(
            SecretSource::File(path.clone()).load(),
            Err(SecretError::Empty(_))
        ));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let error = SecretSource::Env("MRCP_TEST_SURELY_UNSET_VARIABLE".into())
            .load()
            .expect_err("unset");
        assert!(
            error
                .to_string()
                .contains("MRCP_TEST_SURELY_UNSET_VARIABLE")
        );
    }

    #[test]
    fn sources_deserialize_from_the_config_shape() {
        #[derive(Deserialize)]
        struct Engine {
            api_key: SecretSource,
        }
        let env: Engine = serde_json::from_str(r#"{"api_key":{"env":"DG_KEY"}}"#).expect("env");
        assert_eq!(env.api_key, SecretSource::Env("DG_KEY".into()));
        let file: Engine =
            serde_json::from_str(r#"{"api_key":{"file":"/run/secrets/dg"}}"#).expect("file");
        assert_eq!(file.api_key, SecretSource::File("/run/secrets/dg".into()));
    }
}
