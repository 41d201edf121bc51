//! Reception statistics of one source: sequence tracking (RFC 3550 §A.1), loss (§A.3), duplicates,
//! and interarrival jitter (§A.8).

use std::time::{Duration, Instant};

const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const WINDOW: u32 = 128;

/// What the sequence check decided for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqVerdict {
    /// New, in order or a forward jump within the dropout.
    InOrder,
    /// Older than the highest seen but not seen before.
    Reordered,
    /// Already received.
    Duplicate,
    /// A jump beyond `MAX_DROPOUT`: dropped unless the next packet confirms it (§A.1).
    Jump,
}

/// Counters the endpoint keeps and reports in RTCP and to the server's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiveStats {
    /// Valid RTP packets accepted from the current source (duplicates excluded).
    pub received: u64,
    /// Payload bytes accepted.
    pub bytes: u64,
    /// Packets expected (extended highest − base + 1).
    pub expected: u64,
    /// Packets lost (expected − received; negative never happens since duplicates are excluded).
    pub lost: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Packets that arrived out of order.
    pub reordered: u64,
    /// Interarrival jitter in timestamp units (RFC 3550 §A.8).
    pub jitter: u32,
    /// Datagrams that were not valid RTP (version, padding, extension, length).
    pub malformed: u64,
    /// Packets with a payload type not negotiated.
    pub unknown_payload_type: u64,
    /// Datagrams above the size limit.
    pub oversized: u64,
    /// Packets from an address other than the latched one.
    pub stranger: u64,
    /// Packets of a new SSRC dropped during its probation.
    pub probation: u64,
    /// Sequence jumps dropped (§A.1 `bad_seq`).
    pub sequence_jumps: u64,
    /// Valid RTCP compound packets received.
    pub rtcp_received: u64,
    /// Invalid RTCP datagrams.
    pub rtcp_malformed: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct SourceState {
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    bad_seq: u32,
    seen: u128,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<i64>,
    jitter_x16: i64,
}

impl SourceState {
    pub(crate) fn new(seq: u16) -> Self {
        Self {
            base_seq: u32::from(seq),
            max_seq: seq,
            cycles: 0,
            bad_seq: u32::from(seq.wrapping_add(1)) + 0x1_0000,
            seen: 1,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_x16: 0,
        }
    }

    pub(crate) fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    pub(crate) fn expected(&self) -> u64 {
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    pub(crate) fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_x16 >> 4).unwrap_or(u32::MAX)
    }

    /// RFC 3550 §A.1 `update_seq`, extended with a 128-packet window to tell duplicates from
    /// reordered packets. The first packet of a source is `InOrder`.
    pub(crate) fn update_seq(&mut self, seq: u16, first: bool) -> SeqVerdict {
        if first {
            self.received += 1;
            return SeqVerdict::InOrder;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta == 0 {
            return SeqVerdict::Duplicate;
        }
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(0x1_0000);
            }
            self.max_seq = seq;
            self.seen = if u32::from(udelta) >= WINDOW {
                1
            } else {
                (self.seen << udelta) | 1
            };
            self.received += 1;
            SeqVerdict::InOrder
        } else if udelta <= u16::MAX - MAX_MISORDER + 1 {
            // A very large jump: accept only if the next packet follows it (the peer restarted).
            if u32::from(seq) == self.bad_seq {
                *self = Self {
                    transit: self.transit,
                    jitter_x16: self.jitter_x16,
                    ..Self::new(seq)
                };
                self.received = 1;
                SeqVerdict::InOrder
            } else {
                self.bad_seq = u32::from(seq.wrapping_add(1));
                SeqVerdict::Jump
            }
        } else {
            let back = self.max_seq.wrapping_sub(seq);
            if u32::from(back) >= WINDOW {
                self.received += 1;
                return SeqVerdict::Reordered;
            }
            let bit = 1u128 << back;
            if self.seen & bit != 0 {
                SeqVerdict::Duplicate
            } else {
                self.seen |= bit;
                self.received += 1;
                SeqVerdict::Reordered
            }
        }
    }

    /// RFC 3550 §A.8: `arrival` in timestamp units since an arbitrary origin.
    pub(crate) fn update_jitter(&mut self, arrival_units: i64, rtp_ts: u32) {
        let transit = arrival_units.wrapping_sub(i64::from(rtp_ts));
        if let Some(prev) = self.transit {
            // Transit differences are taken modulo 2^32 like the timestamps.
            let d = i64::from((transit.wrapping_sub(prev)) as i32).abs();
            self.jitter_x16 += d - ((self.jitter_x16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Fraction lost since the previous call, in 1/256, and the cumulative loss (§A.3).
    pub(crate) fn loss_report(&mut self) -> (u8, i32) {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| u8::try_from(f).unwrap_or(255));
        let cumulative = i32::try_from(expected.saturating_sub(self.received)).unwrap_or(0x7f_ffff);
        (fraction, cumulative.min(0x7f_ffff))
    }
}

/// `d` in timestamp units of `clock_rate`.
pub(crate) fn units(d: Duration, clock_rate: u32) -> i64 {
    i64::try_from(d.as_nanos() * u128::from(clock_rate) / 1_000_000_000).unwrap_or(i64::MAX)
}

/// The arrival instant as timestamp units since `origin`.
pub(crate) fn arrival_units(origin: Instant, now: Instant, clock_rate: u32) -> i64 {
    units(now.saturating_duration_since(origin), clock_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_tracking() {
        let mut s = SourceState::new(65534);
        assert_eq!(s.update_seq(65534, true), SeqVerdict::InOrder);
        assert_eq!(s.update_seq(65535, false), SeqVerdict::InOrder);
        assert_eq!(s.update_seq(1, false), SeqVerdict::InOrder); // wrap, 0 lost
        assert_eq!(s.extended_max(), 0x1_0001);
        assert_eq!(s.update_seq(0, false), SeqVerdict::Reordered);
        assert_eq!(s.update_seq(0, false), SeqVerdict::Duplicate);
        assert_eq!(s.update_seq(1, false), SeqVerdict::Duplicate);
        assert_eq!(s.expected(), 4);
        assert_eq!(s.received(), 4);
        assert_eq!(s.update_seq(5, false), SeqVerdict::InOrder); // 2,3,4 lost
        assert_eq!(s.loss_report(), (96, 3));
        // A jump of 20000 is dropped once, accepted when confirmed.
        assert_eq!(s.update_seq(20_005, false), SeqVerdict::Jump);
        assert_eq!(s.update_seq(20_006, false), SeqVerdict::InOrder);
        assert_eq!(s.expected(), 1);
    }

    #[test]
    fn jitter_of_a_steady_stream_is_zero_and_grows_with_variation() {
        let mut s = SourceState::new(0);
        for i in 0..50 {
            s.update_jitter(i * 160, (i * 160) as u32);
        }
        assert_eq!(s.jitter(), 0);
        for i in 50..200 {
            let wobble = if i % 2 == 0 { 80 } else { 0 };
            s.update_jitter(i * 160 + wobble, (i * 160) as u32);
        }
        // |D| = 80 every packet: J converges to 80.
        assert!((70..=80).contains(&s.jitter()), "{}", s.jitter());
    }
}
