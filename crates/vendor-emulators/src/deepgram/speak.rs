//! `POST /v1/speak`: Aura text-to-speech.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

use super::State;
use crate::openai::control::speech_like;

/// Deepgram's longest text per request.
const MAX_TEXT: usize = 2000;

pub(crate) async fn speak(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(refused) = state.check_auth(&headers).or_else(|| state.refusal()) {
        return refused;
    }
    let bad = |message: &str| {
        state.refusal_response(StatusCode::BAD_REQUEST, "INVALID_QUERY_PARAMETER", message)
    };
    let encoding = query.get("encoding").map_or("mp3", String::as_str);
    if !["linear16", "mulaw", "alaw"].contains(&encoding) {
        return bad(&format!(
            "encoding {encoding}: the emulator produces linear16, mulaw and alaw only"
        ));
    }
    let rate: u32 = match query.get("sample_rate").map(|r| r.parse()) {
        None => 24_000,
        Some(Ok(r)) if [8000, 16_000, 24_000, 32_000, 48_000].contains(&r) => r,
        Some(_) => return bad("sample_rate must be one of 8000, 16000, 24000, 32000, 48000"),
    };
    let container = query.get("container").map_or("wav", String::as_str);
    if !["wav", "none"].contains(&container) {
        return bad(&format!(
            "container {container} is not valid for encoding {encoding}"
        ));
    }
    let text = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => v["text"].as_str().map(str::to_owned),
        Err(_) => None,
    };
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return state.refusal_response(
            StatusCode::BAD_REQUEST,
            "INVALID_BODY",
            "The request body must be JSON with a non-empty text field",
        );
    };
    if text.chars().count() > MAX_TEXT {
        return state.refusal_response(
            StatusCode::BAD_REQUEST,
            "INVALID_BODY",
            &format!("Input text exceeds the maximum of {MAX_TEXT} characters"),
        );
    }
    {
        let mut stats = state.shared.stats();
        stats.sessions += 1;
        stats.texts.push(text.clone());
    }
    let faults = state.shared.faults();
    if faults.error_after_speech.is_some() {
        return state.refusal_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "An internal server error occurred",
        );
    }
    let samples = speech_like(
        rate,
        Duration::from_secs_f64((0.2 + 0.06 * text.chars().count() as f64).min(60.0)),
    );
    let mut bytes = Vec::new();
    match encoding {
        "mulaw" => mrcp_proto::rtp::g711::encode_ulaw(&samples, &mut bytes),
        "alaw" => mrcp_proto::rtp::g711::encode_alaw(&samples, &mut bytes),
        _ => bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes())),
    }
    if container == "wav" {
        let mut wav = wav_header(encoding, rate, bytes.len() as u32);
        wav.append(&mut bytes);
        bytes = wav;
    }
    let content_type = match (container, encoding) {
        ("wav", _) => "audio/wav",
        (_, "mulaw") => "audio/mulaw",
        (_, "alaw") => "audio/alaw",
        _ => "audio/l16",
    };
    let cut = faults.disconnect_after_speech.is_some();
    let delay = faults.first_result_delay;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let chunk = (rate as usize / 10) * 2;
        let total = if cut { bytes.len() / 2 } else { bytes.len() };
        for piece in bytes[..total].chunks(chunk.max(2)) {
            if tx.send(Ok(Bytes::copy_from_slice(piece))).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        if cut {
            let _ = tx
                .send(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "emulated disconnect",
                )))
                .await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .header("content-type", content_type)
        .header("dg-request-id", state.request_id())
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| {
            state.refusal_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "response",
            )
        })
}

fn wav_header(encoding: &str, rate: u32, data_len: u32) -> Vec<u8> {
    let (format, bits): (u16, u16) = match encoding {
        "mulaw" => (7, 8),
        "alaw" => (6, 8),
        _ => (1, 16),
    };
    let block = bits / 8;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&format.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}
