//! The task that runs one synthesis over one engine-ws WebSocket (`docs/engine-ws.md` §3.1).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mrcp_proto::engine::{EngineError, EngineErrorKind};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tracing::debug;

use super::connect::{self, EngineSocket};
use super::message::{self, EngineMessage, Pcm};
use super::{EngineWsTtsConfig, Framer, millis};
use crate::{SynthesisEvent, SynthesisRequest, SynthesisSink};

type Events = mpsc::Sender<Result<SynthesisEvent, EngineError>>;
type Sink = futures_util::stream::SplitSink<EngineSocket, Message>;
type Source = futures_util::stream::SplitStream<EngineSocket>;

/// How long the closing handshake (or the `stop`) may take before the socket is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// One synthesis to run.
pub(super) struct Job {
    pub(super) engine: String,
    pub(super) config: Arc<EngineWsTtsConfig>,
    pub(super) request: SynthesisRequest,
}

enum End {
    /// The server dropped the stream (or stopped reading): send `stop`.
    Cancelled,
    /// `done` arrived and was reported.
    Finished,
    /// The failure to report.
    Failed(EngineError),
}

impl Job {
    pub(super) async fn run(self, sink: SynthesisSink) {
        let events = sink.events;
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
        debug!(engine = %self.engine, url = %connect::redacted(&self.config.url), "engine-ws synthesis connected");
        let (mut tx, mut rx) = socket.split();
        let end = tokio::select! {
            biased;
            () = events.closed() => End::Cancelled,
            end = self.converse(&mut tx, &mut rx, &events) => end,
        };
        match end {
            End::Cancelled => {
                debug!(engine = %self.engine, "synthesis stopped: sending stop");
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    let _ = tx.send(Message::text(r#"{"type":"stop"}"#)).await;
                    let _ = tx.close().await;
                })
                .await;
            }
            End::Finished => {
                let _ = tokio::time::timeout(CLOSE_GRACE, tx.close()).await;
            }
            End::Failed(error) => {
                let _ = events.send(Err(error)).await;
                let _ = tokio::time::timeout(CLOSE_GRACE, tx.close()).await;
            }
        }
    }

    fn error(&self, kind: EngineErrorKind, message: impl Into<String>) -> End {
        End::Failed(EngineError::new(self.engine.clone(), kind, message))
    }

    fn lost(&self, detail: impl std::fmt::Display) -> End {
        self.error(
            EngineErrorKind::Unavailable,
            format!(
                "connection to {} lost before done: {detail}",
                connect::redacted(&self.config.url)
            ),
        )
    }

    async fn converse(&self, tx: &mut Sink, rx: &mut Source, events: &Events) -> End {
        let start = message::start(
            &self.request,
            &self.config.language,
            self.config.sample_rate,
        );
        if let Err(e) = tx.send(Message::text(start)).await {
            return self.lost(e);
        }
        let mut framer = Framer::new(self.config.sample_rate);
        let mut pcm = Pcm::default();
        let mut samples = Vec::new();
        loop {
            let incoming = match tokio::time::timeout(self.config.result_timeout, rx.next()).await {
                Err(_) => {
                    return self.error(
                        EngineErrorKind::Timeout,
                        format!(
                            "engine sent nothing for {} ms",
                            millis(self.config.result_timeout)
                        ),
                    );
                }
                Ok(incoming) => incoming,
            };
            let mut out: Vec<SynthesisEvent> = Vec::new();
            match incoming {
                None => return self.lost("no close frame"),
                Some(Err(e)) => return self.lost(e),
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((1006, String::new()), |f| {
                        (u16::from(f.code), f.reason.chars().take(200).collect())
                    });
                    let kind = if code == 1000 {
                        EngineErrorKind::Internal
                    } else {
                        message::kind_of_close(code)
                    };
                    let mut text = format!("engine closed the connection ({code}) before done");
                    if !reason.is_empty() {
                        text.push_str(": ");
                        text.push_str(&reason);
                    }
                    return self.error(kind, text);
                }
                Some(Ok(Message::Binary(bytes))) => {
                    samples.clear();
                    pcm.push(&bytes, &mut samples);
                    out.extend(
                        framer
                            .frames(&samples)
                            .into_iter()
                            .map(SynthesisEvent::Audio),
                    );
                }
                Some(Ok(Message::Text(text))) => match message::parse(&text) {
                    Err(e) => return self.error(EngineErrorKind::Internal, e.to_string()),
                    Ok(EngineMessage::Started {
                        version,
                        sample_rate,
                    }) => {
                        if let Some(v) = version.filter(|v| *v != message::VERSION) {
                            return self.error(
                                EngineErrorKind::BadRequest,
                                format!(
                                    "engine speaks engine-ws version {v}, this server version {}",
                                    message::VERSION
                                ),
                            );
                        }
                        if let Some(rate) = sample_rate.filter(|r| *r != self.config.sample_rate) {
                            return self.error(
                                EngineErrorKind::BadRequest,
                                format!(
                                    "engine sends {rate} Hz audio; {} Hz was asked",
                                    self.config.sample_rate
                                ),
                            );
                        }
                    }
                    Ok(EngineMessage::Mark(name)) => {
                        out.extend(framer.flush().map(SynthesisEvent::Audio));
                        out.push(SynthesisEvent::Mark(name));
                    }
                    Ok(EngineMessage::Done) => {
                        out.extend(framer.flush().map(SynthesisEvent::Audio));
                        out.push(SynthesisEvent::Done);
                    }
                    Ok(EngineMessage::Error { kind, message }) => {
                        return End::Failed(EngineError::new(self.engine.clone(), kind, message));
                    }
                    Ok(EngineMessage::Unknown) => {}
                },
                // Pings are answered by the library.
                Some(Ok(_)) => {}
            }
            for event in out {
                let done = event == SynthesisEvent::Done;
                if events.send(Ok(event)).await.is_err() {
                    return End::Cancelled;
                }
                if done {
                    return End::Finished;
                }
            }
        }
    }
}
