//! The TTS cases, over WebSocket (`docs/engine-ws.md` §3) and HTTP (§4).

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::asr::{auth, expect_error};
use crate::client::{self, Connected, Received, Socket, describe, receive, send_text};
use crate::report::{Outcome, Report};

/// What to check a TTS engine with.
#[derive(Debug, Clone, PartialEq)]
pub struct TtsOptions {
    /// `ws://`, `wss://` (streaming) or `http://`, `https://` (one POST per prompt).
    pub url: String,
    /// The credential the engine expects, if any.
    pub token: Option<String>,
    /// `sampleRateHz` asked.
    pub sample_rate: u32,
    /// How long the engine may take for each reply.
    pub timeout: Duration,
}

impl TtsOptions {
    /// Options for `url` at 16 kHz.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            sample_rate: 16_000,
            timeout: Duration::from_secs(10),
        }
    }
}

const TEXT: &str = "Hello from the engine-ws conformance kit.";
const SSML: &str = r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">Before the mark. <mark name="kit1"/> After the mark.</speak>"#;
const LONG: &str = "This prompt is long on purpose, so that the kit can stop it in the middle. \
    It goes on and on, sentence after sentence, while the caller has long stopped listening, \
    because barge-in is the most common way a prompt ends on a telephone line.";

/// Runs every case for the URL's transport.
pub async fn check(o: &TtsOptions) -> Report {
    let mut report = Report::default();
    if o.url.starts_with("http://") || o.url.starts_with("https://") {
        report.push("http.speak", http_speak(o, "text", TEXT).await);
        report.push("http.ssml", http_speak(o, "ssml", SSML).await);
        report.push("http.bad_request", http_bad_request(o).await);
        report.push("http.auth", http_auth(o).await);
        return report;
    }
    report.push("tts.speak", speak(o, "text", TEXT, None).await);
    report.push("tts.marks", speak(o, "ssml", SSML, Some("kit1")).await);
    report.push("tts.stop", stop(o).await);
    report.push(
        "tts.malformed_start",
        refused(o, "this is not json".into()).await,
    );
    let mut no_text = start(o, "text", TEXT);
    if let Some(m) = no_text.as_object_mut() {
        m.remove("text");
    }
    report.push("tts.missing_text", refused(o, no_text.to_string()).await);
    report.push(
        "tts.auth",
        auth(&o.url, o.token.as_deref(), o.timeout).await,
    );
    report
}

fn start(o: &TtsOptions, text_type: &str, text: &str) -> Value {
    json!({
        "type": "start", "version": 1, "requestId": "engine-check",
        "textType": text_type, "text": text, "language": "en-US",
        "prosody": {"rate": 1.0, "volume": 1.0, "pitch": 1.0},
        "sampleRateHz": o.sample_rate, "encoding": "LINEAR16", "vendor": {},
    })
}

async fn open(o: &TtsOptions) -> Result<Box<Socket>, Outcome> {
    match client::connect(&o.url, o.token.as_deref(), o.timeout).await {
        Connected::Open(ws) => Ok(ws),
        Connected::Refused(status) => Err(Outcome::Fail(format!(
            "the upgrade was refused with HTTP {status}"
        ))),
        Connected::Failed(e) => Err(Outcome::Fail(e)),
    }
}

/// Audio statistics: samples and peak.
#[derive(Default)]
struct Audio {
    samples: usize,
    peak: u16,
}

impl Audio {
    fn add(&mut self, bytes: &[u8]) {
        for pair in bytes.chunks_exact(2) {
            let s = i16::from_le_bytes([pair[0], pair[1]]);
            self.peak = self.peak.max(s.unsigned_abs());
        }
        self.samples += bytes.len() / 2;
    }

    fn check(&self, rate: u32) -> Result<String, String> {
        let ms = self.samples as u64 * 1000 / u64::from(rate.max(1));
        if ms < 200 {
            return Err(format!("only {ms} ms of audio"));
        }
        if self.peak < 100 {
            return Err(format!("the audio is silent (peak {})", self.peak));
        }
        Ok(format!("{ms} ms of audio, peak {}", self.peak))
    }
}

/// `started`, audio, (`mark`), `done`, close 1000 (§3.1, §3.3).
async fn speak(o: &TtsOptions, text_type: &str, text: &str, mark: Option<&str>) -> Outcome {
    let mut ws = match open(o).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    send_text(&mut ws, start(o, text_type, text).to_string()).await;
    match receive(&mut ws, o.timeout).await {
        Received::Json(v) if v.get("type") == Some(&json!("started")) => {
            if v.get("version").and_then(Value::as_u64) != Some(1) {
                return Outcome::Fail(format!("started does not say version 1: {v}"));
            }
            if let Some(rate) = v.get("sampleRateHz").and_then(Value::as_u64)
                && rate != u64::from(o.sample_rate)
            {
                return Outcome::Fail(format!(
                    "started says {rate} Hz, {} Hz was asked",
                    o.sample_rate
                ));
            }
        }
        other => return Outcome::Fail(format!("expected started first, got {}", describe(&other))),
    }
    let mut audio = Audio::default();
    let mut before_mark = None;
    loop {
        let r = receive(&mut ws, o.timeout).await;
        match &r {
            Received::Binary(b) => {
                if b.len() % 2 == 1 {
                    return Outcome::Fail(format!("an audio frame of odd length {}", b.len()));
                }
                audio.add(b);
            }
            Received::Json(v) if r.kind() == Some("mark") => {
                let name = v.get("name").and_then(Value::as_str).unwrap_or("");
                if Some(name) != mark {
                    return Outcome::Fail(format!("unexpected mark {name:?}"));
                }
                before_mark = Some(audio.samples);
            }
            Received::Json(_) if r.kind() == Some("done") => break,
            other => {
                return Outcome::Fail(format!(
                    "expected audio, mark or done, got {}",
                    describe(other)
                ));
            }
        }
    }
    let closed = receive(&mut ws, o.timeout).await;
    if closed != Received::Close(Some(1000)) {
        return Outcome::Fail(format!(
            "expected close 1000 after done, got {}",
            describe(&closed)
        ));
    }
    if let Some(mark) = mark {
        match before_mark {
            None => return Outcome::Fail(format!("no mark {mark:?}")),
            Some(0) => return Outcome::Fail("no audio before the mark".into()),
            Some(n) if n == audio.samples => {
                return Outcome::Fail("no audio after the mark".into());
            }
            Some(_) => {}
        }
    }
    match audio.check(o.sample_rate) {
        Ok(seen) => Outcome::Pass(format!(
            "{seen}{}",
            if mark.is_some() {
                ", mark in place"
            } else {
                ""
            }
        )),
        Err(why) => Outcome::Fail(why),
    }
}

/// `stop` after the first audio: close 1000 within 2 s (§3.2).
async fn stop(o: &TtsOptions) -> Outcome {
    let mut ws = match open(o).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    send_text(&mut ws, start(o, "text", LONG).to_string()).await;
    loop {
        let r = receive(&mut ws, o.timeout).await;
        match r {
            Received::Binary(_) => break,
            Received::Json(_) if r.kind() == Some("started") => {}
            other => return Outcome::Fail(format!("expected audio, got {}", describe(&other))),
        }
    }
    send_text(&mut ws, r#"{"type":"stop"}"#).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let r = receive(&mut ws, left).await;
        match r {
            Received::Binary(_) | Received::Json(_) => continue,
            Received::Close(Some(1000)) => return Outcome::Pass("closed 1000 after stop".into()),
            other => {
                return Outcome::Fail(format!(
                    "expected close 1000 within 2 s of stop, got {}",
                    describe(&other)
                ));
            }
        }
    }
}

async fn refused(o: &TtsOptions, start: String) -> Outcome {
    let mut ws = match open(o).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    send_text(&mut ws, start).await;
    expect_error(&mut ws, "bad_request", o.timeout).await
}

fn http_client(o: &TtsOptions) -> Result<reqwest::Client, Outcome> {
    let tls = client::tls().map_err(|e| Outcome::Fail(format!("TLS set-up: {e}")))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .timeout(o.timeout)
        .build()
        .map_err(|e| Outcome::Fail(format!("HTTP client: {e}")))
}

async fn post(
    o: &TtsOptions,
    token: Option<&str>,
    body: String,
) -> Result<(u16, String, Vec<u8>), Outcome> {
    let http = http_client(o)?;
    let mut request = http
        .post(&o.url)
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = request
        .send()
        .await
        .map_err(|e| Outcome::Fail(format!("POST failed: {}", e.without_url())))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response
        .bytes()
        .await
        .map_err(|e| Outcome::Fail(format!("reading the body: {}", e.without_url())))?;
    Ok((status, content_type, body.to_vec()))
}

async fn http_speak(o: &TtsOptions, kind: &str, text: &str) -> Outcome {
    let body = json!({
        "type": kind, "text": text, "language": "en-US", "version": 1,
        "sampleRateHz": o.sample_rate, "encoding": "LINEAR16",
    });
    let (status, content_type, body) = match post(o, o.token.as_deref(), body.to_string()).await {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    if status != 200 {
        return Outcome::Fail(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(160)
                .collect::<String>()
        ));
    }
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut audio = Audio::default();
    if media == "audio/l16" {
        let rate = content_type
            .split(';')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("rate"))
            .and_then(|(_, v)| v.trim().parse::<u32>().ok());
        if rate != Some(o.sample_rate) {
            return Outcome::Fail(format!(
                "{content_type:?}: rate={} was asked",
                o.sample_rate
            ));
        }
        audio.add(&body);
    } else if matches!(media.as_str(), "audio/wav" | "audio/x-wav" | "audio/wave") {
        let reader = match hound::WavReader::new(std::io::Cursor::new(&body)) {
            Ok(r) => r,
            Err(e) => return Outcome::Fail(format!("the WAV body: {e}")),
        };
        let spec = reader.spec();
        if spec.channels != 1 || spec.bits_per_sample != 16 || spec.sample_rate != o.sample_rate {
            return Outcome::Fail(format!(
                "WAV is {spec:?}; 16-bit mono at {} Hz was asked",
                o.sample_rate
            ));
        }
        let bytes: Vec<u8> = reader
            .into_samples::<i16>()
            .filter_map(Result::ok)
            .flat_map(i16::to_le_bytes)
            .collect();
        audio.add(&bytes);
    } else {
        return Outcome::Fail(format!(
            "Content-Type {content_type:?}: audio/l16 or audio/wav expected"
        ));
    }
    match audio.check(o.sample_rate) {
        Ok(seen) => Outcome::Pass(format!("{media}, {seen}")),
        Err(why) => Outcome::Fail(why),
    }
}

async fn http_bad_request(o: &TtsOptions) -> Outcome {
    match post(o, o.token.as_deref(), "this is not json".into()).await {
        Err(outcome) => outcome,
        Ok((status @ 400..=499, _, _)) => Outcome::Pass(format!("HTTP {status}")),
        Ok((status, _, _)) => Outcome::Fail(format!(
            "HTTP {status} for a body that is not JSON, 4xx expected"
        )),
    }
}

async fn http_auth(o: &TtsOptions) -> Outcome {
    if o.token.is_none() {
        return Outcome::Skip("no credential given (--token-env)".into());
    }
    let body = json!({"type": "text", "text": TEXT, "sampleRateHz": o.sample_rate});
    match post(o, Some("engine-check-wrong-credential"), body.to_string()).await {
        Err(outcome) => outcome,
        Ok((status @ (401 | 403), _, _)) => Outcome::Pass(format!("refused with HTTP {status}")),
        Ok((status, _, _)) => Outcome::Fail(format!(
            "HTTP {status} for a wrong credential, 401 or 403 expected"
        )),
    }
}
