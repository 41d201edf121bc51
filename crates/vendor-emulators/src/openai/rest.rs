//! `POST /v1/audio/transcriptions` and `POST /v1/audio/speech`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Multipart, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::control::{speech_like, voiced_ms};
use super::{State, error};

/// The documented upload limit: 25 MB.
pub(crate) const MAX_UPLOAD: usize = 25 * 1024 * 1024;

/// The file types the endpoint documents.
const FILE_TYPES: [&str; 9] = [
    "flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm",
];

fn invalid(message: &str, param: Option<&str>) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        message,
        "invalid_request_error",
        param,
        None,
    )
}

fn server_error() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
        None,
    )
}

/// A response whose body stops after `head` bytes with the connection cut (the `disconnect` fault).
fn cut_off(content_type: &'static str, head: Vec<u8>) -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(head)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "emulated disconnect",
        )),
    ];
    Response::builder()
        .header("content-type", content_type)
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap_or_else(|_| server_error())
}

pub(crate) async fn transcriptions(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if let Some(refused) = state.check_auth(&headers).or_else(|| state.refusal()) {
        return refused;
    }
    let (mut file, mut file_name, mut model, mut format) =
        (None, String::new(), None, "json".to_owned());
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return invalid(&format!("could not parse multipart form: {e}"), None),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            file_name = field.file_name().unwrap_or_default().to_owned();
        }
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) => return invalid(&format!("could not read field {name}: {e}"), Some(&name)),
        };
        match name.as_str() {
            "file" => file = Some(data),
            "model" => model = Some(String::from_utf8_lossy(&data).into_owned()),
            "response_format" => format = String::from_utf8_lossy(&data).into_owned(),
            _ => {}
        }
    }
    let Some(file) = file else {
        return invalid("you must provide a file", Some("file"));
    };
    if model.as_deref().unwrap_or("").is_empty() {
        return invalid("you must provide a model parameter", Some("model"));
    }
    if file.len() > MAX_UPLOAD {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "Maximum content size limit ({MAX_UPLOAD}) exceeded ({} bytes read)",
                file.len()
            ),
            "invalid_request_error",
            None,
            None,
        );
    }
    let extension = file_name
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if !FILE_TYPES.contains(&extension.as_str()) {
        return invalid(
            &format!("Invalid file format. Supported formats: {FILE_TYPES:?}"),
            Some("file"),
        );
    }
    // The emulator decodes WAV only (what the adapters send).
    let Ok(reader) = hound::WavReader::new(std::io::Cursor::new(file.to_vec())) else {
        return invalid("Audio file might be corrupted or unsupported", Some("file"));
    };
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .filter_map(Result::ok)
        .collect();
    let voiced = voiced_ms(&samples, spec.sample_rate);
    {
        let mut stats = state.shared.stats();
        stats.sessions += 1;
        stats.audio_bytes += file.len() as u64;
        stats.voiced_ms += voiced;
    }
    let faults = state.shared.faults();
    tokio::time::sleep(faults.first_result_delay).await;
    let duration = samples.len() as f64 / f64::from(spec.sample_rate.max(1));
    let text = if voiced >= 100 {
        state.transcript()
    } else {
        String::new()
    };
    let body = match format.as_str() {
        "json" => json!({ "text": text, "usage": { "type": "duration", "seconds": duration.ceil() } }).to_string(),
        "verbose_json" => json!({
            "task": "transcribe", "language": "english", "duration": duration, "text": text,
            "segments": [{ "id": 0, "seek": 0, "start": 0.0, "end": duration, "text": text, "avg_logprob": -0.05, "no_speech_prob": 0.01 }]
        })
        .to_string(),
        "text" => text.clone(),
        other => return invalid(&format!("response_format {other} is not supported by the emulator"), Some("response_format")),
    };
    if faults
        .error_after_speech
        .is_some_and(|d| Duration::from_millis(voiced) >= d)
    {
        return server_error();
    }
    if faults
        .disconnect_after_speech
        .is_some_and(|d| Duration::from_millis(voiced) >= d)
    {
        return cut_off(
            "application/json",
            body.as_bytes().iter().take(5).copied().collect(),
        );
    }
    state.final_sent();
    let content_type = if format == "text" {
        "text/plain"
    } else {
        "application/json"
    };
    ([("content-type", content_type)], body).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct SpeechBody {
    #[serde(default)]
    model: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    voice: Option<serde_json::Value>,
    #[serde(default)]
    response_format: Option<String>,
    #[serde(default)]
    speed: Option<f64>,
}

/// OpenAI's built-in voices.
const VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
    "marin", "cedar",
];

/// The rate of `pcm` output.
pub const SPEECH_RATE: u32 = 24_000;

pub(crate) async fn speech(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = state.check_auth(&headers).or_else(|| state.refusal()) {
        return refused;
    }
    let request: SpeechBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return invalid(
                &format!("We could not parse the JSON body of your request: {e}"),
                None,
            );
        }
    };
    if request.model.is_empty() {
        return invalid("you must provide a model parameter", Some("model"));
    }
    if request.input.is_empty() {
        return invalid(
            "[{'type': 'string_too_short', 'loc': ('body', 'input')}]",
            Some("input"),
        );
    }
    if request.input.chars().count() > 4096 {
        return invalid(
            "[{'type': 'string_too_long', 'loc': ('body', 'input'), 'msg': 'String should have at most 4096 characters'}]",
            Some("input"),
        );
    }
    let voice_ok = match &request.voice {
        Some(serde_json::Value::String(v)) => VOICES.contains(&v.as_str()),
        Some(serde_json::Value::Object(o)) => o.contains_key("id"),
        _ => false,
    };
    if !voice_ok {
        return invalid(
            &format!("Invalid value for 'voice': expected one of {VOICES:?}"),
            Some("voice"),
        );
    }
    if request.speed.is_some_and(|s| !(0.25..=4.0).contains(&s)) {
        return invalid("speed must be between 0.25 and 4.0", Some("speed"));
    }
    let format = request.response_format.unwrap_or_else(|| "mp3".to_owned());
    if !["pcm", "wav"].contains(&format.as_str()) {
        return invalid(
            &format!("response_format {format}: the emulator produces pcm and wav only"),
            Some("response_format"),
        );
    }
    {
        let mut stats = state.shared.stats();
        stats.sessions += 1;
        stats.texts.push(request.input.clone());
    }
    let faults = state.shared.faults();
    if faults.error_after_speech.is_some() {
        return server_error();
    }
    let seconds = (0.2
        + 0.06 * request.input.chars().count() as f64 / request.speed.unwrap_or(1.0))
    .min(60.0);
    let samples = speech_like(SPEECH_RATE, Duration::from_secs_f64(seconds));
    let mut bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    if format == "wav" {
        let mut wav = wav_header(bytes.len() as u32);
        wav.append(&mut bytes);
        bytes = wav;
    }
    let cut = faults.disconnect_after_speech.is_some();
    if cut {
        let half = bytes.len() / 2;
        bytes.truncate(half);
    }
    let delay = faults.first_result_delay;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        // 100 ms of 24 kHz audio per chunk, as a streaming server sends it.
        for chunk in bytes.chunks(4800) {
            if tx.send(Ok(Bytes::copy_from_slice(chunk))).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        if cut {
            let reset =
                std::io::Error::new(std::io::ErrorKind::ConnectionReset, "emulated disconnect");
            let _ = tx.send(Err(reset)).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .header(
            "content-type",
            if format == "wav" {
                "audio/wav"
            } else {
                "audio/pcm"
            },
        )
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| server_error())
}

/// A 44-byte WAV header for 24 kHz 16-bit mono.
fn wav_header(data_len: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&SPEECH_RATE.to_le_bytes());
    h.extend_from_slice(&(SPEECH_RATE * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}
