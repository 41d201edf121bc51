//! OpenAI-compatible speech synthesis: `POST {base_url}/v1/audio/speech` (OpenAI, and servers with the same
//! API: speaches, LocalAI, Kokoro-FastAPI), the audio streamed into the server as it arrives.
//!
//! Documentation followed (checked 2026-11-23):
//! - the request body (`model`, `input` ≤ 4096 characters, `voice`, `instructions`, `response_format`,
//!   `speed` 0.25–4.0): <https://developers.openai.com/api/reference/resources/audio/subresources/speech/methods/create>;
//! - `response_format: "pcm"` is 24 kHz 16-bit signed little-endian mono without a header, `wav` the same
//!   in a RIFF file: <https://platform.openai.com/docs/guides/text-to-speech#supported-output-formats>;
//! - the error envelope `{"error":{"message","type","param","code"}}`:
//!   <https://platform.openai.com/docs/guides/error-codes>.
//!
//! The engine produces 24 kHz PCM (the server resamples to the call's rate). SSML is flattened to text: each
//! run of text between `<mark>`s and `<break>`s is one request, so marks are reported in their place and
//! breaks are silence; longer runs are cut at sentence ends to fit 4096 characters. Prosody-Rate maps to
//! `speed`. 429 and 503 are retried per [`RetryPolicy`]; any other failure, or the connection dropping
//! mid-body, ends the SPEAK with an [`EngineError`] carrying the vendor's message (Completion-Cause 004).

pub(crate) mod stream;

use std::sync::Arc;
use std::time::Duration;

use mrcp_proto::engine::{EngineError, RetryPolicy, Secret};
use serde::Deserialize;
use serde_json::json;

use crate::{
    SynthesisRequest, SynthesisStream, Synthesizer, SynthesizerCapabilities, VoiceInfo,
    synthesis_channel,
};
use stream::{HttpSpeech, parts};

/// The output format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeechFormat {
    /// Raw 24 kHz PCM.
    Pcm,
    /// The same in a WAV file (for servers that lack `pcm`).
    Wav,
}

/// `[engines.<name>.synthesizer]` of a `kind = "openai"` engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiSpeechConfig {
    /// `model`: `gpt-4o-mini-tts`, `tts-1`, `tts-1-hd`, or a self-hosted model. Default `"gpt-4o-mini-tts"`.
    pub model: String,
    /// `path`: default `"/v1/audio/speech"`.
    pub path: String,
    /// `voice`: used when the request names none of `voices`. Default `"alloy"`.
    pub voice: String,
    /// `voices`: the voice names a client may choose with Voice-Name. Default OpenAI's built-in voices.
    pub voices: Vec<String>,
    /// `instructions`: style instructions (gpt-4o-mini-tts). Default none.
    pub instructions: Option<String>,
    /// `response_format`: `"pcm"` or `"wav"`. Default `"pcm"`.
    pub response_format: SpeechFormat,
    /// `sample_rate`: the rate the server returns; OpenAI's is 24000 (a self-hosted server may differ).
    /// Default 24000.
    pub sample_rate: u32,
    /// `max_input_chars`: the longest `input` per request. Default 4096.
    pub max_input_chars: usize,
    /// `connect_timeout_ms`: default 3000.
    pub connect_timeout_ms: u64,
    /// `first_audio_timeout_ms`: the longest until the response starts. Default 8000.
    pub first_audio_timeout_ms: u64,
    /// `max_retries`: retries after 429 or 503. Default 2.
    pub max_retries: u32,
}

impl Default for OpenAiSpeechConfig {
    fn default() -> Self {
        Self {
            model: "gpt-4o-mini-tts".to_owned(),
            path: "/v1/audio/speech".to_owned(),
            voice: "alloy".to_owned(),
            voices: [
                "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                "shimmer", "verse", "marin", "cedar",
            ]
            .map(str::to_owned)
            .to_vec(),
            instructions: None,
            response_format: SpeechFormat::Pcm,
            sample_rate: 24_000,
            max_input_chars: 4096,
            connect_timeout_ms: 3000,
            first_audio_timeout_ms: 8000,
            max_retries: 2,
        }
    }
}

/// The OpenAI-compatible synthesizer.
pub struct OpenAiSpeech {
    name: String,
    url: String,
    api_key: Option<Secret>,
    config: Arc<OpenAiSpeechConfig>,
    client: reqwest::Client,
    capabilities: SynthesizerCapabilities,
}

impl std::fmt::Debug for OpenAiSpeech {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSpeech")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl OpenAiSpeech {
    /// A synthesizer named `name` for the server at `base_url`; `api_key` goes as a Bearer token.
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Option<Secret>,
        config: OpenAiSpeechConfig,
    ) -> Result<Self, EngineError> {
        let name = name.into();
        let client = asr_adapters::net::http_client(
            &name,
            Duration::from_millis(config.connect_timeout_ms),
        )?;
        let voices = config
            .voices
            .iter()
            .map(|v| VoiceInfo {
                name: v.clone(),
                languages: Vec::new(),
                gender: None,
                age: None,
                description: format!("OpenAI voice {v}"),
            })
            .collect();
        let capabilities = SynthesizerCapabilities {
            sample_rate: config.sample_rate,
            languages: Vec::new(),
            voices,
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

    fn voice_for(&self, request: &SynthesisRequest) -> String {
        request
            .voice
            .name
            .as_deref()
            .into_iter()
            .flat_map(str::split_whitespace)
            .find(|n| self.config.voices.iter().any(|v| v.eq_ignore_ascii_case(n)))
            .map_or_else(|| self.config.voice.clone(), str::to_lowercase)
    }
}

/// OpenAI's `speed` for an SSML rate: a multiplier, 0.25–4.0.
fn speed_of(request: &SynthesisRequest) -> Option<f64> {
    let ctx = request.context();
    let rate = f64::from(ctx.prosody.rate);
    ((rate - 1.0).abs() > 0.01).then(|| rate.clamp(0.25, 4.0))
}

fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        message: String,
    }
    serde_json::from_str::<Envelope>(body).map_or_else(|_| body.to_owned(), |e| e.error.message)
}

impl Synthesizer for OpenAiSpeech {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        let parts = parts(&request, self.config.max_input_chars.max(1), &self.name)?;
        let voice = self.voice_for(&request);
        let speed = speed_of(&request);
        let (client, url, config, key) = (
            self.client.clone(),
            self.url.clone(),
            self.config.clone(),
            self.api_key.clone(),
        );
        let format = match config.response_format {
            SpeechFormat::Pcm => "pcm",
            SpeechFormat::Wav => "wav",
        };
        let build = move |text: &str| {
            let mut body = json!({ "model": config.model, "input": text, "voice": voice, "response_format": format });
            if let Some(speed) = speed {
                body["speed"] = json!(speed);
            }
            if let Some(instructions) = &config.instructions {
                body["instructions"] = json!(instructions);
            }
            let mut post = client
                .post(&url)
                .json(&body)
                .timeout(Duration::from_millis(config.first_audio_timeout_ms));
            if let Some(key) = &key {
                post = post.bearer_auth(key.expose());
            }
            post
        };
        let speech = HttpSpeech {
            name: self.name.clone(),
            api_key: self.api_key.clone(),
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
                // STOP or barge-in: dropping the response ends the download.
                () = events.closed() => {}
            }
        });
        Ok(stream)
    }
}
