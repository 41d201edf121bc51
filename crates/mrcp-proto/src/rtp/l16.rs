//! L16: 16-bit signed linear PCM, most significant byte first (RFC 3551 §4.5.11). The clock rate
//! equals the sampling rate (8000 or 16000 for MRCP).
//!
//! UniMRCP and FreeSWITCH send L16 in network byte order; little-endian L16 from a peer is a peer bug
//! that cannot be detected from the bytes alone.

/// Appends the samples of an L16 payload; a trailing odd byte is ignored and reported as `false`.
pub fn decode(payload: &[u8], out: &mut Vec<i16>) -> bool {
    let chunks = payload.chunks_exact(2);
    let whole = chunks.remainder().is_empty();
    out.extend(chunks.map(|b| i16::from_be_bytes([b[0], b[1]])));
    whole
}

/// Appends the L16 encoding of `samples` to `out`.
pub fn encode(samples: &[i16], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for s in samples {
        out.extend_from_slice(&s.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_byte_order() {
        let mut bytes = Vec::new();
        encode(&[0x0102, -2], &mut bytes);
        assert_eq!(bytes, [0x01, 0x02, 0xff, 0xfe]);
        let mut back = Vec::new();
        assert!(decode(&bytes, &mut back));
        assert_eq!(back, [0x0102, -2]);
        assert!(!decode(&[1, 2, 3], &mut back));
        assert_eq!(back, [0x0102, -2, 0x0102]);
    }
}
