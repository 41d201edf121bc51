//! Per-call costs of the session setup and result formats: parsing a UniMRCP offer and building the answer
//! (RFC 6787 §4.2), and writing and parsing a RECOGNITION-COMPLETE NLSML body (RFC 6787 §9.6).
//!
//! `cargo bench -p mrcp-proto --bench sdp_nlsml`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mrcp_proto::mrcp::ChannelId;
use mrcp_proto::nlsml::{Input, Interpretation, Nlsml, WriteOptions};
use mrcp_proto::sdp::{AnswerBuilder, AnswerConfig, MrcpSdp};
use serde_json::json;

const OFFER: &str = "v=0\r\no=UniMRCPClient 2288954239186794662 7725088628145697828 IN IP4 192.0.2.2\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\n\
a=resource:speechrecog\r\na=cmid:1\r\nm=audio 4002 RTP/AVP 0 8 9 96 101\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:96 L16/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\na=sendonly\r\na=ptime:20\r\na=mid:1\r\n";

fn sdp(c: &mut Criterion) {
    let mut g = c.benchmark_group("sdp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_offer_build_answer_print", |b| {
        let config = AnswerConfig::new("10.0.0.2".parse().unwrap(), 42);
        let id = ChannelId::new(
            "d3a3e355e6e74d5b",
            mrcp_proto::mrcp::ResourceType::Speechrecog,
        )
        .unwrap();
        b.iter(|| {
            let offer = MrcpSdp::parse(black_box(OFFER)).unwrap();
            let mut builder = AnswerBuilder::new(&offer, config.clone()).unwrap();
            builder.accept_control(0, id.clone(), None).unwrap();
            builder.accept_audio(1, 5002).unwrap();
            black_box(builder.build().to_string())
        })
    });
    g.finish();
}

fn nlsml(c: &mut Criterion) {
    let result = Nlsml::new(vec![
        Interpretation {
            grammar: Some("session:request1@form-level.store".into()),
            confidence: Some(0.97),
            instance: Some(json!({"city": "Boston", "state": "MA"})),
            input: Some(Input::speech("boston massachusetts")),
        },
        Interpretation {
            grammar: Some("session:request1@form-level.store".into()),
            confidence: Some(0.41),
            instance: Some(json!("austin")),
            input: Some(Input::speech("austin")),
        },
    ]);
    let xml = result.to_xml(&WriteOptions::default()).unwrap();
    let mut g = c.benchmark_group("nlsml");
    g.throughput(Throughput::Elements(1));
    g.bench_function("write_2best", |b| {
        b.iter(|| black_box(&result).to_xml(&WriteOptions::default()).unwrap())
    });
    g.bench_function("parse_2best", |b| {
        b.iter(|| Nlsml::parse(black_box(&xml)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, sdp, nlsml);
criterion_main!(benches);
