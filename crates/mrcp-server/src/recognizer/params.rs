//! The effective parameters of a RECOGNIZE (RFC 6787 §9.4): its own header fields, else the channel's
//! SET-PARAMS values, else the server's `[recognizer]` defaults.

use std::time::Duration;

use mrcp_proto::mrcp::header::{
    CancelIfQueue, ConfidenceThreshold, DtmfBufferTime, DtmfInterdigitTimeout, DtmfTermChar,
    DtmfTermTimeout, EarlyNoMatch, Header, HotwordMaxDuration, HotwordMinDuration, NoInputTimeout,
    RecognitionMode, RecognitionModeHeader, RecognitionTimeout, SpeechCompleteTimeout,
    SpeechIncompleteTimeout, StartInputTimers,
};
use mrcp_proto::mrcp::{Headers, InvalidHeader};

use super::{DtmfClassifier, Mode, RecognizeParams};
use crate::config::RecognizerDefaults;
use crate::params::ChannelParams;

/// Hotword-Max-Duration when nobody set one: a hotword recognition must end too.
const DEFAULT_HOTWORD_MAX: Duration = Duration::from_secs(60);

/// The longest a RECOGNIZE may run whatever its timers say, counted from the request: long enough for a
/// prompt played with `Start-Input-Timers: false` plus the recognition, short enough that a client that never
/// sends START-INPUT-TIMERS still gets an answer.
const MAX_DURATION_MARGIN: Duration = Duration::from_secs(60);

impl RecognizerDefaults {
    /// The defaults as header fields, the bottom layer of [`ChannelParams`].
    pub fn as_headers(&self) -> Headers {
        let ms = Duration::from_millis;
        let mut h = Headers::new();
        // The values come from a validated config and are all in range for their headers.
        let fields: [Result<(), InvalidHeader>; 9] = [
            h.set(&NoInputTimeout(ms(self.no_input_timeout_ms))),
            h.set(&RecognitionTimeout(ms(self.recognition_timeout_ms))),
            h.set(&SpeechCompleteTimeout(ms(self.speech_complete_timeout_ms))),
            h.set(&SpeechIncompleteTimeout(ms(
                self.speech_incomplete_timeout_ms
            ))),
            h.set(&DtmfInterdigitTimeout(ms(self.dtmf_interdigit_timeout_ms))),
            h.set(&DtmfTermTimeout(ms(self.dtmf_term_timeout_ms))),
            h.set(&DtmfBufferTime(ms(self.dtmf_buffer_time_ms))),
            h.set_raw(
                ConfidenceThreshold::NAME,
                &self.confidence_threshold.to_string(),
            ),
            h.set_raw("N-Best-List-Length", &self.n_best_list_length.to_string()),
        ];
        debug_assert!(
            fields.iter().all(Result::is_ok),
            "config defaults must be valid header values"
        );
        h
    }
}

/// What the grammars of a RECOGNIZE call for, decided by the session after loading them.
pub struct ActiveInputs {
    /// Speech grammars are active: an engine listens.
    pub speech: bool,
    /// The DTMF grammars' classifier, when any is active.
    pub dtmf: Option<Box<dyn DtmfClassifier>>,
}

/// Resolves every parameter the recognizer machine needs; an invalid field in any layer is reported with its
/// name so the request gets 404 or 409.
pub fn resolve(
    channel: &ChannelParams,
    request: &Headers,
    defaults: &RecognizerDefaults,
    inputs: ActiveInputs,
) -> Result<RecognizeParams, InvalidHeader> {
    let duration =
        |d: Option<Duration>, fallback_ms: u64| d.unwrap_or(Duration::from_millis(fallback_ms));
    let no_input = duration(
        channel.effective::<NoInputTimeout>(request)?.map(|h| h.0),
        defaults.no_input_timeout_ms,
    );
    let recognition = duration(
        channel
            .effective::<RecognitionTimeout>(request)?
            .map(|h| h.0),
        defaults.recognition_timeout_ms,
    );
    Ok(RecognizeParams {
        start_input_timers: channel
            .effective::<StartInputTimers>(request)?
            .is_none_or(|h| h.0),
        no_input_timeout: no_input,
        recognition_timeout: recognition,
        speech_complete_timeout: duration(
            channel
                .effective::<SpeechCompleteTimeout>(request)?
                .map(|h| h.0),
            defaults.speech_complete_timeout_ms,
        ),
        speech_incomplete_timeout: duration(
            channel
                .effective::<SpeechIncompleteTimeout>(request)?
                .map(|h| h.0),
            defaults.speech_incomplete_timeout_ms,
        ),
        dtmf_interdigit_timeout: duration(
            channel
                .effective::<DtmfInterdigitTimeout>(request)?
                .map(|h| h.0),
            defaults.dtmf_interdigit_timeout_ms,
        ),
        dtmf_term_timeout: duration(
            channel.effective::<DtmfTermTimeout>(request)?.map(|h| h.0),
            defaults.dtmf_term_timeout_ms,
        ),
        dtmf_term_char: channel.effective::<DtmfTermChar>(request)?.map(|h| h.0),
        confidence_threshold: channel
            .effective::<ConfidenceThreshold>(request)?
            .map_or(defaults.confidence_threshold, |h| h.0.get()),
        // Cancel-If-Queue defaults to true (§9.4).
        cancel_if_queue: channel
            .effective::<CancelIfQueue>(request)?
            .is_none_or(|h| h.0),
        mode: match channel.effective::<RecognitionModeHeader>(request)? {
            Some(RecognitionModeHeader(RecognitionMode::Hotword)) => Mode::Hotword,
            _ => Mode::Normal,
        },
        hotword_max_duration: channel
            .effective::<HotwordMaxDuration>(request)?
            .map_or(DEFAULT_HOTWORD_MAX, |h| h.0),
        hotword_min_duration: channel
            .effective::<HotwordMinDuration>(request)?
            .map_or(Duration::ZERO, |h| h.0),
        early_no_match: channel
            .effective::<EarlyNoMatch>(request)?
            .map_or(defaults.early_no_match, |h| h.0),
        speech_too_early: false,
        speech: inputs.speech,
        dtmf: inputs.dtmf,
        max_duration: no_input + recognition + MAX_DURATION_MARGIN,
        engine_deadline: Duration::from_millis(defaults.engine_deadline_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in fields {
            h.append_raw(n, v).unwrap();
        }
        h
    }

    fn resolve_with(request: &[(&str, &str)]) -> Result<RecognizeParams, InvalidHeader> {
        let defaults = RecognizerDefaults::default();
        let channel = ChannelParams::new(defaults.as_headers());
        resolve(
            &channel,
            &headers(request),
            &defaults,
            ActiveInputs {
                speech: true,
                dtmf: None,
            },
        )
    }

    #[test]
    fn freeswitch_recognize_headers_resolve() {
        // The headers FreeSWITCH's play_and_detect_speech sends (reference §7.3).
        let p = resolve_with(&[
            ("Cancel-If-Queue", "false"),
            ("Start-Input-Timers", "false"),
            ("No-Input-Timeout", "5000"),
            ("Recognition-Timeout", "10000"),
            ("Speech-Language", "en-US"),
        ])
        .unwrap();
        assert!(!p.cancel_if_queue);
        assert!(!p.start_input_timers);
        assert_eq!(p.recognition_timeout, Duration::from_secs(10));
        assert_eq!(p.speech_complete_timeout, Duration::from_millis(800));
        assert_eq!(p.mode, Mode::Normal);
    }

    #[test]
    fn defaults_apply_when_nothing_is_sent() {
        let p = resolve_with(&[]).unwrap();
        assert!(p.start_input_timers && p.cancel_if_queue);
        assert_eq!(p.no_input_timeout, Duration::from_secs(5));
        assert_eq!(p.confidence_threshold, 0.5);
        assert_eq!(p.dtmf_term_char, None);
        assert!(p.max_duration > p.no_input_timeout + p.recognition_timeout);
    }

    #[test]
    fn bad_values_name_their_header() {
        let err = resolve_with(&[("Confidence-Threshold", "1.7")])
            .map(drop)
            .unwrap_err();
        assert_eq!(err.name, "Confidence-Threshold");
        let err = resolve_with(&[("Recognition-Mode", "sometimes")])
            .map(drop)
            .unwrap_err();
        assert_eq!(err.name, "Recognition-Mode");
    }

    #[test]
    fn hotword_mode_and_term_char() {
        let p = resolve_with(&[("Recognition-Mode", "hotword"), ("DTMF-Term-Char", "#")]).unwrap();
        assert_eq!(p.mode, Mode::Hotword);
        assert_eq!(p.dtmf_term_char, Some('#'));
    }
}
