//! The recorder machine stepped on injected time and fed audio frame by frame.
#![allow(clippy::unwrap_used)]

use super::*;

const RATE: u32 = 8000;
/// One 20 ms frame at 8 kHz.
const FRAME: usize = 160;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn params() -> RecordParams {
    RecordParams {
        start_input_timers: true,
        no_input_timeout: ms(5000),
        max_time: ms(10_000),
        final_silence: Duration::ZERO,
        trim_length: Duration::ZERO,
        capture_on_speech: false,
        rate: RATE,
    }
}

struct Rig {
    machine: RecorderMachine,
    t0: Instant,
    now: Instant,
    /// Samples fed so far; sample `n` has the value `n % 30000`, so a recording shows where it was cut.
    fed: u64,
}

impl Rig {
    fn new() -> Rig {
        let t0 = Instant::now();
        Rig {
            machine: RecorderMachine::new(),
            t0,
            now: t0,
            fed: 0,
        }
    }

    fn record(&mut self, id: u32, params: RecordParams) -> Vec<Output> {
        self.machine.handle_input(
            self.now,
            Input::Record {
                request_id: RequestId(id),
                params,
            },
        );
        self.drain()
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        self.machine.handle_input(self.now, input);
        self.drain()
    }

    /// Feeds `n` frames in real time, firing timers as they fall due.
    fn frames(&mut self, n: usize) -> Vec<Output> {
        let mut out = Vec::new();
        for _ in 0..n {
            let frame: Vec<i16> = (self.fed..self.fed + FRAME as u64)
                .map(|s| (s % 30000) as i16)
                .collect();
            self.fed += FRAME as u64;
            self.now += ms(20);
            self.machine.handle_timeout(self.now);
            self.machine.handle_audio(self.now, &frame);
            out.extend(self.drain());
        }
        out
    }

    /// The audio offset of what was fed so far.
    fn at(&self) -> Duration {
        Duration::from_micros(self.fed * 1_000_000 / u64::from(RATE))
    }

    fn advance(&mut self, d: Duration) -> Vec<Output> {
        self.now += d;
        self.machine.handle_timeout(self.now);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.machine.poll_output()).collect()
    }
}

fn complete(out: &[Output]) -> (RecorderCause, Option<Recording>) {
    out.iter()
        .find_map(|o| match o {
            Output::RecordComplete {
                cause, recording, ..
            } => Some((*cause, recording.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no RECORD-COMPLETE in {out:?}"))
}

fn is_in_progress(out: &[Output]) -> bool {
    matches!(
        out,
        [Output::Response {
            status: StatusCode::SUCCESS,
            state: RequestState::InProgress,
            ..
        }]
    )
}

#[test]
fn max_time_of_audio_ends_with_success_maxtime_and_exactly_that_audio() {
    let mut rig = Rig::new();
    let out = rig.record(
        1,
        RecordParams {
            max_time: ms(1010),
            ..params()
        },
    );
    assert!(is_in_progress(&out), "{out:?}");
    let out = rig.frames(50);
    assert!(out.is_empty(), "{out:?}");
    let out = rig.frames(1);
    let (cause, recording) = complete(&out);
    assert_eq!(cause, RecorderCause::SuccessMaxtime);
    let samples = recording.unwrap().samples;
    // 1010 ms is not a whole number of frames: the recording stops inside the 51st.
    assert_eq!(samples.len(), 8080);
    assert_eq!(samples[8079], 8079);
    assert!(!rig.machine.is_recording());
    assert_eq!(rig.machine.poll_timeout(), None);
}

#[test]
fn final_silence_after_speech_ends_with_success_silence() {
    let mut rig = Rig::new();
    rig.record(
        1,
        RecordParams {
            final_silence: ms(500),
            trim_length: ms(200),
            ..params()
        },
    );
    rig.frames(10);
    let start = rig.at();
    let out = rig.input(Input::SpeechStarted { at: start });
    assert_eq!(
        out,
        vec![Output::StartOfInput {
            request_id: RequestId(1)
        }]
    );
    rig.frames(50);
    let end = rig.at();
    // The endpointer reports the end after its hangover (300 ms).
    rig.frames(15);
    assert!(rig.input(Input::SpeechEnded { at: end }).is_empty());
    let out = rig.frames(9);
    assert!(out.is_empty(), "{out:?}");
    let (cause, recording) = complete(&rig.frames(1));
    assert_eq!(cause, RecorderCause::SuccessSilence);
    // From the RECORD to 500 ms after the speech end, less the 200 ms Trim-Length.
    let samples = recording.unwrap().samples;
    assert_eq!(samples.len(), (60 * FRAME) + 4000 - 1600);
    assert_eq!(samples[0], 0);
}

#[test]
fn speech_resuming_before_final_silence_keeps_recording() {
    let mut rig = Rig::new();
    rig.record(
        1,
        RecordParams {
            final_silence: ms(400),
            ..params()
        },
    );
    rig.input(Input::SpeechStarted { at: Duration::ZERO });
    rig.frames(20);
    let end = rig.at();
    rig.frames(10);
    rig.input(Input::SpeechEnded { at: end });
    rig.frames(5);
    let out = rig.input(Input::SpeechStarted { at: rig.at() });
    assert!(out.is_empty(), "START-OF-INPUT is sent once: {out:?}");
    assert!(rig.frames(40).is_empty());
    assert!(rig.machine.is_recording());
}

#[test]
fn no_input_timeout_without_speech_gives_002_and_no_recording() {
    let mut rig = Rig::new();
    rig.record(1, params());
    let out = rig.frames(249);
    assert!(out.is_empty());
    let (cause, recording) = complete(&rig.frames(1));
    assert_eq!(cause, RecorderCause::NoInputTimeout);
    assert_eq!(recording, None);
}

#[test]
fn start_input_timers_false_waits_for_start_input_timers() {
    let mut rig = Rig::new();
    rig.record(
        1,
        RecordParams {
            start_input_timers: false,
            capture_on_speech: true,
            ..params()
        },
    );
    assert!(rig.advance(ms(8000)).is_empty());
    let out = rig.input(Input::StartInputTimers {
        request_id: RequestId(2),
    });
    assert!(matches!(
        out.as_slice(),
        [Output::Response {
            status: StatusCode::SUCCESS,
            state: RequestState::Complete,
            ..
        }]
    ));
    assert!(rig.advance(ms(4999)).is_empty());
    assert_eq!(
        complete(&rig.advance(ms(1))).0,
        RecorderCause::NoInputTimeout
    );
}

#[test]
fn capture_on_speech_starts_at_the_speech_with_pre_roll() {
    let mut rig = Rig::new();
    rig.record(
        1,
        RecordParams {
            capture_on_speech: true,
            max_time: ms(1000),
            ..params()
        },
    );
    rig.frames(100);
    // Speech began 100 ms ago (the endpointer's minimum speech duration).
    let at = rig.at() - ms(100);
    rig.input(Input::SpeechStarted { at });
    rig.frames(44);
    let (cause, recording) = complete(&rig.frames(1));
    assert_eq!(cause, RecorderCause::SuccessMaxtime);
    let samples = recording.unwrap().samples;
    assert_eq!(samples.len(), 8000);
    // The first sample is the one fed at the speech start (offset 2 s - 100 ms = sample 15200).
    assert_eq!(samples[0], 15200);
}

#[test]
fn stop_returns_what_was_recorded_without_record_complete() {
    let mut rig = Rig::new();
    rig.record(1, params());
    rig.frames(25);
    let out = rig.input(Input::Stop {
        request_id: RequestId(2),
        trim_length: Some(ms(100)),
    });
    match out.as_slice() {
        [
            Output::Response {
                request_id: RequestId(2),
                status: StatusCode::SUCCESS,
                state: RequestState::Complete,
                active_request_ids,
                recording: Some(recording),
            },
        ] => {
            assert_eq!(active_request_ids, &vec![RequestId(1)]);
            assert_eq!(recording.samples.len(), 25 * FRAME - 800);
        }
        other => panic!("{other:?}"),
    }
    assert!(rig.advance(ms(120_000)).is_empty());
    // STOP when idle: 200 with an empty list.
    let out = rig.input(Input::Stop {
        request_id: RequestId(3),
        trim_length: None,
    });
    assert!(matches!(
        out.as_slice(),
        [Output::Response { active_request_ids, recording: None, .. }] if active_request_ids.is_empty()
    ));
}

#[test]
fn a_second_record_while_recording_is_refused_with_402() {
    let mut rig = Rig::new();
    rig.record(1, params());
    let out = rig.record(2, params());
    assert!(matches!(
        out.as_slice(),
        [Output::Response {
            request_id: RequestId(2),
            status: StatusCode::METHOD_NOT_VALID_IN_STATE,
            ..
        }]
    ));
    assert!(rig.machine.is_recording());
}

#[test]
fn a_recording_whose_audio_stops_still_completes() {
    let mut rig = Rig::new();
    rig.record(
        1,
        RecordParams {
            no_input_timeout: Duration::ZERO,
            max_time: ms(3000),
            ..params()
        },
    );
    rig.frames(50);
    // No more audio: the wall-clock bound ends it with what arrived.
    let deadline = rig.machine.poll_timeout().unwrap();
    assert_eq!(deadline, rig.t0 + ms(3000) + STALL_GRACE);
    let (cause, recording) = complete(&rig.advance(deadline - rig.now));
    assert_eq!(cause, RecorderCause::SuccessMaxtime);
    assert_eq!(recording.unwrap().samples.len(), 50 * FRAME);
}

#[test]
fn spurious_timeouts_and_inputs_when_idle_do_nothing() {
    let mut rig = Rig::new();
    assert!(rig.advance(ms(10)).is_empty());
    assert!(rig.input(Input::SpeechStarted { at: ms(5) }).is_empty());
    assert!(rig.input(Input::SpeechEnded { at: ms(5) }).is_empty());
    assert!(rig.frames(3).is_empty());
    assert_eq!(rig.machine.poll_timeout(), None);
}
