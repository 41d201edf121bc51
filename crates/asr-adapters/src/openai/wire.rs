//! OpenAI's JSON, parsed sans-IO: the transcription response, the error envelope, and the Realtime
//! transcription events (see the module docs of [`super`] for the documentation followed).

use serde::Deserialize;

use crate::Alternative;

/// `{"error":{"message","type","param","code"}}`, the envelope of every OpenAI error (HTTP bodies and the
/// Realtime `error` event).
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: ErrorBody,
}

/// The inside of the error envelope.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<String>,
}

/// The vendor's message in an error body, or the body itself when it is not the envelope (self-hosted
/// servers answer in their own shapes).
pub(crate) fn error_message(body: &str) -> String {
    match serde_json::from_str::<ErrorEnvelope>(body) {
        Ok(envelope) => match envelope.error.code {
            Some(code) if !envelope.error.message.contains(&code) => {
                format!("{} ({code})", envelope.error.message)
            }
            _ => envelope.error.message,
        },
        Err(_) => body.to_owned(),
    }
}

/// The `json` / `verbose_json` response of `POST /v1/audio/transcriptions`.
#[derive(Debug, Deserialize)]
struct TranscriptionResponse {
    text: String,
    /// `verbose_json` (whisper): per-segment average log-probability.
    #[serde(default)]
    segments: Vec<Segment>,
    /// `include[]=logprobs` (gpt-4o transcribe models): per-token log-probabilities.
    #[serde(default)]
    logprobs: Vec<TokenLogprob>,
}

#[derive(Debug, Deserialize)]
struct Segment {
    #[serde(default)]
    avg_logprob: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenLogprob {
    #[serde(default)]
    pub(crate) logprob: Option<f64>,
}

/// The confidence a list of log-probabilities stands for: the geometric mean probability.
pub(crate) fn confidence_of(logprobs: impl Iterator<Item = f64>) -> Option<f32> {
    let (sum, n) = logprobs.fold((0.0, 0u32), |(s, n), lp| (s + lp, n + 1));
    (n > 0).then(|| (sum / f64::from(n)).exp().clamp(0.0, 1.0) as f32)
}

/// Why a transcription response could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResponseError {
    #[error("the transcription response is not the documented JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The final result of a transcription response: one alternative (the endpoint returns one), or none when
/// nothing was said. Without log-probabilities the confidence is `default_confidence`.
pub(crate) fn parse_transcription(
    body: &[u8],
    default_confidence: f32,
) -> Result<Vec<Alternative>, ResponseError> {
    let response: TranscriptionResponse = serde_json::from_slice(body)?;
    let text = response.text.trim().to_owned();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let confidence = confidence_of(response.segments.iter().filter_map(|s| s.avg_logprob))
        .or_else(|| confidence_of(response.logprobs.iter().filter_map(|t| t.logprob)))
        .unwrap_or(default_confidence);
    Ok(vec![Alternative { text, confidence }])
}

/// A Realtime server event, as far as transcription uses it (every other type is [`ServerEvent::Other`]).
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum ServerEvent {
    #[serde(rename = "session.created")]
    SessionCreated,
    #[serde(rename = "session.updated")]
    SessionUpdated,
    #[serde(rename = "input_audio_buffer.speech_started")]
    SpeechStarted,
    #[serde(rename = "input_audio_buffer.speech_stopped")]
    SpeechStopped,
    #[serde(rename = "input_audio_buffer.committed")]
    Committed,
    #[serde(rename = "conversation.item.input_audio_transcription.delta")]
    Delta {
        #[serde(default)]
        delta: String,
    },
    #[serde(rename = "conversation.item.input_audio_transcription.completed")]
    Completed {
        #[serde(default)]
        transcript: String,
        #[serde(default)]
        logprobs: Option<Vec<TokenLogprob>>,
    },
    #[serde(rename = "conversation.item.input_audio_transcription.failed")]
    Failed {
        #[serde(default)]
        error: ErrorBody,
    },
    #[serde(rename = "error")]
    Error { error: ErrorBody },
    #[serde(other)]
    Other,
}

/// Parses one Realtime text frame.
pub(crate) fn parse_event(text: &str) -> Result<ServerEvent, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_json_response_gives_one_alternative() {
        let alts = parse_transcription(
            br#"{"text":" yes please ","usage":{"type":"duration","seconds":2}}"#,
            0.9,
        )
        .expect("parse");
        assert_eq!(alts.len(), 1);
        assert_eq!(alts[0].text, "yes please");
        assert!((alts[0].confidence - 0.9).abs() < 1e-6);
    }

    #[test]
    fn verbose_json_confidence_comes_from_log_probabilities() {
        let body = br#"{"task":"transcribe","language":"english","duration":1.2,"text":"no",
            "segments":[{"id":0,"avg_logprob":-0.1},{"id":1,"avg_logprob":-0.3}]}"#;
        let alts = parse_transcription(body, 1.0).expect("parse");
        assert!((alts[0].confidence - (-0.2f64).exp() as f32).abs() < 1e-4);
    }

    #[test]
    fn empty_text_is_no_alternative_and_garbage_is_an_error() {
        assert!(
            parse_transcription(br#"{"text":""}"#, 1.0)
                .expect("parse")
                .is_empty()
        );
        assert!(parse_transcription(b"<html>", 1.0).is_err());
    }

    #[test]
    fn error_envelopes_give_the_vendor_message() {
        let body = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        assert_eq!(
            error_message(body),
            "Incorrect API key provided. (invalid_api_key)"
        );
        assert_eq!(error_message("plain text"), "plain text");
    }

    #[test]
    fn realtime_events_parse_by_type() {
        let e = parse_event(r#"{"type":"conversation.item.input_audio_transcription.delta","item_id":"i","content_index":0,"delta":"ye"}"#).expect("delta");
        assert!(matches!(e, ServerEvent::Delta { delta } if delta == "ye"));
        let e = parse_event(r#"{"type":"conversation.item.input_audio_transcription.completed","item_id":"i","content_index":0,"transcript":"yes"}"#).expect("completed");
        assert!(matches!(e, ServerEvent::Completed { transcript, .. } if transcript == "yes"));
        let e = parse_event(r#"{"type":"rate_limits.updated","rate_limits":[]}"#).expect("other");
        assert!(matches!(e, ServerEvent::Other));
        let e = parse_event(r#"{"type":"error","event_id":"e","error":{"type":"invalid_request_error","code":"input_audio_buffer_commit_empty","message":"buffer too small"}}"#).expect("error");
        assert!(
            matches!(e, ServerEvent::Error { error } if error.code.as_deref() == Some("input_audio_buffer_commit_empty"))
        );
    }
}
