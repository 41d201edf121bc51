//! An emulator of OpenAI's audio API, following its public documentation (checked 2026-11-23):
//! - `POST /v1/audio/transcriptions` (multipart `file`, `model`, `language`, `prompt`, `response_format`
//!   `json` | `text` | `verbose_json`; 25 MB upload limit):
//!   <https://platform.openai.com/docs/api-reference/audio/createTranscription>;
//! - `POST /v1/audio/speech` (`model`, `input` ≤ 4096 characters, `voice`, `response_format`, `speed`
//!   0.25–4.0; `pcm` = 24 kHz 16-bit LE mono): <https://developers.openai.com/api/reference/resources/audio/subresources/speech/methods/create>,
//!   <https://platform.openai.com/docs/guides/text-to-speech>;
//! - Realtime transcription sessions over WebSocket (`/v1/realtime?intent=transcription`, `session.update`
//!   with `type: "transcription"`, `audio/pcm` at 24 kHz only or `audio/pcmu`/`audio/pcma`,
//!   `input_audio_buffer.append/commit/clear`, the `committed`, `…transcription.delta/completed` events, and
//!   the `error` event, e.g. `input_audio_buffer_commit_empty` under 100 ms):
//!   <https://developers.openai.com/api/docs/guides/realtime-transcription>;
//! - authentication by `Authorization: Bearer <key>`, refused with 401 and the error envelope
//!   `{"error":{"message","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`:
//!   <https://help.openai.com/en/articles/6891781-error-code-401-incorrect-api-key-provided>.
//!
//! Driven by real audio: a transcription returns the scripted transcript only when the upload (or the
//! committed buffer) holds at least 100 ms of voiced audio, else empty text. Speech returns a speech-like
//! signal of a length that grows with the text, streamed in 100 ms chunks. Not emulated: `mp3`, `opus`,
//! `aac`, `flac` output (400 naming the emulator's limit), server VAD turn detection (sessions accept
//! `turn_detection: null` only), SSE streaming.

pub mod control;
mod realtime;
mod rest;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use control::{Faults, Shared, Stats};
use serde_json::json;

/// What the emulator is set up with.
#[derive(Debug, Clone)]
pub struct OpenAiEmulatorConfig {
    /// The API key it accepts.
    pub api_key: String,
    /// Transcripts returned in turn for utterances with speech; the last repeats.
    pub transcripts: Vec<String>,
}

impl Default for OpenAiEmulatorConfig {
    fn default() -> Self {
        Self {
            api_key: "sk-emulator-key".to_owned(),
            transcripts: vec!["yes".to_owned()],
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: OpenAiEmulatorConfig,
    pub(crate) shared: Arc<Shared>,
    pub(crate) next_transcript: std::sync::Mutex<usize>,
}

impl State {
    /// The next scripted transcript.
    pub(crate) fn transcript(&self) -> String {
        let mut next = control::lock(&self.next_transcript);
        let i = (*next).min(self.config.transcripts.len().saturating_sub(1));
        *next += 1;
        self.config.transcripts.get(i).cloned().unwrap_or_default()
    }

    pub(crate) fn final_sent(&self) {
        self.shared.stats().finals_sent.push(Instant::now());
    }

    /// `None` when the request carries the key; else the documented 401.
    pub(crate) fn check_auth(&self, headers: &HeaderMap) -> Option<Response> {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(key) if key == self.config.api_key => None,
            Some(key) => {
                self.shared.stats().auth_failures += 1;
                // OpenAI masks all but the last four characters of the key it was given.
                let tail: String = key
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                Some(error(
                    StatusCode::UNAUTHORIZED,
                    &format!(
                        "Incorrect API key provided: sk-****{tail}. You can find your API key at https://platform.openai.com/account/api-keys."
                    ),
                    "invalid_request_error",
                    None,
                    Some("invalid_api_key"),
                ))
            }
            None => {
                self.shared.stats().auth_failures += 1;
                Some(error(
                    StatusCode::UNAUTHORIZED,
                    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error",
                    None,
                    None,
                ))
            }
        }
    }

    /// The `refuse` fault's answer, if it is on.
    pub(crate) fn refusal(&self) -> Option<Response> {
        let status = self.shared.take_refusal()?;
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        let mut response = error(
            code,
            "Rate limit reached for requests. Please try again in 0s.",
            "requests",
            None,
            Some("rate_limit_exceeded"),
        );
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("0"));
        Some(response)
    }
}

/// OpenAI's error envelope.
pub(crate) fn error(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    (
        status,
        axum::Json(
            json!({ "error": { "message": message, "type": kind, "param": param, "code": code } }),
        ),
    )
        .into_response()
}

/// A running emulator; stopped when dropped.
#[derive(Debug)]
pub struct OpenAiEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl OpenAiEmulator {
    /// Starts on a free loopback port.
    pub async fn start(config: OpenAiEmulatorConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let state = Arc::new(State {
            config,
            shared: shared.clone(),
            next_transcript: std::sync::Mutex::new(0),
        });
        let app = Router::new()
            .route("/v1/audio/transcriptions", post(rest::transcriptions))
            .route("/v1/audio/speech", post(rest::speech))
            .route("/v1/realtime", get(realtime::upgrade))
            // 25 MB is the documented limit; a little more gets through so the handler answers 413 itself.
            .layer(DefaultBodyLimit::max(rest::MAX_UPLOAD + (1 << 20)))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        // Results are small frames: without TCP_NODELAY, Nagle holds one behind another's ACK (~40 ms).
        let listener =
            axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
                let _ = tcp.set_nodelay(true);
            });
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "openai emulator stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The base URL to configure adapters with (`http://127.0.0.1:<port>`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches failures on or off for what comes next.
    pub fn set_faults(&self, faults: Faults) {
        *control::lock(&self.shared.faults) = faults;
    }

    /// What it has seen so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats().clone()
    }
}

impl Drop for OpenAiEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
