//! Decode and encode throughput of the MRCPv2 codec (RFC 6787 §5) on the two messages that dominate a
//! recognition: a RECOGNIZE with an inline SRGS grammar and a RECOGNITION-COMPLETE with NLSML (both built from
//! the bundled UniMRCP capture). Run: `cargo bench -p mrcp-proto --bench mrcp_codec`.
//!
//! Each decode iteration copies a buffer of `BATCH` back-to-back messages (as one socket read would) and decodes
//! them all, so the figure is messages per second on one core, copy included.

#[path = "../tests/mrcp_support/capture.rs"]
mod capture;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use mrcp_proto::mrcp::codec::Decoder;
use mrcp_proto::mrcp::{BytesMut, Message};

const BATCH: usize = 256;

fn captured(number: u32) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/unimrcp-wire-captures.txt"
    );
    let text = std::fs::read(path).expect("capture file");
    capture::parse(&text)
        .expect("capture parses")
        .into_iter()
        .find(|f| f.number == number)
        .expect("frame present")
        .payload
}

fn decode_one(bytes: &[u8]) -> Message {
    let mut buf = BytesMut::from(bytes);
    Decoder::default()
        .decode(&mut buf)
        .expect("decodes")
        .expect("whole")
}

/// RECOGNIZE 2 of the capture with the DEFINE-GRAMMAR's SRGS inline, as RFC 6787 §9.9 allows and FreeSWITCH's
/// header set (Cancel-If-Queue, Start-Input-Timers, timeouts, Speech-Language, vendor parameters).
fn recognize_with_inline_srgs() -> Vec<u8> {
    let define = decode_one(&captured(30));
    let mut msg = decode_one(&captured(34));
    msg.headers
        .set_raw("Content-Type", "application/srgs+xml")
        .expect("valid");
    msg.headers
        .set_raw("Content-Id", "request1@form-level")
        .expect("valid");
    msg.headers
        .append_raw("Speech-Language", "en-US")
        .expect("valid");
    msg.headers
        .append_raw("Vendor-Specific-Parameters", "foo=bar;com.example.beam=20")
        .expect("valid");
    msg.body = define.body;
    msg.to_bytes().to_vec()
}

fn bench_message(c: &mut Criterion, name: &str, wire: &[u8]) {
    let msg = decode_one(wire);
    let mut stream = Vec::with_capacity(wire.len() * BATCH);
    for _ in 0..BATCH {
        stream.extend_from_slice(wire);
    }
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("decode", |b| {
        let mut dec = Decoder::default();
        b.iter(|| {
            let mut buf = BytesMut::from(&stream[..]);
            let mut n = 0;
            while let Some(m) = dec.decode(&mut buf).expect("decodes") {
                black_box(&m);
                n += 1;
            }
            assert_eq!(n, BATCH);
        })
    });
    group.bench_function("encode", |b| {
        let mut out = BytesMut::with_capacity(stream.len());
        b.iter(|| {
            out.clear();
            for _ in 0..BATCH {
                black_box(&msg).encode(&mut out);
            }
            black_box(&out);
        })
    });
    group.bench_function("decode+encode", |b| {
        let mut dec = Decoder::default();
        let mut out = BytesMut::with_capacity(stream.len());
        b.iter(|| {
            out.clear();
            let mut buf = BytesMut::from(&stream[..]);
            while let Some(m) = dec.decode(&mut buf).expect("decodes") {
                m.encode(&mut out);
            }
            black_box(&out);
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_message(c, "recognize_inline_srgs", &recognize_with_inline_srgs());
    bench_message(c, "recognition_complete_nlsml", &captured(39));
}

/// CPU nanoseconds this thread has run (`/proc/thread-self/schedstat`), so the figure below is per core even on
/// a busy machine where wall time is shared.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Decodes (and separately decodes and re-encodes) `rounds` batches and prints messages per CPU-second.
fn cpu_time_report(name: &str, wire: &[u8]) {
    let mut stream = Vec::with_capacity(wire.len() * BATCH);
    for _ in 0..BATCH {
        stream.extend_from_slice(wire);
    }
    let rounds = 2000;
    for encode in [false, true] {
        let mut dec = Decoder::default();
        let mut out = BytesMut::with_capacity(stream.len());
        let Some(start) = thread_cpu_ns() else {
            return;
        };
        for _ in 0..rounds {
            out.clear();
            let mut buf = BytesMut::from(&stream[..]);
            while let Some(m) = dec.decode(&mut buf).expect("decodes") {
                if encode {
                    m.encode(&mut out);
                }
                black_box(&m);
            }
        }
        let Some(end) = thread_cpu_ns() else {
            return;
        };
        let msgs = (rounds * BATCH) as f64;
        let secs = (end - start) as f64 / 1e9;
        let what = if encode { "decode+encode" } else { "decode" };
        println!(
            "{name}/{what}: {:.0} messages per CPU-second ({:.0} ns per message, {} bytes each)",
            msgs / secs,
            secs * 1e9 / msgs,
            wire.len()
        );
    }
}

criterion_group!(benches, codec);

fn main() {
    cpu_time_report("recognize_inline_srgs", &recognize_with_inline_srgs());
    cpu_time_report("recognition_complete_nlsml", &captured(39));
    benches();
    Criterion::default().configure_from_args().final_summary();
}
