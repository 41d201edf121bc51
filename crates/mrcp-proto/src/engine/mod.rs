//! The vocabulary engines and the server share to report failures, used by the engine interfaces
//! (`asr-adapters`, `tts-adapters`) and the generic engine protocol alike, and what every cloud adapter needs:
//! credentials that never show ([`Secret`]) and a retry schedule for passing refusals ([`RetryPolicy`]).

use std::fmt;

mod retry;
mod secret;

pub use retry::RetryPolicy;
pub use secret::{Secret, SecretError, SecretSource};

/// The broad kind of an engine failure, which the server maps to a completion cause and a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineErrorKind {
    /// The engine is not installed, not reachable, or out of capacity.
    Unavailable,
    /// The engine refused our credentials.
    Auth,
    /// The engine refused the request (bad grammar, unknown word, unsupported language…).
    BadRequest,
    /// The engine did not answer in time.
    Timeout,
    /// Anything else that went wrong inside the engine.
    Internal,
}

impl EngineErrorKind {
    /// The label used in logs, metrics and the engine protocol.
    pub const fn as_str(self) -> &'static str {
        match self {
            EngineErrorKind::Unavailable => "unavailable",
            EngineErrorKind::Auth => "auth",
            EngineErrorKind::BadRequest => "bad_request",
            EngineErrorKind::Timeout => "timeout",
            EngineErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for EngineErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An engine failure: which engine, what kind, and a message for the operator (never a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine {engine}: {kind}: {message}")]
pub struct EngineError {
    /// The engine's configured name.
    pub engine: String,
    /// The kind, for mapping and metrics.
    pub kind: EngineErrorKind,
    /// What happened, for the log.
    pub message: String,
}

impl EngineError {
    /// Builds an error for the named engine.
    pub fn new(
        engine: impl Into<String>,
        kind: EngineErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            engine: engine.into(),
            kind,
            message: message.into(),
        }
    }
}
