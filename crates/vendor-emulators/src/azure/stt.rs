//! The Azure Speech WebSocket (USP) recognition endpoint: `/speech/recognition/{mode}/cognitiveservices/v1`.
//! See the module docs of [`super`] for the documentation followed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::{Emulator, Fault, Script, Shared};
use crate::speech_audio::{EnergyDetector, Heard, samples_of};

/// Starts the recognition emulator on a loopback port.
pub async fn start(script: Script) -> std::io::Result<Emulator> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let shared = Shared::new(script);
    let state = shared.clone();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            // Small service messages go out at once, as from a real front end (no Nagle delay).
            let _ = stream.set_nodelay(true);
            connections.spawn(connection(stream, state.clone()));
        }
    });
    Ok(Emulator::new(addr, shared, task))
}

fn refuse(status: StatusCode, body: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(body.to_owned()));
    *r.status_mut() = status;
    r
}

fn is_no_dash_uuid(v: &str) -> bool {
    v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit())
}

/// The handshake checks, in the order the service would meet them.
fn check_handshake(req: &Request, shared: &Shared) -> Result<(), (StatusCode, &'static str)> {
    let path = req.uri().path();
    let mode_ok = ["interactive", "conversation", "dictation"]
        .iter()
        .any(|m| path == format!("/speech/recognition/{m}/cognitiveservices/v1"));
    if !mode_ok {
        return Err((StatusCode::NOT_FOUND, "Resource not found"));
    }
    let query = req.uri().query().unwrap_or("");
    if !query
        .split('&')
        .any(|kv| kv.starts_with("language=") && kv.len() > 9)
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "language query parameter is required",
        ));
    }
    if shared.throttled() {
        return Err((StatusCode::TOO_MANY_REQUESTS, "Too many requests"));
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if !shared.key_ok(header("Ocp-Apim-Subscription-Key"), header("Authorization")) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "Access denied due to invalid subscription key or wrong API endpoint.",
        ));
    }
    if !header("X-ConnectionId").is_some_and(is_no_dash_uuid) {
        return Err((
            StatusCode::BAD_REQUEST,
            "X-ConnectionId is missing or not a no-dash UUID",
        ));
    }
    Ok(())
}

// tungstenite's handshake callback returns its `ErrorResponse` (an HTTP response) by value.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let mut detailed = true;
    let callback = |req: &Request, resp: Response| {
        detailed = !req.uri().query().unwrap_or("").contains("format=simple");
        match check_handshake(req, &shared) {
            Ok(()) => Ok(resp),
            Err((status, body)) => {
                shared.log(|l| l.refused.push(status.as_u16()));
                Err(refuse(status, body))
            }
        }
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    shared.log(|l| l.connections += 1);
    let mut session = Session {
        ws,
        shared,
        detailed,
        got_config: false,
        turn: None,
        used_request_ids: Vec::new(),
    };
    session.run().await;
}

/// Why the emulator closes: a close code and the documented reason.
struct Close(CloseCode, String);

struct Turn {
    request_id: String,
    detector: EnergyDetector,
    hypotheses: u32,
    finished: bool,
}

struct Session {
    ws: WebSocketStream<TcpStream>,
    shared: Arc<Shared>,
    detailed: bool,
    got_config: bool,
    turn: Option<Turn>,
    used_request_ids: Vec<String>,
}

/// 100-ns ticks of `ms` milliseconds, the unit of `Offset` and `Duration`.
fn ticks(ms: u64) -> u64 {
    ms * 10_000
}

impl Session {
    async fn run(&mut self) {
        let started = Instant::now();
        let script = self.shared.script.clone();
        loop {
            let idle = tokio::time::sleep(script.idle_timeout);
            let lifetime = tokio::time::sleep_until(started + script.max_connection);
            let outcome = tokio::select! {
                m = self.ws.next() => match m {
                    Some(Ok(m)) => self.handle(m).await,
                    _ => return,
                },
                () = idle => Err(Close(CloseCode::Normal, "Timeout: no message within the idle timeout".into())),
                () = lifetime => Err(Close(CloseCode::Normal, "Timeout: the connection exceeded its maximum duration".into())),
            };
            match outcome {
                Ok(true) => {}
                Ok(false) => return,
                Err(Close(code, reason)) => {
                    self.shared
                        .log(|l| l.closes.push(format!("{} {reason}", u16::from(code))));
                    let _ = self
                        .ws
                        .close(Some(CloseFrame {
                            code,
                            reason: Utf8Bytes::from(reason),
                        }))
                        .await;
                    drain(&mut self.ws).await;
                    return;
                }
            }
        }
    }

    /// One client message; `Ok(false)` ends the connection silently (the Disconnect fault).
    async fn handle(&mut self, message: Message) -> Result<bool, Close> {
        match message {
            Message::Text(text) => self.text(&text).await.map(|()| true),
            Message::Binary(bytes) => self.binary(&bytes).await,
            Message::Close(_) => {
                self.shared.log(|l| l.client_closes += 1);
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    async fn text(&mut self, text: &str) -> Result<(), Close> {
        let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
            Close(
                CloseCode::Protocol,
                "Incorrect message format. No header/body separator.".into(),
            )
        })?;
        let headers = parse_headers(head)?;
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let path = get("Path")
            .ok_or_else(|| Close(CloseCode::Protocol, "Missing/Empty header. Path".into()))?;
        if get("X-Timestamp").is_none() {
            return Err(Close(
                CloseCode::Protocol,
                "Missing/Empty header. X-Timestamp".into(),
            ));
        }
        match path {
            "speech.config" => {
                serde_json::from_str::<serde_json::Value>(body).map_err(|_| {
                    Close(
                        CloseCode::Invalid,
                        "Incorrect message format. speech.config body is not JSON.".into(),
                    )
                })?;
                self.got_config = true;
            }
            "speech.context" => {
                let id = get("X-RequestId").unwrap_or("");
                if !is_no_dash_uuid(id) {
                    return Err(Close(
                        CloseCode::Protocol,
                        "Invalid request. X-RequestId header value was not specified in no-dash UUID format.".into(),
                    ));
                }
                let v: serde_json::Value = serde_json::from_str(body).map_err(|_| {
                    Close(
                        CloseCode::Invalid,
                        "Incorrect message format. speech.context body is not JSON.".into(),
                    )
                })?;
                let phrases = phrase_list(&v);
                self.shared.log(|l| l.phrases.extend(phrases));
            }
            _ => {}
        }
        Ok(())
    }

    async fn binary(&mut self, bytes: &[u8]) -> Result<bool, Close> {
        let bad_prefix = || {
            Close(
                CloseCode::Invalid,
                "Incorrect message format. Binary message has invalid header size prefix.".into(),
            )
        };
        let [hi, lo, rest @ ..] = bytes else {
            return Err(bad_prefix());
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if len > 8192 || len > rest.len() {
            return Err(bad_prefix());
        }
        let head = std::str::from_utf8(&rest[..len]).map_err(|_| bad_prefix())?;
        let payload = &rest[len..];
        let headers = parse_headers(head)?;
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        if get("Path").as_deref() != Some("audio") {
            return Err(Close(
                CloseCode::Protocol,
                "Missing/Empty header. Path".into(),
            ));
        }
        let id = get("X-RequestId").unwrap_or_default();
        if !is_no_dash_uuid(&id) {
            return Err(Close(
                CloseCode::Protocol,
                "Invalid request. X-RequestId header value was not specified in no-dash UUID format.".into(),
            ));
        }
        if get("X-Timestamp").is_none() {
            return Err(Close(
                CloseCode::Protocol,
                "Missing/Empty header. X-Timestamp".into(),
            ));
        }
        if !self.got_config {
            return Err(Close(
                CloseCode::Protocol,
                "speech.config must be sent before audio".into(),
            ));
        }
        if payload.len() > 8192 {
            return Err(Close(
                CloseCode::Invalid,
                "Audio chunk exceeds 8192 bytes".into(),
            ));
        }
        let pcm = match &self.turn {
            Some(turn) if turn.request_id == id => payload,
            Some(turn) if !turn.finished => {
                return Err(Close(
                    CloseCode::Protocol,
                    "Audio for a request other than the current turn".into(),
                ));
            }
            _ => {
                if self.used_request_ids.contains(&id) {
                    return Err(Close(
                        CloseCode::Protocol,
                        "Reuse of request identifiers is not allowed.".into(),
                    ));
                }
                let rate = riff_rate(payload).ok_or_else(|| {
                    Close(CloseCode::Invalid, "Invalid audio format: the first chunk of a turn needs a RIFF header for PCM 16-bit mono at 8 or 16 kHz".into())
                })?;
                self.used_request_ids.push(id.clone());
                self.turn = Some(Turn {
                    request_id: id.clone(),
                    detector: EnergyDetector::new(rate, 1200),
                    hypotheses: 0,
                    finished: false,
                });
                let tag = format!(
                    "{:032x}",
                    u128::from(self.used_request_ids.len() as u32) * 7919
                );
                self.send(&id, "turn.start", &json!({"context": {"serviceTag": tag}}))
                    .await;
                &payload[44..]
            }
        };
        if self.turn.as_ref().is_some_and(|t| t.finished) {
            return Ok(true);
        }
        if pcm.is_empty() {
            // The empty audio message: the client's end of audio.
            self.finish(&id).await?;
            return Ok(true);
        }
        self.shared.log(|l| l.audio_bytes += pcm.len());
        let samples = samples_of(pcm);
        let Some(turn) = self.turn.as_mut() else {
            return Ok(true);
        };
        let before = turn.detector.speech_ms;
        let heard = turn.detector.push(&samples);
        let (start, speech_ms) = (turn.detector.speech_start_ms, turn.detector.speech_ms);
        match heard {
            Heard::SpeechStarted => {
                if self.shared.script.fault == Fault::Disconnect {
                    // Drop the TCP connection with no close frame.
                    return Ok(false);
                }
                self.send(
                    &id,
                    "speech.startDetected",
                    &json!({"Offset": ticks(start)}),
                )
                .await;
            }
            Heard::SpeechEnded => {
                self.finish(&id).await?;
                return Ok(true);
            }
            Heard::Nothing => {}
        }
        // A hypothesis about every 300 ms of speech.
        if turn_in_speech(self.turn.as_ref()) && before / 300 != speech_ms / 300 {
            let words = self.words();
            let n = (speech_ms / 300) as usize;
            let text = words[..n.min(words.len()).max(1)].join(" ");
            self.send(
                &id,
                "speech.hypothesis",
                &json!({"Text": text, "Offset": ticks(start), "Duration": ticks(speech_ms)}),
            )
            .await;
            if let Some(t) = self.turn.as_mut() {
                t.hypotheses += 1;
            }
            if self.shared.script.fault == Fault::ErrorMidStream {
                return Err(Close(CloseCode::Error, "Internal service error.".into()));
            }
        }
        Ok(true)
    }

    fn words(&self) -> Vec<String> {
        let best = self
            .shared
            .script
            .alternatives
            .first()
            .map_or("", |(t, _)| t.as_str());
        let w: Vec<String> = best.split_whitespace().map(str::to_owned).collect();
        if w.is_empty() { vec![String::new()] } else { w }
    }

    /// Ends the turn: `speech.endDetected`, `speech.phrase`, `turn.end`.
    async fn finish(&mut self, id: &str) -> Result<(), Close> {
        let Some(turn) = self.turn.as_mut() else {
            return Ok(());
        };
        if turn.finished {
            return Ok(());
        }
        turn.finished = true;
        let heard = turn.detector.in_speech || turn.detector.ended;
        let (start, speech_ms, audio_ms) = (
            turn.detector.speech_start_ms,
            turn.detector.speech_ms,
            turn.detector.audio_ms,
        );
        if heard {
            self.send(
                id,
                "speech.endDetected",
                &json!({"Offset": ticks(start + speech_ms)}),
            )
            .await;
        }
        if let Fault::Delay(d) = self.shared.script.fault {
            tokio::time::sleep(d).await;
        }
        let phrase = if !heard {
            json!({"RecognitionStatus": "InitialSilenceTimeout", "Offset": ticks(audio_ms), "Duration": 0})
        } else if self.detailed {
            let nbest: Vec<_> = self
                .shared
                .script
                .alternatives
                .iter()
                .map(|(text, confidence)| {
                    json!({"Confidence": confidence, "Lexical": text, "ITN": text, "MaskedITN": text,
                           "Display": display(text)})
                })
                .collect();
            json!({"RecognitionStatus": "Success", "Offset": ticks(start), "Duration": ticks(speech_ms), "NBest": nbest})
        } else {
            let best = self.words().join(" ");
            json!({"RecognitionStatus": "Success", "DisplayText": display(&best), "Offset": ticks(start), "Duration": ticks(speech_ms)})
        };
        self.shared.log(|l| l.finals_sent.push(Instant::now()));
        self.send(id, "speech.phrase", &phrase).await;
        let end = format!(
            "Path: turn.end\r\nX-RequestId: {id}\r\nX-Timestamp: {}\r\n\r\n",
            now_iso()
        );
        let _ = self.ws.send(Message::text(end)).await;
        Ok(())
    }

    async fn send(&mut self, id: &str, path: &str, body: &serde_json::Value) {
        let text = format!(
            "X-RequestId: {id}\r\nContent-Type: application/json; charset=utf-8\r\nPath: {path}\r\nX-Timestamp: {}\r\n\r\n{body}",
            now_iso()
        );
        let _ = self.ws.send(Message::text(text)).await;
    }
}

/// Completes the close handshake: reads until the client's close (or 2 s), so unread client data does not
/// make the kernel reset the connection before the client has read our last messages.
pub(crate) async fn drain<S>(ws: &mut WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

fn turn_in_speech(turn: Option<&Turn>) -> bool {
    turn.is_some_and(|t| t.detector.in_speech)
}

/// "yes please" → "Yes please."
fn display(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

fn now_iso() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // The emulator's clients do not read it; seconds since the epoch keep it simple and well formed.
    format!("{}.{:03}Z", d.as_secs(), d.subsec_millis())
}

fn parse_headers(head: &str) -> Result<Vec<(String, String)>, Close> {
    head.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|line| {
            line.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| {
                    Close(
                        CloseCode::Protocol,
                        "Incorrect message format. Bad header line.".into(),
                    )
                })
        })
        .collect()
}

/// The phrases of a `speech.context` phrase list (`dgi.groups[].items[].text`, either letter case).
fn phrase_list(v: &serde_json::Value) -> Vec<String> {
    let pick = |v: &serde_json::Value, a: &str, b: &str| v.get(a).or_else(|| v.get(b)).cloned();
    let Some(dgi) = pick(v, "dgi", "Dgi") else {
        return Vec::new();
    };
    let groups = pick(&dgi, "groups", "Groups")
        .and_then(|g| g.as_array().cloned())
        .unwrap_or_default();
    groups
        .iter()
        .flat_map(|g| {
            pick(g, "items", "Items")
                .and_then(|i| i.as_array().cloned())
                .unwrap_or_default()
        })
        .filter_map(|i| pick(&i, "text", "Text").and_then(|t| t.as_str().map(str::to_owned)))
        .collect()
}

/// The rate of a RIFF/WAVE PCM 16-bit mono header at 8 or 16 kHz.
fn riff_rate(chunk: &[u8]) -> Option<u32> {
    let h = chunk.get(..44)?;
    let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let rate = u32::from_le_bytes([h[24], h[25], h[26], h[27]]);
    (&h[0..4] == b"RIFF"
        && &h[8..12] == b"WAVE"
        && &h[12..16] == b"fmt "
        && u16_at(20) == 1
        && u16_at(22) == 1
        && u16_at(34) == 16
        && (rate == 8000 || rate == 16_000))
        .then_some(rate)
}

/// How long a test should allow for the emulator's own end-of-speech (1.2 s of silence) plus margin.
pub const END_OF_SPEECH: Duration = Duration::from_millis(1200);
