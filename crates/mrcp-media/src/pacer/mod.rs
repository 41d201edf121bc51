//! Paced RTP sender (RFC 3550 §5.1 timing, RFC 3551 §4.1 marker bit, RFC 4733 §2.5 events),
//! sans-IO with injected time.
//!
//! One packet leaves per slot of its duration, scheduled from an anchor instant (slot *k* is due
//! at `anchor + k × ptime`), so rounding never accumulates into drift. A late wake-up sends the due
//! packet and at most one more to catch up; when still behind after that, the schedule re-anchors
//! at `now` rather than bursting (FreeSWITCH drops packets more than 600 ms ahead and resets on
//! timestamp/arrival deviations above 4000 samples).
//!
//! Sequence numbers and timestamps run on across prompts of a session. When the sender was idle,
//! the next packet carries the marker bit and its timestamp has advanced by the idle time, as the
//! UniMRCP client does. [`PacerOutput::PromptFinished`] is emitted when the last packet of a
//! prompt leaves, with the instant its audio ends at the receiver.
//!
//! ```text
//! begin_prompt → push_frame… → end_prompt      handle_timeout(now) at poll_timeout()
//!                                               poll_output() → Packet… PromptFinished
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mrcp_proto::rtp::{DtmfEvent, PayloadType, RtpPacket, Ssrc, TelephoneEvent};

/// Identifies a prompt (a SPEAK, or a file the client streams).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PromptId(pub u64);

/// Settings of a [`PacedSender`].
#[derive(Debug, Clone)]
pub struct PacerConfig {
    /// Our SSRC.
    pub ssrc: Ssrc,
    /// Payload type of the audio.
    pub payload_type: PayloadType,
    /// Payload type of telephone-event, when negotiated.
    pub telephone_event: Option<PayloadType>,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Packet time.
    pub ptime: Duration,
    /// First sequence number (random per RFC 3550 §5.1).
    pub initial_sequence: u16,
    /// First timestamp (random per RFC 3550 §5.1).
    pub initial_timestamp: u32,
}

/// A packet ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPacket {
    /// Payload type.
    pub payload_type: PayloadType,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Marker bit.
    pub marker: bool,
    /// Payload.
    pub payload: Vec<u8>,
    /// Instant the packet was due.
    pub due: Instant,
}

impl OutgoingPacket {
    /// The RTP packet with our SSRC.
    pub fn rtp(&self, ssrc: Ssrc) -> RtpPacket<'_> {
        RtpPacket::new(
            self.payload_type,
            self.sequence,
            self.timestamp,
            ssrc,
            self.marker,
            &self.payload,
        )
    }
}

/// What [`PacedSender::poll_output`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacerOutput {
    /// Send this packet now.
    Packet(OutgoingPacket),
    /// The last packet of a prompt left.
    PromptFinished {
        /// The prompt.
        prompt: PromptId,
        /// When its last packet left (the `now` of that `handle_timeout`).
        last_packet_at: Instant,
        /// When the audio of that packet ends at the receiver (one slot later).
        audio_end: Instant,
        /// Ended by [`PacedSender::stop`] rather than by its last packet.
        stopped: bool,
    },
}

#[derive(Debug)]
enum Item {
    Audio { payload: Vec<u8>, units: u32 },
    Event { payload: [u8; 4], first: bool },
    End(PromptId),
}

/// Counters of a [`PacedSender`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacerStats {
    /// Packets sent.
    pub packets: u64,
    /// Packets sent after their slot because the caller woke up late.
    pub late: u64,
    /// Re-anchorings because the caller fell more than one packet behind.
    pub reanchors: u64,
    /// Talkspurts started (marker bits on audio).
    pub talkspurts: u64,
}

/// The paced sender; see the module docs.
#[derive(Debug)]
pub struct PacedSender {
    cfg: PacerConfig,
    frame_units: u32,
    queue: VecDeque<Item>,
    /// Instant of slot 0 and units scheduled since.
    anchor: Option<(Instant, u64)>,
    sequence: u16,
    /// Timestamp of the next slot.
    ts_cursor: u32,
    event_ts: u32,
    /// End of the last slot sent: the media clock keeps running from there while idle.
    idle_since: Option<Instant>,
    current: Option<PromptId>,
    marker_pending: bool,
    last_sent_at: Option<Instant>,
    /// Held since then (PAUSE): nothing leaves until [`PacedSender::resume`].
    paused_at: Option<Instant>,
    out: VecDeque<PacerOutput>,
    stats: PacerStats,
}

impl PacedSender {
    /// An idle sender.
    pub fn new(cfg: PacerConfig) -> Self {
        let frame_units =
            u32::try_from(u128::from(cfg.clock_rate) * cfg.ptime.as_micros() / 1_000_000)
                .unwrap_or(160)
                .max(1);
        Self {
            sequence: cfg.initial_sequence,
            ts_cursor: cfg.initial_timestamp,
            event_ts: cfg.initial_timestamp,
            cfg,
            frame_units,
            queue: VecDeque::new(),
            anchor: None,
            idle_since: None,
            current: None,
            marker_pending: false,
            last_sent_at: None,
            paused_at: None,
            out: VecDeque::new(),
            stats: PacerStats::default(),
        }
    }

    /// Timestamp units of one ptime.
    pub fn frame_units(&self) -> u32 {
        self.frame_units
    }

    /// Counters so far.
    pub fn stats(&self) -> PacerStats {
        self.stats
    }

    /// Packets waiting.
    pub fn queued(&self) -> usize {
        self.queue
            .iter()
            .filter(|i| !matches!(i, Item::End(_)))
            .count()
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    fn units_to_duration(&self, units: u64) -> Duration {
        Duration::from_nanos(
            u64::try_from(
                u128::from(units) * 1_000_000_000 / u128::from(self.cfg.clock_rate.max(1)),
            )
            .unwrap_or(u64::MAX),
        )
    }

    fn duration_to_units(&self, d: Duration) -> u64 {
        u64::try_from(d.as_nanos() * u128::from(self.cfg.clock_rate) / 1_000_000_000)
            .unwrap_or(u64::MAX)
    }

    fn next_due(&self) -> Option<Instant> {
        self.anchor
            .map(|(t, units)| t + self.units_to_duration(units))
    }

    /// Starts a prompt; audio pushed until [`end_prompt`](Self::end_prompt) belongs to it.
    pub fn begin_prompt(&mut self, prompt: PromptId) {
        self.current = Some(prompt);
    }

    /// Holds the queued audio where it is (RFC 6787 §8.11 PAUSE): no packet leaves until
    /// [`resume`](Self::resume), so the caller stops hearing the prompt within one packet.
    pub fn pause(&mut self, now: Instant) {
        self.paused_at.get_or_insert(now);
    }

    /// Sends the held audio on from `now` as a new talkspurt: the marker bit is set and the timestamp
    /// jumps by the pause, as after silence suppression (RFC 3551 §4.1).
    pub fn resume(&mut self, now: Instant) {
        let Some(at) = self.paused_at.take() else {
            return;
        };
        let held = now.saturating_duration_since(at);
        let units = u128::from(self.cfg.clock_rate) * held.as_micros() / 1_000_000;
        self.ts_cursor = self
            .ts_cursor
            .wrapping_add(u32::try_from(units % (1 << 32)).unwrap_or(0));
        self.marker_pending = true;
        if self.anchor.is_some() {
            self.anchor = Some((now, 0));
        }
    }

    /// Ends the current prompt: [`PacerOutput::PromptFinished`] follows its last packet (at once
    /// when nothing of it is left to send).
    pub fn end_prompt(&mut self, now: Instant) {
        let Some(prompt) = self.current.take() else {
            return;
        };
        if self.queue.is_empty() {
            let audio_end = self.next_due().or(self.idle_since).unwrap_or(now);
            let last_packet_at = self.last_sent_at.unwrap_or(now);
            self.out.push_back(PacerOutput::PromptFinished {
                prompt,
                last_packet_at,
                audio_end,
                stopped: false,
            });
        } else {
            self.queue.push_back(Item::End(prompt));
        }
    }

    fn start_if_idle(&mut self, now: Instant) {
        let behind = self
            .next_due()
            .is_some_and(|due| now > due + self.cfg.ptime);
        if self.queue.is_empty() && (self.anchor.is_none() || behind) {
            // New talkspurt: the media clock ran on while idle (RFC 3551 §4.1).
            let idle_end = self.next_due().or(self.idle_since);
            if let Some(since) = idle_end {
                let idle = self.duration_to_units(now.saturating_duration_since(since));
                // Wraps modulo 2^32 like every RTP timestamp.
                self.ts_cursor = self.ts_cursor.wrapping_add(idle as u32);
            }
            self.anchor = Some((now, 0));
            self.marker_pending = true;
        }
    }

    /// Queues one packet of audio covering `units` timestamp units (0: one ptime).
    pub fn push_frame(&mut self, now: Instant, payload: Vec<u8>, units: u32) {
        self.start_if_idle(now);
        let units = if units == 0 { self.frame_units } else { units };
        self.queue.push_back(Item::Audio { payload, units });
    }

    /// Queues a DTMF digit as telephone-event packets (RFC 4733 §2.5): one packet per ptime with
    /// growing duration, the first with the marker bit, then the end packet three times. Returns
    /// `false` when telephone-event was not negotiated.
    pub fn push_dtmf(
        &mut self,
        now: Instant,
        digit: DtmfEvent,
        duration: Duration,
        volume: u8,
    ) -> bool {
        if self.cfg.telephone_event.is_none() {
            return false;
        }
        self.start_if_idle(now);
        let total = u16::try_from(self.duration_to_units(duration))
            .unwrap_or(u16::MAX)
            .max(1);
        let step = u16::try_from(self.frame_units).unwrap_or(u16::MAX);
        let mut d = 0u16;
        let mut first = true;
        while d < total {
            d = d.saturating_add(step).min(total);
            let end = d == total;
            let ev = TelephoneEvent {
                event: digit.code(),
                end,
                volume: volume.min(63),
                duration: d,
            };
            let payload = ev.to_bytes().unwrap_or([digit.code(), 0x80, 0, 0]);
            let copies = if end { 3 } else { 1 };
            for _ in 0..copies {
                self.queue.push_back(Item::Event { payload, first });
                first = false;
            }
        }
        true
    }

    /// Discards queued audio (barge-in, STOP); the current and queued prompts finish as stopped.
    pub fn stop(&mut self, now: Instant) {
        self.paused_at = None;
        let audio_end = self.next_due().unwrap_or(now);
        let mut ended = Vec::new();
        for item in self.queue.drain(..) {
            if let Item::End(p) = item {
                ended.push(p);
            }
        }
        ended.extend(self.current.take());
        for prompt in ended {
            self.out.push_back(PacerOutput::PromptFinished {
                prompt,
                last_packet_at: now,
                audio_end,
                stopped: true,
            });
        }
    }

    /// Sends what is due: the packet of the current slot, plus at most one late packet.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.paused_at.is_some() {
            return;
        }
        let mut sent = 0;
        loop {
            // Prompt ends are emitted as soon as the packets before them have left.
            while let Some(Item::End(_)) = self.queue.front() {
                if let Some(Item::End(prompt)) = self.queue.pop_front() {
                    let audio_end = self.next_due().unwrap_or(now);
                    self.out.push_back(PacerOutput::PromptFinished {
                        prompt,
                        last_packet_at: now,
                        audio_end,
                        stopped: false,
                    });
                }
            }
            let Some(due) = self.next_due() else { break };
            if due > now || sent == 2 || self.queue.is_empty() {
                break;
            }
            let Some(item) = self.queue.pop_front() else {
                break;
            };
            if now >= due + self.cfg.ptime {
                self.stats.late += 1;
            }
            let (payload_type, timestamp, marker, payload, units) = match item {
                Item::Audio { payload, units } => {
                    let marker = std::mem::take(&mut self.marker_pending);
                    if marker {
                        self.stats.talkspurts += 1;
                    }
                    (
                        self.cfg.payload_type,
                        self.ts_cursor,
                        marker,
                        payload,
                        units,
                    )
                }
                Item::Event { payload, first } => {
                    if first {
                        self.event_ts = self.ts_cursor;
                    }
                    self.marker_pending = false;
                    let pt = self.cfg.telephone_event.unwrap_or(self.cfg.payload_type);
                    (pt, self.event_ts, first, payload.to_vec(), self.frame_units)
                }
                Item::End(_) => continue,
            };
            self.out.push_back(PacerOutput::Packet(OutgoingPacket {
                payload_type,
                sequence: self.sequence,
                timestamp,
                marker,
                payload,
                due,
            }));
            self.sequence = self.sequence.wrapping_add(1);
            self.ts_cursor = self.ts_cursor.wrapping_add(units);
            if let Some((_, scheduled)) = self.anchor.as_mut() {
                *scheduled += u64::from(units);
            }
            self.stats.packets += 1;
            self.last_sent_at = Some(now);
            sent += 1;
        }
        if let Some(due) = self.next_due() {
            if !self.queue.is_empty() && now > due + self.cfg.ptime {
                // Still more than a packet behind after one catch-up: re-anchor, never burst.
                self.stats.reanchors += 1;
                self.anchor = Some((now, 0));
            } else if self.queue.is_empty() && now >= due {
                // Idle: the media clock runs on from the end of the last slot.
                self.idle_since = Some(due);
                self.anchor = None;
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.paused_at.is_some() {
            return None;
        }
        self.next_due()
    }

    /// The next packet or notification.
    pub fn poll_output(&mut self) -> Option<PacerOutput> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests;
