//! End to end on loopback: SPEAK against the `mrcp-server` binary with espeak-ng, driven by the
//! `mrcp-client` library with the FreeSWITCH offer for a speechsynth channel.
//!
//! Needs the Debian package espeak-ng (installed by `scripts/test`).
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/probe.rs"]
mod probe;

use std::time::{Duration, Instant};

use common::{DEADLINE, LOCALHOST, ServerProcess, synth_session};
use mrcp_proto::mrcp::{Message, Method, RequestState, ResourceType, StartLine};
use mrcp_proto::sdp::ClientProfile;
use probe::{Packet, Probe, percentile, samples};

fn is_event(m: &Message, name: &str) -> bool {
    matches!(&m.start, StartLine::Event { event, .. } if event.as_str() == name)
}

fn status(m: &Message) -> (u16, RequestState) {
    match &m.start {
        StartLine::Response { status, state, .. } => (status.code(), *state),
        other => panic!("expected a response, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_plays_the_prompt_then_completes() {
    let server = ServerProcess::start("34000-34099", &[]);
    let mut client = synth_session(&server, (34500, 34599)).await;
    let text = "Welcome to the open M R C P speech server.";
    client
        .send(
            Method::Speak,
            &[("Voice-Gender", "female")],
            Some(("text/plain", text.as_bytes())),
        )
        .await
        .unwrap();
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::InProgress)
    );
    let started = Instant::now();
    let complete = client.receive().await.unwrap();
    let elapsed = started.elapsed();
    assert!(is_event(&complete, "SPEAK-COMPLETE"), "{}", complete.start);
    assert_eq!(
        complete.headers.get_raw("Completion-Cause"),
        Some("000 normal")
    );
    // The prompt lasts about 2.5 s: paced in real time, the completion cannot come much sooner.
    assert!(
        elapsed > Duration::from_millis(1500),
        "SPEAK-COMPLETE after only {elapsed:?}"
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_the_prompt_without_speak_complete() {
    let server = ServerProcess::start("34100-34199", &[]);
    let mut client = synth_session(&server, (34600, 34699)).await;
    let text = "This is a long prompt that the caller will not hear to its end, because the application stops it.";
    let speak = client
        .send(Method::Speak, &[], Some(("text/plain", text.as_bytes())))
        .await
        .unwrap();
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::InProgress)
    );
    client.send(Method::Stop, &[], None).await.unwrap();
    let stopped = client.receive().await.unwrap();
    assert_eq!(status(&stopped), (200, RequestState::Complete));
    assert_eq!(
        stopped.headers.get_raw("Active-Request-Id-List"),
        Some(speak.0.to_string().as_str())
    );
    let late = tokio::time::timeout(Duration::from_secs(3), client.receive()).await;
    assert!(late.is_err(), "a message followed the STOP: {late:?}");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_speaks_complete_in_order_and_bad_ssml_is_a_parse_failure() {
    let server = ServerProcess::start("34200-34299", &[]);
    let mut client = synth_session(&server, (34700, 34799)).await;
    let first = client
        .send(Method::Speak, &[], Some(("text/plain", b"One.".as_slice())))
        .await
        .unwrap();
    let bad = b"<speak version=\"1.0\"><unclosed></speak>".as_slice();
    let second = client
        .send(Method::Speak, &[], Some(("application/ssml+xml", bad)))
        .await
        .unwrap();
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::InProgress)
    );
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::Pending)
    );
    let one = client.receive().await.unwrap();
    assert!(
        is_event(&one, "SPEAK-COMPLETE") && one.request_id() == first,
        "{}",
        one.start
    );
    let two = client.receive().await.unwrap();
    assert!(
        is_event(&two, "SPEAK-COMPLETE") && two.request_id() == second,
        "{}",
        two.start
    );
    assert_eq!(
        two.headers.get_raw("Completion-Cause"),
        Some("002 parse-failure")
    );
    client.close().await;
}

#[test]
fn list_voices_prints_the_synthesizer_voices() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mrcp-server"))
        .arg("--list-voices")
        .output()
        .expect("cannot run mrcp-server");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // `engine name languages gender description`, one voice a line; espeak-ng always has American English.
    assert!(
        text.lines().any(|l| l.starts_with("espeak\t")
            && l.split('\t')
                .nth(2)
                .is_some_and(|langs| langs.contains("en-us"))),
        "{text}"
    );
}

// --- Measured on the wire: the RTP the server sends, read packet by packet (`common/probe.rs`). ---

/// A prompt long enough to be stopped, paused and barged in on (about 8 s).
const LONG: &str = "This is a long prompt that goes on for quite a while, so that the caller can interrupt it, \
                    pause it and resume it, long before it reaches its end.";

fn speak_complete_cause(m: &Message) -> u16 {
    assert!(is_event(m, "SPEAK-COMPLETE"), "{}", m.start);
    common::cause(m)
}

/// Packets in order, each following the one before without a missing sequence number or timestamp.
fn assert_contiguous(packets: &[Packet]) {
    for w in packets.windows(2) {
        assert_eq!(
            w[1].sequence,
            w[0].sequence.wrapping_add(1),
            "sequence gap or reordering"
        );
        assert_eq!(
            w[1].timestamp,
            w[0].timestamp.wrapping_add(w[0].samples.len() as u32),
            "timestamp gap after sequence {}",
            w[0].sequence
        );
    }
}

/// How long espeak-ng takes to say `text` with the server's default voice settings.
fn espeak_duration(text: &str) -> Duration {
    let out = std::process::Command::new("espeak-ng")
        .args([
            "-v", "en-us", "-s", "175", "-a", "100", "-p", "50", "--stdout", text,
        ])
        .output()
        .expect("cannot run espeak-ng: install the Debian package espeak-ng");
    // Written to a pipe, the WAV header cannot give the length: count the 16-bit samples after it.
    let bytes = out.stdout.len();
    let reader = hound::WavReader::new(std::io::Cursor::new(out.stdout)).unwrap();
    let spec = reader.spec();
    let samples = bytes.saturating_sub(44) / 2;
    Duration::from_secs_f64(samples as f64 / f64::from(spec.sample_rate))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoken_audio_has_its_length_no_gaps_and_is_recognized_back() {
    let server = ServerProcess::start("48000-48099", &[]);
    let mut probe = Probe::open(server.sip, &[ResourceType::Speechsynth]).await;
    let text = "Please talk to an agent.";
    probe
        .send(0, Method::Speak, &[], Some(("text/plain", text.as_bytes())))
        .await;
    let (response, in_progress_at) = probe.receive().await;
    assert_eq!(status(&response), (200, RequestState::InProgress));
    let (complete, complete_at) = probe.receive().await;
    assert_eq!(speak_complete_cause(&complete), 0);
    let packets = probe.packets();
    assert!(packets.len() > 25, "{} packets", packets.len());
    assert!(
        packets.iter().all(|p| p.at <= complete_at),
        "audio after SPEAK-COMPLETE"
    );
    assert_contiguous(&packets);
    let audio = samples(&packets);
    let duration = Duration::from_millis(audio.len() as u64 / 8);
    let first = packets.first().unwrap().at;
    let last = packets.last().unwrap().at;
    let mut gaps: Vec<Duration> = packets.windows(2).map(|w| w[1].at - w[0].at).collect();
    gaps.sort();
    let (p50, p99, max) = (
        percentile(&gaps, 50),
        percentile(&gaps, 99),
        *gaps.last().unwrap(),
    );
    let expected = espeak_duration(text);
    eprintln!(
        "tts timing: time to first packet {:?} after IN-PROGRESS; {} packets, {} ms of audio (espeak-ng alone: \
         {} ms); inter-packet gap p50 {:?} p99 {:?} max {:?}; SPEAK-COMPLETE {:?} after the last packet",
        first - in_progress_at,
        packets.len(),
        duration.as_millis(),
        expected.as_millis(),
        p50,
        p99,
        max,
        complete_at - last,
    );
    // The right length: what espeak-ng makes of the text (resampling keeps durations), played in real time.
    let ratio = duration.as_secs_f64() / expected.as_secs_f64();
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{duration:?} of audio for {expected:?} of speech"
    );
    let played = (last - first) + Duration::from_millis(20);
    assert!(
        played.as_secs_f64() > duration.as_secs_f64() * 0.9,
        "{duration:?} of audio arrived in {played:?}: not paced"
    );
    // Loosely: no gap of more than three packets (80 ms between arrivals), with 20 ms of slack because the
    // arrival times include the test's own scheduling on a shared, loaded machine (85 ms seen there).
    assert!(
        max <= Duration::from_millis(100),
        "a {max:?} gap between packets"
    );
    assert!(first - in_progress_at < Duration::from_millis(500));

    let dir = std::env::temp_dir().join(format!("mrcp-speak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("spoken.wav");
    mrcp_media::wav::WavAudio {
        rate: mrcp_media::codec::SampleRate(8000),
        samples: audio.clone(),
    }
    .write(&wav)
    .unwrap();
    eprintln!("received prompt saved to {}", wav.display());
    probe.close().await;

    // The received audio, sent back to a RECOGNIZE with a grammar of the menu, is recognized.
    let mut recog = common::connect(&server, ClientProfile::FreeSwitch, (48500, 48599)).await;
    let menu = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/grammars/menu.grxml"
    ))
    .unwrap();
    recog
        .send(
            Method::DefineGrammar,
            &[("Content-Id", "menu")],
            Some(("application/srgs+xml", menu.as_slice())),
        )
        .await
        .unwrap();
    assert_eq!(status(&recog.receive().await.unwrap()).0, 200);
    recog
        .send(
            Method::Recognize,
            &[("Cancel-If-Queue", "false")],
            Some(("text/uri-list", b"session:menu".as_slice())),
        )
        .await
        .unwrap();
    assert_eq!(status(&recog.receive().await.unwrap()).0, 200);
    let mut input = vec![0i16; 2400];
    input.extend(&audio);
    input.extend(std::iter::repeat_n(0, 12000));
    recog.play(input).await.unwrap();
    let (_, result) = recog.until_event("RECOGNITION-COMPLETE").await.unwrap();
    let nlsml = common::body(&result);
    assert_eq!(common::cause(&result), 0, "{nlsml}");
    assert!(nlsml.contains("<action>agent</action>"), "{nlsml}");
    recog.close().await;
}

/// The prompt cache (`[tts_cache]`, on by default): the same prompt in a second session plays the recording,
/// sample for sample, with no second synthesis; another voice is another prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_prompt_is_played_from_the_cache() {
    let server = ServerProcess::start("54000-54099", &[]);
    let text = "Please hold while we connect you.";
    let mut played = Vec::new();
    for voice in ["male", "male", "female"] {
        let mut probe = Probe::open(server.sip, &[ResourceType::Speechsynth]).await;
        probe
            .send(
                0,
                Method::Speak,
                &[("Voice-Gender", voice)],
                Some(("text/plain", text.as_bytes())),
            )
            .await;
        let (response, _) = probe.receive().await;
        assert_eq!(status(&response), (200, RequestState::InProgress));
        let (complete, _) = probe.receive().await;
        assert_eq!(speak_complete_cause(&complete), 0);
        let packets = probe.packets();
        assert_contiguous(&packets);
        played.push(samples(&packets));
        probe.close().await;
    }
    assert!(played[0].len() > 8000, "{} samples", played[0].len());
    assert!(
        played[0] == played[1],
        "the replay differs from the first playing"
    );
    let (_, metrics) = common::http_get(&server, "/metrics").await;
    for line in [
        "mrcp_tts_cache_requests_total{outcome=\"miss\"} 2\n",
        "mrcp_tts_cache_requests_total{outcome=\"hit\"} 1\n",
        "mrcp_tts_cache_entries 2\n",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_barge_in_occurred_end_the_audio_within_two_packets() {
    let server = ServerProcess::start("48100-48199", &[]);
    let mut probe = Probe::open(server.sip, &[ResourceType::Speechsynth]).await;
    for method in [Method::Stop, Method::BargeInOccurred] {
        let start = probe.packets().len();
        let speak = probe
            .send(0, Method::Speak, &[], Some(("text/plain", LONG.as_bytes())))
            .await;
        assert_eq!(
            status(&probe.receive().await.0),
            (200, RequestState::InProgress)
        );
        // About a second of the prompt plays; nothing is said meanwhile.
        assert!(probe.receive_within(Duration::from_secs(1)).await.is_none());
        let before = probe.packets().len();
        probe.send(0, method.clone(), &[], None).await;
        let (response, answered_at) = probe.receive().await;
        assert_eq!(status(&response), (200, RequestState::Complete));
        assert_eq!(
            response.headers.get_raw("Active-Request-Id-List"),
            Some(speak.0.to_string().as_str())
        );
        // No SPEAK-COMPLETE follows, and the audio stops.
        let late = probe.receive_within(Duration::from_millis(700)).await;
        assert!(late.is_none(), "a message followed {method}: {late:?}");
        let packets = probe.packets();
        let after = packets.iter().filter(|p| p.at > answered_at).count();
        eprintln!(
            "{method}: {} packets of the prompt before it, {after} after its response",
            before - start
        );
        assert!(before - start > 25, "the prompt did not play");
        assert!(after <= 2, "{after} packets after the {method} response");
    }
    probe.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_queued_speaks_play_in_order() {
    let server = ServerProcess::start("48200-48299", &[]);
    let mut probe = Probe::open(server.sip, &[ResourceType::Speechsynth]).await;
    let texts = [
        "First prompt.",
        "The second prompt is a little longer.",
        "Third.",
    ];
    let mut ids = Vec::new();
    for text in texts {
        ids.push(
            probe
                .send(0, Method::Speak, &[], Some(("text/plain", text.as_bytes())))
                .await,
        );
    }
    let mut responses = Vec::new();
    for _ in 0..3 {
        let (m, _) = probe.receive().await;
        responses.push((m.request_id(), status(&m)));
    }
    assert_eq!(
        responses,
        vec![
            (ids[0], (200, RequestState::InProgress)),
            (ids[1], (200, RequestState::Pending)),
            (ids[2], (200, RequestState::Pending)),
        ]
    );
    let mut completed = Vec::new();
    for &id in &ids {
        let (m, at) = probe.receive().await;
        assert_eq!(speak_complete_cause(&m), 0);
        assert_eq!(m.request_id(), id, "SPEAK-COMPLETE out of order");
        completed.push(at);
    }
    // Each prompt's audio arrives between the completion of the one before and its own.
    let packets = probe.packets();
    let mut from = None;
    for (i, &until) in completed.iter().enumerate() {
        let n = packets
            .iter()
            .filter(|p| from.is_none_or(|f| p.at > f) && p.at <= until)
            .count();
        eprintln!("prompt {}: {n} packets", i + 1);
        assert!(n >= 10, "prompt {} played {n} packets", i + 1);
        from = Some(until);
    }
    probe.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_silences_the_prompt_and_resume_plays_the_rest() {
    let server = ServerProcess::start("48300-48399", &[]);
    let mut probe = Probe::open(server.sip, &[ResourceType::Speechsynth]).await;
    let text = "Your call is important to us. Please stay on the line.";
    probe
        .send(0, Method::Speak, &[], Some(("text/plain", text.as_bytes())))
        .await;
    assert_eq!(
        status(&probe.receive().await.0),
        (200, RequestState::InProgress)
    );
    assert!(
        probe
            .receive_within(Duration::from_millis(800))
            .await
            .is_none()
    );
    probe.send(0, Method::Pause, &[], None).await;
    let (paused, paused_at) = probe.receive().await;
    assert_eq!(status(&paused), (200, RequestState::Complete));
    assert!(
        probe
            .receive_within(Duration::from_millis(1500))
            .await
            .is_none()
    );
    // Audio may resume before the RESUME response reaches the client (RTP and MRCP travel apart): the
    // boundary is when the request left.
    let resume_sent = Instant::now();
    probe.send(0, Method::Resume, &[], None).await;
    let (resumed, _) = probe.receive().await;
    assert_eq!(status(&resumed), (200, RequestState::Complete));
    let (complete, _) = probe.receive().await;
    assert_eq!(speak_complete_cause(&complete), 0);
    let packets = probe.packets();
    // PAUSE holds the paced sender's queue (§8.11): at most a packet already on its way arrives after the
    // response, and nothing more until RESUME.
    let drained = paused_at + Duration::from_millis(900);
    let count =
        |from: Instant, to: Instant| packets.iter().filter(|p| p.at > from && p.at <= to).count();
    let (tail, while_paused) = (count(paused_at, drained), count(drained, resume_sent));
    let after = packets.iter().filter(|p| p.at > resume_sent).count();
    eprintln!(
        "pause: {} packets before, {tail} in the 900 ms after the PAUSE response, {while_paused} later \
         while paused, {after} after RESUME",
        packets.iter().filter(|p| p.at <= paused_at).count()
    );
    assert!(tail <= 2, "{tail} packets after the PAUSE response");
    assert_eq!(while_paused, 0, "audio while paused");
    assert!(after >= 25, "only {after} packets after RESUME");
    // Nothing of the prompt is lost: as much audio as the prompt unpaused.
    let duration = Duration::from_millis(samples(&packets).len() as u64 / 8);
    let expected = espeak_duration(text);
    let ratio = duration.as_secs_f64() / expected.as_secs_f64();
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{duration:?} of audio for {expected:?} of speech"
    );
    probe.close().await;
}

/// The longest run of near-silence inside the audio (leading and trailing silence excluded).
fn longest_inner_silence(audio: &[i16]) -> Duration {
    let loud = |s: &i16| s.unsigned_abs() > 300;
    let (Some(start), Some(end)) = (audio.iter().position(loud), audio.iter().rposition(loud))
    else {
        return Duration::ZERO;
    };
    let (mut run, mut longest) = (0usize, 0usize);
    for s in &audio[start..=end] {
        if loud(s) {
            run = 0;
        } else {
            run += 1;
            longest = longest.max(run);
        }
    }
    Duration::from_millis(longest as u64 / 8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ssml_break_is_silence_in_the_received_audio() {
    let server = ServerProcess::start("48400-48449", &[]);
    let mut probe = Probe::open(server.sip, &[ResourceType::Speechsynth]).await;
    let ssml = r#"<?xml version="1.0"?>
<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">Hello there<break time="500ms"/>and goodbye</speak>"#;
    probe
        .send(
            0,
            Method::Speak,
            &[],
            Some(("application/ssml+xml", ssml.as_bytes())),
        )
        .await;
    assert_eq!(
        status(&probe.receive().await.0),
        (200, RequestState::InProgress)
    );
    let (complete, _) = probe.receive().await;
    assert_eq!(speak_complete_cause(&complete), 0);
    let packets = probe.packets();
    assert_contiguous(&packets);
    let silence = longest_inner_silence(&samples(&packets));
    eprintln!("ssml break: longest inner silence {silence:?}");
    assert!(silence >= Duration::from_millis(400), "{silence:?}");
    probe.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_ssml_and_unknown_voice_fail_with_their_cause_and_the_session_goes_on() {
    let server = ServerProcess::start("48450-48499", &[]);
    let mut probe = Probe::open(server.sip, &[ResourceType::Speechsynth]).await;
    // A failing SPEAK ends with its cause, in the response (407) or in SPEAK-COMPLETE.
    async fn failure(
        probe: &mut Probe,
        headers: &[(&str, &str)],
        body: (&str, &[u8]),
    ) -> (u16, String) {
        probe.send(0, Method::Speak, headers, Some(body)).await;
        let (mut m, _) = probe.receive().await;
        if status_code(&m) == Some(200) {
            m = probe.receive().await.0;
            assert!(is_event(&m, "SPEAK-COMPLETE"), "{}", m.start);
        }
        let reason = m
            .headers
            .get_raw("Completion-Reason")
            .unwrap_or("")
            .to_owned();
        (common::cause(&m), reason)
    }
    let bad = b"<speak version=\"1.0\"><unclosed></speak>".as_slice();
    let (cause, reason) = failure(&mut probe, &[], ("application/ssml+xml", bad)).await;
    eprintln!("invalid SSML: {cause:03} ({reason})");
    assert_eq!(cause, 2);
    let (cause, reason) = failure(
        &mut probe,
        &[("Voice-Name", "no-such-voice")],
        ("text/plain", b"Hello.".as_slice()),
    )
    .await;
    eprintln!("unknown voice: {cause:03} ({reason})");
    assert_eq!(cause, 5);
    let before = probe.packets().len();
    probe
        .send(
            0,
            Method::Speak,
            &[],
            Some(("text/plain", b"Still here.".as_slice())),
        )
        .await;
    assert_eq!(
        status(&probe.receive().await.0),
        (200, RequestState::InProgress)
    );
    assert_eq!(speak_complete_cause(&probe.receive().await.0), 0);
    assert!(probe.packets().len() > before + 10);
    probe.close().await;
}

fn status_code(m: &Message) -> Option<u16> {
    match &m.start {
        StartLine::Response { status, .. } => Some(status.code()),
        _ => None,
    }
}

/// `kind = "prompt-files"`: a `text/plain` SPEAK naming a recorded prompt plays that recording, sample for
/// sample after the G.711 round trip, paced and complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_prompt_plays_sample_exact_from_the_prompt_files_engine() {
    let dir = std::env::temp_dir().join(format!("mrcp-prompts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One second of a 440 Hz tone at 8 kHz: 50 whole packets.
    let tone: Vec<i16> = (0..8000)
        .map(|n| {
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(n) / 8000.0).sin()) as i16
        })
        .collect();
    mrcp_media::wav::WavAudio {
        rate: mrcp_media::codec::SampleRate(8000),
        samples: tone.clone(),
    }
    .write(&dir.join("tone.wav"))
    .unwrap();
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[default_engines]\nspeechsynth = \"prompts\"\n[engines.pocketsphinx]\nkind = \"pocketsphinx\"\n\
             [engines.prompts]\nkind = \"prompt-files\"\ndir = \"{}\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let server = ServerProcess::start("48600-48649", &["--config", config.to_str().unwrap()]);
    let mut client = synth_session(&server, (48650, 48699)).await;
    // Strict mode: a packet ahead of the IN-PROGRESS response (which UniMRCP clients drop) is a violation.
    // The recording is ready at once, so the audio races the response unless the server orders them.
    for _ in 0..5 {
        let outcome = client
            .speak(&mrcp_client::SpeakRequest::text("tone"))
            .await
            .unwrap();
        assert_eq!(outcome.completion_cause(), Some(0));
        assert_eq!(outcome.stats.before_in_progress, 0);
        assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
    }
    client.close().await;
    let (cause, audio) = common::speak_routed(&server, "prompts", "tone", (48650, 48699)).await;
    assert_eq!(cause, 0);
    let mut coded = Vec::new();
    let mut expected = Vec::new();
    let mut encoder = mrcp_media::codec::AudioEncoder::new(mrcp_media::codec::Codec::Pcmu);
    encoder.encode(&tone, &mut coded);
    mrcp_media::codec::AudioDecoder::new(mrcp_media::codec::Codec::Pcmu)
        .decode(&coded, &mut expected);
    assert_eq!(
        audio.len(),
        expected.len(),
        "received {} samples",
        audio.len()
    );
    assert!(
        audio == expected,
        "the received audio differs from the recording"
    );
    let (cause, _) = common::speak_routed(&server, "prompts", "missing", (48650, 48699)).await;
    assert_eq!(cause, 3, "a missing prompt is a uri-failure");
    let _ = std::fs::remove_dir_all(&dir);
}
