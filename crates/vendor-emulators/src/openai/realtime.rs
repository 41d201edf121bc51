//! `GET /v1/realtime?intent=transcription`: a Realtime transcription session over WebSocket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::control::VoiceMeter;
use super::{State, error};

pub(crate) async fn upgrade(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(refused) = state.check_auth(&headers).or_else(|| state.refusal()) {
        return refused;
    }
    if query.get("intent").map(String::as_str) != Some("transcription")
        && !query.contains_key("model")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Missing required parameter: 'model' (or 'intent=transcription').",
            "invalid_request_error",
            Some("model"),
            Some("missing_required_parameter"),
        );
    }
    state.shared.stats().sessions += 1;
    ws.on_upgrade(move |socket| async move {
        let mut session = Session::new(state);
        session.run(socket).await;
    })
}

/// The input format a session was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pcm24k,
    Pcmu,
    Pcma,
}

impl Format {
    fn rate(self) -> u32 {
        match self {
            Format::Pcm24k => 24_000,
            Format::Pcmu | Format::Pcma => 8000,
        }
    }
}

struct Session {
    state: Arc<State>,
    format: Format,
    buffer: Vec<i16>,
    voiced_ms: u64,
    meter: VoiceMeter,
    event: u64,
    item: u64,
    delayed: bool,
}

/// Why a session ends.
enum End {
    /// The client closed, or the connection dropped.
    Gone,
    /// The `disconnect` fault: drop the TCP connection without a close frame.
    Drop,
}

impl Session {
    fn new(state: Arc<State>) -> Self {
        Self {
            state,
            format: Format::Pcm24k,
            buffer: Vec::new(),
            voiced_ms: 0,
            meter: VoiceMeter::new(24_000),
            event: 0,
            item: 0,
            delayed: false,
        }
    }

    fn event_id(&mut self) -> String {
        self.event += 1;
        format!("event_emu{:06}", self.event)
    }

    async fn send(&mut self, socket: &mut WebSocket, mut event: Value) -> Result<(), End> {
        event["event_id"] = json!(self.event_id());
        socket
            .send(Message::Text(event.to_string().into()))
            .await
            .map_err(|_| End::Gone)
    }

    async fn error(
        &mut self,
        socket: &mut WebSocket,
        kind: &str,
        code: &str,
        message: &str,
        param: Option<&str>,
    ) -> Result<(), End> {
        self.send(
            socket,
            json!({ "type": "error", "error": { "type": kind, "code": code, "message": message, "param": param, "event_id": null } }),
        )
        .await
    }

    async fn run(&mut self, mut socket: WebSocket) {
        let created = json!({ "type": "session.created", "session": { "type": "transcription", "id": "sess_emulator",
            "audio": { "input": { "format": { "type": "audio/pcm", "rate": 24000 }, "turn_detection": { "type": "server_vad" } } } } });
        if self.send(&mut socket, created).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            let text = match message {
                Message::Text(t) => t,
                Message::Close(_) => return,
                Message::Binary(_) => {
                    let r = self
                        .error(
                            &mut socket,
                            "invalid_request_error",
                            "invalid_event",
                            "Binary frames are not supported; send JSON events",
                            None,
                        )
                        .await;
                    if r.is_err() {
                        return;
                    }
                    continue;
                }
                _ => continue,
            };
            match self.handle(&mut socket, text.as_str()).await {
                Ok(()) => {}
                Err(End::Gone) => return,
                Err(End::Drop) => {
                    // Dropping the socket without a close frame is what a network failure looks like.
                    drop(socket);
                    return;
                }
            }
        }
    }

    async fn handle(&mut self, socket: &mut WebSocket, text: &str) -> Result<(), End> {
        let Ok(event) = serde_json::from_str::<Value>(text) else {
            return self
                .error(
                    socket,
                    "invalid_request_error",
                    "invalid_json",
                    "The server could not parse the event as JSON",
                    None,
                )
                .await;
        };
        let kind = event["type"].as_str().unwrap_or_default().to_owned();
        if kind != "input_audio_buffer.append" {
            self.state.shared.stats().control.push(kind.clone());
        }
        match kind.as_str() {
            "session.update" => self.update(socket, &event).await,
            "input_audio_buffer.append" => self.append(socket, &event).await,
            "input_audio_buffer.commit" => self.commit(socket).await,
            "input_audio_buffer.clear" => {
                self.buffer.clear();
                self.send(socket, json!({ "type": "input_audio_buffer.cleared" }))
                    .await
            }
            other => {
                let message = format!(
                    "Invalid value: '{other}'. Supported values are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear'."
                );
                self.error(
                    socket,
                    "invalid_request_error",
                    "invalid_value",
                    &message,
                    Some("type"),
                )
                .await
            }
        }
    }

    async fn update(&mut self, socket: &mut WebSocket, event: &Value) -> Result<(), End> {
        let session = &event["session"];
        if session["type"].as_str() != Some("transcription") {
            return self.error(socket, "invalid_request_error", "invalid_value", "Invalid value for 'session.type': a transcription session needs 'transcription'.", Some("session.type")).await;
        }
        let input = &session["audio"]["input"];
        let format = &input["format"];
        self.format = match (format["type"].as_str(), format["rate"].as_u64()) {
            (None, _) => self.format,
            (Some("audio/pcm"), Some(24_000) | None) => Format::Pcm24k,
            (Some("audio/pcm"), Some(rate)) => {
                let message = format!(
                    "Invalid 'session.audio.input.format.rate': {rate}. Only 24000 is supported for audio/pcm."
                );
                return self
                    .error(
                        socket,
                        "invalid_request_error",
                        "invalid_value",
                        &message,
                        Some("session.audio.input.format.rate"),
                    )
                    .await;
            }
            (Some("audio/pcmu"), _) => Format::Pcmu,
            (Some("audio/pcma"), _) => Format::Pcma,
            (Some(other), _) => {
                let message = format!(
                    "Invalid value: '{other}'. Supported values are: 'audio/pcm', 'audio/pcmu', and 'audio/pcma'."
                );
                return self
                    .error(
                        socket,
                        "invalid_request_error",
                        "invalid_value",
                        &message,
                        Some("session.audio.input.format.type"),
                    )
                    .await;
            }
        };
        if !input["turn_detection"].is_null() && input.get("turn_detection").is_some() {
            return self
                .error(
                    socket,
                    "invalid_request_error",
                    "unsupported_by_emulator",
                    "The emulator supports turn_detection: null only",
                    Some("session.audio.input.turn_detection"),
                )
                .await;
        }
        self.meter = VoiceMeter::new(self.format.rate());
        let updated = json!({ "type": "session.updated", "session": { "type": "transcription", "audio": { "input": input } } });
        self.send(socket, updated).await
    }

    async fn append(&mut self, socket: &mut WebSocket, event: &Value) -> Result<(), End> {
        let Some(Ok(bytes)) = event["audio"]
            .as_str()
            .map(|a| base64::engine::general_purpose::STANDARD.decode(a))
        else {
            return self
                .error(
                    socket,
                    "invalid_request_error",
                    "invalid_value",
                    "Invalid 'audio': expected base64-encoded audio bytes.",
                    Some("audio"),
                )
                .await;
        };
        let samples: Vec<i16> = match self.format {
            Format::Pcm24k => bytes
                .chunks_exact(2)
                .map(|p| i16::from_le_bytes([p[0], p[1]]))
                .collect(),
            Format::Pcmu => bytes
                .iter()
                .map(|&b| mrcp_proto::rtp::g711::ulaw_to_linear(b))
                .collect(),
            Format::Pcma => {
                let mut out = Vec::new();
                mrcp_proto::rtp::g711::decode_alaw(&bytes, &mut out);
                out
            }
        };
        let voiced = self.meter.push(&samples).into_iter().filter(|v| *v).count() as u64 * 20;
        self.voiced_ms += voiced;
        {
            let mut stats = self.state.shared.stats();
            stats.audio_bytes += bytes.len() as u64;
            stats.voiced_ms += voiced;
        }
        self.buffer.extend_from_slice(&samples);
        let faults = self.state.shared.faults();
        let heard = Duration::from_millis(self.voiced_ms);
        if faults.disconnect_after_speech.is_some_and(|d| heard >= d) {
            return Err(End::Drop);
        }
        if faults.error_after_speech.is_some_and(|d| heard >= d) {
            self.error(
                socket,
                "server_error",
                "server_error",
                "The server had an error while processing your request. Sorry about that!",
                None,
            )
            .await?;
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: 1011,
                    reason: "server_error".into(),
                })))
                .await;
            super::control::linger(socket).await;
            return Err(End::Gone);
        }
        Ok(())
    }

    async fn commit(&mut self, socket: &mut WebSocket) -> Result<(), End> {
        let ms = self.buffer.len() as u64 * 1000 / u64::from(self.format.rate());
        if ms < 100 {
            let message = format!(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has {ms}.00ms of audio."
            );
            return self
                .error(
                    socket,
                    "invalid_request_error",
                    "input_audio_buffer_commit_empty",
                    &message,
                    None,
                )
                .await;
        }
        let previous = (self.item > 0).then(|| format!("item_emu{:04}", self.item));
        self.item += 1;
        let item = format!("item_emu{:04}", self.item);
        self.send(socket, json!({ "type": "input_audio_buffer.committed", "item_id": item, "previous_item_id": previous })).await?;
        let voiced = super::control::voiced_ms(&self.buffer, self.format.rate());
        self.buffer.clear();
        let transcript = if voiced >= 100 {
            self.state.transcript()
        } else {
            String::new()
        };
        let delay = self.state.shared.faults().first_result_delay;
        if !self.delayed {
            self.delayed = true;
            tokio::time::sleep(delay).await;
        }
        for (i, word) in transcript.split_whitespace().enumerate() {
            let delta = if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            };
            self.send(socket, json!({ "type": "conversation.item.input_audio_transcription.delta", "item_id": item, "content_index": 0, "delta": delta })).await?;
        }
        self.state.final_sent();
        self.send(socket, json!({ "type": "conversation.item.input_audio_transcription.completed", "item_id": item, "content_index": 0,
            "transcript": transcript, "usage": { "type": "duration", "seconds": (ms as f64 / 1000.0).ceil() } })).await
    }
}
