//! RTCP (RFC 3550 §6): sender reports (§6.4.1), receiver reports (§6.4.2), source descriptions
//! (§6.5) and BYE (§6.6), parsed from and written to compound packets (§6.1). APP (§6.7) and
//! unknown packet types are kept as raw payloads so a compound packet always round-trips.
//!
//! ```text
//!  0                   1                   2                   3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|    RC   |   PT=SR=200   |             length            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::packet::{RTP_VERSION, Ssrc};

const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const PT_BYE: u8 = 203;
const REPORT_BLOCK_LEN: usize = 24;

/// Why an RTCP compound packet was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Fewer bytes than a header or a count requires.
    #[error("rtcp packet of {len} bytes is shorter than the {needed} bytes it announces")]
    TooShort {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// Version field other than 2.
    #[error("rtcp version {0} is not 2")]
    BadVersion(u8),
    /// Padding count of zero or larger than the packet.
    #[error("rtcp padding count {count} is invalid for a packet of {len} bytes")]
    BadPadding {
        /// The last octet.
        count: u8,
        /// Packet length.
        len: usize,
    },
    /// An SDES chunk without its terminating null item.
    #[error("rtcp sdes chunk for {0} is not terminated")]
    UnterminatedSdes(Ssrc),
    /// An empty datagram.
    #[error("empty rtcp datagram")]
    Empty,
    /// When writing: more than 31 report blocks, sources or chunks, or an item longer than 255.
    #[error("rtcp {what} count {count} exceeds {limit}")]
    TooMany {
        /// What overflowed.
        what: &'static str,
        /// The count.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

/// A reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a 24-bit signed value (negative with duplicates).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | max seq).
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units (§6.4.1, A.8).
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    pub last_sr: u32,
    /// Delay since the last SR, in 1/65536 s (DLSR).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8; REPORT_BLOCK_LEN]) -> Self {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        // Sign-extend the 24-bit cumulative count.
        let lost =
            ((u32::from(b[5]) << 16 | u32::from(b[6]) << 8 | u32::from(b[7])) << 8) as i32 >> 8;
        Self {
            ssrc: Ssrc(word(0)),
            fraction_lost: b[4],
            cumulative_lost: lost,
            extended_highest_seq: word(8),
            jitter: word(12),
            last_sr: word(16),
            delay_since_last_sr: word(20),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        out.push(self.fraction_lost);
        let lost = self
            .cumulative_lost
            .clamp(-0x80_0000, 0x7f_ffff)
            .to_be_bytes();
        out.extend_from_slice(&lost[1..]);
        out.extend_from_slice(&self.extended_highest_seq.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// The sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// NTP timestamp, 32.32 fixed point seconds since 1900.
    pub ntp_timestamp: u64,
    /// The same instant in RTP timestamp units.
    pub rtp_timestamp: u32,
    /// Packets sent since the start.
    pub packet_count: u32,
    /// Payload octets sent since the start.
    pub octet_count: u32,
}

/// A sender report (PT 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    /// The sender.
    pub ssrc: Ssrc,
    /// Its sending statistics.
    pub info: SenderInfo,
    /// Reception reports, at most 31.
    pub reports: Vec<ReportBlock>,
}

/// A receiver report (PT 201).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverReport {
    /// The reporter.
    pub ssrc: Ssrc,
    /// Reception reports, at most 31.
    pub reports: Vec<ReportBlock>,
}

/// One SDES item (RFC 3550 §6.5): type 1 = CNAME, 2 = NAME, … 8 = PRIV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type.
    pub kind: u8,
    /// Item text (UTF-8 per the RFC, kept as bytes).
    pub value: &'a [u8],
}

impl SdesItem<'_> {
    /// The CNAME item type.
    pub const CNAME: u8 = 1;
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: Ssrc,
    /// Its items.
    pub items: Vec<SdesItem<'a>>,
}

/// A BYE packet (RFC 3550 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByePacket<'a> {
    /// Sources leaving.
    pub sources: Vec<Ssrc>,
    /// Optional reason text.
    pub reason: Option<&'a [u8]>,
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// PT 200.
    SenderReport(SenderReport),
    /// PT 201.
    ReceiverReport(ReceiverReport),
    /// PT 202.
    Sdes(Vec<SdesChunk<'a>>),
    /// PT 203.
    Bye(ByePacket<'a>),
    /// APP (204) or any other type, kept raw.
    Other {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count/subtype field.
        count: u8,
        /// Bytes after the 4-byte header, without padding.
        payload: &'a [u8],
    },
}

/// A compound RTCP datagram (RFC 3550 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtcpCompound<'a> {
    /// The packets in order.
    pub packets: Vec<RtcpPacket<'a>>,
}

fn be32(b: &[u8]) -> Option<u32> {
    b.first_chunk::<4>().map(|w| u32::from_be_bytes(*w))
}

fn parse_reports(mut body: &[u8], count: usize, len: usize) -> Result<Vec<ReportBlock>, RtcpError> {
    if body.len() < count * REPORT_BLOCK_LEN {
        return Err(RtcpError::TooShort {
            len,
            needed: count * REPORT_BLOCK_LEN,
        });
    }
    let mut reports = Vec::with_capacity(count);
    for _ in 0..count {
        let (block, rest) =
            body.split_first_chunk::<REPORT_BLOCK_LEN>()
                .ok_or(RtcpError::TooShort {
                    len,
                    needed: REPORT_BLOCK_LEN,
                })?;
        reports.push(ReportBlock::parse(block));
        body = rest;
    }
    Ok(reports)
}

fn parse_sdes(mut body: &[u8], count: usize) -> Result<Vec<SdesChunk<'_>>, RtcpError> {
    let mut chunks = Vec::with_capacity(count.min(body.len() / 8));
    for _ in 0..count {
        let len = body.len();
        let ssrc = Ssrc(be32(body).ok_or(RtcpError::TooShort { len, needed: 4 })?);
        let mut pos = 4;
        let mut items = Vec::new();
        loop {
            match body.get(pos) {
                None => return Err(RtcpError::UnterminatedSdes(ssrc)),
                Some(0) => {
                    // Null item ends the chunk; pad to the next 32-bit boundary (§6.5).
                    pos = (pos + 4) & !3;
                    break;
                }
                Some(&kind) => {
                    let item_len =
                        usize::from(*body.get(pos + 1).ok_or(RtcpError::UnterminatedSdes(ssrc))?);
                    let value =
                        body.get(pos + 2..pos + 2 + item_len)
                            .ok_or(RtcpError::TooShort {
                                len,
                                needed: pos + 2 + item_len,
                            })?;
                    items.push(SdesItem { kind, value });
                    pos += 2 + item_len;
                }
            }
        }
        chunks.push(SdesChunk { ssrc, items });
        body = body.get(pos..).unwrap_or(&[]);
    }
    Ok(chunks)
}

fn parse_bye(body: &[u8], count: usize) -> Result<ByePacket<'_>, RtcpError> {
    let needed = 4 * count;
    let (ids, rest) = body.split_at_checked(needed).ok_or(RtcpError::TooShort {
        len: body.len(),
        needed,
    })?;
    let sources = ids
        .chunks_exact(4)
        .map(|w| Ssrc(u32::from_be_bytes([w[0], w[1], w[2], w[3]])))
        .collect();
    let reason = match rest.split_first() {
        Some((&n, text)) if n > 0 => {
            Some(text.get(..usize::from(n)).ok_or(RtcpError::TooShort {
                len: body.len(),
                needed: needed + 1 + usize::from(n),
            })?)
        }
        _ => None,
    };
    Ok(ByePacket { sources, reason })
}

impl<'a> RtcpCompound<'a> {
    /// Parses every packet of a compound datagram (RFC 3550 §6.1, §A.2 validity checks on version and
    /// lengths; a first packet other than SR/RR is accepted, as RFC 5506 reduced-size RTCP allows).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.is_empty() {
            return Err(RtcpError::Empty);
        }
        let mut packets = Vec::new();
        let mut rest = buf;
        while !rest.is_empty() {
            let head: &[u8; 4] = rest.first_chunk().ok_or(RtcpError::TooShort {
                len: rest.len(),
                needed: 4,
            })?;
            let version = head[0] >> 6;
            if version != RTP_VERSION {
                return Err(RtcpError::BadVersion(version));
            }
            let padded = head[0] & 0x20 != 0;
            let count = usize::from(head[0] & 0x1f);
            let packet_type = head[1];
            let len = 4 * (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1);
            let (packet, tail) = rest.split_at_checked(len).ok_or(RtcpError::TooShort {
                len: rest.len(),
                needed: len,
            })?;
            rest = tail;
            let mut body = &packet[4..];
            if padded {
                let n = body.last().copied().unwrap_or(0);
                if n == 0 || usize::from(n) > body.len() {
                    return Err(RtcpError::BadPadding { count: n, len });
                }
                body = &body[..body.len() - usize::from(n)];
            }
            let too_short = RtcpError::TooShort { len, needed: 8 };
            packets.push(match packet_type {
                PT_SR => {
                    let (fixed, blocks) = body
                        .split_at_checked(24)
                        .ok_or(RtcpError::TooShort { len, needed: 28 })?;
                    let w = |i: usize| be32(&fixed[i..]).unwrap_or(0);
                    RtcpPacket::SenderReport(SenderReport {
                        ssrc: Ssrc(w(0)),
                        info: SenderInfo {
                            ntp_timestamp: u64::from(w(4)) << 32 | u64::from(w(8)),
                            rtp_timestamp: w(12),
                            packet_count: w(16),
                            octet_count: w(20),
                        },
                        reports: parse_reports(blocks, count, len)?,
                    })
                }
                PT_RR => {
                    let ssrc = Ssrc(be32(body).ok_or(too_short)?);
                    RtcpPacket::ReceiverReport(ReceiverReport {
                        ssrc,
                        reports: parse_reports(&body[4..], count, len)?,
                    })
                }
                PT_SDES => RtcpPacket::Sdes(parse_sdes(body, count)?),
                PT_BYE => RtcpPacket::Bye(parse_bye(body, count)?),
                // count is a 5-bit field.
                _ => RtcpPacket::Other {
                    packet_type,
                    count: count as u8,
                    payload: body,
                },
            });
        }
        Ok(Self { packets })
    }

    /// Appends the compound datagram to `out` (no padding is written).
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        for p in &self.packets {
            p.write_to(out)?;
        }
        Ok(())
    }

    /// The compound datagram as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtcpError> {
        let mut out = Vec::with_capacity(128);
        self.write_to(&mut out)?;
        Ok(out)
    }
}

fn count5(what: &'static str, count: usize) -> Result<u8, RtcpError> {
    u8::try_from(count)
        .ok()
        .filter(|c| *c <= 31)
        .ok_or(RtcpError::TooMany {
            what,
            count,
            limit: 31,
        })
}

impl RtcpPacket<'_> {
    /// Appends this packet with its header; the length field is computed.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        let start = out.len();
        let (count, pt) = match self {
            RtcpPacket::SenderReport(sr) => (count5("report block", sr.reports.len())?, PT_SR),
            RtcpPacket::ReceiverReport(rr) => (count5("report block", rr.reports.len())?, PT_RR),
            RtcpPacket::Sdes(chunks) => (count5("sdes chunk", chunks.len())?, PT_SDES),
            RtcpPacket::Bye(bye) => (count5("bye source", bye.sources.len())?, PT_BYE),
            RtcpPacket::Other {
                packet_type, count, ..
            } => (count & 0x1f, *packet_type),
        };
        out.extend_from_slice(&[(RTP_VERSION << 6) | count, pt, 0, 0]);
        match self {
            RtcpPacket::SenderReport(sr) => {
                out.extend_from_slice(&sr.ssrc.0.to_be_bytes());
                out.extend_from_slice(&sr.info.ntp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.info.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.info.packet_count.to_be_bytes());
                out.extend_from_slice(&sr.info.octet_count.to_be_bytes());
                sr.reports.iter().for_each(|r| r.write(out));
            }
            RtcpPacket::ReceiverReport(rr) => {
                out.extend_from_slice(&rr.ssrc.0.to_be_bytes());
                rr.reports.iter().for_each(|r| r.write(out));
            }
            RtcpPacket::Sdes(chunks) => {
                for c in chunks {
                    out.extend_from_slice(&c.ssrc.0.to_be_bytes());
                    for item in &c.items {
                        let n = u8::try_from(item.value.len()).map_err(|_| RtcpError::TooMany {
                            what: "sdes item byte",
                            count: item.value.len(),
                            limit: 255,
                        })?;
                        out.push(item.kind);
                        out.push(n);
                        out.extend_from_slice(item.value);
                    }
                    // Null terminator, then pad the chunk to 32 bits.
                    out.push(0);
                    while !(out.len() - start).is_multiple_of(4) {
                        out.push(0);
                    }
                }
            }
            RtcpPacket::Bye(bye) => {
                for s in &bye.sources {
                    out.extend_from_slice(&s.0.to_be_bytes());
                }
                if let Some(reason) = bye.reason {
                    let n = u8::try_from(reason.len()).map_err(|_| RtcpError::TooMany {
                        what: "bye reason byte",
                        count: reason.len(),
                        limit: 255,
                    })?;
                    out.push(n);
                    out.extend_from_slice(reason);
                }
                while !(out.len() - start).is_multiple_of(4) {
                    out.push(0);
                }
            }
            RtcpPacket::Other { payload, .. } => {
                out.extend_from_slice(payload);
                // An unaligned payload (it had padding when parsed) gets RTCP padding again: the
                // P bit and a count in the last octet (§6.4.1), so it parses back unchanged.
                let rem = (out.len() - start) % 4;
                if rem != 0 {
                    let n = 4 - rem;
                    out.resize(out.len() + n - 1, 0);
                    // n is 1..=3.
                    out.push(n as u8);
                    out[start] |= 0x20;
                }
            }
        }
        let words = (out.len() - start) / 4 - 1;
        let words = u16::try_from(words).map_err(|_| RtcpError::TooMany {
            what: "rtcp length word",
            count: words,
            limit: 65535,
        })?;
        out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_report_with_sdes_round_trips() {
        let compound = RtcpCompound {
            packets: vec![
                RtcpPacket::ReceiverReport(ReceiverReport {
                    ssrc: Ssrc(1),
                    reports: vec![ReportBlock {
                        ssrc: Ssrc(2),
                        fraction_lost: 25,
                        cumulative_lost: -3,
                        extended_highest_seq: 0x1_0005,
                        jitter: 80,
                        last_sr: 7,
                        delay_since_last_sr: 65536,
                    }],
                }),
                RtcpPacket::Sdes(vec![SdesChunk {
                    ssrc: Ssrc(1),
                    items: vec![SdesItem {
                        kind: SdesItem::CNAME,
                        value: b"mrcp@host",
                    }],
                }]),
                RtcpPacket::Bye(ByePacket {
                    sources: vec![Ssrc(1)],
                    reason: Some(b"done"),
                }),
            ],
        };
        let bytes = compound.to_bytes().unwrap();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(&bytes[..2], &[0x81, 201]);
        assert_eq!(RtcpCompound::parse(&bytes).unwrap(), compound);
    }

    #[test]
    fn parses_a_sender_report() {
        let sr = RtcpPacket::SenderReport(SenderReport {
            ssrc: Ssrc(0xabcd),
            info: SenderInfo {
                ntp_timestamp: 0x1122_3344_5566_7788,
                rtp_timestamp: 8000,
                packet_count: 50,
                octet_count: 8000,
            },
            reports: vec![],
        });
        let mut bytes = Vec::new();
        sr.write_to(&mut bytes).unwrap();
        assert_eq!(bytes.len(), 28);
        assert_eq!(RtcpCompound::parse(&bytes).unwrap().packets, vec![sr]);
    }

    #[test]
    fn unaligned_raw_payload_round_trips_with_padding() {
        let p = RtcpCompound {
            packets: vec![RtcpPacket::Other {
                packet_type: 204,
                count: 1,
                payload: b"abcdefg",
            }],
        };
        let bytes = p.to_bytes().unwrap();
        assert_eq!(bytes.len(), 12);
        assert_eq!(bytes[0] & 0x20, 0x20);
        assert_eq!(RtcpCompound::parse(&bytes).unwrap(), p);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(RtcpCompound::parse(&[]), Err(RtcpError::Empty));
        assert_eq!(
            RtcpCompound::parse(&[0x40, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtcpError::BadVersion(1))
        );
        // Length claims 3 words more than present.
        assert!(matches!(
            RtcpCompound::parse(&[0x80, 201, 0, 3, 0, 0, 0, 0]),
            Err(RtcpError::TooShort { .. })
        ));
        // RC = 1 with no report block.
        assert!(matches!(
            RtcpCompound::parse(&[0x81, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtcpError::TooShort { .. })
        ));
        // Padding count 0.
        assert!(matches!(
            RtcpCompound::parse(&[0xa0, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtcpError::BadPadding { count: 0, .. })
        ));
        // SDES chunk without terminator.
        assert!(matches!(
            RtcpCompound::parse(&[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b']),
            Err(RtcpError::UnterminatedSdes(_))
        ));
    }
}
