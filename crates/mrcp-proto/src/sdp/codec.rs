//! RTP payload formats of an `m=audio` line: `a=rtpmap` and `a=fmtp` (RFC 4566 §6, RFC 3551 §6) and the codec
//! choice an answerer makes (RFC 3264 §6.1).

use std::fmt;

/// The payload type of RFC 4733 telephone events, by name (`telephone-event/8000`).
pub const TELEPHONE_EVENT: &str = "telephone-event";

/// One payload format of an `m=audio` line, with its `a=rtpmap` and optional `a=fmtp`.
///
/// A format without `a=rtpmap` takes its encoding from the static table of RFC 3551 §6. A format that has neither
/// (a reserved static number such as 19, which UniMRCP puts on removed `m=audio 0` lines) has an empty
/// `encoding_name` and a `clock_rate` of 0, and is printed without `a=rtpmap`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Codec {
    /// RTP payload type, 0–127 (RFC 3550 §5.1).
    pub payload_type: u8,
    /// Encoding name as written (`PCMU`, `L16`, `telephone-event`); compared case-insensitively.
    pub encoding_name: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels (the rtpmap encoding parameter); 1 when absent.
    pub channels: u8,
    /// The `a=fmtp` parameters, e.g. `0-15` for telephone-event.
    pub fmtp: Option<String>,
}

impl Codec {
    /// A codec with one channel and no fmtp.
    pub fn new(payload_type: u8, encoding_name: impl Into<String>, clock_rate: u32) -> Self {
        Self {
            payload_type,
            encoding_name: encoding_name.into(),
            clock_rate,
            channels: 1,
            fmtp: None,
        }
    }

    /// Adds `a=fmtp` parameters.
    pub fn with_fmtp(mut self, fmtp: impl Into<String>) -> Self {
        self.fmtp = Some(fmtp.into());
        self
    }

    /// G.711 μ-law, static payload type 0.
    pub fn pcmu() -> Self {
        Self::new(0, "PCMU", 8000)
    }

    /// G.711 A-law, static payload type 8.
    pub fn pcma() -> Self {
        Self::new(8, "PCMA", 8000)
    }

    /// G.722, static payload type 9 (its RTP clock is 8000 by RFC 3551 §4.5.2 though it samples at 16 kHz).
    pub fn g722() -> Self {
        Self::new(9, "G722", 8000)
    }

    /// Linear 16-bit PCM on a dynamic payload type.
    pub fn l16(payload_type: u8, clock_rate: u32) -> Self {
        Self::new(payload_type, "L16", clock_rate)
    }

    /// RFC 4733 telephone events 0–15 on a dynamic payload type.
    pub fn telephone_event(payload_type: u8, clock_rate: u32) -> Self {
        Self::new(payload_type, TELEPHONE_EVENT, clock_rate).with_fmtp("0-15")
    }

    /// The static assignment of RFC 3551 §6, Table 4, for a format that has no `a=rtpmap`.
    pub fn from_static(payload_type: u8) -> Option<Self> {
        let (name, rate, channels) = match payload_type {
            0 => ("PCMU", 8000, 1),
            3 => ("GSM", 8000, 1),
            4 => ("G723", 8000, 1),
            5 => ("DVI4", 8000, 1),
            6 => ("DVI4", 16000, 1),
            7 => ("LPC", 8000, 1),
            8 => ("PCMA", 8000, 1),
            9 => ("G722", 8000, 1),
            10 => ("L16", 44100, 2),
            11 => ("L16", 44100, 1),
            12 => ("QCELP", 8000, 1),
            13 => ("CN", 8000, 1),
            14 => ("MPA", 90000, 1),
            15 => ("G728", 8000, 1),
            16 => ("DVI4", 11025, 1),
            17 => ("DVI4", 22050, 1),
            18 => ("G729", 8000, 1),
            _ => return None,
        };
        Some(Self {
            payload_type,
            encoding_name: name.to_owned(),
            clock_rate: rate,
            channels,
            fmtp: None,
        })
    }

    /// An unnamed format: no rtpmap and no static assignment.
    pub(crate) fn unnamed(payload_type: u8) -> Self {
        Self::new(payload_type, "", 0)
    }

    /// Whether the format has a known encoding (from rtpmap or the static table).
    pub fn is_named(&self) -> bool {
        !self.encoding_name.is_empty()
    }

    /// Whether this is RFC 4733 `telephone-event`.
    pub fn is_telephone_event(&self) -> bool {
        self.encoding_name.eq_ignore_ascii_case(TELEPHONE_EVENT)
    }

    /// Same encoding: name (case-insensitive), clock rate and channels; payload types may differ
    /// (UniMRCP `mpf_codec_lists_intersect` matches dynamic types this way).
    pub fn same_encoding(&self, other: &Codec) -> bool {
        self.is_named()
            && self
                .encoding_name
                .eq_ignore_ascii_case(&other.encoding_name)
            && self.clock_rate == other.clock_rate
            && self.channels == other.channels
    }

    /// The `a=rtpmap` value, `<pt> <name>/<rate>[/<channels>]`.
    ///
    /// Written by hand: sdp-rs 0.2 prints the channel count after a space (`98 L16/16000 2`), which is not RFC 4566
    /// syntax.
    pub fn rtpmap_value(&self) -> String {
        if self.channels == 1 {
            format!(
                "{} {}/{}",
                self.payload_type, self.encoding_name, self.clock_rate
            )
        } else {
            format!(
                "{} {}/{}/{}",
                self.payload_type, self.encoding_name, self.clock_rate, self.channels
            )
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rtpmap_value())
    }
}

/// Which side's order wins when several codecs are common (RFC 3264 §6.1 lets the answerer choose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodecOrder {
    /// The first offered codec we support (what UniMRCP's server does with its default configuration).
    #[default]
    Offer,
    /// Our first preferred codec that the offer contains.
    Local,
}

/// The codecs a server (or client) can handle, in order of preference, and whether to use telephone events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecPreferences {
    /// Supported audio encodings; payload types here matter only for static formats' documentation.
    pub codecs: Vec<Codec>,
    /// Answer with `telephone-event` (at the offered payload type) when the offer has it at the chosen rate.
    pub telephone_event: bool,
    /// Whose order decides among common codecs.
    pub order: CodecOrder,
}

impl Default for CodecPreferences {
    /// PCMU, PCMA, L16/8000 and L16/16000, with telephone events, offerer's order: what every FreeSWITCH and
    /// Asterisk profile can meet (reference §12 problem 20).
    fn default() -> Self {
        Self {
            codecs: vec![
                Codec::pcmu(),
                Codec::pcma(),
                Codec::l16(96, 8000),
                Codec::l16(97, 16000),
            ],
            telephone_event: true,
            order: CodecOrder::Offer,
        }
    }
}

impl CodecPreferences {
    /// Picks the audio codec from `offered` (never telephone-event), then the telephone-event format at the same
    /// clock rate if wanted. The chosen codecs keep the offer's payload types (RFC 3264 §6.1).
    pub fn choose(&self, offered: &[Codec]) -> Option<(Codec, Option<Codec>)> {
        let audio = |c: &&Codec| !c.is_telephone_event() && c.is_named();
        let chosen = match self.order {
            CodecOrder::Offer => offered
                .iter()
                .filter(audio)
                .find(|o| self.codecs.iter().any(|l| l.same_encoding(o))),
            CodecOrder::Local => self
                .codecs
                .iter()
                .filter(|l| !l.is_telephone_event())
                .find_map(|l| offered.iter().filter(audio).find(|o| o.same_encoding(l))),
        }?
        .clone();
        let event = if self.telephone_event {
            offered
                .iter()
                .find(|o| o.is_telephone_event() && o.clock_rate == chosen.clock_rate)
                .cloned()
        } else {
            None
        };
        Some((chosen, event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_table_and_rtpmap_text() {
        assert_eq!(Codec::from_static(0), Some(Codec::pcmu()));
        assert_eq!(
            Codec::from_static(10).map(|c| c.rtpmap_value()),
            Some("10 L16/44100/2".into())
        );
        assert_eq!(Codec::from_static(19), None);
        assert_eq!(
            Codec::telephone_event(101, 8000).rtpmap_value(),
            "101 telephone-event/8000"
        );
    }

    #[test]
    fn offer_order_picks_first_supported_and_telephone_event() {
        let offered = [
            Codec::g722(),
            Codec::pcma(),
            Codec::pcmu(),
            Codec::telephone_event(101, 8000),
        ];
        let prefs = CodecPreferences::default();
        let (codec, event) = prefs.choose(&offered).unwrap();
        assert_eq!(codec, Codec::pcma());
        assert_eq!(event, Some(Codec::telephone_event(101, 8000)));
    }

    #[test]
    fn local_order_and_dynamic_payload_types() {
        let offered = [Codec::pcmu(), Codec::l16(118, 16000)];
        let prefs = CodecPreferences {
            codecs: vec![Codec::l16(96, 16000), Codec::pcmu()],
            telephone_event: false,
            order: CodecOrder::Local,
        };
        let (codec, event) = prefs.choose(&offered).unwrap();
        assert_eq!(codec.payload_type, 118);
        assert_eq!(event, None);
        assert!(prefs.choose(&[Codec::g722()]).is_none());
    }
}
