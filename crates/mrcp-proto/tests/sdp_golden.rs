//! Golden tests: every SDP body of the UniMRCP 1.8 captures (`tests/data/unimrcp-wire-captures.txt`) parses and
//! re-prints byte for byte; our client offers equal UniMRCP's; our server answers equal UniMRCP's for the same
//! offers; the client reads UniMRCP's answers as UniMRCP does (RFC 6787 §4.2, reference §5.3, §5.4).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::net::IpAddr;

use mrcp_proto::mrcp::ChannelId;
use mrcp_proto::sdp::{
    AnswerBuilder, AnswerConfig, ChannelOffer, ClientProfile, Codec, ConnectionMode, Media,
    MrcpSdp, OfferConfig, build_offer, read_answer,
};

const CAPTURES: &str = include_str!("data/unimrcp-wire-captures.txt");

/// (frame number, SIP start line, SDP body) of every SIP message with an SDP body, in capture order.
fn sdp_bodies() -> Vec<(u32, String, String)> {
    let mut out = Vec::new();
    for chunk in CAPTURES.split("----- frame ").skip(1) {
        let number: u32 = chunk.split(' ').next().unwrap().parse().unwrap();
        let payload = chunk.split_once('\n').unwrap().1;
        let payload = payload.split("----- end -----").next().unwrap();
        if !payload.contains("Content-Type: application/sdp") {
            continue;
        }
        let (head, body) = payload.split_once("\r\n\r\n").unwrap();
        out.push((
            number,
            head.lines().next().unwrap().to_owned(),
            body.to_owned(),
        ));
    }
    out
}

/// Offer/answer pairs: an INVITE followed by its 200 OK.
fn exchanges() -> Vec<(u32, MrcpSdp, MrcpSdp)> {
    let bodies = sdp_bodies();
    bodies
        .windows(2)
        .filter(|w| w[0].1.starts_with("INVITE") && w[1].1.starts_with("SIP/2.0 200"))
        .map(|w| {
            (
                w[0].0,
                MrcpSdp::parse(&w[0].2).unwrap(),
                MrcpSdp::parse(&w[1].2).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_captured_sdp_parses_and_reprints_byte_for_byte() {
    let bodies = sdp_bodies();
    assert_eq!(
        bodies.len(),
        16,
        "8 offers and 8 answers in the capture file"
    );
    for (frame, _, body) in &bodies {
        let sdp = MrcpSdp::parse(body).unwrap_or_else(|e| panic!("frame {frame}: {e}"));
        assert_eq!(&sdp.to_string(), body, "frame {frame} re-prints unchanged");
        assert_eq!(
            MrcpSdp::parse(&sdp.to_string()).unwrap(),
            sdp,
            "frame {frame}"
        );
    }
}

#[test]
fn our_client_offer_equals_unimrcp_offer() {
    for (frame, offer, _) in exchanges() {
        let mut config = OfferConfig::new(
            ClientProfile::UniMrcp,
            offer.origin.address,
            offer.origin.session_id,
            offer.origin.session_version,
        );
        config.rtp_address = offer.connection.unwrap();
        let channels: Vec<ChannelOffer> = offer
            .controls()
            .map(|(i, c)| ChannelOffer {
                resource: c.resource.unwrap(),
                connection_mode: c.connection_mode.unwrap_or(ConnectionMode::New),
                rtp_port: offer.audio_for_control(i).unwrap().1.port,
            })
            .collect();
        let ours = build_offer(&config, &channels);
        assert_eq!(ours.to_string(), offer.to_string(), "frame {frame}");
    }
}

#[test]
fn our_server_answer_equals_unimrcp_answer() {
    let mut checked = 0;
    for (frame, offer, answer) in exchanges() {
        let mut config = AnswerConfig::new(answer.connection.unwrap(), answer.origin.session_id);
        config.origin_username = answer.origin.username.clone();
        config.session_version = answer.origin.session_version;
        let mut builder =
            AnswerBuilder::new(&offer, config).unwrap_or_else(|e| panic!("frame {frame}: {e}"));
        for (i, c) in answer.controls().filter(|(_, c)| c.port != 0) {
            let id: ChannelId = c.channel.clone().unwrap();
            builder.accept_control(i, id, c.connection_mode).unwrap();
        }
        for (i, a) in answer.audios().filter(|(_, a)| a.port != 0) {
            builder.accept_audio(i, a.port).unwrap();
        }
        let mut ours = builder.build();
        ours.origin.address = answer.origin.address; // UniMRCP's o= carries its SIP address
        // A re-INVITE removing the channel is answered with port 0 lines; UniMRCP writes the control format as
        // `19` (the audio line's), we keep the offered `1`.
        let expected = answer.to_string().replace("TCP/MRCPv2 19", "TCP/MRCPv2 1");
        assert_eq!(ours.to_string(), expected, "frame {frame}");
        checked += 1;
    }
    assert_eq!(checked, 8);
}

#[test]
fn client_reads_unimrcp_answers() {
    for (frame, offer, answer) in exchanges() {
        let channels =
            read_answer(&offer, &answer).unwrap_or_else(|e| panic!("frame {frame}: {e}"));
        assert_eq!(channels.len(), 1);
        let ch = &channels[0];
        match answer.media.first() {
            Some(Media::Control(c)) if c.port != 0 => {
                assert_eq!(ch.channel_id.as_ref(), c.channel.as_ref());
                assert_eq!(ch.mrcp, Some("127.0.0.1:1544".parse().unwrap()));
                let audio = ch.audio.as_ref().expect("audio negotiated");
                assert_eq!(audio.codec, Codec::pcmu());
                assert_eq!(
                    audio.telephone_event,
                    Some(Codec::telephone_event(101, 8000))
                );
                assert_eq!(audio.remote.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
            }
            _ => {
                assert_eq!(
                    (ch.channel_id.as_ref(), ch.mrcp, ch.audio.as_ref()),
                    (None, None, None)
                );
            }
        }
    }
}

#[test]
fn freeswitch_and_asterisk_offers_match_the_reference() {
    let fs = OfferConfig::new(
        ClientProfile::FreeSwitch,
        "192.168.88.74".parse().unwrap(),
        5772550679930491611,
        4608916746797952899,
    );
    let synth = build_offer(
        &fs,
        &[ChannelOffer {
            resource: mrcp_proto::mrcp::ResourceType::Speechsynth,
            connection_mode: ConnectionMode::New,
            rtp_port: 14238,
        }],
    );
    // reference §5.3, observed in clux/sdp-transform#90
    assert_eq!(
        synth.to_string(),
        "v=0\r\no=FreeSWITCH 5772550679930491611 4608916746797952899 IN IP4 192.168.88.74\r\ns=-\r\n\
c=IN IP4 192.168.88.74\r\nt=0 0\r\nm=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\n\
a=resource:speechsynth\r\na=cmid:1\r\nm=audio 14238 RTP/AVP 0 8 96\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:96 L16/8000\r\na=recvonly\r\na=mid:1\r\n"
    );
    let mut ast = OfferConfig::new(ClientProfile::Asterisk, "10.0.0.1".parse().unwrap(), 1, 1);
    ast.codecs = vec![
        Codec::pcmu(),
        Codec::pcma(),
        Codec::l16(96, 8000),
        Codec::telephone_event(101, 8000),
    ];
    let recog = build_offer(
        &ast,
        &[ChannelOffer {
            resource: mrcp_proto::mrcp::ResourceType::Speechrecog,
            connection_mode: ConnectionMode::New,
            rtp_port: 10000,
        }],
    )
    .to_string();
    // reference §5.3, observed in unispeech/asterisk-unimrcp#46
    assert!(recog.contains(
        "m=audio 10000 RTP/AVP 0 8 96 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:96 L16/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendonly\r\na=ptime:20\r\n\
a=mid:1\r\n"
    ));
}
