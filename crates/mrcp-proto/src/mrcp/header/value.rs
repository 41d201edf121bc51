//! Value types shared by MRCPv2 headers (RFC 6787 §6.2, §8.4, §9.4, §10.4).

use std::time::Duration;

use super::{HeaderValue, ValueError};

/// `FLOAT = *DIGIT ["." *DIGIT]` (RFC 6787 §5.1): no sign, no exponent, at least one digit.
pub(crate) fn parse_float(value: &str) -> Result<f32, ValueError> {
    let err = ValueError::Syntax {
        expected: "a decimal number like 0.5",
    };
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits_ok(int) || !digits_ok(frac) || value.len() > 64 {
        return Err(err);
    }
    value.parse::<f32>().map_err(|_| err)
}

/// Writes a float as UniMRCP does: shortest exact decimal, always with a fraction (`0.5`, `0.75`, `1.0`).
pub(crate) fn write_float(v: f32, out: &mut String) {
    let start = out.len();
    super::push_display(out, &v);
    if !out[start..].contains('.') {
        out.push_str(".0");
    }
}

/// A value in 0.0..=1.0: Confidence-Threshold, Sensitivity-Level, Speed-Vs-Accuracy (RFC 6787 §9.4).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Score(f32);

impl Score {
    /// A score, `None` outside 0.0..=1.0 (or NaN).
    pub fn new(v: f32) -> Option<Score> {
        (0.0..=1.0).contains(&v).then_some(Score(v))
    }

    /// The number.
    pub fn get(self) -> f32 {
        self.0
    }
}

impl HeaderValue for Score {
    fn parse(value: &str) -> Result<Self, ValueError> {
        Score::new(parse_float(value)?).ok_or(ValueError::OutOfRange {
            allowed: "0.0..=1.0",
        })
    }
    fn write(&self, out: &mut String) {
        write_float(self.0, out);
    }
}

/// One `name=value` pair of `Vendor-Specific-Parameters` (RFC 6787 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorParam {
    /// The parameter name, e.g. `com.example.foo`.
    pub name: String,
    /// The value as written (a quoted string keeps its quotes); `None` for a bare name.
    pub value: Option<String>,
}

/// `Vendor-Specific-Parameters: a=b;c=d`: ordered pairs separated by `;` (RFC 6787 §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VendorParams(pub Vec<VendorParam>);

impl VendorParams {
    /// The value of the first pair with this name (case-sensitive, as vendors define them).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_deref().unwrap_or(""))
    }
}

impl HeaderValue for VendorParams {
    fn parse(value: &str) -> Result<Self, ValueError> {
        if value.contains(['\r', '\n']) {
            return Err(ValueError::LineBreak);
        }
        let mut pairs = Vec::new();
        for item in split_outside_quotes(value, ';') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().to_owned())),
                None => (item, None),
            };
            if name.is_empty() || name.contains([' ', '\t', '"']) {
                return Err(ValueError::Syntax {
                    expected: "name=value pairs separated by ';'",
                });
            }
            pairs.push(VendorParam {
                name: name.to_owned(),
                value,
            });
        }
        Ok(VendorParams(pairs))
    }
    fn write(&self, out: &mut String) {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(&p.name);
            if let Some(v) = &p.value {
                out.push('=');
                out.push_str(v);
            }
        }
    }
}

/// Splits on `sep` except inside double quotes (with `\"` escapes).
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `<uri>;size=<bytes>;duration=<ms>` of Waveform-URI, Record-URI (RFC 6787 §9.4, §10.4); an empty value
/// (no recording) has an empty `uri`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaUri {
    /// The URI between the angle brackets.
    pub uri: String,
    /// `size=`: bytes of audio.
    pub size: Option<u64>,
    /// `duration=`: length of the audio.
    pub duration: Option<Duration>,
    /// Any other `;name=value` parameter, kept in order.
    pub other: Vec<(String, String)>,
}

impl HeaderValue for MediaUri {
    fn parse(value: &str) -> Result<Self, ValueError> {
        let err = ValueError::Syntax {
            expected: "<uri>;size=<bytes>;duration=<ms> or empty",
        };
        if value.contains(['\r', '\n']) {
            return Err(ValueError::LineBreak);
        }
        if value.is_empty() {
            return Ok(MediaUri::default());
        }
        let rest = value.strip_prefix('<').ok_or(err.clone())?;
        let (uri, params) = rest.split_once('>').ok_or(err.clone())?;
        let mut out = MediaUri {
            uri: uri.to_owned(),
            ..MediaUri::default()
        };
        for p in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (n, v) = p.split_once('=').ok_or(err.clone())?;
            let (n, v) = (n.trim(), v.trim());
            if n.eq_ignore_ascii_case("size") {
                out.size = Some(u64::parse(v)?);
            } else if n.eq_ignore_ascii_case("duration") {
                out.duration = Some(Duration::parse(v)?);
            } else {
                out.other.push((n.to_owned(), v.to_owned()));
            }
        }
        Ok(out)
    }
    fn write(&self, out: &mut String) {
        if self.uri.is_empty() && self.size.is_none() && self.duration.is_none() {
            return;
        }
        out.push('<');
        out.push_str(&self.uri);
        out.push('>');
        if let Some(s) = self.size {
            out.push_str(";size=");
            s.write(out);
        }
        if let Some(d) = self.duration {
            out.push_str(";duration=");
            d.write(out);
        }
        for (n, v) in &self.other {
            out.push(';');
            out.push_str(n);
            out.push('=');
            out.push_str(v);
        }
    }
}

macro_rules! keyword_enum {
    ($(#[$doc:meta])* $ty:ident, $expected:literal { $($(#[$vdoc:meta])* $var:ident = $wire:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty {
            $($(#[$vdoc])* $var,)*
        }

        impl $ty {
            /// The keyword as written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$var => $wire,)*
                }
            }
        }

        impl HeaderValue for $ty {
            /// Case-insensitive keyword.
            fn parse(value: &str) -> Result<Self, ValueError> {
                $(if value.eq_ignore_ascii_case($wire) {
                    return Ok($ty::$var);
                })*
                Err(ValueError::Syntax { expected: $expected })
            }
            fn write(&self, out: &mut String) {
                out.push_str(self.as_str());
            }
        }
    };
}

keyword_enum! {
    /// `Voice-Gender` (RFC 6787 §8.4).
    VoiceGender, "male, female or neutral" {
        /// `male`.
        Male = "male",
        /// `female`.
        Female = "female",
        /// `neutral`.
        Neutral = "neutral",
    }
}

keyword_enum! {
    /// `Recognition-Mode` (RFC 6787 §9.4).
    RecognitionMode, "normal or hotword" {
        /// `normal`: the default.
        Normal = "normal",
        /// `hotword`: wait for a grammar match, ignore the rest.
        Hotword = "hotword",
    }
}

keyword_enum! {
    /// `Input-Type` in START-OF-INPUT (RFC 6787 §9.4).
    InputType, "speech or dtmf" {
        /// `speech`.
        Speech = "speech",
        /// `dtmf`.
        Dtmf = "dtmf",
    }
}

keyword_enum! {
    /// The volume keywords of `Prosody-Volume` (RFC 6787 §8.4, from SSML).
    VolumeLabel, "a volume keyword" {
        /// `silent`.
        Silent = "silent",
        /// `x-soft`.
        XSoft = "x-soft",
        /// `soft`.
        Soft = "soft",
        /// `medium`.
        Medium = "medium",
        /// `loud`.
        Loud = "loud",
        /// `x-loud`.
        XLoud = "x-loud",
        /// `default`.
        Default = "default",
    }
}

keyword_enum! {
    /// The rate keywords of `Prosody-Rate` (RFC 6787 §8.4, from SSML).
    RateLabel, "a rate keyword" {
        /// `x-slow`.
        XSlow = "x-slow",
        /// `slow`.
        Slow = "slow",
        /// `medium`.
        Medium = "medium",
        /// `fast`.
        Fast = "fast",
        /// `x-fast`.
        XFast = "x-fast",
        /// `default`.
        Default = "default",
    }
}

/// A numeric prosody value: absolute (`50`), relative (`+10`, `-5.5`) or a percentage change (`+20%`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProsodyNumber {
    /// `Some('+')` or `Some('-')` for a relative change; `None` for an absolute value.
    pub sign: Option<char>,
    /// The magnitude.
    pub value: f32,
    /// Written with a trailing `%`.
    pub percent: bool,
}

impl HeaderValue for ProsodyNumber {
    fn parse(value: &str) -> Result<Self, ValueError> {
        let (sign, rest) = match value.as_bytes().first() {
            Some(b'+') => (Some('+'), &value[1..]),
            Some(b'-') => (Some('-'), &value[1..]),
            _ => (None, value),
        };
        let (num, percent) = match rest.strip_suffix('%') {
            Some(n) => (n, true),
            None => (rest, false),
        };
        Ok(ProsodyNumber {
            sign,
            value: parse_float(num)?,
            percent,
        })
    }
    fn write(&self, out: &mut String) {
        if let Some(s) = self.sign {
            out.push(s);
        }
        write_float(self.value, out);
        if self.percent {
            out.push('%');
        }
    }
}

/// `Prosody-Volume` (RFC 6787 §8.4): a keyword or a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProsodyVolume {
    /// `silent`, `soft`, `loud`, …
    Label(VolumeLabel),
    /// `50`, `+10`, `-20%`.
    Number(ProsodyNumber),
}

/// `Prosody-Rate` (RFC 6787 §8.4): a keyword or a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProsodyRate {
    /// `slow`, `fast`, …
    Label(RateLabel),
    /// `1.5`, `-10%`.
    Number(ProsodyNumber),
}

macro_rules! label_or_number {
    ($ty:ident, $label:ident) => {
        impl HeaderValue for $ty {
            fn parse(value: &str) -> Result<Self, ValueError> {
                $label::parse(value)
                    .map($ty::Label)
                    .or_else(|_| ProsodyNumber::parse(value).map($ty::Number))
                    .map_err(|_| ValueError::Syntax {
                        expected: "a prosody keyword or a number",
                    })
            }
            fn write(&self, out: &mut String) {
                match self {
                    $ty::Label(l) => l.write(out),
                    $ty::Number(n) => n.write(out),
                }
            }
        }
    };
}
label_or_number!(ProsodyVolume, VolumeLabel);
label_or_number!(ProsodyRate, RateLabel);

#[cfg(test)]
mod tests {
    use super::*;

    fn round<T: HeaderValue + PartialEq + std::fmt::Debug>(s: &str) -> T {
        let v = T::parse(s).unwrap();
        let mut out = String::new();
        v.write(&mut out);
        assert_eq!(T::parse(&out).unwrap(), v, "{s} printed as {out}");
        v
    }

    #[test]
    fn floats_print_like_unimrcp() {
        let mut s = String::new();
        write_float(0.5, &mut s);
        s.push(' ');
        write_float(1.0, &mut s);
        s.push(' ');
        write_float(0.75, &mut s);
        assert_eq!(s, "0.5 1.0 0.75");
        assert_eq!(round::<Score>("0.87").get(), 0.87);
        assert_eq!(round::<Score>(".5").get(), 0.5);
        assert_eq!(
            Score::parse("1.5"),
            Err(ValueError::OutOfRange {
                allowed: "0.0..=1.0"
            })
        );
        assert!(Score::parse("-0.1").is_err());
        assert!(Score::parse("1e-3").is_err());
        assert!(Score::parse("nan").is_err());
        assert!(Score::parse(".").is_err());
    }

    #[test]
    fn vendor_params_keep_order_and_quotes() {
        let v: VendorParams = round("foo=bar;com.x.y=\"a;b\"; flag");
        assert_eq!(v.0.len(), 3);
        assert_eq!(v.get("com.x.y"), Some("\"a;b\""));
        assert_eq!(v.get("flag"), Some(""));
        assert_eq!(v.0[0].name, "foo");
        assert!(VendorParams::parse("=x").is_err());
    }

    #[test]
    fn media_uri_with_size_and_duration() {
        let v: MediaUri = round(
            "<file://mediaserver/data/rec-8kHz-5476f07e1cff455a-1.pcm>;size=40480;duration=2530",
        );
        assert_eq!(v.size, Some(40480));
        assert_eq!(v.duration, Some(Duration::from_millis(2530)));
        assert_eq!(round::<MediaUri>(""), MediaUri::default());
        assert!(MediaUri::parse("file://x").is_err());
        assert!(MediaUri::parse("<x>;size=abc").is_err());
    }

    #[test]
    fn prosody_values() {
        assert_eq!(
            round::<ProsodyRate>("fast"),
            ProsodyRate::Label(RateLabel::Fast)
        );
        assert_eq!(
            round::<ProsodyVolume>("+20%"),
            ProsodyVolume::Number(ProsodyNumber {
                sign: Some('+'),
                value: 20.0,
                percent: true
            })
        );
        assert!(
            round::<ProsodyRate>("-10").eq(&ProsodyRate::Number(ProsodyNumber {
                sign: Some('-'),
                value: 10.0,
                percent: false
            }))
        );
        assert!(ProsodyVolume::parse("very-loud").is_err());
        assert_eq!(round::<VoiceGender>("Female"), VoiceGender::Female);
    }
}
