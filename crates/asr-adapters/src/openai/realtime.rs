//! OpenAI Realtime transcription over WebSocket (`…/v1/realtime?intent=transcription`): one session per
//! RECOGNIZE, audio appended as base64 `audio/pcm` at 24 kHz (the server resamples the call with rubato to
//! the rate this engine declares) or `audio/pcmu` at 8 kHz, the input committed when the server's
//! endpointer ends it (`turn_detection: null`: the server, not OpenAI, decides where the utterance ends),
//! `…input_audio_transcription.delta` reported as partial results and `…completed` as the final one.

use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use serde::Deserialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::wire::{self, ServerEvent};
use super::{clean_message, iso639_1, le_bytes, prompt_of};
use crate::net::{
    HandshakeRefusal, WsConnect, WsStream, connect_ws, credential_header, refusal_text,
};
use crate::{
    Alternative, EngineSide, GrammarSupport, RecognitionRequest, RecognitionStream, Recognizer,
    RecognizerCapabilities, RecognizerEvent, recognition_channel,
};

/// The audio format sent to the Realtime API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RealtimeAudioFormat {
    /// `audio/pcm`: 16-bit little-endian at 24 kHz, the only PCM rate the API takes.
    Pcm,
    /// `audio/pcmu`: G.711 μ-law at 8 kHz, no resampling (the call's own rate).
    Pcmu,
}

/// `[engines.<name>]` of a `kind = "openai-realtime"` engine (besides `base_url` and `api_key`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiRealtimeConfig {
    /// `model`: the transcription model. Default `"gpt-4o-mini-transcribe"`.
    pub model: String,
    /// `path`: the Realtime endpoint under the base URL. Default `"/v1/realtime"`.
    pub path: String,
    /// `audio_format`: `"pcm"` (24 kHz) or `"pcmu"` (8 kHz μ-law). Default `"pcm"`.
    pub audio_format: RealtimeAudioFormat,
    /// `language`: ISO-639-1, when the request has no Speech-Language. Default none.
    pub language: Option<String>,
    /// `prompt_from_grammars`: send the grammars' phrases as the transcription prompt. Default true.
    pub prompt_from_grammars: bool,
    /// `noise_reduction`: `"near_field"` or `"far_field"`; none by default.
    pub noise_reduction: Option<String>,
    /// `connect_timeout_ms`: the longest the WebSocket handshake may take. Default 3000.
    pub connect_timeout_ms: u64,
    /// `result_timeout_ms`: the longest from the end of input to the final transcript. Default 8000.
    pub result_timeout_ms: u64,
    /// `max_retries`: retries of a handshake refused with 429 or 503. Default 2.
    pub max_retries: u32,
}

impl Default for OpenAiRealtimeConfig {
    fn default() -> Self {
        Self {
            model: "gpt-4o-mini-transcribe".to_owned(),
            path: "/v1/realtime".to_owned(),
            audio_format: RealtimeAudioFormat::Pcm,
            language: None,
            prompt_from_grammars: true,
            noise_reduction: None,
            connect_timeout_ms: 3000,
            result_timeout_ms: 8000,
            max_retries: 2,
        }
    }
}

/// The Realtime transcription recognizer.
pub struct OpenAiRealtime {
    inner: std::sync::Arc<Inner>,
    capabilities: RecognizerCapabilities,
}

struct Inner {
    name: String,
    url: String,
    api_key: Option<Secret>,
    config: OpenAiRealtimeConfig,
    retry: RetryPolicy,
}

impl std::fmt::Debug for OpenAiRealtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiRealtime")
            .field("name", &self.inner.name)
            .field("url", &self.inner.url)
            .finish_non_exhaustive()
    }
}

impl OpenAiRealtime {
    /// A recognizer named `name` for the API at `base_url` (`https://api.openai.com`; the WebSocket URL is
    /// derived from it).
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Option<Secret>,
        config: OpenAiRealtimeConfig,
    ) -> Self {
        let url = format!(
            "{}{}?intent=transcription",
            super::websocket_base(base_url),
            config.path
        );
        let sample_rate = match config.audio_format {
            RealtimeAudioFormat::Pcm => 24_000,
            RealtimeAudioFormat::Pcmu => 8000,
        };
        let retry = RetryPolicy {
            max_retries: config.max_retries,
            ..RetryPolicy::default()
        };
        Self {
            inner: std::sync::Arc::new(Inner {
                name: name.into(),
                url,
                api_key,
                config,
                retry,
            }),
            capabilities: RecognizerCapabilities {
                sample_rate,
                languages: Vec::new(),
                grammar_support: GrammarSupport::Hints,
            },
        }
    }
}

impl Recognizer for OpenAiRealtime {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> &RecognizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: RecognitionRequest) -> Result<RecognitionStream, EngineError> {
        let (stream, side) = recognition_channel();
        tokio::spawn(run(self.inner.clone(), request, side));
        Ok(stream)
    }
}

type Socket = WsStream;

async fn run(inner: std::sync::Arc<Inner>, request: RecognitionRequest, side: EngineSide) {
    let EngineSide { audio, events } = side;
    if let Err(error) = session(&inner, &request, audio, &events).await {
        // Fails harmlessly when the server has dropped the recognition.
        let _ = events.send(Err(error)).await;
    }
}

/// One transcription session; the final result is sent from inside, as soon as it arrives.
async fn session(
    inner: &Inner,
    request: &RecognitionRequest,
    mut audio: tokio::sync::mpsc::Receiver<Vec<i16>>,
    events: &tokio::sync::mpsc::Sender<Result<RecognizerEvent, EngineError>>,
) -> Result<(), EngineError> {
    let name = inner.name.as_str();
    let mut ws = connect(inner).await?;
    let config = &inner.config;
    let mut transcription = json!({ "model": config.model });
    if let Some(language) = request.language.as_deref().or(config.language.as_deref()) {
        transcription["language"] = json!(iso639_1(language));
    }
    if config.prompt_from_grammars
        && let Some(prompt) = prompt_of(request)
    {
        transcription["prompt"] = json!(prompt);
    }
    let format = match config.audio_format {
        RealtimeAudioFormat::Pcm => json!({ "type": "audio/pcm", "rate": 24000 }),
        RealtimeAudioFormat::Pcmu => json!({ "type": "audio/pcmu" }),
    };
    let mut input =
        json!({ "format": format, "transcription": transcription, "turn_detection": null });
    if let Some(nr) = &config.noise_reduction {
        input["noise_reduction"] = json!({ "type": nr });
    }
    let update = json!({ "type": "session.update", "session": { "type": "transcription", "audio": { "input": input } } });
    send(&mut ws, name, update.to_string()).await?;

    let rate = match config.audio_format {
        RealtimeAudioFormat::Pcm => 24_000u64,
        RealtimeAudioFormat::Pcmu => 8000,
    };
    let mut samples_sent = 0u64;
    let mut input_open = true;
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut partial = String::new();
    loop {
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = audio.recv(), if input_open => match frame {
                Some(samples) => {
                    samples_sent += samples.len() as u64;
                    let bytes = match config.audio_format {
                        RealtimeAudioFormat::Pcm => le_bytes(&samples),
                        RealtimeAudioFormat::Pcmu => {
                            let mut out = Vec::with_capacity(samples.len());
                            mrcp_proto::rtp::g711::encode_ulaw(&samples, &mut out);
                            out
                        }
                    };
                    let audio = base64::engine::general_purpose::STANDARD.encode(bytes);
                    send(&mut ws, name, json!({ "type": "input_audio_buffer.append", "audio": audio }).to_string()).await?;
                }
                None => {
                    input_open = false;
                    // The API refuses to commit less than 100 ms of audio: that is no utterance.
                    if samples_sent * 10 < rate {
                        let _ = events.send(Ok(RecognizerEvent::Final(Vec::new()))).await;
                        let _ = ws.close(None).await;
                        return Ok(());
                    }
                    send(&mut ws, name, json!({ "type": "input_audio_buffer.commit" }).to_string()).await?;
                    deadline = Some(tokio::time::Instant::now() + Duration::from_millis(config.result_timeout_ms));
                }
            },
            message = ws.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                        return Err(EngineError::new(name, EngineErrorKind::Unavailable, format!("the vendor closed the session: {why}").trim_end().to_owned()));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(EngineError::new(name, EngineErrorKind::Unavailable, format!("connection lost: {e}"))),
                    None => return Err(EngineError::new(name, EngineErrorKind::Unavailable, "connection lost")),
                };
                let event = wire::parse_event(text.as_str()).map_err(|e| {
                    EngineError::new(name, EngineErrorKind::Internal, format!("unreadable Realtime event: {e}"))
                })?;
                match event {
                    ServerEvent::Delta { delta } => {
                        partial.push_str(&delta);
                        // Interim news is dropped rather than waited for when the server is behind.
                        let _ = events.try_send(Ok(RecognizerEvent::Partial { text: partial.trim().to_owned() }));
                    }
                    ServerEvent::Completed { transcript, logprobs } => {
                        let text = transcript.trim().to_owned();
                        let result = if text.is_empty() {
                            Vec::new()
                        } else {
                            let confidence = logprobs
                                .and_then(|l| wire::confidence_of(l.iter().filter_map(|t| t.logprob)))
                                .unwrap_or(0.9);
                            vec![Alternative { text, confidence }]
                        };
                        let _ = events.send(Ok(RecognizerEvent::Final(result))).await;
                        let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(None)).await;
                        return Ok(());
                    }
                    ServerEvent::SpeechStarted => {
                        let _ = events.try_send(Ok(RecognizerEvent::SpeechStarted));
                    }
                    ServerEvent::SpeechStopped => {
                        let _ = events.try_send(Ok(RecognizerEvent::SpeechEnded));
                    }
                    ServerEvent::Failed { error } => {
                        let message = clean_message(&error.message, inner.api_key.as_ref());
                        return Err(EngineError::new(name, EngineErrorKind::Internal, format!("transcription failed: {message}")));
                    }
                    ServerEvent::Error { error } => {
                        let kind = match error.kind.as_deref() {
                            Some("invalid_request_error") => EngineErrorKind::BadRequest,
                            _ => EngineErrorKind::Internal,
                        };
                        let message = clean_message(&error.message, inner.api_key.as_ref());
                        let code = error.code.map(|c| format!(" ({c})")).unwrap_or_default();
                        return Err(EngineError::new(name, kind, format!("{message}{code}")));
                    }
                    ServerEvent::SessionCreated | ServerEvent::SessionUpdated | ServerEvent::Committed | ServerEvent::Other => {}
                }
            }
            // STOP, barge-in or BYE: the server dropped the recognition; end the session cleanly.
            () = events.closed() => {
                let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(None)).await;
                return Ok(());
            }
            () = timer => {
                return Err(EngineError::new(name, EngineErrorKind::Timeout, format!("no transcript {} ms after the end of input", config.result_timeout_ms)));
            }
        }
    }
}

async fn send(ws: &mut Socket, engine: &str, text: String) -> Result<(), EngineError> {
    ws.send(Message::text(text)).await.map_err(|e| {
        EngineError::new(
            engine,
            EngineErrorKind::Unavailable,
            format!("connection lost: {e}"),
        )
    })
}

/// Opens the WebSocket (`Authorization: Bearer …` when there is a key), retrying a 429 or 503 handshake per
/// the retry policy.
async fn connect(inner: &Inner) -> Result<Socket, EngineError> {
    let name = inner.name.as_str();
    let to = WsConnect {
        engine: name,
        vendor: "OpenAI Realtime",
        connect_timeout: Duration::from_millis(inner.config.connect_timeout_ms),
        retry: &inner.retry,
        max_message: None,
    };
    let authorization = inner
        .api_key
        .as_ref()
        .map(|key| format!("Bearer {}", key.expose()));
    let request = || {
        let mut request = inner.url.as_str().into_client_request().map_err(|e| {
            EngineError::new(
                name,
                EngineErrorKind::BadRequest,
                format!("bad Realtime URL: {e}"),
            )
        })?;
        if let Some(authorization) = &authorization {
            let value = credential_header(name, authorization)?;
            request.headers_mut().insert("authorization", value);
        }
        Ok(request)
    };
    let vendor_message = |response: &HandshakeRefusal| {
        clean_message(
            &wire::error_message(&refusal_text(response)),
            inner.api_key.as_ref(),
        )
    };
    connect_ws(&to, request, vendor_message).await
}
