//! Microsoft Azure text to speech over REST, streamed as it arrives.
//!
//! Per SPEAK: `POST {endpoint}/cognitiveservices/v1` (`https://{region}.tts.speech.microsoft.com`) with
//! `Ocp-Apim-Subscription-Key` (or `Authorization: Bearer`), `Content-Type: application/ssml+xml`,
//! `X-Microsoft-OutputFormat: raw-8khz-8bit-mono-mulaw` (telephone audio as is) or
//! `raw-16khz-16bit-mono-pcm`, and an SSML body built from the prompt's segments ([`ssml`]). The response
//! body is decoded chunk by chunk into 20 ms frames of PCM as it arrives. A prompt with `<mark>`s is one
//! request per part, with [`SynthesisEvent::Mark`] between them (REST reports no bookmarks).
//!
//! Followed: Microsoft's "Text to speech REST API" reference (endpoint, headers, output formats; errors 400
//! bad request, 401 unauthorized, 415 unsupported media type, 429 too many requests, 502 bad gateway) and
//! the SSML reference. The audio of one request is at most 10 minutes.
//!
//! Failures: 401/403 → [`EngineErrorKind::Auth`]; 400/415 → [`EngineErrorKind::BadRequest`]; 429/502/503
//! retried with [`RetryPolicy`] (honouring `Retry-After`), then [`EngineErrorKind::Unavailable`]; a body that
//! breaks off → [`EngineErrorKind::Unavailable`] with the transport's reason (the server answers
//! SPEAK-COMPLETE 004); no response or no next chunk within `read_timeout` → [`EngineErrorKind::Timeout`].

pub mod ssml;

use std::time::Duration;

pub use asr_adapters::azure::AzureAuth;
use futures_util::StreamExt;
use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy};
use mrcp_proto::ssml::{Limits, VoiceSelection};
use tracing::{debug, warn};

use crate::{
    SynthesisEvent, SynthesisRequest, SynthesisSink, SynthesisStream, Synthesizer,
    SynthesizerCapabilities, VoiceInfo, synthesis_channel,
};
use ssml::Part;

/// The audio format asked for (`X-Microsoft-OutputFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// `raw-8khz-8bit-mono-mulaw`: G.711 μ-law at 8 kHz, what PCMU calls carry.
    #[default]
    Mulaw8k,
    /// `raw-16khz-16bit-mono-pcm`: little-endian 16-bit PCM at 16 kHz.
    Pcm16k,
}

impl OutputFormat {
    /// The header value.
    pub const fn header(self) -> &'static str {
        match self {
            Self::Mulaw8k => "raw-8khz-8bit-mono-mulaw",
            Self::Pcm16k => "raw-16khz-16bit-mono-pcm",
        }
    }

    /// The sample rate of the decoded PCM.
    pub const fn sample_rate(self) -> u32 {
        match self {
            Self::Mulaw8k => 8000,
            Self::Pcm16k => 16_000,
        }
    }
}

/// An Azure TTS synthesizer's configuration (`[engines.<name>] kind = "azure"` in the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureTtsConfig {
    /// `https://{region}.tts.speech.microsoft.com` (see [`AzureTtsConfig::region_endpoint`]), or a private
    /// endpoint or emulator.
    pub endpoint: String,
    /// The credential.
    pub auth: AzureAuth,
    /// The audio format.
    pub output_format: OutputFormat,
    /// The voice when the request names none.
    pub default_voice: String,
    /// The language when the request and the SSML name none.
    pub default_language: String,
    /// The longest wait for the response head, and then for each next chunk of audio.
    pub read_timeout: Duration,
    /// The longest the TCP and TLS connection may take.
    pub connect_timeout: Duration,
    /// Retries after 429, 502 and 503.
    pub retry: RetryPolicy,
}

impl AzureTtsConfig {
    /// The public endpoint of a region.
    pub fn region_endpoint(region: &str) -> String {
        format!("https://{region}.tts.speech.microsoft.com")
    }

    /// A configuration with the defaults: μ-law 8 kHz, `en-US-AvaMultilingualNeural`, `en-US`, 5 s
    /// timeouts, the default retry policy.
    pub fn new(endpoint: impl Into<String>, auth: AzureAuth) -> Self {
        Self {
            endpoint: endpoint.into(),
            auth,
            output_format: OutputFormat::default(),
            default_voice: "en-US-AvaMultilingualNeural".to_owned(),
            default_language: "en-US".to_owned(),
            read_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

/// The Azure TTS synthesizer.
#[derive(Debug, Clone)]
pub struct AzureSynthesizer {
    name: String,
    config: AzureTtsConfig,
    client: reqwest::Client,
    capabilities: SynthesizerCapabilities,
}

impl AzureSynthesizer {
    /// A synthesizer named `name`.
    pub fn new(name: impl Into<String>, config: AzureTtsConfig) -> Result<Self, EngineError> {
        let name = name.into();
        if !(config.endpoint.starts_with("https://") || config.endpoint.starts_with("http://")) {
            return Err(EngineError::new(
                &name,
                EngineErrorKind::BadRequest,
                format!("endpoint {:?} is not an http(s) URL", config.endpoint),
            ));
        }
        let client = asr_adapters::net::http_client(&name, config.connect_timeout)?;
        Ok(Self {
            capabilities: SynthesizerCapabilities {
                sample_rate: config.output_format.sample_rate(),
                languages: vec![config.default_language.to_ascii_lowercase()],
                voices: vec![VoiceInfo {
                    name: config.default_voice.clone(),
                    languages: vec![config.default_language.to_ascii_lowercase()],
                    gender: None,
                    age: None,
                    description: "Azure neural voice (any Azure voice name is accepted)".to_owned(),
                }],
                reports_marks: true,
                takes_lexicons: false,
            },
            name,
            config,
            client,
        })
    }
}

impl Synthesizer for AzureSynthesizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        let segments = request.segments(&Limits::default()).map_err(|e| {
            crate::SynthesisFailure::ParseFailure.error(
                &self.name,
                EngineErrorKind::BadRequest,
                e.to_string(),
            )
        })?;
        let (stream, sink) = synthesis_channel();
        let job = Job {
            name: self.name.clone(),
            config: self.config.clone(),
            client: self.client.clone(),
            voice: request.voice,
        };
        tokio::spawn(job.run(ssml::parts(segments), sink));
        Ok(stream)
    }
}

struct Job {
    name: String,
    config: AzureTtsConfig,
    client: reqwest::Client,
    voice: VoiceSelection,
}

impl Job {
    fn error(&self, kind: EngineErrorKind, message: impl Into<String>) -> EngineError {
        EngineError::new(&self.name, kind, message)
    }

    async fn run(self, parts: Vec<Part>, sink: SynthesisSink) {
        let events = sink.events.clone();
        let work = async {
            for part in parts {
                match part {
                    Part::Mark(name) => {
                        if events.send(Ok(SynthesisEvent::Mark(name))).await.is_err() {
                            return Ok(());
                        }
                    }
                    Part::Request(segments) => {
                        let voice = self
                            .voice
                            .name
                            .as_deref()
                            .and_then(|n| n.split_whitespace().next())
                            .unwrap_or(&self.config.default_voice);
                        let body =
                            ssml::request_body(&segments, voice, &self.config.default_language);
                        if !self.speak(body, &sink).await? {
                            return Ok(());
                        }
                    }
                }
            }
            let _ = events.send(Ok(SynthesisEvent::Done)).await;
            Ok::<(), EngineError>(())
        };
        tokio::select! {
            result = work => if let Err(error) = result {
                warn!(engine = %self.name, %error, "azure synthesis failed");
                let _ = sink.events.send(Err(error)).await;
            },
            // Dropping the work future drops the HTTP response, which closes the connection.
            () = events.closed() => debug!(engine = %self.name, "azure synthesis cancelled"),
        }
    }

    /// One request; `Ok(false)` when the server cancelled.
    async fn speak(&self, body: String, sink: &SynthesisSink) -> Result<bool, EngineError> {
        let response = self.post(body).await?;
        let mut stream = response.bytes_stream();
        let mut framer = Framer::new(self.config.output_format);
        loop {
            let chunk = tokio::time::timeout(self.config.read_timeout, stream.next())
                .await
                .map_err(|_| {
                    self.error(
                        EngineErrorKind::Timeout,
                        format!("azure sent no audio for {:?}", self.config.read_timeout),
                    )
                })?;
            let Some(chunk) = chunk else { break };
            let chunk = chunk.map_err(|e| {
                self.error(
                    EngineErrorKind::Unavailable,
                    format!("azure audio stream broke off: {e}"),
                )
            })?;
            for frame in framer.push(&chunk) {
                if sink
                    .events
                    .send(Ok(SynthesisEvent::Audio(frame)))
                    .await
                    .is_err()
                {
                    return Ok(false);
                }
            }
        }
        if let Some(frame) = framer.finish()
            && sink
                .events
                .send(Ok(SynthesisEvent::Audio(frame)))
                .await
                .is_err()
        {
            return Ok(false);
        }
        Ok(true)
    }

    async fn post(&self, body: String) -> Result<reqwest::Response, EngineError> {
        let url = format!(
            "{}/cognitiveservices/v1",
            self.config.endpoint.trim_end_matches('/')
        );
        let mut retry = 0;
        loop {
            let mut request = self
                .client
                .post(&url)
                .header("Content-Type", "application/ssml+xml")
                .header(
                    "X-Microsoft-OutputFormat",
                    self.config.output_format.header(),
                )
                .body(body.clone());
            request = match &self.config.auth {
                AzureAuth::SubscriptionKey(key) => {
                    request.header("Ocp-Apim-Subscription-Key", key.expose())
                }
                AzureAuth::BearerToken(token) => request.bearer_auth(token.expose()),
            };
            let sent = tokio::time::timeout(self.config.read_timeout, request.send()).await;
            let response = match sent {
                Err(_) => {
                    return Err(self.error(
                        EngineErrorKind::Timeout,
                        format!("azure did not answer within {:?}", self.config.read_timeout),
                    ));
                }
                Ok(Err(e)) => {
                    return Err(self.error(
                        EngineErrorKind::Unavailable,
                        format!("cannot reach azure at {url}: {}", e.without_url()),
                    ));
                }
                Ok(Ok(r)) => r,
            };
            let status = response.status().as_u16();
            if response.status().is_success() {
                return Ok(response);
            }
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = response.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            if matches!(status, 429 | 502 | 503) {
                retry += 1;
                if let Some(wait) = self.config.retry.delay(retry, retry_after, rand::random()) {
                    debug!(engine = %self.name, status, ?wait, "azure refused; retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let kind = match status {
                401 | 403 => EngineErrorKind::Auth,
                400 | 404 | 415 => EngineErrorKind::BadRequest,
                408 | 504 => EngineErrorKind::Timeout,
                429 | 502 | 503 => EngineErrorKind::Unavailable,
                _ => EngineErrorKind::Internal,
            };
            return Err(self.error(kind, format!("azure answered HTTP {status} {text}")));
        }
    }
}

/// Turns the body's bytes into 20 ms frames of PCM.
struct Framer {
    format: OutputFormat,
    samples: Vec<i16>,
    odd: Option<u8>,
}

impl Framer {
    fn new(format: OutputFormat) -> Self {
        Self {
            format,
            samples: Vec::new(),
            odd: None,
        }
    }

    fn frame_len(&self) -> usize {
        self.format.sample_rate() as usize / 50
    }

    fn push(&mut self, bytes: &[u8]) -> Vec<Vec<i16>> {
        match self.format {
            OutputFormat::Mulaw8k => self.samples.extend(
                bytes
                    .iter()
                    .map(|&b| mrcp_proto::rtp::g711::ulaw_to_linear(b)),
            ),
            OutputFormat::Pcm16k => {
                // A chunk may end in the middle of a sample: keep the odd byte for the next one.
                let mut iter = self.odd.take().into_iter().chain(bytes.iter().copied());
                while let Some(lo) = iter.next() {
                    match iter.next() {
                        Some(hi) => self.samples.push(i16::from_le_bytes([lo, hi])),
                        None => self.odd = Some(lo),
                    }
                }
            }
        }
        let n = self.frame_len();
        let whole = self.samples.len() / n * n;
        let rest = self.samples.split_off(whole);
        let frames = self.samples.chunks(n).map(<[i16]>::to_vec).collect();
        self.samples = rest;
        frames
    }

    fn finish(&mut self) -> Option<Vec<i16>> {
        (!self.samples.is_empty()).then(|| std::mem::take(&mut self.samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_bytes_become_20_ms_frames() {
        let mut f = Framer::new(OutputFormat::Mulaw8k);
        assert!(f.push(&[0xFF; 100]).is_empty());
        let frames = f.push(&[0xFF; 300]);
        assert_eq!(frames.len(), 2);
        assert!(
            frames
                .iter()
                .all(|fr| fr.len() == 160 && fr.iter().all(|&s| s == 0))
        );
        assert_eq!(f.finish().map(|r| r.len()), Some(80));
    }

    #[test]
    fn pcm_samples_split_across_chunks_are_joined() {
        let mut f = Framer::new(OutputFormat::Pcm16k);
        let bytes: Vec<u8> = (0..320i16).flat_map(|s| s.to_le_bytes()).collect();
        assert!(f.push(&bytes[..101]).is_empty());
        let frames = f.push(&bytes[101..]);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0], (0..320).collect::<Vec<i16>>());
    }
}
