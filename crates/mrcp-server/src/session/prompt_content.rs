//! What a SPEAK asks to be spoken (RFC 6787 §8.8): `text/plain`, SSML, or a `text/uri-list` of prompts, with
//! the recordings its SSML `<audio src>` elements name.
//!
//! Absolute `src` URIs (or relative ones under an `xml:base`) are fetched by the server under the `[fetch]`
//! policy, decoded, and handed to the engine as [`PromptAudio`] at its rate; relative ones without a base are
//! left to the engine (the prompt-file engine plays them from its directory). An `<audio>` whose recording
//! cannot be fetched plays its fallback content (SSML 1.0 §3.3.1); one with no fallback ends the SPEAK with
//! Completion-Cause 003 uri-failure and the URI in Failed-URI. A `text/uri-list` names recordings and SSML
//! documents, played in order.

use std::collections::HashMap;
use std::io::Cursor;
use std::time::Duration;

use mrcp_media::codec::SampleRate;
use mrcp_media::resample::StreamResampler;
use mrcp_media::wav::WavAudio;
use mrcp_proto::mrcp::Message;
use mrcp_proto::mrcp::header::SynthesizerCause;
use mrcp_proto::ssml::{self, Audio, Context, Document, Limits, Node, Segment};
use tts_adapters::{PromptAudio, SynthesisRequest};

use crate::fetch::{FetchError, Fetched};

/// Why a SPEAK's content cannot be spoken.
#[derive(Debug, Clone)]
pub(crate) struct ContentFailure {
    /// The SPEAK-COMPLETE cause.
    pub(crate) cause: SynthesizerCause,
    /// Completion-Reason, for the operator.
    pub(crate) reason: String,
    /// Failed-URI (§8.4.14), when a fetch failed.
    pub(crate) failed_uri: Option<String>,
}

impl ContentFailure {
    fn parse(reason: impl Into<String>) -> Self {
        Self {
            cause: SynthesizerCause::ParseFailure,
            reason: reason.into(),
            failed_uri: None,
        }
    }

    fn uri(uri: &str, reason: impl Into<String>) -> Self {
        Self {
            cause: SynthesizerCause::UriFailure,
            reason: reason.into(),
            failed_uri: Some(uri.to_owned()),
        }
    }
}

/// The documents fetched for a SPEAK, by URI.
pub(crate) type FetchedPrompts = HashMap<String, Result<Fetched, FetchError>>;

/// A SPEAK's content, ready for an engine once the recordings are brought to its rate.
#[derive(Debug, Clone)]
pub(crate) struct SpeakContent {
    /// The engine request (its `audio` is filled by [`SpeakContent::for_engine`]).
    pub(crate) request: SynthesisRequest,
    /// The fetched recordings by `src` as written, at their own rate.
    recordings: Vec<(String, WavAudio)>,
}

impl SpeakContent {
    /// The engine request with the recordings resampled to `engine_rate`.
    pub(crate) fn for_engine(&self, engine_rate: u32) -> Result<SynthesisRequest, ContentFailure> {
        let mut request = self.request.clone();
        for (src, recording) in &self.recordings {
            let samples = resample(recording, SampleRate(engine_rate))
                .map_err(|reason| ContentFailure::uri(src, reason))?;
            request.audio.push(PromptAudio {
                src: src.clone(),
                samples: samples.into(),
            });
        }
        Ok(request)
    }
}

/// The URIs to fetch before the SPEAK can be prepared; empty when none (or when the body is malformed, which
/// [`content`] then reports).
pub(crate) fn uris_to_fetch(request: &Message) -> Vec<String> {
    let Ok(body) = std::str::from_utf8(&request.body) else {
        return Vec::new();
    };
    match media_type(request).as_str() {
        "text/uri-list" => uri_list(body),
        t if ssml::is_ssml_media_type(t) => match ssml::parse(body) {
            Ok(document) => audio_elements(&document)
                .into_iter()
                .filter_map(|(_, uri, _)| uri)
                .collect(),
            Err(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The content of a SPEAK, with the documents fetched for it.
pub(crate) fn content(
    request: &Message,
    fetched: &FetchedPrompts,
) -> Result<SpeakContent, ContentFailure> {
    let body = std::str::from_utf8(&request.body)
        .map_err(|_| ContentFailure::parse("the SPEAK body is not UTF-8"))?;
    if body.trim().is_empty() {
        return Err(ContentFailure::parse("the SPEAK has no content"));
    }
    let media_type = media_type(request);
    let document = if ssml::is_ssml_media_type(&media_type) {
        ssml::parse(body).map_err(|e| ContentFailure::parse(e.to_string()))?
    } else if media_type == "text/plain" {
        return Ok(SpeakContent {
            request: SynthesisRequest::text(body),
            recordings: Vec::new(),
        });
    } else if media_type == "text/uri-list" {
        document_of_uri_list(body, fetched)?
    } else {
        return Err(ContentFailure::parse(format!(
            "unsupported content type {media_type:?}"
        )));
    };
    let mut recordings = Vec::new();
    for (src, uri, has_fallback) in audio_elements(&document) {
        let Some(uri) = uri else { continue };
        let outcome = match fetched.get(&uri) {
            Some(Ok(document)) => decode(document),
            Some(Err(error)) => Err(error.to_string()),
            None => Err(format!("{uri} was not fetched")),
        };
        match outcome {
            Ok(recording) => recordings.push((src, recording)),
            Err(reason) if has_fallback => {
                tracing::debug!(%uri, reason, "playing the <audio> fallback content");
            }
            Err(reason) => return Err(ContentFailure::uri(&uri, reason)),
        }
    }
    Ok(SpeakContent {
        request: SynthesisRequest::ssml(document),
        recordings,
    })
}

fn media_type(request: &Message) -> String {
    let content_type = request.content_type().unwrap_or("text/plain");
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The URIs of a `text/uri-list` (RFC 2483 §5: one per line, `#` starts a comment).
fn uri_list(body: &str) -> Vec<String> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// One SSML document that plays a `text/uri-list` in order: recordings as `<audio>`, SSML documents inline.
fn document_of_uri_list(body: &str, fetched: &FetchedPrompts) -> Result<Document, ContentFailure> {
    let mut document = Document::default();
    for uri in uri_list(body) {
        let prompt = match fetched.get(&uri) {
            Some(Ok(prompt)) => prompt,
            Some(Err(error)) => return Err(ContentFailure::uri(&uri, error.to_string())),
            None => return Err(ContentFailure::uri(&uri, format!("{uri} was not fetched"))),
        };
        if is_ssml(prompt) {
            let text = std::str::from_utf8(&prompt.body)
                .map_err(|_| ContentFailure::parse(format!("{uri} is not UTF-8")))?;
            let inner =
                ssml::parse(text).map_err(|e| ContentFailure::parse(format!("{uri}: {e}")))?;
            if document.lang.is_none() {
                document.lang = inner.lang;
            }
            document.children.extend(inner.children);
        } else {
            document.children.push(Node::Audio(Audio {
                src: uri,
                children: Vec::new(),
            }));
        }
    }
    Ok(document)
}

fn is_ssml(prompt: &Fetched) -> bool {
    let declared = prompt
        .content_type
        .as_deref()
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    match declared.as_deref() {
        Some(t) if ssml::is_ssml_media_type(t) => true,
        Some(t) if t.starts_with("audio/") => false,
        _ => {
            let start = prompt.body.trim_ascii_start();
            start.starts_with(b"<?xml") || start.starts_with(b"<speak")
        }
    }
}

/// Every `<audio>` of a document, in order, as (`src` as written, the URI to fetch if the server fetches it,
/// whether it has fallback content).
fn audio_elements(document: &Document) -> Vec<(String, Option<String>, bool)> {
    // Segments are the document flattened in speaking order, fallbacks included; limits are the parser's.
    let Ok(segments) = ssml::segments(document, &Context::default(), &Limits::default()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect_audio(&segments, document.base.as_deref(), &mut found);
    found
}

fn collect_audio(
    segments: &[Segment],
    base: Option<&str>,
    found: &mut Vec<(String, Option<String>, bool)>,
) {
    for segment in segments {
        if let Segment::Audio { src, fallback } = segment {
            let uri = fetchable(src, base);
            if !found.iter().any(|(s, _, _)| s == src) {
                found.push((src.clone(), uri, !fallback.is_empty()));
            }
            collect_audio(fallback, base, found);
        }
    }
}

/// The absolute URI the server fetches for `src`: an absolute URI, or a relative one under `xml:base`.
fn fetchable(src: &str, base: Option<&str>) -> Option<String> {
    match url::Url::parse(src) {
        Ok(absolute) => Some(absolute.to_string()),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let base = url::Url::parse(base?).ok()?;
            base.join(src).ok().map(|u| u.to_string())
        }
        Err(_) => None,
    }
}

/// A fetched recording: WAV (16-bit PCM, any rate) or `audio/basic` (8 kHz μ-law).
fn decode(prompt: &Fetched) -> Result<WavAudio, String> {
    if prompt.body.starts_with(b"RIFF") {
        return WavAudio::read_from(Cursor::new(&prompt.body[..]))
            .map_err(|e| format!("{} is not a playable WAV: {e}", prompt.uri));
    }
    let declared = prompt
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    if declared.starts_with("audio/basic") || declared.starts_with("audio/pcmu") {
        let mut samples = Vec::with_capacity(prompt.body.len());
        mrcp_proto::rtp::g711::decode_ulaw(&prompt.body, &mut samples);
        return Ok(WavAudio {
            rate: SampleRate(8_000),
            samples,
        });
    }
    Err(format!(
        "{} is not a recording this server plays (WAV or audio/basic)",
        prompt.uri
    ))
}

fn resample(recording: &WavAudio, to: SampleRate) -> Result<Vec<i16>, String> {
    if recording.rate == to {
        return Ok(recording.samples.clone());
    }
    let mut resampler = StreamResampler::new(recording.rate, to, Duration::from_millis(20))
        .map_err(|e| format!("cannot resample the recording: {e}"))?;
    let mut out = Vec::with_capacity(recording.samples.len());
    resampler
        .process(&recording.samples, &mut out)
        .and_then(|()| resampler.flush(&mut out))
        .map_err(|e| format!("cannot resample the recording: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests;
