//! Property tests: print → parse is the identity for generated SDP bodies, for answers built by
//! `AnswerBuilder` from generated offers and decisions, and for client offers (RFC 6787 §4.2, RFC 3264 §6).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mrcp_proto::mrcp::{ChannelId, ResourceType};
use mrcp_proto::sdp::{
    AnswerBuilder, AnswerConfig, Attribute, AudioMedia, ChannelOffer, ClientProfile, Codec,
    ConnectionMode, ControlMedia, ControlTransport, Direction, Media, MrcpSdp, OfferConfig, Origin,
    OtherMedia, Setup, build_offer, read_answer,
};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u16; 8]>().prop_map(|s| IpAddr::V6(Ipv6Addr::from(s))),
    ]
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._~+-]{0,11}"
}

fn resource() -> impl Strategy<Value = ResourceType> {
    select(ResourceType::ALL.to_vec())
}

fn channel_id() -> impl Strategy<Value = ChannelId> {
    ("[0-9a-f]{8,16}", resource()).prop_map(|(s, r)| ChannelId::new(s, r).unwrap())
}

/// Extra attributes; the `x-` prefix keeps clear of names sdp-rs or this crate interpret.
fn extras() -> impl Strategy<Value = Vec<Attribute>> {
    vec(
        ("x-[a-z0-9-]{1,8}", of("[!-~]([ -~]{0,10}[!-~])?"))
            .prop_map(|(name, value)| Attribute { name, value }),
        0..3,
    )
}

fn control() -> impl Strategy<Value = ControlMedia> {
    (
        any::<u16>(),
        select(vec![ControlTransport::Tcp, ControlTransport::Tls]),
        "[0-9]{1,2}",
        of(ip()),
        of(select(vec![
            Setup::Active,
            Setup::Passive,
            Setup::Actpass,
            Setup::Holdconn,
        ])),
        of(select(vec![ConnectionMode::New, ConnectionMode::Existing])),
        of(resource()),
        of(channel_id()),
        of(token()),
        extras(),
    )
        .prop_map(
            |(
                port,
                transport,
                fmt,
                connection,
                setup,
                mode,
                resource,
                channel,
                cmid,
                attributes,
            )| {
                ControlMedia {
                    port,
                    transport,
                    fmt,
                    connection,
                    setup,
                    connection_mode: mode,
                    resource,
                    channel,
                    cmid,
                    attributes,
                }
            },
        )
}

fn codec_for(pt: u8) -> BoxedStrategy<Codec> {
    if let Some(c) = Codec::from_static(pt) {
        return Just(c).boxed();
    }
    if pt < 96 {
        return Just(Codec {
            payload_type: pt,
            encoding_name: String::new(),
            clock_rate: 0,
            channels: 1,
            fmtp: None,
        })
        .boxed();
    }
    (
        "[A-Za-z][A-Za-z0-9-]{0,11}",
        1u32..200_000,
        1u8..8,
        of("[!-~]([ -~]{0,10}[!-~])?"),
    )
        .prop_map(move |(name, rate, channels, fmtp)| Codec {
            payload_type: pt,
            encoding_name: name,
            clock_rate: rate,
            channels,
            fmtp,
        })
        .boxed()
}

fn codecs() -> impl Strategy<Value = Vec<Codec>> {
    proptest::sample::subsequence((0u8..=127).collect::<Vec<_>>(), 1..6)
        .prop_shuffle()
        .prop_flat_map(|pts| pts.into_iter().map(codec_for).collect::<Vec<_>>())
}

fn direction() -> impl Strategy<Value = Direction> {
    select(vec![
        Direction::Sendrecv,
        Direction::Sendonly,
        Direction::Recvonly,
        Direction::Inactive,
    ])
}

fn audio() -> impl Strategy<Value = AudioMedia> {
    (
        any::<u16>(),
        of(ip()),
        codecs(),
        of(direction()),
        of(1u32..1000),
        of(token()),
        extras(),
    )
        .prop_map(
            |(port, connection, codecs, direction, ptime, mid, attributes)| AudioMedia {
                port,
                proto: "RTP/AVP".into(),
                connection,
                codecs,
                direction,
                ptime,
                mid,
                attributes,
            },
        )
}

fn other() -> impl Strategy<Value = OtherMedia> {
    (
        select(vec!["video", "text", "message", "image"]),
        any::<u16>(),
        select(vec!["RTP/AVP", "udp", "TCP/BFCP"]),
        "[0-9]{1,3}( [0-9]{1,3}){0,2}",
        of(ip()),
        extras(),
    )
        .prop_map(
            |(media, port, proto, fmt, connection, attributes)| OtherMedia {
                media: media.into(),
                port,
                proto: proto.into(),
                fmt,
                connection,
                attributes,
            },
        )
}

fn sdp() -> impl Strategy<Value = MrcpSdp> {
    (
        (token(), any::<u64>(), any::<u64>(), ip()),
        prop_oneof![Just("-".to_owned()), token()],
        of(ip()),
        extras(),
        vec(
            prop_oneof![
                control().prop_map(Media::Control),
                audio().prop_map(Media::Audio),
                other().prop_map(Media::Other)
            ],
            0..6,
        ),
    )
        .prop_map(
            |(
                (username, session_id, session_version, address),
                session_name,
                connection,
                attributes,
                media,
            )| {
                MrcpSdp {
                    origin: Origin {
                        username,
                        session_id,
                        session_version,
                        address,
                    },
                    session_name,
                    connection,
                    attributes,
                    media,
                }
            },
        )
}

proptest! {
    #[test]
    fn any_sdp_round_trips(sdp in sdp()) {
        let text = sdp.to_string();
        prop_assert_eq!(MrcpSdp::parse(&text), Ok(sdp), "{}", text);
    }

    #[test]
    fn built_answers_round_trip(
        resources in vec((resource(), select(vec![ConnectionMode::New, ConnectionMode::Existing]), 1u16..), 1..4),
        profile in select(vec![ClientProfile::UniMrcp, ClientProfile::FreeSwitch, ClientProfile::Asterisk]),
        addr in ip(),
        ids in (any::<u64>(), any::<u64>()),
        answer_addr in ip(),
        accept in vec(any::<bool>(), 8),
        session in "[0-9a-f]{16}",
        ports in (1u16.., 1u16..),
    ) {
        let channels: Vec<ChannelOffer> = resources
            .into_iter()
            .map(|(resource, connection_mode, rtp_port)| ChannelOffer { resource, connection_mode, rtp_port })
            .collect();
        let offer = build_offer(&OfferConfig::new(profile, addr, ids.0, ids.1), &channels);
        prop_assert_eq!(MrcpSdp::parse(&offer.to_string()), Ok(offer.clone()));

        let mut builder = AnswerBuilder::new(&offer, AnswerConfig::new(answer_addr, ids.1)).unwrap();
        for (n, ch) in builder.channels().into_iter().enumerate() {
            if accept[n * 2] {
                builder.accept_control(ch.index, ChannelId::new(session.clone(), ch.resource).unwrap(), None).unwrap();
            }
        }
        for (n, plan) in builder.audio().into_iter().enumerate() {
            prop_assert_eq!(plan.direction, offer.media[plan.index].clone().into_audio().direction.map(Direction::reversed));
            if accept[n * 2 + 1] {
                builder.accept_audio(plan.index, ports.1).unwrap();
            }
        }
        let answer = builder.build();
        prop_assert_eq!(answer.media.len(), offer.media.len());
        let text = answer.to_string();
        prop_assert_eq!(MrcpSdp::parse(&text), Ok(answer.clone()), "{}", text);
        let negotiated = read_answer(&offer, &answer).unwrap();
        prop_assert_eq!(negotiated.len(), channels.len());
        for (n, ch) in negotiated.iter().enumerate() {
            prop_assert_eq!(ch.channel_id.is_some(), accept[n * 2]);
            prop_assert_eq!(ch.audio.is_some(), accept[n * 2 + 1]);
        }
        let _ = ports.0;
    }
}

trait IntoAudio {
    fn into_audio(self) -> AudioMedia;
}

impl IntoAudio for Media {
    fn into_audio(self) -> AudioMedia {
        match self {
            Media::Audio(a) => a,
            other => panic!("not audio: {other:?}"),
        }
    }
}
