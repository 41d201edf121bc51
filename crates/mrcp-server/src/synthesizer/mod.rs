//! The speechsynth resource (RFC 6787 §8) as a sans-IO state machine.
//!
//! The session feeds it requests and what the synthesis pipeline reports (the last packet of a prompt left,
//! a mark was reached, the engine failed); it answers with [`Output`]s: the one response per request, events,
//! and commands for the pipeline. The synthesizer has no timers of its own.
//!
//! ```text
//!            SPEAK                    PAUSE
//!   Idle ──────────────▶ Speaking ◀──────────▶ Paused
//!    ▲                    │    ▲      RESUME     │
//!    │   prompt done,     │    │ next queued     │
//!    │   STOP, barge-in   │    │ SPEAK starts    │
//!    └────────────────────┴────┴─────────────────┘
//! ```
//!
//! SPEAK requests queue in order: the first gets `200 IN-PROGRESS`, later ones `200 PENDING` and start when
//! the one before ends (§8.8). Every SPEAK ends either with SPEAK-COMPLETE or by being listed in the
//! Active-Request-Id-List of a STOP or BARGE-IN-OCCURRED response, never both (§8.9, §8.10). SPEECH-MARKER is
//! sent only when the client asked for marks: FreeSWITCH and Asterisk put the channel into ERROR on any event
//! but SPEAK-COMPLETE (`shared/reference/freeswitch-unimrcp-client.md` §12, row 7).

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use mrcp_proto::mrcp::header::SynthesizerCause;
use mrcp_proto::mrcp::{RequestId, RequestState, StatusCode};

/// SPEAK requests waiting behind the one playing; more are refused with 402 rather than queued without bound.
pub const MAX_QUEUED_SPEAKS: usize = 32;

/// The parameters of one SPEAK that matter to the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeakParams {
    /// Kill-On-Barge-In (§8.4): whether barge-in stops this prompt.
    pub kill_on_barge_in: bool,
    /// Whether the client asked for SPEECH-MARKER events (a vendor parameter; off by default).
    pub report_marks: bool,
}

/// What the CONTROL method (§8.13) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlAction {
    /// Speak-Restart: start the current prompt again.
    Restart,
    /// Jump-Size or Speak-Length: move within the prompt. No engine of the toolkit can seek in a stream yet,
    /// so this is answered 409 naming the header.
    Seek {
        /// The header that asked, named in a 409 when the engine cannot do it.
        header: &'static str,
    },
}

/// An input to the machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// SPEAK (§8.8).
    Speak {
        /// The request.
        request_id: RequestId,
        /// Its parameters.
        params: SpeakParams,
    },
    /// STOP (§8.9); `targets` is the request's Active-Request-Id-List, `None` for all.
    Stop {
        /// The request.
        request_id: RequestId,
        /// Which SPEAKs to stop.
        targets: Option<Vec<RequestId>>,
    },
    /// PAUSE (§8.11).
    Pause {
        /// The request.
        request_id: RequestId,
    },
    /// RESUME (§8.12).
    Resume {
        /// The request.
        request_id: RequestId,
    },
    /// CONTROL (§8.13).
    Control {
        /// The request.
        request_id: RequestId,
        /// What it asks for.
        action: ControlAction,
    },
    /// BARGE-IN-OCCURRED (§8.10) from the client.
    BargeInOccurred {
        /// The request.
        request_id: RequestId,
    },
    /// The session's own recognizer heard the caller start speaking over the prompt.
    LocalBargeIn,
    /// The pipeline reached an SSML `<mark>`.
    Mark {
        /// The mark's name.
        name: String,
    },
    /// The last packet of the playing prompt left.
    PromptDone,
    /// The prompt could not be spoken; the cause says why (002–006).
    PromptFailed {
        /// parse-failure, uri-failure, error, language-unsupported or lexicon-load-failure.
        cause: SynthesizerCause,
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
        /// PENDING, IN-PROGRESS or COMPLETE.
        state: RequestState,
        /// Active-Request-Id-List (§6.2.3), for STOP and BARGE-IN-OCCURRED.
        active_request_ids: Vec<RequestId>,
        /// The header whose value could not be honoured (409).
        unsupported_header: Option<&'static str>,
    },
    /// SPEECH-MARKER (§8.15), IN-PROGRESS.
    SpeechMarker {
        /// The playing SPEAK.
        request_id: RequestId,
        /// The mark reached.
        name: String,
    },
    /// SPEAK-COMPLETE (§8.14), COMPLETE.
    SpeakComplete {
        /// The SPEAK that ended.
        request_id: RequestId,
        /// Completion-Cause.
        cause: SynthesizerCause,
    },
    /// Synthesize and send this SPEAK's audio.
    StartPrompt {
        /// The request.
        request_id: RequestId,
    },
    /// Stop synthesis and audio of this SPEAK at once.
    StopPrompt {
        /// The request.
        request_id: RequestId,
    },
    /// Hold the audio where it is.
    PauseAudio,
    /// Continue the audio.
    ResumeAudio,
    /// Start the playing prompt again from its beginning.
    RestartPrompt {
        /// The request.
        request_id: RequestId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Speak {
    request_id: RequestId,
    params: SpeakParams,
}

/// The speechsynth resource of one channel.
#[derive(Debug, Default)]
pub struct SynthesizerMachine {
    /// The SPEAK playing (or paused), if any.
    active: Option<Speak>,
    paused: bool,
    queue: VecDeque<Speak>,
    outputs: VecDeque<Output>,
}

impl SynthesizerMachine {
    /// An idle synthesizer.
    pub fn new() -> Self {
        Self {
            active: None,
            paused: false,
            queue: VecDeque::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Whether a prompt is playing or paused.
    pub fn is_speaking(&self) -> bool {
        self.active.is_some()
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, input: Input) {
        match input {
            Input::Speak { request_id, params } => self.on_speak(Speak { request_id, params }),
            Input::Stop {
                request_id,
                targets,
            } => {
                let ended = self.stop(|id| targets.as_ref().is_none_or(|t| t.contains(&id)));
                self.respond_with_list(request_id, ended);
            }
            Input::Pause { request_id } => self.on_pause(request_id),
            Input::Resume { request_id } => self.on_resume(request_id),
            Input::Control { request_id, action } => self.on_control(request_id, action),
            Input::BargeInOccurred { request_id } => {
                // §8.10: only a prompt with Kill-On-Barge-In stops, and the queue with it.
                let ended = if self.active.is_some_and(|a| a.params.kill_on_barge_in) {
                    self.stop(|_| true)
                } else {
                    Vec::new()
                };
                self.respond_with_list(request_id, ended);
            }
            Input::LocalBargeIn => self.on_local_barge_in(),
            Input::Mark { name } => {
                if let Some(active) = self.active.filter(|a| a.params.report_marks) {
                    self.outputs.push_back(Output::SpeechMarker {
                        request_id: active.request_id,
                        name,
                    });
                }
            }
            Input::PromptDone => self.finish_active(SynthesizerCause::Normal),
            Input::PromptFailed { cause } => self.finish_active(cause),
        }
    }

    fn respond(&mut self, request_id: RequestId, status: StatusCode, state: RequestState) {
        self.outputs.push_back(Output::Response {
            request_id,
            status,
            state,
            active_request_ids: Vec::new(),
            unsupported_header: None,
        });
    }

    fn respond_with_list(&mut self, request_id: RequestId, ended: Vec<RequestId>) {
        self.outputs.push_back(Output::Response {
            request_id,
            status: StatusCode::SUCCESS,
            state: RequestState::Complete,
            active_request_ids: ended,
            unsupported_header: None,
        });
    }

    fn on_speak(&mut self, speak: Speak) {
        if self.active.is_none() {
            self.respond(
                speak.request_id,
                StatusCode::SUCCESS,
                RequestState::InProgress,
            );
            self.start(speak);
        } else if self.queue.len() >= MAX_QUEUED_SPEAKS {
            self.respond(
                speak.request_id,
                StatusCode::METHOD_NOT_VALID_IN_STATE,
                RequestState::Complete,
            );
        } else {
            self.respond(speak.request_id, StatusCode::SUCCESS, RequestState::Pending);
            self.queue.push_back(speak);
        }
    }

    fn start(&mut self, speak: Speak) {
        self.active = Some(speak);
        self.paused = false;
        self.outputs.push_back(Output::StartPrompt {
            request_id: speak.request_id,
        });
    }

    /// Ends the SPEAKs `selected` picks, without SPEAK-COMPLETE; the next survivor in the queue starts when
    /// the playing one was among them. Returns the ended ids, playing one first.
    fn stop(&mut self, selected: impl Fn(RequestId) -> bool) -> Vec<RequestId> {
        let mut ended = Vec::new();
        if let Some(active) = self.active.filter(|a| selected(a.request_id)) {
            ended.push(active.request_id);
            self.outputs.push_back(Output::StopPrompt {
                request_id: active.request_id,
            });
            self.active = None;
            self.paused = false;
        }
        self.queue.retain(|s| {
            let stop = selected(s.request_id);
            if stop {
                ended.push(s.request_id);
            }
            !stop
        });
        self.start_next();
        ended
    }

    fn start_next(&mut self) {
        if self.active.is_none()
            && let Some(next) = self.queue.pop_front()
        {
            self.start(next);
        }
    }

    fn finish_active(&mut self, cause: SynthesizerCause) {
        let Some(active) = self.active.take() else {
            return;
        };
        self.paused = false;
        self.outputs.push_back(Output::SpeakComplete {
            request_id: active.request_id,
            cause,
        });
        self.start_next();
    }

    /// Barge-in heard by the server itself: a killable prompt ends with SPEAK-COMPLETE `barge-in` (§8.4),
    /// and so does every prompt queued behind it, since the caller is now talking.
    fn on_local_barge_in(&mut self) {
        let Some(active) = self.active.filter(|a| a.params.kill_on_barge_in) else {
            return;
        };
        self.outputs.push_back(Output::StopPrompt {
            request_id: active.request_id,
        });
        self.active = None;
        self.paused = false;
        let ended = std::iter::once(active).chain(self.queue.drain(..));
        let events: Vec<Output> = ended
            .map(|s| Output::SpeakComplete {
                request_id: s.request_id,
                cause: SynthesizerCause::BargeIn,
            })
            .collect();
        self.outputs.extend(events);
    }

    fn on_pause(&mut self, request_id: RequestId) {
        if self.active.is_some() && !self.paused {
            self.paused = true;
            self.respond(request_id, StatusCode::SUCCESS, RequestState::Complete);
            self.outputs.push_back(Output::PauseAudio);
        } else {
            // §8.11: PAUSE is valid only while speaking.
            self.respond(
                request_id,
                StatusCode::METHOD_NOT_VALID_IN_STATE,
                RequestState::Complete,
            );
        }
    }

    fn on_resume(&mut self, request_id: RequestId) {
        if self.paused {
            self.paused = false;
            self.respond(request_id, StatusCode::SUCCESS, RequestState::Complete);
            self.outputs.push_back(Output::ResumeAudio);
        } else {
            // §8.12: RESUME is valid only while paused.
            self.respond(
                request_id,
                StatusCode::METHOD_NOT_VALID_IN_STATE,
                RequestState::Complete,
            );
        }
    }

    fn on_control(&mut self, request_id: RequestId, action: ControlAction) {
        let Some(active) = self.active else {
            self.respond(
                request_id,
                StatusCode::METHOD_NOT_VALID_IN_STATE,
                RequestState::Complete,
            );
            return;
        };
        match action {
            ControlAction::Restart => {
                self.respond(request_id, StatusCode::SUCCESS, RequestState::Complete);
                self.outputs.push_back(Output::RestartPrompt {
                    request_id: active.request_id,
                });
            }
            ControlAction::Seek { header } => {
                self.outputs.push_back(Output::Response {
                    request_id,
                    status: StatusCode::UNSUPPORTED_HEADER_VALUE,
                    state: RequestState::Complete,
                    active_request_ids: Vec::new(),
                    unsupported_header: Some(header),
                });
            }
        }
    }
}
