//! The RTP data packet (RFC 3550 §5.1): fixed header, CSRC list, header extension (§5.3.1),
//! payload and padding.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           synchronization source (SSRC) identifier            |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;

/// The only RTP version this module reads and writes (RFC 3550 §5.1).
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed RTP header in bytes.
pub const RTP_HEADER_LEN: usize = 12;
/// The CSRC count is a 4-bit field (RFC 3550 §5.1).
pub const MAX_CSRC: usize = 15;

/// A 7-bit RTP payload type (RFC 3550 §5.1, numbers from RFC 3551 §6 or the SDP `a=rtpmap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

impl PayloadType {
    /// PCMU, G.711 μ-law at 8 kHz (RFC 3551 §6).
    pub const PCMU: Self = Self(0);
    /// PCMA, G.711 A-law at 8 kHz (RFC 3551 §6).
    pub const PCMA: Self = Self(8);
    /// G.722 (RFC 3551 §6); its RTP clock is 8 kHz although it samples at 16 kHz.
    pub const G722: Self = Self(9);
    /// Comfort noise (RFC 3389).
    pub const CN: Self = Self(13);

    /// A payload type from its number; `None` above 127.
    pub const fn new(value: u8) -> Option<Self> {
        if value <= 0x7f {
            Some(Self(value))
        } else {
            None
        }
    }

    /// The number carried on the wire.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A synchronization source identifier (RFC 3550 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// Why an RTP packet was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer bytes than the headers announce.
    #[error("rtp packet of {len} bytes is shorter than the {needed} bytes its header needs")]
    TooShort {
        /// Bytes received.
        len: usize,
        /// Bytes the header requires.
        needed: usize,
    },
    /// Version field other than 2.
    #[error("rtp version {0} is not 2")]
    BadVersion(u8),
    /// Padding count of zero or larger than what follows the header.
    #[error("rtp padding count {count} is invalid for {available} bytes after the header")]
    BadPadding {
        /// The last octet of the packet.
        count: u8,
        /// Bytes after the headers (payload and padding).
        available: usize,
    },
    /// Header extension longer than the packet.
    #[error("rtp header extension of {len} bytes exceeds the {available} bytes left")]
    BadExtensionLength {
        /// Extension length in bytes, as announced.
        len: usize,
        /// Bytes left after the extension header.
        available: usize,
    },
    /// When writing: more than 15 CSRCs.
    #[error("{0} csrc identifiers exceed the limit of 15")]
    TooManyCsrc(usize),
    /// When writing: extension data not a whole number of 32-bit words, or too long.
    #[error("rtp header extension of {0} bytes is not a whole number of 32-bit words below 262140")]
    ExtensionNotAligned(usize),
}

/// The RTP header extension (RFC 3550 §5.3.1): a profile-defined 16-bit identifier and data whose
/// length is a whole number of 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The "defined by profile" field.
    pub profile: u16,
    /// The extension data, without its 4-byte header.
    pub data: &'a [u8],
}

/// An RTP data packet borrowed from a datagram (RFC 3550 §5.1).
///
/// Parsing checks the version, the CSRC list, the extension length and the padding count against
/// the datagram length; the payload is a slice of the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The marker bit: the first packet of a talkspurt for audio (RFC 3551 §4.1).
    pub marker: bool,
    /// The payload type.
    pub payload_type: PayloadType,
    /// The sequence number, +1 per packet, wrapping.
    pub sequence: u16,
    /// The sampling instant of the first octet of the payload, in clock-rate units.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: Ssrc,
    csrc: [u32; MAX_CSRC],
    csrc_count: u8,
    /// The header extension, when the X bit is set.
    pub extension: Option<HeaderExtension<'a>>,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// Padding octets after the payload including the count octet (0: no padding, P bit clear).
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// A packet with no CSRC, extension or padding.
    pub fn new(
        payload_type: PayloadType,
        sequence: u16,
        timestamp: u32,
        ssrc: Ssrc,
        marker: bool,
        payload: &'a [u8],
    ) -> Self {
        Self {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrc: [0; MAX_CSRC],
            csrc_count: 0,
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// The contributing sources.
    pub fn csrcs(&self) -> &[u32] {
        self.csrc.get(..usize::from(self.csrc_count)).unwrap_or(&[])
    }

    /// Replaces the contributing sources; at most 15.
    pub fn set_csrcs(&mut self, csrcs: &[u32]) -> Result<(), RtpError> {
        let slot = self
            .csrc
            .get_mut(..csrcs.len())
            .ok_or(RtpError::TooManyCsrc(csrcs.len()))?;
        slot.copy_from_slice(csrcs);
        // csrcs.len() <= 15 here, so the narrowing is exact.
        self.csrc_count = csrcs.len() as u8;
        Ok(())
    }

    /// Parses a datagram (RFC 3550 §5.1, §5.3.1).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let fixed: &[u8; RTP_HEADER_LEN] = buf.first_chunk().ok_or(RtpError::TooShort {
            len: buf.len(),
            needed: RTP_HEADER_LEN,
        })?;
        let version = fixed[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let marker = fixed[1] & 0x80 != 0;
        let payload_type = PayloadType(fixed[1] & 0x7f);
        let sequence = u16::from_be_bytes([fixed[2], fixed[3]]);
        let timestamp = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let ssrc = Ssrc(u32::from_be_bytes([
            fixed[8], fixed[9], fixed[10], fixed[11],
        ]));

        let mut rest = &buf[RTP_HEADER_LEN..];
        let needed = RTP_HEADER_LEN + 4 * csrc_count;
        let mut csrc = [0u32; MAX_CSRC];
        for slot in csrc.iter_mut().take(csrc_count) {
            let (word, tail) = rest.split_first_chunk::<4>().ok_or(RtpError::TooShort {
                len: buf.len(),
                needed,
            })?;
            *slot = u32::from_be_bytes(*word);
            rest = tail;
        }

        let extension = if has_extension {
            let (head, tail) = rest.split_first_chunk::<4>().ok_or(RtpError::TooShort {
                len: buf.len(),
                needed: needed + 4,
            })?;
            let profile = u16::from_be_bytes([head[0], head[1]]);
            let len = 4 * usize::from(u16::from_be_bytes([head[2], head[3]]));
            if len > tail.len() {
                return Err(RtpError::BadExtensionLength {
                    len,
                    available: tail.len(),
                });
            }
            let (data, tail) = tail.split_at(len);
            rest = tail;
            Some(HeaderExtension { profile, data })
        } else {
            None
        };

        let mut padding = 0u8;
        if has_padding {
            let count = rest.last().copied().unwrap_or(0);
            if count == 0 || usize::from(count) > rest.len() {
                return Err(RtpError::BadPadding {
                    count,
                    available: rest.len(),
                });
            }
            padding = count;
            rest = &rest[..rest.len() - usize::from(count)];
        }

        Ok(Self {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrc,
            // csrc_count is a 4-bit field.
            csrc_count: csrc_count as u8,
            extension,
            payload: rest,
            padding,
        })
    }

    /// Bytes [`write_to`](Self::write_to) appends.
    pub fn wire_len(&self) -> usize {
        RTP_HEADER_LEN
            + 4 * usize::from(self.csrc_count)
            + self.extension.map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Appends the packet to `out`. Fails only on an extension that is not a whole number of
    /// 32-bit words (or longer than the 16-bit length field allows).
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let ext_words = match self.extension {
            Some(e) => {
                if e.data.len() % 4 != 0 {
                    return Err(RtpError::ExtensionNotAligned(e.data.len()));
                }
                Some(
                    u16::try_from(e.data.len() / 4)
                        .map_err(|_| RtpError::ExtensionNotAligned(e.data.len()))?,
                )
            }
            None => None,
        };
        out.reserve(self.wire_len());
        let b0 = (RTP_VERSION << 6)
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | self.csrc_count;
        out.push(b0);
        out.push(if self.marker { 0x80 } else { 0 } | self.payload_type.0);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        for c in self.csrcs() {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let (Some(e), Some(words)) = (self.extension, ext_words) {
            out.extend_from_slice(&e.profile.to_be_bytes());
            out.extend_from_slice(&words.to_be_bytes());
            out.extend_from_slice(e.data);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.resize(out.len() + usize::from(self.padding) - 1, 0);
            out.push(self.padding);
        }
        Ok(())
    }

    /// The packet as a new byte vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        let mut out = Vec::with_capacity(self.wire_len());
        self.write_to(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pcmu_packet() {
        let mut buf = vec![
            0x80, 0x80, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xde, 0xad, 0xbe, 0xef,
        ];
        buf.extend_from_slice(&[0xff; 160]);
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, PayloadType::PCMU);
        assert_eq!(p.sequence, 0x1234);
        assert_eq!(p.timestamp, 320);
        assert_eq!(p.ssrc, Ssrc(0xdead_beef));
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.to_bytes().unwrap(), buf);
    }

    #[test]
    fn rejects_wrong_version() {
        let buf = [0x40u8; 12];
        assert_eq!(RtpPacket::parse(&buf), Err(RtpError::BadVersion(1)));
        assert!(matches!(
            RtpPacket::parse(&[0x80; 11]),
            Err(RtpError::TooShort { .. })
        ));
    }

    #[test]
    fn rejects_bad_padding() {
        // P bit set, padding count 0.
        let mut buf = vec![0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 0];
        assert!(matches!(
            RtpPacket::parse(&buf),
            Err(RtpError::BadPadding { count: 0, .. })
        ));
        // Count larger than what follows.
        buf.pop();
        buf.push(4);
        assert!(matches!(
            RtpPacket::parse(&buf),
            Err(RtpError::BadPadding { count: 4, .. })
        ));
        // Exactly the rest is padding: empty payload.
        buf.pop();
        buf.push(3);
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(p.payload.is_empty());
        assert_eq!(p.padding, 3);
    }

    #[test]
    fn extension_and_csrc() {
        let mut buf = vec![0x92, 0x08, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        buf.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 11]);
        buf.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4, 0xd5, 0xd5]);
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(p.csrcs(), &[10, 11]);
        assert_eq!(
            p.extension,
            Some(HeaderExtension {
                profile: 0xbede,
                data: &[1, 2, 3, 4]
            })
        );
        assert_eq!(p.payload, &[0xd5, 0xd5]);
        assert_eq!(p.to_bytes().unwrap(), buf);
        // Extension length larger than the packet.
        let mut bad = buf.clone();
        bad[23] = 9;
        assert!(matches!(
            RtpPacket::parse(&bad),
            Err(RtpError::BadExtensionLength { len: 36, .. })
        ));
        // CSRC list cut short.
        assert!(matches!(
            RtpPacket::parse(&buf[..16]),
            Err(RtpError::TooShort { needed: 20, .. })
        ));
    }

    #[test]
    fn writer_refuses_unaligned_extension() {
        let mut p = RtpPacket::new(PayloadType::PCMA, 1, 2, Ssrc(3), false, &[]);
        p.extension = Some(HeaderExtension {
            profile: 1,
            data: &[1, 2, 3],
        });
        assert_eq!(p.to_bytes(), Err(RtpError::ExtensionNotAligned(3)));
        assert_eq!(p.set_csrcs(&[0; 16]), Err(RtpError::TooManyCsrc(16)));
    }
}
