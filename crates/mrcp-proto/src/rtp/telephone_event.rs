//! Telephone-event payloads (RFC 4733 §2.3) and the DTMF named events (RFC 4733 §3.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;

/// Length of one telephone-event payload block.
pub const TELEPHONE_EVENT_LEN: usize = 4;

/// Why a telephone-event payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelephoneEventError {
    /// The payload is shorter than 4 bytes.
    #[error("telephone-event payload of {0} bytes is shorter than 4")]
    TooShort(usize),
    /// When writing: the volume is above 63 (it is a 6-bit field).
    #[error("telephone-event volume {0} exceeds 63")]
    BadVolume(u8),
}

/// One telephone-event block (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Event code (0–15 for DTMF, §3.2).
    pub event: u8,
    /// The E bit: this packet ends the event; the sender repeats it (three times is usual).
    pub end: bool,
    /// Power level in -dBm0, 0–63 (the R bit is ignored on receipt, §2.3.3).
    pub volume: u8,
    /// Duration so far in timestamp units; the RTP timestamp is the event start (§2.3.5).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first block of a payload. Longer payloads (RFC 2198 redundancy stripped by the
    /// caller, or trailing data) are accepted; only the first four bytes are read.
    pub fn parse(payload: &[u8]) -> Result<Self, TelephoneEventError> {
        let b: &[u8; 4] = payload
            .first_chunk()
            .ok_or(TelephoneEventError::TooShort(payload.len()))?;
        Ok(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4-byte payload; the R bit is written as zero.
    pub fn to_bytes(&self) -> Result<[u8; 4], TelephoneEventError> {
        if self.volume > 63 {
            return Err(TelephoneEventError::BadVolume(self.volume));
        }
        let d = self.duration.to_be_bytes();
        Ok([
            self.event,
            if self.end { 0x80 } else { 0 } | self.volume,
            d[0],
            d[1],
        ])
    }

    /// The DTMF digit this event encodes, if any.
    pub fn dtmf(&self) -> Option<DtmfEvent> {
        DtmfEvent::from_code(self.event)
    }
}

/// A DTMF key (RFC 4733 §3.2 event codes 0–15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfEvent(u8);

impl DtmfEvent {
    const CHARS: &'static [u8; 16] = b"0123456789*#ABCD";

    /// The key for an event code 0–15.
    pub const fn from_code(code: u8) -> Option<Self> {
        if code < 16 { Some(Self(code)) } else { None }
    }

    /// The key for a character `0-9 * # A-D` (lower case accepted).
    pub fn from_char(c: char) -> Option<Self> {
        let upper = c.to_ascii_uppercase();
        Self::CHARS
            .iter()
            .position(|&k| char::from(k) == upper)
            // position < 16.
            .map(|i| Self(i as u8))
    }

    /// The event code.
    pub const fn code(self) -> u8 {
        self.0
    }

    /// The key as a character.
    pub fn as_char(self) -> char {
        Self::CHARS
            .get(usize::from(self.0))
            .map_or('?', |&b| char::from(b))
    }
}

impl fmt::Display for DtmfEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc4733_example() {
        // Digit 5, end, volume 10, duration 1600 (RFC 4733 §5 style).
        let e = TelephoneEvent::parse(&[5, 0x8a, 0x06, 0x40]).unwrap();
        assert_eq!(
            e,
            TelephoneEvent {
                event: 5,
                end: true,
                volume: 10,
                duration: 1600
            }
        );
        assert_eq!(e.to_bytes().unwrap(), [5, 0x8a, 0x06, 0x40]);
        assert_eq!(e.dtmf().map(DtmfEvent::as_char), Some('5'));
        // The R bit is ignored.
        assert_eq!(TelephoneEvent::parse(&[11, 0x4a, 0, 0]).unwrap().volume, 10);
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(TelephoneEventError::TooShort(3))
        );
        assert!(
            TelephoneEvent {
                event: 1,
                end: false,
                volume: 64,
                duration: 0
            }
            .to_bytes()
            .is_err()
        );
    }

    #[test]
    fn dtmf_keys() {
        for (i, c) in "0123456789*#ABCD".chars().enumerate() {
            let k = DtmfEvent::from_char(c).unwrap();
            assert_eq!(usize::from(k.code()), i);
            assert_eq!(k.as_char(), c);
        }
        assert_eq!(DtmfEvent::from_char('a'), DtmfEvent::from_code(12));
        assert_eq!(DtmfEvent::from_char('x'), None);
        assert_eq!(DtmfEvent::from_code(16), None);
    }
}
