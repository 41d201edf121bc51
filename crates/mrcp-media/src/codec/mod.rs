//! Audio codecs of the MRCP media path (RFC 3551 §4.5): PCMU and PCMA (ITU-T G.711), L16 at 8 and
//! 16 kHz in network byte order (§4.5.11), and G.722 (ITU-T G.722, §4.5.2). Telephone-event
//! (RFC 4733) is not audio and lives in [`crate::dtmf`].
//!
//! [`Codec`] names a negotiated codec (from an SDP `a=rtpmap` via [`Codec::from_rtpmap`]);
//! [`AudioDecoder`] and [`AudioEncoder`] turn RTP payloads into 16-bit linear samples and back,
//! keeping the per-stream state G.722 needs.

mod g722;

use std::fmt;

pub use g722::{G722Decoder, G722Encoder};
use mrcp_proto::rtp::{PayloadType, g711, l16};

/// A sampling rate in hertz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleRate(pub u32);

impl SampleRate {
    /// Narrowband telephony.
    pub const HZ_8000: Self = Self(8000);
    /// Wideband.
    pub const HZ_16000: Self = Self(16000);
    /// 24 kHz, common for TTS engines.
    pub const HZ_24000: Self = Self(24000);
    /// 48 kHz.
    pub const HZ_48000: Self = Self(48000);

    /// Samples in `ms` milliseconds.
    pub const fn samples_in_ms(self, ms: u32) -> usize {
        (self.0 as usize * ms as usize) / 1000
    }
}

impl fmt::Display for SampleRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz", self.0)
    }
}

/// A negotiated audio codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 μ-law, 8 kHz.
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
    /// 16-bit linear, big-endian, mono, at the given rate (8000 or 16000).
    L16(SampleRate),
    /// G.722 64 kbit/s: 16 kHz audio, RTP clock 8 kHz (RFC 3551 §4.5.2).
    G722,
}

impl Codec {
    /// The codec of an `a=rtpmap:<pt> <name>/<clock>[/<channels>]`; mono only.
    pub fn from_rtpmap(name: &str, clock_rate: u32, channels: Option<u32>) -> Option<Self> {
        if channels.is_some_and(|c| c != 1) {
            return None;
        }
        match (name.to_ascii_uppercase().as_str(), clock_rate) {
            ("PCMU", 8000) => Some(Self::Pcmu),
            ("PCMA", 8000) => Some(Self::Pcma),
            ("L16", 8000) => Some(Self::L16(SampleRate::HZ_8000)),
            ("L16", 16000) => Some(Self::L16(SampleRate::HZ_16000)),
            ("G722", 8000) => Some(Self::G722),
            _ => None,
        }
    }

    /// The codec of a static payload type without rtpmap (RFC 3551 §6).
    pub fn from_static_payload_type(pt: PayloadType) -> Option<Self> {
        match pt.get() {
            0 => Some(Self::Pcmu),
            8 => Some(Self::Pcma),
            9 => Some(Self::G722),
            _ => None,
        }
    }

    /// The encoding name written in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::L16(_) => "L16",
            Self::G722 => "G722",
        }
    }

    /// The rate of the decoded audio.
    pub fn sample_rate(self) -> SampleRate {
        match self {
            Self::Pcmu | Self::Pcma => SampleRate::HZ_8000,
            Self::L16(r) => r,
            Self::G722 => SampleRate::HZ_16000,
        }
    }

    /// The RTP timestamp clock rate (8000 for G.722, for historical reasons).
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::G722 => 8000,
            other => other.sample_rate().0,
        }
    }

    /// Payload bytes for `samples` decoded samples.
    pub fn payload_len(self, samples: usize) -> usize {
        match self {
            Self::Pcmu | Self::Pcma => samples,
            Self::L16(_) => samples * 2,
            Self::G722 => samples / 2,
        }
    }

    /// Decoded samples in a payload of `len` bytes.
    pub fn samples_in(self, len: usize) -> usize {
        match self {
            Self::Pcmu | Self::Pcma => len,
            Self::L16(_) => len / 2,
            Self::G722 => len * 2,
        }
    }

    /// RTP timestamp units covered by a payload of `len` bytes.
    pub fn timestamp_units(self, len: usize) -> u32 {
        let units = match self {
            Self::Pcmu | Self::Pcma | Self::G722 => len,
            Self::L16(_) => len / 2,
        };
        u32::try_from(units).unwrap_or(u32::MAX)
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.encoding_name(), self.clock_rate())
    }
}

/// Decodes RTP payloads of one stream to linear samples at [`Codec::sample_rate`].
#[derive(Debug, Clone)]
pub struct AudioDecoder {
    codec: Codec,
    g722: Option<Box<G722Decoder>>,
}

impl AudioDecoder {
    /// A decoder for `codec`.
    pub fn new(codec: Codec) -> Self {
        let g722 = matches!(codec, Codec::G722).then(|| Box::new(G722Decoder::new()));
        Self { codec, g722 }
    }

    /// The codec decoded.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Appends the samples of `payload` to `out`. An odd trailing L16 byte is ignored.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        match self.codec {
            Codec::Pcmu => g711::decode_ulaw(payload, out),
            Codec::Pcma => g711::decode_alaw(payload, out),
            Codec::L16(_) => {
                l16::decode(payload, out);
            }
            Codec::G722 => {
                if let Some(d) = self.g722.as_mut() {
                    d.decode(payload, out);
                }
            }
        }
    }

    /// Appends `samples` samples of silence (for a gap the jitter buffer could not fill) and keeps
    /// the decoder state consistent.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        out.resize(out.len() + samples, 0);
    }
}

/// Encodes linear samples at [`Codec::sample_rate`] to RTP payloads of one stream.
#[derive(Debug, Clone)]
pub struct AudioEncoder {
    codec: Codec,
    g722: Option<Box<G722Encoder>>,
}

impl AudioEncoder {
    /// An encoder for `codec`.
    pub fn new(codec: Codec) -> Self {
        let g722 = matches!(codec, Codec::G722).then(|| Box::new(G722Encoder::new()));
        Self { codec, g722 }
    }

    /// The codec encoded.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Appends the encoding of `samples` to `out` (G.722 carries an odd last sample over to the
    /// next call).
    pub fn encode(&mut self, samples: &[i16], out: &mut Vec<u8>) {
        match self.codec {
            Codec::Pcmu => g711::encode_ulaw(samples, out),
            Codec::Pcma => g711::encode_alaw(samples, out),
            Codec::L16(_) => l16::encode(samples, out),
            Codec::G722 => {
                if let Some(e) = self.g722.as_mut() {
                    e.encode(samples, out);
                }
            }
        }
    }

    /// The payload of silence for `samples` samples.
    pub fn silence(&mut self, samples: usize, out: &mut Vec<u8>) {
        let zeros = vec![0i16; samples];
        self.encode(&zeros, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_mapping() {
        assert_eq!(Codec::from_rtpmap("pcmu", 8000, None), Some(Codec::Pcmu));
        assert_eq!(
            Codec::from_rtpmap("L16", 16000, Some(1)),
            Some(Codec::L16(SampleRate::HZ_16000))
        );
        assert_eq!(Codec::from_rtpmap("L16", 16000, Some(2)), None);
        assert_eq!(
            Codec::from_rtpmap("G722", 8000, None).map(Codec::sample_rate),
            Some(SampleRate::HZ_16000)
        );
        assert_eq!(Codec::G722.timestamp_units(160), 160);
        assert_eq!(Codec::G722.samples_in(160), 320);
        assert_eq!(Codec::from_rtpmap("opus", 48000, Some(2)), None);
        assert_eq!(Codec::L16(SampleRate::HZ_16000).timestamp_units(640), 320);
    }

    #[test]
    fn every_codec_round_trips_a_sine() {
        for codec in [
            Codec::Pcmu,
            Codec::Pcma,
            Codec::L16(SampleRate::HZ_8000),
            Codec::L16(SampleRate::HZ_16000),
        ] {
            let rate = codec.sample_rate().0 as f32;
            let samples: Vec<i16> = (0..320)
                .map(|i| {
                    (8000.0 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate).sin()) as i16
                })
                .collect();
            let mut enc = AudioEncoder::new(codec);
            let mut payload = Vec::new();
            enc.encode(&samples, &mut payload);
            assert_eq!(payload.len(), codec.payload_len(samples.len()));
            let mut dec = AudioDecoder::new(codec);
            let mut back = Vec::new();
            dec.decode(&payload, &mut back);
            assert_eq!(back.len(), samples.len());
            let err = samples
                .iter()
                .zip(&back)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max()
                .unwrap_or(0);
            assert!(err <= 260, "{codec}: max error {err}");
        }
    }
}
