//! The online TTS session. See [`super`] for the documentation followed.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::{Fault, Shared, error_frame};
use crate::azure::stt::drain;
use crate::speech_audio::speech_like;

/// Text must be under 8000 bytes (接口要求).
const MAX_TEXT: usize = 8000;

/// Serves one TTS connection: one request frame, audio frames back.
pub(crate) async fn session(mut ws: WebSocketStream<TcpStream>, shared: Arc<Shared>) {
    let sid = format!("tts{:08x}@emulator", std::process::id());
    let request = match tokio::time::timeout(shared.script.idle_timeout, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Err(_) => return fail(ws, &shared, 10200, "read data timeout", &sid).await,
        _ => return,
    };
    let (rate, text) = match parse(&request, &shared.script.app_id) {
        Ok(ok) => ok,
        Err((code, message)) => return fail(ws, &shared, code, &message, &sid).await,
    };
    shared.log(|l| l.texts.push(text.clone()));
    match &shared.script.fault {
        Fault::Disconnect => return,
        Fault::Delay(d) => tokio::time::sleep(*d).await,
        _ => {}
    }
    let bytes: Vec<u8> = speech_like(&text, rate)
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    // 100 ms of audio per frame.
    let chunks: Vec<&[u8]> = bytes.chunks(rate as usize / 10 * 2).collect();
    let total = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        if let Fault::ErrorMidStream(code, message) = &shared.script.fault
            && i == total / 2
        {
            return fail(ws, &shared, *code, message, &sid).await;
        }
        let last = i + 1 == total;
        let mut frame = json!({
            "code": 0, "message": "success",
            "data": {"audio": STANDARD.encode(chunk), "ced": (i + 1).to_string(), "status": if last { 2 } else { 1 }},
        });
        if i == 0 {
            frame["sid"] = sid.clone().into();
        }
        if last {
            shared.log(|l| l.finals_sent.push(Instant::now()));
        }
        if ws.send(Message::text(frame.to_string())).await.is_err() {
            return;
        }
        shared.log(|l| l.audio_bytes += chunk.len());
    }
    let _ = ws.close(None).await;
    drain(&mut ws).await;
}

async fn fail(
    mut ws: WebSocketStream<TcpStream>,
    shared: &Shared,
    code: i64,
    message: &str,
    sid: &str,
) {
    shared.log(|l| l.error_codes.push(code));
    let _ = ws
        .send(Message::text(error_frame(code, message, sid)))
        .await;
    let _ = ws.close(None).await;
    drain(&mut ws).await;
}

/// The rate and text of a request frame, or the error code and message.
fn parse(text: &str, app_id: &str) -> Result<(u32, String), (i64, String)> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| (10160, format!("parse request json error: {e}")))?;
    let given = v
        .pointer("/common/app_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    if given.is_empty() || given != app_id {
        return Err((10313, "invalid appid".into()));
    }
    let b = v.get("business").ok_or((
        10163,
        "param validate error: business is required".to_owned(),
    ))?;
    if b.get("aue").and_then(Value::as_str) != Some("raw") {
        return Err((
            10163,
            "param validate error: the emulator serves aue=raw only".into(),
        ));
    }
    let rate = match b.get("auf").and_then(Value::as_str) {
        Some("audio/L16;rate=8000") => 8000,
        Some("audio/L16;rate=16000") | None => 16_000,
        Some(other) => return Err((10163, format!("param validate error: auf {other:?}"))),
    };
    if b.get("vcn")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err((
            10163,
            "param validate error: business.vcn is required".into(),
        ));
    }
    if v.pointer("/data/status").and_then(Value::as_u64) != Some(2) {
        return Err((10163, "param validate error: data.status must be 2".into()));
    }
    let encoded = v
        .pointer("/data/text")
        .and_then(Value::as_str)
        .unwrap_or("");
    let raw = STANDARD
        .decode(encoded)
        .map_err(|_| (10161, "parse base64 string error".to_owned()))?;
    if raw.is_empty() || raw.len() >= MAX_TEXT {
        return Err((
            10163,
            format!("param validate error: text of {} bytes", raw.len()),
        ));
    }
    Ok((rate, String::from_utf8_lossy(&raw).into_owned()))
}
