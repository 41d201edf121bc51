//! Text ↔ [`MrcpSdp`]: RFC 4566 syntax through sdp-rs, MRCP attributes (RFC 6787 §4.2, RFC 4145) by hand.
//!
//! sdp-rs 0.2 tokenizes the line structure and parses `o=`, `c=`, `m=` and the common attributes well; its line
//! types print well. Where it falls short, this module works by hand:
//! * it silently drops everything after the first line it cannot place (the session tokenizer returns the rest
//!   and `SessionDescription::try_from` discards it), so we call the tokenizer ourselves and reject leftovers;
//! * it needs every line, the last included, to end with a newline, and cannot read an `m=` line without a format
//!   token (Cisco UCCX sends `m=application 9 TCP/MRCPv2`, reference §12 problem 9), so lines are normalized first;
//! * `r=` and `z=` go through chrono durations that panic on large numbers, and MRCP never uses them, so they are
//!   refused before sdp-rs sees them;
//! * it spells the inactive attribute `inacive`, prints `a=rtpmap` with channels wrongly and `a=ptime` as a float,
//!   so those attributes are read and written here;
//! * its `SessionDescription` needs the `vec1` crate to build, so printing writes the lines in RFC 4566 §5 order
//!   from sdp-rs's line types instead.

use std::fmt;
use std::net::IpAddr;

use sdp_rs::lines::{self, common::Addrtype, common::Nettype, media::MediaType};

use crate::mrcp::ResourceType;

use super::codec::Codec;
use super::error::SdpError;
use super::model::{
    Attribute, AudioMedia, ControlMedia, ControlTransport, Direction, Media, MrcpSdp, Origin,
    OtherMedia,
};

/// Largest SDP body accepted, in bytes. UniMRCP offers are about 420 bytes; a SIP body over UDP must fit a
/// datagram anyway.
pub const MAX_SDP_LEN: usize = 16 * 1024;

/// Most m-lines accepted in one body.
pub const MAX_MEDIA: usize = 64;

impl MrcpSdp {
    /// Parses an SDP body (offer or answer). Accepts CRLF or LF line ends, a missing final newline, trailing
    /// blank lines and a control line without its format token.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        if text.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge {
                len: text.len(),
                limit: MAX_SDP_LEN,
            });
        }
        let (normalized, line_numbers) = normalize(text)?;
        let (rest, tokens) =
            sdp_rs::tokenizers::session_description::Tokenizer::tokenize(&normalized)
                .map_err(|e| SdpError::malformed(sdp_rs::Error::from(e).to_string()))?;
        if !rest.is_empty() {
            let left = rest.lines().count();
            let idx = line_numbers.len().saturating_sub(left);
            let line_number = line_numbers.get(idx).copied().unwrap_or(0);
            let line = rest.lines().next().unwrap_or_default();
            return Err(SdpError::UnexpectedLine {
                line_number,
                line: line.chars().take(80).collect(),
            });
        }
        let session = sdp_rs::SessionDescription::try_from(tokens)
            .map_err(|e| SdpError::malformed(e.to_string()))?;
        from_session(session)
    }
}

/// Splits into lines, drops blank ones, refuses `r=`/`z=`, adds the missing control format token, and rejoins
/// with CRLF after every line. Returns the 1-based source line number of every kept line.
fn normalize(text: &str) -> Result<(String, Vec<usize>), SdpError> {
    let mut out = String::with_capacity(text.len() + 8);
    let mut numbers = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_end_matches(['\r', ' ', '\t']);
        if line.is_empty() {
            continue;
        }
        let bytes = line.as_bytes();
        let well_formed = bytes.len() >= 2
            && bytes.get(1) == Some(&b'=')
            && bytes.first().is_some_and(|b| b.is_ascii_lowercase())
            && !line.contains('\r');
        // RFC 4566 §9: att-field is a token; sdp-rs would take any text before the first ':'.
        let bad_attribute = line.strip_prefix("a=").is_some_and(|rest| {
            let name = rest.split_once(':').map_or(rest, |(n, _)| n);
            name.is_empty() || !name.bytes().all(is_token_byte)
        });
        if !well_formed || bad_attribute || matches!(bytes.first(), Some(b'r' | b'z')) {
            return Err(SdpError::UnexpectedLine {
                line_number: i + 1,
                line: line.chars().take(80).collect(),
            });
        }
        out.push_str(line);
        if line.starts_with("m=application ") && line.split(' ').count() == 3 {
            out.push_str(" 1");
        }
        out.push_str("\r\n");
        numbers.push(i + 1);
    }
    Ok((out, numbers))
}

fn from_session(s: sdp_rs::SessionDescription) -> Result<MrcpSdp, SdpError> {
    if s.media_descriptions.len() > MAX_MEDIA {
        return Err(SdpError::malformed(format!(
            "{} m-lines exceed limit {MAX_MEDIA}",
            s.media_descriptions.len()
        )));
    }
    let parse_u64 = |what: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| SdpError::malformed(format!("o= {what} {v:?} is not a number")))
    };
    let origin = Origin {
        username: s.origin.username.clone(),
        session_id: parse_u64("session id", &s.origin.sess_id)?,
        session_version: parse_u64("session version", &s.origin.sess_version)?,
        address: s.origin.unicast_address,
    };
    let connection = s.connection.as_ref().map(connection_address).transpose()?;
    let attributes = s.attributes.iter().map(untyped).collect();
    let media = s
        .media_descriptions
        .into_iter()
        .enumerate()
        .map(|(i, m)| media_from(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MrcpSdp {
        origin,
        session_name: s.session_name.value().to_owned(),
        connection,
        attributes,
        media,
    })
}

fn connection_address(c: &lines::Connection) -> Result<IpAddr, SdpError> {
    if c.nettype != Nettype::In {
        return Err(SdpError::malformed(format!(
            "c= network type {} is not IN",
            c.nettype
        )));
    }
    Ok(c.connection_address.base)
}

/// Any sdp-rs attribute back to name and value, through its own printer (`a=name:value`).
fn untyped(a: &lines::Attribute) -> Attribute {
    match a {
        lines::Attribute::Other(name, value) => {
            return Attribute {
                name: name.clone(),
                value: value.clone(),
            };
        }
        // sdp-rs prints the channel count after a space; write RFC 4566 syntax.
        lines::Attribute::Rtpmap(map) => {
            let params = map
                .encoding_params
                .map(|p| format!("/{p}"))
                .unwrap_or_default();
            return Attribute {
                name: "rtpmap".to_owned(),
                value: Some(format!(
                    "{} {}/{}{params}",
                    map.payload_type, map.encoding_name, map.clock_rate
                )),
            };
        }
        _ => {}
    }
    let text = a.to_string();
    let body = text.strip_prefix("a=").unwrap_or(&text);
    match body.split_once(':') {
        Some((n, v)) => Attribute {
            name: n.to_owned(),
            value: Some(v.to_owned()),
        },
        None => Attribute {
            name: body.to_owned(),
            value: None,
        },
    }
}

fn media_from(index: usize, m: sdp_rs::MediaDescription) -> Result<Media, SdpError> {
    let connection = match m.connections.first() {
        Some(c) => Some(connection_address(c)?),
        None => None,
    };
    let proto = m.media.proto.to_string();
    match (&m.media.media, ControlTransport::from_proto(&proto)) {
        (MediaType::Application, Some(transport)) => control_from(
            index,
            m.media.port,
            transport,
            m.media.fmt,
            connection,
            &m.attributes,
        )
        .map(Media::Control),
        (MediaType::Audio, _) => audio_from(
            index,
            m.media.port,
            proto,
            &m.media.fmt,
            connection,
            &m.attributes,
        )
        .map(Media::Audio),
        _ => Ok(Media::Other(OtherMedia {
            media: m.media.media.to_string(),
            port: m.media.port,
            proto,
            fmt: m.media.fmt,
            connection,
            attributes: m.attributes.iter().map(untyped).collect(),
        })),
    }
}

fn bad(index: usize, a: &Attribute) -> SdpError {
    SdpError::BadAttribute {
        index,
        name: a.name.clone(),
        value: a.value.clone().unwrap_or_default(),
    }
}

fn control_from(
    index: usize,
    port: u16,
    transport: ControlTransport,
    fmt: String,
    connection: Option<IpAddr>,
    attrs: &[lines::Attribute],
) -> Result<ControlMedia, SdpError> {
    let mut c = ControlMedia::new(port, transport);
    c.fmt = fmt;
    c.connection = connection;
    for a in attrs.iter().map(untyped) {
        let value = a.value.as_deref().unwrap_or_default().trim();
        match a.name.to_ascii_lowercase().as_str() {
            "setup" => c.setup = Some(value.parse().map_err(|_| bad(index, &a))?),
            "connection" => c.connection_mode = Some(value.parse().map_err(|_| bad(index, &a))?),
            "resource" => {
                c.resource =
                    Some(
                        value
                            .parse::<ResourceType>()
                            .map_err(|_| SdpError::UnknownResource {
                                index,
                                resource: value.to_owned(),
                            })?,
                    )
            }
            "channel" => {
                c.channel = Some(value.parse().map_err(|_| SdpError::BadChannel {
                    index,
                    value: value.to_owned(),
                })?)
            }
            "cmid" if !value.is_empty() => c.cmid = Some(value.to_owned()),
            _ => c.attributes.push(a),
        }
    }
    Ok(c)
}

fn payload_type(index: usize, token: &str) -> Result<u8, SdpError> {
    token
        .parse::<u8>()
        .ok()
        .filter(|pt| *pt <= 127)
        .ok_or_else(|| SdpError::BadPayloadType {
            index,
            value: token.chars().take(16).collect(),
        })
}

fn audio_from(
    index: usize,
    port: u16,
    proto: String,
    fmt: &str,
    connection: Option<IpAddr>,
    attrs: &[lines::Attribute],
) -> Result<AudioMedia, SdpError> {
    let mut codecs = fmt
        .split_ascii_whitespace()
        .map(|t| {
            payload_type(index, t).map(|pt| Codec::from_static(pt).unwrap_or(Codec::unnamed(pt)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if codecs.is_empty() {
        return Err(SdpError::malformed(format!(
            "m-line {index} has no payload format"
        )));
    }
    // RFC 4566 §5.14 lists each format once; a repeat would make rtpmap/fmtp ambiguous.
    if let Some((_, dup)) = codecs.iter().enumerate().find(|(i, c)| {
        codecs
            .iter()
            .take(*i)
            .any(|p| p.payload_type == c.payload_type)
    }) {
        return Err(SdpError::BadPayloadType {
            index,
            value: dup.payload_type.to_string(),
        });
    }
    let mut audio = AudioMedia::new(port, Vec::new());
    audio.proto = proto;
    audio.connection = connection;
    for attr in attrs {
        match attr {
            lines::Attribute::Rtpmap(map) => {
                let pt = u8::try_from(map.payload_type).ok().filter(|pt| *pt <= 127);
                let rate = u32::try_from(map.clock_rate).ok().filter(|r| *r > 0);
                let channels = match map.encoding_params {
                    None => Some(1),
                    Some(n) => u8::try_from(n).ok().filter(|n| *n > 0),
                };
                // RFC 4566 §6: encoding name is a token; an empty one would read back as the static default.
                let name_ok = !map.encoding_name.is_empty()
                    && !map
                        .encoding_name
                        .contains(|c: char| c.is_whitespace() || c.is_control());
                let (Some(pt), Some(rate), Some(channels), true) = (pt, rate, channels, name_ok)
                else {
                    return Err(bad(index, &untyped(attr)));
                };
                match codecs.iter_mut().find(|c| c.payload_type == pt) {
                    Some(codec) => {
                        codec.encoding_name = map.encoding_name.clone();
                        codec.clock_rate = rate;
                        codec.channels = channels;
                    }
                    None => audio.attributes.push(untyped(attr)),
                }
            }
            lines::Attribute::Ptime(ms) => {
                if !(ms.is_finite() && *ms >= 1.0 && *ms <= 10_000.0) {
                    return Err(bad(index, &untyped(attr)));
                }
                // Range checked above, so the conversion cannot truncate.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let ms = ms.round() as u32;
                audio.ptime = Some(ms);
            }
            lines::Attribute::Sendrecv => audio.direction = Some(Direction::Sendrecv),
            lines::Attribute::Sendonly => audio.direction = Some(Direction::Sendonly),
            lines::Attribute::Recvonly => audio.direction = Some(Direction::Recvonly),
            lines::Attribute::Inactive => audio.direction = Some(Direction::Inactive),
            other => {
                let a = untyped(other);
                let value = a.value.as_deref().unwrap_or_default();
                match a.name.as_str() {
                    "inactive" if a.value.is_none() => audio.direction = Some(Direction::Inactive),
                    "mid" if !value.trim().is_empty() => audio.mid = Some(value.trim().to_owned()),
                    "fmtp" => {
                        let (pt, params) = value.split_once(' ').unwrap_or((value, ""));
                        let pt = payload_type(index, pt)?;
                        match codecs.iter_mut().find(|c| c.payload_type == pt) {
                            Some(codec) => codec.fmtp = Some(params.trim().to_owned()),
                            None => audio.attributes.push(a),
                        }
                    }
                    _ => audio.attributes.push(a),
                }
            }
        }
    }
    audio.codecs = std::mem::take(&mut codecs);
    Ok(audio)
}

fn write_line(f: &mut fmt::Formatter<'_>, line: impl fmt::Display) -> fmt::Result {
    write!(f, "{line}\r\n")
}

fn addrtype(addr: IpAddr) -> Addrtype {
    match addr {
        IpAddr::V4(_) => Addrtype::Ip4,
        IpAddr::V6(_) => Addrtype::Ip6,
    }
}

fn connection_line(addr: IpAddr) -> lines::Connection {
    lines::Connection {
        nettype: Nettype::In,
        addrtype: addrtype(addr),
        connection_address: addr.into(),
    }
}

fn attr_line(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    value: Option<&dyn fmt::Display>,
) -> fmt::Result {
    match value {
        Some(v) => write!(f, "a={name}:{v}\r\n"),
        None => write!(f, "a={name}\r\n"),
    }
}

fn extra_lines(f: &mut fmt::Formatter<'_>, attrs: &[Attribute]) -> fmt::Result {
    for a in attrs {
        attr_line(f, &a.name, a.value.as_ref().map(|v| v as &dyn fmt::Display))?;
    }
    Ok(())
}

fn m_line(media: MediaType, port: u16, proto: &str, fmt: String) -> lines::Media {
    lines::Media {
        media,
        port,
        num_of_ports: None,
        proto: proto.into(),
        fmt,
    }
}

impl fmt::Display for MrcpSdp {
    /// Prints in RFC 4566 §5 order with CRLF line ends, attributes in UniMRCP's order (reference §5.3 and the
    /// captured 200 OK bodies).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_line(f, lines::Version::V0)?;
        write_line(
            f,
            lines::Origin {
                username: self.origin.username.clone(),
                sess_id: self.origin.session_id.to_string(),
                sess_version: self.origin.session_version.to_string(),
                nettype: Nettype::In,
                addrtype: addrtype(self.origin.address),
                unicast_address: self.origin.address,
            },
        )?;
        let name = if self.session_name.is_empty() {
            "-"
        } else {
            &self.session_name
        };
        write!(f, "s={name}\r\n")?;
        if let Some(addr) = self.connection {
            write_line(f, connection_line(addr))?;
        }
        write_line(f, lines::Active { start: 0, stop: 0 })?;
        extra_lines(f, &self.attributes)?;
        for media in &self.media {
            match media {
                Media::Control(c) => write_control(f, c)?,
                Media::Audio(a) => write_audio(f, a)?,
                Media::Other(o) => {
                    let m = m_line(o.media.as_str().into(), o.port, &o.proto, o.fmt.clone());
                    write!(f, "m={m}\r\n")?;
                    if let Some(addr) = o.connection {
                        write_line(f, connection_line(addr))?;
                    }
                    extra_lines(f, &o.attributes)?;
                }
            }
        }
        Ok(())
    }
}

fn write_control(f: &mut fmt::Formatter<'_>, c: &ControlMedia) -> fmt::Result {
    let fmt_token = if c.fmt.is_empty() {
        "1".to_owned()
    } else {
        c.fmt.clone()
    };
    let m = m_line(
        MediaType::Application,
        c.port,
        c.transport.as_str(),
        fmt_token,
    );
    write!(f, "m={m}\r\n")?;
    if let Some(addr) = c.connection {
        write_line(f, connection_line(addr))?;
    }
    if let Some(setup) = c.setup {
        attr_line(f, "setup", Some(&setup))?;
    }
    if let Some(mode) = c.connection_mode {
        attr_line(f, "connection", Some(&mode))?;
    }
    if let Some(resource) = c.resource {
        attr_line(f, "resource", Some(&resource))?;
    }
    if let Some(channel) = &c.channel {
        attr_line(f, "channel", Some(channel))?;
    }
    if let Some(cmid) = &c.cmid {
        attr_line(f, "cmid", Some(cmid))?;
    }
    extra_lines(f, &c.attributes)
}

fn write_audio(f: &mut fmt::Formatter<'_>, a: &AudioMedia) -> fmt::Result {
    let fmt_list = a
        .codecs
        .iter()
        .map(|c| c.payload_type.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let m = m_line(MediaType::Audio, a.port, &a.proto, fmt_list);
    write!(f, "m={m}\r\n")?;
    if let Some(addr) = a.connection {
        write_line(f, connection_line(addr))?;
    }
    for codec in &a.codecs {
        if codec.is_named() {
            attr_line(f, "rtpmap", Some(&codec.rtpmap_value()))?;
        }
        if let Some(fmtp) = &codec.fmtp {
            write!(f, "a=fmtp:{} {fmtp}\r\n", codec.payload_type)?;
        }
    }
    extra_lines(f, &a.attributes)?;
    if let Some(direction) = a.direction {
        attr_line(f, direction.as_str(), None)?;
    }
    if let Some(ptime) = a.ptime {
        attr_line(f, "ptime", Some(&ptime))?;
    }
    if let Some(mid) = &a.mid {
        attr_line(f, "mid", Some(mid))?;
    }
    Ok(())
}

/// RFC 4566 §9 `token-char`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b)
}
