//! The speechrecog resource (RFC 6787 §9) as a sans-IO state machine.
//!
//! The session actor feeds it requests, the endpointer's speech start and end, DTMF digits and the engine's
//! results, each with the current time; it answers with [`Output`]s (responses, events, engine commands) and
//! a deadline for [`RecognizerMachine::handle_timeout`]. It never reads the clock.
//!
//! ```text
//!              RECOGNIZE                         completion (timer, result,
//!   Idle ───────────────────▶ Recognizing ────── DTMF match, engine error) ──▶ Recognized
//!    ▲                          │   ▲  RECOGNIZE with Cancel-If-Queue: true       │
//!    │            STOP          │   └── cancels the running one (011) ───────────┤
//!    └──────────────────────────┘                                                │
//!    ▲                                         RECOGNIZE                          │
//!    └──────────────────── (Recognized keeps the result for GET-RESULT) ◀────────┘
//! ```
//!
//! Rules it keeps, with the FreeSWITCH behaviour that makes them matter
//! (`shared/reference/freeswitch-unimrcp-client.md` §7, §12):
//! * exactly one response per request: `200 IN-PROGRESS` for a RECOGNIZE that starts, `200 PENDING` only for
//!   one queued behind a running RECOGNIZE with `Cancel-If-Queue: false`, `200 COMPLETE` for the rest;
//! * every RECOGNIZE ends with RECOGNITION-COMPLETE, unless STOP ended it (then never: FreeSWITCH would take
//!   a late event as the next result); the server's own [`RecognizerTimer::MaxDuration`] bounds a recognition
//!   whose input timers are never started;
//! * START-INPUT-TIMERS is answered `200 COMPLETE` even when the recognition just ended (a 4xx there puts
//!   FreeSWITCH's channel into ERROR);
//! * START-OF-INPUT goes out at the first speech or DTMF, before the input timers start too, because clients
//!   use it to stop the prompt (barge-in).

mod params;
#[cfg(test)]
mod tests;
mod timer;
mod typeahead;

pub use typeahead::TypeAhead;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mrcp_proto::mrcp::header::RecognizerCause;
use mrcp_proto::mrcp::{RequestId, RequestState, StatusCode};

pub use params::{ActiveInputs, resolve};
pub use timer::RecognizerTimer;
use timer::Timers;

/// How the digits collected so far fit the active DTMF grammars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfMatch {
    /// No grammar can match, whatever follows.
    NoMatch,
    /// A prefix of a match: more digits are needed.
    Incomplete,
    /// A match; `extendable` when a longer string would match too (DTMF-Term-Timeout applies).
    Complete {
        /// Whether more digits could still match.
        extendable: bool,
    },
}

/// Classifies collected digits against the active DTMF grammars; the server implements it with the grammar
/// matcher.
pub trait DtmfClassifier: Send {
    /// How `digits` fit.
    fn classify(&self, digits: &str) -> DtmfMatch;
}

/// Recognition-Mode (RFC 6787 §9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Recognize one utterance.
    #[default]
    Normal,
    /// Listen until a grammar matches, ignoring what does not (until Hotword-Max-Duration).
    Hotword,
}

/// The effective parameters of one RECOGNIZE: its headers over the session's SET-PARAMS values over the
/// server's defaults, resolved by the session before the request reaches the machine.
pub struct RecognizeParams {
    /// Start-Input-Timers (§9.4.14).
    pub start_input_timers: bool,
    /// No-Input-Timeout (§9.4.6); zero disables it.
    pub no_input_timeout: Duration,
    /// Recognition-Timeout (§9.4.7), counted from the start of speech.
    pub recognition_timeout: Duration,
    /// Speech-Complete-Timeout (§9.4.15).
    pub speech_complete_timeout: Duration,
    /// Speech-Incomplete-Timeout (§9.4.16).
    pub speech_incomplete_timeout: Duration,
    /// DTMF-Interdigit-Timeout (§9.4.17).
    pub dtmf_interdigit_timeout: Duration,
    /// DTMF-Term-Timeout (§9.4.18).
    pub dtmf_term_timeout: Duration,
    /// DTMF-Term-Char (§9.4.19); `None` when the client set none.
    pub dtmf_term_char: Option<char>,
    /// Confidence-Threshold (§9.4.1): a result below it is a no-match.
    pub confidence_threshold: f32,
    /// Cancel-If-Queue (§9.4): whether a later RECOGNIZE cancels this one.
    pub cancel_if_queue: bool,
    /// Recognition-Mode (§9.4).
    pub mode: Mode,
    /// Hotword-Max-Duration (§9.4), in hotword mode.
    pub hotword_max_duration: Duration,
    /// Hotword-Min-Duration (§9.4): in hotword mode, a match on a shorter utterance is ignored.
    pub hotword_min_duration: Duration,
    /// Early-No-Match (§9.4): digits no DTMF grammar can match end the request at once with 001; otherwise
    /// the request waits for the end of input (DTMF-Interdigit-Timeout or DTMF-Term-Char).
    pub early_no_match: bool,
    /// The caller was already speaking when the RECOGNIZE arrived and the server is configured to refuse that:
    /// the request completes at once with 007 speech-too-early (§9.4.11).
    pub speech_too_early: bool,
    /// Whether speech grammars are active: then an engine is started and speech is listened to.
    pub speech: bool,
    /// The DTMF grammars' classifier; `None` when no DTMF grammar is active (digits are then ignored).
    pub dtmf: Option<Box<dyn DtmfClassifier>>,
    /// The server's bound on the whole request.
    pub max_duration: Duration,
    /// How long the engine may take to answer once the input is complete.
    pub engine_deadline: Duration,
}

impl std::fmt::Debug for RecognizeParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecognizeParams")
            .field("start_input_timers", &self.start_input_timers)
            .field("no_input_timeout", &self.no_input_timeout)
            .field("mode", &self.mode)
            .field("speech", &self.speech)
            .field("dtmf", &self.dtmf.is_some())
            .finish_non_exhaustive()
    }
}

/// What an engine heard, already interpreted against the grammars by the session.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineOutcome<R> {
    /// A grammar matched, with the confidence of the best interpretation.
    Match {
        /// 0.0–1.0.
        confidence: f32,
        /// The interpretation (the session turns it into NLSML).
        result: R,
    },
    /// Nothing matched; the result may still carry what was heard, for `<nomatch>`.
    NoMatch {
        /// What was heard, if anything.
        result: Option<R>,
    },
}

/// An input to the machine.
#[derive(Debug)]
pub enum Input<R> {
    /// RECOGNIZE (§9.9).
    Recognize {
        /// The request.
        request_id: RequestId,
        /// Its effective parameters.
        params: RecognizeParams,
    },
    /// START-INPUT-TIMERS (§9.13).
    StartInputTimers {
        /// The request.
        request_id: RequestId,
    },
    /// STOP (§9.10).
    Stop {
        /// The request.
        request_id: RequestId,
    },
    /// GET-RESULT (§9.11).
    GetResult {
        /// The request.
        request_id: RequestId,
    },
    /// The endpointer heard speech start.
    SpeechStarted,
    /// The endpointer heard speech end.
    SpeechEnded,
    /// The engine heard speech (its own detector, or an interim result): START-OF-INPUT goes out if the
    /// server's endpointer has not heard the caller yet, so barge-in works with engines that hear better.
    EngineHeardSpeech,
    /// A DTMF digit (`0-9`, `*`, `#`, `A-D`), from RFC 4733 or in-band detection.
    Dtmf(char),
    /// Whether the engine's interim hypothesis is a complete match, which picks Speech-Complete-Timeout or
    /// Speech-Incomplete-Timeout after speech ends.
    Hypothesis {
        /// Complete (no more words needed).
        complete: bool,
    },
    /// The engine's final result, interpreted.
    EngineResult(EngineOutcome<R>),
    /// The engine failed, panicked or vanished.
    EngineFailed,
}

/// What the input of a completed recognition was.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<R> {
    /// Speech, with what the engine heard when anything.
    Speech(Option<R>),
    /// DTMF digits (without the terminating character).
    Dtmf(String),
    /// Nothing was heard.
    None,
}

/// What the input that started was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Speech.
    Speech,
    /// DTMF.
    Dtmf,
}

/// An output of the machine, for the session to carry out in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output<R> {
    /// The one response to a request.
    Response {
        /// The request answered.
        request_id: RequestId,
        /// The status code.
        status: StatusCode,
        /// PENDING, IN-PROGRESS or COMPLETE.
        state: RequestState,
        /// Active-Request-Id-List (§6.2.3), for STOP.
        active_request_ids: Vec<RequestId>,
        /// The last result, for GET-RESULT.
        result: Option<Outcome<R>>,
    },
    /// START-OF-INPUT (§9.12), IN-PROGRESS.
    StartOfInput {
        /// The running RECOGNIZE.
        request_id: RequestId,
        /// What started.
        input: InputKind,
    },
    /// RECOGNITION-COMPLETE (§9.14), COMPLETE.
    RecognitionComplete {
        /// The RECOGNIZE that ended.
        request_id: RequestId,
        /// Completion-Cause.
        cause: RecognizerCause,
        /// What was recognized.
        outcome: Outcome<R>,
    },
    /// Start an engine stream for this request and feed it audio.
    StartEngine {
        /// The request.
        request_id: RequestId,
    },
    /// The input is complete: finish the engine's audio so it gives its final result.
    FinishEngineInput {
        /// The request.
        request_id: RequestId,
    },
    /// Drop the engine stream without waiting for a result.
    CancelEngine {
        /// The request.
        request_id: RequestId,
    },
}

/// Why input collection ended, which decides the cause when the result arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputEnd {
    Silence,
    Maxtime,
}

/// The running RECOGNIZE.
#[derive(Debug)]
struct Active {
    request_id: RequestId,
    params: RecognizeParams,
    timers_started: bool,
    start_of_input_sent: bool,
    speech_heard: bool,
    in_speech: bool,
    speech_ended_at: Option<Instant>,
    /// When the current (or last) utterance began, and how long the last one lasted, for Hotword-Min-Duration.
    speech_started_at: Option<Instant>,
    utterance: Duration,
    hypothesis_complete: Option<bool>,
    digits: String,
    engine_running: bool,
    input_end: Option<InputEnd>,
}

#[derive(Debug)]
enum State<R> {
    Idle,
    Recognizing(Box<Active>),
    Recognized(Outcome<R>),
}

/// The speechrecog resource of one channel.
#[derive(Debug)]
pub struct RecognizerMachine<R> {
    state: State<R>,
    queued: Option<(RequestId, RecognizeParams)>,
    timers: Timers,
    outputs: VecDeque<Output<R>>,
}

impl<R: Clone> Default for RecognizerMachine<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Clone> RecognizerMachine<R> {
    /// A recognizer in the idle state.
    pub fn new() -> Self {
        Self {
            state: State::Idle,
            queued: None,
            timers: Timers::default(),
            outputs: VecDeque::new(),
        }
    }

    /// Whether a RECOGNIZE is running (the session routes audio to the engine only then).
    pub fn is_recognizing(&self) -> bool {
        matches!(self.state, State::Recognizing(_))
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<Output<R>> {
        self.outputs.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Fires every timer due at `now`; a call with nothing due does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            self.on_timer(now, timer);
        }
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: Input<R>) {
        match input {
            Input::Recognize { request_id, params } => self.on_recognize(now, request_id, params),
            Input::StartInputTimers { request_id } => self.on_start_input_timers(now, request_id),
            Input::Stop { request_id } => self.on_stop(request_id),
            Input::GetResult { request_id } => self.on_get_result(request_id),
            Input::SpeechStarted => self.on_speech_started(now),
            Input::SpeechEnded => self.on_speech_ended(now),
            Input::EngineHeardSpeech => {
                if self.active().is_some_and(|a| !a.speech_heard) {
                    self.on_speech_started(now);
                }
            }
            Input::Dtmf(digit) => self.on_dtmf(now, digit),
            Input::Hypothesis { complete } => self.on_hypothesis(complete),
            Input::EngineResult(outcome) => self.on_engine_result(now, outcome),
            Input::EngineFailed => {
                if self.active().is_some_and(|a| a.engine_running) {
                    self.complete(now, RecognizerCause::RecognizerError, Outcome::None);
                }
            }
        }
    }

    fn active(&self) -> Option<&Active> {
        match &self.state {
            State::Recognizing(a) => Some(a),
            _ => None,
        }
    }

    fn active_mut(&mut self) -> Option<&mut Active> {
        match &mut self.state {
            State::Recognizing(a) => Some(a),
            _ => None,
        }
    }

    fn respond(&mut self, request_id: RequestId, status: StatusCode, state: RequestState) {
        self.outputs.push_back(Output::Response {
            request_id,
            status,
            state,
            active_request_ids: Vec::new(),
            result: None,
        });
    }

    fn on_recognize(&mut self, now: Instant, request_id: RequestId, params: RecognizeParams) {
        let Some(active) = self.active() else {
            self.respond(request_id, StatusCode::SUCCESS, RequestState::InProgress);
            self.begin(now, request_id, params);
            return;
        };
        if active.params.cancel_if_queue {
            // Cancel-If-Queue (§9.4): the running request ends as cancelled and the new one runs.
            self.complete(now, RecognizerCause::Cancelled, Outcome::None);
            // `complete` started nothing: the queue was empty, or held a request queued before this one.
            if self.is_recognizing() {
                self.queue(request_id, params);
            } else {
                self.respond(request_id, StatusCode::SUCCESS, RequestState::InProgress);
                self.begin(now, request_id, params);
            }
        } else {
            self.queue(request_id, params);
        }
    }

    /// Queues one RECOGNIZE behind the running one; a second is refused (402), as the queue holds one.
    fn queue(&mut self, request_id: RequestId, params: RecognizeParams) {
        if self.queued.is_some() {
            self.respond(
                request_id,
                StatusCode::METHOD_NOT_VALID_IN_STATE,
                RequestState::Complete,
            );
        } else {
            self.respond(request_id, StatusCode::SUCCESS, RequestState::Pending);
            self.queued = Some((request_id, params));
        }
    }

    /// Starts a recognition whose response was already sent.
    fn begin(&mut self, now: Instant, request_id: RequestId, params: RecognizeParams) {
        self.timers.clear();
        self.timers
            .arm(RecognizerTimer::MaxDuration, now + params.max_duration);
        if params.mode == Mode::Hotword {
            self.timers.arm(
                RecognizerTimer::HotwordMax,
                now + params.hotword_max_duration,
            );
        }
        let engine_running = params.speech;
        if engine_running {
            self.outputs.push_back(Output::StartEngine { request_id });
        }
        let start_timers = params.start_input_timers;
        let too_early = params.speech_too_early;
        self.state = State::Recognizing(Box::new(Active {
            request_id,
            params,
            timers_started: false,
            start_of_input_sent: false,
            speech_heard: false,
            in_speech: false,
            speech_ended_at: None,
            speech_started_at: None,
            utterance: Duration::ZERO,
            hypothesis_complete: None,
            digits: String::new(),
            engine_running,
            input_end: None,
        }));
        if too_early {
            self.complete(now, RecognizerCause::SpeechTooEarly, Outcome::None);
            return;
        }
        if start_timers {
            self.start_input_timers(now);
        }
    }

    fn start_input_timers(&mut self, now: Instant) {
        let Some(active) = self.active_mut() else {
            return;
        };
        if active.timers_started {
            return;
        }
        active.timers_started = true;
        let no_input = active.params.no_input_timeout;
        let heard = active.start_of_input_sent;
        // Hotword recognition listens until a match or Hotword-Max-Duration (§9.4), not for no-input.
        let hotword = active.params.mode == Mode::Hotword;
        if !heard && !hotword && !no_input.is_zero() {
            self.timers.arm(RecognizerTimer::NoInput, now + no_input);
        }
    }

    fn on_start_input_timers(&mut self, now: Instant, request_id: RequestId) {
        // Always 200 COMPLETE, also in the race where the recognition has just completed (see module docs).
        self.respond(request_id, StatusCode::SUCCESS, RequestState::Complete);
        self.start_input_timers(now);
    }

    fn on_stop(&mut self, request_id: RequestId) {
        let mut stopped = Vec::new();
        if let State::Recognizing(active) = std::mem::replace(&mut self.state, State::Idle) {
            stopped.push(active.request_id);
            if active.engine_running {
                self.outputs.push_back(Output::CancelEngine {
                    request_id: active.request_id,
                });
            }
        } else if let State::Recognized(outcome) = std::mem::replace(&mut self.state, State::Idle) {
            // STOP with nothing running leaves the last result in place for GET-RESULT.
            self.state = State::Recognized(outcome);
        }
        if let Some((queued, _)) = self.queued.take() {
            stopped.push(queued);
        }
        self.timers.clear();
        // §9.10: the response lists the requests it ended; none of them gets RECOGNITION-COMPLETE.
        self.outputs.push_back(Output::Response {
            request_id,
            status: StatusCode::SUCCESS,
            state: RequestState::Complete,
            active_request_ids: stopped,
            result: None,
        });
    }

    fn on_get_result(&mut self, request_id: RequestId) {
        match &self.state {
            State::Recognized(outcome) => {
                let result = Some(outcome.clone());
                self.outputs.push_back(Output::Response {
                    request_id,
                    status: StatusCode::SUCCESS,
                    state: RequestState::Complete,
                    active_request_ids: Vec::new(),
                    result,
                });
            }
            // §9.11: GET-RESULT is valid only after a recognition completed.
            _ => self.respond(
                request_id,
                StatusCode::METHOD_NOT_VALID_IN_STATE,
                RequestState::Complete,
            ),
        }
    }

    /// Sends START-OF-INPUT once per request and stops the no-input timer.
    fn input_started(&mut self, kind: InputKind) {
        let Some(active) = self.active_mut() else {
            return;
        };
        if active.start_of_input_sent {
            return;
        }
        active.start_of_input_sent = true;
        let request_id = active.request_id;
        self.timers.disarm(RecognizerTimer::NoInput);
        self.outputs.push_back(Output::StartOfInput {
            request_id,
            input: kind,
        });
    }

    fn on_speech_started(&mut self, now: Instant) {
        let Some(active) = self.active_mut() else {
            return;
        };
        if !active.params.speech || active.input_end.is_some() {
            return;
        }
        active.in_speech = true;
        active.speech_ended_at = None;
        active.speech_started_at = Some(now);
        let first = !active.speech_heard;
        active.speech_heard = true;
        let recognition_timeout = active.params.recognition_timeout;
        self.timers.disarm(RecognizerTimer::EndOfSpeech);
        if first {
            self.timers
                .arm(RecognizerTimer::Recognition, now + recognition_timeout);
        }
        self.input_started(InputKind::Speech);
    }

    fn on_speech_ended(&mut self, now: Instant) {
        let Some(active) = self.active_mut() else {
            return;
        };
        if !active.in_speech || active.input_end.is_some() {
            return;
        }
        active.in_speech = false;
        active.speech_ended_at = Some(now);
        active.utterance = active
            .speech_started_at
            .map_or(Duration::ZERO, |start| now.saturating_duration_since(start));
        self.arm_end_of_speech();
    }

    fn on_hypothesis(&mut self, complete: bool) {
        let Some(active) = self.active_mut() else {
            return;
        };
        active.hypothesis_complete = Some(complete);
        if active.speech_ended_at.is_some() && active.input_end.is_none() {
            self.arm_end_of_speech();
        }
    }

    /// Arms the silence timer after speech: Speech-Incomplete-Timeout while the hypothesis is known to be
    /// incomplete, Speech-Complete-Timeout otherwise (§9.4.15, §9.4.16).
    fn arm_end_of_speech(&mut self) {
        let Some(active) = self.active() else { return };
        let Some(ended) = active.speech_ended_at else {
            return;
        };
        let wait = if active.hypothesis_complete == Some(false) {
            active.params.speech_incomplete_timeout
        } else {
            active.params.speech_complete_timeout
        };
        self.timers.arm(RecognizerTimer::EndOfSpeech, ended + wait);
    }

    fn on_dtmf(&mut self, now: Instant, digit: char) {
        let Some(active) = self.active_mut() else {
            return;
        };
        if active.params.dtmf.is_none() || active.input_end.is_some() {
            return;
        }
        let terminator = active.params.dtmf_term_char == Some(digit);
        if !terminator {
            active.digits.push(digit);
        }
        self.input_started(InputKind::Dtmf);
        let Some(active) = self.active() else { return };
        let fit = active
            .params
            .dtmf
            .as_ref()
            .map_or(DtmfMatch::NoMatch, |g| g.classify(&active.digits));
        let (interdigit, term, early_no_match) = (
            active.params.dtmf_interdigit_timeout,
            active.params.dtmf_term_timeout,
            active.params.early_no_match,
        );
        self.timers.disarm(RecognizerTimer::DtmfInterdigit);
        self.timers.disarm(RecognizerTimer::DtmfTerm);
        match (terminator, fit) {
            (_, DtmfMatch::Complete { extendable: false }) | (true, DtmfMatch::Complete { .. }) => {
                self.complete_dtmf(now, RecognizerCause::Success);
            }
            (true, _) => self.complete_dtmf(now, RecognizerCause::NoMatch),
            (false, DtmfMatch::NoMatch) if early_no_match => {
                self.complete_dtmf(now, RecognizerCause::NoMatch)
            }
            // Without Early-No-Match the input ends at the interdigit timeout (or a term char), as a no-match.
            (false, DtmfMatch::NoMatch) => self
                .timers
                .arm(RecognizerTimer::DtmfInterdigit, now + interdigit),
            (false, DtmfMatch::Complete { extendable: true }) => {
                self.timers.arm(RecognizerTimer::DtmfTerm, now + term);
            }
            (false, DtmfMatch::Incomplete) => self
                .timers
                .arm(RecognizerTimer::DtmfInterdigit, now + interdigit),
        }
    }

    fn complete_dtmf(&mut self, now: Instant, cause: RecognizerCause) {
        let digits = self.active().map(|a| a.digits.clone()).unwrap_or_default();
        self.complete(now, cause, Outcome::Dtmf(digits));
    }

    /// Ends speech input: the engine is asked for its final result, within the engine deadline.
    fn end_input(&mut self, now: Instant, why: InputEnd) {
        let Some(active) = self.active_mut() else {
            return;
        };
        if active.input_end.is_some() {
            return;
        }
        active.input_end = Some(why);
        let (request_id, deadline) = (active.request_id, active.params.engine_deadline);
        for t in [
            RecognizerTimer::EndOfSpeech,
            RecognizerTimer::Recognition,
            RecognizerTimer::NoInput,
        ] {
            self.timers.disarm(t);
        }
        self.timers
            .arm(RecognizerTimer::EngineDeadline, now + deadline);
        self.outputs
            .push_back(Output::FinishEngineInput { request_id });
    }

    fn on_timer(&mut self, now: Instant, timer: RecognizerTimer) {
        let Some(active) = self.active() else { return };
        let dtmf_fit = || {
            active
                .params
                .dtmf
                .as_ref()
                .map(|g| g.classify(&active.digits))
        };
        let has_digits = !active.digits.is_empty();
        match timer {
            RecognizerTimer::NoInput => {
                self.complete(now, RecognizerCause::NoInputTimeout, Outcome::None)
            }
            RecognizerTimer::EndOfSpeech => self.end_input(now, InputEnd::Silence),
            RecognizerTimer::Recognition => self.end_input(now, InputEnd::Maxtime),
            RecognizerTimer::DtmfTerm => self.complete_dtmf(now, RecognizerCause::Success),
            RecognizerTimer::DtmfInterdigit => {
                let cause = match dtmf_fit() {
                    Some(DtmfMatch::Complete { .. }) => RecognizerCause::Success,
                    _ => RecognizerCause::NoMatch,
                };
                self.complete_dtmf(now, cause);
            }
            RecognizerTimer::HotwordMax => {
                self.complete(now, RecognizerCause::HotwordMaxtime, Outcome::None);
            }
            RecognizerTimer::MaxDuration => {
                if has_digits {
                    let cause = match dtmf_fit() {
                        Some(DtmfMatch::Complete { .. }) => RecognizerCause::SuccessMaxtime,
                        _ => RecognizerCause::NoMatchMaxtime,
                    };
                    self.complete_dtmf(now, cause);
                } else if active.speech_heard {
                    self.end_input(now, InputEnd::Maxtime);
                } else {
                    self.complete(now, RecognizerCause::NoInputTimeout, Outcome::None);
                }
            }
            RecognizerTimer::EngineDeadline => {
                self.complete(now, RecognizerCause::RecognizerError, Outcome::None);
            }
        }
    }

    fn on_engine_result(&mut self, now: Instant, outcome: EngineOutcome<R>) {
        let Some(active) = self.active() else { return };
        if !active.engine_running {
            return;
        }
        let maxtime = active.input_end == Some(InputEnd::Maxtime);
        let (threshold, hotword) = (
            active.params.confidence_threshold,
            active.params.mode == Mode::Hotword,
        );
        let long_enough = active.utterance >= active.params.hotword_min_duration;
        let (matched, result) = match outcome {
            EngineOutcome::Match { confidence, result } => (confidence >= threshold, Some(result)),
            EngineOutcome::NoMatch { result } => (false, result),
        };
        // Hotword-Min-Duration (§9.4): a hotword said too briefly is treated as no hotword.
        let matched = matched && (!hotword || long_enough);
        if !matched && hotword && !maxtime {
            // Hotword mode ignores what does not match and keeps listening (Recognition-Mode, §9.4).
            self.restart_hotword();
            return;
        }
        let cause = match (matched, maxtime) {
            (true, false) => RecognizerCause::Success,
            (true, true) => RecognizerCause::SuccessMaxtime,
            (false, false) => RecognizerCause::NoMatch,
            (false, true) => RecognizerCause::NoMatchMaxtime,
        };
        self.complete(now, cause, Outcome::Speech(result));
    }

    fn restart_hotword(&mut self) {
        let Some(active) = self.active_mut() else {
            return;
        };
        let request_id = active.request_id;
        active.input_end = None;
        active.in_speech = false;
        active.speech_ended_at = None;
        active.hypothesis_complete = None;
        self.timers.disarm(RecognizerTimer::EngineDeadline);
        self.timers.disarm(RecognizerTimer::Recognition);
        self.outputs.push_back(Output::CancelEngine { request_id });
        self.outputs.push_back(Output::StartEngine { request_id });
    }

    /// Ends the running recognition with RECOGNITION-COMPLETE and starts the queued one, if any.
    fn complete(&mut self, now: Instant, cause: RecognizerCause, outcome: Outcome<R>) {
        let State::Recognizing(active) = std::mem::replace(&mut self.state, State::Idle) else {
            return;
        };
        self.timers.clear();
        if active.engine_running {
            self.outputs.push_back(Output::CancelEngine {
                request_id: active.request_id,
            });
        }
        self.outputs.push_back(Output::RecognitionComplete {
            request_id: active.request_id,
            cause,
            outcome: outcome.clone(),
        });
        self.state = State::Recognized(outcome);
        if let Some((request_id, params)) = self.queued.take() {
            self.begin(now, request_id, params);
        }
    }
}
