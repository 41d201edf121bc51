//! The recognizer machine stepped on injected time.

use std::time::{Duration, Instant};

use super::*;

const MS: Duration = Duration::from_millis(1);

/// Digits of an exact length, like `builtin:dtmf/digits?length=N`; with `max` above `len`, a range.
struct Digits {
    min: usize,
    max: usize,
}

impl DtmfClassifier for Digits {
    fn classify(&self, digits: &str) -> DtmfMatch {
        let n = digits.len();
        if !digits.chars().all(|c| c.is_ascii_digit()) || n > self.max {
            DtmfMatch::NoMatch
        } else if n < self.min {
            DtmfMatch::Incomplete
        } else {
            DtmfMatch::Complete {
                extendable: n < self.max,
            }
        }
    }
}

fn params() -> RecognizeParams {
    RecognizeParams {
        start_input_timers: true,
        no_input_timeout: 5000 * MS,
        recognition_timeout: 10_000 * MS,
        speech_complete_timeout: 800 * MS,
        speech_incomplete_timeout: 1500 * MS,
        dtmf_interdigit_timeout: 3000 * MS,
        dtmf_term_timeout: 2000 * MS,
        dtmf_term_char: None,
        confidence_threshold: 0.5,
        cancel_if_queue: false,
        mode: Mode::Normal,
        hotword_max_duration: 30_000 * MS,
        hotword_min_duration: Duration::ZERO,
        early_no_match: true,
        speech_too_early: false,
        speech: true,
        dtmf: None,
        max_duration: 60_000 * MS,
        engine_deadline: 5000 * MS,
    }
}

fn dtmf_params(min: usize, max: usize) -> RecognizeParams {
    RecognizeParams {
        speech: false,
        dtmf: Some(Box::new(Digits { min, max })),
        ..params()
    }
}

/// A machine with its clock, stepping time to deadlines as a driver would.
struct Harness {
    m: RecognizerMachine<&'static str>,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        Self {
            m: RecognizerMachine::new(),
            now: Instant::now(),
        }
    }

    fn input(&mut self, input: Input<&'static str>) -> Vec<Output<&'static str>> {
        self.m.handle_input(self.now, input);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Output<&'static str>> {
        std::iter::from_fn(|| self.m.poll_output()).collect()
    }

    /// Advances the clock by `d`, firing every deadline on the way at its own instant.
    fn advance(&mut self, d: Duration) -> Vec<Output<&'static str>> {
        let end = self.now + d;
        let mut out = Vec::new();
        while let Some(at) = self.m.poll_timeout().filter(|&at| at <= end) {
            self.now = at;
            self.m.handle_timeout(at);
            out.extend(self.drain());
        }
        self.now = end;
        out
    }

    fn recognize(&mut self, id: u32, params: RecognizeParams) -> Vec<Output<&'static str>> {
        self.input(Input::Recognize {
            request_id: RequestId(id),
            params,
        })
    }
}

fn response(id: u32, status: StatusCode, state: RequestState) -> Output<&'static str> {
    Output::Response {
        request_id: RequestId(id),
        status,
        state,
        active_request_ids: vec![],
        result: None,
    }
}

fn complete(
    id: u32,
    cause: RecognizerCause,
    outcome: Outcome<&'static str>,
) -> Output<&'static str> {
    Output::RecognitionComplete {
        request_id: RequestId(id),
        cause,
        outcome,
    }
}

fn cancel(id: u32) -> Output<&'static str> {
    Output::CancelEngine {
        request_id: RequestId(id),
    }
}

#[test]
fn silence_ends_with_no_input_timeout() {
    let mut h = Harness::new();
    assert_eq!(
        h.recognize(1, params()),
        vec![
            response(1, StatusCode::SUCCESS, RequestState::InProgress),
            Output::StartEngine {
                request_id: RequestId(1)
            }
        ]
    );
    assert!(h.advance(4999 * MS).is_empty());
    assert_eq!(
        h.advance(MS),
        vec![
            cancel(1),
            complete(1, RecognizerCause::NoInputTimeout, Outcome::None)
        ]
    );
    assert_eq!(h.m.poll_timeout(), None);
}

#[test]
fn input_timers_wait_for_start_input_timers() {
    let mut h = Harness::new();
    h.recognize(
        1,
        RecognizeParams {
            start_input_timers: false,
            ..params()
        },
    );
    // A long prompt plays; no timer runs but the server's bound.
    assert!(h.advance(20_000 * MS).is_empty());
    assert_eq!(
        h.input(Input::StartInputTimers {
            request_id: RequestId(2)
        }),
        vec![response(2, StatusCode::SUCCESS, RequestState::Complete)]
    );
    assert!(h.advance(4999 * MS).is_empty());
    assert_eq!(
        h.advance(MS),
        vec![
            cancel(1),
            complete(1, RecognizerCause::NoInputTimeout, Outcome::None)
        ]
    );
}

#[test]
fn a_recognize_whose_timers_never_start_still_completes() {
    let mut h = Harness::new();
    h.recognize(
        1,
        RecognizeParams {
            start_input_timers: false,
            ..params()
        },
    );
    let out = h.advance(60_000 * MS);
    assert_eq!(
        out,
        vec![
            cancel(1),
            complete(1, RecognizerCause::NoInputTimeout, Outcome::None)
        ]
    );
}

#[test]
fn speech_then_silence_then_a_match_succeeds() {
    let mut h = Harness::new();
    h.recognize(1, params());
    h.advance(1000 * MS);
    assert_eq!(
        h.input(Input::SpeechStarted),
        vec![Output::StartOfInput {
            request_id: RequestId(1),
            input: InputKind::Speech
        }]
    );
    // The no-input timer is gone: nothing happens at 5 s.
    assert!(h.advance(5000 * MS).is_empty());
    assert!(h.input(Input::SpeechEnded).is_empty());
    assert!(h.advance(799 * MS).is_empty());
    assert_eq!(
        h.advance(MS),
        vec![Output::FinishEngineInput {
            request_id: RequestId(1)
        }]
    );
    let out = h.input(Input::EngineResult(EngineOutcome::Match {
        confidence: 0.9,
        result: "yes",
    }));
    assert_eq!(
        out,
        vec![
            cancel(1),
            complete(1, RecognizerCause::Success, Outcome::Speech(Some("yes")))
        ]
    );
    assert!(!h.m.is_recognizing());
}

#[test]
fn low_confidence_is_no_match() {
    let mut h = Harness::new();
    h.recognize(1, params());
    h.input(Input::SpeechStarted);
    h.input(Input::SpeechEnded);
    h.advance(800 * MS);
    let out = h.input(Input::EngineResult(EngineOutcome::Match {
        confidence: 0.3,
        result: "no",
    }));
    assert_eq!(
        out[1],
        complete(1, RecognizerCause::NoMatch, Outcome::Speech(Some("no")))
    );
}

#[test]
fn speech_resuming_cancels_the_silence_timer() {
    let mut h = Harness::new();
    h.recognize(1, params());
    h.input(Input::SpeechStarted);
    h.input(Input::SpeechEnded);
    h.advance(500 * MS);
    assert!(
        h.input(Input::SpeechStarted).is_empty(),
        "START-OF-INPUT is sent once"
    );
    assert!(h.advance(2000 * MS).is_empty());
    h.input(Input::SpeechEnded);
    assert_eq!(
        h.advance(800 * MS),
        vec![Output::FinishEngineInput {
            request_id: RequestId(1)
        }]
    );
}

#[test]
fn an_incomplete_hypothesis_waits_longer() {
    let mut h = Harness::new();
    h.recognize(1, params());
    h.input(Input::SpeechStarted);
    h.input(Input::Hypothesis { complete: false });
    h.input(Input::SpeechEnded);
    assert!(h.advance(1499 * MS).is_empty());
    assert_eq!(
        h.advance(MS),
        vec![Output::FinishEngineInput {
            request_id: RequestId(1)
        }]
    );
}

#[test]
fn recognition_timeout_gives_maxtime_causes() {
    for (outcome, cause) in [
        (
            EngineOutcome::Match {
                confidence: 0.8,
                result: "x",
            },
            RecognizerCause::SuccessMaxtime,
        ),
        (
            EngineOutcome::NoMatch { result: None },
            RecognizerCause::NoMatchMaxtime,
        ),
    ] {
        let mut h = Harness::new();
        h.recognize(1, params());
        h.input(Input::SpeechStarted);
        assert_eq!(
            h.advance(10_000 * MS),
            vec![Output::FinishEngineInput {
                request_id: RequestId(1)
            }]
        );
        let out = h.input(Input::EngineResult(outcome));
        assert!(
            matches!(&out[1], Output::RecognitionComplete { cause: c, .. } if *c == cause),
            "{out:?}"
        );
    }
}

#[test]
fn a_silent_engine_ends_with_recognizer_error() {
    let mut h = Harness::new();
    h.recognize(1, params());
    h.input(Input::SpeechStarted);
    h.input(Input::SpeechEnded);
    h.advance(800 * MS);
    assert_eq!(
        h.advance(5000 * MS),
        vec![
            cancel(1),
            complete(1, RecognizerCause::RecognizerError, Outcome::None)
        ]
    );
    // A result arriving after the deadline is ignored.
    assert!(
        h.input(Input::EngineResult(EngineOutcome::NoMatch { result: None }))
            .is_empty()
    );
}

#[test]
fn an_engine_failure_ends_with_recognizer_error() {
    let mut h = Harness::new();
    h.recognize(1, params());
    h.input(Input::SpeechStarted);
    let out = h.input(Input::EngineFailed);
    assert_eq!(
        out,
        vec![
            cancel(1),
            complete(1, RecognizerCause::RecognizerError, Outcome::None)
        ]
    );
}

#[test]
fn stop_lists_the_request_and_sends_no_completion() {
    let mut h = Harness::new();
    h.recognize(1, params());
    h.input(Input::SpeechStarted);
    let out = h.input(Input::Stop {
        request_id: RequestId(2),
    });
    assert_eq!(
        out,
        vec![
            cancel(1),
            Output::Response {
                request_id: RequestId(2),
                status: StatusCode::SUCCESS,
                state: RequestState::Complete,
                active_request_ids: vec![RequestId(1)],
                result: None,
            }
        ]
    );
    assert!(h.advance(120_000 * MS).is_empty());
    assert!(
        h.input(Input::EngineResult(EngineOutcome::NoMatch { result: None }))
            .is_empty()
    );
}

#[test]
fn stop_with_nothing_running_lists_nothing() {
    let mut h = Harness::new();
    let out = h.input(Input::Stop {
        request_id: RequestId(1),
    });
    assert_eq!(
        out,
        vec![response(1, StatusCode::SUCCESS, RequestState::Complete)]
    );
}

#[test]
fn start_input_timers_after_completion_is_still_200() {
    let mut h = Harness::new();
    h.recognize(1, params());
    h.advance(5000 * MS);
    let out = h.input(Input::StartInputTimers {
        request_id: RequestId(2),
    });
    assert_eq!(
        out,
        vec![response(2, StatusCode::SUCCESS, RequestState::Complete)]
    );
    assert_eq!(h.m.poll_timeout(), None);
}

#[test]
fn get_result_only_after_a_recognition() {
    let mut h = Harness::new();
    let out = h.input(Input::GetResult {
        request_id: RequestId(1),
    });
    assert_eq!(
        out,
        vec![response(
            1,
            StatusCode::METHOD_NOT_VALID_IN_STATE,
            RequestState::Complete
        )]
    );
    h.recognize(2, params());
    h.input(Input::SpeechStarted);
    h.input(Input::EngineResult(EngineOutcome::Match {
        confidence: 1.0,
        result: "yes",
    }));
    let out = h.input(Input::GetResult {
        request_id: RequestId(3),
    });
    assert!(
        matches!(
            &out[0],
            Output::Response {
                result: Some(Outcome::Speech(Some("yes"))),
                ..
            }
        ),
        "{out:?}"
    );
}

#[test]
fn dtmf_of_the_right_length_succeeds_at_once() {
    let mut h = Harness::new();
    h.recognize(1, dtmf_params(4, 4));
    assert_eq!(
        h.input(Input::Dtmf('1')),
        vec![Output::StartOfInput {
            request_id: RequestId(1),
            input: InputKind::Dtmf
        }]
    );
    h.input(Input::Dtmf('2'));
    h.input(Input::Dtmf('3'));
    let out = h.input(Input::Dtmf('4'));
    assert_eq!(
        out,
        vec![complete(
            1,
            RecognizerCause::Success,
            Outcome::Dtmf("1234".into())
        )]
    );
}

#[test]
fn too_few_digits_end_at_the_interdigit_timeout() {
    let mut h = Harness::new();
    h.recognize(1, dtmf_params(4, 4));
    h.input(Input::Dtmf('1'));
    h.advance(2000 * MS);
    h.input(Input::Dtmf('2'));
    assert!(h.advance(2999 * MS).is_empty());
    assert_eq!(
        h.advance(MS),
        vec![complete(
            1,
            RecognizerCause::NoMatch,
            Outcome::Dtmf("12".into())
        )]
    );
}

#[test]
fn an_extendable_match_waits_for_the_term_timeout_or_char() {
    let mut h = Harness::new();
    h.recognize(1, dtmf_params(2, 6));
    h.input(Input::Dtmf('4'));
    h.input(Input::Dtmf('2'));
    assert!(h.advance(1999 * MS).is_empty());
    assert_eq!(
        h.advance(MS),
        vec![complete(
            1,
            RecognizerCause::Success,
            Outcome::Dtmf("42".into())
        )]
    );

    let mut h = Harness::new();
    h.recognize(
        1,
        RecognizeParams {
            dtmf_term_char: Some('#'),
            ..dtmf_params(2, 6)
        },
    );
    h.input(Input::Dtmf('4'));
    h.input(Input::Dtmf('2'));
    let out = h.input(Input::Dtmf('#'));
    assert_eq!(
        out,
        vec![complete(
            1,
            RecognizerCause::Success,
            Outcome::Dtmf("42".into())
        )]
    );
}

#[test]
fn digits_that_cannot_match_end_at_once() {
    let mut h = Harness::new();
    h.recognize(1, dtmf_params(4, 4));
    h.input(Input::Dtmf('1'));
    let out = h.input(Input::Dtmf('*'));
    assert_eq!(
        out,
        vec![complete(
            1,
            RecognizerCause::NoMatch,
            Outcome::Dtmf("1*".into())
        )]
    );
}

#[test]
fn dtmf_without_a_dtmf_grammar_is_ignored() {
    let mut h = Harness::new();
    h.recognize(1, params());
    assert!(h.input(Input::Dtmf('5')).is_empty());
}

#[test]
fn start_of_input_is_sent_before_the_timers_start() {
    // Barge-in: the caller speaks over the prompt, before START-INPUT-TIMERS.
    let mut h = Harness::new();
    h.recognize(
        1,
        RecognizeParams {
            start_input_timers: false,
            ..params()
        },
    );
    let out = h.input(Input::SpeechStarted);
    assert_eq!(
        out,
        vec![Output::StartOfInput {
            request_id: RequestId(1),
            input: InputKind::Speech
        }]
    );
    h.input(Input::StartInputTimers {
        request_id: RequestId(2),
    });
    h.input(Input::SpeechEnded);
    // No no-input timeout after speech was heard.
    assert_eq!(
        h.advance(800 * MS),
        vec![Output::FinishEngineInput {
            request_id: RequestId(1)
        }]
    );
}

#[test]
fn cancel_if_queue_true_cancels_the_running_request() {
    let mut h = Harness::new();
    h.recognize(
        1,
        RecognizeParams {
            cancel_if_queue: true,
            ..params()
        },
    );
    let out = h.recognize(2, params());
    assert_eq!(
        out,
        vec![
            cancel(1),
            complete(1, RecognizerCause::Cancelled, Outcome::None),
            response(2, StatusCode::SUCCESS, RequestState::InProgress),
            Output::StartEngine {
                request_id: RequestId(2)
            },
        ]
    );
}

#[test]
fn cancel_if_queue_false_queues_one_request() {
    let mut h = Harness::new();
    h.recognize(1, params());
    assert_eq!(
        h.recognize(2, params()),
        vec![response(2, StatusCode::SUCCESS, RequestState::Pending)]
    );
    assert_eq!(
        h.recognize(3, params()),
        vec![response(
            3,
            StatusCode::METHOD_NOT_VALID_IN_STATE,
            RequestState::Complete
        )]
    );
    // The first ends; the queued one starts with no second response.
    let out = h.advance(5000 * MS);
    assert_eq!(
        out,
        vec![
            cancel(1),
            complete(1, RecognizerCause::NoInputTimeout, Outcome::None),
            Output::StartEngine {
                request_id: RequestId(2)
            },
        ]
    );
    assert!(h.m.is_recognizing());
}

#[test]
fn hotword_mode_ignores_non_matches_until_max_duration() {
    let mut h = Harness::new();
    h.recognize(
        1,
        RecognizeParams {
            mode: Mode::Hotword,
            hotword_max_duration: 10_000 * MS,
            ..params()
        },
    );
    h.input(Input::SpeechStarted);
    h.input(Input::SpeechEnded);
    h.advance(800 * MS);
    let out = h.input(Input::EngineResult(EngineOutcome::NoMatch {
        result: Some("chatter"),
    }));
    assert_eq!(
        out,
        vec![
            cancel(1),
            Output::StartEngine {
                request_id: RequestId(1)
            }
        ]
    );
    // No no-input timeout in hotword mode; Hotword-Max-Duration ends it.
    let out = h.advance(10_000 * MS);
    assert_eq!(
        out,
        vec![
            cancel(1),
            complete(1, RecognizerCause::HotwordMaxtime, Outcome::None)
        ]
    );
}

#[test]
fn spurious_timeouts_do_nothing() {
    let mut h = Harness::new();
    h.m.handle_timeout(h.now);
    assert!(h.drain().is_empty());
    h.recognize(1, params());
    h.m.handle_timeout(h.now + 10 * MS);
    assert!(h.drain().is_empty());
}

#[test]
fn a_hotword_said_too_briefly_is_ignored() {
    let mut h = Harness::new();
    h.recognize(
        1,
        RecognizeParams {
            mode: Mode::Hotword,
            hotword_min_duration: 500 * MS,
            ..params()
        },
    );
    // 200 ms of speech: a match, but shorter than Hotword-Min-Duration.
    h.input(Input::SpeechStarted);
    h.advance(200 * MS);
    h.input(Input::SpeechEnded);
    h.advance(800 * MS);
    let out = h.input(Input::EngineResult(EngineOutcome::Match {
        confidence: 0.9,
        result: "operator",
    }));
    assert_eq!(
        out,
        vec![
            cancel(1),
            Output::StartEngine {
                request_id: RequestId(1)
            }
        ]
    );
    // 700 ms: long enough.
    h.input(Input::SpeechStarted);
    h.advance(700 * MS);
    h.input(Input::SpeechEnded);
    h.advance(800 * MS);
    let out = h.input(Input::EngineResult(EngineOutcome::Match {
        confidence: 0.9,
        result: "operator",
    }));
    assert_eq!(
        out.last(),
        Some(&complete(
            1,
            RecognizerCause::Success,
            Outcome::Speech(Some("operator"))
        ))
    );
}

#[test]
fn without_early_no_match_wrong_digits_wait_for_the_end_of_input() {
    let mut h = Harness::new();
    h.recognize(
        1,
        RecognizeParams {
            early_no_match: false,
            ..dtmf_params(3, 3)
        },
    );
    h.input(Input::Dtmf('1'));
    // `*` cannot be in a digits grammar; the request waits for the interdigit timeout.
    assert!(h.input(Input::Dtmf('*')).is_empty());
    let out = h.advance(3000 * MS);
    assert_eq!(
        out,
        vec![complete(
            1,
            RecognizerCause::NoMatch,
            Outcome::Dtmf("1*".into())
        )]
    );

    // With Early-No-Match (the server's default), the no-match is immediate.
    h.recognize(2, dtmf_params(3, 3));
    h.input(Input::Dtmf('1'));
    assert_eq!(
        h.input(Input::Dtmf('*')),
        vec![complete(
            2,
            RecognizerCause::NoMatch,
            Outcome::Dtmf("1*".into())
        )]
    );
}

#[test]
fn speech_already_in_progress_can_end_the_request_with_speech_too_early() {
    let mut h = Harness::new();
    let out = h.recognize(
        1,
        RecognizeParams {
            speech_too_early: true,
            ..params()
        },
    );
    assert_eq!(
        out.first(),
        Some(&response(1, StatusCode::SUCCESS, RequestState::InProgress))
    );
    assert_eq!(
        out.last(),
        Some(&complete(1, RecognizerCause::SpeechTooEarly, Outcome::None))
    );
}

#[test]
fn the_engine_hearing_speech_first_sends_start_of_input_once() {
    let mut h = Harness::new();
    h.recognize(1, params());
    let start = Output::StartOfInput {
        request_id: RequestId(1),
        input: InputKind::Speech,
    };
    assert_eq!(h.input(Input::EngineHeardSpeech), vec![start]);
    // The endpointer and later interim results add nothing.
    assert!(h.input(Input::EngineHeardSpeech).is_empty());
    assert!(h.input(Input::SpeechStarted).is_empty());
    // No no-input timeout any more: speech was heard.
    let out = h.advance(6000 * MS);
    assert!(
        !out.iter().any(|o| matches!(
            o,
            Output::RecognitionComplete {
                cause: RecognizerCause::NoInputTimeout,
                ..
            }
        )),
        "{out:?}"
    );
}
