//! PocketSphinx on real speech: espeak-ng says a phrase, sox makes it 8 kHz telephone audio and back up to
//! 16 kHz (as the server's path does), and the engine must hear the phrase.
//!
//! Needs the Debian packages libpocketsphinx3, pocketsphinx-en-us, espeak-ng and sox; fails naming them when
//! they are missing.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use asr_adapters::pocketsphinx::{PocketSphinx, PocketSphinxConfig};
use asr_adapters::{
    CompiledGrammars, Constraint, EngineErrorKind, RecognitionRequest, Recognizer, RecognizerEvent,
};

/// Speech as 16 kHz mono PCM, having passed through 8 kHz like a phone call.
fn telephone_speech(text: &str) -> Vec<i16> {
    let dir = std::env::temp_dir().join(format!("asr-ps-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = text.chars().filter(char::is_ascii_alphanumeric).collect();
    let spoken = dir.join(format!("{name}.wav"));
    let phone = dir.join(format!("{name}-8k.wav"));
    let wide = dir.join(format!("{name}-16k.wav"));
    run(
        "espeak-ng",
        &["-s", "150", "-w", path(&spoken), text],
        "espeak-ng",
    );
    run(
        "sox",
        &[
            path(&spoken),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            path(&phone),
            "pad",
            "0.3",
            "0.5",
        ],
        "sox",
    );
    run("sox", &[path(&phone), "-r", "16000", path(&wide)], "sox");
    let reader = hound::WavReader::open(&wide).unwrap();
    reader.into_samples::<i16>().map(Result::unwrap).collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(program: &str, args: &[&str], package: &str) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install the Debian package {package}")
        });
    assert!(status.success(), "{program} {args:?} failed");
}

fn engine() -> PocketSphinx {
    let engine = PocketSphinx::new("pocketsphinx", PocketSphinxConfig::default());
    if let Err(e) = engine.check_installed() {
        panic!("{e}");
    }
    engine
}

fn grammar(jsgf: &str, words: &[&str]) -> Constraint {
    Constraint::Grammars(CompiledGrammars {
        jsgf: jsgf.to_owned(),
        words: words.iter().map(|w| (*w).to_owned()).collect(),
        phrases: Vec::new(),
    })
}

fn request(constraint: Constraint) -> RecognitionRequest {
    RecognitionRequest {
        language: None,
        constraint,
        n_best: 1,
        vendor_parameters: Vec::new(),
    }
}

/// Streams the audio in 20 ms frames and returns the final best text.
async fn recognize(engine: &PocketSphinx, constraint: Constraint, audio: &[i16]) -> Option<String> {
    let mut stream = engine.start(request(constraint)).unwrap();
    for frame in audio.chunks(320) {
        stream.push(frame.to_vec()).await.unwrap();
    }
    stream.finish();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), stream.next_event())
            .await
            .expect("no final result from pocketsphinx within 30 s")
            .expect("the engine ended without a final result")
            .unwrap();
        if let RecognizerEvent::Final(alternatives) = event {
            let best = alternatives.into_iter().next()?;
            assert!((0.0..=1.0).contains(&best.confidence));
            return Some(best.text);
        }
    }
}

const YES_NO: &str = "#JSGF V1.0;\ngrammar yesno;\npublic <answer> = yes | no;\n";
const MENU: &str = "#JSGF V1.0;\ngrammar menu;\npublic <menu> = [please] (check my balance | pay a bill | talk to an agent) [please] | <digit>+;\n<digit> = zero | one | two | three | four | five | six | seven | eight | nine;\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recognizes_yes_and_no_against_a_grammar() {
    let engine = engine();
    let words = ["yes", "no"];
    assert_eq!(
        recognize(&engine, grammar(YES_NO, &words), &telephone_speech("yes"))
            .await
            .as_deref(),
        Some("yes")
    );
    // The second request reuses the pooled decoder and its compiled search.
    assert_eq!(
        recognize(&engine, grammar(YES_NO, &words), &telephone_speech("no"))
            .await
            .as_deref(),
        Some("no")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recognizes_menu_phrases_and_digits_from_telephone_audio() {
    let engine = engine();
    let words = [
        "please", "check", "my", "balance", "pay", "a", "bill", "talk", "to", "an", "agent",
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    for phrase in ["check my balance", "pay a bill", "one two three four"] {
        let heard = recognize(&engine, grammar(MENU, &words), &telephone_speech(phrase)).await;
        assert_eq!(heard.as_deref(), Some(phrase));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_gives_no_result() {
    let engine = engine();
    let silence = vec![0i16; 16_000];
    assert_eq!(
        recognize(&engine, grammar(YES_NO, &["yes", "no"]), &silence).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_words_are_refused_up_front() {
    let engine = engine();
    let err = engine
        .start(request(grammar(
            "#JSGF V1.0;\ngrammar g;\npublic <a> = zzyzxq;\n",
            &["zzyzxq"],
        )))
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::BadRequest);
    assert!(err.to_string().contains("zzyzxq"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dictation_hears_words() {
    let engine = engine();
    let heard = recognize(
        &engine,
        Constraint::Dictation,
        &telephone_speech("hello world"),
    )
    .await
    .unwrap_or_default();
    // Dictation on synthetic telephone speech is best-effort: the trigram model must at least produce words.
    assert!(!heard.is_empty(), "dictation produced nothing");
}
