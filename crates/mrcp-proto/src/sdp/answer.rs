//! The server's answer to an MRCPv2 offer (RFC 6787 §4.2, RFC 3264 §6, RFC 4145 §4–§5), shaped like UniMRCP's
//! server answers (captured 200 OK bodies; reference §2 and §12).
//!
//! ```text
//! let offer = MrcpSdp::parse(body)?;                       // SdpError → SIP 488
//! let mut builder = AnswerBuilder::new(&offer, config)?;   // checks resources, transports, codecs
//! for ch in builder.channels() { builder.accept_control(ch.index, channel_id, None)?; }
//! for au in builder.audio() { builder.accept_audio(au.index, rtp_port)?; }
//! let answer: MrcpSdp = builder.build();                  // answer.to_string() is the 200 OK body
//! ```

use std::net::{IpAddr, SocketAddr};

use crate::mrcp::{ChannelId, ResourceType};

use super::codec::{Codec, CodecPreferences};
use super::error::SdpError;
use super::model::{
    Attribute, AudioMedia, ConnectionMode, ControlMedia, ControlTransport, Direction, Media,
    MrcpSdp, Origin, OtherMedia, Setup,
};

/// What the server puts in every answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerConfig {
    /// `o=` user name (UniMRCP writes `UniMRCPServer`).
    pub origin_username: String,
    /// `o=` session id; keep it for the dialog so re-INVITE answers match (reference §5.5).
    pub session_id: u64,
    /// `o=` session version.
    pub session_version: u64,
    /// Advertised address for `o=` and the session `c=` (the external address behind NAT, reference §12
    /// problem 16).
    pub address: IpAddr,
    /// Address of the MRCP listener when it differs from `address` (written as a media-level `c=`).
    pub mrcp_address: Option<IpAddr>,
    /// Address of RTP when it differs from `address` (written as a media-level `c=`).
    pub rtp_address: Option<IpAddr>,
    /// The MRCP listener port (UniMRCP default 1544).
    pub mrcp_port: u16,
    /// Whether `TCP/TLS/MRCPv2` offers can be served; TLS answers carry the same proto.
    pub tls: bool,
    /// The MRCP-over-TLS listener port written on accepted `TCP/TLS/MRCPv2` lines; `mrcp_port` when `None`.
    pub mrcp_tls_port: Option<u16>,
    /// The `a=fingerprint` value of our TLS certificate (RFC 4572 §5, e.g. `SHA-256 4A:AD:…`), written on
    /// accepted `TCP/TLS/MRCPv2` lines.
    pub fingerprint: Option<String>,
    /// Resources this server runs; others are refused with [`SdpError::UnknownResource`].
    pub resources: Vec<ResourceType>,
    /// Codecs and telephone-event policy.
    pub codecs: CodecPreferences,
    /// `a=ptime` to write when the offer has none (UniMRCP default 20 ms); an offered ptime is echoed.
    pub ptime: Option<u32>,
}

impl AnswerConfig {
    /// Defaults of a UniMRCP-compatible server at `address`: MRCP port 1544, no TLS, every resource of RFC 6787
    /// §3.1, default codecs, ptime 20.
    pub fn new(address: IpAddr, session_id: u64) -> Self {
        Self {
            origin_username: "open-mrcp".to_owned(),
            session_id,
            session_version: session_id,
            address,
            mrcp_address: None,
            rtp_address: None,
            mrcp_port: 1544,
            tls: false,
            mrcp_tls_port: None,
            fingerprint: None,
            resources: ResourceType::ALL.to_vec(),
            codecs: CodecPreferences::default(),
            ptime: Some(20),
        }
    }
}

/// A control line of the offer that asks for a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRequest {
    /// m-line position.
    pub index: usize,
    /// The requested resource.
    pub resource: ResourceType,
    /// `a=connection` of the offer (`new` when absent).
    pub connection_mode: ConnectionMode,
    /// `TCP/MRCPv2` or `TCP/TLS/MRCPv2`.
    pub transport: ControlTransport,
    /// The m-line position of the audio line this channel uses, if any.
    pub audio_index: Option<usize>,
}

/// An audio line of the offer and the codec chosen for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPlan {
    /// m-line position.
    pub index: usize,
    /// Where the client receives RTP (its address and port).
    pub remote: SocketAddr,
    /// The chosen codec, with the offer's payload type.
    pub codec: Codec,
    /// telephone-event at the offer's payload type, when offered and wanted.
    pub telephone_event: Option<Codec>,
    /// The direction the answer will carry (the offered one reversed; `None` when the offer had none).
    pub direction: Option<Direction>,
    /// The packet time the answer will carry.
    pub ptime: Option<u32>,
}

#[derive(Debug, Clone)]
enum Line {
    Control {
        request: ChannelRequest,
        accepted: Option<(ChannelId, ConnectionMode)>,
    },
    Audio {
        plan: AudioPlan,
        rtp_port: Option<u16>,
    },
    Rejected,
}

/// Builds the answer: validate the offer with [`AnswerBuilder::new`], decide each channel and audio line, then
/// [`AnswerBuilder::build`]. Lines left undecided are rejected with port 0.
#[derive(Debug, Clone)]
pub struct AnswerBuilder<'a> {
    offer: &'a MrcpSdp,
    config: AnswerConfig,
    lines: Vec<Line>,
}

impl<'a> AnswerBuilder<'a> {
    /// Checks that the offer can be served and plans every m-line.
    ///
    /// Fails (SIP 488) when the offer has no control line, a resource is missing or not served, a transport is
    /// not served, or an active audio line has no common codec or no address. Removed lines (port 0) and other
    /// media are planned as rejected, so a re-offer removing every channel gets an all-port-0 answer.
    pub fn new(offer: &'a MrcpSdp, config: AnswerConfig) -> Result<Self, SdpError> {
        let mut lines = Vec::with_capacity(offer.media.len());
        for (index, media) in offer.media.iter().enumerate() {
            let line = match media {
                Media::Control(c) if c.port != 0 => Self::plan_control(offer, &config, index, c)?,
                Media::Audio(a) if a.port != 0 => Self::plan_audio(offer, &config, index, a)?,
                _ => Line::Rejected,
            };
            lines.push(line);
        }
        // A re-offer whose control lines all have port 0 removes the channels (reference §5.5, captured
        // re-INVITE): it is answered with every line rejected, not refused.
        if !offer.media.iter().any(|m| matches!(m, Media::Control(_))) {
            // An MRCP-like line on a transport we do not know says more than "no control line".
            if let Some((index, o)) = offer.media.iter().enumerate().find_map(|(i, m)| match m {
                Media::Other(o)
                    if o.port != 0 && o.proto.to_ascii_lowercase().ends_with("mrcpv2") =>
                {
                    Some((i, o))
                }
                _ => None,
            }) {
                return Err(SdpError::UnsupportedTransport {
                    index,
                    proto: o.proto.clone(),
                });
            }
            return Err(SdpError::NoControlMedia);
        }
        Ok(Self {
            offer,
            config,
            lines,
        })
    }

    fn plan_control(
        offer: &MrcpSdp,
        config: &AnswerConfig,
        index: usize,
        c: &ControlMedia,
    ) -> Result<Line, SdpError> {
        if c.transport == ControlTransport::Tls && !config.tls {
            return Err(SdpError::UnsupportedTransport {
                index,
                proto: c.transport.as_str().to_owned(),
            });
        }
        let resource = c.resource.ok_or(SdpError::MissingResource { index })?;
        if !config.resources.contains(&resource) {
            return Err(SdpError::UnknownResource {
                index,
                resource: resource.to_string(),
            });
        }
        Ok(Line::Control {
            request: ChannelRequest {
                index,
                resource,
                connection_mode: c.connection_mode.unwrap_or(ConnectionMode::New),
                transport: c.transport,
                audio_index: offer.audio_for_control(index).map(|(i, _)| i),
            },
            accepted: None,
        })
    }

    fn plan_audio(
        offer: &MrcpSdp,
        config: &AnswerConfig,
        index: usize,
        a: &AudioMedia,
    ) -> Result<Line, SdpError> {
        if !a.proto.eq_ignore_ascii_case("RTP/AVP") {
            return Err(SdpError::UnsupportedTransport {
                index,
                proto: a.proto.clone(),
            });
        }
        let (codec, telephone_event) = config
            .codecs
            .choose(&a.codecs)
            .ok_or(SdpError::NoCommonCodec { index })?;
        let address = offer
            .media_address(index)
            .ok_or(SdpError::NoConnectionAddress { index })?;
        Ok(Line::Audio {
            plan: AudioPlan {
                index,
                remote: SocketAddr::new(address, a.port),
                codec,
                telephone_event,
                direction: a.direction.map(Direction::reversed),
                ptime: a.ptime.or(config.ptime),
            },
            rtp_port: None,
        })
    }

    /// The channels the offer asks for, in m-line order.
    pub fn channels(&self) -> Vec<ChannelRequest> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Control { request, .. } => Some(request.clone()),
                _ => None,
            })
            .collect()
    }

    /// The active audio lines and their chosen codecs, in m-line order.
    pub fn audio(&self) -> Vec<AudioPlan> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Audio { plan, .. } => Some(plan.clone()),
                _ => None,
            })
            .collect()
    }

    /// Accepts the channel at m-line `index` with its id; `connection` overrides the offered `a=connection`
    /// (answer `new` when no connection can be shared).
    pub fn accept_control(
        &mut self,
        index: usize,
        channel: ChannelId,
        connection: Option<ConnectionMode>,
    ) -> Result<(), SdpError> {
        match self.lines.get_mut(index) {
            Some(Line::Control { request, accepted }) => {
                *accepted = Some((channel, connection.unwrap_or(request.connection_mode)));
                Ok(())
            }
            _ => Err(SdpError::NotSuchMedia {
                index,
                expected: "control",
            }),
        }
    }

    /// Accepts the audio line at m-line `index`, receiving RTP on `rtp_port`.
    pub fn accept_audio(&mut self, index: usize, rtp_port: u16) -> Result<(), SdpError> {
        match self.lines.get_mut(index) {
            Some(Line::Audio { rtp_port: port, .. }) if rtp_port != 0 => {
                *port = Some(rtp_port);
                Ok(())
            }
            _ => Err(SdpError::NotSuchMedia {
                index,
                expected: "audio",
            }),
        }
    }

    /// Rejects the line at m-line `index` (port 0).
    pub fn reject(&mut self, index: usize) {
        if let Some(line) = self.lines.get_mut(index) {
            *line = Line::Rejected;
        }
    }

    /// The answer, one m-line per offered m-line in the same order (RFC 3264 §6).
    pub fn build(&self) -> MrcpSdp {
        let config = &self.config;
        let media = self
            .offer
            .media
            .iter()
            .zip(&self.lines)
            .map(|(offered, line)| match line {
                Line::Control {
                    accepted: Some((channel, mode)),
                    request,
                } => {
                    let port = match request.transport {
                        ControlTransport::Tls => config.mrcp_tls_port.unwrap_or(config.mrcp_port),
                        ControlTransport::Tcp => config.mrcp_port,
                    };
                    let mut c = ControlMedia::new(port, request.transport);
                    c.connection = config.mrcp_address.filter(|a| *a != config.address);
                    c.setup = Some(Setup::Passive);
                    c.connection_mode = Some(*mode);
                    c.channel = Some(channel.clone());
                    if let Media::Control(o) = offered {
                        c.cmid = o.cmid.clone();
                    }
                    if let (ControlTransport::Tls, Some(fp)) =
                        (request.transport, &config.fingerprint)
                    {
                        c.attributes.push(Attribute {
                            name: "fingerprint".to_owned(),
                            value: Some(fp.clone()),
                        });
                    }
                    Media::Control(c)
                }
                Line::Audio {
                    plan,
                    rtp_port: Some(port),
                } => {
                    let mut codecs = vec![plan.codec.clone()];
                    codecs.extend(plan.telephone_event.clone());
                    let mut a = AudioMedia::new(*port, codecs);
                    a.connection = config.rtp_address.filter(|r| *r != config.address);
                    a.direction = plan.direction;
                    a.ptime = plan.ptime;
                    if let Media::Audio(o) = offered {
                        a.mid = o.mid.clone();
                    }
                    Media::Audio(a)
                }
                _ => rejected(offered),
            })
            .collect();
        MrcpSdp {
            origin: Origin {
                username: config.origin_username.clone(),
                session_id: config.session_id,
                session_version: config.session_version,
                address: config.address,
            },
            session_name: "-".to_owned(),
            connection: Some(config.address),
            attributes: Vec::new(),
            media,
        }
    }
}

/// A port-0 copy of an offered line without attributes, as UniMRCP writes them (RFC 3264 §6: at least one format
/// is still listed).
fn rejected(offered: &Media) -> Media {
    match offered {
        Media::Control(o) => {
            let mut c = ControlMedia::new(0, o.transport);
            c.fmt = o.fmt.clone();
            Media::Control(c)
        }
        Media::Audio(o) => {
            let first = o.codecs.first().cloned().into_iter().collect();
            let mut a = AudioMedia::new(0, first);
            a.proto = o.proto.clone();
            Media::Audio(a)
        }
        Media::Other(o) => Media::Other(OtherMedia {
            media: o.media.clone(),
            port: 0,
            proto: o.proto.clone(),
            fmt: o.fmt.clone(),
            connection: None,
            attributes: Vec::new(),
        }),
    }
}
