//! Helpers shared by the espeak-ng tests. They need the Debian package `espeak-ng` and fail, naming it,
//! when it is missing.
#![allow(dead_code)]

use std::time::Duration;

use tts_adapters::espeak::{EspeakConfig, EspeakNg};
use tts_adapters::{EngineError, SynthesisEvent, SynthesisStream};

/// Generous for a debug build on a loaded two-core machine; espeak-ng runs far faster than real time.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub async fn engine(config: EspeakConfig) -> EspeakNg {
    match tokio::time::timeout(DEADLINE, EspeakNg::new("espeak", config)).await {
        Ok(Ok(engine)) => engine,
        Ok(Err(e)) => panic!("these tests need espeak-ng (Debian package espeak-ng): {e}"),
        Err(_) => panic!("espeak-ng did not list its voices within {DEADLINE:?}"),
    }
}

/// Reads a stream to its end: the events before `Done`, or the error.
pub async fn collect(mut stream: SynthesisStream) -> Result<Vec<SynthesisEvent>, EngineError> {
    let mut events = Vec::new();
    loop {
        let event = tokio::time::timeout(DEADLINE, stream.next_event())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no synthesis event within {DEADLINE:?} after {} events",
                    events.len()
                )
            })
            .expect("the stream ended without Done or an error");
        match event? {
            SynthesisEvent::Done => return Ok(events),
            other => events.push(other),
        }
    }
}

pub fn audio(events: &[SynthesisEvent]) -> Vec<i16> {
    events
        .iter()
        .filter_map(|e| match e {
            SynthesisEvent::Audio(a) => Some(a.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

pub fn seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(tts_adapters::espeak::SAMPLE_RATE)
}

pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// The longest run of exact zeros, in samples.
pub fn longest_silence(samples: &[i16]) -> usize {
    let (mut best, mut run) = (0, 0);
    for &s in samples {
        run = if s == 0 { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}
