//! The synthesizer machine, request by request.

use super::*;

const KILL: SpeakParams = SpeakParams {
    kill_on_barge_in: true,
    report_marks: false,
};
const KEEP: SpeakParams = SpeakParams {
    kill_on_barge_in: false,
    report_marks: false,
};

fn run(m: &mut SynthesizerMachine, input: Input) -> Vec<Output> {
    m.handle_input(input);
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn speak(id: u32, params: SpeakParams) -> Input {
    Input::Speak {
        request_id: RequestId(id),
        params,
    }
}

fn response(id: u32, status: StatusCode, state: RequestState, list: &[u32]) -> Output {
    Output::Response {
        request_id: RequestId(id),
        status,
        state,
        active_request_ids: list.iter().map(|&i| RequestId(i)).collect(),
        unsupported_header: None,
    }
}

fn start(id: u32) -> Output {
    Output::StartPrompt {
        request_id: RequestId(id),
    }
}

fn stop_prompt(id: u32) -> Output {
    Output::StopPrompt {
        request_id: RequestId(id),
    }
}

fn complete(id: u32, cause: SynthesizerCause) -> Output {
    Output::SpeakComplete {
        request_id: RequestId(id),
        cause,
    }
}

#[test]
fn speaks_queue_in_order() {
    let mut m = SynthesizerMachine::new();
    assert_eq!(
        run(&mut m, speak(1, KILL)),
        vec![
            response(1, StatusCode::SUCCESS, RequestState::InProgress, &[]),
            start(1)
        ]
    );
    assert_eq!(
        run(&mut m, speak(2, KILL)),
        vec![response(2, StatusCode::SUCCESS, RequestState::Pending, &[])]
    );
    assert_eq!(
        run(&mut m, Input::PromptDone),
        vec![complete(1, SynthesizerCause::Normal), start(2)]
    );
    assert_eq!(
        run(&mut m, Input::PromptDone),
        vec![complete(2, SynthesizerCause::Normal)]
    );
    assert!(!m.is_speaking());
    assert!(
        run(&mut m, Input::PromptDone).is_empty(),
        "a late PromptDone is ignored"
    );
}

#[test]
fn stop_without_a_list_ends_everything_silently() {
    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(1, KILL));
    run(&mut m, speak(2, KILL));
    let out = run(
        &mut m,
        Input::Stop {
            request_id: RequestId(3),
            targets: None,
        },
    );
    assert_eq!(
        out,
        vec![
            stop_prompt(1),
            response(3, StatusCode::SUCCESS, RequestState::Complete, &[1, 2])
        ]
    );
    assert!(!m.is_speaking());
}

#[test]
fn stop_with_a_list_ends_only_those() {
    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(1, KILL));
    run(&mut m, speak(2, KILL));
    run(&mut m, speak(3, KILL));
    let out = run(
        &mut m,
        Input::Stop {
            request_id: RequestId(4),
            targets: Some(vec![RequestId(1)]),
        },
    );
    assert_eq!(
        out,
        vec![
            stop_prompt(1),
            start(2),
            response(4, StatusCode::SUCCESS, RequestState::Complete, &[1])
        ]
    );
    let out = run(
        &mut m,
        Input::Stop {
            request_id: RequestId(5),
            targets: Some(vec![RequestId(3)]),
        },
    );
    assert_eq!(
        out,
        vec![response(
            5,
            StatusCode::SUCCESS,
            RequestState::Complete,
            &[3]
        )]
    );
    assert!(m.is_speaking());
}

#[test]
fn pause_and_resume_only_in_their_states() {
    let mut m = SynthesizerMachine::new();
    let refused = |id| {
        vec![response(
            id,
            StatusCode::METHOD_NOT_VALID_IN_STATE,
            RequestState::Complete,
            &[],
        )]
    };
    assert_eq!(
        run(
            &mut m,
            Input::Pause {
                request_id: RequestId(1)
            }
        ),
        refused(1)
    );
    run(&mut m, speak(2, KILL));
    assert_eq!(
        run(
            &mut m,
            Input::Resume {
                request_id: RequestId(3)
            }
        ),
        refused(3)
    );
    assert_eq!(
        run(
            &mut m,
            Input::Pause {
                request_id: RequestId(4)
            }
        ),
        vec![
            response(4, StatusCode::SUCCESS, RequestState::Complete, &[]),
            Output::PauseAudio
        ]
    );
    assert_eq!(
        run(
            &mut m,
            Input::Pause {
                request_id: RequestId(5)
            }
        ),
        refused(5)
    );
    assert_eq!(
        run(
            &mut m,
            Input::Resume {
                request_id: RequestId(6)
            }
        ),
        vec![
            response(6, StatusCode::SUCCESS, RequestState::Complete, &[]),
            Output::ResumeAudio
        ]
    );
}

#[test]
fn barge_in_occurred_honours_kill_on_barge_in() {
    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(1, KEEP));
    let out = run(
        &mut m,
        Input::BargeInOccurred {
            request_id: RequestId(2),
        },
    );
    assert_eq!(
        out,
        vec![response(
            2,
            StatusCode::SUCCESS,
            RequestState::Complete,
            &[]
        )]
    );
    assert!(m.is_speaking());

    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(1, KILL));
    run(&mut m, speak(2, KILL));
    let out = run(
        &mut m,
        Input::BargeInOccurred {
            request_id: RequestId(3),
        },
    );
    assert_eq!(
        out,
        vec![
            stop_prompt(1),
            response(3, StatusCode::SUCCESS, RequestState::Complete, &[1, 2])
        ]
    );
}

#[test]
fn local_barge_in_completes_with_barge_in() {
    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(1, KILL));
    run(&mut m, speak(2, KEEP));
    let out = run(&mut m, Input::LocalBargeIn);
    assert_eq!(
        out,
        vec![
            stop_prompt(1),
            complete(1, SynthesizerCause::BargeIn),
            complete(2, SynthesizerCause::BargeIn)
        ]
    );
    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(1, KEEP));
    assert!(run(&mut m, Input::LocalBargeIn).is_empty());
}

#[test]
fn marks_are_reported_only_when_asked() {
    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(1, KILL));
    assert!(run(&mut m, Input::Mark { name: "m1".into() }).is_empty());
    run(&mut m, Input::PromptDone);
    run(
        &mut m,
        speak(
            2,
            SpeakParams {
                report_marks: true,
                ..KILL
            },
        ),
    );
    let out = run(&mut m, Input::Mark { name: "m2".into() });
    assert_eq!(
        out,
        vec![Output::SpeechMarker {
            request_id: RequestId(2),
            name: "m2".into()
        }]
    );
}

#[test]
fn failures_complete_with_their_cause_and_the_queue_goes_on() {
    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(1, KILL));
    run(&mut m, speak(2, KILL));
    let out = run(
        &mut m,
        Input::PromptFailed {
            cause: SynthesizerCause::ParseFailure,
        },
    );
    assert_eq!(
        out,
        vec![complete(1, SynthesizerCause::ParseFailure), start(2)]
    );
}

#[test]
fn control_restarts_or_names_what_it_cannot_do() {
    let mut m = SynthesizerMachine::new();
    let out = run(
        &mut m,
        Input::Control {
            request_id: RequestId(1),
            action: ControlAction::Restart,
        },
    );
    assert_eq!(
        out,
        vec![response(
            1,
            StatusCode::METHOD_NOT_VALID_IN_STATE,
            RequestState::Complete,
            &[]
        )]
    );
    run(&mut m, speak(2, KILL));
    let out = run(
        &mut m,
        Input::Control {
            request_id: RequestId(3),
            action: ControlAction::Restart,
        },
    );
    assert_eq!(
        out,
        vec![
            response(3, StatusCode::SUCCESS, RequestState::Complete, &[]),
            Output::RestartPrompt {
                request_id: RequestId(2)
            }
        ]
    );
    let out = run(
        &mut m,
        Input::Control {
            request_id: RequestId(4),
            action: ControlAction::Seek {
                header: "Jump-Size",
            },
        },
    );
    assert_eq!(
        out,
        vec![Output::Response {
            request_id: RequestId(4),
            status: StatusCode::UNSUPPORTED_HEADER_VALUE,
            state: RequestState::Complete,
            active_request_ids: vec![],
            unsupported_header: Some("Jump-Size"),
        }]
    );
}

#[test]
fn the_queue_is_bounded() {
    let mut m = SynthesizerMachine::new();
    run(&mut m, speak(0, KILL));
    for id in 1..=MAX_QUEUED_SPEAKS as u32 {
        run(&mut m, speak(id, KILL));
    }
    let out = run(&mut m, speak(999, KILL));
    assert_eq!(
        out,
        vec![response(
            999,
            StatusCode::METHOD_NOT_VALID_IN_STATE,
            RequestState::Complete,
            &[]
        )]
    );
}
