//! The channel identifier `<session-id>@<resource>` (RFC 6787 §6.2.1), also carried in SDP `a=channel`
//! (RFC 6787 §4.2).

use std::fmt;
use std::str::FromStr;

use super::resource::{ResourceType, UnknownResource};

/// Identifies one resource channel inside an MRCP session: `Channel-Identifier: 32AECB23433801@speechsynth`.
///
/// The session id is an opaque token chosen by the server (RFC 6787 §6.2.1: at least 64 bits of randomness,
/// written as hex digits by UniMRCP). It is kept as text so a peer's id is written back byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelId {
    session_id: String,
    resource: ResourceType,
}

/// Why a channel identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelIdError {
    /// No `@` between the session id and the resource.
    #[error("channel identifier {0:?} has no '@' between session id and resource")]
    MissingAt(String),
    /// The session id is empty or holds characters outside the token alphabet.
    #[error("channel identifier session id {0:?} is empty or not a token")]
    BadSessionId(String),
    /// The resource is not one of RFC 6787 §3.1.
    #[error(transparent)]
    Resource(#[from] UnknownResource),
}

impl ChannelId {
    /// Builds a channel id; the session id must be a non-empty token (alphanumerics and `-._~+`).
    pub fn new(
        session_id: impl Into<String>,
        resource: ResourceType,
    ) -> Result<Self, ChannelIdError> {
        let session_id = session_id.into();
        if !is_session_token(&session_id) {
            return Err(ChannelIdError::BadSessionId(session_id));
        }
        Ok(Self {
            session_id,
            resource,
        })
    }

    /// The session part, before the `@`.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The resource part, after the `@`.
    pub fn resource(&self) -> ResourceType {
        self.resource
    }
}

fn is_session_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'!' | b'%')
        })
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.session_id, self.resource)
    }
}

impl FromStr for ChannelId {
    type Err = ChannelIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (session, resource) = s
            .rsplit_once('@')
            .ok_or_else(|| ChannelIdError::MissingAt(s.to_owned()))?;
        ChannelId::new(session, resource.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_unimrcp_ids() {
        let id: ChannelId = "6e2d0ee0cae04b1f@speechrecog".parse().unwrap();
        assert_eq!(id.session_id(), "6e2d0ee0cae04b1f");
        assert_eq!(id.resource(), ResourceType::Speechrecog);
        assert_eq!(id.to_string(), "6e2d0ee0cae04b1f@speechrecog");
    }

    #[test]
    fn rejects_malformed_ids() {
        assert!(matches!(
            "abc".parse::<ChannelId>(),
            Err(ChannelIdError::MissingAt(_))
        ));
        assert!(matches!(
            "@speechrecog".parse::<ChannelId>(),
            Err(ChannelIdError::BadSessionId(_))
        ));
        assert!(matches!(
            "a b@speechrecog".parse::<ChannelId>(),
            Err(ChannelIdError::BadSessionId(_))
        ));
        assert!(matches!(
            "abc@tts".parse::<ChannelId>(),
            Err(ChannelIdError::Resource(_))
        ));
    }
}
