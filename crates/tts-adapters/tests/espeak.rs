//! The espeak-ng engine with the real espeak-ng (Debian package `espeak-ng`).

mod common;

use common::{DEADLINE, audio, collect, engine, longest_silence, rms, seconds};
use mrcp_proto::ssml::{self, Gender, ProsodyLabel, ProsodyValue, VoiceSelection};
use tts_adapters::espeak::{EspeakConfig, FRAME_SAMPLES, SAMPLE_RATE};
use tts_adapters::{SynthesisEvent, SynthesisFailure, SynthesisRequest, Synthesizer, failure_of};

const SENTENCE: &str = "Welcome to open MRCP. Please say the name of the department you want.";

#[tokio::test]
async fn capabilities_list_languages_and_voices() {
    let engine = engine(EspeakConfig::default()).await;
    let caps = engine.capabilities();
    assert_eq!(caps.sample_rate, SAMPLE_RATE);
    assert!(caps.reports_marks && !caps.takes_lexicons);
    for lang in ["en-us", "en-gb", "fr-fr", "de", "es"] {
        assert!(
            caps.languages.iter().any(|l| l == lang),
            "{lang} missing from {:?}",
            caps.languages
        );
    }
    assert!(caps.voices.iter().any(|v| v.name == "female3"));
}

#[tokio::test]
async fn text_becomes_speech_of_plausible_length() {
    let engine = engine(EspeakConfig::default()).await;
    let events = collect(engine.start(SynthesisRequest::text(SENTENCE)).unwrap())
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .all(|e| matches!(e, SynthesisEvent::Audio(a) if a.len() <= FRAME_SAMPLES))
    );
    let pcm = audio(&events);
    let secs = seconds(pcm.len());
    // 13 words at 175 words per minute, plus espeak-ng's pauses: about four seconds.
    assert!((2.5..9.0).contains(&secs), "{secs} s of audio");
    assert!(rms(&pcm) > 500.0, "rms {} is near silence", rms(&pcm));
}

#[tokio::test]
async fn ssml_break_is_silence_and_prosody_changes_length() {
    let engine = engine(EspeakConfig::default()).await;
    let doc = ssml::parse(
        r#"<speak version="1.0" xml:lang="en-US">Press one. <break time="1200ms"/> Press two.</speak>"#,
    )
    .unwrap();
    let pcm = audio(
        &collect(engine.start(SynthesisRequest::ssml(doc)).unwrap())
            .await
            .unwrap(),
    );
    let silence = seconds(longest_silence(&pcm));
    assert!(
        silence >= 1.2,
        "longest silence {silence} s, expected the 1.2 s break"
    );
    assert!(rms(&pcm) > 300.0);

    let mut slow = SynthesisRequest::text(SENTENCE);
    slow.rate = Some(ProsodyValue::Label(ProsodyLabel::XSlow));
    let slow = audio(&collect(engine.start(slow).unwrap()).await.unwrap());
    let normal = audio(
        &collect(engine.start(SynthesisRequest::text(SENTENCE)).unwrap())
            .await
            .unwrap(),
    );
    assert!(
        slow.len() as f64 > normal.len() as f64 * 1.4,
        "x-slow {} vs {}",
        slow.len(),
        normal.len()
    );

    let mut silent = SynthesisRequest::text("Nothing to hear.");
    silent.volume = Some(ProsodyValue::Label(ProsodyLabel::Silent));
    let silent = audio(&collect(engine.start(silent).unwrap()).await.unwrap());
    assert!(!silent.is_empty() && rms(&silent) < 1.0);
}

#[tokio::test]
async fn marks_arrive_in_order_between_audio() {
    let engine = engine(EspeakConfig::default()).await;
    let doc = ssml::parse(
        r#"<speak>Your balance is <mark name="amount"/> forty two dollars. <mark name="end"/></speak>"#,
    )
    .unwrap();
    let events = collect(engine.start(SynthesisRequest::ssml(doc)).unwrap())
        .await
        .unwrap();
    let shape: Vec<&str> = events
        .iter()
        .map(|e| match e {
            SynthesisEvent::Audio(_) => "audio",
            SynthesisEvent::Mark(m) => m.as_str(),
            SynthesisEvent::Done => "done",
        })
        .fold(Vec::new(), |mut acc, s| {
            if acc.last() != Some(&s) {
                acc.push(s);
            }
            acc
        });
    assert_eq!(shape, ["audio", "amount", "audio", "end"]);
}

#[tokio::test]
async fn voices_gender_and_languages_select_espeak_voices() {
    let engine = engine(EspeakConfig::default()).await;
    let mut female = SynthesisRequest::text("Hello there.");
    female.voice = VoiceSelection {
        gender: Some(Gender::Female),
        ..VoiceSelection::default()
    };
    let female = audio(&collect(engine.start(female).unwrap()).await.unwrap());
    let male = audio(
        &collect(
            engine
                .start(SynthesisRequest::text("Hello there."))
                .unwrap(),
        )
        .await
        .unwrap(),
    );
    assert!(rms(&female) > 300.0);
    assert_ne!(female, male, "Voice-Gender female changed nothing");

    let mut french = SynthesisRequest::text("Bonjour, comment allez-vous ?");
    french.language = Some("fr-FR".to_owned());
    assert!(
        rms(&audio(
            &collect(engine.start(french).unwrap()).await.unwrap()
        )) > 300.0
    );
    let mut named = SynthesisRequest::text("Hello.");
    named.voice.name = Some("Alicia".to_owned());
    assert!(
        rms(&audio(
            &collect(engine.start(named).unwrap()).await.unwrap()
        )) > 300.0
    );
}

#[tokio::test]
async fn unknown_language_and_voice_fail_cleanly() {
    let engine = engine(EspeakConfig::default()).await;
    let mut klingon = SynthesisRequest::text("Qapla'");
    klingon.language = Some("tlh-XX".to_owned());
    let err = engine.start(klingon).unwrap_err();
    assert_eq!(
        failure_of(&err),
        SynthesisFailure::LanguageUnsupported,
        "{err}"
    );
    assert!(err.to_string().contains("tlh-XX"), "{err}");

    let doc = ssml::parse(r#"<speak>fine <lang xml:lang="zz-ZZ">not fine</lang></speak>"#).unwrap();
    let err = engine.start(SynthesisRequest::ssml(doc)).unwrap_err();
    assert_eq!(failure_of(&err), SynthesisFailure::LanguageUnsupported);

    let mut joanna = SynthesisRequest::text("Hi.");
    joanna.voice.name = Some("Joanna".to_owned());
    let err = engine.start(joanna).unwrap_err();
    assert_eq!(failure_of(&err), SynthesisFailure::LanguageUnsupported);
    assert!(err.to_string().contains("Joanna"), "{err}");

    let mut lexicon = SynthesisRequest::text("Hi.");
    lexicon.lexicons.push("<lexicon/>".to_owned());
    assert_eq!(
        failure_of(&engine.start(lexicon).unwrap_err()),
        SynthesisFailure::LexiconLoadFailure
    );

    // The engine stays usable.
    assert!(
        !audio(
            &collect(engine.start(SynthesisRequest::text("Still here.")).unwrap())
                .await
                .unwrap()
        )
        .is_empty()
    );

    let lenient = common::engine(EspeakConfig {
        strict_voice_names: false,
        ..EspeakConfig::default()
    })
    .await;
    let mut joanna = SynthesisRequest::text("Hi.");
    joanna.voice.name = Some("Joanna".to_owned());
    assert!(!audio(&collect(lenient.start(joanna).unwrap()).await.unwrap()).is_empty());
}

#[tokio::test]
async fn concurrent_prompts_all_complete() {
    let engine = engine(EspeakConfig {
        max_concurrent: 2,
        ..EspeakConfig::default()
    })
    .await;
    let streams: Vec<_> = (0..6)
        .map(|i| {
            engine
                .start(SynthesisRequest::text(format!(
                    "Caller number {i}, please hold."
                )))
                .unwrap()
        })
        .collect();
    let results = tokio::time::timeout(DEADLINE, async {
        let mut handles = Vec::new();
        for s in streams {
            handles.push(tokio::spawn(collect(s)));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("collector task"));
        }
        out
    })
    .await
    .expect("six concurrent prompts did not finish in time");
    for r in results {
        let pcm = audio(&r.unwrap());
        assert!(seconds(pcm.len()) > 1.0 && rms(&pcm) > 300.0);
    }
    tokio::time::timeout(DEADLINE, engine.idle())
        .await
        .expect("espeak-ng processes did not all end");
}

#[tokio::test]
async fn audio_streams_before_the_prompt_is_synthesized() {
    // With one second of read-ahead, a two-minute prompt can only start quickly if audio streams.
    let engine = engine(EspeakConfig {
        max_buffered: std::time::Duration::from_secs(1),
        ..EspeakConfig::default()
    })
    .await;
    let long = SENTENCE.repeat(30);
    let mut stream = engine.start(SynthesisRequest::text(long)).unwrap();
    let first = tokio::time::timeout(DEADLINE, stream.next_event())
        .await
        .expect("first frame of a long prompt")
        .expect("stream open")
        .expect("no error");
    assert!(matches!(first, SynthesisEvent::Audio(_)));
    drop(stream);
    tokio::time::timeout(DEADLINE, engine.idle())
        .await
        .expect("the cancelled espeak-ng did not end");
}
