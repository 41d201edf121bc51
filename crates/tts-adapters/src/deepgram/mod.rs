//! Deepgram text-to-speech (Aura): `POST {base_url}/v1/speak?model=…&encoding=linear16&sample_rate=8000&container=none`
//! with `{"text": …}`, the audio streamed into the server as it arrives.
//!
//! Documentation followed (checked 2026-11-23):
//! - the request, `Authorization: Token <key>`, and the query parameters:
//!   <https://developers.deepgram.com/reference/text-to-speech/speak-request>;
//! - `encoding` (`linear16` = 16-bit signed little-endian PCM), `sample_rate`, `container` (`none` for raw
//!   audio, `wav` by default): <https://developers.deepgram.com/docs/tts-encoding>,
//!   <https://developers.deepgram.com/docs/tts-container>, <https://developers.deepgram.com/docs/tts-media-output-settings>.
//!
//! The engine asks for linear16 at `sample_rate` (8000 by default: telephone audio with no resampling), in
//! no container (a WAV header, if a server sends one anyway, is skipped). Text between SSML marks and breaks
//! is one request each (marks in place, breaks as silence); longer text is cut at sentence ends to
//! `max_input_chars` (Deepgram's limit is 2000 characters). 429 and 503 are retried per [`RetryPolicy`];
//! other failures end the SPEAK with the vendor's `err_msg` (Completion-Cause 004).

use std::sync::Arc;
use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use serde::Deserialize;
use serde_json::json;

use crate::openai::stream::{HttpSpeech, parts};
use crate::{
    SynthesisRequest, SynthesisStream, Synthesizer, SynthesizerCapabilities, VoiceInfo,
    synthesis_channel,
};

/// `[engines.<name>.synthesizer]` of a `kind = "deepgram"` engine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeepgramSpeakConfig {
    /// `model`: the Aura voice model used when the request names none of `voices`. Default
    /// `"aura-2-thalia-en"`.
    pub model: String,
    /// `voices`: models a client may choose with Voice-Name. Default a few English Aura-2 voices.
    pub voices: Vec<String>,
    /// `path`: default `"/v1/speak"`.
    pub path: String,
    /// `sample_rate`: 8000, 16000, 24000, 32000 or 48000. Default 8000.
    pub sample_rate: u32,
    /// `max_input_chars`: the longest text per request. Default 2000.
    pub max_input_chars: usize,
    /// `connect_timeout_ms`: default 3000.
    pub connect_timeout_ms: u64,
    /// `first_audio_timeout_ms`: the longest until the response starts. Default 8000.
    pub first_audio_timeout_ms: u64,
    /// `max_retries`: retries after 429 or 503. Default 2.
    pub max_retries: u32,
}

impl Default for DeepgramSpeakConfig {
    fn default() -> Self {
        Self {
            model: "aura-2-thalia-en".to_owned(),
            voices: [
                "aura-2-thalia-en",
                "aura-2-andromeda-en",
                "aura-2-apollo-en",
                "aura-2-arcas-en",
            ]
            .map(str::to_owned)
            .to_vec(),
            path: "/v1/speak".to_owned(),
            sample_rate: 8000,
            max_input_chars: 2000,
            connect_timeout_ms: 3000,
            first_audio_timeout_ms: 8000,
            max_retries: 2,
        }
    }
}

/// The Deepgram synthesizer.
pub struct DeepgramSpeech {
    name: String,
    url: String,
    api_key: Secret,
    config: Arc<DeepgramSpeakConfig>,
    client: reqwest::Client,
    capabilities: SynthesizerCapabilities,
}

impl std::fmt::Debug for DeepgramSpeech {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepgramSpeech")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Refusal {
        #[serde(default)]
        err_code: String,
        #[serde(default)]
        err_msg: String,
    }
    match serde_json::from_str::<Refusal>(body) {
        Ok(r) if !r.err_msg.is_empty() => format!("{} ({})", r.err_msg, r.err_code),
        _ => body.to_owned(),
    }
}

impl DeepgramSpeech {
    /// A synthesizer named `name` for `base_url` (`https://api.deepgram.com`).
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Secret,
        config: DeepgramSpeakConfig,
    ) -> Result<Self, EngineError> {
        let name = name.into();
        if ![8000, 16_000, 24_000, 32_000, 48_000].contains(&config.sample_rate) {
            return Err(EngineError::new(
                name,
                EngineErrorKind::BadRequest,
                format!(
                    "sample_rate {} is not one of 8000, 16000, 24000, 32000, 48000",
                    config.sample_rate
                ),
            ));
        }
        if reqwest::header::HeaderValue::from_str(&format!("Token {}", api_key.expose())).is_err() {
            return Err(EngineError::new(
                name,
                EngineErrorKind::Auth,
                "the API key is not a valid header value",
            ));
        }
        let client = asr_adapters::net::http_client(
            &name,
            Duration::from_millis(config.connect_timeout_ms),
        )?;
        let capabilities = SynthesizerCapabilities {
            sample_rate: config.sample_rate,
            languages: Vec::new(),
            voices: config
                .voices
                .iter()
                .map(|v| VoiceInfo {
                    name: v.clone(),
                    languages: Vec::new(),
                    gender: None,
                    age: None,
                    description: format!("Deepgram Aura model {v}"),
                })
                .collect(),
            reports_marks: true,
            takes_lexicons: false,
        };
        Ok(Self {
            url: format!("{}{}", base_url.trim_end_matches('/'), config.path),
            name,
            api_key,
            config: Arc::new(config),
            client,
            capabilities,
        })
    }
}

impl Synthesizer for DeepgramSpeech {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        let parts = parts(&request, self.config.max_input_chars.max(1), &self.name)?;
        let model = request
            .voice
            .name
            .as_deref()
            .into_iter()
            .flat_map(str::split_whitespace)
            .find(|n| self.config.voices.iter().any(|v| v.eq_ignore_ascii_case(n)))
            .map_or_else(|| self.config.model.clone(), str::to_lowercase);
        let url = reqwest::Url::parse_with_params(
            &self.url,
            [
                ("model", model.as_str()),
                ("encoding", "linear16"),
                ("sample_rate", &self.config.sample_rate.to_string()),
                ("container", "none"),
            ],
        )
        .map_err(|e| {
            EngineError::new(
                &self.name,
                EngineErrorKind::BadRequest,
                format!("bad URL {}: {e}", self.url),
            )
        })?;
        let (client, key, timeout) = (
            self.client.clone(),
            self.api_key.clone(),
            Duration::from_millis(self.config.first_audio_timeout_ms),
        );
        let build = move |text: &str| {
            client
                .post(url.clone())
                .header(reqwest::header::AUTHORIZATION, {
                    let mut v =
                        reqwest::header::HeaderValue::from_str(&format!("Token {}", key.expose()))
                            // Checked in `new`: the key makes a valid header value.
                            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("Token"));
                    v.set_sensitive(true);
                    v
                })
                .json(&json!({ "text": text }))
                .timeout(timeout)
        };
        let speech = HttpSpeech {
            name: self.name.clone(),
            api_key: Some(self.api_key.clone()),
            retry: RetryPolicy {
                max_retries: self.config.max_retries,
                ..RetryPolicy::default()
            },
            sample_rate: self.config.sample_rate,
            request: Box::new(build),
            error_message,
        };
        let (stream, sink) = synthesis_channel();
        tokio::spawn(async move {
            let events = sink.events;
            tokio::select! {
                () = speech.run(parts, &events) => {}
                () = events.closed() => {}
            }
        });
        Ok(stream)
    }
}
