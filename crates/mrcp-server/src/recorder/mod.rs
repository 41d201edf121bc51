//! The recorder resource (RFC 6787 §10) as a sans-IO state machine.
//!
//! The session feeds it RECORD, STOP and START-INPUT-TIMERS, the call's decoded audio and the endpointer's
//! speech start and end (as audio offsets since the RECORD began), each with the current time. It answers
//! with [`Output`]s (responses, START-OF-INPUT, RECORD-COMPLETE with the captured samples) and a deadline
//! for [`RecorderMachine::handle_timeout`]. It never reads the clock and does no I/O: writing the recording
//! is the session's work.
//!
//! ```text
//!           RECORD (200 IN-PROGRESS)
//!   Idle ─────────────────────────────▶ Recording ── Final-Silence after speech (000), Max-Time (001),
//!    ▲   ◀── STOP (200 COMPLETE, with      │          No-Input-Timeout (002): RECORD-COMPLETE ──┐
//!    │       what was recorded) ───────────┘                                                    │
//!    └──────────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Rules it keeps:
//! * one RECORD at a time: the recorder has no queue, a RECORD while recording gets `402` (§10.6);
//! * Max-Time and Final-Silence are counted in audio received, so the recording holds exactly the audio the
//!   caller sent (Max-Time of audio, or the speech plus Final-Silence of silence); a wall-clock bound
//!   ([`RecorderTimer::MaxDuration`]) still ends a recording whose audio stopped arriving, so every RECORD
//!   completes;
//! * No-Input-Timeout runs from the RECORD, or from START-INPUT-TIMERS when the RECORD said
//!   `Start-Input-Timers: false` (§10.4.14), until the first speech;
//! * START-OF-INPUT goes out once, at the first speech (§10.10), which also barges in on the session's prompt;
//! * with Capture-On-Speech (§10.4.12) capture starts where the endpointer placed the start of speech (a
//!   short pre-roll is kept for that), else at once;
//! * Trim-Length (§10.4.10), on the RECORD or on the STOP, removes that much audio from the end;
//! * STOP ends the recording without RECORD-COMPLETE; its response carries what was recorded (§10.7).

mod params;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mrcp_proto::mrcp::header::RecorderCause;
use mrcp_proto::mrcp::{RequestId, RequestState, StatusCode};

pub use params::{RecordParams, RecordTarget, Refusal, resolve};

/// Audio kept before speech while Capture-On-Speech waits, so that capture can start where the speech
/// started (the endpointer reports it only after its minimum speech duration).
const PRE_ROLL: Duration = Duration::from_millis(500);

/// How long after the capture's Max-Time worth of wall time the server gives up waiting for audio.
const STALL_GRACE: Duration = Duration::from_secs(2);

/// The margin of the wall-clock bound before capture starts, past No-Input-Timeout and Max-Time, for a
/// client that starts the input timers late.
const WAIT_MARGIN: Duration = Duration::from_secs(60);

/// One timer of a running RECORD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecorderTimer {
    /// No-Input-Timeout (§10.4.2): no speech since the input timers started.
    NoInput,
    /// The server's wall-clock bound on a RECORD, so that one completes even when audio stops arriving.
    MaxDuration,
}

/// Captured audio: mono 16-bit samples at the call's rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// Samples per second.
    pub rate: u32,
    /// The samples.
    pub samples: Vec<i16>,
}

impl Recording {
    /// The length of the audio.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.samples.len() as u64 * 1000 / u64::from(self.rate.max(1)))
    }
}

/// An input to the machine (audio goes through [`RecorderMachine::handle_audio`]).
#[derive(Debug)]
pub enum Input {
    /// RECORD (§10.6).
    Record {
        /// The request.
        request_id: RequestId,
        /// Its effective parameters.
        params: RecordParams,
    },
    /// START-INPUT-TIMERS (§10.9).
    StartInputTimers {
        /// The request.
        request_id: RequestId,
    },
    /// STOP (§10.7).
    Stop {
        /// The request.
        request_id: RequestId,
        /// The STOP's own Trim-Length, which replaces the RECORD's.
        trim_length: Option<Duration>,
    },
    /// The endpointer heard speech start, this far into the audio fed since the RECORD.
    SpeechStarted {
        /// Audio offset of the start of speech.
        at: Duration,
    },
    /// The endpointer heard speech end, this far into the audio fed since the RECORD.
    SpeechEnded {
        /// Audio offset of the end of speech.
        at: Duration,
    },
}

/// An output of the machine, for the session to carry out in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The one response to a request.
    Response {
        /// The request answered.
        request_id: RequestId,
        /// The status code.
        status: StatusCode,
        /// IN-PROGRESS or COMPLETE.
        state: RequestState,
        /// Active-Request-Id-List (§6.2.3), for STOP.
        active_request_ids: Vec<RequestId>,
        /// What a STOP ended the recording with (§10.7: its Record-URI goes in the STOP response).
        recording: Option<Recording>,
    },
    /// START-OF-INPUT (§10.10), IN-PROGRESS.
    StartOfInput {
        /// The running RECORD.
        request_id: RequestId,
    },
    /// RECORD-COMPLETE (§10.8), COMPLETE.
    RecordComplete {
        /// The RECORD that ended.
        request_id: RequestId,
        /// Completion-Cause.
        cause: RecorderCause,
        /// The audio, except after No-Input-Timeout.
        recording: Option<Recording>,
    },
}

/// The running RECORD.
#[derive(Debug)]
struct Active {
    request_id: RequestId,
    params: RecordParams,
    timers_started: bool,
    /// START-OF-INPUT went out.
    heard: bool,
    in_speech: bool,
    /// Offset (samples since the RECORD) of the end of the last speech, while not in speech.
    speech_end: Option<u64>,
    /// Samples fed since the RECORD.
    fed: u64,
    /// Offset of `buffer[0]`.
    base: u64,
    /// Offset where capture starts; `None` while Capture-On-Speech waits for speech.
    capture_from: Option<u64>,
    buffer: Vec<i16>,
}

impl Active {
    fn samples_in(&self, d: Duration) -> u64 {
        let n = d.as_nanos() * u128::from(self.params.rate) / 1_000_000_000;
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// An audio offset from the endpointer, rounded to the nearest sample.
    fn offset_of(&self, at: Duration) -> u64 {
        let n = (at.as_nanos() * u128::from(self.params.rate) + 500_000_000) / 1_000_000_000;
        u64::try_from(n).unwrap_or(u64::MAX).min(self.fed)
    }

    /// The captured samples up to offset `end`, less `trim`.
    fn take(&mut self, end: u64, trim: Duration) -> Option<Recording> {
        let from = self.capture_from?;
        let start = usize::try_from(from.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let stop = usize::try_from(end.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let stop = stop.min(self.buffer.len());
        let start = start.min(stop);
        let trim = usize::try_from(self.samples_in(trim)).unwrap_or(usize::MAX);
        let stop = stop.saturating_sub(trim).max(start);
        let samples = self.buffer.get(start..stop).map(<[i16]>::to_vec)?;
        Some(Recording {
            rate: self.params.rate,
            samples,
        })
    }
}

/// The recorder resource of one channel.
#[derive(Debug, Default)]
pub struct RecorderMachine {
    active: Option<Box<Active>>,
    no_input_at: Option<Instant>,
    max_duration_at: Option<Instant>,
    outputs: VecDeque<Output>,
}

impl RecorderMachine {
    /// A recorder in the idle state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a RECORD is running (the session listens to the audio only then).
    pub fn is_recording(&self) -> bool {
        self.active.is_some()
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.no_input_at, self.max_duration_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires every timer due at `now`; a call with nothing due does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.no_input_at.is_some_and(|at| at <= now) {
            self.no_input_at = None;
            self.on_timer(now, RecorderTimer::NoInput);
        }
        if self.max_duration_at.is_some_and(|at| at <= now) {
            self.max_duration_at = None;
            self.on_timer(now, RecorderTimer::MaxDuration);
        }
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Record { request_id, params } => self.on_record(now, request_id, params),
            Input::StartInputTimers { request_id } => {
                // Always 200 COMPLETE, also in the race where the recording has just ended.
                self.respond(request_id, StatusCode::SUCCESS, RequestState::Complete);
                self.start_input_timers(now);
            }
            Input::Stop {
                request_id,
                trim_length,
            } => self.on_stop(request_id, trim_length),
            Input::SpeechStarted { at } => self.on_speech_started(now, at),
            Input::SpeechEnded { at } => self.on_speech_ended(at),
        }
    }

    /// Feeds decoded audio from the call, in order, at the rate the RECORD was given.
    pub fn handle_audio(&mut self, _now: Instant, samples: &[i16]) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        active.buffer.extend_from_slice(samples);
        active.fed += samples.len() as u64;
        if active.capture_from.is_none() {
            // Waiting for speech: keep only the pre-roll.
            let keep = usize::try_from(active.samples_in(PRE_ROLL)).unwrap_or(usize::MAX);
            let excess = active.buffer.len().saturating_sub(keep);
            if excess > 0 {
                active.buffer.drain(..excess);
                active.base += excess as u64;
            }
        }
        self.check_limits();
    }

    fn respond(&mut self, request_id: RequestId, status: StatusCode, state: RequestState) {
        self.outputs.push_back(Output::Response {
            request_id,
            status,
            state,
            active_request_ids: Vec::new(),
            recording: None,
        });
    }

    fn on_record(&mut self, now: Instant, request_id: RequestId, params: RecordParams) {
        if self.active.is_some() {
            // §10.6: the recorder does not queue.
            return self.respond(
                request_id,
                StatusCode::METHOD_NOT_VALID_IN_STATE,
                RequestState::Complete,
            );
        }
        self.respond(request_id, StatusCode::SUCCESS, RequestState::InProgress);
        let start_timers = params.start_input_timers;
        let capture_now = !params.capture_on_speech;
        let bound = params.no_input_timeout + params.max_time + WAIT_MARGIN;
        let max_time = params.max_time;
        self.active = Some(Box::new(Active {
            request_id,
            params,
            timers_started: false,
            heard: false,
            in_speech: false,
            speech_end: None,
            fed: 0,
            base: 0,
            capture_from: capture_now.then_some(0),
            buffer: Vec::new(),
        }));
        self.no_input_at = None;
        self.max_duration_at = Some(if capture_now {
            now + max_time + STALL_GRACE
        } else {
            now + bound
        });
        if start_timers {
            self.start_input_timers(now);
        }
    }

    fn start_input_timers(&mut self, now: Instant) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        if active.timers_started {
            return;
        }
        active.timers_started = true;
        let no_input = active.params.no_input_timeout;
        if !active.heard && !no_input.is_zero() {
            self.no_input_at = Some(now + no_input);
        }
    }

    fn on_stop(&mut self, request_id: RequestId, trim_length: Option<Duration>) {
        let mut stopped = Vec::new();
        let mut recording = None;
        if let Some(mut active) = self.active.take() {
            stopped.push(active.request_id);
            let trim = trim_length.unwrap_or(active.params.trim_length);
            let end = active.fed;
            recording = active.take(end, trim);
        }
        self.no_input_at = None;
        self.max_duration_at = None;
        // §10.7: the response lists the RECORD it ended and carries its recording; no RECORD-COMPLETE.
        self.outputs.push_back(Output::Response {
            request_id,
            status: StatusCode::SUCCESS,
            state: RequestState::Complete,
            active_request_ids: stopped,
            recording,
        });
    }

    fn on_speech_started(&mut self, now: Instant, at: Duration) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        active.in_speech = true;
        active.speech_end = None;
        if active.capture_from.is_none() {
            // Capture-On-Speech: from where the speech started, as far back as the pre-roll reaches.
            let from = active.offset_of(at).max(active.base);
            active.capture_from = Some(from);
            self.max_duration_at = Some(now + active.params.max_time + STALL_GRACE);
        }
        if !active.heard {
            active.heard = true;
            let request_id = active.request_id;
            self.no_input_at = None;
            self.outputs.push_back(Output::StartOfInput { request_id });
        }
        self.check_limits();
    }

    fn on_speech_ended(&mut self, at: Duration) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        if !active.in_speech {
            return;
        }
        active.in_speech = false;
        active.speech_end = Some(active.offset_of(at));
        self.check_limits();
    }

    /// Ends the recording when the audio fed reaches Max-Time or Final-Silence after speech.
    fn check_limits(&mut self) {
        let Some(active) = self.active.as_ref() else {
            return;
        };
        let Some(from) = active.capture_from else {
            return;
        };
        let max_end = from.saturating_add(active.samples_in(active.params.max_time));
        let silence_end = match (active.in_speech, active.speech_end) {
            (false, Some(end)) if !active.params.final_silence.is_zero() => {
                Some(end.saturating_add(active.samples_in(active.params.final_silence)))
            }
            _ => None,
        };
        if let Some(end) = silence_end.filter(|&e| active.fed >= e && e <= max_end) {
            self.complete(RecorderCause::SuccessSilence, Some(end));
        } else if active.fed >= max_end {
            self.complete(RecorderCause::SuccessMaxtime, Some(max_end));
        }
    }

    fn on_timer(&mut self, _now: Instant, timer: RecorderTimer) {
        let Some(active) = self.active.as_ref() else {
            return;
        };
        match timer {
            RecorderTimer::NoInput => self.complete(RecorderCause::NoInputTimeout, None),
            RecorderTimer::MaxDuration => {
                if active.capture_from.is_some() {
                    let fed = active.fed;
                    self.complete(RecorderCause::SuccessMaxtime, Some(fed));
                } else {
                    self.complete(RecorderCause::NoInputTimeout, None);
                }
            }
        }
    }

    /// Ends the running RECORD with RECORD-COMPLETE; `end` is the offset the recording stops at (`None`:
    /// no recording).
    fn complete(&mut self, cause: RecorderCause, end: Option<u64>) {
        let Some(mut active) = self.active.take() else {
            return;
        };
        self.no_input_at = None;
        self.max_duration_at = None;
        let trim = active.params.trim_length;
        let recording = end.and_then(|end| active.take(end, trim));
        self.outputs.push_back(Output::RecordComplete {
            request_id: active.request_id,
            cause,
            recording,
        });
    }
}
