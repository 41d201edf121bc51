//! Microsoft Azure Speech: streaming recognition over the Speech service's WebSocket protocol ("USP").
//!
//! One WebSocket per RECOGNIZE to
//! `wss://{region}.stt.speech.microsoft.com/speech/recognition/{mode}/cognitiveservices/v1?language=…&format=detailed`
//! with `Ocp-Apim-Subscription-Key` (or `Authorization: Bearer`) and a fresh `X-ConnectionId`; then
//! `speech.config`, `speech.context` with the grammars' phrases as a phrase list, and the call's audio as
//! binary `audio` messages (16-bit PCM, a RIFF header in the first, at most 8192 bytes each, an empty one at
//! the end). The service answers `turn.start`, `speech.startDetected`, `speech.hypothesis` (→
//! [`RecognizerEvent::Partial`]), `speech.phrase` (→ [`RecognizerEvent::Final`] with the n-best list and
//! confidences), `speech.endDetected` and `turn.end`. The adapter closes the socket once it has the final.
//!
//! Followed: Microsoft's `websocketprotocol.md` (Speech service WebSocket protocol), the Speech SDK for
//! JavaScript (`SpeechConnectionFactory.ts`, `WebsocketMessageFormatter.ts`, `DynamicGrammarBuilder.ts`,
//! `ServiceMessages/DetailedSpeechPhrase.ts`). Limits from that documentation: 8192 bytes per audio message,
//! a connection lasts at most 10 minutes and idles at most 180 s (one RECOGNIZE is far shorter).
//!
//! Failures: a refused handshake maps by HTTP status (401/403 → [`EngineErrorKind::Auth`], 429/503 retried
//! with [`RetryPolicy`] then [`EngineErrorKind::Unavailable`]); a close frame or a dropped connection
//! mid-stream → an error carrying the service's reason; no final within `result_timeout` of the end of
//! input → [`EngineErrorKind::Timeout`]. The subscription key never appears in a log, error or URL.

mod connect;
mod map;
pub mod usp;

use std::time::{Duration, SystemTime};

use futures_util::{SinkExt, StreamExt};
use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{debug, warn};

use crate::{
    Constraint, EngineSide, GrammarSupport, RecognitionRequest, RecognitionStream, Recognizer,
    RecognizerCapabilities, RecognizerEvent, recognition_channel,
};
pub use map::{Step, close_kind, step};

type Ws = crate::net::WsStream;

/// How the adapter proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureAuth {
    /// `Ocp-Apim-Subscription-Key: <key>`.
    SubscriptionKey(Secret),
    /// `Authorization: Bearer <token>` (a token from `issueToken`, valid 10 minutes).
    BearerToken(Secret),
}

/// The recognition mode, which is part of the URL path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecognitionMode {
    /// Short utterances, one phrase per turn.
    Interactive,
    /// Conversational speech (the default: what callers say to an IVR).
    #[default]
    Conversation,
    /// Long dictation.
    Dictation,
}

impl RecognitionMode {
    fn path(self) -> &'static str {
        match self {
            Self::Interactive => "interactive",
            Self::Conversation => "conversation",
            Self::Dictation => "dictation",
        }
    }
}

/// An Azure Speech recognizer's configuration (`[engines.<name>] kind = "azure"` in the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSpeechConfig {
    /// Where to connect, without path: `wss://{region}.stt.speech.microsoft.com` (see
    /// [`AzureSpeechConfig::region_endpoint`]), or a private endpoint or emulator.
    pub endpoint: String,
    /// The credential.
    pub auth: AzureAuth,
    /// The recognition mode.
    pub mode: RecognitionMode,
    /// The language when the request names none (BCP 47, e.g. `en-US`).
    pub default_language: String,
    /// The PCM rate sent; the documented format is 16 kHz.
    pub sample_rate: u32,
    /// The longest the WebSocket handshake may take.
    pub connect_timeout: Duration,
    /// The longest the service may take to give its final result once the input ended.
    pub result_timeout: Duration,
    /// Retries after 429 and 503 at the handshake.
    pub retry: RetryPolicy,
    /// Whether the grammars' phrases go to the service as a phrase list.
    pub phrase_list: bool,
}

impl AzureSpeechConfig {
    /// The public endpoint of a region (`westeurope`, `eastus`…).
    pub fn region_endpoint(region: &str) -> String {
        format!("wss://{region}.stt.speech.microsoft.com")
    }

    /// A configuration for `endpoint` with the documented defaults: conversation mode, `en-US`, 16 kHz, a
    /// 5 s connect timeout, a 5 s result timeout, the default retry policy and phrase lists on.
    pub fn new(endpoint: impl Into<String>, auth: AzureAuth) -> Self {
        Self {
            endpoint: endpoint.into(),
            auth,
            mode: RecognitionMode::default(),
            default_language: "en-US".to_owned(),
            sample_rate: 16_000,
            connect_timeout: Duration::from_secs(5),
            result_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            phrase_list: true,
        }
    }

    /// Checks the values; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.endpoint.starts_with("wss://") || self.endpoint.starts_with("ws://")) {
            return Err(format!(
                "endpoint {:?} is not a ws:// or wss:// URL",
                self.endpoint
            ));
        }
        if ![8_000, 16_000].contains(&self.sample_rate) {
            return Err(format!(
                "sample_rate {} is not 8000 or 16000",
                self.sample_rate
            ));
        }
        if self.connect_timeout.is_zero() || self.result_timeout.is_zero() {
            return Err("timeouts must be above 0".to_owned());
        }
        Ok(())
    }
}

/// The Azure Speech recognizer.
#[derive(Debug, Clone)]
pub struct AzureRecognizer {
    name: String,
    config: AzureSpeechConfig,
    capabilities: RecognizerCapabilities,
}

impl AzureRecognizer {
    /// A recognizer named `name`; fails when the configuration is invalid.
    pub fn new(name: impl Into<String>, config: AzureSpeechConfig) -> Result<Self, EngineError> {
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

    /// The URL of one recognition (no credential in it, so it may be logged).
    fn url(&self, language: &str) -> String {
        let language: String =
            percent_encoding::utf8_percent_encode(language, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        format!(
            "{}/speech/recognition/{}/cognitiveservices/v1?language={language}&format=detailed",
            self.config.endpoint.trim_end_matches('/'),
            self.config.mode.path()
        )
    }
}

impl Recognizer for AzureRecognizer {
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
            .clone()
            .unwrap_or_else(|| self.config.default_language.clone());
        let phrases = match (&request.constraint, self.config.phrase_list) {
            (Constraint::Grammars(g), true) => g.phrases.clone(),
            _ => Vec::new(),
        };
        let session = Session {
            name: self.name.clone(),
            url: self.url(&language),
            config: self.config.clone(),
            phrases,
        };
        tokio::spawn(session.run(side));
        Ok(stream)
    }
}

/// One recognition's driver.
struct Session {
    name: String,
    url: String,
    config: AzureSpeechConfig,
    phrases: Vec<String>,
}

/// How long audio may wait locally while the socket opens: 10 s at 16 kHz.
const MAX_PENDING_BYTES: usize = 320_000;

impl Session {
    fn error(&self, kind: EngineErrorKind, message: impl Into<String>) -> EngineError {
        EngineError::new(&self.name, kind, message)
    }

    async fn run(self, mut side: EngineSide) {
        let result = self.drive(&mut side).await;
        if let Err(error) = result {
            warn!(engine = %self.name, %error, "azure recognition failed");
            let _ = side.events.send(Err(error)).await;
        }
    }

    async fn drive(&self, side: &mut EngineSide) -> Result<(), EngineError> {
        // Audio keeps arriving while the socket opens: hold it (bounded) rather than let the server drop it.
        let mut pending: Vec<u8> = Vec::new();
        let mut input_done = false;
        let connect = self.connect();
        tokio::pin!(connect);
        let mut ws = loop {
            tokio::select! {
                ws = &mut connect => break ws?,
                frame = side.audio.recv(), if !input_done => match frame {
                    Some(samples) => {
                        if pending.len() < MAX_PENDING_BYTES {
                            pending.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
                        }
                    }
                    None => input_done = true,
                },
                () = side.events.closed() => return Ok(()),
            }
        };
        let request_id = usp::no_dash_uuid();
        self.send_preamble(&mut ws, &request_id).await?;
        let mut audio = AudioSender::new(request_id, self.config.sample_rate);
        audio
            .push(&mut ws, &pending)
            .await
            .map_err(|e| self.io(e))?;
        let mut deadline = None;
        let mut write_error: Option<String> = None;
        let mut input_closed = input_done;
        if input_done {
            audio.finish(&mut ws).await.map_err(|e| self.io(e))?;
            deadline = Some(Instant::now() + self.config.result_timeout);
        }
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
                        // The audio already ended (the service's endDetected, or a failed write): later
                        // frames are read and dropped here rather than left to back up into the server.
                        continue;
                    }
                    let sent = match frame {
                        Some(samples) => {
                            let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                            audio.push(&mut ws, &bytes).await
                        }
                        None => {
                            deadline = Some(Instant::now() + self.config.result_timeout);
                            audio.finish(&mut ws).await
                        }
                    };
                    if audio.finished {
                        deadline.get_or_insert(Instant::now() + self.config.result_timeout);
                    }
                    if let Err(e) = sent {
                        // The service may have closed with a reason, or sent its final, that is still
                        // unread: stop sending and read on; the write error is reported only if nothing
                        // better comes.
                        audio.finished = true;
                        write_error = Some(e.to_string());
                        deadline.get_or_insert(Instant::now() + self.config.result_timeout);
                    }
                },
                message = ws.next() => {
                    match self.handle(message, write_error.as_deref())? {
                        Handled::Continue => {}
                        Handled::Event(event) => {
                            let last = matches!(event, RecognizerEvent::Final(_));
                            if side.events.send(Ok(event)).await.is_err() || last {
                                close(&mut ws).await;
                                return Ok(());
                            }
                        }
                        Handled::EndOfSpeech => {
                            // The service heard the end: stop streaming and wait for the phrase.
                            if !audio.finished && audio.finish(&mut ws).await.is_err() {
                                audio.finished = true;
                            }
                            deadline.get_or_insert(Instant::now() + self.config.result_timeout);
                            if side.events.send(Ok(RecognizerEvent::SpeechEnded)).await.is_err() {
                                close(&mut ws).await;
                                return Ok(());
                            }
                        }
                    }
                }
                () = timeout => {
                    close(&mut ws).await;
                    return Err(self.error(
                        EngineErrorKind::Timeout,
                        format!("azure gave no final result within {:?} of the end of input", self.config.result_timeout),
                    ));
                }
                () = side.events.closed() => {
                    // The server cancelled (STOP, BYE, barge-in): end the turn politely.
                    close(&mut ws).await;
                    return Ok(());
                }
            }
        }
    }

    fn io(&self, e: tungstenite::Error) -> EngineError {
        self.error(
            EngineErrorKind::Unavailable,
            format!("azure connection failed mid-stream: {e}"),
        )
    }

    fn handle(
        &self,
        message: Option<Result<Message, tungstenite::Error>>,
        write_error: Option<&str>,
    ) -> Result<Handled, EngineError> {
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                return Err(self.error(
                    close_kind(code),
                    format!("azure closed the connection: {code} {reason}"),
                ));
            }
            Some(Ok(_)) => return Ok(Handled::Continue),
            Some(Err(e)) => {
                return Err(self.error(
                    EngineErrorKind::Unavailable,
                    format!(
                        "azure connection failed mid-stream: {}",
                        write_error.map_or(e.to_string(), str::to_owned)
                    ),
                ));
            }
            None => {
                return Err(self.error(
                    EngineErrorKind::Unavailable,
                    format!(
                        "azure dropped the connection before the final result{}",
                        write_error.map(|e| format!(": {e}")).unwrap_or_default()
                    ),
                ));
            }
        };
        let message = usp::parse_text(&text).map_err(|e| {
            self.error(
                EngineErrorKind::Internal,
                format!("azure sent a bad message: {e}"),
            )
        })?;
        debug!(engine = %self.name, path = %message.path, "azure message");
        Ok(match step(&self.name, &message)? {
            Step::Event(event) => Handled::Event(event),
            Step::EndOfSpeech => Handled::EndOfSpeech,
            // A turn that ended without a phrase heard nothing.
            Step::TurnEnd => Handled::Event(RecognizerEvent::Final(Vec::new())),
            Step::Nothing => Handled::Continue,
        })
    }

    async fn send_preamble(&self, ws: &mut Ws, request_id: &str) -> Result<(), EngineError> {
        let now = usp::timestamp(SystemTime::now());
        let config = serde_json::json!({
            "context": {
                "system": {"name": "open-mrcp", "version": env!("CARGO_PKG_VERSION"), "build": "rust"},
                "os": {"platform": std::env::consts::OS, "name": std::env::consts::OS, "version": ""},
                "audio": {"source": {"type": "Stream", "samplerate": self.config.sample_rate, "bitspersample": 16, "channelcount": 1}}
            }
        });
        ws.send(Message::text(usp::text_message(
            "speech.config",
            None,
            &now,
            &config.to_string(),
        )))
        .await
        .map_err(|e| self.io(e))?;
        if !self.phrases.is_empty() {
            let items: Vec<_> = self
                .phrases
                .iter()
                .map(|p| serde_json::json!({ "text": p }))
                .collect();
            let context = serde_json::json!({
                "dgi": {"groups": [{"type": "Generic", "items": items}], "bias": 1.0}
            });
            ws.send(Message::text(usp::text_message(
                "speech.context",
                Some(request_id),
                &now,
                &context.to_string(),
            )))
            .await
            .map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}

enum Handled {
    Continue,
    Event(RecognizerEvent),
    EndOfSpeech,
}

/// Sends the call's audio as `audio` messages of at most [`usp::MAX_AUDIO_BYTES`], the first with the RIFF
/// header.
struct AudioSender {
    request_id: String,
    header: Option<[u8; 44]>,
    finished: bool,
    sent_bytes: usize,
    max_bytes: usize,
}

/// A connection lasts at most 10 minutes (`websocketprotocol.md`); the audio ends a little before, so the
/// final result still arrives on it.
const MAX_CONNECTION_AUDIO: Duration = Duration::from_secs(570);

impl AudioSender {
    fn new(request_id: String, sample_rate: u32) -> Self {
        Self {
            request_id,
            header: Some(usp::wav_header(sample_rate)),
            finished: false,
            sent_bytes: 0,
            max_bytes: (u64::from(sample_rate) * 2 * MAX_CONNECTION_AUDIO.as_secs()) as usize,
        }
    }

    async fn push(&mut self, ws: &mut Ws, pcm: &[u8]) -> Result<(), tungstenite::Error> {
        if pcm.is_empty() || self.finished {
            return Ok(());
        }
        let mut data = Vec::with_capacity(44 + pcm.len());
        if let Some(header) = self.header.take() {
            data.extend_from_slice(&header);
        }
        data.extend_from_slice(pcm);
        let now = usp::timestamp(SystemTime::now());
        for chunk in data.chunks(usp::MAX_AUDIO_BYTES) {
            ws.feed(Message::binary(usp::audio_message(
                &self.request_id,
                &now,
                chunk,
            )))
            .await?;
        }
        ws.flush().await?;
        self.sent_bytes += pcm.len();
        if self.sent_bytes >= self.max_bytes {
            self.finish(ws).await?;
        }
        Ok(())
    }

    async fn finish(&mut self, ws: &mut Ws) -> Result<(), tungstenite::Error> {
        self.finished = true;
        let now = usp::timestamp(SystemTime::now());
        ws.send(Message::binary(usp::audio_message(
            &self.request_id,
            &now,
            &[],
        )))
        .await
    }
}

/// Closes the socket with 1000, not waiting long for the peer's answer.
async fn close(ws: &mut Ws) {
    let frame = CloseFrame {
        code: tungstenite::protocol::frame::coding::CloseCode::Normal,
        reason: "".into(),
    };
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(Some(frame))).await;
}
