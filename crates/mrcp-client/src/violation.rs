//! Strict and lenient conformance: what FreeSWITCH's `mod_unimrcp` and Asterisk's `app_unimrcp` (both on the
//! UniMRCP client library) fail on, as named [`Violation`]s (RFC 6787 §5.3–§5.5, reference §6, §7.6, §8.3).
//!
//! [`Conformance`] is a sans-IO checker: the session tells it each request it sends and each message it
//! receives, and it answers whether UniMRCP would accept the message. In [`Mode::Strict`] (the default) the
//! first violation ends the operation with an error, as the real clients put the channel into ERROR; in
//! [`Mode::Lenient`] it is logged and kept, and the message is taken anyway, so a diagnostic run goes on.
//!
//! UniMRCP's rules, as checked here:
//! - one outstanding request per channel; a response with another request-id is dropped ("Unexpected MRCP
//!   Response"), and so is a second response to the same request (PENDING then IN-PROGRESS);
//! - RECOGNIZE, SPEAK and RECORD are answered `200 IN-PROGRESS`, other methods `COMPLETE`;
//! - a recognizer accepts START-OF-INPUT and RECOGNITION-COMPLETE, a synthesizer only SPEAK-COMPLETE (no
//!   SPEECH-MARKER); any other event puts the channel into ERROR;
//! - every message carries the session's Channel-Identifier;
//! - the completion event carries Completion-Cause (Asterisk requires it);
//! - TTS audio counts only between the IN-PROGRESS and SPEAK-COMPLETE (reference §8.3).

use std::fmt;
use std::time::Duration;

use mrcp_proto::mrcp::{ChannelId, Message, Method, RequestId, RequestState, StartLine};

/// How the client reacts to a violation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Fail as FreeSWITCH and Asterisk fail: the operation ends with [`crate::ClientError::Violation`].
    #[default]
    Strict,
    /// Log the violation, keep it in [`Conformance::violations`] and carry on (diagnostics).
    Lenient,
}

/// When TTS audio arrived outside its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioTiming {
    /// Before the SPEAK's IN-PROGRESS response (UniMRCP clients discard it).
    BeforeInProgress,
    /// After SPEAK-COMPLETE (FreeSWITCH discards it: the tail of the prompt is lost).
    AfterComplete,
}

impl fmt::Display for AudioTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AudioTiming::BeforeInProgress => "before the IN-PROGRESS response to",
            AudioTiming::AfterComplete => "after SPEAK-COMPLETE of",
        })
    }
}

/// Something the server did that a UniMRCP-based client (FreeSWITCH, Asterisk) fails on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A response or event for a request other than the outstanding one (UniMRCP drops it and stalls).
    #[error("the server sent \"{start}\" while {}", awaiting(*.expected))]
    WrongRequestId {
        /// The request awaited, if any.
        expected: Option<RequestId>,
        /// The request-id the server used.
        got: RequestId,
        /// The start line received.
        start: String,
    },
    /// An event the client does not accept for this request (any but START-OF-INPUT and the completion
    /// event for a recognizer, any but SPEAK-COMPLETE for a synthesizer, anything after completion).
    #[error(
        "the server sent the event {event} for {method} {request}, which the client does not accept"
    )]
    UnexpectedEvent {
        /// The event name.
        event: String,
        /// The request it named.
        request: RequestId,
        /// That request's method.
        method: Method,
    },
    /// A second response to a request already answered (e.g. PENDING then IN-PROGRESS).
    #[error("the server sent a second response to request {request} ({state} after {first})")]
    SecondResponse {
        /// The request.
        request: RequestId,
        /// The state of its first response.
        first: RequestState,
        /// The state of this one.
        state: RequestState,
    },
    /// A success response with the wrong request-state (SPEAK or RECOGNIZE answered PENDING or COMPLETE).
    #[error(
        "the server answered {method} {request} with {status} {got}, where {expected} was required"
    )]
    WrongRequestState {
        /// The request.
        request: RequestId,
        /// Its method.
        method: Method,
        /// The status code.
        status: u16,
        /// The state required.
        expected: RequestState,
        /// The state sent.
        got: RequestState,
    },
    /// RTP outside the SPEAK: before its IN-PROGRESS or after its SPEAK-COMPLETE.
    #[error("the server sent {packets} RTP packet(s) {when} SPEAK {request}")]
    AudioOutsideRequest {
        /// The SPEAK.
        request: RequestId,
        /// Packets counted.
        packets: u64,
        /// Before or after.
        when: AudioTiming,
    },
    /// An IN-PROGRESS request never completed within the client's request timeout.
    #[error("the server never completed {method} {request}: no {event} within {} ms", waited.as_millis())]
    NeverCompleted {
        /// The request.
        request: RequestId,
        /// Its method.
        method: Method,
        /// The completion event awaited.
        event: &'static str,
        /// How long the client waited after the last message.
        waited: Duration,
    },
    /// A message whose Channel-Identifier is not the session's (or is missing or malformed).
    #[error("the server sent \"{start}\" on channel {got}, the session's channel is {expected}")]
    WrongChannel {
        /// The session's channel.
        expected: ChannelId,
        /// What the message carried (`none` when absent).
        got: String,
        /// The start line received.
        start: String,
    },
    /// A completion event without Completion-Cause.
    #[error("the server sent {event} for request {request} without a Completion-Cause")]
    MissingCompletionCause {
        /// The event name.
        event: String,
        /// Its request.
        request: RequestId,
    },
    /// A request from the server: MRCPv2 servers send responses and events only (RFC 6787 §5).
    #[error("the server sent a request: \"{start}\"")]
    RequestFromServer {
        /// The start line received.
        start: String,
    },
    /// RTP with a payload type other than the negotiated one (UniMRCP ignores it).
    #[error("the server sent RTP with payload type {got}, the answer negotiated {negotiated}")]
    WrongPayloadType {
        /// The payload type received.
        got: u8,
        /// The negotiated one.
        negotiated: u8,
    },
    /// RTP sent to the RTCP port (RTP port + 1) instead of the offered RTP port.
    #[error(
        "the server sent {packets} RTP packet(s) to port {port}, not to the offered RTP port {rtp_port}"
    )]
    RtpToWrongPort {
        /// The port the packets reached.
        port: u16,
        /// The offered RTP port.
        rtp_port: u16,
        /// Packets counted.
        packets: u64,
    },
    /// SPEAK completed with success but no RTP reached the offered port.
    #[error("the server completed SPEAK {request} but sent no RTP to port {port}")]
    NoAudio {
        /// The SPEAK.
        request: RequestId,
        /// The offered RTP port.
        port: u16,
    },
    /// A recognition result that is not NLSML (Asterisk parses it, RFC 6787 §9.6).
    #[error("the server sent a {event} body that is not NLSML: {reason}")]
    BadResult {
        /// The event.
        event: String,
        /// The parser's message.
        reason: String,
    },
}

fn awaiting(expected: Option<RequestId>) -> String {
    match expected {
        Some(id) => format!("request {id} was outstanding"),
        None => "no request was outstanding".to_owned(),
    }
}

impl Violation {
    /// A stable kebab-case name, for reports and logs (`wrong-request-id`, `never-completed`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Violation::WrongRequestId { .. } => "wrong-request-id",
            Violation::UnexpectedEvent { .. } => "unexpected-event",
            Violation::SecondResponse { .. } => "second-response",
            Violation::WrongRequestState { .. } => "wrong-request-state",
            Violation::AudioOutsideRequest { .. } => "audio-outside-request",
            Violation::NeverCompleted { .. } => "never-completed",
            Violation::WrongChannel { .. } => "wrong-channel",
            Violation::MissingCompletionCause { .. } => "missing-completion-cause",
            Violation::RequestFromServer { .. } => "request-from-server",
            Violation::WrongPayloadType { .. } => "wrong-payload-type",
            Violation::RtpToWrongPort { .. } => "rtp-to-wrong-port",
            Violation::NoAudio { .. } => "no-audio",
            Violation::BadResult { .. } => "bad-result",
        }
    }
}

/// What an accepted message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// The response to the outstanding request.
    Response {
        /// The request it answers.
        request: RequestId,
    },
    /// An event of an IN-PROGRESS request; `complete` when it ends the request.
    Event {
        /// The request.
        request: RequestId,
        /// Whether this is the request's completion event with state COMPLETE.
        complete: bool,
    },
    /// A message taken despite a violation (lenient mode only).
    Tolerated,
}

/// Requests remembered as answered, to tell a second response from a stray one.
const ANSWERED_KEPT: usize = 32;

/// The events a request may produce, the last being its completion event (RFC 6787 §8.5, §9.2, §10.2).
pub fn events_of(method: &Method) -> &'static [&'static str] {
    match method.as_str() {
        "RECOGNIZE" => &["START-OF-INPUT", "RECOGNITION-COMPLETE"],
        "SPEAK" => &["SPEAK-COMPLETE"],
        "RECORD" => &["START-OF-INPUT", "RECORD-COMPLETE"],
        _ => &[],
    }
}

/// Whether a success response to `method` must be IN-PROGRESS (events follow) rather than COMPLETE.
pub fn answered_in_progress(method: &Method) -> bool {
    !events_of(method).is_empty()
}

/// The completion event of `method`, if it has one.
pub fn completion_event(method: &Method) -> Option<&'static str> {
    events_of(method).last().copied()
}

/// The sans-IO conformance checker of one channel.
#[derive(Debug, Clone)]
pub struct Conformance {
    mode: Mode,
    channel: ChannelId,
    /// Requests awaiting their response, oldest first, each with whether it was sent behind another request
    /// (queued: PENDING is then a legal answer). UniMRCP never has more than one; a caller may pipeline.
    outstanding: Vec<(RequestId, Method, bool)>,
    in_progress: Vec<(RequestId, Method)>,
    answered: Vec<(RequestId, RequestState)>,
    /// SPEAK requests ended by STOP: a trailing SPEAK-COMPLETE is harmless (reference §8.3).
    stopped: Vec<RequestId>,
    violations: Vec<Violation>,
}

impl Conformance {
    /// A checker for `channel`.
    pub fn new(channel: ChannelId, mode: Mode) -> Self {
        Self {
            mode,
            channel,
            outstanding: Vec::new(),
            in_progress: Vec::new(),
            answered: Vec::new(),
            stopped: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Changes the mode.
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// Every violation seen (in lenient mode, all of them; in strict mode, the one that ended the operation).
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// A request was sent: it awaits its response.
    pub fn sent(&mut self, id: RequestId, method: Method) {
        let queued =
            !self.outstanding.is_empty() || self.in_progress.iter().any(|(_, m)| *m == method);
        if self.outstanding.len() >= ANSWERED_KEPT {
            self.outstanding.remove(0);
        }
        self.outstanding.push((id, method, queued));
    }

    /// The oldest request awaiting its response, if any.
    pub fn outstanding(&self) -> Option<(RequestId, &Method)> {
        self.outstanding.first().map(|(id, m, _)| (*id, m))
    }

    /// The requests answered IN-PROGRESS whose completion event has not come.
    pub fn in_progress(&self) -> &[(RequestId, Method)] {
        &self.in_progress
    }

    /// Reports a violation found outside message handling (media, timeouts): `Err` in strict mode.
    pub fn report(&mut self, v: Violation) -> Result<(), Violation> {
        tracing::warn!(violation = v.name(), "{v}");
        self.violations.push(v.clone());
        match self.mode {
            Mode::Strict => Err(v),
            Mode::Lenient => Ok(()),
        }
    }

    /// Checks a message from the server.
    pub fn on_message(&mut self, m: &Message) -> Result<Accepted, Violation> {
        let start = m.start.to_string();
        match m.channel_id() {
            Ok(Some(c)) if c == self.channel => {}
            other => {
                let got = match other {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => "none".to_owned(),
                    Err(_) => m
                        .headers
                        .get_raw("Channel-Identifier")
                        .unwrap_or("none")
                        .to_owned(),
                };
                let v = Violation::WrongChannel {
                    expected: self.channel.clone(),
                    got,
                    start,
                };
                return self.report(v).map(|()| Accepted::Tolerated);
            }
        }
        match &m.start {
            StartLine::Request { .. } => self
                .report(Violation::RequestFromServer { start })
                .map(|()| Accepted::Tolerated),
            StartLine::Response {
                request_id,
                status,
                state,
            } => self.on_response(m, *request_id, status.code(), *state, start),
            StartLine::Event {
                event,
                request_id,
                state,
            } => self.on_event(m, event.as_str(), *request_id, *state),
        }
    }

    fn on_response(
        &mut self,
        m: &Message,
        id: RequestId,
        status: u16,
        state: RequestState,
        start: String,
    ) -> Result<Accepted, Violation> {
        let Some(index) = self.outstanding.iter().position(|(r, _, _)| *r == id) else {
            let expected = self.outstanding.first().map(|(r, _, _)| *r);
            let v = match self.answered.iter().find(|(a, _)| *a == id) {
                Some((_, first)) => Violation::SecondResponse {
                    request: id,
                    first: *first,
                    state,
                },
                None => Violation::WrongRequestId {
                    expected,
                    got: id,
                    start,
                },
            };
            self.report(v)?;
            // Lenient: a stray response is taken as the oldest outstanding one's, so the run goes on.
            if !self.outstanding.is_empty() {
                let (_, method, _) = self.outstanding.remove(0);
                if state != RequestState::Complete && answered_in_progress(&method) {
                    self.in_progress.push((id, method));
                }
            }
            return Ok(Accepted::Response { request: id });
        };
        let (_, method, queued) = self.outstanding.remove(index);
        if self.answered.len() >= ANSWERED_KEPT {
            self.answered.remove(0);
        }
        self.answered.push((id, state));
        let success = (200..300).contains(&status);
        if success && method == Method::Stop {
            self.stop(m);
        }
        let wanted = if answered_in_progress(&method) {
            RequestState::InProgress
        } else {
            RequestState::Complete
        };
        // RFC 6787 §5.3: PENDING for a request queued behind another; UniMRCP never queues one, so it never
        // gets PENDING legitimately, but a caller that does may.
        let pending_ok =
            queued && state == RequestState::Pending && wanted == RequestState::InProgress;
        if success && state != RequestState::Complete && wanted == RequestState::InProgress {
            self.in_progress.push((id, method.clone()));
        }
        if success && state != wanted && !pending_ok {
            let v = Violation::WrongRequestState {
                request: id,
                method,
                status,
                expected: wanted,
                got: state,
            };
            self.report(v)?;
        }
        Ok(Accepted::Response { request: id })
    }

    /// A successful STOP ends the requests of its Active-Request-Id-List (all in progress when absent),
    /// RFC 6787 §8.4.2, §9.5.
    fn stop(&mut self, m: &Message) {
        let listed: Option<Vec<RequestId>> = m.headers.get_raw("Active-Request-Id-List").map(|l| {
            l.split(',')
                .filter_map(|n| n.trim().parse().ok().map(RequestId))
                .collect()
        });
        let mut kept = Vec::new();
        for (id, method) in self.in_progress.drain(..) {
            let ended = listed.as_ref().is_none_or(|l| l.contains(&id));
            if !ended {
                kept.push((id, method));
            } else if method == Method::Speak {
                self.stopped.push(id);
            }
        }
        self.in_progress = kept;
    }

    fn on_event(
        &mut self,
        m: &Message,
        event: &str,
        id: RequestId,
        state: RequestState,
    ) -> Result<Accepted, Violation> {
        let Some(index) = self.in_progress.iter().position(|(r, _)| *r == id) else {
            if event == "SPEAK-COMPLETE" && self.stopped.contains(&id) {
                // A trailing SPEAK-COMPLETE after STOP is harmless to FreeSWITCH (reference §8.3).
                return Ok(Accepted::Event {
                    request: id,
                    complete: true,
                });
            }
            let v = if self.answered.iter().any(|(a, _)| *a == id) {
                // Its request is already complete, or was never IN-PROGRESS.
                Violation::UnexpectedEvent {
                    event: event.to_owned(),
                    request: id,
                    method: method_of_event(event),
                }
            } else {
                Violation::WrongRequestId {
                    expected: self.in_progress.first().map(|(r, _)| *r),
                    got: id,
                    start: m.start.to_string(),
                }
            };
            return self.report(v).map(|()| Accepted::Tolerated);
        };
        let method = self.in_progress.get(index).map(|(_, m)| m.clone());
        let Some(method) = method else {
            return Ok(Accepted::Tolerated);
        };
        let allowed = events_of(&method);
        if !allowed.contains(&event) {
            let v = Violation::UnexpectedEvent {
                event: event.to_owned(),
                request: id,
                method,
            };
            return self.report(v).map(|()| Accepted::Tolerated);
        }
        let is_completion = completion_event(&method) == Some(event);
        if is_completion && m.headers.get_raw("Completion-Cause").is_none() {
            self.report(Violation::MissingCompletionCause {
                event: event.to_owned(),
                request: id,
            })?;
        }
        let complete = is_completion && state == RequestState::Complete;
        if complete {
            self.in_progress.remove(index);
        }
        Ok(Accepted::Event {
            request: id,
            complete,
        })
    }
}

/// The method an event belongs to by its name (RFC 6787 §8.5, §9.2, §10.2), for events after completion.
fn method_of_event(event: &str) -> Method {
    match event {
        "SPEAK-COMPLETE" | "SPEECH-MARKER" => Method::Speak,
        "RECORD-COMPLETE" => Method::Record,
        _ => Method::Recognize,
    }
}

#[cfg(test)]
#[path = "violation_tests.rs"]
mod tests;
