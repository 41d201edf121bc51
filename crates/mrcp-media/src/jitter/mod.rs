//! Adaptive jitter buffer for received audio (RFC 3550 §6.4.1 and §A.8 for the jitter estimate;
//! timestamp and SSRC rules as UniMRCP's `mpf_jitter_buffer.c` and `mpf_rtp_stream.c`).
//!
//! Sans-IO: [`JitterBuffer::push`] takes a packet and its arrival instant,
//! [`JitterBuffer::pop`] hands out the next frame once its playout instant has passed, and
//! [`JitterBuffer::poll_timeout`] says when to call `pop` next. Nothing here reads a clock.
//!
//! ```text
//! arrival ──push──▶ [reorder by timestamp] ──pop at playout instant──▶ Packet | Gap
//!                     │ duplicate / too late / too early: dropped and counted
//!                     │ SSRC change, timestamp jump: restart (queue flushed)
//!                     └ marker on an empty queue: new talkspurt, delay re-chosen from the jitter
//! ```
//!
//! The audio feeds a recognizer, so latency matters more than smoothness: the default delay is one
//! or two frames and grows by a frame each time a packet arrives too late, up to `max_delay`; it
//! shrinks back to about three times the measured jitter at the next talkspurt.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use mrcp_proto::rtp::Ssrc;

/// Settings of a [`JitterBuffer`].
#[derive(Debug, Clone)]
pub struct JitterConfig {
    /// RTP clock rate of the stream.
    pub clock_rate: u32,
    /// Timestamp units of one frame (ptime × clock rate), used for gaps and packets without a
    /// known duration.
    pub frame_units: u32,
    /// Smallest playout delay.
    pub min_delay: Duration,
    /// Delay of the first talkspurt.
    pub initial_delay: Duration,
    /// Largest playout delay the adaptation may reach.
    pub max_delay: Duration,
    /// Packets further ahead of the playout point are dropped as too early (UniMRCP: 600 ms).
    pub capacity: Duration,
    /// A packet whose timestamp disagrees with its arrival time by more than this many timestamp
    /// units restarts the buffer (UniMRCP `DEVIATION_THRESHOLD`: 4000).
    pub jump_threshold: u32,
    /// With nothing queued, gaps are filled for this long after the last packet; then the buffer
    /// goes idle until the next packet (the peer stopped sending).
    pub idle_after: Duration,
}

impl JitterConfig {
    /// Defaults for a clock rate and packet time: delay 1–10 frames starting at 2.
    pub fn new(clock_rate: u32, ptime: Duration) -> Self {
        let frame_units = u32::try_from(u128::from(clock_rate) * ptime.as_micros() / 1_000_000)
            .unwrap_or(160)
            .max(1);
        Self {
            clock_rate: clock_rate.max(1),
            frame_units,
            min_delay: ptime,
            initial_delay: ptime * 2,
            max_delay: ptime * 10,
            capacity: Duration::from_millis(600),
            jump_threshold: 4000,
            idle_after: Duration::from_millis(200),
        }
    }
}

/// A packet entering the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterPacket<T> {
    /// Source of the packet.
    pub ssrc: Ssrc,
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Marker bit (talkspurt start).
    pub marker: bool,
    /// Timestamp units the payload covers (0: one frame).
    pub duration: u32,
    /// The payload, opaque to the buffer.
    pub payload: T,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued for playout.
    Queued,
    /// Same timestamp already queued or just played: dropped.
    Duplicate,
    /// Its playout instant has passed: dropped, and the delay grows.
    TooLate,
    /// Beyond the capacity: dropped.
    TooEarly,
    /// The buffer restarted on this packet, which is queued.
    Restarted(RestartReason),
}

/// Why the buffer restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartReason {
    /// A new synchronization source.
    SsrcChanged,
    /// Timestamp and arrival time disagree by more than the jump threshold.
    TimestampJump,
}

/// A frame handed out at its playout instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout<T> {
    /// A received packet.
    Packet {
        /// RTP timestamp.
        timestamp: u32,
        /// Marker bit.
        marker: bool,
        /// Timestamp units covered.
        duration: u32,
        /// The payload.
        payload: T,
    },
    /// Nothing arrived in time for this span: the consumer fills it (silence or concealment).
    Gap {
        /// RTP timestamp of the missing span.
        timestamp: u32,
        /// Timestamp units missing.
        duration: u32,
    },
}

/// Counters of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets handed out.
    pub played: u64,
    /// Gap frames handed out.
    pub gaps: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Late packets dropped.
    pub late: u64,
    /// Too-early packets dropped.
    pub early: u64,
    /// Restarts (SSRC change or timestamp jump).
    pub restarts: u64,
    /// Queued packets discarded by restarts.
    pub flushed: u64,
}

/// The adaptive jitter buffer; see the module docs.
#[derive(Debug)]
pub struct JitterBuffer<T> {
    cfg: JitterConfig,
    ssrc: Option<Ssrc>,
    /// Playout instant of extended timestamp `anchor.1`; `None` while idle.
    anchor: Option<(Instant, i64)>,
    next_ts: i64,
    /// Reference for unwrapping 32-bit timestamps.
    ts_ref: i64,
    queue: BTreeMap<i64, JitterPacket<T>>,
    recent: VecDeque<u16>,
    delay: Duration,
    /// RFC 3550 A.8 estimate, in timestamp units × 16.
    jitter_x16: i64,
    last_arrival: Option<(Instant, i64)>,
    last_packet_at: Option<Instant>,
    stats: JitterStats,
}

const RECENT_SEQS: usize = 32;

impl<T> JitterBuffer<T> {
    /// An empty, idle buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        let delay = cfg.initial_delay;
        Self {
            cfg,
            ssrc: None,
            anchor: None,
            next_ts: 0,
            ts_ref: 0,
            queue: BTreeMap::new(),
            recent: VecDeque::with_capacity(RECENT_SEQS),
            delay,
            jitter_x16: 0,
            last_arrival: None,
            last_packet_at: None,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The current playout delay.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Interarrival jitter (RFC 3550 A.8) in timestamp units.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_x16 / 16).unwrap_or(u32::MAX)
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn units_to_duration(&self, units: i64) -> Duration {
        let nanos = i128::from(units.max(0)) * 1_000_000_000 / i128::from(self.cfg.clock_rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn duration_to_units(&self, d: Duration) -> i64 {
        i64::try_from(d.as_nanos() * u128::from(self.cfg.clock_rate) / 1_000_000_000)
            .unwrap_or(i64::MAX)
    }

    fn playout_at(&self, anchor: (Instant, i64), ext: i64) -> Option<Instant> {
        let delta = ext - anchor.1;
        if delta >= 0 {
            anchor.0.checked_add(self.units_to_duration(delta))
        } else {
            anchor.0.checked_sub(self.units_to_duration(-delta))
        }
    }

    fn unwrap_ts(&mut self, ts: u32) -> i64 {
        // Difference taken modulo 2^32 and read as signed: the nearest extension of `ts`.
        let diff = i64::from(ts.wrapping_sub(self.ts_ref as u32) as i32);
        let ext = self.ts_ref + diff;
        if diff > 0 {
            self.ts_ref = ext;
        }
        ext
    }

    fn start(&mut self, now: Instant, ext: i64) {
        self.anchor = Some((now + self.delay, ext));
        self.next_ts = ext;
    }

    fn flush(&mut self) {
        self.stats.flushed += self.queue.len() as u64;
        self.queue.clear();
        self.recent.clear();
        self.last_arrival = None;
    }

    fn frame_duration(&self) -> Duration {
        self.units_to_duration(i64::from(self.cfg.frame_units))
    }

    fn adapt_delay(&mut self) {
        // Three times the jitter plus one frame, within bounds.
        let target = self.units_to_duration(3 * self.jitter_x16 / 16) + self.frame_duration() / 2;
        self.delay = target.clamp(
            self.cfg.min_delay,
            self.cfg.max_delay.max(self.cfg.min_delay),
        );
    }

    /// Takes a packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, mut packet: JitterPacket<T>) -> PushOutcome {
        if packet.duration == 0 {
            packet.duration = self.cfg.frame_units;
        }
        self.last_packet_at = Some(now);
        let mut restarted = None;
        if self.ssrc.is_some_and(|s| s != packet.ssrc) {
            self.flush();
            self.anchor = None;
            self.stats.restarts += 1;
            restarted = Some(RestartReason::SsrcChanged);
        }
        self.ssrc = Some(packet.ssrc);
        if self.anchor.is_none() && self.queue.is_empty() {
            self.ts_ref = i64::from(packet.timestamp);
        }
        let ext = self.unwrap_ts(packet.timestamp);

        // Interarrival jitter, RFC 3550 A.8, in timestamp units.
        if let Some((t0, ts0)) = self.last_arrival {
            let arrival_delta = self.duration_to_units(now.saturating_duration_since(t0));
            let d = (arrival_delta - (ext - ts0)).abs().min(i64::from(u32::MAX));
            self.jitter_x16 += d - self.jitter_x16 / 16;
        }

        let Some(anchor) = self.anchor else {
            self.last_arrival = Some((now, ext));
            self.start(now, ext);
            self.queue.insert(ext, packet);
            return restarted.map_or(PushOutcome::Queued, PushOutcome::Restarted);
        };

        // Timestamp jump: arrival time and timestamp disagree beyond the threshold.
        let expected_arrival = self
            .playout_at(anchor, ext)
            .and_then(|t| t.checked_sub(self.delay));
        let deviation = expected_arrival.map_or(i64::MAX, |e| {
            if now >= e {
                self.duration_to_units(now - e)
            } else {
                self.duration_to_units(e - now)
            }
        });
        let talkspurt = packet.marker && self.queue.is_empty() && ext >= self.next_ts;
        if talkspurt || deviation > i64::from(self.cfg.jump_threshold) {
            if !talkspurt {
                self.flush();
                self.stats.restarts += 1;
                restarted = Some(RestartReason::TimestampJump);
            } else {
                self.adapt_delay();
            }
            self.ts_ref = ext;
            self.last_arrival = Some((now, ext));
            self.start(now, ext);
            self.queue.insert(ext, packet);
            return restarted.map_or(PushOutcome::Queued, PushOutcome::Restarted);
        }
        self.last_arrival = Some((now, ext));

        if self.queue.contains_key(&ext) || self.recent.contains(&packet.sequence) {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        if ext < self.next_ts {
            self.stats.late += 1;
            // Give the following packets one more frame of slack (RFC 3550 §6.4.1 jitter is the
            // steady-state measure; a late packet is the immediate signal).
            if self.delay < self.cfg.max_delay {
                let step = self.frame_duration();
                self.delay += step;
                self.anchor = Some((anchor.0 + step, anchor.1));
            }
            return PushOutcome::TooLate;
        }
        if ext - self.next_ts >= self.duration_to_units(self.cfg.capacity) {
            self.stats.early += 1;
            return PushOutcome::TooEarly;
        }
        self.queue.insert(ext, packet);
        restarted.map_or(PushOutcome::Queued, PushOutcome::Restarted)
    }

    /// When [`pop`](Self::pop) will next have something; `None` while idle.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.anchor.and_then(|a| self.playout_at(a, self.next_ts))
    }

    /// The next frame whose playout instant is at or before `now`.
    pub fn pop(&mut self, now: Instant) -> Option<Playout<T>> {
        let anchor = self.anchor?;
        if self.playout_at(anchor, self.next_ts)? > now {
            return None;
        }
        // Drop anything overlapping what was already played out.
        while let Some(entry) = self.queue.first_entry() {
            if *entry.key() >= self.next_ts {
                break;
            }
            entry.remove();
            self.stats.late += 1;
        }
        if let Some(entry) = self.queue.first_entry()
            && *entry.key() == self.next_ts
        {
            let p = entry.remove();
            self.next_ts += i64::from(p.duration);
            if self.recent.len() == RECENT_SEQS {
                self.recent.pop_front();
            }
            self.recent.push_back(p.sequence);
            self.stats.played += 1;
            return Some(Playout::Packet {
                timestamp: p.timestamp,
                marker: p.marker,
                duration: p.duration,
                payload: p.payload,
            });
        }
        let next_key = self.queue.keys().next().copied();
        if next_key.is_none()
            && self
                .last_packet_at
                .is_none_or(|t| now.saturating_duration_since(t) > self.cfg.idle_after + self.delay)
        {
            // The peer stopped sending: go idle until its next packet.
            self.anchor = None;
            return None;
        }
        let missing = next_key.map_or(i64::from(self.cfg.frame_units), |k| k - self.next_ts);
        let duration = u32::try_from(missing.min(i64::from(self.cfg.frame_units)))
            .unwrap_or(self.cfg.frame_units);
        let timestamp = self.next_ts as u32;
        self.next_ts += i64::from(duration);
        self.stats.gaps += 1;
        Some(Playout::Gap {
            timestamp,
            duration,
        })
    }
}

#[cfg(test)]
mod tests;
