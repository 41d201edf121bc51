//! The IAT (streaming dictation) session. See [`super`] for the documentation followed.

use std::sync::Arc;
use std::time::Duration;

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
use crate::speech_audio::{EnergyDetector, Heard, samples_of};

/// Interim results come every this much speech.
const INTERIM_EVERY_MS: u64 = 400;

struct Iat {
    ws: WebSocketStream<TcpStream>,
    shared: Arc<Shared>,
    sid: String,
    sent_first: bool,
    started: bool,
    rate: u32,
    wpgs: bool,
    detector: EnergyDetector,
    audio_ms: u64,
    sn: u32,
    /// Words already sent (without dynamic correction: appended results).
    words_sent: usize,
}

/// Serves one IAT connection.
pub(crate) async fn session(ws: WebSocketStream<TcpStream>, shared: Arc<Shared>) {
    let sid = format!("iat{:08x}@emulator", std::process::id());
    let mut s = Iat {
        ws,
        shared,
        sid,
        sent_first: false,
        started: false,
        rate: 16_000,
        wpgs: false,
        detector: EnergyDetector::new(16_000, 2000),
        audio_ms: 0,
        sn: 0,
        words_sent: 0,
    };
    s.run().await;
}

enum End {
    /// Send this error and close.
    Error(i64, String),
    /// The session is over (final sent or connection gone).
    Done,
    /// Drop the TCP connection without a close frame.
    Drop,
}

impl Iat {
    async fn run(&mut self) {
        let idle = self.shared.script.idle_timeout;
        let end = loop {
            let next = tokio::time::timeout(idle, self.ws.next()).await;
            let frame = match next {
                Err(_) => break End::Error(10200, "read data timeout".into()),
                Ok(Some(Ok(Message::Text(t)))) => t,
                Ok(Some(Ok(Message::Binary(_)))) => {
                    break End::Error(
                        10160,
                        "parse request json error: binary frames are not accepted".into(),
                    );
                }
                Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => break End::Done,
                Ok(Some(Ok(_))) => continue,
            };
            match self.frame(&frame).await {
                Ok(()) => {}
                Err(end) => break end,
            }
        };
        match end {
            End::Error(code, message) => {
                self.shared.log(|l| l.error_codes.push(code));
                let _ = self
                    .ws
                    .send(Message::text(error_frame(code, &message, &self.sid)))
                    .await;
                let _ = self.ws.close(None).await;
                drain(&mut self.ws).await;
            }
            End::Done => {
                let _ = self.ws.close(None).await;
                drain(&mut self.ws).await;
            }
            End::Drop => {}
        }
    }

    async fn frame(&mut self, text: &str) -> Result<(), End> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| End::Error(10160, format!("parse request json error: {e}")))?;
        let data = v
            .get("data")
            .ok_or_else(|| End::Error(10163, "param validate error: data is required".into()))?;
        let status = data.get("status").and_then(Value::as_u64).ok_or_else(|| {
            End::Error(
                10163,
                "param validate error: data.status is required".into(),
            )
        })?;
        if !self.started {
            if status != 0 {
                return Err(End::Error(
                    10163,
                    "param validate error: the first frame must have status 0".into(),
                ));
            }
            self.start(&v)?;
        } else if status == 0 {
            return Err(End::Error(
                10163,
                "param validate error: status 0 after the first frame".into(),
            ));
        }
        let format = data.get("format").and_then(Value::as_str).unwrap_or("");
        if format != format!("audio/L16;rate={}", self.rate) {
            return Err(End::Error(
                10163,
                format!("param validate error: format {format:?} changed or invalid"),
            ));
        }
        if data.get("encoding").and_then(Value::as_str) != Some("raw") {
            return Err(End::Error(
                10163,
                "param validate error: encoding must be raw".into(),
            ));
        }
        let audio = data.get("audio").and_then(Value::as_str).unwrap_or("");
        let pcm = STANDARD
            .decode(audio)
            .map_err(|_| End::Error(10161, "parse base64 string error".into()))?;
        self.shared.log(|l| l.audio_bytes += pcm.len());
        let samples = samples_of(&pcm);
        self.audio_ms += samples.len() as u64 * 1000 / u64::from(self.rate);
        let before = self.detector.speech_ms;
        let heard = self.detector.push(&samples);
        if heard == Heard::SpeechStarted && self.shared.script.fault == Fault::Disconnect {
            return Err(End::Drop);
        }
        let max_ms = self.shared.script.max_audio.as_millis() as u64;
        if status == 2 || heard == Heard::SpeechEnded || self.audio_ms >= max_ms {
            return Err(self.finish().await);
        }
        let speech_ms = self.detector.speech_ms;
        if self.detector.in_speech && before / INTERIM_EVERY_MS != speech_ms / INTERIM_EVERY_MS {
            self.interim().await?;
        }
        Ok(())
    }

    fn start(&mut self, v: &Value) -> Result<(), End> {
        let app_id = v
            .pointer("/common/app_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        if app_id.is_empty() {
            return Err(End::Error(10313, "appid cannot be empty".into()));
        }
        if app_id != self.shared.script.app_id {
            return Err(End::Error(10313, "invalid appid".into()));
        }
        let business = v.get("business").cloned().unwrap_or(Value::Null);
        for key in ["language", "domain", "accent"] {
            if business
                .get(key)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(End::Error(
                    10163,
                    format!("param validate error: business.{key} is required"),
                ));
            }
        }
        let format = v
            .pointer("/data/format")
            .and_then(Value::as_str)
            .unwrap_or("");
        self.rate = match format {
            "audio/L16;rate=16000" => 16_000,
            "audio/L16;rate=8000" => 8000,
            other => {
                return Err(End::Error(
                    10163,
                    format!("param validate error: format {other:?}"),
                ));
            }
        };
        let vad_eos = business
            .get("vad_eos")
            .and_then(Value::as_u64)
            .unwrap_or(2000);
        self.detector = EnergyDetector::new(self.rate, vad_eos.clamp(1000, 10_000) as u32);
        self.wpgs = business.get("dwa").and_then(Value::as_str) == Some("wpgs");
        self.shared.log(|l| l.business.push(business));
        self.started = true;
        Ok(())
    }

    fn words(&self) -> &[String] {
        &self.shared.script.words
    }

    fn result(&mut self, status: u8, words: &[String], replace_all: bool) -> Value {
        self.sn += 1;
        let ws: Vec<Value> = words
            .iter()
            .map(|w| json!({"bg": 0, "cw": [{"sc": 0, "w": w}]}))
            .collect();
        let mut result = json!({"sn": self.sn, "ls": status == 2, "bg": 0, "ed": 0, "ws": ws});
        if self.wpgs {
            if replace_all && self.sn > 1 {
                result["pgs"] = "rpl".into();
                result["rg"] = json!([1, self.sn - 1]);
            } else {
                result["pgs"] = "apd".into();
            }
        }
        let mut frame =
            json!({"code": 0, "message": "success", "data": {"status": status, "result": result}});
        if !self.sent_first {
            self.sent_first = true;
            frame["sid"] = self.sid.clone().into();
        }
        frame
    }

    async fn interim(&mut self) -> Result<(), End> {
        let total = self.words().len();
        let k = ((self.detector.speech_ms / INTERIM_EVERY_MS) as usize).min(total);
        let frame = if self.wpgs {
            // Dynamic correction: each interim rewrites everything so far.
            let words = self.words()[..k].to_vec();
            let status = if self.sn == 0 { 0 } else { 1 };
            self.result(status, &words, true)
        } else {
            if k <= self.words_sent {
                return Ok(());
            }
            let words = self.words()[self.words_sent..k].to_vec();
            self.words_sent = k;
            let status = if self.sn == 0 { 0 } else { 1 };
            self.result(status, &words, false)
        };
        let _ = self.ws.send(Message::text(frame.to_string())).await;
        if let Fault::ErrorMidStream(code, message) = &self.shared.script.fault {
            return Err(End::Error(*code, message.clone()));
        }
        Ok(())
    }

    async fn finish(&mut self) -> End {
        if let Fault::Delay(d) = self.shared.script.fault {
            tokio::time::sleep(d).await;
        }
        let heard = self.detector.in_speech || self.detector.ended;
        let frame = if !heard {
            self.result(2, &[], false)
        } else if self.wpgs {
            let words = self.words().to_vec();
            self.result(2, &words, true)
        } else {
            let words = self.words()[self.words_sent..].to_vec();
            self.words_sent = self.words().len();
            self.result(2, &words, false)
        };
        self.shared.log(|l| l.finals_sent.push(Instant::now()));
        let _ = self.ws.send(Message::text(frame.to_string())).await;
        End::Done
    }
}

/// How long the emulator waits between frames before error 10200 (documented: 10 s).
pub const IDLE: Duration = Duration::from_secs(10);
