//! OpenAI-compatible speech recognition: [`OpenAiTranscriber`] uploads each utterance to
//! `POST {base_url}/v1/audio/transcriptions` (OpenAI, and self-hosted servers with the same API: speaches,
//! LocalAI, vLLM, whisper.cpp's server with `--inference-path /v1/audio/transcriptions`), and
//! [`OpenAiRealtime`] streams audio over the Realtime API's transcription sessions
//! (`wss://…/v1/realtime?intent=transcription`).
//!
//! Documentation followed (checked 2026-11-23):
//! - the transcription request and its multipart fields (`file`, `model`, `language`, `prompt`,
//!   `response_format`): <https://platform.openai.com/docs/api-reference/audio/createTranscription>;
//! - the error envelope `{"error":{"message","type","param","code"}}` and 401 `invalid_api_key`:
//!   <https://help.openai.com/en/articles/6891781-error-code-401-incorrect-api-key-provided>;
//! - Realtime transcription sessions, `input_audio_buffer.append/commit`, the
//!   `conversation.item.input_audio_transcription.delta/completed/failed` events, and `audio/pcm` at
//!   24 kHz only: <https://developers.openai.com/api/docs/guides/realtime-transcription>.
//!
//! # The REST transcriber
//! The server's endpointer decides where the utterance ends; until then the adapter buffers the audio (at
//! most `max_audio_s`), then uploads it once as a 16-bit mono WAV. The grammars' phrases go in `prompt`
//! (they bias Whisper-family models towards the expected words); the server matches the transcript against
//! the grammars ([`GrammarSupport::Hints`]). The endpoint gives no interim results, and a confidence only
//! with `response_format = "verbose_json"` (whisper) or log-probabilities; otherwise `default_confidence`.
//! 429 and 503 are retried per [`RetryPolicy`] (honouring `Retry-After`); other failures end the
//! recognition with an [`EngineError`] carrying the vendor's message, which the server reports as
//! Completion-Cause 006.
//!
//! # The Realtime recognizer
//! One transcription session per RECOGNIZE. The engine declares 24 kHz for `audio/pcm` (the server resamples
//! the call with rubato) or 8 kHz for `audio/pcmu`; `session.update` sets `turn_detection: null`, so the
//! server's endpointer, not OpenAI's VAD, ends the utterance, and the input is then committed. Deltas become
//! [`RecognizerEvent::Partial`]s; `completed` is the final result (confidence from log-probabilities when
//! present, else 0.9). Under 100 ms of audio is no result (the API refuses to commit it). An `error` event,
//! a `…failed` event, a close frame or a lost connection ends the recognition with the vendor's message;
//! `connect_timeout_ms` bounds the handshake (429/503 retried) and `result_timeout_ms` the wait for the
//! transcript. The session is closed on completion and when the server drops the recognition.
//!
//! Limits: no SSE streaming of REST transcriptions (`stream=true`), no server VAD turn detection, one
//! alternative per result (neither endpoint returns n-best).

mod http;
mod realtime;
mod wire;

pub(crate) use crate::net::{clean_message, is_retryable, retry_after};
pub(crate) use http::{backoff, le_bytes, status_error, transport_error, websocket_base};
pub use realtime::{OpenAiRealtime, OpenAiRealtimeConfig, RealtimeAudioFormat};

use std::sync::Arc;
use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::{
    Alternative, Constraint, EngineSide, GrammarSupport, RecognitionRequest, RecognitionStream,
    Recognizer, RecognizerCapabilities, RecognizerEvent, recognition_channel,
};

/// `[engines.<name>.recognizer]` of a `kind = "openai"` engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiTranscriptionConfig {
    /// `model`: e.g. `gpt-4o-mini-transcribe`, `gpt-4o-transcribe`, `whisper-1`, or a self-hosted model
    /// name (`Systran/faster-whisper-small`). Default `"gpt-4o-mini-transcribe"`.
    pub model: String,
    /// `path`: the endpoint under the base URL. Default `"/v1/audio/transcriptions"`.
    pub path: String,
    /// `sample_rate`: the rate of the uploaded WAV (the server resamples the call to it). Default 16000.
    pub sample_rate: u32,
    /// `response_format`: `"json"` or `"verbose_json"` (whisper models; gives a confidence). Default
    /// `"json"`.
    pub response_format: String,
    /// `default_confidence`: the confidence reported when the response carries none. Default 0.9.
    pub default_confidence: f32,
    /// `language`: an ISO-639-1 code sent when the request has no Speech-Language (which wins, cut to its
    /// primary subtag). Default none: the model detects the language.
    pub language: Option<String>,
    /// `prompt_from_grammars`: send the grammars' phrases as `prompt`. Default true.
    pub prompt_from_grammars: bool,
    /// `connect_timeout_ms`: the longest a connection may take. Default 3000.
    pub connect_timeout_ms: u64,
    /// `result_timeout_ms`: the longest the upload and transcription may take. Default 8000.
    pub result_timeout_ms: u64,
    /// `max_retries`: retries after a 429 or 503. Default 2.
    pub max_retries: u32,
    /// `max_audio_s`: the most audio uploaded per utterance; the rest is dropped. Default 60.
    pub max_audio_s: u32,
}

impl Default for OpenAiTranscriptionConfig {
    fn default() -> Self {
        Self {
            model: "gpt-4o-mini-transcribe".to_owned(),
            path: "/v1/audio/transcriptions".to_owned(),
            sample_rate: 16_000,
            response_format: "json".to_owned(),
            default_confidence: 0.9,
            language: None,
            prompt_from_grammars: true,
            connect_timeout_ms: 3000,
            result_timeout_ms: 8000,
            max_retries: 2,
            max_audio_s: 60,
        }
    }
}

/// The most characters of grammar phrases put in `prompt` (Whisper reads about 224 tokens of it).
const MAX_PROMPT_CHARS: usize = 600;

/// The language code OpenAI takes (ISO-639-1) from an MRCP Speech-Language (BCP 47): its primary subtag.
pub(crate) fn iso639_1(language: &str) -> String {
    language
        .split(['-', '_'])
        .next()
        .unwrap_or(language)
        .to_ascii_lowercase()
}

/// Grammar phrases as a prompt: comma-separated, at most [`MAX_PROMPT_CHARS`].
pub(crate) fn prompt_of(request: &RecognitionRequest) -> Option<String> {
    let Constraint::Grammars(grammars) = &request.constraint else {
        return None;
    };
    let mut prompt = String::new();
    for phrase in &grammars.phrases {
        if prompt.len() + phrase.len() + 2 > MAX_PROMPT_CHARS {
            break;
        }
        if !prompt.is_empty() {
            prompt.push_str(", ");
        }
        prompt.push_str(phrase);
    }
    (!prompt.is_empty()).then_some(prompt)
}

struct Inner {
    name: String,
    url: String,
    api_key: Option<Secret>,
    config: OpenAiTranscriptionConfig,
    client: reqwest::Client,
    retry: RetryPolicy,
}

/// The REST transcription recognizer (one upload per utterance).
pub struct OpenAiTranscriber {
    inner: Arc<Inner>,
    capabilities: RecognizerCapabilities,
}

impl std::fmt::Debug for OpenAiTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiTranscriber")
            .field("name", &self.inner.name)
            .field("url", &self.inner.url)
            .finish_non_exhaustive()
    }
}

impl OpenAiTranscriber {
    /// A recognizer named `name` for the server at `base_url` (`https://api.openai.com`); `api_key` is sent
    /// as a Bearer token when given (self-hosted servers often need none).
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Option<Secret>,
        config: OpenAiTranscriptionConfig,
    ) -> Result<Self, EngineError> {
        let name = name.into();
        if !(8000..=48_000).contains(&config.sample_rate) {
            return Err(EngineError::new(
                name,
                EngineErrorKind::BadRequest,
                format!(
                    "sample_rate {} is not within 8000-48000",
                    config.sample_rate
                ),
            ));
        }
        let client =
            crate::net::http_client(&name, Duration::from_millis(config.connect_timeout_ms))?;
        let url = format!("{}{}", base_url.trim_end_matches('/'), config.path);
        let capabilities = RecognizerCapabilities {
            sample_rate: config.sample_rate,
            languages: Vec::new(),
            grammar_support: GrammarSupport::Hints,
        };
        let retry = RetryPolicy {
            max_retries: config.max_retries,
            ..RetryPolicy::default()
        };
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                url,
                api_key,
                config,
                client,
                retry,
            }),
            capabilities,
        })
    }
}

impl Recognizer for OpenAiTranscriber {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> &RecognizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: RecognitionRequest) -> Result<RecognitionStream, EngineError> {
        let (stream, side) = recognition_channel();
        let inner = self.inner.clone();
        tokio::spawn(run(inner, request, side));
        Ok(stream)
    }
}

async fn run(inner: Arc<Inner>, request: RecognitionRequest, side: EngineSide) {
    let EngineSide { audio, events } = side;
    let outcome = tokio::select! {
        outcome = recognize(&inner, &request, audio) => outcome,
        // STOP, barge-in or BYE: the server dropped the stream; the upload is dropped with this future.
        () = events.closed() => return,
    };
    let _ = events.send(outcome.map(RecognizerEvent::Final)).await;
}

async fn recognize(
    inner: &Inner,
    request: &RecognitionRequest,
    mut audio: mpsc::Receiver<Vec<i16>>,
) -> Result<Vec<Alternative>, EngineError> {
    let max = inner.config.max_audio_s as usize * inner.config.sample_rate as usize;
    let mut samples = Vec::new();
    while let Some(frame) = audio.recv().await {
        let room = max.saturating_sub(samples.len());
        samples.extend(frame.iter().take(room));
    }
    // Under 100 ms is no utterance (OpenAI refuses such files too).
    if samples.len() < inner.config.sample_rate as usize / 10 {
        return Ok(Vec::new());
    }
    let wav = http::wav_bytes(&samples, inner.config.sample_rate).map_err(|e| {
        EngineError::new(
            &inner.name,
            EngineErrorKind::Internal,
            format!("cannot encode WAV: {e}"),
        )
    })?;
    let body = upload(inner, request, wav).await?;
    wire::parse_transcription(&body, inner.config.default_confidence)
        .map_err(|e| EngineError::new(&inner.name, EngineErrorKind::Internal, e.to_string()))
}

async fn upload(
    inner: &Inner,
    request: &RecognitionRequest,
    wav: Vec<u8>,
) -> Result<Vec<u8>, EngineError> {
    let config = &inner.config;
    let language = request
        .language
        .as_deref()
        .or(config.language.as_deref())
        .map(iso639_1);
    let prompt = config
        .prompt_from_grammars
        .then(|| prompt_of(request))
        .flatten();
    let mut retry = 0;
    loop {
        let file = reqwest::multipart::Part::bytes(wav.clone())
            .file_name("utterance.wav")
            .mime_str("audio/wav")
            .map_err(|e| EngineError::new(&inner.name, EngineErrorKind::Internal, e.to_string()))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", config.model.clone())
            .text("response_format", config.response_format.clone());
        if let Some(language) = &language {
            form = form.text("language", language.clone());
        }
        if let Some(prompt) = &prompt {
            form = form.text("prompt", prompt.clone());
        }
        let mut post = inner
            .client
            .post(&inner.url)
            .multipart(form)
            .timeout(Duration::from_millis(config.result_timeout_ms));
        if let Some(key) = &inner.api_key {
            post = post.bearer_auth(key.expose());
        }
        let response = post
            .send()
            .await
            .map_err(|e| transport_error(&inner.name, &e))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| transport_error(&inner.name, &e));
        }
        let asked = retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        retry += 1;
        if is_retryable(status)
            && let Some(wait) = backoff(&inner.retry, retry, asked)
        {
            tracing::debug!(engine = %inner.name, status, ?wait, "transcription refused for now; retrying");
            tokio::time::sleep(wait).await;
            continue;
        }
        let message = clean_message(&wire::error_message(&text), inner.api_key.as_ref());
        return Err(status_error(&inner.name, status, &message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompiledGrammars;

    #[test]
    fn languages_are_cut_to_iso_639_1() {
        assert_eq!(iso639_1("en-US"), "en");
        assert_eq!(iso639_1("zh_CN"), "zh");
        assert_eq!(iso639_1("FR"), "fr");
    }

    #[test]
    fn grammar_phrases_become_a_bounded_prompt() {
        let request = RecognitionRequest {
            language: None,
            constraint: Constraint::Grammars(CompiledGrammars {
                phrases: vec!["yes".into(), "no".into(), "x".repeat(700)],
                ..CompiledGrammars::default()
            }),
            n_best: 1,
            vendor_parameters: Vec::new(),
        };
        assert_eq!(prompt_of(&request).as_deref(), Some("yes, no"));
        let dictation = RecognitionRequest {
            constraint: Constraint::Dictation,
            ..request
        };
        assert_eq!(prompt_of(&dictation), None);
    }
}
