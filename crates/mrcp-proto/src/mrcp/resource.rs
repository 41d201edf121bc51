//! MRCPv2 resource types (RFC 6787 §3.1, §4.2 `a=resource`).

use std::fmt;
use std::str::FromStr;

/// A media processing resource a client can ask for in `a=resource` and address in `Channel-Identifier`
/// (RFC 6787 §3.1, Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// `speechrecog`: full speech recognizer (RFC 6787 §9).
    Speechrecog,
    /// `dtmfrecog`: DTMF-only recognizer (RFC 6787 §9).
    Dtmfrecog,
    /// `speechsynth`: full speech synthesizer (RFC 6787 §8).
    Speechsynth,
    /// `basicsynth`: basic synthesizer (RFC 6787 §8).
    Basicsynth,
    /// `speakverify`: speaker verification (RFC 6787 §11).
    Speakverify,
    /// `recorder`: audio recorder (RFC 6787 §10).
    Recorder,
}

impl ResourceType {
    /// Every resource type, in RFC order.
    pub const ALL: [ResourceType; 6] = [
        ResourceType::Speechrecog,
        ResourceType::Dtmfrecog,
        ResourceType::Speechsynth,
        ResourceType::Basicsynth,
        ResourceType::Speakverify,
        ResourceType::Recorder,
    ];

    /// The token as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceType::Speechrecog => "speechrecog",
            ResourceType::Dtmfrecog => "dtmfrecog",
            ResourceType::Speechsynth => "speechsynth",
            ResourceType::Basicsynth => "basicsynth",
            ResourceType::Speakverify => "speakverify",
            ResourceType::Recorder => "recorder",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource token that RFC 6787 §3.1 does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown MRCP resource {0:?}")]
pub struct UnknownResource(pub String);

impl FromStr for ResourceType {
    type Err = UnknownResource;

    /// Parses a resource token; case-insensitive because UniMRCP compares them that way.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceType::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownResource(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_round_trips() {
        for r in ResourceType::ALL {
            assert_eq!(r.as_str().parse::<ResourceType>(), Ok(r));
        }
        assert_eq!("SpeechSynth".parse(), Ok(ResourceType::Speechsynth));
        assert!("speechrecognizer".parse::<ResourceType>().is_err());
    }
}
