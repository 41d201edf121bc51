//! The synthesizer state machine driven by arbitrary request and prompt-event sequences, checking what
//! FreeSWITCH and Asterisk rely on (RFC 6787 §8): every request gets exactly one response, in the call that
//! carried it; a SPEAK completes at most once and, once its prompts have played, every accepted SPEAK has
//! completed or was listed by a STOP; SPEECH-MARKER only for a client that asked, and only for the SPEAK that
//! is playing. Shared by `fuzz/fuzz_targets/synthesizer_machine.rs` and the corpus replay test.

use std::collections::{HashMap, HashSet};

use mrcp_proto::mrcp::header::SynthesizerCause;
use mrcp_proto::mrcp::{RequestId, RequestState, StatusCode};
use mrcp_server::synthesizer::{ControlAction, Input, Output, SpeakParams, SynthesizerMachine};

#[derive(Default)]
struct Ledger {
    responses: HashMap<u32, usize>,
    accepted: HashSet<u32>,
    completed: HashSet<u32>,
    stopped: HashSet<u32>,
    wants_marks: HashSet<u32>,
    playing: Option<u32>,
}

impl Ledger {
    fn record(&mut self, output: &Output) {
        match output {
            Output::Response {
                request_id,
                status,
                state,
                active_request_ids,
                ..
            } => {
                *self.responses.entry(request_id.0).or_default() += 1;
                if *status == StatusCode::SUCCESS && *state != RequestState::Complete {
                    self.accepted.insert(request_id.0);
                }
                self.stopped.extend(active_request_ids.iter().map(|r| r.0));
            }
            Output::SpeakComplete { request_id, .. } => {
                assert!(
                    self.completed.insert(request_id.0),
                    "SPEAK-COMPLETE twice for request {}",
                    request_id.0
                );
                if self.playing == Some(request_id.0) {
                    self.playing = None;
                }
            }
            Output::StartPrompt { request_id } | Output::RestartPrompt { request_id } => {
                assert!(
                    self.accepted.contains(&request_id.0),
                    "prompt {} started without being accepted",
                    request_id.0
                );
                self.playing = Some(request_id.0);
            }
            Output::StopPrompt { request_id } => {
                if self.playing == Some(request_id.0) {
                    self.playing = None;
                }
            }
            Output::SpeechMarker { request_id, .. } => {
                assert!(
                    self.wants_marks.contains(&request_id.0),
                    "SPEECH-MARKER for request {} which did not ask for markers",
                    request_id.0
                );
            }
            Output::PauseAudio | Output::ResumeAudio => {}
        }
    }
}

fn drain(machine: &mut SynthesizerMachine, ledger: &mut Ledger) {
    while let Some(output) = machine.poll_output() {
        ledger.record(&output);
    }
}

/// Runs one script and checks the invariants.
pub fn check(data: &[u8]) {
    let mut machine = SynthesizerMachine::new();
    let mut ledger = Ledger::default();
    let mut next_id = 1u32;
    let mut bytes = data.iter().copied().take(400);
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        let mut request = || {
            let r = RequestId(next_id);
            next_id += 1;
            r
        };
        let input = match op % 11 {
            0 => {
                let request_id = request();
                let params = SpeakParams {
                    kill_on_barge_in: arg & 1 != 0,
                    report_marks: arg & 2 != 0,
                };
                if params.report_marks {
                    ledger.wants_marks.insert(request_id.0);
                }
                Input::Speak { request_id, params }
            }
            1 => Input::Stop {
                request_id: request(),
                targets: (arg & 1 != 0).then(|| vec![RequestId(u32::from(arg >> 1))]),
            },
            2 => Input::Pause {
                request_id: request(),
            },
            3 => Input::Resume {
                request_id: request(),
            },
            4 => Input::Control {
                request_id: request(),
                action: if arg & 1 != 0 {
                    ControlAction::Restart
                } else {
                    ControlAction::Seek {
                        header: "Jump-Size",
                    }
                },
            },
            5 => Input::BargeInOccurred {
                request_id: request(),
            },
            6 => Input::LocalBargeIn,
            7 => Input::Mark {
                name: format!("m{arg}"),
            },
            8 => Input::PromptDone,
            9 => Input::PromptFailed {
                cause: SynthesizerCause::Error,
            },
            _ => Input::PromptFailed {
                cause: SynthesizerCause::UriFailure,
            },
        };
        let asked = match &input {
            Input::Speak { request_id, .. }
            | Input::Stop { request_id, .. }
            | Input::Pause { request_id }
            | Input::Resume { request_id }
            | Input::Control { request_id, .. }
            | Input::BargeInOccurred { request_id } => Some(request_id.0),
            _ => None,
        };
        machine.handle_input(input);
        drain(&mut machine, &mut ledger);
        if let Some(id) = asked {
            assert_eq!(
                ledger.responses.get(&id),
                Some(&1),
                "request {id} must get exactly one response at once"
            );
        }
    }
    // Liveness: every prompt plays to its end (after a RESUME, in case it was paused).
    let speaks = next_id;
    for k in 0..speaks {
        machine.handle_input(Input::Resume {
            request_id: RequestId(speaks + k),
        });
        machine.handle_input(Input::PromptDone);
        drain(&mut machine, &mut ledger);
    }
    for id in &ledger.accepted {
        assert!(
            ledger.completed.contains(id) || ledger.stopped.contains(id),
            "SPEAK {id} was accepted but never completed"
        );
    }
}
