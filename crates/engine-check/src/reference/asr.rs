//! The reference engine's recognizer (`docs/engine-ws.md` §2): speech detected by energy, a scripted result.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Behaviour, Fault};

type Ws = WebSocketStream<TcpStream>;

/// Mean absolute amplitude above which a frame is speech.
const SPEECH_LEVEL: u64 = 300;
/// Quiet after speech that ends it.
const SPEECH_END_MS: u64 = 300;

/// Sends `error` (in the dialect asked for) and closes with `code`.
pub(super) async fn fail(ws: &mut Ws, jambonz: bool, kind: &str, message: &str, code: u16) {
    let error = if jambonz {
        json!({"type": "error", "error": message})
    } else {
        json!({"type": "error", "kind": kind, "message": message})
    };
    let _ = ws.send(Message::text(error.to_string())).await;
    close(ws, code).await;
}

pub(super) async fn close(ws: &mut Ws, code: u16) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    let _ = ws.close(Some(frame)).await;
    // RFC 6455 §7.1.1: wait for the peer's close before dropping TCP, so that unread audio in flight does not
    // turn the close into a reset that loses the messages before it.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// Checks a `start` (§2.2); the error message when it cannot be served.
fn check_start(start: &Value) -> Result<u32, String> {
    if start.get("type").and_then(Value::as_str) != Some("start") {
        return Err("the first message must be start".into());
    }
    if let Some(v) = start.get("version")
        && v.as_u64() != Some(1)
    {
        return Err(format!("unsupported version {v}: this engine speaks 1"));
    }
    if let Some(e) = start.get("encoding")
        && e.as_str() != Some("LINEAR16")
    {
        return Err(format!(
            "unsupported encoding {e}: this engine takes LINEAR16"
        ));
    }
    match start.get("sampleRateHz").map(Value::as_u64) {
        None => Ok(8000),
        Some(Some(rate @ (8000 | 16000))) => Ok(rate as u32),
        Some(other) => Err(format!("unsupported sampleRateHz {other:?}: 8000 or 16000")),
    }
}

pub(super) async fn serve(mut ws: Ws, b: Behaviour) {
    let jambonz = b.fault == Fault::Jambonz;
    let sloppy = b.fault == Fault::Sloppy;
    // §2.5: a start must come within 10 s.
    let start = loop {
        let first = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
        match first {
            Ok(Some(Ok(Message::Text(text)))) => break text.to_string(),
            Ok(Some(Ok(Message::Binary(_)))) if sloppy => continue,
            Ok(Some(Ok(Message::Binary(_)))) => {
                return fail(&mut ws, jambonz, "bad_request", "audio before start", 1007).await;
            }
            Ok(Some(Ok(_))) => continue,
            Err(_) => return fail(&mut ws, jambonz, "timeout", "no start within 10 s", 1011).await,
            _ => return,
        }
    };
    let parsed: Result<Value, _> = serde_json::from_str(&start);
    let (start, rate) = match parsed
        .map_err(|e| format!("start is not JSON: {e}"))
        .and_then(|v| {
            let rate = check_start(&v)?;
            Ok((v, rate))
        }) {
        Ok(ok) => ok,
        Err(_) if sloppy => (json!({}), 8000),
        Err(message) => return fail(&mut ws, jambonz, "bad_request", &message, 1007).await,
    };
    let max = start
        .get("maxAlternatives")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1) as usize;
    let interim = start
        .get("interimResults")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let idle = start
        .pointer("/timeouts/idleMs")
        .and_then(Value::as_u64)
        .unwrap_or(10_000);
    if !jambonz && !sloppy {
        let started = json!({"type": "started", "version": 1});
        if ws.send(Message::text(started.to_string())).await.is_err() {
            return;
        }
    }
    let mut session = Session {
        rate: u64::from(rate),
        ..Session::default()
    };
    loop {
        let wait = if sloppy || b.fault == Fault::Hang {
            Duration::from_secs(3600)
        } else {
            Duration::from_millis(idle)
        };
        let message = match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => {
                let text = format!("no audio for {idle} ms");
                return fail(&mut ws, jambonz, "timeout", &text, 1011).await;
            }
            Ok(None | Some(Err(_))) => return,
            Ok(Some(Ok(m))) => m,
        };
        if b.fault == Fault::Hang {
            continue;
        }
        match message {
            Message::Binary(bytes) => {
                if bytes.len() % 2 == 1 && !sloppy {
                    return fail(
                        &mut ws,
                        jambonz,
                        "bad_request",
                        "odd-length audio frame",
                        1007,
                    )
                    .await;
                }
                session.frames += 1;
                match &b.fault {
                    Fault::DisconnectAfterFrames(n) if session.frames > *n => return,
                    Fault::ErrorAfterFrames {
                        frames,
                        kind,
                        message,
                    } if session.frames > *frames => {
                        return fail(&mut ws, jambonz, kind, message, 1011).await;
                    }
                    _ => {}
                }
                for event in session.hear(&bytes) {
                    let text = match event {
                        Heard::Start(ms) => json!({"type": "speech_start", "offsetMs": ms}),
                        Heard::End(ms) => json!({"type": "speech_end", "offsetMs": ms}),
                        Heard::Interim if interim => {
                            let word = b.alternatives.first().map(|a| a.0.as_str()).unwrap_or("");
                            let word = word.split(' ').next().unwrap_or("");
                            if jambonz {
                                json!({"type": "transcription", "is_final": false,
                                       "alternatives": [{"transcript": word, "confidence": 0.3}]})
                            } else {
                                json!({"type": "interim", "transcript": word, "confidence": 0.3})
                            }
                        }
                        Heard::Interim => continue,
                    };
                    if jambonz && !matches!(event, Heard::Interim) {
                        continue;
                    }
                    if ws.send(Message::text(text.to_string())).await.is_err() {
                        return;
                    }
                }
            }
            Message::Text(text) => {
                let control: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match control.get("type").and_then(Value::as_str) {
                    Some("stop") => {
                        let heard = session.speech_start.is_some();
                        let alternatives: Vec<Value> = b
                            .alternatives
                            .iter()
                            .filter(|_| heard)
                            .take(max)
                            .map(|(t, c)| json!({"transcript": t, "confidence": c}))
                            .collect();
                        let result = if jambonz {
                            if alternatives.is_empty() {
                                return close(&mut ws, 1000).await;
                            }
                            json!({"type": "transcription", "is_final": true,
                                   "alternatives": alternatives, "channel": 0})
                        } else {
                            json!({"type": "final", "alternatives": alternatives})
                        };
                        let _ = ws.send(Message::text(result.to_string())).await;
                        return close(&mut ws, 1000).await;
                    }
                    Some("cancel") => {
                        if sloppy {
                            let result = json!({"type": "final", "alternatives": []});
                            let _ = ws.send(Message::text(result.to_string())).await;
                        }
                        return close(&mut ws, 1000).await;
                    }
                    Some("start") if !sloppy => {
                        return fail(&mut ws, jambonz, "bad_request", "a second start", 1007).await;
                    }
                    _ => {}
                }
            }
            Message::Close(_) => return,
            _ => {}
        }
    }
}

/// What the energy detector noticed in a frame.
#[derive(Debug, Clone, Copy)]
enum Heard {
    Start(u64),
    End(u64),
    Interim,
}

#[derive(Debug, Default)]
struct Session {
    rate: u64,
    frames: usize,
    /// Samples received so far.
    samples: u64,
    speech_start: Option<u64>,
    speech_end: Option<u64>,
    /// Samples since the last loud frame.
    quiet: u64,
    /// Frames since the last interim.
    since_interim: u32,
}

impl Session {
    fn hear(&mut self, bytes: &[u8]) -> Vec<Heard> {
        let samples: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]]))
            .collect();
        let n = samples.len() as u64;
        let level = samples
            .iter()
            .map(|s| u64::from(s.unsigned_abs()))
            .sum::<u64>()
            .checked_div(n)
            .unwrap_or(0);
        let ms = |samples: u64| samples * 1000 / self.rate.max(1);
        let mut heard = Vec::new();
        if level > SPEECH_LEVEL {
            self.quiet = 0;
            if self.speech_start.is_none() {
                self.speech_start = Some(self.samples);
                heard.push(Heard::Start(ms(self.samples)));
            }
        } else {
            self.quiet += n;
            if self.speech_start.is_some()
                && self.speech_end.is_none()
                && ms(self.quiet) >= SPEECH_END_MS
            {
                let at = self.samples + n - self.quiet;
                self.speech_end = Some(at);
                heard.push(Heard::End(ms(at)));
            }
        }
        if self.speech_start.is_some() && self.speech_end.is_none() {
            self.since_interim += 1;
            if self.since_interim >= 25 {
                self.since_interim = 0;
                heard.push(Heard::Interim);
            }
        }
        self.samples += n;
        heard
    }
}
