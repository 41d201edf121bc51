//! iFlytek (xfyun) online text to speech, streaming ("在线语音合成（流式版）"), over WebSocket.
//!
//! Per piece of text: one WebSocket to the signed URL (the same HMAC-SHA256 scheme as IAT,
//! [`asr_adapters::iflytek::auth`], request line `GET /v2/tts HTTP/1.1`) of `wss://tts-api.xfyun.cn/v2/tts`,
//! one JSON frame `{"common":{"app_id"},"business":{"aue":"raw","auf":"audio/L16;rate=8000","vcn",…,"tte":"UTF8"},"data":{"status":2,"text":<base64>}}`,
//! then responses `{"code":0,"data":{"audio":<base64 PCM>,"status":1|2}}` decoded into 20 ms frames as they
//! come; `status` 2 is the last. The service takes plain text, so the prompt's SSML is spoken part by part:
//! breaks become silence made here, marks are reported between parts.
//!
//! Followed: iFlytek's "语音合成（流式版）WebAPI 文档" (接口要求: text under 8000 bytes, pcm at 8 or 16 kHz;
//! 接口鉴权; 业务参数 `aue`, `auf`, `vcn`, `speed`, `volume`, `pitch`, `tte`; 错误码).
//!
//! Failures: handshake 401/403 → [`EngineErrorKind::Auth`]; a non-zero `code` → the kind of
//! [`asr_adapters::iflytek::frames::error_kind`] with the service's message; a dropped connection →
//! [`EngineErrorKind::Unavailable`]; no frame within `read_timeout` → [`EngineErrorKind::Timeout`]. The
//! signed URL is logged redacted.

use std::time::{Duration, SystemTime};

use asr_adapters::iflytek::{auth, frames::error_kind};
use asr_adapters::net::{
    HandshakeRefusal, WsConnect, WsStream, clean_message, connect_ws, refusal_text,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use mrcp_proto::ssml::{Limits, Segment};
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{debug, warn};

use crate::{
    SynthesisEvent, SynthesisFailure, SynthesisRequest, SynthesisSink, SynthesisStream,
    Synthesizer, SynthesizerCapabilities, VoiceInfo, synthesis_channel,
};

/// An iFlytek TTS synthesizer's configuration (`[engines.<name>] kind = "iflytek"` in the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IflytekTtsConfig {
    /// `wss://tts-api.xfyun.cn/v2/tts`, or an emulator.
    pub endpoint: String,
    /// The application id.
    pub app_id: String,
    /// APIKey.
    pub api_key: Secret,
    /// APISecret.
    pub api_secret: Secret,
    /// `vcn` when the request names no voice: `xiaoyan`…
    pub default_voice: String,
    /// The PCM rate asked for (`auf`): 8000 or 16000.
    pub sample_rate: u32,
    /// The longest wait for the handshake, then for each next frame.
    pub read_timeout: Duration,
    /// Retries after 429 and 503 at the handshake.
    pub retry: RetryPolicy,
}

impl IflytekTtsConfig {
    /// The public endpoint.
    pub const ENDPOINT: &str = "wss://tts-api.xfyun.cn/v2/tts";

    /// A configuration with the defaults: voice `xiaoyan`, 8 kHz, a 5 s timeout, the default retry policy.
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
            default_voice: "xiaoyan".to_owned(),
            sample_rate: 8000,
            read_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

/// The iFlytek TTS synthesizer.
#[derive(Debug, Clone)]
pub struct IflytekSynthesizer {
    name: String,
    config: IflytekTtsConfig,
    capabilities: SynthesizerCapabilities,
}

impl IflytekSynthesizer {
    /// A synthesizer named `name`; fails when the configuration is invalid.
    pub fn new(name: impl Into<String>, config: IflytekTtsConfig) -> Result<Self, EngineError> {
        let name = name.into();
        let bad = |p: String| EngineError::new(&name, EngineErrorKind::BadRequest, p);
        auth::sign_url(
            &config.endpoint,
            &config.api_key,
            &config.api_secret,
            SystemTime::now(),
        )
        .map_err(|e| bad(e.to_string()))?;
        if ![8000, 16_000].contains(&config.sample_rate) {
            return Err(bad(format!(
                "sample_rate {} is not 8000 or 16000",
                config.sample_rate
            )));
        }
        Ok(Self {
            capabilities: SynthesizerCapabilities {
                sample_rate: config.sample_rate,
                languages: vec!["zh-cn".to_owned(), "en-us".to_owned()],
                voices: vec![VoiceInfo {
                    name: config.default_voice.clone(),
                    languages: vec!["zh-cn".to_owned(), "en-us".to_owned()],
                    gender: None,
                    age: None,
                    description: "iFlytek voice (any vcn enabled in the console is accepted)"
                        .to_owned(),
                }],
                reports_marks: true,
                takes_lexicons: false,
            },
            name,
            config,
        })
    }
}

/// One step of a prompt.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Say {
        text: String,
        voice: Option<String>,
        speed: u8,
        volume: u8,
    },
    Silence(Duration),
    Mark(String),
}

/// The prompt as steps: consecutive speech with the same voice and prosody is one request.
fn steps(segments: Vec<Segment>) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for s in segments {
        match s {
            Segment::Speech(sp) => {
                let voice = sp
                    .voice
                    .name
                    .as_deref()
                    .and_then(|n| n.split_whitespace().next())
                    .map(str::to_owned);
                // iFlytek's speed and volume run 0–100 with 50 the voice's normal.
                let scale = |f: f32| (f * 50.0).round().clamp(0.0, 100.0) as u8;
                let (speed, volume) = (scale(sp.prosody.rate), scale(sp.prosody.volume));
                if let Some(Step::Say {
                    text,
                    voice: v,
                    speed: s,
                    volume: vol,
                }) = out.last_mut()
                    && *v == voice
                    && *s == speed
                    && *vol == volume
                {
                    text.push(' ');
                    text.push_str(&sp.text);
                    continue;
                }
                out.push(Step::Say {
                    text: sp.text,
                    voice,
                    speed,
                    volume,
                });
            }
            Segment::Break(d) => out.push(Step::Silence(d)),
            Segment::Mark(m) => out.push(Step::Mark(m)),
            Segment::Audio { fallback, .. } => out.extend(steps(fallback)),
        }
    }
    out
}

/// Text per request must be under 8000 bytes (接口要求).
const MAX_TEXT_BYTES: usize = 8000;

impl Synthesizer for IflytekSynthesizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        let segments = request.segments(&Limits::default()).map_err(|e| {
            SynthesisFailure::ParseFailure.error(
                &self.name,
                EngineErrorKind::BadRequest,
                e.to_string(),
            )
        })?;
        let steps = steps(segments);
        if let Some(Step::Say { text, .. }) = steps
            .iter()
            .find(|s| matches!(s, Step::Say { text, .. } if text.len() >= MAX_TEXT_BYTES))
        {
            return Err(EngineError::new(
                &self.name,
                EngineErrorKind::BadRequest,
                format!(
                    "text of {} bytes exceeds iflytek's limit of {MAX_TEXT_BYTES}",
                    text.len()
                ),
            ));
        }
        let (stream, sink) = synthesis_channel();
        let job = Job {
            name: self.name.clone(),
            config: self.config.clone(),
        };
        tokio::spawn(job.run(steps, sink));
        Ok(stream)
    }
}

struct Job {
    name: String,
    config: IflytekTtsConfig,
}

type Ws = WsStream;

impl Job {
    fn error(&self, kind: EngineErrorKind, message: impl Into<String>) -> EngineError {
        EngineError::new(&self.name, kind, message)
    }

    fn frame_len(&self) -> usize {
        self.config.sample_rate as usize / 50
    }

    async fn run(self, steps: Vec<Step>, sink: SynthesisSink) {
        let events = sink.events.clone();
        let work = async {
            for step in steps {
                let more = match step {
                    Step::Mark(name) => events.send(Ok(SynthesisEvent::Mark(name))).await.is_ok(),
                    Step::Silence(d) => {
                        let samples =
                            (u128::from(self.config.sample_rate) * d.as_millis() / 1000) as usize;
                        let mut ok = true;
                        let mut left = samples;
                        while left > 0 && ok {
                            let n = left.min(self.frame_len());
                            ok = events
                                .send(Ok(SynthesisEvent::Audio(vec![0; n])))
                                .await
                                .is_ok();
                            left -= n;
                        }
                        ok
                    }
                    Step::Say {
                        text,
                        voice,
                        speed,
                        volume,
                    } => {
                        let voice = voice.unwrap_or_else(|| self.config.default_voice.clone());
                        self.say(&text, &voice, speed, volume, &sink).await?
                    }
                };
                if !more {
                    return Ok(());
                }
            }
            let _ = events.send(Ok(SynthesisEvent::Done)).await;
            Ok::<(), EngineError>(())
        };
        tokio::select! {
            result = work => if let Err(error) = result {
                warn!(engine = %self.name, %error, "iflytek synthesis failed");
                let _ = sink.events.send(Err(error)).await;
            },
            () = events.closed() => debug!(engine = %self.name, "iflytek synthesis cancelled"),
        }
    }

    /// One request; `Ok(false)` when the server cancelled.
    async fn say(
        &self,
        text: &str,
        voice: &str,
        speed: u8,
        volume: u8,
        sink: &SynthesisSink,
    ) -> Result<bool, EngineError> {
        let mut ws = self.connect().await?;
        let frame = serde_json::json!({
            "common": {"app_id": self.config.app_id},
            "business": {
                "aue": "raw",
                "auf": format!("audio/L16;rate={}", self.config.sample_rate),
                "vcn": voice,
                "speed": speed,
                "volume": volume,
                "pitch": 50,
                "tte": "UTF8",
            },
            "data": {"status": 2, "text": STANDARD.encode(text.as_bytes())},
        });
        ws.send(Message::text(frame.to_string()))
            .await
            .map_err(|e| self.io(e))?;
        let mut pending: Vec<i16> = Vec::new();
        loop {
            let next = tokio::time::timeout(self.config.read_timeout, ws.next())
                .await
                .map_err(|_| {
                    self.error(
                        EngineErrorKind::Timeout,
                        format!("iflytek sent no audio for {:?}", self.config.read_timeout),
                    )
                })?;
            let text = match next {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame
                        .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                        .unwrap_or_default();
                    return Err(self.error(
                        EngineErrorKind::Unavailable,
                        format!("iflytek closed the connection before the last audio: {reason}"),
                    ));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(self.io(e)),
                None => {
                    return Err(self.error(
                        EngineErrorKind::Unavailable,
                        "iflytek dropped the connection before the last audio",
                    ));
                }
            };
            let response: TtsResponse = serde_json::from_str(&text).map_err(|e| {
                self.error(
                    EngineErrorKind::Internal,
                    format!("iflytek sent an unreadable frame: {e}"),
                )
            })?;
            if response.code != 0 {
                let _ = ws.close(None).await;
                return Err(self.error(
                    error_kind(response.code),
                    format!("iflytek error {}: {}", response.code, response.message),
                ));
            }
            let Some(data) = response.data else { continue };
            let bytes = STANDARD.decode(data.audio.as_bytes()).map_err(|e| {
                self.error(
                    EngineErrorKind::Internal,
                    format!("iflytek sent bad base64 audio: {e}"),
                )
            })?;
            pending.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            );
            let n = self.frame_len();
            let whole = pending.len() / n * n;
            let rest = pending.split_off(whole);
            for frame in pending.chunks(n) {
                if sink
                    .events
                    .send(Ok(SynthesisEvent::Audio(frame.to_vec())))
                    .await
                    .is_err()
                {
                    let _ = ws.close(None).await;
                    return Ok(false);
                }
            }
            pending = rest;
            if data.status == 2 {
                break;
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
        if !pending.is_empty()
            && sink
                .events
                .send(Ok(SynthesisEvent::Audio(pending)))
                .await
                .is_err()
        {
            return Ok(false);
        }
        Ok(true)
    }

    fn io(&self, e: tungstenite::Error) -> EngineError {
        self.error(
            EngineErrorKind::Unavailable,
            format!("iflytek connection failed mid-stream: {e}"),
        )
    }

    /// Opens the socket to a freshly signed URL, retrying 429 and 503 as the policy allows; the handshake is
    /// bounded by `read_timeout`.
    async fn connect(&self) -> Result<Ws, EngineError> {
        let to = WsConnect {
            engine: &self.name,
            vendor: "iflytek",
            connect_timeout: self.config.read_timeout,
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

#[derive(serde::Deserialize)]
struct TtsResponse {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<TtsData>,
}

#[derive(serde::Deserialize)]
struct TtsData {
    #[serde(default)]
    audio: String,
    #[serde(default)]
    status: u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use mrcp_proto::ssml::{self, Context};

    #[test]
    fn prompts_become_requests_silences_and_marks() {
        let doc = ssml::parse(
            r#"<speak>Hello there <break time="200ms"/> world <mark name="m"/><prosody rate="x-slow">slow</prosody></speak>"#,
        )
        .expect("ssml");
        let s =
            steps(ssml::segments(&doc, &Context::default(), &Limits::default()).expect("segments"));
        assert!(matches!(&s[0], Step::Say { text, speed: 50, .. } if text == "Hello there"));
        assert_eq!(s[1], Step::Silence(Duration::from_millis(200)));
        assert!(matches!(&s[2], Step::Say { text, .. } if text == "world"));
        assert_eq!(s[3], Step::Mark("m".into()));
        assert!(matches!(&s[4], Step::Say { speed: 25, .. }));
    }
}
