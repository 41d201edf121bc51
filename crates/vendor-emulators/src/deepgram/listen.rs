//! `GET /v1/listen` upgraded to a WebSocket: live transcription of raw audio.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::State;
use crate::openai::control::VoiceMeter;

/// The query an emulated stream honours.
#[derive(Debug, Clone)]
struct Params {
    model: String,
    mulaw: bool,
    sample_rate: u32,
    interim_results: bool,
    /// `None` for `endpointing=false`.
    endpointing_ms: Option<u64>,
    utterance_end_ms: Option<u64>,
    vad_events: bool,
}

fn flag(query: &[(String, String)], name: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn params(query: &[(String, String)]) -> Result<Params, String> {
    let encoding = flag(query, "encoding");
    let sample_rate = flag(query, "sample_rate");
    let sample_rate: u32 = match (&encoding, sample_rate) {
        (Some(_), None) => return Err("sample_rate is required when encoding is given".into()),
        (None, _) => {
            return Err("the emulator takes raw audio only: give encoding and sample_rate".into());
        }
        (Some(_), Some(r)) => r
            .parse()
            .map_err(|_| format!("sample_rate {r} is not a number"))?,
    };
    let mulaw = match encoding.as_deref() {
        Some("linear16") => false,
        Some("mulaw") => true,
        Some(other @ ("flac" | "amr-nb" | "amr-wb" | "opus" | "speex" | "g729" | "alaw")) => {
            return Err(format!(
                "encoding {other}: the emulator decodes linear16 and mulaw only"
            ));
        }
        Some(other) => return Err(format!("encoding {other} is not supported")),
        None => false,
    };
    if !(8000..=48_000).contains(&sample_rate) || (mulaw && sample_rate != 8000) {
        return Err(format!(
            "sample_rate {sample_rate} is not valid for this encoding"
        ));
    }
    let truthy = |name: &str| flag(query, name).is_some_and(|v| v == "true");
    let interim_results = truthy("interim_results");
    let endpointing_ms = match flag(query, "endpointing").as_deref() {
        None => Some(10),
        Some("false") => None,
        Some(v) => Some(
            v.parse()
                .map_err(|_| format!("endpointing {v} is not a number or false"))?,
        ),
    };
    let utterance_end_ms = match flag(query, "utterance_end_ms") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| format!("utterance_end_ms {v} is not a number"))?,
        ),
    };
    if utterance_end_ms.is_some() && !interim_results {
        return Err("utterance_end_ms requires interim_results=true".into());
    }
    Ok(Params {
        model: flag(query, "model").unwrap_or_else(|| "nova-3".into()),
        mulaw,
        sample_rate,
        interim_results,
        endpointing_ms,
        utterance_end_ms,
        vad_events: truthy("vad_events"),
    })
}

pub(crate) async fn upgrade(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(refused) = state.check_auth(&headers).or_else(|| state.refusal()) {
        return refused;
    }
    let params = match params(&query) {
        Ok(p) => p,
        Err(message) => {
            return state.refusal_response(
                StatusCode::BAD_REQUEST,
                "INVALID_QUERY_PARAMETER",
                &message,
            );
        }
    };
    state.shared.stats().sessions += 1;
    ws.on_upgrade(move |socket| async move {
        let request_id = state.request_id();
        let mut stream = Stream::new(state, params, request_id);
        stream.run(socket).await;
    })
}

/// The utterance being heard.
#[derive(Debug)]
struct Utterance {
    start_ms: u64,
    last_voiced_ms: u64,
    voiced_ms: u64,
    transcript: String,
    last_interim_voiced: u64,
}

/// The shortest run of voiced frames taken for speech (shorter is a click).
const MIN_UTTERANCE_MS: u64 = 60;

struct Stream {
    state: Arc<State>,
    params: Params,
    request_id: String,
    meter: VoiceMeter,
    odd: Option<u8>,
    audio_ms: u64,
    voiced_total: u64,
    utterance: Option<Utterance>,
    utterance_end_due: Option<u64>,
    delayed: bool,
    /// A `from_finalize` result went out since the last Finalize: Metadata is then not the final trigger.
    finalized_since_flush: bool,
}

enum End {
    Gone,
    Drop,
}

impl Stream {
    fn new(state: Arc<State>, params: Params, request_id: String) -> Self {
        Self {
            meter: VoiceMeter::new(params.sample_rate),
            state,
            params,
            request_id,
            odd: None,
            audio_ms: 0,
            voiced_total: 0,
            utterance: None,
            utterance_end_due: None,
            delayed: false,
            finalized_since_flush: false,
        }
    }

    async fn run(&mut self, mut socket: WebSocket) {
        let idle = self.state.config.idle_timeout;
        let mut deadline = Instant::now() + idle;
        loop {
            let message = tokio::select! {
                m = socket.recv() => m,
                () = tokio::time::sleep_until(deadline) => {
                    let reason = "NET-0001: Deepgram did not receive audio data or a text message within the timeout window.";
                    let _ = socket.send(Message::Close(Some(CloseFrame { code: 1011, reason: reason.into() }))).await;
                    crate::openai::control::linger(&mut socket).await;
                    return;
                }
            };
            let Some(Ok(message)) = message else { return };
            let outcome = match message {
                Message::Binary(bytes) => {
                    deadline = Instant::now() + idle;
                    self.audio(&mut socket, &bytes).await
                }
                Message::Text(text) => {
                    deadline = Instant::now() + idle;
                    self.control(&mut socket, text.as_str()).await
                }
                Message::Close(_) => return,
                _ => Ok(()),
            };
            match outcome {
                Ok(()) => {}
                Err(End::Gone) => return,
                Err(End::Drop) => {
                    drop(socket);
                    return;
                }
            }
        }
    }

    async fn send(&mut self, socket: &mut WebSocket, message: Value) -> Result<(), End> {
        if !self.delayed {
            self.delayed = true;
            let delay = self.state.shared.faults().first_result_delay;
            tokio::time::sleep(delay).await;
        }
        socket
            .send(Message::Text(message.to_string().into()))
            .await
            .map_err(|_| End::Gone)
    }

    fn results(
        &self,
        transcript: &str,
        start_ms: u64,
        is_final: bool,
        speech_final: bool,
        from_finalize: bool,
    ) -> Value {
        let words: Vec<&str> = transcript.split_whitespace().collect();
        let duration = self.audio_ms.saturating_sub(start_ms) as f64 / 1000.0;
        let step = duration / words.len().max(1) as f64;
        let confidence = self.state.config.confidence;
        let words: Vec<Value> = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let start = start_ms as f64 / 1000.0 + step * i as f64;
                json!({ "word": w.to_lowercase(), "start": start, "end": start + step, "confidence": confidence, "punctuated_word": w })
            })
            .collect();
        json!({
            "type": "Results", "channel_index": [0, 1], "duration": duration, "start": start_ms as f64 / 1000.0,
            "is_final": is_final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": { "alternatives": [{ "transcript": transcript, "confidence": if transcript.is_empty() { 0.0 } else { confidence }, "words": words }] },
            "metadata": { "request_id": self.request_id, "model_info": { "name": self.params.model, "version": "emulator", "arch": "emulator" }, "model_uuid": "00000000-0000-0000-0000-000000000000" }
        })
    }

    async fn audio(&mut self, socket: &mut WebSocket, bytes: &[u8]) -> Result<(), End> {
        self.state.shared.stats().audio_bytes += bytes.len() as u64;
        let samples: Vec<i16> = if self.params.mulaw {
            bytes
                .iter()
                .map(|&b| mrcp_proto::rtp::g711::ulaw_to_linear(b))
                .collect()
        } else {
            let mut data = Vec::with_capacity(bytes.len() + 1);
            data.extend(self.odd.take());
            data.extend_from_slice(bytes);
            let pairs = data.chunks_exact(2);
            self.odd = pairs.remainder().first().copied();
            pairs.map(|p| i16::from_le_bytes([p[0], p[1]])).collect()
        };
        for voiced in self.meter.push(&samples) {
            self.audio_ms += 20;
            if voiced {
                self.voiced_total += 20;
                self.state.shared.stats().voiced_ms += 20;
            }
            self.frame(socket, voiced).await?;
            let faults = self.state.shared.faults();
            let heard = Duration::from_millis(self.voiced_total);
            if faults.disconnect_after_speech.is_some_and(|d| heard >= d) {
                return Err(End::Drop);
            }
            if faults.error_after_speech.is_some_and(|d| heard >= d) {
                let reason = "NET-0000: The service encountered an internal error.";
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: 1011,
                        reason: reason.into(),
                    })))
                    .await;
                crate::openai::control::linger(socket).await;
                return Err(End::Gone);
            }
        }
        Ok(())
    }

    /// One 20 ms frame ending at `self.audio_ms`.
    async fn frame(&mut self, socket: &mut WebSocket, voiced: bool) -> Result<(), End> {
        let now = self.audio_ms;
        if voiced {
            self.utterance_end_due = None;
            if self.utterance.is_none() {
                let transcript = self.state.transcript();
                self.utterance = Some(Utterance {
                    start_ms: now - 20,
                    last_voiced_ms: now,
                    voiced_ms: 0,
                    transcript,
                    last_interim_voiced: 0,
                });
                if self.params.vad_events {
                    let started = json!({ "type": "SpeechStarted", "channel": [0, 1], "timestamp": (now - 20) as f64 / 1000.0 });
                    self.send(socket, started).await?;
                }
            }
            let interim = match &mut self.utterance {
                Some(u) => {
                    u.last_voiced_ms = now;
                    u.voiced_ms += 20;
                    if self.params.interim_results && u.voiced_ms >= u.last_interim_voiced + 300 {
                        u.last_interim_voiced = u.voiced_ms;
                        let words: Vec<&str> = u.transcript.split_whitespace().collect();
                        let n = ((u.voiced_ms / 250) as usize).clamp(1, words.len().max(1));
                        Some((words[..n.min(words.len())].join(" "), u.start_ms))
                    } else {
                        None
                    }
                }
                None => None,
            };
            if let Some((text, start)) = interim {
                let message = self.results(&text, start, false, false, false);
                self.send(socket, message).await?;
            }
            return Ok(());
        }
        let silence_ended = match (&self.utterance, self.params.endpointing_ms) {
            (Some(u), Some(e)) => now.saturating_sub(u.last_voiced_ms) >= e.max(20),
            _ => false,
        };
        if silence_ended {
            self.finish_utterance(socket, true, false).await?;
        }
        if let Some(due) = self.utterance_end_due
            && now >= due
        {
            self.utterance_end_due = None;
            let last = self.utterance.as_ref().map_or(now, |u| u.last_voiced_ms);
            self.send(socket, json!({ "type": "UtteranceEnd", "channel": [0, 1], "last_word_end": last as f64 / 1000.0 })).await?;
        }
        Ok(())
    }

    /// Sends the final result of the utterance being heard, if it was speech.
    async fn finish_utterance(
        &mut self,
        socket: &mut WebSocket,
        speech_final: bool,
        from_finalize: bool,
    ) -> Result<bool, End> {
        let Some(u) = self.utterance.take() else {
            return Ok(false);
        };
        if u.voiced_ms < MIN_UTTERANCE_MS {
            return Ok(false);
        }
        if let (Some(end), true) = (self.params.utterance_end_ms, self.params.interim_results) {
            self.utterance_end_due = Some(u.last_voiced_ms + end);
        }
        let message = self.results(&u.transcript, u.start_ms, true, speech_final, from_finalize);
        if from_finalize {
            self.state.final_sent();
        }
        self.send(socket, message).await?;
        Ok(true)
    }

    async fn control(&mut self, socket: &mut WebSocket, text: &str) -> Result<(), End> {
        let kind = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.state.shared.stats().control.push(kind.clone());
        match kind.as_str() {
            "KeepAlive" => Ok(()),
            "Finalize" => {
                self.finalized_since_flush = self.finish_utterance(socket, false, true).await?;
                Ok(())
            }
            "CloseStream" => {
                self.finish_utterance(socket, false, false).await?;
                if !self.finalized_since_flush {
                    self.state.final_sent();
                }
                let metadata = json!({ "type": "Metadata", "transaction_key": "deprecated", "request_id": self.request_id,
                    "sha256": "0000000000000000000000000000000000000000000000000000000000000000", "created": "2026-11-23T00:00:00.000Z",
                    "duration": self.audio_ms as f64 / 1000.0, "channels": 1 });
                self.send(socket, metadata).await?;
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: 1000,
                        reason: "".into(),
                    })))
                    .await;
                Err(End::Gone)
            }
            _ => {
                // Deepgram answers an unknown control message with an error and keeps the stream.
                let error = json!({ "type": "Error", "variant": "SchemaError", "description": format!("unknown message type {kind:?}"), "message": "" });
                self.send(socket, error).await
            }
        }
    }
}
