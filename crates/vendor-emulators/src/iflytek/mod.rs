//! An emulator of iFlytek's (xfyun) v2 WebSocket speech APIs: streaming dictation at `/v2/iat` ([`iat`])
//! and online TTS at `/v2/tts` ([`tts`]), on one port, behind the documented HMAC-SHA256 URL signature
//! ([`verify`]).
//!
//! Documentation followed (and where it was silent, what the emulator chose):
//! - "语音听写（流式版）WebAPI 文档" (https://www.xfyun.cn/doc/asr/voicedictation/API.html): the signed URL
//!   (`host`, `date` RFC 1123 with at most 300 s of skew, `authorization` = base64 of `api_key="…",
//!   algorithm="hmac-sha256", headers="host date request-line", signature="…"`), the handshake failures (401
//!   `{"message":"Unauthorized"}` without authorization, 401 `HMAC signature cannot be verified` when it
//!   cannot be parsed, 401 `HMAC signature does not match`, 403 for the date skew), the frames (`status`
//!   0/1/2, the first with `common.app_id` and `business`; `format` `audio/L16;rate=8000|16000`, `encoding`
//!   `raw`, base64 audio), the results (`sn`, `ls`, `pgs` `apd`/`rpl` with `rg` under `dwa=wpgs`,
//!   `data.status` 2 last, `sid` in the first response), the limits (60 s of audio; 10 s without data →
//!   error 10200 "read data timeout") and error codes (10160 bad JSON, 10161 bad base64, 10163 invalid
//!   parameters, 10313 bad app_id);
//! - "语音合成（流式版）WebAPI 文档" (https://www.xfyun.cn/doc/tts/online_tts/API.html) for [`tts`]: one frame
//!   with `common`, `business` (`aue`, `auf`, `vcn`, `tte`) and `data` (`status` 2, base64 `text` under 8000
//!   bytes); responses with base64 `audio`, `ced` and `status` 1/2;
//! - iFlytek's "通用鉴权URL生成说明" worked example, which the adapter's signer is tested against.
//! - Chosen, not documented: at 60 s of audio the emulator ends the session with its final result; interim
//!   results come every 400 ms of speech; the final comes on `status` 2 or after `vad_eos` of silence.

pub mod iat;
pub mod tts;
pub mod verify;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

/// A failure to inject.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// Wait this long before the final result (IAT) or the first audio (TTS).
    Delay(Duration),
    /// Send this error code and message mid-stream (after the first interim result, or half the audio).
    ErrorMidStream(i64, String),
    /// Drop the TCP connection with no close frame (IAT when speech starts, TTS after the request).
    Disconnect,
    /// Refuse this many handshakes with 429 first.
    Throttle(u32),
}

/// How the emulator behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The application id accepted.
    pub app_id: String,
    /// APIKey.
    pub api_key: String,
    /// APISecret.
    pub api_secret: String,
    /// IAT: the words of the transcript, in order (English words after the first carry their space).
    pub words: Vec<String>,
    /// The failure to inject.
    pub fault: Fault,
    /// IAT: the longest gap between frames (documented: 10 s).
    pub idle_timeout: Duration,
    /// IAT: the most audio per session (documented: 60 s).
    pub max_audio: Duration,
    /// Clock skew allowed on `date` (documented: 300 s).
    pub max_skew: Duration,
}

impl Script {
    /// A well-behaved emulator for these credentials, recognizing `transcript` (split at spaces).
    pub fn new(app_id: &str, api_key: &str, api_secret: &str, transcript: &str) -> Self {
        let words = transcript
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_owned()
                } else {
                    format!(" {w}")
                }
            })
            .collect();
        Self {
            app_id: app_id.to_owned(),
            api_key: api_key.to_owned(),
            api_secret: api_secret.to_owned(),
            words,
            fault: Fault::None,
            idle_timeout: Duration::from_secs(10),
            max_audio: Duration::from_secs(60),
            max_skew: Duration::from_secs(300),
        }
    }

    /// The same, with a fault.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

/// What the emulator saw and did.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// Handshakes accepted.
    pub connections: u32,
    /// Refused handshakes: HTTP status and body.
    pub refused: Vec<(u16, String)>,
    /// Error codes sent in frames.
    pub error_codes: Vec<i64>,
    /// IAT: the `business` objects of first frames.
    pub business: Vec<serde_json::Value>,
    /// IAT: bytes of PCM received; TTS: bytes sent.
    pub audio_bytes: usize,
    /// When each final result (IAT) or last audio frame (TTS) was sent.
    pub finals_sent: Vec<Instant>,
    /// TTS: the texts received.
    pub texts: Vec<String>,
}

pub(crate) struct Shared {
    pub(crate) script: Script,
    log: Mutex<Log>,
    throttle_left: Mutex<u32>,
}

impl Shared {
    pub(crate) fn log(&self, f: impl FnOnce(&mut Log)) {
        f(&mut self.log.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn throttled(&self) -> bool {
        let mut left = self
            .throttle_left
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let throttled = *left > 0;
        *left = left.saturating_sub(1);
        throttled
    }
}

/// The running emulator on loopback; stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Emulator {
    /// Starts the emulator on a loopback port.
    pub async fn start(script: Script) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let throttle = match script.fault {
            Fault::Throttle(n) => n,
            _ => 0,
        };
        let shared = Arc::new(Shared {
            script,
            log: Mutex::new(Log::default()),
            throttle_left: Mutex::new(throttle),
        });
        let state = shared.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                // Small service messages go out at once, as from a real front end (no Nagle delay).
                let _ = stream.set_nodelay(true);
                connections.spawn(connection(stream, state.clone()));
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:port/v2/iat`.
    pub fn iat_url(&self) -> String {
        format!("ws://{}/v2/iat", self.addr)
    }

    /// `ws://127.0.0.1:port/v2/tts`.
    pub fn tts_url(&self) -> String {
        format!("ws://{}/v2/tts", self.addr)
    }

    /// A snapshot of what happened so far.
    pub fn log(&self) -> Log {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Iat,
    Tts,
}

// tungstenite's handshake callback returns its `ErrorResponse` (an HTTP response) by value.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let mut api = None;
    let callback = |req: &Request, resp: Response| {
        let path = req.uri().path();
        let found = match path {
            "/v2/iat" => Some(Api::Iat),
            "/v2/tts" => Some(Api::Tts),
            _ => None,
        };
        let outcome = match found {
            None => Err((
                StatusCode::NOT_FOUND,
                r#"{"message":"no Route matched with those values"}"#.to_owned(),
            )),
            Some(_) if shared.throttled() => Err((
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"message":"API rate limit exceeded"}"#.to_owned(),
            )),
            Some(a) => {
                let host = req.headers().get("host").and_then(|h| h.to_str().ok());
                verify::check(
                    path,
                    req.uri().query().unwrap_or(""),
                    host,
                    &shared.script.api_key,
                    &shared.script.api_secret,
                    shared.script.max_skew,
                    std::time::SystemTime::now(),
                )
                .map(|()| a)
                .map_err(|e| (e.status(), e.body()))
            }
        };
        match outcome {
            Ok(a) => {
                api = Some(a);
                Ok(resp)
            }
            Err((status, body)) => {
                shared.log(|l| l.refused.push((status.as_u16(), body.clone())));
                let mut r = ErrorResponse::new(Some(body));
                *r.status_mut() = status;
                Err(r)
            }
        }
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    shared.log(|l| l.connections += 1);
    match api {
        Some(Api::Iat) => iat::session(ws, shared).await,
        Some(Api::Tts) => tts::session(ws, shared).await,
        None => {}
    }
}

/// An error response frame.
pub(crate) fn error_frame(code: i64, message: &str, sid: &str) -> String {
    serde_json::json!({"code": code, "message": message, "sid": sid}).to_string()
}
