//! The task that runs one recognition over one engine-ws connection (`docs/engine-ws.md` §2.1): it owns the
//! socket, moves audio out and messages in, and ends with exactly one result or error for the server.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mrcp_proto::engine::{EngineError, EngineErrorKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tracing::debug;

use super::EngineWsConfig;
use super::connect::{self, EngineSocket};
use super::message::{self, EngineMessage, StartParams};
use crate::{Alternative, EngineSide, RecognitionRequest, RecognizerEvent};

type Events = mpsc::Sender<Result<RecognizerEvent, EngineError>>;
type Sink = futures_util::stream::SplitSink<EngineSocket, Message>;
type Source = futures_util::stream::SplitStream<EngineSocket>;

/// How long the closing handshake (ours or the `cancel`) may take before the socket is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// One recognition to run.
pub(super) struct Job {
    pub(super) engine: String,
    pub(super) config: Arc<EngineWsConfig>,
    pub(super) request: RecognitionRequest,
}

/// How a conversation ended.
enum End {
    /// The server dropped the stream: send `cancel`.
    Cancelled,
    /// The result (or failure) to report.
    Report(Result<RecognizerEvent, EngineError>),
}

/// What the conversation has seen so far.
#[derive(Default)]
struct Seen {
    /// `started` arrived: a v1 engine rather than a jambonz one (§6).
    started: bool,
    /// `stop` was sent.
    stopped: bool,
    /// jambonz `transcription` finals, joined into the result at the close.
    segments: Vec<String>,
}

impl Job {
    pub(super) async fn run(self, side: EngineSide) {
        let EngineSide { mut audio, events } = side;
        let shown = connect::redacted(&self.config.url);
        let connecting = connect::connect(
            &self.engine,
            &self.config.url,
            self.config.credential.as_ref(),
            self.config.connect_timeout,
        );
        let socket = tokio::select! {
            biased;
            () = events.closed() => return,
            socket = connecting => match socket {
                Ok(socket) => socket,
                Err(error) => {
                    let _ = events.send(Err(error)).await;
                    return;
                }
            },
        };
        debug!(engine = %self.engine, url = %shown, "engine-ws recognition connected");
        let (mut sink, mut source) = socket.split();
        let end = tokio::select! {
            biased;
            () = events.closed() => End::Cancelled,
            end = self.converse(&mut sink, &mut source, &mut audio, &events) => end,
        };
        match end {
            End::Cancelled => {
                debug!(engine = %self.engine, "recognition cancelled: sending cancel");
                let cancel = Message::text(r#"{"type":"cancel"}"#);
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    let _ = sink.send(cancel).await;
                    let _ = sink.close().await;
                })
                .await;
            }
            End::Report(report) => {
                let _ = events.send(report).await;
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
            }
        }
    }

    fn error(&self, kind: EngineErrorKind, message: impl Into<String>) -> EngineError {
        EngineError::new(self.engine.clone(), kind, message)
    }

    fn lost(&self, detail: impl std::fmt::Display) -> End {
        End::Report(Err(self.error(
            EngineErrorKind::Unavailable,
            format!(
                "connection to {} lost before the result: {detail}",
                connect::redacted(&self.config.url)
            ),
        )))
    }

    async fn converse(
        &self,
        sink: &mut Sink,
        source: &mut Source,
        audio: &mut mpsc::Receiver<Vec<i16>>,
        events: &Events,
    ) -> End {
        let params = StartParams {
            default_language: &self.config.language,
            sample_rate: self.config.sample_rate,
            interim_results: self.config.interim_results,
            idle_ms: millis(self.config.idle_timeout),
            result_ms: millis(self.config.result_timeout),
        };
        let start = message::start(&self.request, &params);
        if let Err(e) = sink.send(Message::text(start)).await {
            return self.lost(e);
        }
        let mut seen = Seen::default();
        let mut input_open = true;
        let mut deadline: Option<Instant> = None;
        loop {
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                incoming = source.next() => {
                    let reply = match incoming {
                        None => return self.closed(None, &seen),
                        Some(Err(e)) => return self.lost(e),
                        Some(Ok(Message::Close(frame))) => {
                            let close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                            return self.closed(close, &seen);
                        }
                        Some(Ok(Message::Text(text))) => self.handle_text(&text, &mut seen),
                        // Pings are answered by the library; an ASR engine has no audio to send.
                        Some(Ok(_)) => Step::Continue,
                    };
                    match reply {
                        Step::Continue => {}
                        Step::Event(event) => {
                            if events.send(Ok(event)).await.is_err() {
                                return End::Cancelled;
                            }
                        }
                        Step::End(end) => return end,
                    }
                }
                frame = audio.recv(), if input_open => match frame {
                    Some(samples) => {
                        if let Err(e) = sink.send(Message::binary(message::pcm_bytes(&samples))).await {
                            return self.after_send_failure(source, &mut seen, e).await;
                        }
                    }
                    None => {
                        // A dropped stream also ends the audio: that is a cancel, not the end of input.
                        if events.is_closed() {
                            return End::Cancelled;
                        }
                        input_open = false;
                        seen.stopped = true;
                        if let Err(e) = sink.send(Message::text(r#"{"type":"stop"}"#)).await {
                            return self.after_send_failure(source, &mut seen, e).await;
                        }
                        deadline = Some(Instant::now() + self.config.result_timeout);
                    }
                },
                () = timer => {
                    if !seen.segments.is_empty() {
                        return End::Report(Ok(self.joined(&seen)));
                    }
                    return End::Report(Err(self.error(
                        EngineErrorKind::Timeout,
                        format!("no final result within {} ms after stop", millis(self.config.result_timeout)),
                    )));
                }
            }
        }
    }

    /// A send failed because the engine ended the connection: what it said before (its `error`, its close)
    /// is the better report, when it is still readable.
    async fn after_send_failure(
        &self,
        source: &mut Source,
        seen: &mut Seen,
        failure: impl std::fmt::Display,
    ) -> End {
        let drain = async {
            while let Some(Ok(message)) = source.next().await {
                match message {
                    Message::Text(text) => {
                        if let Step::End(end) = self.handle_text(&text, seen) {
                            return Some(end);
                        }
                    }
                    Message::Close(frame) => {
                        let close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                        return Some(self.closed(close, seen));
                    }
                    _ => {}
                }
            }
            None
        };
        match tokio::time::timeout(Duration::from_millis(200), drain).await {
            Ok(Some(end)) => end,
            _ => self.lost(failure),
        }
    }

    fn handle_text(&self, text: &str, seen: &mut Seen) -> Step {
        let parsed = match message::parse(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Step::End(End::Report(Err(
                    self.error(EngineErrorKind::Internal, e.to_string())
                )));
            }
        };
        debug!(engine = %self.engine, message = ?parsed, "engine-ws message");
        match parsed {
            EngineMessage::Started { version } => {
                if let Some(v) = version.filter(|v| *v != message::VERSION) {
                    return Step::End(End::Report(Err(self.error(
                        EngineErrorKind::BadRequest,
                        format!(
                            "engine speaks engine-ws version {v}, this server version {}",
                            message::VERSION
                        ),
                    ))));
                }
                seen.started = true;
                Step::Continue
            }
            EngineMessage::SpeechStart => Step::Event(RecognizerEvent::SpeechStarted),
            EngineMessage::SpeechEnd => Step::Event(RecognizerEvent::SpeechEnded),
            EngineMessage::Interim(text) => Step::Event(RecognizerEvent::Partial { text }),
            EngineMessage::Final(mut alternatives) => {
                alternatives.truncate(self.request.n_best.max(1) as usize);
                alternatives.retain(|a| !a.text.is_empty());
                Step::End(End::Report(Ok(RecognizerEvent::Final(alternatives))))
            }
            EngineMessage::Segment(text) => {
                if !text.is_empty() {
                    seen.segments.push(text);
                }
                Step::Continue
            }
            EngineMessage::Error { kind, message } => {
                Step::End(End::Report(Err(self.error(kind, message))))
            }
            EngineMessage::Unknown => Step::Continue,
        }
    }

    /// jambonz final segments as one alternative.
    fn joined(&self, seen: &Seen) -> RecognizerEvent {
        let text = seen.segments.join(" ");
        RecognizerEvent::Final(vec![Alternative {
            text,
            confidence: 1.0,
        }])
    }

    /// The engine closed (`close` is the code and reason of its close frame, `None` without one).
    fn closed(&self, close: Option<(u16, String)>, seen: &Seen) -> End {
        match close {
            Some((1000, _)) if !seen.segments.is_empty() => End::Report(Ok(self.joined(seen))),
            // A jambonz engine that heard nothing closes after `stop` without a transcription: no match.
            Some((1000, _)) if !seen.started && seen.stopped => {
                End::Report(Ok(RecognizerEvent::Final(Vec::new())))
            }
            Some((code, reason)) => {
                let reason: String = reason.chars().take(200).collect();
                let kind = if code == 1000 {
                    EngineErrorKind::Internal
                } else {
                    message::kind_of_close(code)
                };
                let mut text = format!("engine closed the connection ({code}) before its result");
                if !reason.is_empty() {
                    text.push_str(": ");
                    text.push_str(&reason);
                }
                End::Report(Err(self.error(kind, text)))
            }
            None => self.lost("no close frame"),
        }
    }
}

/// What one engine message asks of the conversation.
enum Step {
    Continue,
    Event(RecognizerEvent),
    End(End),
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
