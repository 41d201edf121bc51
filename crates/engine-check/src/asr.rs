//! The ASR cases (`docs/engine-ws.md` §2, §7).

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{self, Connected, Received, Socket, describe, receive, send_binary, send_text};
use crate::report::{Outcome, Report};

/// What to check an ASR engine with.
#[derive(Debug, Clone, PartialEq)]
pub struct AsrOptions {
    /// The engine's `ws://` or `wss://` URL.
    pub url: String,
    /// The credential the engine expects, if any.
    pub token: Option<String>,
    /// 16-bit mono PCM to recognize, and its rate (8000 or 16000).
    pub audio: Vec<i16>,
    /// The rate of `audio`.
    pub sample_rate: u32,
    /// Text the best transcript must contain (case-insensitive).
    pub expect: Option<String>,
    /// A JSGF grammar to send as `jsgf` (with its words as `hints`).
    pub jsgf: Option<String>,
    /// How long the engine may take for each reply.
    pub timeout: Duration,
}

impl AsrOptions {
    /// Options for `url` with a synthetic utterance (silence, a 300 Hz tone, silence) at 16 kHz.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            audio: synthetic_utterance(16_000),
            sample_rate: 16_000,
            expect: None,
            jsgf: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// 0.3 s of silence, 0.7 s of a 300 Hz tone, 0.6 s of silence.
pub fn synthetic_utterance(rate: u32) -> Vec<i16> {
    let n = |ms: u32| (rate / 1000 * ms) as usize;
    let mut out = vec![0i16; n(300)];
    out.extend((0..n(700)).map(|i| {
        let t = i as f32 / rate as f32;
        ((t * 300.0 * std::f32::consts::TAU).sin() * 8000.0) as i16
    }));
    out.extend(vec![0i16; n(600)]);
    out
}

fn frames(samples: &[i16], rate: u32) -> Vec<Vec<u8>> {
    samples
        .chunks((rate / 50).max(1) as usize)
        .map(|c| c.iter().flat_map(|s| s.to_le_bytes()).collect())
        .collect()
}

/// Runs every ASR case.
pub async fn check(o: &AsrOptions) -> Report {
    let mut report = Report::default();
    report.push("asr.recognize", recognize(o, false, &o.audio).await);
    report.push("asr.interim", recognize(o, true, &o.audio).await);
    let silence = vec![0i16; o.sample_rate as usize];
    report.push("asr.silence", recognize(o, false, &silence).await);
    report.push("asr.cancel", cancel(o).await);
    report.push(
        "asr.malformed_start",
        refused_start(o, Start::Text("this is not json".into())).await,
    );
    let mut amr = start_message(o, false);
    amr["encoding"] = json!("AMR");
    report.push(
        "asr.unsupported_encoding",
        refused_start(o, Start::Text(amr.to_string())).await,
    );
    report.push(
        "asr.audio_before_start",
        refused_start(o, Start::Audio).await,
    );
    report.push("asr.idle_timeout", idle_timeout(o).await);
    report.push(
        "asr.auth",
        auth(&o.url, o.token.as_deref(), o.timeout).await,
    );
    report
}

fn start_message(o: &AsrOptions, interim: bool) -> Value {
    let mut start = json!({
        "type": "start", "version": 1, "requestId": "engine-check",
        "language": "en-US", "format": "raw", "encoding": "LINEAR16",
        "sampleRateHz": o.sample_rate, "channels": 1,
        "interimResults": interim, "maxAlternatives": 3,
        "dictation": o.jsgf.is_none(),
        "timeouts": {"idleMs": 10000, "resultMs": o.timeout.as_millis() as u64},
        "vendor": {},
    });
    if let Some(jsgf) = &o.jsgf {
        start["jsgf"] = json!(jsgf);
        if let Some(expect) = &o.expect {
            start["hints"] = json!([expect]);
        }
    }
    start
}

async fn open(o: &AsrOptions) -> Result<Box<Socket>, Outcome> {
    match client::connect(&o.url, o.token.as_deref(), o.timeout).await {
        Connected::Open(ws) => Ok(ws),
        Connected::Refused(status) => Err(Outcome::Fail(format!(
            "the upgrade was refused with HTTP {status}"
        ))),
        Connected::Failed(e) => Err(Outcome::Fail(e)),
    }
}

/// The happy path: `started` first, one `final` after `stop`, close 1000 (§2.1, §2.4).
async fn recognize(o: &AsrOptions, interim: bool, audio: &[i16]) -> Outcome {
    let mut ws = match open(o).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    if !send_text(&mut ws, start_message(o, interim).to_string()).await {
        return Outcome::Fail("the connection ended before start was sent".into());
    }
    for frame in frames(audio, o.sample_rate) {
        if !send_binary(&mut ws, frame).await {
            break;
        }
    }
    send_text(&mut ws, r#"{"type":"stop"}"#).await;
    let mut seen: Vec<String> = Vec::new();
    let mut interims = 0;
    let mut result: Option<Value> = None;
    loop {
        let r = receive(&mut ws, o.timeout).await;
        match (&r, r.kind()) {
            (Received::Json(v), Some("final")) if result.is_none() => {
                if seen.first().map(String::as_str) != Some("started") {
                    return Outcome::Fail(format!(
                        "no started before the result (a jambonz-mode engine? docs/engine-ws.md §6); saw {seen:?}"
                    ));
                }
                result = Some(v.clone());
                seen.push("final".into());
            }
            (Received::Json(v), Some("error")) => {
                return Outcome::Fail(format!("the engine failed: {v}"));
            }
            (Received::Json(_), Some(kind)) if result.is_none() => {
                if seen.is_empty() && kind != "started" {
                    return Outcome::Fail(format!(
                        "no started: the first message is {kind:?} (a jambonz-mode engine? docs/engine-ws.md §6)"
                    ));
                }
                match kind {
                    "started" if seen.is_empty() => {
                        if let Received::Json(v) = &r
                            && v.get("version").and_then(Value::as_u64) != Some(1)
                        {
                            return Outcome::Fail(format!("started does not say version 1: {v}"));
                        }
                    }
                    "speech_start" | "speech_end" => {}
                    "interim" if interim => interims += 1,
                    "interim" => {
                        return Outcome::Fail(
                            "interim sent though interimResults was false".into(),
                        );
                    }
                    other => {
                        return Outcome::Fail(format!("unexpected {other:?} after {seen:?}"));
                    }
                }
                seen.push(kind.to_owned());
            }
            (Received::Close(code), _) => {
                let Some(result) = result else {
                    return Outcome::Fail(format!(
                        "closed ({code:?}) without a final; saw {seen:?}"
                    ));
                };
                if *code != Some(1000) {
                    return Outcome::Fail(format!("closed with {code:?} after final, not 1000"));
                }
                return judge(o, &result, &seen, interims, audio.len() == o.audio.len());
            }
            _ => {
                return Outcome::Fail(format!(
                    "expected {} but got {} (after {seen:?})",
                    if result.is_some() {
                        "close 1000"
                    } else {
                        "a final"
                    },
                    describe(&r)
                ));
            }
        }
        if let (Some(s), Some(e)) = (
            seen.iter().position(|k| k == "speech_start"),
            seen.iter().position(|k| k == "speech_end"),
        ) && e < s
        {
            return Outcome::Fail("speech_end before speech_start".into());
        }
    }
}

fn judge(
    o: &AsrOptions,
    result: &Value,
    seen: &[String],
    interims: usize,
    is_utterance: bool,
) -> Outcome {
    let Some(alternatives) = result.get("alternatives").and_then(Value::as_array) else {
        return Outcome::Fail(format!("final has no alternatives list: {result}"));
    };
    if alternatives.len() > 3 {
        return Outcome::Fail(format!(
            "{} alternatives, maxAlternatives was 3",
            alternatives.len()
        ));
    }
    for a in alternatives {
        if a.get("transcript").and_then(Value::as_str).is_none() {
            return Outcome::Fail(format!("an alternative without transcript: {a}"));
        }
        if let Some(c) = a.get("confidence")
            && !c.as_f64().is_some_and(|c| (0.0..=1.0).contains(&c))
        {
            return Outcome::Fail(format!("confidence {c} is not within 0-1"));
        }
    }
    let best = alternatives
        .first()
        .and_then(|a| a.get("transcript"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if is_utterance
        && let Some(expect) = &o.expect
        && !best.to_lowercase().contains(&expect.to_lowercase())
    {
        return Outcome::Fail(format!(
            "best transcript {best:?} does not contain {expect:?}"
        ));
    }
    Outcome::Pass(format!(
        "final {best:?} ({} alternatives), {} interim, events {:?}",
        alternatives.len(),
        interims,
        seen
    ))
}

/// `cancel` in mid-stream: close 1000, no `final` (§2.2).
async fn cancel(o: &AsrOptions) -> Outcome {
    let mut ws = match open(o).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    send_text(&mut ws, start_message(o, false).to_string()).await;
    let half = &o.audio[..o.audio.len() / 2];
    for frame in frames(half, o.sample_rate) {
        if !send_binary(&mut ws, frame).await {
            break;
        }
    }
    send_text(&mut ws, r#"{"type":"cancel"}"#).await;
    loop {
        let r = receive(&mut ws, Duration::from_secs(2)).await;
        match r.kind() {
            Some("started" | "speech_start" | "speech_end" | "interim") => continue,
            Some("final") => return Outcome::Fail("a final after cancel".into()),
            _ => {}
        }
        return match r {
            Received::Close(Some(1000)) => Outcome::Pass("closed 1000 without a result".into()),
            other => Outcome::Fail(format!(
                "expected close 1000 within 2 s of cancel, got {}",
                describe(&other)
            )),
        };
    }
}

/// What opens a connection that the engine must refuse.
enum Start {
    Text(String),
    Audio,
}

/// A bad first message is answered with `error` `bad_request` (§2.2, §2.4 rule 1).
async fn refused_start(o: &AsrOptions, start: Start) -> Outcome {
    let mut ws = match open(o).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    match start {
        Start::Text(t) => send_text(&mut ws, t).await,
        Start::Audio => send_binary(&mut ws, vec![0u8; 640]).await,
    };
    expect_error(&mut ws, "bad_request", o.timeout).await
}

/// Reads until an `error` of `kind` (then a close), failing on anything else.
pub(crate) async fn expect_error(ws: &mut Socket, kind: &str, timeout: Duration) -> Outcome {
    loop {
        let r = receive(ws, timeout).await;
        match &r {
            Received::Json(v) if r.kind() == Some("error") => {
                let got = v.get("kind").and_then(Value::as_str).unwrap_or("(none)");
                if got != kind {
                    return Outcome::Fail(format!("error kind {got:?}, expected {kind:?}: {v}"));
                }
                let closed = receive(ws, Duration::from_secs(3)).await;
                return match closed {
                    Received::Close(code) => Outcome::Pass(format!(
                        "error {kind}: {:?}, close {code:?}",
                        v.get("message").and_then(Value::as_str).unwrap_or("")
                    )),
                    other => Outcome::Fail(format!(
                        "no close after the error, got {}",
                        describe(&other)
                    )),
                };
            }
            // A `started` (or speech events) before the error is tolerated.
            Received::Json(_)
                if matches!(r.kind(), Some("started" | "speech_start" | "speech_end")) => {}
            other => {
                return Outcome::Fail(format!("expected error {kind}, got {}", describe(other)));
            }
        }
    }
}

/// `timeouts.idleMs` is honoured (§2.5).
async fn idle_timeout(o: &AsrOptions) -> Outcome {
    let mut ws = match open(o).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    let mut start = start_message(o, false);
    start["timeouts"]["idleMs"] = json!(1000);
    send_text(&mut ws, start.to_string()).await;
    expect_error(&mut ws, "timeout", Duration::from_secs(4)).await
}

/// A wrong credential is refused (§1.3).
pub(crate) async fn auth(url: &str, token: Option<&str>, timeout: Duration) -> Outcome {
    if token.is_none() {
        return Outcome::Skip("no credential given (--token-env)".into());
    }
    match client::connect(url, Some("engine-check-wrong-credential"), timeout).await {
        Connected::Refused(status @ (401 | 403)) => {
            Outcome::Pass(format!("refused with HTTP {status}"))
        }
        Connected::Refused(status) => {
            Outcome::Fail(format!("refused with HTTP {status}, not 401 or 403"))
        }
        Connected::Failed(e) => Outcome::Fail(e),
        Connected::Open(mut ws) => {
            // The engine may accept the upgrade and refuse with `error` `auth` instead.
            let r = receive(&mut ws, Duration::from_secs(2)).await;
            match &r {
                Received::Json(v)
                    if r.kind() == Some("error") && v.get("kind") == Some(&json!("auth")) =>
                {
                    Outcome::Pass("refused with error auth".into())
                }
                other => Outcome::Fail(format!(
                    "a wrong credential was accepted (then {})",
                    describe(other)
                )),
            }
        }
    }
}
