//! An emulator of Deepgram's live transcription WebSocket and Aura TTS REST API, following its public
//! documentation (checked 2026-11-23):
//! - `wss://api.deepgram.com/v1/listen` and its query (`model`, `encoding`, `sample_rate`, `channels`,
//!   `interim_results`, `endpointing`, `utterance_end_ms`, `vad_events`, `keyterm`, `keywords`…):
//!   <https://developers.deepgram.com/reference/speech-to-text/listen-streaming>;
//! - `encoding` requires `sample_rate`: <https://developers.deepgram.com/docs/encoding>;
//! - `Results` with `is_final` / `speech_final` / `from_finalize`, `SpeechStarted`, `UtteranceEnd`
//!   (`utterance_end_ms` needs `interim_results`), `Metadata`:
//!   <https://developers.deepgram.com/docs/understand-endpointing-interim-results>,
//!   <https://developers.deepgram.com/docs/utterance-end>;
//! - `KeepAlive`, `Finalize`, `CloseStream`: <https://developers.deepgram.com/docs/audio-keep-alive>,
//!   <https://developers.deepgram.com/docs/finalize>, <https://developers.deepgram.com/docs/close-stream>;
//! - errors: handshake refusals as HTTP 4xx with a `dg-error` header and `dg-request-id`
//!   (<https://developers.deepgram.com/changelog/2022/11/8>), close frames with a reason, `NET-0001` after
//!   10 s without audio or KeepAlive
//!   (<https://developers.deepgram.com/docs/stt-troubleshooting-websocket-data-and-net-errors>); the
//!   REST error body `{"err_code","err_msg","request_id"}` (`INVALID_AUTH`) is from Deepgram's API
//!   responses as widely reported, not a page read in full;
//! - `POST /v1/speak?model&encoding&sample_rate&container` with `{"text"}` and `Authorization: Token`:
//!   <https://developers.deepgram.com/reference/text-to-speech/speak-request>,
//!   <https://developers.deepgram.com/docs/tts-encoding>, <https://developers.deepgram.com/docs/tts-container>.
//!
//! Driven by real audio: `linear16` and `mulaw` are decoded and measured in 20 ms frames; a run of voiced
//! frames is an utterance, reported with interim `Results` about every 300 ms of speech (a growing prefix of
//! the scripted transcript), a final `Results` with `speech_final` once `endpointing` ms of silence follow,
//! and `UtteranceEnd` after `utterance_end_ms`. Silence gets no transcript. Not emulated: other encodings
//! (400 naming the emulator's limit), containerized audio, multichannel, diarization, the TTS WebSocket.

mod listen;
mod speak;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::openai::control::{self, Faults, Shared, Stats};

/// What the emulator is set up with.
#[derive(Debug, Clone)]
pub struct DeepgramEmulatorConfig {
    /// The API key it accepts (`Authorization: Token <key>`).
    pub api_key: String,
    /// Transcripts for successive utterances; the last repeats.
    pub transcripts: Vec<String>,
    /// The confidence reported.
    pub confidence: f32,
    /// Close with `NET-0001` after this long without audio or a KeepAlive (Deepgram: 10 s).
    pub idle_timeout: Duration,
}

impl Default for DeepgramEmulatorConfig {
    fn default() -> Self {
        Self {
            api_key: "dg-emulator-key".to_owned(),
            transcripts: vec!["yes".to_owned()],
            confidence: 0.97,
            idle_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: DeepgramEmulatorConfig,
    pub(crate) shared: Arc<Shared>,
    next_transcript: std::sync::Mutex<usize>,
    next_request: std::sync::atomic::AtomicU64,
}

impl State {
    pub(crate) fn transcript(&self) -> String {
        let mut next = control::lock(&self.next_transcript);
        let i = (*next).min(self.config.transcripts.len().saturating_sub(1));
        *next += 1;
        self.config.transcripts.get(i).cloned().unwrap_or_default()
    }

    pub(crate) fn request_id(&self) -> String {
        let n = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{n:012}")
    }

    pub(crate) fn final_sent(&self) {
        self.shared.stats().finals_sent.push(Instant::now());
    }

    /// `None` for the right key; else the documented 401.
    pub(crate) fn check_auth(&self, headers: &HeaderMap) -> Option<Response> {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok());
        let ok = given.is_some_and(|v| {
            v.strip_prefix("Token ")
                .or_else(|| v.strip_prefix("token "))
                .is_some_and(|k| k == self.config.api_key)
        });
        if ok {
            return None;
        }
        self.shared.stats().auth_failures += 1;
        Some(self.refusal_response(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTH",
            "Invalid credentials.",
        ))
    }

    /// The `refuse` fault's answer, if on.
    pub(crate) fn refusal(&self) -> Option<Response> {
        let status = self.shared.take_refusal()?;
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        let mut response = self.refusal_response(
            code,
            "TOO_MANY_REQUESTS",
            "Too many requests. Please try again later",
        );
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("0"));
        Some(response)
    }

    /// A refused request: the JSON body, and (for the WebSocket handshake) `dg-error` and `dg-request-id`.
    pub(crate) fn refusal_response(
        &self,
        status: StatusCode,
        code: &str,
        message: &str,
    ) -> Response {
        let id = self.request_id();
        let body = json!({ "err_code": code, "err_msg": message, "request_id": id });
        let mut response = (status, axum::Json(body.clone())).into_response();
        if let Ok(v) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("dg-request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&body.to_string()) {
            response.headers_mut().insert("dg-error", v);
        }
        response
    }
}

/// A running emulator; stopped when dropped.
#[derive(Debug)]
pub struct DeepgramEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl DeepgramEmulator {
    /// Starts on a free loopback port.
    pub async fn start(config: DeepgramEmulatorConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let state = Arc::new(State {
            config,
            shared: shared.clone(),
            next_transcript: std::sync::Mutex::new(0),
            next_request: std::sync::atomic::AtomicU64::new(1),
        });
        let app = Router::new()
            .route("/v1/listen", get(listen::upgrade))
            .route("/v1/speak", post(speak::speak))
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
                tracing::warn!(%error, "deepgram emulator stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The base URL to configure adapters with (`http://127.0.0.1:<port>`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
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

impl Drop for DeepgramEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
