//! Deepgram live streaming recognition: one WebSocket to `wss://api.deepgram.com/v1/listen` per RECOGNIZE.
//!
//! Documentation followed (checked 2026-11-23):
//! - the endpoint, query parameters and `Authorization: Token <key>`:
//!   <https://developers.deepgram.com/reference/speech-to-text/listen-streaming>;
//! - `encoding` (`linear16`, `mulaw`, …) and the rule that `sample_rate` must accompany it:
//!   <https://developers.deepgram.com/docs/encoding>;
//! - interim results, `is_final` and `speech_final`, `endpointing`:
//!   <https://developers.deepgram.com/docs/understand-endpointing-interim-results>;
//! - `UtteranceEnd` (`utterance_end_ms`, needs interim results): <https://developers.deepgram.com/docs/utterance-end>;
//! - `KeepAlive`, `Finalize`, `CloseStream`: <https://developers.deepgram.com/docs/audio-keep-alive>,
//!   <https://developers.deepgram.com/docs/finalize>, <https://developers.deepgram.com/docs/close-stream>;
//! - errors as close frames with a reason (`NET-0001`: no audio or KeepAlive for 10 s) and handshake
//!   refusals as HTTP 4xx/5xx with a `dg-error` header:
//!   <https://developers.deepgram.com/docs/stt-troubleshooting-websocket-data-and-net-errors>,
//!   <https://developers.deepgram.com/changelog/2022/11/8>.
//!
//! # What the adapter does
//! Audio goes out as binary frames, `linear16` at 8 kHz by default or `mulaw` (half the bytes; exact for
//! calls that arrive as PCMU, since G.711 decoding then encoding gives the same codes). `interim_results`
//! become [`RecognizerEvent::Partial`], `SpeechStarted` (`vad_events`) [`RecognizerEvent::SpeechStarted`].
//! A `KeepAlive` goes out whenever no audio was sent for `keepalive_ms`. When the server's endpointer ends
//! the input, the adapter sends `Finalize` then `CloseStream` and reports the final transcript on the
//! `from_finalize` result (or the closing `Metadata`). With `vendor_endpointing = true`, Deepgram's own end of
//! utterance (`speech_final`, `UtteranceEnd`) ends the recognition at once instead. The grammars' phrases go
//! as `keyterm` (Nova-3) or their words as `keywords` (older models); the server matches the transcript
//! against the grammars ([`GrammarSupport::Hints`]).
//!
//! One WebSocket per RECOGNIZE, closed with `CloseStream` on completion and also when the server drops the
//! recognition (STOP, barge-in, BYE). Timeouts: `connect_timeout_ms` for the handshake (refusals with 429 or
//! 503 are retried per [`RetryPolicy`]), `result_timeout_ms` from the end of input to the final transcript.
//! A close frame other than the answer to `CloseStream`, a lost connection, or an `Error` message ends the
//! recognition with an [`EngineError`] carrying Deepgram's reason (`NET-0001`, `DATA-0000`…), which the server
//! reports as Completion-Cause 006.
//!
//! Limits: one channel; `linear16` or `mulaw` only; n-best alternatives (`alternatives`) only when the
//! utterance is one finalized segment (several segments are joined into one alternative); at most 50 hints.

mod wire;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wire::{Heard, Utterance};

use crate::net::{
    HandshakeRefusal, WsConnect, WsStream, clean_message, connect_ws, credential_header,
    refusal_text,
};
use crate::openai::{le_bytes, websocket_base};
use crate::{
    Constraint, EngineSide, GrammarSupport, RecognitionRequest, RecognitionStream, Recognizer,
    RecognizerCapabilities, RecognizerEvent, recognition_channel,
};

/// How audio is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeepgramEncoding {
    /// 16-bit little-endian PCM.
    Linear16,
    /// G.711 μ-law.
    Mulaw,
}

impl DeepgramEncoding {
    fn as_str(self) -> &'static str {
        match self {
            DeepgramEncoding::Linear16 => "linear16",
            DeepgramEncoding::Mulaw => "mulaw",
        }
    }
}

/// How grammar phrases are passed as hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HintStyle {
    /// `keyterm` for Nova-3 models, `keywords` otherwise.
    Auto,
    /// `keyterm=<phrase>` (Nova-3).
    Keyterm,
    /// `keywords=<word>` (Nova-2 and older).
    Keywords,
    /// No hints.
    None,
}

/// `[engines.<name>.recognizer]` of a `kind = "deepgram"` engine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeepgramListenConfig {
    /// `model`: default `"nova-3"` (`"nova-2-phonecall"` suits telephone audio too).
    pub model: String,
    /// `path`: default `"/v1/listen"`.
    pub path: String,
    /// `language`: sent when the request has no Speech-Language. Default none (Deepgram's `en`).
    pub language: Option<String>,
    /// `encoding`: `"linear16"` or `"mulaw"`. Default `"linear16"`.
    pub encoding: DeepgramEncoding,
    /// `sample_rate`: the rate audio is sent at (the server resamples the call to it). Default 8000.
    pub sample_rate: u32,
    /// `interim_results`: ask for partial results. Default true.
    pub interim_results: bool,
    /// `endpointing_ms`: Deepgram's pause detection for `speech_final`; 0 sends `endpointing=false`.
    /// Default 300.
    pub endpointing_ms: u32,
    /// `utterance_end_ms`: ask for `UtteranceEnd` after this gap (needs interim results); 0 = off.
    /// Default 1000.
    pub utterance_end_ms: u32,
    /// `vad_events`: ask for `SpeechStarted`. Default true.
    pub vad_events: bool,
    /// `smart_format`: Deepgram's formatting (numbers, punctuation). Default false: plain words match
    /// grammars best.
    pub smart_format: bool,
    /// `hints`: `"auto"`, `"keyterm"`, `"keywords"` or `"none"`. Default `"auto"`.
    pub hints: HintStyle,
    /// `vendor_endpointing`: end the recognition on Deepgram's end of utterance rather than the server's
    /// endpointer. Default false.
    pub vendor_endpointing: bool,
    /// `keepalive_ms`: send `KeepAlive` after this long without audio (Deepgram closes after 10 s).
    /// Default 3000.
    pub keepalive_ms: u64,
    /// `connect_timeout_ms`: the longest the handshake may take. Default 3000.
    pub connect_timeout_ms: u64,
    /// `result_timeout_ms`: the longest from the end of input to the final transcript. Default 5000.
    pub result_timeout_ms: u64,
    /// `max_retries`: retries of a handshake refused with 429 or 503. Default 2.
    pub max_retries: u32,
}

impl Default for DeepgramListenConfig {
    fn default() -> Self {
        Self {
            model: "nova-3".to_owned(),
            path: "/v1/listen".to_owned(),
            language: None,
            encoding: DeepgramEncoding::Linear16,
            sample_rate: 8000,
            interim_results: true,
            endpointing_ms: 300,
            utterance_end_ms: 1000,
            vad_events: true,
            smart_format: false,
            hints: HintStyle::Auto,
            vendor_endpointing: false,
            keepalive_ms: 3000,
            connect_timeout_ms: 3000,
            result_timeout_ms: 5000,
            max_retries: 2,
        }
    }
}

/// The most hints sent (each is a query parameter).
const MAX_HINTS: usize = 50;

struct Inner {
    name: String,
    base_url: String,
    api_key: Secret,
    config: DeepgramListenConfig,
    retry: RetryPolicy,
}

/// The Deepgram live recognizer.
pub struct DeepgramRecognizer {
    inner: Arc<Inner>,
    capabilities: RecognizerCapabilities,
}

impl std::fmt::Debug for DeepgramRecognizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepgramRecognizer")
            .field("name", &self.inner.name)
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

impl DeepgramRecognizer {
    /// A recognizer named `name` for `base_url` (`https://api.deepgram.com`).
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Secret,
        config: DeepgramListenConfig,
    ) -> Result<Self, EngineError> {
        let name = name.into();
        if config.encoding == DeepgramEncoding::Mulaw && config.sample_rate != 8000 {
            return Err(EngineError::new(
                name,
                EngineErrorKind::BadRequest,
                "encoding mulaw needs sample_rate 8000",
            ));
        }
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
                base_url: base_url.trim_end_matches('/').to_owned(),
                api_key,
                config,
                retry,
            }),
            capabilities,
        })
    }
}

impl Recognizer for DeepgramRecognizer {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> &RecognizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: RecognitionRequest) -> Result<RecognitionStream, EngineError> {
        let url = listen_url(&self.inner, &request)?;
        let (stream, side) = recognition_channel();
        tokio::spawn(run(self.inner.clone(), url, side));
        Ok(stream)
    }
}

/// The `/v1/listen` URL with the query for a request.
fn listen_url(inner: &Inner, request: &RecognitionRequest) -> Result<String, EngineError> {
    let c = &inner.config;
    let mut query: Vec<(&str, String)> = vec![
        ("model", c.model.clone()),
        ("encoding", c.encoding.as_str().to_owned()),
        ("sample_rate", c.sample_rate.to_string()),
        ("channels", "1".to_owned()),
        ("interim_results", c.interim_results.to_string()),
        (
            "endpointing",
            if c.endpointing_ms == 0 {
                "false".to_owned()
            } else {
                c.endpointing_ms.to_string()
            },
        ),
        ("vad_events", c.vad_events.to_string()),
        ("smart_format", c.smart_format.to_string()),
    ];
    if c.interim_results && c.utterance_end_ms > 0 {
        query.push(("utterance_end_ms", c.utterance_end_ms.to_string()));
    }
    if let Some(language) = request.language.as_deref().or(c.language.as_deref()) {
        query.push(("language", language.to_owned()));
    }
    if request.n_best > 1 {
        query.push(("alternatives", request.n_best.min(10).to_string()));
    }
    let style = match c.hints {
        HintStyle::Auto if c.model.starts_with("nova-3") => HintStyle::Keyterm,
        HintStyle::Auto => HintStyle::Keywords,
        other => other,
    };
    if let Constraint::Grammars(grammars) = &request.constraint {
        match style {
            HintStyle::Keyterm => query.extend(
                grammars
                    .phrases
                    .iter()
                    .take(MAX_HINTS)
                    .map(|p| ("keyterm", p.clone())),
            ),
            HintStyle::Keywords => query.extend(
                grammars
                    .words
                    .iter()
                    .take(MAX_HINTS)
                    .map(|w| ("keywords", w.clone())),
            ),
            HintStyle::Auto | HintStyle::None => {}
        }
    }
    let base = format!("{}{}", websocket_base(&inner.base_url), c.path);
    reqwest::Url::parse_with_params(&base, &query)
        .map(|u| u.to_string())
        .map_err(|e| {
            EngineError::new(
                &inner.name,
                EngineErrorKind::BadRequest,
                format!("bad Deepgram URL {base}: {e}"),
            )
        })
}

type Socket = WsStream;

async fn run(inner: Arc<Inner>, url: String, side: EngineSide) {
    let EngineSide { audio, events } = side;
    if let Err(error) = stream(&inner, &url, audio, &events).await {
        // Fails harmlessly when the server has dropped the recognition.
        let _ = events.send(Err(error)).await;
    }
}

fn lost(engine: &str, detail: impl std::fmt::Display) -> EngineError {
    EngineError::new(
        engine,
        EngineErrorKind::Unavailable,
        format!("connection lost: {detail}"),
    )
}

async fn stream(
    inner: &Inner,
    url: &str,
    mut audio: mpsc::Receiver<Vec<i16>>,
    events: &mpsc::Sender<Result<RecognizerEvent, EngineError>>,
) -> Result<(), EngineError> {
    let name = inner.name.as_str();
    let c = &inner.config;
    let mut ws = connect(inner, url).await?;
    let keepalive = Duration::from_millis(c.keepalive_ms.max(100));
    let mut last_sent = Instant::now();
    let mut input_open = true;
    let mut deadline: Option<Instant> = None;
    let mut utterance = Utterance::default();
    loop {
        let wake = deadline.unwrap_or(last_sent + keepalive);
        tokio::select! {
            frame = audio.recv(), if input_open => match frame {
                Some(samples) => {
                    let bytes = match c.encoding {
                        DeepgramEncoding::Linear16 => le_bytes(&samples),
                        DeepgramEncoding::Mulaw => {
                            let mut out = Vec::with_capacity(samples.len());
                            mrcp_proto::rtp::g711::encode_ulaw(&samples, &mut out);
                            out
                        }
                    };
                    ws.send(Message::binary(bytes)).await.map_err(|e| lost(name, e))?;
                    last_sent = Instant::now();
                }
                None => {
                    input_open = false;
                    ws.send(Message::text(r#"{"type":"Finalize"}"#)).await.map_err(|e| lost(name, e))?;
                    ws.send(Message::text(r#"{"type":"CloseStream"}"#)).await.map_err(|e| lost(name, e))?;
                    deadline = Some(Instant::now() + Duration::from_millis(c.result_timeout_ms));
                }
            },
            message = ws.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        let normal = frame.as_ref().is_none_or(|f| u16::from(f.code) == 1000);
                        if normal && !input_open {
                            // CloseStream answered: everything Deepgram had is in.
                            let _ = events.send(Ok(RecognizerEvent::Final(utterance.result()))).await;
                            return Ok(());
                        }
                        let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_else(|| "no close code".to_owned());
                        return Err(EngineError::new(name, EngineErrorKind::Unavailable, format!("Deepgram closed the stream: {}", clean_message(&why, Some(&inner.api_key)))));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(lost(name, e)),
                    None => return Err(lost(name, "closed without a close frame")),
                };
                let message = wire::parse(text.as_str()).map_err(|e| {
                    EngineError::new(name, EngineErrorKind::Internal, format!("unreadable Deepgram message: {e}"))
                })?;
                match utterance.handle(message) {
                    // Interim news is dropped rather than waited for when the server is behind.
                    Heard::Event(event) => {
                        let _ = events.try_send(Ok(event));
                    }
                    Heard::EndOfUtterance if c.vendor_endpointing && input_open => {
                        let _ = events.send(Ok(RecognizerEvent::Final(utterance.result()))).await;
                        let _ = ws.send(Message::text(r#"{"type":"CloseStream"}"#)).await;
                        let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(None)).await;
                        return Ok(());
                    }
                    Heard::EndOfUtterance => {
                        let _ = events.try_send(Ok(RecognizerEvent::SpeechEnded));
                    }
                    Heard::Finalized | Heard::Done if !input_open => {
                        let _ = events.send(Ok(RecognizerEvent::Final(utterance.result()))).await;
                        let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(None)).await;
                        return Ok(());
                    }
                    Heard::Error(description) => {
                        return Err(EngineError::new(name, EngineErrorKind::Internal, clean_message(&description, Some(&inner.api_key))));
                    }
                    Heard::Finalized | Heard::Done | Heard::Nothing => {}
                }
            }
            // STOP, barge-in or BYE: the server dropped the recognition. Deepgram bills an open stream, so
            // it is told, not just left.
            () = events.closed() => {
                let _ = ws.send(Message::text(r#"{"type":"CloseStream"}"#)).await;
                let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(None)).await;
                return Ok(());
            }
            () = tokio::time::sleep_until(wake) => {
                if deadline.is_some() {
                    return Err(EngineError::new(name, EngineErrorKind::Timeout, format!("no final transcript {} ms after the end of input", c.result_timeout_ms)));
                }
                ws.send(Message::text(r#"{"type":"KeepAlive"}"#)).await.map_err(|e| lost(name, e))?;
                last_sent = Instant::now();
            }
        }
    }
}

/// Opens the WebSocket (`Authorization: Token …`), retrying a 429 or 503 handshake per the retry policy.
async fn connect(inner: &Inner, url: &str) -> Result<Socket, EngineError> {
    let name = inner.name.as_str();
    let to = WsConnect {
        engine: name,
        vendor: "Deepgram",
        connect_timeout: Duration::from_millis(inner.config.connect_timeout_ms),
        retry: &inner.retry,
        max_message: None,
    };
    let authorization = format!("Token {}", inner.api_key.expose());
    let request = || {
        let mut request = url.into_client_request().map_err(|e| {
            EngineError::new(
                name,
                EngineErrorKind::BadRequest,
                format!("bad Deepgram URL: {e}"),
            )
        })?;
        let auth = credential_header(name, &authorization)?;
        request.headers_mut().insert("authorization", auth);
        Ok(request)
    };
    // The body, else the `dg-error` header (Deepgram's changelog 2022-11-08).
    let vendor_message = |response: &HandshakeRefusal| {
        let body = Some(refusal_text(response))
            .filter(|b| !b.is_empty())
            .or_else(|| {
                response
                    .headers()
                    .get("dg-error")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        clean_message(&wire::error_message(&body), Some(&inner.api_key))
    };
    connect_ws(&to, request, vendor_message).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompiledGrammars;

    fn inner(config: DeepgramListenConfig) -> Inner {
        Inner {
            name: "dg".into(),
            base_url: "https://api.deepgram.com".into(),
            api_key: Secret::new("k"),
            config,
            retry: RetryPolicy::default(),
        }
    }

    #[test]
    fn the_url_carries_encoding_rate_and_hints() {
        let request = RecognitionRequest {
            language: Some("en-US".into()),
            constraint: Constraint::Grammars(CompiledGrammars {
                words: vec!["yes".into()],
                phrases: vec!["yes please".into()],
                ..CompiledGrammars::default()
            }),
            n_best: 1,
            vendor_parameters: Vec::new(),
        };
        let url = listen_url(&inner(DeepgramListenConfig::default()), &request).expect("url");
        assert!(
            url.starts_with(
                "wss://api.deepgram.com/v1/listen?model=nova-3&encoding=linear16&sample_rate=8000"
            ),
            "{url}"
        );
        assert!(
            url.contains("keyterm=yes+please") && url.contains("language=en-US"),
            "{url}"
        );
        assert!(
            url.contains("utterance_end_ms=1000") && url.contains("endpointing=300"),
            "{url}"
        );
        let old = DeepgramListenConfig {
            model: "nova-2-phonecall".into(),
            endpointing_ms: 0,
            ..DeepgramListenConfig::default()
        };
        let url = listen_url(&inner(old), &request).expect("url");
        assert!(
            url.contains("keywords=yes") && url.contains("endpointing=false"),
            "{url}"
        );
    }

    #[test]
    fn mulaw_needs_8k() {
        let config = DeepgramListenConfig {
            encoding: DeepgramEncoding::Mulaw,
            sample_rate: 16000,
            ..DeepgramListenConfig::default()
        };
        assert!(DeepgramRecognizer::new("dg", "https://x", Secret::new("k"), config).is_err());
    }
}
