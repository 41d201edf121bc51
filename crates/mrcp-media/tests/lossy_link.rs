//! Two parties stepped on injected time over a seeded lossy link (loss, duplicates, reordering
//! delay): paced sender → RTP session → link → RTP session → jitter buffer. Every packet that
//! arrives in time is played once, in timestamp order, with its exact payload; everything else is
//! a gap of the right size. Runs for PCMU, L16/16k and G.722.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use mrcp_media::codec::{AudioEncoder, Codec, SampleRate};
use mrcp_media::jitter::{JitterBuffer, JitterConfig, JitterPacket, Playout};
use mrcp_media::pacer::{PacedSender, PacerConfig, PacerOutput, PromptId};
use mrcp_media::session::{Output, RtpSession, RtpSessionConfig, SessionEvent};
use mrcp_proto::rtp::{PayloadType, RtpPacket, Ssrc};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn run(codec: Codec, pt: u8, seed: u64) {
    let t0 = Instant::now();
    let ptime = Duration::from_millis(20);
    let pt = PayloadType::new(pt).expect("payload type");
    let a_addr = "127.0.0.1:5000".parse().expect("addr");
    let b_addr = "127.0.0.1:6000".parse().expect("addr");
    let mut pacer = PacedSender::new(PacerConfig {
        ssrc: Ssrc(1),
        payload_type: pt,
        telephone_event: None,
        clock_rate: codec.clock_rate(),
        ptime,
        initial_sequence: 65500,
        initial_timestamp: 4_294_960_000,
    });
    let mut cfg_a = RtpSessionConfig::new(Ssrc(1), codec.clock_rate());
    cfg_a.remote_rtp = Some(b_addr);
    cfg_a.rtcp_interval = None;
    let mut a = RtpSession::new(cfg_a, t0);
    let mut cfg_b = RtpSessionConfig::new(Ssrc(2), codec.clock_rate());
    cfg_b.payload_types = vec![pt];
    cfg_b.rtcp_interval = None;
    let mut b = RtpSession::new(cfg_b, t0);
    let mut jb: JitterBuffer<Vec<u8>> =
        JitterBuffer::new(JitterConfig::new(codec.clock_rate(), ptime));

    // 3 s of audio: every frame distinct.
    let rate = codec.sample_rate().0 as usize;
    let pcm: Vec<i16> = (0..3 * rate)
        .map(|n| ((n * 7919) % 20000) as i16 - 10000)
        .collect();
    let mut enc = AudioEncoder::new(codec);
    let frame = rate / 50;
    let mut sent: HashMap<u32, Vec<u8>> = HashMap::new();
    pacer.begin_prompt(PromptId(1));
    for f in pcm.chunks(frame) {
        let mut payload = Vec::new();
        enc.encode(f, &mut payload);
        let units = codec.timestamp_units(payload.len());
        pacer.push_frame(t0, payload, units);
    }
    pacer.end_prompt(t0);

    let mut rng = Rng(seed);
    let mut link: BTreeMap<(Instant, u64), Vec<u8>> = BTreeMap::new();
    let mut n = 0u64;
    let mut played: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut gaps: Vec<(u32, u32)> = Vec::new();
    let mut finished = false;
    let mut now = t0;
    for _ in 0..100_000 {
        let next = [
            pacer.poll_timeout(),
            jb.poll_timeout(),
            link.keys().next().map(|k| k.0),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        now = now.max(next);
        pacer.handle_timeout(now);
        while let Some(o) = pacer.poll_output() {
            match o {
                PacerOutput::Packet(p) => {
                    sent.insert(p.timestamp, p.payload.clone());
                    assert!(a.send_rtp(now, &p.rtp(Ssrc(1))));
                }
                PacerOutput::PromptFinished { .. } => finished = true,
            }
        }
        while let Some(o) = a.poll_output() {
            if let Output::Transmit(t) = o {
                if rng.chance(5) {
                    continue; // lost
                }
                let copies = if rng.chance(5) { 2 } else { 1 };
                for _ in 0..copies {
                    let delay = Duration::from_millis(5 + rng.next() % 50);
                    n += 1;
                    link.insert((now + delay, n), t.payload.clone());
                }
            }
        }
        while let Some(entry) = link.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at, _), bytes) = entry.remove_entry();
            b.handle_rtp(at, a_addr, &bytes);
        }
        while let Some(o) = b.poll_output() {
            if let Output::Event(SessionEvent::Media(p)) = o {
                let duration = codec.timestamp_units(p.payload.len());
                jb.push(
                    p.arrival,
                    JitterPacket {
                        ssrc: p.ssrc,
                        sequence: p.sequence,
                        timestamp: p.timestamp,
                        marker: p.marker,
                        duration,
                        payload: p.payload,
                    },
                );
            }
        }
        while let Some(f) = jb.pop(now) {
            match f {
                Playout::Packet {
                    timestamp, payload, ..
                } => played.push((timestamp, payload)),
                Playout::Gap {
                    timestamp,
                    duration,
                } => gaps.push((timestamp, duration)),
            }
        }
    }
    assert!(finished, "{codec}: prompt finished");
    assert_eq!(sent.len(), pcm.len() / frame);
    for (ts, payload) in &played {
        assert_eq!(
            sent.get(ts),
            Some(payload),
            "{codec}: payload of ts {ts} differs"
        );
    }
    let mut order: Vec<u32> = played.iter().map(|p| p.0).collect();
    let before = order.len();
    order.dedup();
    assert_eq!(order.len(), before, "{codec}: a packet played twice");
    // Everything sent is either played or inside a gap (until the stream's end).
    let frame_units = codec.timestamp_units(codec.payload_len(frame));
    let start = 4_294_960_000u32;
    for k in 0..sent.len() as u32 {
        let ts = start.wrapping_add(k * frame_units);
        let in_gap = gaps.iter().any(|&(g, d)| ts.wrapping_sub(g) < d);
        assert!(
            order.contains(&ts) || in_gap,
            "{codec}: ts {ts} neither played nor a gap"
        );
    }
    let stats = b.stats();
    println!(
        "{codec}: sent {}, played {}, gaps {}, session {:?}, jitter buffer {:?}",
        sent.len(),
        played.len(),
        gaps.len(),
        (
            stats.received,
            stats.duplicates,
            stats.reordered,
            stats.lost
        ),
        jb.stats()
    );
    assert!(
        played.len() * 100 >= sent.len() * 85,
        "{codec}: too few packets played"
    );
    assert!(
        stats.duplicates > 0 && stats.reordered > 0,
        "{codec}: the link should duplicate and reorder"
    );
}

#[test]
fn pcmu_over_a_lossy_link() {
    run(Codec::Pcmu, 0, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn l16_wideband_over_a_lossy_link() {
    run(Codec::L16(SampleRate::HZ_16000), 96, 0x1234_5678_9abc_def1);
}

#[test]
fn g722_over_a_lossy_link() {
    run(Codec::G722, 9, 0x0f0f_f0f0_1357_9bdf);
}

#[test]
fn garbage_packets_on_the_link_are_dropped() {
    let t0 = Instant::now();
    let mut s = RtpSession::new(RtpSessionConfig::new(Ssrc(2), 8000), t0);
    let from = "127.0.0.1:5000".parse().expect("addr");
    let p = RtpPacket::new(PayloadType::PCMU, 1, 0, Ssrc(1), false, &[0xff; 160])
        .to_bytes()
        .expect("bytes");
    for cut in 0..p.len() {
        s.handle_rtp(t0, from, &p[..cut]);
    }
    assert_eq!(s.stats().malformed, 12);
}
