//! Unit tests of the SDP model, parser, printer and builders.

use std::net::IpAddr;

use super::*;
use crate::mrcp::{ChannelId, ResourceType};

const OFFER: &str = "v=0\r\n\
o=UniMRCPClient 2288954239186794662 7725088628145697828 IN IP4 192.0.2.2\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=application 9 TCP/MRCPv2 1\r\n\
a=setup:active\r\n\
a=connection:new\r\n\
a=resource:speechrecog\r\n\
a=cmid:1\r\n\
m=audio 4002 RTP/AVP 0 8 9 96 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:96 L16/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendonly\r\n\
a=ptime:20\r\n\
a=mid:1\r\n";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn parses_unimrcp_offer() {
    let sdp = MrcpSdp::parse(OFFER).unwrap();
    assert_eq!(sdp.origin.username, "UniMRCPClient");
    assert_eq!(sdp.origin.session_id, 2288954239186794662);
    assert_eq!(sdp.origin.address, ip("192.0.2.2"));
    assert_eq!(sdp.connection, Some(ip("127.0.0.1")));
    let (i, c) = sdp.controls().next().unwrap();
    assert_eq!(i, 0);
    assert_eq!(c.port, 9);
    assert_eq!(c.transport, ControlTransport::Tcp);
    assert_eq!(c.setup, Some(Setup::Active));
    assert_eq!(c.connection_mode, Some(ConnectionMode::New));
    assert_eq!(c.resource, Some(ResourceType::Speechrecog));
    assert_eq!(c.cmid.as_deref(), Some("1"));
    let (i, a) = sdp.audios().next().unwrap();
    assert_eq!(i, 1);
    assert_eq!(a.port, 4002);
    assert_eq!(a.codecs.len(), 5);
    assert_eq!(a.codecs[4], Codec::telephone_event(101, 8000));
    assert_eq!(a.direction, Some(Direction::Sendonly));
    assert_eq!(a.ptime, Some(20));
    assert_eq!(a.mid.as_deref(), Some("1"));
    assert_eq!(sdp.audio_for_control(0).map(|(i, _)| i), Some(1));
    assert_eq!(
        sdp.to_string(),
        OFFER,
        "the capture re-prints byte for byte"
    );
}

#[test]
fn answers_like_unimrcp_server() {
    let offer = MrcpSdp::parse(OFFER).unwrap();
    let mut config = AnswerConfig::new(ip("127.0.0.1"), 1012081917839847135);
    config.origin_username = "UniMRCPServer".into();
    config.session_version = 8240273542947068122;
    let mut b = AnswerBuilder::new(&offer, config).unwrap();
    let chans = b.channels();
    assert_eq!(chans.len(), 1);
    assert_eq!(chans[0].resource, ResourceType::Speechrecog);
    assert_eq!(chans[0].audio_index, Some(1));
    let audio = b.audio();
    assert_eq!(audio[0].codec, Codec::pcmu());
    assert_eq!(audio[0].remote, "127.0.0.1:4002".parse().unwrap());
    b.accept_control(0, "d3a3e355e6e74d5b@speechrecog".parse().unwrap(), None)
        .unwrap();
    b.accept_audio(1, 5002).unwrap();
    let text = b.build().to_string();
    let expected = "v=0\r\n\
o=UniMRCPServer 1012081917839847135 8240273542947068122 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=application 1544 TCP/MRCPv2 1\r\n\
a=setup:passive\r\n\
a=connection:new\r\n\
a=channel:d3a3e355e6e74d5b@speechrecog\r\n\
a=cmid:1\r\n\
m=audio 5002 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=recvonly\r\n\
a=ptime:20\r\n\
a=mid:1\r\n";
    assert_eq!(text, expected);
}

#[test]
fn rejects_what_cannot_be_served() {
    let cfg = || AnswerConfig::new(ip("10.0.0.2"), 1);
    let no_control =
        MrcpSdp::parse(&OFFER.replace("m=application 9 TCP/MRCPv2 1", "m=video 9 RTP/AVP 31"))
            .unwrap();
    let err = AnswerBuilder::new(&no_control, cfg()).unwrap_err();
    assert_eq!(err, SdpError::NoControlMedia);
    assert_eq!((err.sip_status(), err.sip_warning_code()), (488, 304));

    let tls = MrcpSdp::parse(&OFFER.replace("TCP/MRCPv2", "TCP/TLS/MRCPv2")).unwrap();
    let err = AnswerBuilder::new(&tls, cfg()).unwrap_err();
    assert!(matches!(
        err,
        SdpError::UnsupportedTransport { index: 0, .. }
    ));
    let mut with_tls = cfg();
    with_tls.tls = true;
    with_tls.fingerprint = Some("SHA-256 4A:AD:B9".into());
    let mut b = AnswerBuilder::new(&tls, with_tls).unwrap();
    b.accept_control(0, "ab12@speechrecog".parse().unwrap(), None)
        .unwrap();
    let text = b.build().to_string();
    assert!(text.contains("m=application 1544 TCP/TLS/MRCPv2 1\r\n"));
    assert!(text.contains("a=cmid:1\r\na=fingerprint:SHA-256 4A:AD:B9\r\n"));
    // A TLS listener of its own: TLS lines name its port.
    let mut own_port = AnswerConfig::new(ip("10.0.0.2"), 1);
    own_port.tls = true;
    own_port.mrcp_tls_port = Some(1545);
    let mut b = AnswerBuilder::new(&tls, own_port).unwrap();
    b.accept_control(0, "ab12@speechrecog".parse().unwrap(), None)
        .unwrap();
    let text = b.build().to_string();
    assert!(
        text.contains("m=application 1545 TCP/TLS/MRCPv2 1\r\n"),
        "{text}"
    );

    let udp = MrcpSdp::parse(&OFFER.replace("TCP/MRCPv2", "UDP/MRCPv2")).unwrap();
    assert!(matches!(
        AnswerBuilder::new(&udp, cfg()),
        Err(SdpError::UnsupportedTransport { .. })
    ));

    let err = MrcpSdp::parse(&OFFER.replace("speechrecog", "speechrecognizer")).unwrap_err();
    assert!(matches!(err, SdpError::UnknownResource { index: 0, .. }));
    assert_eq!(err.sip_warning_code(), 306);

    let mut synth_only = cfg();
    synth_only.resources = vec![ResourceType::Speechsynth];
    let offer = MrcpSdp::parse(OFFER).unwrap();
    assert!(matches!(
        AnswerBuilder::new(&offer, synth_only),
        Err(SdpError::UnknownResource { .. })
    ));

    let g729 = MrcpSdp::parse(
        &OFFER
            .replace("0 8 9 96 101", "18")
            .replace("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:96 L16/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n", ""),
    )
    .unwrap();
    let err = AnswerBuilder::new(&g729, cfg()).unwrap_err();
    assert_eq!(err, SdpError::NoCommonCodec { index: 1 });
    assert_eq!(err.sip_warning_code(), 305);

    for bad in [
        "",
        "v=0\r\n",
        "hello",
        &OFFER.replace("t=0 0", "r=7d 1h 0 25h"),
        &OFFER.replace("a=ptime:20", "a=ptime:x"),
        &OFFER.replace("0 8 9 96 101", "0 8 300"),
        &OFFER.replace("a=setup:active", "a=setup:sideways"),
        &OFFER.replace("IN IP4 127.0.0.1", "IN IP4 not-an-ip"),
        &format!("{OFFER}x=junk\r\n"),
    ] {
        let err = MrcpSdp::parse(bad).unwrap_err();
        assert_eq!(err.sip_status(), 488, "{err}");
    }
    let huge = "a".repeat(MAX_SDP_LEN + 1);
    assert!(matches!(
        MrcpSdp::parse(&huge),
        Err(SdpError::TooLarge { .. })
    ));
}

#[test]
fn accepts_lenient_forms() {
    // LF only, no final newline, trailing blank lines, no fmt on the control line (Cisco UCCX), IPv6, media-level
    // c=, inactive, static payload types without rtpmap.
    let text = "v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nt=0 0\nm=application 9 TCP/MRCPv2\n\
c=IN IP6 2001:db8::2\na=setup:active\na=resource:speechsynth\nm=audio 4000 RTP/AVP 8 0\n\
c=IN IP6 2001:db8::3\na=inactive\n\n\n";
    let sdp = MrcpSdp::parse(text).unwrap();
    let (_, c) = sdp.controls().next().unwrap();
    assert_eq!(c.fmt, "1");
    assert_eq!(sdp.media_address(0), Some(ip("2001:db8::2")));
    let (_, a) = sdp.audios().next().unwrap();
    assert_eq!(a.codecs, vec![Codec::pcma(), Codec::pcmu()]);
    assert_eq!(a.direction, Some(Direction::Inactive));
    assert_eq!(sdp.media_address(1), Some(ip("2001:db8::3")));
    let printed = sdp.to_string();
    assert!(printed.contains("c=IN IP6 2001:db8::2\r\n"));
    assert_eq!(MrcpSdp::parse(&printed).unwrap(), sdp);
}

#[test]
fn removed_and_other_lines_are_rejected_in_place() {
    let offer = MrcpSdp::parse(&format!(
        "{OFFER}m=application 0 TCP/MRCPv2 1\r\na=resource:speechsynth\r\na=cmid:2\r\n\
m=audio 0 RTP/AVP 19\r\na=mid:2\r\nm=video 5000 RTP/AVP 31\r\n"
    ))
    .unwrap();
    let mut b = AnswerBuilder::new(&offer, AnswerConfig::new(ip("10.0.0.2"), 7)).unwrap();
    assert_eq!(b.channels().len(), 1);
    b.accept_control(
        0,
        ChannelId::new("abc", ResourceType::Speechrecog).unwrap(),
        None,
    )
    .unwrap();
    b.accept_audio(1, 5000).unwrap();
    assert!(b.accept_audio(3, 5002).is_err());
    let answer = b.build();
    let ports: Vec<u16> = answer.media.iter().map(Media::port).collect();
    assert_eq!(ports, vec![1544, 5000, 0, 0, 0]);
    let text = answer.to_string();
    assert!(text.ends_with(
        "m=application 0 TCP/MRCPv2 1\r\nm=audio 0 RTP/AVP 19\r\nm=video 0 RTP/AVP 31\r\n"
    ));
    assert_eq!(MrcpSdp::parse(&text).unwrap(), answer);
}

#[test]
fn client_offer_and_answer_reading() {
    let mut config = OfferConfig::new(
        ClientProfile::UniMrcp,
        ip("192.0.2.2"),
        2288954239186794662,
        7725088628145697828,
    );
    config.rtp_address = ip("127.0.0.1");
    let offer = build_offer(
        &config,
        &[ChannelOffer {
            resource: ResourceType::Speechrecog,
            connection_mode: ConnectionMode::New,
            rtp_port: 4002,
        }],
    );
    assert_eq!(offer.to_string(), OFFER);

    let answer = MrcpSdp::parse(
        "v=0\r\no=UniMRCPServer 1 2 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=application 1544 TCP/MRCPv2 1\r\na=setup:passive\r\na=connection:existing\r\n\
a=channel:d3a3e355e6e74d5b@speechrecog\r\na=cmid:1\r\nm=audio 5002 RTP/AVP 97 0 101\r\n\
a=rtpmap:97 l16/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=recvonly\r\na=mid:1\r\n",
    )
    .unwrap();
    let chans = read_answer(&offer, &answer).unwrap();
    let ch = &chans[0];
    assert_eq!(
        ch.channel_id.as_ref().unwrap().to_string(),
        "d3a3e355e6e74d5b@speechrecog"
    );
    assert_eq!(ch.mrcp, Some("127.0.0.1:1544".parse().unwrap()));
    assert_eq!(ch.connection_mode, ConnectionMode::Existing);
    let audio = ch.audio.as_ref().unwrap();
    assert_eq!(audio.remote, "127.0.0.1:5002".parse().unwrap());
    assert_eq!(
        audio.codec.payload_type, 97,
        "dynamic type adopted from the answer"
    );
    assert_eq!(
        audio.telephone_event.as_ref().map(|c| c.payload_type),
        Some(101)
    );
}

#[test]
fn client_tls_offer_is_answered_over_tls() {
    let mut config = OfferConfig::new(ClientProfile::UniMrcp, ip("192.0.2.2"), 1, 1);
    config.rtp_address = ip("127.0.0.1");
    config.control_transport = ControlTransport::Tls;
    let channel = ChannelOffer {
        resource: ResourceType::Speechrecog,
        connection_mode: ConnectionMode::New,
        rtp_port: 4002,
    };
    let offer = build_offer(&config, &[channel]);
    assert!(
        offer
            .to_string()
            .contains("m=application 9 TCP/TLS/MRCPv2 1\r\n")
    );
    let mut answer_config = AnswerConfig::new(ip("127.0.0.1"), 3);
    answer_config.tls = true;
    answer_config.mrcp_tls_port = Some(1545);
    let mut b = AnswerBuilder::new(&offer, answer_config).unwrap();
    b.accept_control(0, "ab12@speechrecog".parse().unwrap(), None)
        .unwrap();
    b.accept_audio(1, 5002).unwrap();
    let chans = read_answer(&offer, &b.build()).unwrap();
    assert_eq!(chans[0].transport, ControlTransport::Tls);
    assert_eq!(chans[0].mrcp, Some("127.0.0.1:1545".parse().unwrap()));
}

#[test]
fn client_removal_offer_matches_capture() {
    let mut config = OfferConfig::new(
        ClientProfile::UniMrcp,
        ip("192.0.2.2"),
        1333886565089900,
        6212258417052369538,
    );
    config.rtp_address = ip("127.0.0.1");
    let offer = build_offer(
        &config,
        &[ChannelOffer {
            resource: ResourceType::Speechrecog,
            connection_mode: ConnectionMode::New,
            rtp_port: 0,
        }],
    );
    assert_eq!(
        offer.to_string(),
        "v=0\r\no=UniMRCPClient 1333886565089900 6212258417052369538 IN IP4 192.0.2.2\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=application 0 TCP/MRCPv2 1\r\na=resource:speechrecog\r\na=cmid:1\r\n\
m=audio 0 RTP/AVP 19\r\na=mid:1\r\n"
    );
}

#[test]
fn removal_reoffer_is_answered_not_refused() {
    let offer = MrcpSdp::parse(
        "v=0\r\no=UniMRCPClient 1 3 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=application 0 TCP/MRCPv2 1\r\na=resource:speechsynth\r\na=cmid:1\r\nm=audio 0 RTP/AVP 19\r\na=mid:1\r\n",
    )
    .unwrap();
    let b = AnswerBuilder::new(&offer, AnswerConfig::new(ip("127.0.0.1"), 1)).unwrap();
    assert!(b.channels().is_empty() && b.audio().is_empty());
    let ports: Vec<u16> = b.build().media.iter().map(Media::port).collect();
    assert_eq!(ports, vec![0, 0]);
}
