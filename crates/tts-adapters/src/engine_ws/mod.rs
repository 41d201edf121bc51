//! Synthesizers served by an external engine over **engine-ws v1** (`docs/engine-ws.md`): any program that
//! speaks the protocol synthesizes for the server, streaming over WebSocket ([`EngineWsSynthesizer`], §3) or
//! answering one HTTP POST per prompt ([`HttpSynthesizer`], §4, which jambonz custom TTS servers answer too).
//!
//! Each SPEAK opens one connection ([`Synthesizer::start`] returns at once; a task of its own connects within
//! the connect timeout), sends the text or SSML with the voice, language, prosody and rate, and turns the
//! engine's audio into 20 ms [`SynthesisEvent::Audio`](crate::SynthesisEvent::Audio) frames, its `mark`s into [`SynthesisEvent::Mark`](crate::SynthesisEvent::Mark) in
//! their place and its `done` into [`SynthesisEvent::Done`](crate::SynthesisEvent::Done). Dropping the stream (STOP, barge-in) sends `stop`
//! and closes, or drops the HTTP response. Refusals, the engine's `error` (with its message), a close before
//! `done`, a lost connection and silence longer than the result timeout become an [`EngineError`], which the
//! server reports as Completion-Cause 004 (or 005/002/003 when the message carries the prefixes of
//! [`crate::SynthesisFailure`]). The credential is sent as `Authorization: Bearer`, never logged.
//!
//! ```rust,no_run
//! use tts_adapters::engine_ws::{EngineWsSynthesizer, EngineWsTtsConfig};
//! use tts_adapters::{SynthesisEvent, SynthesisRequest, Synthesizer};
//!
//! # async fn demo() -> Result<(), tts_adapters::EngineError> {
//! let engine = EngineWsSynthesizer::new("espeak-ws", EngineWsTtsConfig::new("ws://127.0.0.1:2701/tts"))?;
//! let mut stream = engine.start(SynthesisRequest::text("Hello"))?;
//! while let Some(event) = stream.next_event().await {
//!     match event? {
//!         SynthesisEvent::Audio(_pcm) => {}
//!         SynthesisEvent::Mark(_name) => {}
//!         SynthesisEvent::Done => break,
//!     }
//! }
//! # Ok(()) }
//! ```

use asr_adapters::engine_ws::connect;
mod http;
pub mod message;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, Secret};

use crate::{
    SynthesisRequest, SynthesisStream, Synthesizer, SynthesizerCapabilities, synthesis_channel,
};

pub use connect::redacted;

/// How to reach an engine-ws synthesizer (WebSocket or HTTP).
#[derive(Debug, Clone, PartialEq)]
pub struct EngineWsTtsConfig {
    /// `ws://`/`wss://` for [`EngineWsSynthesizer`], `http://`/`https://` for [`HttpSynthesizer`].
    pub url: String,
    /// Sent as `Authorization: Bearer`, when set.
    pub credential: Option<Secret>,
    /// `sampleRateHz`: the rate asked of the engine and declared to the server. Default 16000.
    pub sample_rate: u32,
    /// `language` when neither the request nor the SSML names one. Default `en-US`.
    pub language: String,
    /// TCP, TLS and the upgrade (or the HTTP connection) must finish within it. Default 5 s.
    pub connect_timeout: Duration,
    /// The longest silence from the engine while a reply is due: the first audio, each next message. Default
    /// 5 s.
    pub result_timeout: Duration,
}

impl EngineWsTtsConfig {
    /// The defaults for an engine at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            credential: None,
            sample_rate: 16_000,
            language: "en-US".to_owned(),
            connect_timeout: Duration::from_secs(5),
            result_timeout: Duration::from_secs(5),
        }
    }

    fn validate(&self, engine: &str, schemes: [&str; 2]) -> Result<(), EngineError> {
        if !schemes
            .iter()
            .any(|s| self.url.starts_with(&format!("{s}://")))
        {
            return Err(EngineError::new(
                engine,
                EngineErrorKind::BadRequest,
                format!(
                    "engine URL {} is not {}:// or {}://",
                    connect::redacted(&self.url),
                    schemes[0],
                    schemes[1]
                ),
            ));
        }
        if !(8000..=48_000).contains(&self.sample_rate) {
            return Err(EngineError::new(
                engine,
                EngineErrorKind::BadRequest,
                format!("sample rate {} Hz is outside 8000-48000", self.sample_rate),
            ));
        }
        Ok(())
    }

    fn capabilities(&self, reports_marks: bool) -> SynthesizerCapabilities {
        SynthesizerCapabilities {
            sample_rate: self.sample_rate,
            languages: Vec::new(),
            voices: Vec::new(),
            reports_marks,
            takes_lexicons: false,
        }
    }
}

/// The streaming engine-ws synthesizer (§3).
#[derive(Debug, Clone)]
pub struct EngineWsSynthesizer {
    name: String,
    config: Arc<EngineWsTtsConfig>,
    capabilities: SynthesizerCapabilities,
}

impl EngineWsSynthesizer {
    /// A synthesizer named `name`; fails when the URL is not `ws://`/`wss://` or the rate is out of range.
    pub fn new(name: impl Into<String>, config: EngineWsTtsConfig) -> Result<Self, EngineError> {
        let name = name.into();
        config.validate(&name, ["ws", "wss"])?;
        Ok(Self {
            capabilities: config.capabilities(true),
            name,
            config: Arc::new(config),
        })
    }
}

impl Synthesizer for EngineWsSynthesizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        let (stream, sink) = synthesis_channel();
        let job = ws::Job {
            engine: self.name.clone(),
            config: Arc::clone(&self.config),
            request,
        };
        tokio::spawn(job.run(sink));
        Ok(stream)
    }
}

/// The HTTP engine-ws synthesizer (§4).
#[derive(Debug, Clone)]
pub struct HttpSynthesizer {
    name: String,
    config: Arc<EngineWsTtsConfig>,
    client: reqwest::Client,
    capabilities: SynthesizerCapabilities,
}

impl HttpSynthesizer {
    /// A synthesizer named `name`; fails when the URL is not `http://`/`https://` or the rate is out of range.
    pub fn new(name: impl Into<String>, config: EngineWsTtsConfig) -> Result<Self, EngineError> {
        let name = name.into();
        config.validate(&name, ["http", "https"])?;
        let client = asr_adapters::net::http_client(&name, config.connect_timeout)?;
        Ok(Self {
            capabilities: config.capabilities(false),
            name,
            config: Arc::new(config),
            client,
        })
    }
}

impl Synthesizer for HttpSynthesizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        let (stream, sink) = synthesis_channel();
        let job = http::Job {
            engine: self.name.clone(),
            config: Arc::clone(&self.config),
            client: self.client.clone(),
            request,
        };
        tokio::spawn(job.run(sink));
        Ok(stream)
    }
}

/// Cuts the engine's audio into 20 ms frames, the size the server paces.
#[derive(Debug)]
struct Framer {
    per_frame: usize,
    pending: Vec<i16>,
}

impl Framer {
    fn new(sample_rate: u32) -> Self {
        Self {
            per_frame: (sample_rate / 50).max(1) as usize,
            pending: Vec::new(),
        }
    }

    /// Whole frames from what has arrived.
    fn frames(&mut self, samples: &[i16]) -> Vec<Vec<i16>> {
        self.pending.extend_from_slice(samples);
        let whole = self.pending.len() / self.per_frame * self.per_frame;
        let rest = self.pending.split_off(whole);
        let full = std::mem::replace(&mut self.pending, rest);
        full.chunks(self.per_frame).map(<[i16]>::to_vec).collect()
    }

    /// What is left, as a last short frame (before a mark or at the end).
    fn flush(&mut self) -> Option<Vec<i16>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framer_cuts_20_ms_and_flushes_the_rest() {
        let mut f = Framer::new(8000);
        assert!(f.frames(&[1; 100]).is_empty());
        let frames = f.frames(&[2; 300]);
        assert_eq!(frames.len(), 2);
        assert!(frames.iter().all(|fr| fr.len() == 160));
        assert_eq!(f.flush(), Some(vec![2; 80]));
        assert_eq!(f.flush(), None);
    }
}
