//! The recognizer state machine driven by arbitrary input sequences and clock steps, checking what FreeSWITCH
//! and Asterisk rely on (RFC 6787 §9): every request gets exactly one response, in the call that carried it;
//! a RECOGNIZE completes at most once; and every RECOGNIZE that was accepted completes (or is listed by a
//! STOP) once its timers have run out — a client with no timeout of its own is never left waiting. Shared by
//! `fuzz/fuzz_targets/recognizer_machine.rs` and the corpus replay test.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use mrcp_proto::mrcp::{RequestId, RequestState, StatusCode};
use mrcp_server::recognizer::{
    DtmfClassifier, DtmfMatch, EngineOutcome, Input, Mode, Output, RecognizeParams,
    RecognizerMachine,
};

/// Digits grammars of `min..=max` keys.
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

/// Reads bytes as a little script; runs out gracefully.
struct Script<'a> {
    data: &'a [u8],
}

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    fn ms(&mut self, step: u64) -> Duration {
        Duration::from_millis(u64::from(self.byte().unwrap_or(0)) * step)
    }

    fn params(&mut self) -> RecognizeParams {
        let flags = self.byte().unwrap_or(0);
        let speech = flags & 1 != 0;
        let dtmf = flags & 2 != 0;
        let (min, max) = (
            usize::from(self.byte().unwrap_or(1) % 6),
            usize::from(self.byte().unwrap_or(4) % 8),
        );
        let no_input_timeout = self.ms(50);
        let recognition_timeout = self.ms(100);
        let max_duration = no_input_timeout + recognition_timeout + Duration::from_secs(30);
        RecognizeParams {
            start_input_timers: flags & 4 != 0,
            no_input_timeout,
            recognition_timeout,
            speech_complete_timeout: self.ms(10),
            speech_incomplete_timeout: self.ms(10),
            dtmf_interdigit_timeout: self.ms(20),
            dtmf_term_timeout: self.ms(20),
            dtmf_term_char: (flags & 8 != 0).then_some('#'),
            confidence_threshold: f32::from(self.byte().unwrap_or(128)) / 255.0,
            cancel_if_queue: flags & 16 != 0,
            mode: if flags & 32 != 0 {
                Mode::Hotword
            } else {
                Mode::Normal
            },
            hotword_max_duration: self.ms(100) + Duration::from_millis(1),
            hotword_min_duration: self.ms(10),
            early_no_match: flags & 64 != 0,
            speech_too_early: flags & 128 != 0 && speech,
            speech,
            dtmf: dtmf.then(|| Box::new(Digits { min, max }) as Box<dyn DtmfClassifier>),
            max_duration,
            engine_deadline: Duration::from_secs(5),
        }
    }
}

/// What the checker knows of each request.
#[derive(Default)]
struct Ledger {
    responses: HashMap<u32, usize>,
    /// RECOGNIZEs answered 200 (PENDING or IN-PROGRESS): they must complete.
    accepted: HashSet<u32>,
    completed: HashSet<u32>,
    /// Listed by a STOP: ended without RECOGNITION-COMPLETE.
    stopped: HashSet<u32>,
}

impl Ledger {
    fn record(&mut self, output: &Output<u8>) {
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
            Output::RecognitionComplete { request_id, .. } => {
                assert!(
                    self.completed.insert(request_id.0),
                    "RECOGNITION-COMPLETE twice for request {}",
                    request_id.0
                );
            }
            _ => {}
        }
    }
}

fn drain(machine: &mut RecognizerMachine<u8>, ledger: &mut Ledger) {
    while let Some(output) = machine.poll_output() {
        ledger.record(&output);
    }
}

/// Fires every deadline up to `until`, each at its own instant; a deadline that does not move is a bug.
fn advance(
    machine: &mut RecognizerMachine<u8>,
    ledger: &mut Ledger,
    now: &mut Instant,
    until: Instant,
) {
    while let Some(at) = machine.poll_timeout().filter(|&at| at <= until) {
        let at = at.max(*now);
        *now = at;
        machine.handle_timeout(at);
        drain(machine, ledger);
        assert!(
            machine.poll_timeout().is_none_or(|next| next > at),
            "a timer fired at {at:?} and is still due"
        );
    }
    *now = until.max(*now);
}

/// Runs one script and checks the invariants.
pub fn check(data: &[u8]) {
    let mut script = Script { data };
    let mut machine = RecognizerMachine::<u8>::new();
    let mut ledger = Ledger::default();
    let mut now = Instant::now();
    let mut next_id = 1u32;
    let mut steps = 0;
    while let Some(op) = script.byte() {
        steps += 1;
        if steps > 400 {
            break;
        }
        let request = |id: &mut u32| {
            let r = RequestId(*id);
            *id += 1;
            r
        };
        let input = match op % 12 {
            0 => Input::Recognize {
                request_id: request(&mut next_id),
                params: script.params(),
            },
            1 => Input::StartInputTimers {
                request_id: request(&mut next_id),
            },
            2 => Input::Stop {
                request_id: request(&mut next_id),
            },
            3 => Input::GetResult {
                request_id: request(&mut next_id),
            },
            4 => Input::SpeechStarted,
            5 => Input::SpeechEnded,
            6 => Input::Dtmf(b"0123456789*#"[usize::from(script.byte().unwrap_or(0) % 12)] as char),
            7 => Input::Hypothesis {
                complete: script.byte().unwrap_or(0) & 1 == 1,
            },
            8 => Input::EngineResult(EngineOutcome::Match {
                confidence: f32::from(script.byte().unwrap_or(200)) / 255.0,
                result: op,
            }),
            9 => Input::EngineResult(EngineOutcome::NoMatch { result: Some(op) }),
            10 => Input::EngineFailed,
            _ => {
                let until = now + script.ms(20);
                advance(&mut machine, &mut ledger, &mut now, until);
                continue;
            }
        };
        let asked = match &input {
            Input::Recognize { request_id, .. }
            | Input::StartInputTimers { request_id }
            | Input::Stop { request_id }
            | Input::GetResult { request_id } => Some(request_id.0),
            _ => None,
        };
        machine.handle_input(now, input);
        drain(&mut machine, &mut ledger);
        if let Some(id) = asked {
            assert_eq!(
                ledger.responses.get(&id),
                Some(&1),
                "request {id} must get exactly one response at once"
            );
        }
    }
    // Liveness: with the engine silent, every accepted RECOGNIZE ends by its timers.
    for _ in 0..4 {
        let until = now + Duration::from_secs(600);
        advance(&mut machine, &mut ledger, &mut now, until);
        if machine.is_recognizing() {
            // An engine that never answers is ended by the engine deadline once input ends; a recognition
            // still waiting on the engine here is given its result so the queue moves.
            machine.handle_input(now, Input::EngineFailed);
            drain(&mut machine, &mut ledger);
        }
    }
    for id in &ledger.accepted {
        assert!(
            ledger.completed.contains(id) || ledger.stopped.contains(id),
            "RECOGNIZE {id} was accepted but never completed"
        );
    }
    assert!(
        ledger.responses.values().all(|&n| n == 1),
        "a request got more than one response"
    );
}
