//! From the MRCP synthesizer headers (RFC 6787 §8.4.6, §8.4.7) to the SSML values a [`crate::SynthesisRequest`]
//! carries, so that headers and `<voice>`/`<prosody>` mean the same thing to every engine.

use mrcp_proto::mrcp::header::{
    ProsodyNumber as HeaderNumber, ProsodyRate, ProsodyVolume, RateLabel, VoiceGender, VolumeLabel,
};
use mrcp_proto::ssml::{Gender, ProsodyLabel, ProsodyNumber, ProsodyUnit, ProsodyValue, Sign};

/// Voice-Gender as SSML's `gender`.
pub fn gender_from_header(gender: VoiceGender) -> Gender {
    match gender {
        VoiceGender::Male => Gender::Male,
        VoiceGender::Female => Gender::Female,
        VoiceGender::Neutral => Gender::Neutral,
    }
}

/// Prosody-Rate as SSML's `rate` (a bare number is a multiplier, a signed one a relative change in percent).
pub fn rate_from_header(rate: ProsodyRate) -> ProsodyValue {
    match rate {
        ProsodyRate::Label(label) => ProsodyValue::Label(match label {
            RateLabel::XSlow => ProsodyLabel::XSlow,
            RateLabel::Slow => ProsodyLabel::Slow,
            RateLabel::Medium => ProsodyLabel::Medium,
            RateLabel::Fast => ProsodyLabel::Fast,
            RateLabel::XFast => ProsodyLabel::XFast,
            RateLabel::Default => ProsodyLabel::Default,
        }),
        ProsodyRate::Number(n) => number(n),
    }
}

/// Prosody-Volume as SSML's `volume` (0–100 absolute, signed numbers relative on that scale).
pub fn volume_from_header(volume: ProsodyVolume) -> ProsodyValue {
    match volume {
        ProsodyVolume::Label(label) => ProsodyValue::Label(match label {
            VolumeLabel::Silent => ProsodyLabel::Silent,
            VolumeLabel::XSoft => ProsodyLabel::XSoft,
            VolumeLabel::Soft => ProsodyLabel::Soft,
            VolumeLabel::Medium => ProsodyLabel::Medium,
            VolumeLabel::Loud => ProsodyLabel::Loud,
            VolumeLabel::XLoud => ProsodyLabel::XLoud,
            VolumeLabel::Default => ProsodyLabel::Default,
        }),
        ProsodyVolume::Number(n) => number(n),
    }
}

fn number(n: HeaderNumber) -> ProsodyValue {
    let sign = match n.sign {
        Some('+') => Some(Sign::Plus),
        Some('-') => Some(Sign::Minus),
        _ => None,
    };
    let value = if n.value.is_finite() {
        n.value.abs()
    } else {
        0.0
    };
    let unit = if n.percent {
        ProsodyUnit::Percent
    } else {
        ProsodyUnit::None
    };
    ProsodyValue::Number(ProsodyNumber { sign, value, unit })
}

#[cfg(test)]
mod tests {
    use mrcp_proto::mrcp::header::HeaderValue;
    use mrcp_proto::ssml::EffectiveProsody;

    use super::*;

    #[test]
    fn headers_mean_what_ssml_means() {
        let mut p = EffectiveProsody::default();
        p.apply_rate(rate_from_header(ProsodyRate::parse("-20%").unwrap()));
        assert!((p.rate - 0.8).abs() < 1e-6);
        p.apply_rate(rate_from_header(ProsodyRate::parse("fast").unwrap()));
        assert!(p.rate > 1.0);
        p.apply_volume(volume_from_header(ProsodyVolume::parse("50").unwrap()));
        assert!((p.volume - 0.5).abs() < 1e-6);
        p.apply_volume(volume_from_header(ProsodyVolume::parse("silent").unwrap()));
        assert_eq!(p.volume, 0.0);
        assert_eq!(gender_from_header(VoiceGender::Female), Gender::Female);
    }
}
