//! Per-frame cost of the receive path for one 20 ms frame: decode → in-band DTMF → VAD, with the
//! energy and the earshot detector; resampling separately; and the jitter buffer per packet.
//! Run: `cargo bench -p mrcp-media --bench frame_pipeline`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mrcp_media::codec::{AudioDecoder, AudioEncoder, Codec, SampleRate};
use mrcp_media::dtmf::{InbandConfig, InbandDetector};
use mrcp_media::jitter::{JitterBuffer, JitterConfig, JitterPacket};
use mrcp_media::resample::StreamResampler;
use mrcp_media::vad::{EarshotDetector, Endpointer, EndpointerConfig, EnergyDetector};
use mrcp_proto::rtp::Ssrc;

/// One second of speech-like PCMU: a gliding, amplitude-modulated tone with noise.
fn frames() -> Vec<Vec<u8>> {
    let mut x = 1u32;
    let pcm: Vec<i16> = (0..8000)
        .map(|n| {
            let t = n as f32 / 8000.0;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
            (env * 9000.0 * (2.0 * std::f32::consts::PI * (200.0 + 300.0 * t) * t).sin()
                + (x % 600) as f32
                - 300.0) as i16
        })
        .collect();
    let mut enc = AudioEncoder::new(Codec::Pcmu);
    pcm.chunks(160)
        .map(|f| {
            let mut p = Vec::new();
            enc.encode(f, &mut p);
            p
        })
        .collect()
}

fn pipeline(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("per_20ms_frame");

    let mut dec = AudioDecoder::new(Codec::Pcmu);
    let mut dtmf = InbandDetector::new(InbandConfig::new(8000));
    let mut vad = Endpointer::new(
        EndpointerConfig::default(),
        Box::new(EnergyDetector::new(SampleRate::HZ_8000)),
    );
    let mut pcm = Vec::with_capacity(160);
    let mut i = 0;
    g.bench_function("decode+dtmf+vad(energy)", |b| {
        b.iter(|| {
            pcm.clear();
            dec.decode(&frames[i % frames.len()], &mut pcm);
            dtmf.process(&pcm, |d| {
                black_box(d);
            });
            black_box(vad.process(&pcm));
            i += 1;
        })
    });

    let mut vad = Endpointer::new(
        EndpointerConfig::default(),
        Box::new(EarshotDetector::new(SampleRate::HZ_8000).expect("8 kHz is supported")),
    );
    g.bench_function("decode+dtmf+vad(earshot)", |b| {
        b.iter(|| {
            pcm.clear();
            dec.decode(&frames[i % frames.len()], &mut pcm);
            dtmf.process(&pcm, |d| {
                black_box(d);
            });
            black_box(vad.process(&pcm));
            i += 1;
        })
    });

    g.bench_function("decode", |b| {
        b.iter(|| {
            pcm.clear();
            dec.decode(&frames[i % frames.len()], &mut pcm);
            black_box(&pcm);
            i += 1;
        })
    });

    // G.722: one 20 ms frame is 320 samples at 16 kHz, 160 bytes.
    let wide: Vec<i16> = (0..320)
        .map(|n| ((n * 7919) % 20000) as i16 - 10000)
        .collect();
    let mut g722_enc = AudioEncoder::new(Codec::G722);
    let mut g722_dec = AudioDecoder::new(Codec::G722);
    let mut g722_payload = Vec::with_capacity(160);
    g.bench_function("g722 encode", |b| {
        b.iter(|| {
            g722_payload.clear();
            g722_enc.encode(&wide, &mut g722_payload);
            black_box(&g722_payload);
        })
    });
    g722_payload.clear();
    AudioEncoder::new(Codec::G722).encode(&wide, &mut g722_payload);
    let mut wide_out = Vec::with_capacity(320);
    g.bench_function("g722 decode", |b| {
        b.iter(|| {
            wide_out.clear();
            g722_dec.decode(&g722_payload, &mut wide_out);
            black_box(&wide_out);
        })
    });

    let mut rs = StreamResampler::new(
        SampleRate::HZ_8000,
        SampleRate::HZ_16000,
        Duration::from_millis(20),
    )
    .expect("8k to 16k");
    let mut out = Vec::with_capacity(640);
    pcm.clear();
    dec.decode(&frames[0], &mut pcm);
    g.bench_function("resample 8k->16k", |b| {
        b.iter(|| {
            out.clear();
            rs.process(&pcm, &mut out).expect("resample");
            black_box(&out);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("jitter_buffer");
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, Duration::from_millis(20)));
    let mut n: u32 = 0;
    g.bench_function("push+pop per packet", |b| {
        b.iter(|| {
            let now = t0 + Duration::from_millis(20) * n;
            // Every 16th packet arrives one slot late (reordered).
            let seq = if n % 16 == 15 {
                n - 1
            } else if n % 16 == 14 {
                n + 1
            } else {
                n
            };
            jb.push(
                now,
                JitterPacket {
                    ssrc: Ssrc(1),
                    sequence: seq as u16,
                    timestamp: seq.wrapping_mul(160),
                    marker: false,
                    duration: 160,
                    payload: (),
                },
            );
            while let Some(p) = jb.pop(now) {
                black_box(p);
            }
            n += 1;
        })
    });
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
