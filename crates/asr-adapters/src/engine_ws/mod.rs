//! A recognizer served by an external engine over **engine-ws v1** (`docs/engine-ws.md` §2): any program
//! that speaks the protocol — in Python, Node, Go… — recognizes for the server, as do unmodified jambonz
//! custom STT servers (§6).
//!
//! Each RECOGNIZE opens one WebSocket ([`EngineWsRecognizer::start`] returns at once; a task of its own
//! connects within the connect timeout), sends `start` with the language, rate, n-best, the grammars as hints
//! and as JSGF, and the Vendor-Specific-Parameters, streams the server's PCM as binary frames, sends `stop` when
//! the server's endpointer ends the input, and reports the engine's `final` as [`RecognizerEvent::Final`](crate::RecognizerEvent::Final)
//! (its `interim`, `speech_start`, `speech_end` as the other events). Dropping the stream sends `cancel` and
//! closes. Refusals, the engine's `error`, a close without a result, a lost connection and a `final` later
//! than the result timeout become an [`EngineError`] with the engine's message, which the server reports as
//! Completion-Cause 006. The credential is sent as `Authorization: Bearer` and never appears in an error or
//! a log line.
//!
//! ```rust,no_run
//! use std::time::Duration;
//! use asr_adapters::engine_ws::{EngineWsConfig, EngineWsRecognizer};
//! use asr_adapters::{Constraint, RecognitionRequest, Recognizer, RecognizerEvent};
//!
//! # async fn demo() -> Result<(), asr_adapters::EngineError> {
//! let engine = EngineWsRecognizer::new("sphinx-ws", EngineWsConfig::new("ws://127.0.0.1:2700/asr"))?;
//! let mut stream = engine.start(RecognitionRequest {
//!     language: None,
//!     constraint: Constraint::Dictation,
//!     n_best: 1,
//!     vendor_parameters: vec![],
//! })?;
//! stream.push(vec![0i16; 160]).await.ok();
//! stream.finish(); // sends `stop`
//! while let Some(event) = stream.next_event().await {
//!     if let RecognizerEvent::Final(alternatives) = event? {
//!         println!("{alternatives:?}");
//!         break;
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod connect;
mod driver;
pub mod message;

use std::sync::Arc;
use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, Secret};

use crate::{
    GrammarSupport, RecognitionRequest, RecognitionStream, Recognizer, RecognizerCapabilities,
    recognition_channel,
};

pub use connect::redacted;

/// How to reach an engine-ws recognizer.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineWsConfig {
    /// `ws://` or `wss://` URL of the engine.
    pub url: String,
    /// Sent as `Authorization: Bearer`, when set.
    pub credential: Option<Secret>,
    /// `sampleRateHz`: the rate the server resamples the caller's audio to. Default 8000 (jambonz's).
    pub sample_rate: u32,
    /// `language` when the request has no Speech-Language. Default `en-US`.
    pub language: String,
    /// TCP, TLS and the upgrade must finish within it. Default 5 s.
    pub connect_timeout: Duration,
    /// The `final` must arrive within it after `stop`. Default 5 s.
    pub result_timeout: Duration,
    /// `timeouts.idleMs` sent to the engine. Default 10 s.
    pub idle_timeout: Duration,
    /// `interimResults`. Default false.
    pub interim_results: bool,
}

impl EngineWsConfig {
    /// The defaults for an engine at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            credential: None,
            sample_rate: 8000,
            language: "en-US".to_owned(),
            connect_timeout: Duration::from_secs(5),
            result_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            interim_results: false,
        }
    }
}

/// The engine-ws recognizer.
#[derive(Debug, Clone)]
pub struct EngineWsRecognizer {
    name: String,
    config: Arc<EngineWsConfig>,
    capabilities: RecognizerCapabilities,
}

impl EngineWsRecognizer {
    /// A recognizer named `name`; fails when the URL is not `ws://`/`wss://` or the rate is out of range.
    pub fn new(name: impl Into<String>, config: EngineWsConfig) -> Result<Self, EngineError> {
        let name = name.into();
        let scheme_ok = config.url.starts_with("ws://") || config.url.starts_with("wss://");
        if !scheme_ok {
            return Err(EngineError::new(
                name,
                EngineErrorKind::BadRequest,
                format!(
                    "engine URL {} is not ws:// or wss://",
                    connect::redacted(&config.url)
                ),
            ));
        }
        if !(8000..=48_000).contains(&config.sample_rate) {
            return Err(EngineError::new(
                name,
                EngineErrorKind::BadRequest,
                format!(
                    "sample rate {} Hz is outside 8000-48000",
                    config.sample_rate
                ),
            ));
        }
        Ok(Self {
            capabilities: RecognizerCapabilities {
                sample_rate: config.sample_rate,
                languages: Vec::new(),
                grammar_support: GrammarSupport::Hints,
            },
            name,
            config: Arc::new(config),
        })
    }
}

impl Recognizer for EngineWsRecognizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &RecognizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: RecognitionRequest) -> Result<RecognitionStream, EngineError> {
        let (stream, side) = recognition_channel();
        let job = driver::Job {
            engine: self.name.clone(),
            config: Arc::clone(&self.config),
            request,
        };
        tokio::spawn(job.run(side));
        Ok(stream)
    }
}
