use bytes::Bytes;
use mrcp_proto::mrcp::{ChannelId, Message, Method, RequestId};
use tts_adapters::SynthesisContent;

use super::*;

fn speak(content_type: &str, body: &str) -> Message {
    let channel: ChannelId = "32AECB23433801@speechsynth".parse().expect("channel id");
    let mut request = Message::request(Method::Speak, RequestId(1), &channel);
    let _ = request.headers.set_raw("Content-Type", content_type);
    request.body = Bytes::from(body.to_owned());
    request
}

fn ssml(inner: &str) -> String {
    format!(
        r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">{inner}</speak>"#
    )
}

fn wav(rate: u32, samples: usize) -> Fetched {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).expect("wav writer");
    for i in 0..samples {
        writer.write_sample((i % 100) as i16).expect("sample");
    }
    writer.finalize().expect("finalize");
    Fetched {
        uri: String::new(),
        content_type: Some("audio/wav".to_owned()),
        body: out.into_inner().into(),
        cache_control: None,
        expires: None,
        date: None,
    }
}

#[test]
fn absolute_and_based_audio_sources_are_fetched_relative_ones_left_to_the_engine() {
    let absolute = speak(
        "application/ssml+xml",
        &ssml(r#"<audio src="https://prompts.example.com/a.wav"/><audio src="welcome.wav"/>"#),
    );
    assert_eq!(
        uris_to_fetch(&absolute),
        vec!["https://prompts.example.com/a.wav".to_owned()]
    );
    let based = speak(
        "application/ssml+xml",
        r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US" xml:base="http://p.example.com/ivr/"><audio src="menu.wav"/></speak>"#,
    );
    assert_eq!(
        uris_to_fetch(&based),
        vec!["http://p.example.com/ivr/menu.wav".to_owned()]
    );
    assert!(uris_to_fetch(&speak("text/plain", "hello")).is_empty());
    assert_eq!(
        uris_to_fetch(&speak(
            "text/uri-list",
            "# prompts\r\nhttp://a/1.wav\r\nhttp://a/2.wav\r\n"
        )),
        vec!["http://a/1.wav".to_owned(), "http://a/2.wav".to_owned()]
    );
}

#[test]
fn a_fetched_recording_is_resampled_to_the_engine_rate() {
    let uri = "http://p.example.com/a.wav";
    let request = speak(
        "application/ssml+xml",
        &ssml(&format!(r#"<audio src="{uri}"/>"#)),
    );
    let fetched = FetchedPrompts::from([(uri.to_owned(), Ok(wav(8_000, 8_000)))]);
    let prepared = content(&request, &fetched).expect("content");
    let engine = prepared.for_engine(16_000).expect("resampled");
    let audio = engine.audio_for(uri).expect("audio for the src");
    // One second at 8 kHz is about 16,000 samples at 16 kHz (the resampler's edges aside).
    assert!(
        (15_500..=16_500).contains(&audio.samples.len()),
        "{}",
        audio.samples.len()
    );
}

#[test]
fn an_unreachable_recording_plays_its_fallback_or_fails_with_003() {
    let uri = "http://p.example.com/gone.wav";
    let failed = FetchedPrompts::from([(
        uri.to_owned(),
        Err(FetchError::Status {
            uri: uri.to_owned(),
            status: 404,
        }),
    )]);
    let with_fallback = speak(
        "application/ssml+xml",
        &ssml(&format!(r#"<audio src="{uri}">Sorry.</audio>"#)),
    );
    let spoken = content(&with_fallback, &failed).expect("fallback spoken");
    assert!(spoken.for_engine(8_000).expect("request").audio.is_empty());

    let bare = speak(
        "application/ssml+xml",
        &ssml(&format!(r#"<audio src="{uri}"/>"#)),
    );
    let failure = content(&bare, &failed).expect_err("no fallback");
    assert_eq!(failure.cause, SynthesizerCause::UriFailure);
    assert_eq!(failure.failed_uri.as_deref(), Some(uri));
    assert!(failure.reason.contains("404"), "{}", failure.reason);
}

#[test]
fn a_uri_list_plays_documents_and_recordings_in_order() {
    let list = speak("text/uri-list", "http://p/a.ssml\nhttp://p/b.wav\n");
    let mut document = wav(8_000, 10);
    document.content_type = Some("application/ssml+xml".to_owned());
    document.body = Bytes::from(ssml("Hello."));
    let fetched = FetchedPrompts::from([
        ("http://p/a.ssml".to_owned(), Ok(document)),
        ("http://p/b.wav".to_owned(), Ok(wav(8_000, 800))),
    ]);
    let prepared = content(&list, &fetched).expect("content");
    let SynthesisContent::Ssml(doc) = &prepared.request.content else {
        panic!("a uri-list becomes one SSML document");
    };
    assert_eq!(doc.children.len(), 2, "{doc:?}");
    assert!(matches!(&doc.children[1], Node::Audio(a) if a.src == "http://p/b.wav"));
    assert_eq!(prepared.for_engine(8_000).expect("request").audio.len(), 1);

    let not_audio = FetchedPrompts::from([
        ("http://p/a.ssml".to_owned(), Ok(wav(8_000, 10))),
        (
            "http://p/b.wav".to_owned(),
            Ok(Fetched {
                content_type: Some("audio/mpeg".to_owned()),
                body: Bytes::from_static(b"ID3"),
                ..wav(8_000, 0)
            }),
        ),
    ]);
    let failure = content(&list, &not_audio).expect_err("not a recording");
    assert_eq!(failure.cause, SynthesizerCause::UriFailure);
}

#[test]
fn malformed_bodies_are_parse_failures() {
    let failure = content(
        &speak("application/ssml+xml", "<speak>"),
        &FetchedPrompts::new(),
    )
    .expect_err("bad ssml");
    assert_eq!(failure.cause, SynthesizerCause::ParseFailure);
    let failure = content(&speak("audio/mpeg", "x"), &FetchedPrompts::new()).expect_err("bad type");
    assert_eq!(failure.cause, SynthesizerCause::ParseFailure);
}
