//! What the HTTP speech adapters (OpenAI, Deepgram) share: the prompt cut into requests the vendor takes
//! (text up to its length limit, with SSML breaks and marks between), the streamed response body cut into
//! 20 ms PCM frames as it arrives (a WAV header skipped), HTTP failures mapped to [`EngineError`]s with the
//! vendor's message, and 429/503 retried with [`RetryPolicy`].

use std::time::Duration;

use asr_adapters::net::kind_of_status;
use futures_util::StreamExt;
use mrcp_proto::engine::{EngineError, EngineErrorKind, RetryPolicy, Secret};
use mrcp_proto::ssml::{Limits, Segment};
use tokio::sync::mpsc;

use crate::{SynthesisEvent, SynthesisFailure, SynthesisRequest};

/// One step of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    /// Text for one request.
    Text(String),
    /// Silence.
    Break(Duration),
    /// A mark, reported once the audio before it is out.
    Mark(String),
}

/// The prompt as parts, text joined up to `max_chars` per request and cut at sentence ends, or spaces, when
/// longer.
pub(crate) fn parts(
    request: &SynthesisRequest,
    max_chars: usize,
    engine: &str,
) -> Result<Vec<Part>, EngineError> {
    let segments = request.segments(&Limits::default()).map_err(|e| {
        SynthesisFailure::ParseFailure.error(engine, EngineErrorKind::BadRequest, e.to_string())
    })?;
    let mut out = Vec::new();
    let mut text = String::new();
    flatten(&segments, &mut out, &mut text, max_chars);
    push_text(&mut out, &mut text, max_chars);
    Ok(out)
}

fn flatten(segments: &[Segment], out: &mut Vec<Part>, text: &mut String, max: usize) {
    for segment in segments {
        match segment {
            Segment::Speech(speech) => {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(&speech.text);
            }
            Segment::Break(d) => {
                push_text(out, text, max);
                out.push(Part::Break(*d));
            }
            Segment::Mark(name) => {
                push_text(out, text, max);
                out.push(Part::Mark(name.clone()));
            }
            // Recordings are not fetched by a cloud engine: their fallback text is spoken.
            Segment::Audio { fallback, .. } => flatten(fallback, out, text, max),
        }
    }
}

fn push_text(out: &mut Vec<Part>, text: &mut String, max: usize) {
    let mut rest = text.trim();
    while !rest.is_empty() {
        if rest.chars().count() <= max {
            out.push(Part::Text(rest.to_owned()));
            break;
        }
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let head = &rest[..limit];
        let cut = head
            .rfind(['.', '!', '?', '。'])
            .map(|i| i + head[i..].chars().next().map_or(1, char::len_utf8))
            .or_else(|| head.rfind(' '))
            .filter(|&i| i > 0)
            .unwrap_or(limit);
        out.push(Part::Text(rest[..cut].trim().to_owned()));
        rest = rest[cut..].trim_start();
    }
    text.clear();
}

/// Cuts a byte stream of 16-bit little-endian PCM into frames of `frame` samples, skipping a RIFF/WAV
/// header when the body starts with one.
#[derive(Debug)]
pub(crate) struct PcmFramer {
    frame: usize,
    head: Vec<u8>,
    /// Bytes of header still to skip; `None` until the start of the body has been seen.
    skip: Option<usize>,
    odd: Option<u8>,
    samples: Vec<i16>,
}

/// The most header bytes looked through for the `data` chunk.
const MAX_WAV_HEADER: usize = 4096;

impl PcmFramer {
    pub(crate) fn new(frame: usize) -> Self {
        Self {
            frame,
            head: Vec::new(),
            skip: None,
            odd: None,
            samples: Vec::with_capacity(frame),
        }
    }

    /// Takes the next bytes; full frames go to `out`.
    pub(crate) fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Vec<i16>>) {
        if self.skip.is_none() {
            self.head.extend_from_slice(bytes);
            if self.head.len() < 12 {
                return;
            }
            if !self.head.starts_with(b"RIFF") {
                self.skip = Some(0);
            } else {
                match wav_data_offset(&self.head) {
                    Some(offset) => self.skip = Some(offset),
                    None if self.head.len() > MAX_WAV_HEADER => self.skip = Some(self.head.len()),
                    None => return,
                }
            }
            let head = std::mem::take(&mut self.head);
            let skip = self.skip.unwrap_or(0).min(head.len());
            self.skip = Some(0);
            self.samples_from(&head[skip..], out);
            return;
        }
        if let Some(first) = self.odd.take() {
            if let Some((&second, rest)) = bytes.split_first() {
                self.sample(i16::from_le_bytes([first, second]), out);
                bytes = rest;
            } else {
                self.odd = Some(first);
                return;
            }
        }
        self.samples_from(bytes, out);
    }

    fn samples_from(&mut self, bytes: &[u8], out: &mut Vec<Vec<i16>>) {
        let mut pairs = bytes.chunks_exact(2);
        for pair in &mut pairs {
            self.sample(i16::from_le_bytes([pair[0], pair[1]]), out);
        }
        self.odd = pairs.remainder().first().copied();
    }

    fn sample(&mut self, s: i16, out: &mut Vec<Vec<i16>>) {
        self.samples.push(s);
        if self.samples.len() == self.frame {
            out.push(std::mem::replace(
                &mut self.samples,
                Vec::with_capacity(self.frame),
            ));
        }
    }

    /// What is left at the end of the body (a short last frame), if anything.
    pub(crate) fn finish(&mut self, out: &mut Vec<Vec<i16>>) {
        if self.skip.is_none() {
            let head = std::mem::take(&mut self.head);
            self.skip = Some(0);
            self.samples_from(&head, out);
        }
        if !self.samples.is_empty() {
            out.push(std::mem::take(&mut self.samples));
        }
    }
}

/// Where the samples of a WAV file start: after the header of the `data` chunk.
fn wav_data_offset(head: &[u8]) -> Option<usize> {
    let mut at = 12;
    while at + 8 <= head.len() {
        let id = head.get(at..at + 4)?;
        let len = u32::from_le_bytes(head.get(at + 4..at + 8)?.try_into().ok()?) as usize;
        if id == b"data" {
            return Some(at + 8);
        }
        at = at.checked_add(8)?.checked_add(len + (len & 1))?;
    }
    None
}

/// How one adapter makes its requests.
pub(crate) struct HttpSpeech {
    pub(crate) name: String,
    pub(crate) api_key: Option<Secret>,
    pub(crate) retry: RetryPolicy,
    pub(crate) sample_rate: u32,
    /// Builds the request for one text part (called again for each retry).
    pub(crate) request: Box<dyn Fn(&str) -> reqwest::RequestBuilder + Send + Sync>,
    /// Reads the vendor's message out of an error body.
    pub(crate) error_message: fn(&str) -> String,
}

impl HttpSpeech {
    fn error(&self, kind: EngineErrorKind, detail: String) -> EngineError {
        let mut text = detail;
        if let Some(key) = &self.api_key
            && !key.expose().is_empty()
        {
            text = text.replace(key.expose(), "<redacted>");
        }
        if text.len() > 300 {
            let mut end = 300;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        EngineError::new(&self.name, kind, text)
    }

    fn transport(&self, e: &reqwest::Error) -> EngineError {
        let kind = if e.is_timeout() {
            EngineErrorKind::Timeout
        } else {
            EngineErrorKind::Unavailable
        };
        let what = if e.is_connect() {
            "cannot connect"
        } else if e.is_timeout() {
            "timed out"
        } else {
            "connection lost"
        };
        let cause = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        self.error(
            kind,
            format!("{what}: {cause}").trim_end_matches(": ").to_owned(),
        )
    }

    /// Speaks every part in order into `sink`, then [`SynthesisEvent::Done`]. Returns when done, failed, or
    /// the server dropped the stream.
    pub(crate) async fn run(
        &self,
        parts: Vec<Part>,
        sink: &mpsc::Sender<Result<SynthesisEvent, EngineError>>,
    ) {
        let frame = self.sample_rate as usize / 50;
        for part in parts {
            let sent = match part {
                Part::Text(text) => self.speak(&text, frame, sink).await,
                Part::Break(d) => {
                    let mut samples =
                        (d.as_millis() as usize).saturating_mul(self.sample_rate as usize) / 1000;
                    let mut ok = true;
                    while samples > 0 && ok {
                        let n = samples.min(frame);
                        ok = sink
                            .send(Ok(SynthesisEvent::Audio(vec![0; n])))
                            .await
                            .is_ok();
                        samples -= n;
                    }
                    ok
                }
                Part::Mark(name) => sink.send(Ok(SynthesisEvent::Mark(name))).await.is_ok(),
            };
            if !sent {
                return;
            }
        }
        let _ = sink.send(Ok(SynthesisEvent::Done)).await;
    }

    /// One request, streamed into frames as the body arrives; false when the synthesis is over (failed or
    /// cancelled).
    async fn speak(
        &self,
        text: &str,
        frame: usize,
        sink: &mpsc::Sender<Result<SynthesisEvent, EngineError>>,
    ) -> bool {
        let mut retry = 0;
        let response = loop {
            let response = match (self.request)(text).send().await {
                Ok(r) => r,
                Err(e) => {
                    let _ = sink.send(Err(self.transport(&e))).await;
                    return false;
                }
            };
            let status = response.status().as_u16();
            if response.status().is_success() {
                break response;
            }
            let asked = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response.text().await.unwrap_or_default();
            retry += 1;
            if matches!(status, 429 | 503)
                && let Some(wait) = self.retry.delay(retry, asked, rand::random::<f64>())
            {
                tokio::time::sleep(wait).await;
                continue;
            }
            let message = (self.error_message)(&body);
            let detail = if message.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {}", message.trim())
            };
            let _ = sink
                .send(Err(self.error(kind_of_status(status), detail)))
                .await;
            return false;
        };
        let mut framer = PcmFramer::new(frame);
        let mut body = response.bytes_stream();
        let mut frames = Vec::new();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => framer.push(&bytes, &mut frames),
                Err(e) => {
                    let _ = sink.send(Err(self.transport(&e))).await;
                    return false;
                }
            }
            for f in frames.drain(..) {
                if sink.send(Ok(SynthesisEvent::Audio(f))).await.is_err() {
                    return false;
                }
            }
        }
        framer.finish(&mut frames);
        for f in frames.drain(..) {
            if sink.send(Ok(SynthesisEvent::Audio(f))).await.is_err() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_sentence_ends() {
        let request = SynthesisRequest::text("One two. Three four five. Six.");
        let got = parts(&request, 12, "e").expect("parts");
        assert_eq!(
            got,
            vec![
                Part::Text("One two.".into()),
                Part::Text("Three four".into()),
                Part::Text("five. Six.".into())
            ]
        );
    }

    #[test]
    fn ssml_marks_and_breaks_sit_between_requests() {
        let doc = mrcp_proto::ssml::parse(
            r#"<speak>Hello <mark name="m"/> world <break time="100ms"/> bye</speak>"#,
        )
        .expect("ssml");
        let got = parts(&SynthesisRequest::ssml(doc), 100, "e").expect("parts");
        assert_eq!(
            got,
            vec![
                Part::Text("Hello".into()),
                Part::Mark("m".into()),
                Part::Text("world".into()),
                Part::Break(Duration::from_millis(100)),
                Part::Text("bye".into())
            ]
        );
    }

    #[test]
    fn frames_come_out_whatever_the_chunking_and_wav_headers_are_skipped() {
        let samples: Vec<i16> = (0..25).map(|i| i * 100 - 1000).collect();
        let raw: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF\0\0\0\0WAVEfmt ");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&[1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]);
        wav.extend_from_slice(b"LIST");
        wav.extend_from_slice(&3u32.to_le_bytes());
        wav.extend_from_slice(&[1, 2, 3, 0]);
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        wav.extend_from_slice(&raw);
        for body in [raw.clone(), wav] {
            for chunk in [1, 3, 7, 1000] {
                let mut framer = PcmFramer::new(10);
                let mut frames = Vec::new();
                for piece in body.chunks(chunk) {
                    framer.push(piece, &mut frames);
                }
                framer.finish(&mut frames);
                assert_eq!(frames.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
                assert_eq!(frames.concat(), samples, "chunk {chunk}");
            }
        }
    }
}
