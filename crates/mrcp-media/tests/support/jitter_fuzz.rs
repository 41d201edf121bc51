//! The jitter-buffer property both the fuzz target `fuzz/fuzz_targets/jitter_buffer.rs` and the corpus
//! replay `tests/jitter_corpus.rs` check (included by `#[path]`): each 8-byte record is one operation (push a
//! packet with fuzzed SSRC/sequence/timestamp/marker/duration after a fuzzed delay, or pop). No panic, never
//! more packets out than in, and between restarts timestamps come out in order.

use std::time::{Duration, Instant};

use mrcp_media::jitter::{JitterBuffer, JitterConfig, JitterPacket, Playout};
use mrcp_proto::rtp::Ssrc;

/// Runs one input; panics when a property fails.
pub fn check(data: &[u8]) {
    let t0 = Instant::now();
    let mut now = t0;
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, Duration::from_millis(20)));
    let (mut pushed, mut played) = (0u64, 0u64);
    let mut last: Option<(u64, u32)> = None;
    for r in data.chunks_exact(8) {
        now += Duration::from_millis(u64::from(r[7] % 64));
        if r[0] & 1 == 0 {
            let packet = JitterPacket {
                ssrc: Ssrc(u32::from(r[0] >> 6)),
                sequence: u16::from_be_bytes([r[1], r[2]]),
                timestamp: u32::from_be_bytes([r[3], r[4], r[5], 0]).wrapping_mul(160),
                marker: r[0] & 2 != 0,
                duration: u32::from(r[6]) * 8,
                payload: (),
            };
            jb.push(now, packet);
            pushed += 1;
        }
        while let Some(p) = jb.pop(now) {
            let ts = match p {
                Playout::Packet { timestamp, .. } => {
                    played += 1;
                    timestamp
                }
                Playout::Gap { timestamp, .. } => timestamp,
            };
            let restarts = jb.stats().restarts;
            if let Some((r0, prev)) = last
                && r0 == restarts
            {
                assert!(
                    (ts.wrapping_sub(prev) as i32) > 0,
                    "out of order: {prev} then {ts}"
                );
            }
            last = Some((restarts, ts));
        }
        if jb.poll_timeout().is_none() {
            // Idle: the next packet starts a new timeline.
            last = None;
        }
        assert!(played <= pushed);
    }
}
