//! Driving a recognizer the way the server does: frames in, then the end of input, then events out.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use asr_adapters::{
    CompiledGrammars, Constraint, EngineError, RecognitionRequest, RecognitionStream, Recognizer,
    RecognizerEvent,
};
use vendor_emulators::openai::control::speech_like;

pub const DEADLINE: Duration = Duration::from_secs(10);

/// A request whose grammar says "yes" or "no".
pub fn yes_no() -> RecognitionRequest {
    RecognitionRequest {
        language: Some("en-US".into()),
        constraint: Constraint::Grammars(CompiledGrammars {
            jsgf: String::new(),
            words: vec!["yes".into(), "no".into()],
            phrases: vec!["yes".into(), "no".into()],
        }),
        n_best: 1,
        vendor_parameters: Vec::new(),
    }
}

/// Silence, a second of speech-like audio, silence, at `rate`.
pub fn utterance(rate: u32) -> Vec<i16> {
    let mut audio = vec![0i16; rate as usize / 5];
    audio.extend(speech_like(rate, Duration::from_secs(1)));
    audio.extend(vec![0i16; rate as usize]);
    audio
}

/// What a recognition gave: every event until the final result or the error.
#[derive(Debug, Default)]
pub struct Outcome {
    pub events: Vec<RecognizerEvent>,
    pub error: Option<EngineError>,
}

impl Outcome {
    pub fn final_texts(&self) -> Option<Vec<String>> {
        self.events.iter().find_map(|e| match e {
            RecognizerEvent::Final(alts) => Some(alts.iter().map(|a| a.text.clone()).collect()),
            _ => None,
        })
    }

    pub fn partials(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RecognizerEvent::Partial { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn error(&self) -> &EngineError {
        self.error
            .as_ref()
            .unwrap_or_else(|| panic!("no error; events: {:?}", self.events))
    }
}

/// Pushes `audio` in 20 ms frames, ends the input (unless `finish` is false), and reads events.
pub async fn recognize(
    engine: &dyn Recognizer,
    request: RecognitionRequest,
    audio: &[i16],
    finish: bool,
) -> Outcome {
    let rate = engine.capabilities().sample_rate as usize;
    let mut stream = engine.start(request).expect("start");
    for frame in audio.chunks(rate / 50) {
        if stream.push(frame.to_vec()).await.is_err() {
            break;
        }
    }
    if finish {
        stream.finish();
    }
    read(&mut stream).await
}

/// Reads events until a final result, an error, or the end of the stream.
pub async fn read(stream: &mut RecognitionStream) -> Outcome {
    let mut outcome = Outcome::default();
    loop {
        let event = tokio::time::timeout(DEADLINE, stream.next_event())
            .await
            .expect("no final result or error from the engine within the deadline");
        match event {
            Some(Ok(event)) => {
                let done = matches!(event, RecognizerEvent::Final(_));
                outcome.events.push(event);
                if done {
                    return outcome;
                }
            }
            Some(Err(error)) => {
                outcome.error = Some(error);
                return outcome;
            }
            None => return outcome,
        }
    }
}
