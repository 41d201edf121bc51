use super::*;

const PTIME: Duration = Duration::from_millis(20);

fn pacer(te: bool) -> PacedSender {
    PacedSender::new(PacerConfig {
        ssrc: Ssrc(1),
        payload_type: PayloadType::PCMU,
        telephone_event: te.then(|| PayloadType::new(101).unwrap()),
        clock_rate: 8000,
        ptime: PTIME,
        initial_sequence: 65530,
        initial_timestamp: u32::MAX - 500,
    })
}

/// Runs the pacer until `until`, waking `lateness(i)` after each deadline; returns what came out
/// with the instant of the wake-up that produced it.
fn run(
    p: &mut PacedSender,
    until: Instant,
    lateness: impl Fn(usize) -> Duration,
) -> Vec<(Instant, PacerOutput)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(deadline) = p.poll_timeout() {
        let now = deadline + lateness(i);
        if now > until {
            break;
        }
        p.handle_timeout(now);
        out.extend(std::iter::from_fn(|| p.poll_output()).map(|o| (now, o)));
        i += 1;
    }
    out
}

fn packets(out: &[(Instant, PacerOutput)]) -> Vec<(Instant, OutgoingPacket)> {
    out.iter()
        .filter_map(|(t, o)| match o {
            PacerOutput::Packet(p) => Some((*t, p.clone())),
            PacerOutput::PromptFinished { .. } => None,
        })
        .collect()
}

#[test]
fn paces_without_drift_and_wraps_sequence_and_timestamp() {
    let t0 = Instant::now();
    let mut p = pacer(false);
    p.begin_prompt(PromptId(1));
    for i in 0..50u8 {
        p.push_frame(t0, vec![i; 160], 160);
    }
    p.end_prompt(t0);
    // Wake-ups 0–4 ms late; the schedule must not accumulate that.
    let out = run(&mut p, t0 + Duration::from_secs(5), |i| {
        Duration::from_millis((i % 5) as u64)
    });
    let pk = packets(&out);
    assert_eq!(pk.len(), 50);
    for (k, (sent, pkt)) in pk.iter().enumerate() {
        assert_eq!(pkt.due, t0 + PTIME * k as u32, "slot {k}");
        assert!(*sent - pkt.due < Duration::from_millis(5));
        assert_eq!(pkt.sequence, 65530u16.wrapping_add(k as u16));
        assert_eq!(pkt.timestamp, (u32::MAX - 500).wrapping_add(160 * k as u32));
        assert_eq!(pkt.marker, k == 0);
        assert_eq!(pkt.payload[0], k as u8);
    }
    let finished = out.iter().find_map(|(_, o)| match o {
        PacerOutput::PromptFinished {
            prompt,
            last_packet_at,
            audio_end,
            stopped,
        } => Some((*prompt, *last_packet_at, *audio_end, *stopped)),
        PacerOutput::Packet(_) => None,
    });
    let (prompt, last, end, stopped) = finished.expect("prompt finished");
    assert_eq!(prompt, PromptId(1));
    assert!(!stopped);
    assert_eq!(last, pk[49].0);
    assert_eq!(end, t0 + PTIME * 50);
}

#[test]
fn a_late_wake_up_sends_at_most_one_extra_packet_then_reanchors() {
    let t0 = Instant::now();
    let mut p = pacer(false);
    for _ in 0..20 {
        p.push_frame(t0, vec![0xff; 160], 0);
    }
    p.handle_timeout(t0);
    assert_eq!(std::iter::from_fn(|| p.poll_output()).count(), 1);
    // 95 ms late: slots 1..=5 are due, only two packets may go.
    let late = t0 + Duration::from_millis(115);
    p.handle_timeout(late);
    assert_eq!(std::iter::from_fn(|| p.poll_output()).count(), 2);
    assert_eq!(p.stats().reanchors, 1);
    assert_eq!(p.poll_timeout(), Some(late));
    p.handle_timeout(late);
    let next: Vec<_> = std::iter::from_fn(|| p.poll_output()).collect();
    assert_eq!(next.len(), 1);
    assert_eq!(p.poll_timeout(), Some(late + PTIME));
}

#[test]
fn timestamps_run_on_across_prompts_with_a_marker_after_idle() {
    let t0 = Instant::now();
    let mut p = pacer(false);
    p.begin_prompt(PromptId(1));
    for _ in 0..10 {
        p.push_frame(t0, vec![0xff; 160], 0);
    }
    p.end_prompt(t0);
    let first = packets(&run(&mut p, t0 + Duration::from_secs(1), |_| {
        Duration::ZERO
    }));
    assert_eq!(first.len(), 10);
    assert!(p.poll_timeout().is_none(), "idle");
    // Second prompt one second after the first ended.
    let t1 = t0 + PTIME * 10 + Duration::from_secs(1);
    p.begin_prompt(PromptId(2));
    p.push_frame(t1, vec![0xff; 160], 0);
    p.push_frame(t1, vec![0xff; 160], 0);
    p.end_prompt(t1);
    let second = packets(&run(&mut p, t1 + Duration::from_secs(1), |_| {
        Duration::ZERO
    }));
    assert_eq!(second.len(), 2);
    assert!(second[0].1.marker && !second[1].1.marker);
    assert_eq!(second[0].1.sequence, first[9].1.sequence.wrapping_add(1));
    assert_eq!(
        second[0].1.timestamp,
        first[9].1.timestamp.wrapping_add(160 + 8000)
    );
    assert_eq!(p.stats().talkspurts, 2);
}

#[test]
fn stop_discards_and_finishes_as_stopped() {
    let t0 = Instant::now();
    let mut p = pacer(false);
    p.begin_prompt(PromptId(3));
    for _ in 0..10 {
        p.push_frame(t0, vec![0xff; 160], 0);
    }
    p.handle_timeout(t0);
    p.poll_output();
    p.stop(t0 + Duration::from_millis(5));
    assert_eq!(p.queued(), 0);
    assert!(matches!(
        p.poll_output(),
        Some(PacerOutput::PromptFinished {
            prompt: PromptId(3),
            stopped: true,
            ..
        })
    ));
    // An empty prompt finishes at once.
    p.begin_prompt(PromptId(4));
    p.end_prompt(t0 + Duration::from_secs(1));
    assert!(matches!(
        p.poll_output(),
        Some(PacerOutput::PromptFinished {
            prompt: PromptId(4),
            stopped: false,
            ..
        })
    ));
}

#[test]
fn dtmf_events_follow_rfc4733() {
    let t0 = Instant::now();
    let mut p = pacer(true);
    p.push_frame(t0, vec![0xff; 160], 0);
    assert!(p.push_dtmf(
        t0,
        DtmfEvent::from_char('5').unwrap(),
        Duration::from_millis(100),
        10
    ));
    p.push_frame(t0, vec![0xff; 160], 0);
    let pk = packets(&run(&mut p, t0 + Duration::from_secs(1), |_| {
        Duration::ZERO
    }));
    let events: Vec<_> = pk
        .iter()
        .filter(|(_, k)| k.payload_type.get() == 101)
        .map(|(_, k)| k.clone())
        .collect();
    // 100 ms at 20 ms: durations 160..800, the last three times with E.
    assert_eq!(events.len(), 7);
    assert!(events[0].marker && events.iter().skip(1).all(|e| !e.marker));
    assert!(
        events
            .iter()
            .all(|e| e.timestamp == pk[0].1.timestamp.wrapping_add(160))
    );
    let parsed: Vec<_> = events
        .iter()
        .map(|e| TelephoneEvent::parse(&e.payload).unwrap())
        .collect();
    assert_eq!(
        parsed.iter().map(|e| e.duration).collect::<Vec<_>>(),
        vec![160, 320, 480, 640, 800, 800, 800]
    );
    assert_eq!(parsed.iter().filter(|e| e.end).count(), 3);
    assert!(parsed.iter().all(|e| e.event == 5 && e.volume == 10));
    // The audio after the event continues the media clock: 1 + 7 slots later.
    let last = pk.last().unwrap();
    assert_eq!(last.1.timestamp, pk[0].1.timestamp.wrapping_add(160 * 8));
    assert!(!pacer(false).push_dtmf(t0, DtmfEvent::from_char('1').unwrap(), PTIME, 10));
}

#[test]
fn pause_holds_the_queue_and_resume_starts_a_new_talkspurt() {
    let t0 = Instant::now();
    let mut p = pacer(false);
    p.begin_prompt(PromptId(1));
    for i in 0..10u8 {
        p.push_frame(t0, vec![i; 160], 160);
    }
    p.end_prompt(t0);
    let first = packets(&run(&mut p, t0 + PTIME * 2, |_| Duration::ZERO));
    assert_eq!(first.len(), 3, "slots 0, 1 and 2 are due by 40 ms");
    // PAUSE: nothing leaves, however long the pause.
    let paused_at = t0 + PTIME * 2 + Duration::from_millis(5);
    p.pause(paused_at);
    assert_eq!(p.poll_timeout(), None);
    p.handle_timeout(paused_at + Duration::from_secs(1));
    assert!(p.poll_output().is_none());
    // RESUME one second later: the rest follows at once, marked, with the timestamp moved on by the pause.
    let resumed_at = paused_at + Duration::from_secs(1);
    p.resume(resumed_at);
    let rest = packets(&run(&mut p, resumed_at + Duration::from_secs(1), |_| {
        Duration::ZERO
    }));
    assert_eq!(rest.len(), 7);
    let (_, next) = &rest[0];
    assert!(
        next.marker,
        "the first packet after a pause starts a talkspurt"
    );
    assert_eq!(next.due, resumed_at);
    assert_eq!(next.payload[0], 3);
    let expected = first[2].1.timestamp.wrapping_add(160).wrapping_add(8000);
    assert_eq!(next.timestamp, expected);
}
