//! DTMF detection from both paths a digit can take: RFC 4733 telephone-events (deduplicated
//! across the redundant packets of one event, [`Rfc4733Receiver`]) and in-band tones with a
//! Goertzel detector meeting ITU-T Q.24 ([`InbandDetector`]). FreeSWITCH's sample profiles send
//! DTMF in-band only (`freeswitch-unimrcp-client.md` §7.7), so both run on every stream.

mod inband;

pub use inband::{InbandConfig, InbandDetector};
use mrcp_proto::rtp::{DtmfEvent, TelephoneEvent};

/// Where a digit was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSource {
    /// RFC 4733 telephone-event packets.
    Rfc4733,
    /// In-band tones in the audio.
    Inband,
}

/// A digit, reported once when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedDigit {
    /// The key.
    pub digit: DtmfEvent,
    /// The path it came by.
    pub source: DtmfSource,
    /// RTP timestamp of the event start (RFC 4733) or sample offset of detection (in-band).
    pub position: u64,
}

/// Reassembles RFC 4733 events from telephone-event packets (RFC 4733 §2.5.2): one report per
/// event however many packets repeat it (updates, the three end packets, long-event segments).
#[derive(Debug, Default)]
pub struct Rfc4733Receiver {
    /// Start timestamp, event code, whether its end was seen, and its last duration.
    current: Option<(u32, u8, bool, u16)>,
    /// Recently ended events, by start timestamp, to drop late end retransmissions.
    recent: [Option<(u32, u8)>; 4],
    reported: u64,
    ignored: u64,
}

impl Rfc4733Receiver {
    /// A receiver with no event in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// Digits reported so far.
    pub fn reported(&self) -> u64 {
        self.reported
    }

    /// Packets ignored (repeats, malformed payloads, non-DTMF events).
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Feeds one telephone-event packet: its RTP timestamp and payload. Returns the digit the first
    /// time an event is seen.
    pub fn handle_packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<DetectedDigit> {
        let Ok(ev) = TelephoneEvent::parse(payload) else {
            self.ignored += 1;
            return None;
        };
        let Some(digit) = ev.dtmf() else {
            self.ignored += 1;
            return None;
        };
        if self.recent.contains(&Some((timestamp, ev.event))) {
            self.ignored += 1;
            return None;
        }
        if let Some((start, code, ended, duration)) = self.current.as_mut()
            && *code == ev.event
        {
            let same = *start == timestamp;
            // A long event continues in a new segment whose timestamp is the old one plus 0xFFFF
            // (RFC 4733 §2.5.2.1).
            let continued = !*ended && timestamp == start.wrapping_add(u32::from(*duration));
            if same || continued {
                *start = timestamp;
                *duration = ev.duration;
                if ev.end && !*ended {
                    *ended = true;
                    self.remember(timestamp, ev.event);
                }
                self.ignored += 1;
                return None;
            }
        }
        self.current = Some((timestamp, ev.event, ev.end, ev.duration));
        if ev.end {
            self.remember(timestamp, ev.event);
        }
        self.reported += 1;
        Some(DetectedDigit {
            digit,
            source: DtmfSource::Rfc4733,
            position: u64::from(timestamp),
        })
    }

    fn remember(&mut self, ts: u32, code: u8) {
        self.recent.rotate_right(1);
        self.recent[0] = Some((ts, code));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: u8, end: bool, duration: u16) -> [u8; 4] {
        TelephoneEvent {
            event: code,
            end,
            volume: 10,
            duration,
        }
        .to_bytes()
        .unwrap()
    }

    #[test]
    fn one_report_per_event_across_redundant_packets() {
        let mut r = Rfc4733Receiver::new();
        let mut digits = Vec::new();
        // "1" then "1" again (two events), then "#" whose first packets were lost.
        for (ts, p) in [
            (1000, ev(1, false, 160)),
            (1000, ev(1, false, 320)),
            (1000, ev(1, true, 480)),
            (1000, ev(1, true, 480)),
            (1000, ev(1, true, 480)),
            (3000, ev(1, false, 160)),
            (3000, ev(1, true, 320)),
            (3000, ev(1, true, 320)),
            (5000, ev(11, true, 800)),
            (5000, ev(11, true, 800)),
            (3000, ev(1, true, 320)), // late retransmission of an ended event
        ] {
            digits.extend(r.handle_packet(ts, &p).map(|d| d.digit.as_char()));
        }
        assert_eq!(digits, vec!['1', '1', '#']);
        assert_eq!(r.handle_packet(7000, &[1, 2]), None);
        assert_eq!(
            r.handle_packet(7000, &ev(40, false, 160)),
            None,
            "not a DTMF event"
        );
    }

    #[test]
    fn long_events_continue_across_segments() {
        let mut r = Rfc4733Receiver::new();
        assert!(r.handle_packet(0, &ev(5, false, 0xffff)).is_some());
        assert!(r.handle_packet(0xffff, &ev(5, false, 800)).is_none());
        assert!(r.handle_packet(0xffff, &ev(5, true, 1600)).is_none());
    }
}
