//! Reading the WAV stream `espeak-ng --stdout` writes, as it arrives (RIFF/WAVE, PCM format 1).
//!
//! espeak-ng writes the header before it knows the length (the sizes are placeholders), then PCM as it
//! synthesizes. hound's reader is synchronous over `std::io::Read` and wants the sizes, so this small
//! sans-IO reader takes bytes from the async pipe and gives samples back without waiting for the end.

/// The most header bytes read before the `data` chunk; espeak-ng writes 44.
const MAX_HEADER: usize = 4_096;

/// Why the stream is not the WAV expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// Not RIFF/WAVE.
    #[error("output is not a RIFF/WAVE stream")]
    NotWav,
    /// Not 16-bit mono PCM.
    #[error(
        "output is {channels} channels of {bits}-bit format {format}, expected 16-bit mono PCM"
    )]
    Format {
        /// The format tag.
        format: u16,
        /// Channels.
        channels: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// No `data` chunk within the first bytes.
    #[error("no data chunk in the first {limit} bytes")]
    HeaderTooLong {
        /// The limit.
        limit: usize,
    },
}

/// The reader's state.
#[derive(Debug, Default)]
pub struct WavStream {
    header: Vec<u8>,
    rate: Option<u32>,
    in_data: bool,
    odd: Option<u8>,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

impl WavStream {
    /// Whether the header has been read and samples follow.
    pub fn in_data(&self) -> bool {
        self.in_data
    }

    /// The sample rate of the `fmt ` chunk, once read.
    pub fn sample_rate(&self) -> Option<u32> {
        self.rate
    }

    /// Takes the next bytes of the stream and appends the samples they complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<i16>) -> Result<(), WavError> {
        let mut bytes = bytes;
        if !self.in_data {
            self.header.extend_from_slice(bytes);
            let Some(data_start) = self.parse_header()? else {
                if self.header.len() > MAX_HEADER {
                    return Err(WavError::HeaderTooLong { limit: MAX_HEADER });
                }
                return Ok(());
            };
            self.in_data = true;
            let header = std::mem::take(&mut self.header);
            let rest = header.get(data_start..).unwrap_or_default();
            self.samples(rest, out);
            return Ok(());
        }
        if let (Some(first), Some((&second, rest))) = (self.odd, bytes.split_first()) {
            out.push(i16::from_le_bytes([first, second]));
            self.odd = None;
            bytes = rest;
        }
        if bytes.is_empty() {
            return Ok(());
        }
        self.samples(bytes, out);
        Ok(())
    }

    fn samples(&mut self, bytes: &[u8], out: &mut Vec<i16>) {
        let mut pairs = bytes.chunks_exact(2);
        out.extend(pairs.by_ref().map(|p| i16::from_le_bytes([p[0], p[1]])));
        self.odd = pairs.remainder().first().copied();
    }

    /// Walks the chunks read so far; the offset of the PCM once the `data` chunk header is in.
    fn parse_header(&mut self) -> Result<Option<usize>, WavError> {
        let h = &self.header;
        if h.len() < 12 {
            return Ok(None);
        }
        if h.get(0..4) != Some(b"RIFF") || h.get(8..12) != Some(b"WAVE") {
            return Err(WavError::NotWav);
        }
        let mut at = 12;
        loop {
            let (Some(id), Some(size)) = (h.get(at..at + 4), le32(h, at + 4)) else {
                return Ok(None);
            };
            let body = at + 8;
            if id == b"data" {
                return if self.rate.is_some() {
                    Ok(Some(body))
                } else {
                    Err(WavError::NotWav)
                };
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size > MAX_HEADER {
                return Err(WavError::HeaderTooLong { limit: MAX_HEADER });
            }
            if id == b"fmt " {
                let (Some(format), Some(channels), Some(rate), Some(bits)) = (
                    le16(h, body),
                    le16(h, body + 2),
                    le32(h, body + 4),
                    le16(h, body + 14),
                ) else {
                    return Ok(None);
                };
                if format != 1 || channels != 1 || bits != 16 {
                    return Err(WavError::Format {
                        format,
                        channels,
                        bits,
                    });
                }
                self.rate = Some(rate);
            }
            // Chunks are word-aligned (RIFF pads odd sizes).
            at = body + size + (size & 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(rate: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF\x24\xf0\xff\x7fWAVEfmt \x10\0\0\0\x01\0\x01\0");
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * 2).to_le_bytes());
        h.extend_from_slice(b"\x02\0\x10\0data\0\xf0\xff\x7f");
        h
    }

    #[test]
    fn byte_at_a_time_reads_the_same_as_whole() {
        let mut bytes = header(22_050);
        for s in [1i16, -2, 300, i16::MIN, i16::MAX] {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        let mut whole = Vec::new();
        let mut w = WavStream::default();
        w.push(&bytes, &mut whole).unwrap();
        assert_eq!(whole, vec![1, -2, 300, i16::MIN, i16::MAX]);
        assert_eq!(w.sample_rate(), Some(22_050));
        let mut split = Vec::new();
        let mut s = WavStream::default();
        for b in &bytes {
            s.push(std::slice::from_ref(b), &mut split).unwrap();
        }
        assert_eq!(split, whole);
    }

    proptest::proptest! {
        #[test]
        fn any_split_reads_the_same(
            samples in proptest::collection::vec(proptest::num::i16::ANY, 0..200),
            cuts in proptest::collection::vec(0usize..500, 0..8),
        ) {
            let mut bytes = header(22_050);
            for s in &samples {
                bytes.extend_from_slice(&s.to_le_bytes());
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut out = Vec::new();
            let mut w = WavStream::default();
            let mut start = 0;
            for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
                w.push(&bytes[start..cut], &mut out).unwrap();
                start = cut;
            }
            proptest::prop_assert_eq!(out, samples);
        }
    }

    #[test]
    fn refuses_what_is_not_mono_pcm() {
        let mut w = WavStream::default();
        assert_eq!(
            w.push(b"RIFX\0\0\0\0WAVE", &mut Vec::new()),
            Err(WavError::NotWav)
        );
        let mut h = header(8_000);
        h[22] = 2; // channels
        let mut w = WavStream::default();
        assert!(matches!(
            w.push(&h, &mut Vec::new()),
            Err(WavError::Format { channels: 2, .. })
        ));
        let mut long = b"RIFF\0\0\0\0WAVEjunk\xff\xff\0\0".to_vec();
        long.extend_from_slice(&[0; 16]);
        let mut w = WavStream::default();
        assert!(matches!(
            w.push(&long, &mut Vec::new()),
            Err(WavError::HeaderTooLong { .. })
        ));
    }
}
