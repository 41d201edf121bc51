//! The task that runs one synthesis as one HTTP POST (`docs/engine-ws.md` §4), streaming the body as it
//! arrives.

use std::sync::Arc;

use mrcp_proto::engine::{EngineError, EngineErrorKind};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tokio::sync::mpsc;

use super::message::{self, HttpAudio, Pcm};
use super::{EngineWsTtsConfig, Framer, connect, millis};
use crate::espeak::WavStream;
use crate::{SynthesisEvent, SynthesisRequest, SynthesisSink};

type Events = mpsc::Sender<Result<SynthesisEvent, EngineError>>;

/// The most of an error body read for its message.
const MAX_ERROR_BODY: usize = 4096;

/// One synthesis to run.
pub(super) struct Job {
    pub(super) engine: String,
    pub(super) config: Arc<EngineWsTtsConfig>,
    pub(super) client: reqwest::Client,
    pub(super) request: SynthesisRequest,
}

/// How the body's bytes become samples.
enum Decoder {
    L16(Pcm),
    Wav(WavStream),
}

impl Job {
    pub(super) async fn run(self, sink: SynthesisSink) {
        let events = sink.events;
        // Dropping the request future drops the connection: that is the cancel.
        let result = tokio::select! {
            biased;
            () = events.closed() => return,
            result = self.fetch(&events) => result,
        };
        if let Err(error) = result {
            let _ = events.send(Err(error)).await;
        }
    }

    fn error(&self, kind: EngineErrorKind, message: impl Into<String>) -> EngineError {
        EngineError::new(self.engine.clone(), kind, message)
    }

    fn transport(&self, e: reqwest::Error) -> EngineError {
        let shown = connect::redacted(&self.config.url);
        let kind = if e.is_timeout() {
            EngineErrorKind::Timeout
        } else {
            EngineErrorKind::Unavailable
        };
        // `without_url`: the URL's query may hold a key.
        self.error(kind, format!("HTTP to {shown} failed: {}", e.without_url()))
    }

    async fn chunk(
        &self,
        response: &mut reqwest::Response,
    ) -> Result<Option<bytes::Bytes>, EngineError> {
        match tokio::time::timeout(self.config.result_timeout, response.chunk()).await {
            Err(_) => Err(self.error(
                EngineErrorKind::Timeout,
                format!(
                    "engine sent nothing for {} ms",
                    millis(self.config.result_timeout)
                ),
            )),
            Ok(Err(e)) => Err(self.transport(e)),
            Ok(Ok(chunk)) => Ok(chunk),
        }
    }

    async fn fetch(&self, events: &Events) -> Result<(), EngineError> {
        let body = message::http_body(
            &self.request,
            &self.config.language,
            self.config.sample_rate,
        );
        let mut post = self
            .client
            .post(&self.config.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "audio/l16, audio/wav")
            .body(body);
        if let Some(secret) = &self.config.credential {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", secret.expose())).map_err(|_| {
                    self.error(
                        EngineErrorKind::BadRequest,
                        "the credential holds characters an HTTP header cannot carry",
                    )
                })?;
            value.set_sensitive(true);
            post = post.header(AUTHORIZATION, value);
        }
        let wait = self.config.connect_timeout + self.config.result_timeout;
        let mut response = match tokio::time::timeout(wait, post.send()).await {
            Err(_) => {
                return Err(self.error(
                    EngineErrorKind::Timeout,
                    format!("no HTTP response within {} ms", millis(wait)),
                ));
            }
            Ok(Err(e)) => return Err(self.transport(e)),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let mut text = Vec::new();
            while text.len() < MAX_ERROR_BODY {
                match self.chunk(&mut response).await {
                    Ok(Some(chunk)) => text.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            text.truncate(MAX_ERROR_BODY);
            let (kind, message) = message::http_error(status, &text);
            return Err(self.error(kind, message));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut decoder = match message::http_audio(&content_type) {
            Some(HttpAudio::L16(rate)) => {
                let rate = rate.unwrap_or(self.config.sample_rate);
                self.check_rate(rate)?;
                Decoder::L16(Pcm::default())
            }
            Some(HttpAudio::Wav) => Decoder::Wav(WavStream::default()),
            None => {
                return Err(self.error(
                    EngineErrorKind::BadRequest,
                    format!(
                        "engine answered {content_type:?}: engine-ws takes audio/l16 or audio/wav"
                    ),
                ));
            }
        };
        let mut framer = Framer::new(self.config.sample_rate);
        let mut samples = Vec::new();
        while let Some(chunk) = self.chunk(&mut response).await? {
            samples.clear();
            match &mut decoder {
                Decoder::L16(pcm) => pcm.push(&chunk, &mut samples),
                Decoder::Wav(wav) => {
                    wav.push(&chunk, &mut samples).map_err(|e| {
                        self.error(EngineErrorKind::BadRequest, format!("engine's WAV: {e}"))
                    })?;
                    if let Some(rate) = wav.sample_rate() {
                        self.check_rate(rate)?;
                    }
                }
            }
            for frame in framer.frames(&samples) {
                if events.send(Ok(SynthesisEvent::Audio(frame))).await.is_err() {
                    return Ok(());
                }
            }
        }
        if let Decoder::Wav(wav) = &decoder
            && !wav.in_data()
        {
            return Err(self.error(
                EngineErrorKind::BadRequest,
                "engine's WAV ended before its data",
            ));
        }
        for event in framer
            .flush()
            .map(SynthesisEvent::Audio)
            .into_iter()
            .chain([SynthesisEvent::Done])
        {
            if events.send(Ok(event)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    fn check_rate(&self, rate: u32) -> Result<(), EngineError> {
        if rate == self.config.sample_rate {
            return Ok(());
        }
        Err(self.error(
            EngineErrorKind::BadRequest,
            format!(
                "engine sends {rate} Hz audio; {} Hz was asked",
                self.config.sample_rate
            ),
        ))
    }
}
