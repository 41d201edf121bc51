//! iFlytek (xfyun) streaming dictation, IAT ("语音听写（流式版）"), over WebSocket.
//!
//! One WebSocket per RECOGNIZE to the HMAC-SHA256 signed URL ([`auth`]) of `wss://iat-api.xfyun.cn/v2/iat`;
//! JSON text frames carry base64 PCM (`audio/L16;rate=8000` or `16000`, 40 ms per frame): the first with
//! `status` 0, `common.app_id` and `business` (language, domain, accent, `vad_eos`, `dwa=wpgs`), then
//! `status` 1, and `status` 2 when the server's endpointer ends the input. Each response carries a result
//! (`sn`, `pgs` `apd`/`rpl` with dynamic correction), assembled by [`frames::Transcript`] and reported as
//! [`RecognizerEvent::Partial`]; the response with `data.status` 2 is the final, after which the socket is
//! closed.
//!
//! Followed: iFlytek's "语音听写（流式版）WebAPI 文档" (接口要求, 接口鉴权, 接口数据传输与接收, 错误码). Limits from it:
//! at most 60 s of audio per session (the adapter ends the input itself there), 16-bit mono PCM at 8 or
//! 16 kHz. iFlytek reports no confidence; finals carry 1.0 and the server's grammar match scores them.
//! The API takes no phrase hints (IAT's hot words are set in the iFlytek console), so grammars reach it only
//! through the server's matching of the free transcript ([`GrammarSupport::Hints`]).
//!
//! Failures: a refused handshake (401/403 → [`EngineErrorKind::Auth`] with the service's message, 429/503
//! retried with [`RetryPolicy`]); a response with a non-zero `code` → the kind of [`frames::error_kind`] and
//! the service's message; a dropped connection → [`EngineErrorKind::Unavailable`]; no final within
//! `result_timeout` of the end of input → [`EngineErrorKind::Timeout`]. The signed URL is logged redacted.

pub mod auth;
pub mod frames;

use std::time::{Duration, SystemTime};

use futures_util::{SinkExt, StreamExt};
use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::warn;

use crate::net::{HandshakeRefusal, WsConnect, WsStream, clean_message, connect_ws, refusal_text};
use crate::{
    Alternative, EngineSide, GrammarSupport, RecognitionRequest, RecognitionStream, Recognizer,
    RecognizerCapabilities, RecognizerEvent, recognition_channel,
};
use frames::{Business, Response, Transcript};

type Ws = WsStream;

/// An iFlytek IAT recognizer's configuration (`[engines.<name>] kind = "iflytek"` in the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IflytekIatConfig {
    /// `wss://iat-api.xfyun.cn/v2/iat` (also `ws-api.xfyun.cn`, `iat-niche-api.xfyun.cn` for minor
    /// languages), or an emulator.
    pub endpoint: String,
    /// The application id (`common.app_id`).
    pub app_id: String,
    /// APIKey.
    pub api_key: Secret,
    /// APISecret.
    pub api_secret: Secret,
    /// `business.language` when the request names none: `zh_cn`, `en_us`…
    pub default_language: String,
    /// `business.domain`.
    pub domain: String,
    /// `business.accent`.
    pub accent: String,
    /// `business.vad_eos` in ms (the service's own end-of-speech silence); the server's endpointer usually
    /// ends the input first.
    pub vad_eos_ms: u32,
    /// `business.dwa = "wpgs"`: dynamic correction.
    pub dynamic_correction: bool,
    /// The PCM rate sent: 8000 (telephone audio as is) or 16000.
    pub sample_rate: u32,
    /// The longest the WebSocket handshake may take.
    pub connect_timeout: Duration,
    /// The longest the service may take to give its final result once the input ended.
    pub result_timeout: Duration,
    /// Retries after 429 and 503 at the handshake.
    pub retry: RetryPolicy,
}

impl IflytekIatConfig {
    /// The public endpoint.
    pub const ENDPOINT: &str = "wss://iat-api.xfyun.cn/v2/iat";

    /// A configuration with the documented defaults: Mandarin dictation (`zh_cn`, `iat`, `mandarin`),
    /// `vad_eos` 3000 ms, dynamic correction off, 8 kHz, 5 s connect and result timeouts.
    pub fn new(
        endpoint: impl Into<String>,
        app_id: impl Into<String>,
        api_key: Secret,
        api_secret: Secret,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            app_id: app_id.into(),
            api_key,
            api_secret,
            default_language: "zh_cn".to_owned(),
            domain: "iat".to_owned(),
            accent: "mandarin".to_owned(),
            vad_eos_ms: 3000,
            dynamic_correction: false,
            sample_rate: 8000,
            connect_timeout: Duration::from_secs(5),
            result_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }

    /// Checks the values; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        auth::sign_url(
            &self.endpoint,
            &self.api_key,
            &self.api_secret,
            SystemTime::now(),
        )
        .map_err(|e| e.to_string())?;
        if self.app_id.is_empty() {
            return Err("app_id is empty".to_owned());
        }
        if ![8_000, 16_000].contains(&self.sample_rate) {
            return Err(format!(
                "sample_rate {} is not 8000 or 16000",
                self.sample_rate
            ));
        }
        if !(1000..=10_000).contains(&self.vad_eos_ms) {
            return Err(format!("vad_eos_ms {} is not 1000-10000", self.vad_eos_ms));
        }
        if self.connect_timeout.is_zero() || self.result_timeout.is_zero() {
            return Err("timeouts must be above 0".to_owned());
        }
        Ok(())
    }
}

/// The iFlytek IAT recognizer.
#[derive(Debug, Clone)]
pub struct IflytekRecognizer {
    name: String,
    config: IflytekIatConfig,
    capabilities: RecognizerCapabilities,
}

impl IflytekRecognizer {
    /// A recognizer named `name`; fails when the configuration is invalid.
    pub fn new(name: impl Into<String>, config: IflytekIatConfig) -> Result<Self, EngineError> {
        let name = name.into();
        config
            .validate()
            .map_err(|problem| EngineError::new(&name, EngineErrorKind::BadRequest, problem))?;
        Ok(Self {
            capabilities: RecognizerCapabilities {
                sample_rate: config.sample_rate,
                languages: Vec::new(),
                grammar_support: GrammarSupport::Hints,
            },
            name,
            config,
        })
    }
}

/// `Speech-Language` (BCP 47) to IAT's `language`: `zh-CN` → `zh_cn`, `en-US` → `en_us`; other values are
/// passed lower-cased with `_`.
fn iat_language(tag: &str) -> String {
    let lower = tag.to_ascii_lowercase().replace('-', "_");
    match lower.as_str() {
        "zh" | "zh_hans" | "cmn" => "zh_cn".to_owned(),
        "en" | "en_gb" => "en_us".to_owned(),
        _ => lower,
    }
}

impl Recognizer for IflytekRecognizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &RecognizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: RecognitionRequest) -> Result<RecognitionStream, EngineError> {
        let (stream, side) = recognition_channel();
        let language = request
            .language
            .as_deref()
            .map_or_else(|| self.config.default_language.clone(), iat_language);
        let business = Business {
            language,
            domain: self.config.domain.clone(),
            accent: self.config.accent.clone(),
            vad_eos_ms: self.config.vad_eos_ms,
            dynamic_correction: self.config.dynamic_correction,
        };
        let session = Session {
            name: self.name.clone(),
            config: self.config.clone(),
            business,
        };
        tokio::spawn(session.run(side));
        Ok(stream)
    }
}

/// At most 60 s of audio per session (接口要求: 音频长度 最长60s).
const MAX_AUDIO: Duration = Duration::from_secs(60);
/// 40 ms of audio per frame, as the document recommends.
const FRAME: Duration = Duration::from_millis(40);

struct Session {
    name: String,
    config: IflytekIatConfig,
    business: Business,
}

impl Session {
    fn error(&self, kind: EngineErrorKind, message: impl Into<String>) -> EngineError {
        EngineError::new(&self.name, kind, message)
    }

    async fn run(self, mut side: EngineSide) {
        if let Err(error) = self.drive(&mut side).await {
            warn!(engine = %self.name, %error, "iflytek recognition failed");
            let _ = side.events.send(Err(error)).await;
        }
    }

    fn bytes_of(&self, d: Duration) -> usize {
        (u128::from(self.config.sample_rate) * 2 * d.as_millis() / 1000) as usize
    }

    async fn drive(&self, side: &mut EngineSide) -> Result<(), EngineError> {
        let mut audio = AudioFrames {
            pending: Vec::new(),
            frame_bytes: self.bytes_of(FRAME),
            sent_bytes: 0,
            max_bytes: self.bytes_of(MAX_AUDIO),
            first: true,
            finished: false,
        };
        let mut input_done = false;
        let connect = self.connect();
        tokio::pin!(connect);
        let mut ws = loop {
            tokio::select! {
                ws = &mut connect => break ws?,
                frame = side.audio.recv(), if !input_done => match frame {
                    Some(samples) => audio.add(&samples),
                    None => input_done = true,
                },
                () = side.events.closed() => return Ok(()),
            }
        };
        let mut deadline = None;
        self.flush(&mut ws, &mut audio, input_done).await?;
        if audio.finished {
            deadline = Some(Instant::now() + self.config.result_timeout);
        }
        let mut transcript = Transcript::default();
        let mut write_error: Option<String> = None;
        let mut input_closed = input_done;
        loop {
            let timeout = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                frame = side.audio.recv(), if !input_closed => {
                    input_closed = frame.is_none();
                    if audio.finished {
                        // The input already ended (60 s, or a failed write): drop later frames here rather
                        // than let them back up into the server.
                        continue;
                    }
                    let end = match frame {
                        Some(samples) => { audio.add(&samples); false }
                        None => true,
                    };
                    if let Err(e) = self.flush(&mut ws, &mut audio, end).await {
                        // The service may have sent its final or an error that is still unread (it ends
                        // the session itself at 60 s or on its own end of speech): stop sending, read on.
                        audio.finished = true;
                        write_error = Some(e.message);
                    }
                    if audio.finished {
                        deadline.get_or_insert(Instant::now() + self.config.result_timeout);
                    }
                }
                message = ws.next() => {
                    let response = self.response(message, write_error.as_deref())?;
                    if response.code != 0 {
                        close(&mut ws).await;
                        return Err(self.error(
                            frames::error_kind(response.code),
                            format!("iflytek error {}: {}", response.code, response.message),
                        ));
                    }
                    let Some(data) = response.data else { continue };
                    if let Some(result) = &data.result {
                        transcript.apply(result);
                    }
                    let event = if data.status == 2 {
                        let text = transcript.text();
                        RecognizerEvent::Final(if text.is_empty() {
                            Vec::new()
                        } else {
                            vec![Alternative { text, confidence: 1.0 }]
                        })
                    } else {
                        RecognizerEvent::Partial { text: transcript.text() }
                    };
                    let last = matches!(event, RecognizerEvent::Final(_));
                    if side.events.send(Ok(event)).await.is_err() || last {
                        close(&mut ws).await;
                        return Ok(());
                    }
                }
                () = timeout => {
                    close(&mut ws).await;
                    return Err(self.error(
                        EngineErrorKind::Timeout,
                        format!("iflytek gave no final result within {:?} of the end of input", self.config.result_timeout),
                    ));
                }
                () = side.events.closed() => {
                    close(&mut ws).await;
                    return Ok(());
                }
            }
        }
    }

    /// Sends every whole frame held, and the last frame when the input ended or reached 60 s.
    async fn flush(
        &self,
        ws: &mut Ws,
        audio: &mut AudioFrames,
        end: bool,
    ) -> Result<(), EngineError> {
        let rate = self.config.sample_rate;
        while let Some(pcm) = audio.take_frame() {
            let text = if audio.first {
                audio.first = false;
                frames::first_frame(&self.config.app_id, &self.business, rate, &pcm)
            } else {
                frames::audio_frame(1, rate, &pcm)
            };
            ws.feed(Message::text(text)).await.map_err(|e| self.io(e))?;
        }
        if (end || audio.sent_bytes >= audio.max_bytes) && !audio.finished {
            audio.finished = true;
            let rest = std::mem::take(&mut audio.pending);
            let text = if audio.first {
                // No audio at all: the first frame is also the last.
                audio.first = false;
                let mut v: serde_json::Value = serde_json::from_str(&frames::first_frame(
                    &self.config.app_id,
                    &self.business,
                    rate,
                    &rest,
                ))
                .unwrap_or_default();
                v["data"]["status"] = 2.into();
                v.to_string()
            } else {
                frames::audio_frame(2, rate, &rest)
            };
            ws.feed(Message::text(text)).await.map_err(|e| self.io(e))?;
        }
        ws.flush().await.map_err(|e| self.io(e))
    }

    fn io(&self, e: tungstenite::Error) -> EngineError {
        self.error(
            EngineErrorKind::Unavailable,
            format!("iflytek connection failed mid-stream: {e}"),
        )
    }

    fn response(
        &self,
        message: Option<Result<Message, tungstenite::Error>>,
        write_error: Option<&str>,
    ) -> Result<Response, EngineError> {
        match message {
            Some(Ok(Message::Text(text))) => serde_json::from_str(&text).map_err(|e| {
                self.error(
                    EngineErrorKind::Internal,
                    format!("iflytek sent an unreadable frame: {e}"),
                )
            }),
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                Err(self.error(
                    EngineErrorKind::Unavailable,
                    format!(
                        "iflytek closed the connection before the final result: {code} {reason}"
                    ),
                ))
            }
            Some(Ok(_)) => Ok(Response {
                code: 0,
                message: String::new(),
                sid: None,
                data: None,
            }),
            Some(Err(e)) => Err(write_error.map_or_else(
                || self.io(e),
                |w| self.error(EngineErrorKind::Unavailable, w.to_owned()),
            )),
            None => Err(self.error(
                EngineErrorKind::Unavailable,
                format!(
                    "iflytek dropped the connection before the final result{}",
                    write_error.map(|e| format!(": {e}")).unwrap_or_default()
                ),
            )),
        }
    }

    /// Opens the socket to a freshly signed URL (the service allows 300 s of clock skew, so every attempt
    /// signs anew), retrying 429 and 503 as the policy allows.
    async fn connect(&self) -> Result<Ws, EngineError> {
        let to = WsConnect {
            engine: &self.name,
            vendor: "iflytek",
            connect_timeout: self.config.connect_timeout,
            retry: &self.config.retry,
            max_message: None,
        };
        let request = || {
            auth::sign_url(
                &self.config.endpoint,
                &self.config.api_key,
                &self.config.api_secret,
                SystemTime::now(),
            )
            .map(|url| url.expose().to_owned())
            .map_err(|e| self.error(EngineErrorKind::BadRequest, e.to_string()))
        };
        let vendor_message = |response: &HandshakeRefusal| {
            clean_message(&refusal_text(response), Some(&self.config.api_key))
        };
        connect_ws(&to, request, vendor_message).await
    }
}

/// Audio held until a whole 40 ms frame is there.
struct AudioFrames {
    pending: Vec<u8>,
    frame_bytes: usize,
    sent_bytes: usize,
    max_bytes: usize,
    first: bool,
    finished: bool,
}

impl AudioFrames {
    fn add(&mut self, samples: &[i16]) {
        // Beyond 60 s the service refuses audio: what comes later is dropped, and the input ends.
        let room = self
            .max_bytes
            .saturating_sub(self.sent_bytes + self.pending.len());
        self.pending
            .extend(samples.iter().flat_map(|s| s.to_le_bytes()).take(room));
    }

    fn take_frame(&mut self) -> Option<Vec<u8>> {
        if self.finished || self.pending.len() < self.frame_bytes {
            return None;
        }
        let rest = self.pending.split_off(self.frame_bytes);
        self.sent_bytes += self.frame_bytes;
        Some(std::mem::replace(&mut self.pending, rest))
    }
}

async fn close(ws: &mut Ws) {
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_map_to_iat_codes() {
        assert_eq!(iat_language("zh-CN"), "zh_cn");
        assert_eq!(iat_language("en-US"), "en_us");
        assert_eq!(iat_language("en"), "en_us");
    }

    #[test]
    fn audio_is_cut_into_40_ms_frames_and_capped_at_60_s() {
        let mut a = AudioFrames {
            pending: Vec::new(),
            frame_bytes: 640,
            sent_bytes: 0,
            max_bytes: 1280,
            first: true,
            finished: false,
        };
        a.add(&[0i16; 500]);
        assert_eq!(a.take_frame().map(|f| f.len()), Some(640));
        assert_eq!(a.take_frame(), None);
        a.add(&[0i16; 500]);
        assert_eq!(a.take_frame().map(|f| f.len()), Some(640));
        assert_eq!(a.pending.len(), 0, "nothing beyond the cap is kept");
    }
}
