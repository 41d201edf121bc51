//! The espeak-ng engine end to end on a typical IVR prompt: wall time per prompt (criterion), and the
//! real-time factor as audio seconds per CPU second of the espeak-ng processes (from the `cutime`/`cstime`
//! of `/proc/self/stat`, which count reaped children; Linux reports them in USER_HZ = 100 ticks per second).
//!
//! `cargo bench -p tts-adapters --bench espeak_rtf` (needs the Debian package espeak-ng).

use std::time::Duration;

use criterion::{Criterion, criterion_group};
use tts_adapters::espeak::{EspeakConfig, EspeakNg, SAMPLE_RATE};
use tts_adapters::{SynthesisEvent, SynthesisRequest, Synthesizer};

const PROMPT: &str = "Thank you for calling. For account balances, press one. To speak to an agent, \
                      press zero or stay on the line.";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn engine(rt: &tokio::runtime::Runtime) -> EspeakNg {
    rt.block_on(EspeakNg::new("espeak", EspeakConfig::default()))
        .unwrap_or_else(|e| panic!("the bench needs espeak-ng (Debian package espeak-ng): {e}"))
}

/// Synthesizes the prompt; the number of samples.
async fn speak(engine: &EspeakNg) -> usize {
    let mut stream = engine.start(SynthesisRequest::text(PROMPT)).expect("start");
    let mut samples = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(60), stream.next_event())
            .await
            .expect("synthesis event within 60 s")
            .expect("stream open")
            .expect("no engine error")
        {
            SynthesisEvent::Audio(a) => samples += a.len(),
            SynthesisEvent::Mark(_) => {}
            SynthesisEvent::Done => return samples,
        }
    }
}

/// CPU seconds used by reaped children so far.
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let tail = stat.rsplit_once(") ").map_or("", |(_, t)| t);
    // After "pid (comm) ": state is field 0; cutime and cstime are fields 13 and 14.
    let fields: Vec<f64> = tail
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    (fields.get(13).copied().unwrap_or(0.0) + fields.get(14).copied().unwrap_or(0.0)) / 100.0
}

fn real_time_factor() {
    let rt = runtime();
    let engine = engine(&rt);
    let rounds = 30;
    let before = children_cpu_seconds();
    let wall = std::time::Instant::now();
    let samples: usize = rt.block_on(async {
        let mut total = 0;
        for _ in 0..rounds {
            total += speak(&engine).await;
        }
        total
    });
    let wall = wall.elapsed().as_secs_f64();
    let cpu = children_cpu_seconds() - before;
    let audio = samples as f64 / f64::from(SAMPLE_RATE);
    println!(
        "espeak-ng real-time factor: {rounds} prompts, {audio:.1} s of audio in {cpu:.2} s of espeak-ng CPU \
         ({:.0}x real time per CPU second), {wall:.2} s wall ({:.0}x real time)",
        audio / cpu.max(0.01),
        audio / wall
    );
}

fn prompt_latency(c: &mut Criterion) {
    let rt = runtime();
    let engine = engine(&rt);
    c.bench_function("espeak_prompt_21_words", |b| {
        b.iter(|| rt.block_on(speak(&engine)))
    });
    c.bench_function("espeak_time_to_first_frame", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut stream = engine.start(SynthesisRequest::text(PROMPT)).expect("start");
                tokio::time::timeout(Duration::from_secs(60), stream.next_event())
                    .await
                    .expect("first frame within 60 s")
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(10));
    targets = prompt_latency
}

fn main() {
    real_time_factor();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
