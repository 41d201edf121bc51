//! The typed SDP of an MRCPv2 session (RFC 6787 §4.2): control `m=application` lines, `m=audio` lines and the
//! session lines around them. Offers and answers share this model; [`super::answer`] and [`super::client`] build
//! and read them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::mrcp::{ChannelId, ResourceType};

use super::codec::Codec;

/// An SDP body of an MRCPv2 session, offer or answer. `Display` prints it with CRLF line ends; `parse` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrcpSdp {
    /// The `o=` line.
    pub origin: Origin,
    /// The `s=` line (`-` for UniMRCP).
    pub session_name: String,
    /// The session-level `c=` address; media without their own `c=` use it (RFC 4566 §5.7).
    pub connection: Option<IpAddr>,
    /// Session-level `a=` lines, kept in order.
    pub attributes: Vec<Attribute>,
    /// The media descriptions, in `m=` order; offer and answer match them by position (RFC 3264 §6).
    pub media: Vec<Media>,
}

/// The `o=` line (RFC 4566 §5.2). Session id and version are digits (Sofia writes random 63-bit numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `UniMRCPClient`, `UniMRCPServer`, `FreeSWITCH`, or `-`.
    pub username: String,
    /// Session id.
    pub session_id: u64,
    /// Session version; a re-offer increments it.
    pub session_version: u64,
    /// Unicast address of the originator.
    pub address: IpAddr,
}

/// One `a=` line that the model does not type: name and optional value, written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name (before the `:`).
    pub name: String,
    /// Attribute value (after the `:`), if any.
    pub value: Option<String>,
}

/// A media description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// `m=application <port> TCP/MRCPv2 1`: an MRCPv2 control channel (RFC 6787 §4.2).
    Control(ControlMedia),
    /// `m=audio <port> RTP/AVP <formats>`: the audio stream of one or more channels.
    Audio(AudioMedia),
    /// Anything else (video, other applications), kept so the answer can reject it by position.
    Other(OtherMedia),
}

impl Media {
    /// The `m=` port; 0 means the stream is removed or rejected (RFC 3264 §6, §8.2).
    pub fn port(&self) -> u16 {
        match self {
            Media::Control(c) => c.port,
            Media::Audio(a) => a.port,
            Media::Other(o) => o.port,
        }
    }
}

/// The transport protocol of a control line (RFC 6787 §4.2, §13.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlTransport {
    /// `TCP/MRCPv2`.
    Tcp,
    /// `TCP/TLS/MRCPv2` (RFC 6787 §4.2 with RFC 4572 fingerprints).
    Tls,
}

impl ControlTransport {
    /// The `m=` proto token.
    pub const fn as_str(self) -> &'static str {
        match self {
            ControlTransport::Tcp => "TCP/MRCPv2",
            ControlTransport::Tls => "TCP/TLS/MRCPv2",
        }
    }

    /// Recognizes the proto token case-insensitively (UniMRCP compares it that way).
    pub fn from_proto(proto: &str) -> Option<Self> {
        if proto.eq_ignore_ascii_case("TCP/MRCPv2") {
            Some(ControlTransport::Tcp)
        } else if proto.eq_ignore_ascii_case("TCP/TLS/MRCPv2") {
            Some(ControlTransport::Tls)
        } else {
            None
        }
    }
}

/// `a=setup` (RFC 4145 §4): which side opens the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `active`: this side connects (the MRCP client).
    Active,
    /// `passive`: this side listens (the MRCP server).
    Passive,
    /// `actpass`: either.
    Actpass,
    /// `holdconn`: no connection yet.
    Holdconn,
}

/// `a=connection` (RFC 4145 §5): open a new TCP connection or reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionMode {
    /// `new`.
    New,
    /// `existing`.
    Existing,
}

/// Media direction attribute (RFC 4566 §6, RFC 3264 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv` (also what an absent attribute means).
    Sendrecv,
    /// `sendonly`.
    Sendonly,
    /// `recvonly`.
    Recvonly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// The direction an answer gives to an offered one (RFC 3264 §6.1): sendonly ↔ recvonly.
    pub const fn reversed(self) -> Self {
        match self {
            Direction::Sendonly => Direction::Recvonly,
            Direction::Recvonly => Direction::Sendonly,
            d => d,
        }
    }
}

/// A value of `a=setup`, `a=connection` or a direction attribute that RFC 4145 / RFC 4566 do not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} value {token:?}")]
pub struct UnknownToken {
    /// `setup`, `connection` or `direction`.
    pub kind: &'static str,
    /// The value.
    pub token: String,
}

macro_rules! token_enum {
    ($ty:ident, $what:literal, $($variant:ident => $token:literal),+) => {
        impl $ty {
            /// The token as written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $token),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = UnknownToken;
            #[doc = concat!("Parses a ", $what, " token, case-insensitively.")]
            fn from_str(s: &str) -> Result<Self, UnknownToken> {
                $(if s.eq_ignore_ascii_case($token) { return Ok($ty::$variant); })+
                Err(UnknownToken { kind: $what, token: s.to_owned() })
            }
        }
    };
}

token_enum!(Setup, "setup", Active => "active", Passive => "passive", Actpass => "actpass", Holdconn => "holdconn");
token_enum!(ConnectionMode, "connection", New => "new", Existing => "existing");
token_enum!(Direction, "direction", Sendrecv => "sendrecv", Sendonly => "sendonly", Recvonly => "recvonly",
    Inactive => "inactive");

/// An `m=application` control line of RFC 6787 §4.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMedia {
    /// Port: 9 (discard) in a client offer, the server's MRCP port in an answer, 0 when removed or rejected.
    pub port: u16,
    /// `TCP/MRCPv2` or `TCP/TLS/MRCPv2`.
    pub transport: ControlTransport,
    /// The format token, `1` in practice. UniMRCP's server writes `19` on rejected lines and Cisco UCCX omits it;
    /// a missing token parses as `1`.
    pub fmt: String,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// `a=setup`.
    pub setup: Option<Setup>,
    /// `a=connection`.
    pub connection_mode: Option<ConnectionMode>,
    /// `a=resource` (offers).
    pub resource: Option<ResourceType>,
    /// `a=channel` (answers).
    pub channel: Option<ChannelId>,
    /// `a=cmid`: the `a=mid` of the audio line this channel uses (RFC 6787 §4.2, RFC 5888).
    pub cmid: Option<String>,
    /// Other attributes (for example `a=fingerprint` of RFC 4572), in order.
    pub attributes: Vec<Attribute>,
}

impl ControlMedia {
    /// A control line with the given port and transport, format `1` and no attributes.
    pub fn new(port: u16, transport: ControlTransport) -> Self {
        Self {
            port,
            transport,
            fmt: "1".to_owned(),
            connection: None,
            setup: None,
            connection_mode: None,
            resource: None,
            channel: None,
            cmid: None,
            attributes: Vec::new(),
        }
    }
}

/// An `m=audio` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioMedia {
    /// RTP port; 0 when removed or rejected.
    pub port: u16,
    /// The proto token, `RTP/AVP` in practice.
    pub proto: String,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Payload formats in `m=` order, each with its rtpmap and fmtp.
    pub codecs: Vec<Codec>,
    /// Direction attribute; `None` means sendrecv.
    pub direction: Option<Direction>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// `a=mid` (RFC 5888).
    pub mid: Option<String>,
    /// Other attributes, in order.
    pub attributes: Vec<Attribute>,
}

impl AudioMedia {
    /// An `RTP/AVP` audio line with the given port and formats, no attributes.
    pub fn new(port: u16, codecs: Vec<Codec>) -> Self {
        Self {
            port,
            proto: "RTP/AVP".to_owned(),
            connection: None,
            codecs,
            direction: None,
            ptime: None,
            mid: None,
            attributes: Vec::new(),
        }
    }
}

/// A media description this crate does not interpret (e.g. `m=video`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherMedia {
    /// Media type token (`video`, `application`, …).
    pub media: String,
    /// Port.
    pub port: u16,
    /// Proto token.
    pub proto: String,
    /// Format list as written.
    pub fmt: String,
    /// Media-level `c=`.
    pub connection: Option<IpAddr>,
    /// Attributes, in order.
    pub attributes: Vec<Attribute>,
}

impl MrcpSdp {
    /// Control lines with their position among all m-lines.
    pub fn controls(&self) -> impl Iterator<Item = (usize, &ControlMedia)> {
        self.media.iter().enumerate().filter_map(|(i, m)| match m {
            Media::Control(c) => Some((i, c)),
            _ => None,
        })
    }

    /// Audio lines with their position among all m-lines.
    pub fn audios(&self) -> impl Iterator<Item = (usize, &AudioMedia)> {
        self.media.iter().enumerate().filter_map(|(i, m)| match m {
            Media::Audio(a) => Some((i, a)),
            _ => None,
        })
    }

    /// The address a media line is reached at: its own `c=`, else the session `c=` (RFC 4566 §5.7).
    pub fn media_address(&self, index: usize) -> Option<IpAddr> {
        let own = match self.media.get(index)? {
            Media::Control(c) => c.connection,
            Media::Audio(a) => a.connection,
            Media::Other(o) => o.connection,
        };
        own.or(self.connection)
    }

    /// The audio line a control line uses: the one whose `a=mid` equals its `a=cmid`, else the audio line at the
    /// same position among audio lines (UniMRCP matches by position).
    pub fn audio_for_control(&self, index: usize) -> Option<(usize, &AudioMedia)> {
        let Some(Media::Control(control)) = self.media.get(index) else {
            return None;
        };
        if let Some(found) = control
            .cmid
            .as_deref()
            .and_then(|cmid| self.audios().find(|(_, a)| a.mid.as_deref() == Some(cmid)))
        {
            return Some(found);
        }
        let nth = self.controls().position(|(i, _)| i == index)?;
        self.audios().nth(nth)
    }
}
