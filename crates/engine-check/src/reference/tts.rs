//! The reference engine's synthesizer (`docs/engine-ws.md` §3, §4): a tone as long as the text, marks in
//! their place.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mrcp_proto::ssml::{self, Context, Limits, Segment};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::asr::{close, fail};
use super::{Behaviour, Fault, respond};

type Ws = WebSocketStream<TcpStream>;

/// Milliseconds of "speech" per character of text.
const MS_PER_CHAR: u64 = 40;

/// A prompt, planned.
#[derive(Debug)]
enum Piece {
    /// This many milliseconds of tone.
    Tone(u64),
    /// This many milliseconds of silence.
    Silence(u64),
    Mark(String),
}

/// Reads a synthesis request (the WebSocket `start` or the HTTP body): the plan and the rate.
fn plan(request: &Value, type_member: &str) -> Result<(Vec<Piece>, u32), String> {
    let text = request
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or("the request has no text")?;
    let rate = match request.get("sampleRateHz").map(Value::as_u64) {
        None => 16_000,
        Some(Some(r @ 8000..=48_000)) => r as u32,
        Some(other) => return Err(format!("unsupported sampleRateHz {other:?}")),
    };
    let limits = Limits::default();
    let segments = match request.get(type_member).and_then(Value::as_str) {
        Some("ssml") => {
            let doc = ssml::parse(text).map_err(|e| format!("parse-failure: {e}"))?;
            ssml::segments(&doc, &Context::default(), &limits)
        }
        None | Some("text") => ssml::plain_text(text, &Context::default(), &limits),
        Some(other) => return Err(format!("unknown {type_member} {other:?}: text or ssml")),
    }
    .map_err(|e| format!("parse-failure: {e}"))?;
    let mut pieces = Vec::new();
    for segment in segments {
        match segment {
            Segment::Speech(s) => pieces.push(Piece::Tone(
                (s.text.chars().count() as u64 * MS_PER_CHAR).max(200),
            )),
            Segment::Break(d) => pieces.push(Piece::Silence(d.as_millis().min(10_000) as u64)),
            Segment::Mark(name) => pieces.push(Piece::Mark(name)),
            Segment::Audio { .. } => pieces.push(Piece::Silence(200)),
        }
    }
    Ok((pieces, rate))
}

/// 20 ms frames of the plan as little-endian PCM, marks between.
fn frames(pieces: &[Piece], rate: u32) -> Vec<Result<Vec<u8>, String>> {
    let per_frame = (rate / 50) as usize;
    let mut out = Vec::new();
    let mut phase = 0.0f32;
    for piece in pieces {
        let (ms, loud) = match piece {
            Piece::Mark(name) => {
                out.push(Err(name.clone()));
                continue;
            }
            Piece::Tone(ms) => (*ms, true),
            Piece::Silence(ms) => (*ms, false),
        };
        for _ in 0..ms.div_ceil(20) {
            let mut frame = Vec::with_capacity(per_frame * 2);
            for _ in 0..per_frame {
                let v = if loud {
                    (phase.sin() * 8000.0) as i16
                } else {
                    0
                };
                phase = (phase + 2.0 * std::f32::consts::PI * 220.0 / rate as f32)
                    % (2.0 * std::f32::consts::PI);
                frame.extend_from_slice(&v.to_le_bytes());
            }
            out.push(Ok(frame));
        }
    }
    out
}

pub(super) async fn serve_ws(mut ws: Ws, b: Behaviour) {
    let sloppy = b.fault == Fault::Sloppy;
    let start = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => text.to_string(),
        Ok(Some(Ok(_))) => {
            return fail(
                &mut ws,
                false,
                "bad_request",
                "the first message must be start",
                1007,
            )
            .await;
        }
        Err(_) => return fail(&mut ws, false, "timeout", "no start within 10 s", 1011).await,
        _ => return,
    };
    let request: Value = match serde_json::from_str(&start) {
        Ok(v) => v,
        Err(_) if sloppy => json!({"text": "anything"}),
        Err(e) => {
            return fail(
                &mut ws,
                false,
                "bad_request",
                &format!("start is not JSON: {e}"),
                1007,
            )
            .await;
        }
    };
    let (pieces, rate) = match plan(&request, "textType") {
        Ok(p) => p,
        Err(_) if sloppy => (vec![Piece::Tone(500)], 16_000),
        Err(message) => return fail(&mut ws, false, "bad_request", &message, 1007).await,
    };
    if b.fault == Fault::Hang {
        while let Some(Ok(_)) = ws.next().await {}
        return;
    }
    if !sloppy {
        let started = json!({"type": "started", "version": 1, "sampleRateHz": rate});
        if ws.send(Message::text(started.to_string())).await.is_err() {
            return;
        }
    }
    let (mut tx, mut rx) = ws.split();
    let mut sent = 0usize;
    for item in frames(&pieces, rate) {
        match &b.fault {
            Fault::DisconnectAfterFrames(n) if sent >= *n => return,
            Fault::ErrorAfterFrames {
                frames,
                kind,
                message,
            } if sent >= *frames => {
                let error = json!({"type": "error", "kind": kind, "message": message});
                let _ = tx.send(Message::text(error.to_string())).await;
                let Ok(mut ws) = tx.reunite(rx) else { return };
                return close(&mut ws, 1011).await;
            }
            _ => {}
        }
        let message = match item {
            Ok(pcm) => {
                sent += 1;
                Message::binary(pcm)
            }
            Err(mark) => Message::text(json!({"type": "mark", "name": mark}).to_string()),
        };
        tokio::select! {
            biased;
            incoming = rx.next() => {
                let stop = match incoming {
                    Some(Ok(Message::Text(t))) => t.contains("\"stop\""),
                    _ => true,
                };
                if stop && !sloppy {
                    let Ok(mut ws) = tx.reunite(rx) else { return };
                    return close(&mut ws, 1000).await;
                }
            }
            sent_ok = tx.send(message) => if sent_ok.is_err() { return },
        }
    }
    let _ = tx.send(Message::text(r#"{"type":"done"}"#)).await;
    if sloppy {
        // Holds the connection open: a conforming engine closes after done.
        while let Some(Ok(_)) = rx.next().await {}
        return;
    }
    let Ok(mut ws) = tx.reunite(rx) else { return };
    close(&mut ws, 1000).await;
}

pub(super) async fn serve_http(mut socket: TcpStream, body: &[u8], b: &Behaviour) {
    let sloppy = b.fault == Fault::Sloppy;
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if sloppy => {
            return respond(&mut socket, "200 OK", "audio/l16;rate=16000", b"").await;
        }
        Err(e) => {
            let error = json!({"kind": "bad_request", "message": format!("body is not JSON: {e}")});
            return respond(
                &mut socket,
                "400 Bad Request",
                "application/json",
                error.to_string().as_bytes(),
            )
            .await;
        }
    };
    let (pieces, rate) = match plan(&request, "type") {
        Ok(p) => p,
        Err(message) => {
            let error = json!({"kind": "bad_request", "message": message});
            return respond(
                &mut socket,
                "400 Bad Request",
                "application/json",
                error.to_string().as_bytes(),
            )
            .await;
        }
    };
    let pcm: Vec<u8> = frames(&pieces, rate)
        .into_iter()
        .filter_map(Result::ok)
        .flatten()
        .collect();
    match &b.fault {
        Fault::Hang => {
            // Never answers; the client gives up and drops the connection.
            let mut sink = [0u8; 64];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut sink).await;
        }
        Fault::ErrorAfterFrames { kind, message, .. } => {
            let error = json!({"kind": kind, "message": message});
            respond(
                &mut socket,
                "500 Internal Server Error",
                "application/json",
                error.to_string().as_bytes(),
            )
            .await;
        }
        Fault::DisconnectAfterFrames(_) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: audio/l16;rate={rate}\r\nContent-Length: {}\r\n\r\n",
                pcm.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket
                .write_all(pcm.get(..pcm.len() / 2).unwrap_or_default())
                .await;
        }
        _ => {
            respond(
                &mut socket,
                "200 OK",
                &format!("audio/l16;rate={rate}"),
                &pcm,
            )
            .await
        }
    }
}
