//! The client side of RFC 6787 §4.2: offers exactly as UniMRCP (inside FreeSWITCH's `mod_unimrcp` and Asterisk's
//! modules) writes them (reference §5.3), and reading the server's answer as UniMRCP does (reference §5.4).

use std::net::{IpAddr, SocketAddr};

use crate::mrcp::{ChannelId, ResourceType};

use super::codec::Codec;
use super::error::SdpError;
use super::model::{
    AudioMedia, ConnectionMode, ControlMedia, ControlTransport, Direction, Media, MrcpSdp, Origin,
    Setup,
};

/// Whose offers to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientProfile {
    /// The UniMRCP samples (`umc`, `unimrcpclient`) with the default client profile, as captured:
    /// PCMU PCMA G722 L16/96 telephone-event/101, ptime 20, `o=UniMRCPClient`.
    UniMrcp,
    /// FreeSWITCH `mod_unimrcp` with the vanilla profile: PCMU PCMA L16/96, no ptime, `o=FreeSWITCH`.
    FreeSwitch,
    /// Asterisk `app_unimrcp`/`res_speech_unimrcp` sample profiles: PCMU PCMA G722 L16/96 telephone-event/101,
    /// ptime 20.
    Asterisk,
}

impl ClientProfile {
    /// The `o=` user name this client writes.
    pub const fn origin_username(self) -> &'static str {
        match self {
            ClientProfile::UniMrcp => "UniMRCPClient",
            ClientProfile::FreeSwitch => "FreeSWITCH",
            ClientProfile::Asterisk => "UniMRCPClient",
        }
    }

    /// The codec list of the profile's default configuration, in offer order.
    pub fn codecs(self) -> Vec<Codec> {
        match self {
            ClientProfile::FreeSwitch => vec![Codec::pcmu(), Codec::pcma(), Codec::l16(96, 8000)],
            ClientProfile::UniMrcp | ClientProfile::Asterisk => vec![
                Codec::pcmu(),
                Codec::pcma(),
                Codec::g722(),
                Codec::l16(96, 8000),
                Codec::telephone_event(101, 8000),
            ],
        }
    }

    /// The configured `ptime`, if the profile writes one.
    pub const fn ptime(self) -> Option<u32> {
        match self {
            ClientProfile::FreeSwitch => None,
            ClientProfile::UniMrcp | ClientProfile::Asterisk => Some(20),
        }
    }
}

/// The direction a UniMRCP client offers for a resource: it sends audio to recognizers, verifiers and recorders
/// and receives it from synthesizers (`mrcp_client_channel_add`).
pub const fn offer_direction(resource: ResourceType) -> Direction {
    match resource {
        ResourceType::Speechsynth | ResourceType::Basicsynth => Direction::Recvonly,
        _ => Direction::Sendonly,
    }
}

/// One channel to ask for in an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOffer {
    /// The resource.
    pub resource: ResourceType,
    /// `a=connection`: `new` unless an existing connection to the server should be reused.
    pub connection_mode: ConnectionMode,
    /// Local RTP port for this channel's audio; 0 removes the channel (re-offer).
    pub rtp_port: u16,
}

/// Everything an offer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferConfig {
    /// Whose wire format to reproduce.
    pub profile: ClientProfile,
    /// `o=` session id (Sofia writes a random 63-bit number).
    pub session_id: u64,
    /// `o=` session version (random at first, incremented by re-offers).
    pub session_version: u64,
    /// `o=` address (UniMRCP writes the SIP address here).
    pub origin_address: IpAddr,
    /// Session `c=`: the local RTP address.
    pub rtp_address: IpAddr,
    /// Codecs in offer order (the profile's list by default).
    pub codecs: Vec<Codec>,
    /// `a=ptime`.
    pub ptime: Option<u32>,
    /// `TCP/MRCPv2`, or `TCP/TLS/MRCPv2` for a control connection over TLS (RFC 6787 §4.2).
    pub control_transport: ControlTransport,
}

impl OfferConfig {
    /// The profile's defaults with one address for `o=` and `c=`.
    pub fn new(
        profile: ClientProfile,
        address: IpAddr,
        session_id: u64,
        session_version: u64,
    ) -> Self {
        Self {
            profile,
            session_id,
            session_version,
            origin_address: address,
            rtp_address: address,
            codecs: profile.codecs(),
            ptime: profile.ptime(),
            control_transport: ControlTransport::Tcp,
        }
    }
}

/// Builds a client offer: for each channel `m=application 9 TCP/MRCPv2 1` (or `TCP/TLS/MRCPv2` as configured;
/// `a=setup:active`, `a=connection`,
/// `a=resource`, `a=cmid:<n>`) followed by its `m=audio` (rtpmap for every format, fmtp for telephone-event,
/// direction by resource, ptime, `a=mid:<n>`), n counting from 1 (reference §5.3, §5.5).
///
/// A channel with `rtp_port` 0 is written as UniMRCP removes a channel: `m=application 0 TCP/MRCPv2 1` with only
/// `a=resource` and `a=cmid`, then `m=audio 0 RTP/AVP 19` with only `a=mid` (captured re-INVITE).
pub fn build_offer(config: &OfferConfig, channels: &[ChannelOffer]) -> MrcpSdp {
    let mut media = Vec::with_capacity(channels.len() * 2);
    for (n, ch) in channels.iter().enumerate() {
        let id = (n + 1).to_string();
        let removed = ch.rtp_port == 0;
        let mut control = ControlMedia::new(if removed { 0 } else { 9 }, config.control_transport);
        if !removed {
            control.setup = Some(Setup::Active);
            control.connection_mode = Some(ch.connection_mode);
        }
        control.resource = Some(ch.resource);
        control.cmid = Some(id.clone());
        media.push(Media::Control(control));
        let mut audio = if removed {
            AudioMedia::new(0, vec![Codec::unnamed(19)])
        } else {
            let mut a = AudioMedia::new(ch.rtp_port, config.codecs.clone());
            a.direction = Some(offer_direction(ch.resource));
            a.ptime = config.ptime;
            a
        };
        audio.mid = Some(id);
        media.push(Media::Audio(audio));
    }
    MrcpSdp {
        origin: Origin {
            username: config.profile.origin_username().to_owned(),
            session_id: config.session_id,
            session_version: config.session_version,
            address: config.origin_address,
        },
        session_name: "-".to_owned(),
        connection: Some(config.rtp_address),
        attributes: Vec::new(),
        media,
    }
}

/// What the client learns about one channel from the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedChannel {
    /// The channel id from `a=channel`; `None` when the server rejected the line (port 0).
    pub channel_id: Option<ChannelId>,
    /// Where to connect for MRCP (media `c=` or session `c=`, and the m-line port); `None` when rejected.
    pub mrcp: Option<SocketAddr>,
    /// `TCP/MRCPv2` or `TCP/TLS/MRCPv2` as answered.
    pub transport: ControlTransport,
    /// The answered `a=connection` (`new` when absent).
    pub connection_mode: ConnectionMode,
    /// The audio stream of this channel, if media were negotiated.
    pub audio: Option<NegotiatedAudio>,
}

/// The RTP stream agreed for a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    /// Where to send RTP.
    pub remote: SocketAddr,
    /// The codec: the first of the answer that matches one offered, with the answer's payload type.
    pub codec: Codec,
    /// telephone-event when both sides have it.
    pub telephone_event: Option<Codec>,
    /// The answered direction (`None` = sendrecv).
    pub direction: Option<Direction>,
    /// The answered ptime.
    pub ptime: Option<u32>,
}

/// Reads an answer to `offer` as UniMRCP does (reference §5.4): control and audio lines are matched by position
/// among their kind; a control line with port 0 is a rejected channel; the codec is the first answered one that
/// matches an offered one (static by number, dynamic by name/rate/channels, adopting the answer's number); an
/// audio line with no match or port 0 gives no audio.
pub fn read_answer(offer: &MrcpSdp, answer: &MrcpSdp) -> Result<Vec<NegotiatedChannel>, SdpError> {
    let offered_controls = offer.controls().count();
    let answered: Vec<_> = answer.controls().collect();
    if answered.len() != offered_controls {
        return Err(SdpError::MediaCountMismatch {
            offer: offered_controls,
            answer: answered.len(),
        });
    }
    let offered_audio: Vec<_> = offer.audios().map(|(_, a)| a).collect();
    let answered_audio: Vec<_> = answer.audios().collect();
    let mut out = Vec::with_capacity(answered.len());
    for (n, (index, control)) in answered.into_iter().enumerate() {
        let (channel_id, mrcp) = if control.port == 0 {
            (None, None)
        } else {
            let channel = control
                .channel
                .clone()
                .ok_or(SdpError::MissingChannel { index })?;
            let address = answer
                .media_address(index)
                .ok_or(SdpError::NoConnectionAddress { index })?;
            (Some(channel), Some(SocketAddr::new(address, control.port)))
        };
        let audio = match (answered_audio.get(n), offered_audio.get(n)) {
            (Some((a_index, answered)), Some(offered)) if answered.port != 0 => {
                negotiate(answer, *a_index, answered, offered)?
            }
            _ => None,
        };
        out.push(NegotiatedChannel {
            channel_id,
            mrcp,
            transport: control.transport,
            connection_mode: control.connection_mode.unwrap_or(ConnectionMode::New),
            audio,
        });
    }
    Ok(out)
}

fn matches_offered(answered: &Codec, offered: &Codec) -> bool {
    if answered.payload_type < 96 && offered.payload_type < 96 {
        answered.payload_type == offered.payload_type
    } else {
        answered.same_encoding(offered)
    }
}

fn negotiate(
    answer: &MrcpSdp,
    index: usize,
    answered: &AudioMedia,
    offered: &AudioMedia,
) -> Result<Option<NegotiatedAudio>, SdpError> {
    let Some(codec) = answered
        .codecs
        .iter()
        .find(|a| !a.is_telephone_event() && offered.codecs.iter().any(|o| matches_offered(a, o)))
    else {
        return Ok(None);
    };
    let telephone_event = answered
        .codecs
        .iter()
        .find(|a| a.is_telephone_event() && offered.codecs.iter().any(|o| a.same_encoding(o)))
        .cloned();
    let address = answer
        .media_address(index)
        .ok_or(SdpError::NoConnectionAddress { index })?;
    Ok(Some(NegotiatedAudio {
        remote: SocketAddr::new(address, answered.port),
        codec: codec.clone(),
        telephone_event,
        direction: answered.direction,
        ptime: answered.ptime,
    }))
}
