//! Attribute values of SSML elements: `<prosody>` rate, volume and pitch (SSML 1.1 §3.2.4) and time
//! designations (SSML 1.0 §3.2.3, from CSS2).

use super::{ProsodyLabel, ProsodyNumber, ProsodyUnit, ProsodyValue, Sign};

/// Which `<prosody>` attribute a value is for (SSML 1.1 §3.2.4).
#[derive(Clone, Copy)]
pub(super) enum Attr {
    Rate,
    Volume,
    Pitch,
}

impl Attr {
    pub(super) fn expected(self) -> &'static str {
        match self {
            Attr::Rate => "a rate keyword, a multiplier or a relative percentage",
            Attr::Volume => "a volume keyword, 0-100, a relative change or decibels",
            Attr::Pitch => "a pitch keyword, hertz, semitones or a relative percentage",
        }
    }

    fn allows_label(self, label: ProsodyLabel) -> bool {
        use ProsodyLabel as L;
        match self {
            Attr::Rate => matches!(
                label,
                L::XSlow | L::Slow | L::Medium | L::Fast | L::XFast | L::Default
            ),
            Attr::Volume => matches!(
                label,
                L::Silent | L::XSoft | L::Soft | L::Medium | L::Loud | L::XLoud | L::Default
            ),
            Attr::Pitch => matches!(
                label,
                L::XLow | L::Low | L::Medium | L::High | L::XHigh | L::Default
            ),
        }
    }

    pub(super) fn allows_unit(self, unit: ProsodyUnit) -> bool {
        use ProsodyUnit as U;
        match self {
            Attr::Rate => matches!(unit, U::None | U::Percent),
            Attr::Volume => matches!(unit, U::None | U::Percent | U::Decibels),
            Attr::Pitch => matches!(unit, U::None | U::Percent | U::Hertz | U::Semitones),
        }
    }
}

/// Parses a `<prosody>` attribute value; `None` when it is not valid for the attribute.
pub(super) fn prosody_value(value: &str, attr: Attr) -> Option<ProsodyValue> {
    if let Some(label) = ProsodyLabel::ALL.into_iter().find(|l| l.as_str() == value) {
        return attr
            .allows_label(label)
            .then_some(ProsodyValue::Label(label));
    }
    let (sign, rest) = match value.as_bytes().first() {
        Some(b'+') => (Some(Sign::Plus), value.get(1..)?),
        Some(b'-') => (Some(Sign::Minus), value.get(1..)?),
        _ => (None, value),
    };
    let digits_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(digits_end);
    let unit = match suffix {
        "" => ProsodyUnit::None,
        "%" => ProsodyUnit::Percent,
        "dB" => ProsodyUnit::Decibels,
        "Hz" => ProsodyUnit::Hertz,
        "st" => ProsodyUnit::Semitones,
        _ => return None,
    };
    let value = decimal(number)?;
    attr.allows_unit(unit)
        .then_some(ProsodyValue::Number(ProsodyNumber { sign, value, unit }))
}

/// `digits ["." digits]` or `"." digits` as a finite f32; no exponent, `inf` or `nan`.
fn decimal(number: &str) -> Option<f32> {
    let mut parts = number.splitn(2, '.');
    let int = parts.next().unwrap_or_default();
    let frac = parts.next();
    let valid = !int.contains('.')
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
        && int.bytes().all(|b| b.is_ascii_digit())
        && !(int.is_empty() && frac.is_none());
    let value: f32 = number.parse().ok().filter(|_| valid)?;
    value.is_finite().then_some(value)
}

/// An SSML time designation (SSML 1.0 §3.2.3: `[0-9]*(\.[0-9]+)?(s|ms)`) in whole milliseconds, rounded.
pub(super) fn time_millis(value: &str) -> Option<u128> {
    let (number, scale) = match value.strip_suffix("ms") {
        Some(n) => (n, 1u128),
        None => (value.strip_suffix('s')?, 1_000),
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if (int.is_empty() && frac.is_empty())
        || (number.contains('.') && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || int.len() > 20
    {
        return None;
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    // Fraction to the microsecond of the unit, then rounded to the millisecond.
    let micro_digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    let micros: u128 = micro_digits.parse().ok()?;
    let total_micro_units = int.checked_mul(1_000_000)?.checked_add(micros)?;
    let millis_times_1000 = total_micro_units.checked_mul(scale)?;
    Some((millis_times_1000 + 500_000) / 1_000_000)
}
