use super::*;

const PTIME: Duration = Duration::from_millis(20);

fn pkt(seq: u16, ts: u32, marker: bool) -> JitterPacket<u16> {
    JitterPacket {
        ssrc: Ssrc(7),
        sequence: seq,
        timestamp: ts,
        marker,
        duration: 160,
        payload: seq,
    }
}

/// Replays `(arrival offset, packet)` pairs in arrival order, popping everything due on the way,
/// and returns what came out.
fn run(
    jb: &mut JitterBuffer<u16>,
    t0: Instant,
    mut arrivals: Vec<(Duration, JitterPacket<u16>)>,
) -> Vec<Playout<u16>> {
    arrivals.sort_by_key(|(at, _)| *at);
    let mut out = Vec::new();
    let mut arrivals = arrivals.into_iter().peekable();
    loop {
        let next_arrival = arrivals.peek().map(|(at, _)| t0 + *at);
        let next_pop = jb.poll_timeout();
        match (next_arrival, next_pop) {
            (None, None) => break,
            (Some(a), Some(p)) if p < a => out.extend(drain(jb, p)),
            (None, Some(p)) => out.extend(drain(jb, p)),
            (Some(a), _) => {
                let (_, packet) = arrivals.next().unwrap();
                jb.push(a, packet);
            }
        }
    }
    out
}

fn drain(jb: &mut JitterBuffer<u16>, now: Instant) -> Vec<Playout<u16>> {
    std::iter::from_fn(|| jb.pop(now)).collect()
}

fn played(out: &[Playout<u16>]) -> Vec<u16> {
    out.iter()
        .filter_map(|p| match p {
            Playout::Packet { payload, .. } => Some(*payload),
            Playout::Gap { .. } => None,
        })
        .collect()
}

fn gaps(out: &[Playout<u16>]) -> Vec<u32> {
    out.iter()
        .filter_map(|p| match p {
            Playout::Gap { timestamp, .. } => Some(*timestamp),
            Playout::Packet { .. } => None,
        })
        .collect()
}

#[test]
fn in_order_stream_plays_everything_after_the_initial_delay() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    let arrivals = (0..50u16)
        .map(|i| {
            (
                PTIME * u32::from(i),
                pkt(i, 1000 + u32::from(i) * 160, i == 0),
            )
        })
        .collect();
    let first = t0;
    jb.push(first, pkt(0, 1000, true));
    assert_eq!(jb.poll_timeout(), Some(t0 + PTIME * 2));
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    let out = run(&mut jb, t0, arrivals);
    assert_eq!(played(&out), (0..50).collect::<Vec<_>>());
    // The trailing idle gaps end the stream; no gap inside it.
    assert!(gaps(&out).iter().all(|&ts| ts >= 1000 + 50 * 160));
    assert_eq!(jb.stats().late + jb.stats().duplicates, 0);
}

#[test]
fn reorders_and_drops_duplicates() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    let mut arrivals: Vec<_> = (0..40u16)
        .map(|i| (PTIME * u32::from(i), pkt(i, u32::from(i) * 160, false)))
        .collect();
    // Swap neighbours 10/11 and 20/21 by 10 ms, duplicate 5 and 30 (one arriving after playout).
    arrivals[10].0 += Duration::from_millis(25);
    arrivals[20].0 += Duration::from_millis(25);
    arrivals.push((PTIME * 5 + Duration::from_millis(1), pkt(5, 5 * 160, false)));
    arrivals.push((PTIME * 33, pkt(30, 30 * 160, false)));
    let out = run(&mut jb, t0, arrivals);
    assert_eq!(played(&out), (0..40).collect::<Vec<_>>());
    assert_eq!(jb.stats().duplicates, 2);
}

#[test]
fn fills_a_lost_packet_with_a_gap() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    let arrivals = (0..20u16)
        .filter(|&i| i != 7)
        .map(|i| (PTIME * u32::from(i), pkt(i, u32::from(i) * 160, false)))
        .collect();
    let out = run(&mut jb, t0, arrivals);
    let p = played(&out);
    assert_eq!(p.len(), 19);
    assert!(!p.contains(&7));
    assert_eq!(gaps(&out)[0], 7 * 160);
    assert_eq!(jb.stats().gaps as usize, gaps(&out).len());
}

#[test]
fn late_packet_is_dropped_and_delay_grows() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    let before = jb.delay();
    let mut arrivals: Vec<_> = (0..20u16)
        .map(|i| (PTIME * u32::from(i), pkt(i, u32::from(i) * 160, false)))
        .collect();
    // Packet 5 is 100 ms late: its slot was played as a gap.
    arrivals[5].0 += Duration::from_millis(100);
    let out = run(&mut jb, t0, arrivals);
    assert_eq!(jb.stats().late, 1);
    assert!(jb.delay() > before);
    assert!(!played(&out).contains(&5));
    assert_eq!(played(&out).len(), 19);
}

#[test]
fn ssrc_change_restarts() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    assert_eq!(jb.push(t0, pkt(1, 160, false)), PushOutcome::Queued);
    let mut other = pkt(900, 77_000, false);
    other.ssrc = Ssrc(8);
    assert_eq!(
        jb.push(t0 + PTIME, other),
        PushOutcome::Restarted(RestartReason::SsrcChanged)
    );
    assert_eq!(jb.stats().flushed, 1);
    let out = drain(&mut jb, t0 + PTIME * 3);
    assert_eq!(played(&out), vec![900]);
}

#[test]
fn timestamp_jump_restarts_and_marker_reanchors() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    jb.push(t0, pkt(1, 0, true));
    jb.push(t0 + PTIME, pkt(2, 160, false));
    // 10 s timestamp jump 20 ms later: restart.
    assert_eq!(
        jb.push(t0 + PTIME * 2, pkt(3, 80_000, false)),
        PushOutcome::Restarted(RestartReason::TimestampJump)
    );
    assert_eq!(played(&drain(&mut jb, t0 + PTIME * 5)), vec![3]);
    // Marker after a silence with the clock kept running: new talkspurt, no restart.
    let restarts = jb.stats().restarts;
    let t1 = t0 + Duration::from_secs(2);
    assert_eq!(
        jb.push(t1, pkt(4, 80_000 + 160 * 99, true)),
        PushOutcome::Queued
    );
    assert_eq!(jb.stats().restarts, restarts);
    let d = jb.delay();
    assert_eq!(played(&drain(&mut jb, t1 + d)), vec![4]);
}

#[test]
fn wraps_timestamps_and_sequence_numbers() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    let base = u32::MAX - 160 * 5 + 1;
    let arrivals = (0..12u16)
        .map(|i| {
            (
                PTIME * u32::from(i),
                pkt(
                    65530u16.wrapping_add(i),
                    base.wrapping_add(u32::from(i) * 160),
                    false,
                ),
            )
        })
        .collect();
    let out = run(&mut jb, t0, arrivals);
    assert_eq!(played(&out).len(), 12);
    assert_eq!(jb.stats().late + jb.stats().restarts, 0);
}

#[test]
fn too_early_packets_are_dropped() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    jb.push(t0, pkt(1, 0, false));
    // 700 ms ahead in timestamp while arriving at once: a jump, not queued ahead.
    let outcome = jb.push(t0, pkt(2, 5600, false));
    assert_ne!(outcome, PushOutcome::Queued);
}

#[test]
fn goes_idle_when_the_peer_stops() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
    jb.push(t0, pkt(1, 0, false));
    let out = drain(&mut jb, t0 + Duration::from_secs(5));
    assert_eq!(played(&out), vec![1]);
    assert!(jb.poll_timeout().is_none(), "idle after the peer stopped");
}

proptest::proptest! {
    /// Whatever the reordering, loss and duplication, frames come out in strictly increasing
    /// timestamp order and no packet twice.
    #[test]
    fn output_is_ordered(
        jitter in proptest::collection::vec(0u64..60, 60),
        drop_mask in proptest::collection::vec(proptest::bool::weighted(0.1), 60),
        dup_mask in proptest::collection::vec(proptest::bool::weighted(0.1), 60),
    ) {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::new(8000, PTIME));
        let mut arrivals = Vec::new();
        for i in 0..60u16 {
            let at = PTIME * u32::from(i) + Duration::from_millis(jitter[usize::from(i)]);
            if !drop_mask[usize::from(i)] {
                arrivals.push((at, pkt(i, u32::from(i) * 160, false)));
            }
            if dup_mask[usize::from(i)] {
                arrivals.push((at + Duration::from_millis(3), pkt(i, u32::from(i) * 160, false)));
            }
        }
        let out = run(&mut jb, t0, arrivals);
        let ts: Vec<u32> = out.iter().map(|p| match p { Playout::Packet { timestamp, .. } | Playout::Gap { timestamp, .. } => *timestamp }).collect();
        proptest::prop_assert!(ts.windows(2).all(|w| w[0] < w[1]), "{:?}", ts);
        let mut p = played(&out);
        let n = p.len();
        p.dedup();
        proptest::prop_assert_eq!(p.len(), n);
    }
}
