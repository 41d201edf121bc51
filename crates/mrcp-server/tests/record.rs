//! End to end on loopback: RECORD against the `mrcp-server` binary, driven by the `mrcp-client` library with
//! a UniMRCP-style offer for a recorder channel, the caller's audio sent as PCMU RTP at real pace.
//!
//! Needs the Debian packages espeak-ng and sox (installed by `scripts/test`) for the spoken audio.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/probe.rs"]
mod probe;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{DEADLINE, LOCALHOST, ServerProcess, cause, telephone_speech};
use mrcp_client::{Session, SessionConfig};
use mrcp_media::codec::{AudioDecoder, AudioEncoder, Codec};
use mrcp_proto::mrcp::{Message, Method, RequestState, ResourceType, StartLine};
use mrcp_proto::sdp::ClientProfile;
use mrcp_sip::Transport;

/// One 20 ms packet at 8 kHz.
const FRAME: usize = 160;

/// A server whose recordings go to a fresh directory.
struct Recorder {
    server: ServerProcess,
    dir: PathBuf,
}

fn start(rtp_ports: &str) -> Recorder {
    let dir =
        std::env::temp_dir().join(format!("mrcp-record-{}-{}", std::process::id(), rtp_ports));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("server.toml");
    let recordings = dir.join("recordings");
    std::fs::write(
        &config,
        format!(
            "[recorder]\ndirectory = \"{}\"\nmax_time_ms = 20000\n",
            recordings.display()
        ),
    )
    .unwrap();
    let server = ServerProcess::start(rtp_ports, &["--config", config.to_str().unwrap()]);
    Recorder {
        server,
        dir: recordings,
    }
}

async fn record_session(server: &ServerProcess, rtp_ports: (u16, u16)) -> Session {
    Session::open(&SessionConfig {
        server: server.sip,
        transport: Transport::Udp,
        profile: ClientProfile::FreeSwitch,
        resource: ResourceType::Recorder,
        local_ip: LOCALHOST,
        rtp_ports,
        timeout: DEADLINE,
        tls: None,
    })
    .await
    .expect("cannot open the recorder session")
}

fn status(m: &Message) -> (u16, RequestState) {
    match &m.start {
        StartLine::Response { status, state, .. } => (status.code(), *state),
        other => panic!("expected a response, got {other}"),
    }
}

fn is_event(m: &Message, name: &str) -> bool {
    matches!(&m.start, StartLine::Event { event, .. } if event.as_str() == name)
}

/// The path of a `file://` Record-URI, checked to lie in `dir`.
fn recorded_file(m: &Message, dir: &Path) -> PathBuf {
    let uri = m.headers.get_raw("Record-Uri").expect("no Record-URI");
    let path = uri
        .strip_prefix("<file://")
        .and_then(|u| u.split_once('>'))
        .map(|(p, _)| PathBuf::from(p))
        .unwrap_or_else(|| panic!("not a file Record-URI: {uri}"));
    assert!(path.starts_with(dir), "{uri} is outside {}", dir.display());
    path
}

fn read_wav(path: &Path) -> Vec<i16> {
    let reader = hound::WavReader::open(path).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    reader.into_samples::<i16>().map(Result::unwrap).collect()
}

/// What the server decodes of `samples` sent as PCMU.
fn through_pcmu(samples: &[i16]) -> Vec<i16> {
    let mut bytes = Vec::new();
    AudioEncoder::new(Codec::Pcmu).encode(samples, &mut bytes);
    let mut out = Vec::new();
    AudioDecoder::new(Codec::Pcmu).decode(&bytes, &mut out);
    out
}

/// Checks that `recorded` is what the server decoded of `sent` (`sent` as G.711 gives it back), frame by
/// frame. On an idle machine every frame is in its place (printed as `exact: true`). On a loaded one the
/// server's jitter buffer may conceal a late packet with silence and shift what follows, so a frame counts
/// when it is a sent frame within 200 ms of its place, or concealment silence; at most 5 % may be neither.
fn assert_same_audio(recorded: &[i16], sent: &[i16]) {
    let expected = through_pcmu(sent);
    let frames: Vec<&[i16]> = recorded.chunks(FRAME).collect();
    let (mut in_place, mut shifted, mut concealed, mut other) = (0, 0, 0, 0);
    for (i, frame) in frames.iter().enumerate() {
        let at = |j: usize| {
            expected
                .get(j * FRAME..j * FRAME + frame.len())
                .is_some_and(|e| e == *frame)
        };
        if at(i) {
            in_place += 1;
        } else if (i.saturating_sub(10)..=i + 10).any(at) {
            shifted += 1;
        } else if frame.iter().all(|&s| s == 0) {
            concealed += 1;
        } else {
            other += 1;
        }
    }
    let exact = recorded.len() <= expected.len() && recorded == &expected[..recorded.len()];
    eprintln!(
        "audio check: {} frames: {in_place} in place, {shifted} shifted, {concealed} concealed, {other} \
         not sent (exact: {exact})",
        frames.len()
    );
    assert!(
        other * 100 <= frames.len() * 5 && concealed * 100 <= frames.len() * 25,
        "{other} of {} recorded frames were not sent, {concealed} concealed",
        frames.len()
    );
}

/// Sends RECORD with these header fields and checks its `200 IN-PROGRESS`.
async fn record(client: &mut Session, headers: &[(&str, &str)]) {
    client.send(Method::Record, headers, None).await.unwrap();
    assert_eq!(
        status(&client.receive().await.unwrap()),
        (200, RequestState::InProgress)
    );
}

/// Speech padded to whole packets.
fn speech(text: &str) -> Vec<i16> {
    let mut samples = telephone_speech(text);
    samples.truncate(samples.len() / FRAME * FRAME);
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_silence_after_speech_ends_the_recording_with_000() {
    let rec = start("46000-46099");
    let mut client = record_session(&rec.server, (46500, 46599)).await;
    record(
        &mut client,
        &[
            ("Record-URI", ""),
            ("Media-Type", "audio/wav"),
            ("No-Input-Timeout", "5000"),
            ("Final-Silence", "800"),
            ("Max-Time", "15000"),
        ],
    )
    .await;
    let mut sent = speech("Please call me back tomorrow morning.");
    sent.extend(std::iter::repeat_n(0, 8000 * 2));
    client.play(sent.clone()).await.unwrap();
    let (before, complete) = client.until_event("RECORD-COMPLETE").await.unwrap();
    assert!(
        before.iter().any(|m| is_event(m, "START-OF-INPUT")),
        "no START-OF-INPUT before {}",
        complete.start
    );
    assert_eq!(
        complete.headers.get_raw("Completion-Cause"),
        Some("000 success-silence")
    );
    let recorded = read_wav(&recorded_file(&complete, &rec.dir));
    // The speech and 800 ms of the silence after it: less than what was sent, more than the speech alone.
    eprintln!(
        "final silence: sent {} ms, recorded {} ms",
        sent.len() / 8,
        recorded.len() / 8
    );
    assert!(recorded.len() < sent.len() - 8000, "{}", recorded.len());
    assert!(recorded.len() > 8000, "{}", recorded.len());
    assert_same_audio(&recorded, &sent);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_time_ends_with_001_and_the_file_holds_exactly_the_audio_sent() {
    let rec = start("46100-46199");
    let mut client = record_session(&rec.server, (46600, 46699)).await;
    record(&mut client, &[("Record-URI", ""), ("Max-Time", "1500")]).await;
    let sent = speech("This message is longer than the recording allows.");
    assert!(sent.len() > 12000 + 8000);
    client.play(sent.clone()).await.unwrap();
    let (_, complete) = client.until_event("RECORD-COMPLETE").await.unwrap();
    assert_eq!(
        cause(&complete),
        1,
        "{:?}",
        complete.headers.get_raw("Completion-Cause")
    );
    let uri = complete.headers.get_raw("Record-Uri").unwrap().to_owned();
    assert!(uri.ends_with(";size=24044;duration=1500"), "{uri}");
    let recorded = read_wav(&recorded_file(&complete, &rec.dir));
    // Exactly Max-Time of audio (within a packet, as the brief allows; here to the sample), and the very
    // samples sent, as G.711 gives them back.
    assert!(
        recorded.len().abs_diff(12000) <= FRAME,
        "{}",
        recorded.len()
    );
    assert_same_audio(&recorded, &sent);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_timeout_with_silence_gives_002_without_a_recording() {
    let rec = start("46200-46299");
    let mut client = record_session(&rec.server, (46700, 46799)).await;
    record(
        &mut client,
        &[("Record-URI", ""), ("No-Input-Timeout", "1000")],
    )
    .await;
    client.play(vec![0; 8000 * 3]).await.unwrap();
    let (before, complete) = client.until_event("RECORD-COMPLETE").await.unwrap();
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(
        complete.headers.get_raw("Completion-Cause"),
        Some("002 no-input-timeout")
    );
    assert_eq!(complete.headers.get_raw("Record-Uri"), None);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mid_record_returns_what_was_recorded() {
    let rec = start("46300-46399");
    let mut client = record_session(&rec.server, (46800, 46899)).await;
    client
        .send(Method::Record, &[("Record-URI", "")], None)
        .await
        .unwrap();
    let record_id = client.receive().await.unwrap().request_id();
    let sent = speech("One two three four five six seven eight nine ten.");
    client.play(sent.clone()).await.unwrap();
    let started = client.receive().await.unwrap();
    assert!(is_event(&started, "START-OF-INPUT"), "{}", started.start);
    client.send(Method::Stop, &[], None).await.unwrap();
    let stopped = client.receive().await.unwrap();
    assert_eq!(status(&stopped), (200, RequestState::Complete));
    assert_eq!(
        stopped.headers.get_raw("Active-Request-Id-List"),
        Some(record_id.0.to_string().as_str())
    );
    let recorded = read_wav(&recorded_file(&stopped, &rec.dir));
    eprintln!(
        "stop: recorded {} ms of {} ms sent",
        recorded.len() / 8,
        sent.len() / 8
    );
    assert!(!recorded.is_empty() && recorded.len() < sent.len());
    assert_same_audio(&recorded, &sent);
    let late = tokio::time::timeout(Duration::from_millis(1500), client.receive()).await;
    assert!(late.is_err(), "a message followed the STOP: {late:?}");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_record_uri_the_audio_comes_in_the_body() {
    let rec = start("46400-46449");
    let mut client = record_session(&rec.server, (46900, 46949)).await;
    // The RECORD of the UniMRCP capture has no Record-URI: RFC 6787 §10.4.7 returns the audio itself.
    record(&mut client, &[("Max-Time", "1000")]).await;
    let sent = speech("Hello there, this is the body.");
    client.play(sent.clone()).await.unwrap();
    let (_, complete) = client.until_event("RECORD-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 1);
    assert_eq!(complete.content_type(), Some("audio/wav"));
    let id = complete.headers.get_raw("Content-Id").unwrap().to_owned();
    let uri = complete.headers.get_raw("Record-Uri").unwrap();
    assert!(uri.starts_with(&format!("<cid:{id}>")), "{uri}");
    let reader = hound::WavReader::new(std::io::Cursor::new(complete.body.to_vec())).unwrap();
    let recorded: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(recorded.len(), 8000);
    assert_same_audio(&recorded, &sent);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_uri_outside_the_directory_fails_with_003_and_the_channel_stays_usable() {
    let rec = start("46450-46499");
    let mut client = record_session(&rec.server, (46950, 46999)).await;
    // A header value out of range is refused naming the header (RFC 6787 §5.4).
    client
        .send(Method::Record, &[("Sensitivity-Level", "2.0")], None)
        .await
        .unwrap();
    let refused = client.receive().await.unwrap();
    assert_eq!(status(&refused), (409, RequestState::Complete));
    assert_eq!(refused.headers.get_raw("Sensitivity-Level"), Some("2.0"));
    client
        .send(
            Method::Record,
            &[("Record-URI", "<file:///etc/x.wav>")],
            None,
        )
        .await
        .unwrap();
    let refused = client.receive().await.unwrap();
    assert_eq!(status(&refused), (407, RequestState::Complete));
    assert_eq!(
        refused.headers.get_raw("Completion-Cause"),
        Some("003 uri-failure")
    );
    assert_eq!(
        refused.headers.get_raw("Failed-Uri"),
        Some("file:///etc/x.wav")
    );
    record(&mut client, &[("Record-URI", ""), ("Max-Time", "1000")]).await;
    client.play(vec![100; 8000 * 2]).await.unwrap();
    let (_, complete) = client.until_event("RECORD-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 1);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_error_ends_the_record_with_004_and_the_session_goes_on() {
    let dir = std::env::temp_dir().join(format!("mrcp-record-{}-disk", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The recordings directory lies under a regular file, so it cannot be created (even by root).
    std::fs::write(dir.join("file"), b"").unwrap();
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[recorder]\ndirectory = \"{}\"\n",
            dir.join("file/recordings").display()
        ),
    )
    .unwrap();
    let server = ServerProcess::start("47200-47249", &["--config", config.to_str().unwrap()]);
    let mut client = record_session(&server, (47250, 47299)).await;
    record(&mut client, &[("Record-URI", ""), ("Max-Time", "500")]).await;
    client.play(vec![100; 8000]).await.unwrap();
    let (_, failed) = client.until_event("RECORD-COMPLETE").await.unwrap();
    assert_eq!(
        failed.headers.get_raw("Completion-Cause"),
        Some("004 error")
    );
    assert!(failed.headers.get_raw("Completion-Reason").is_some());
    assert_eq!(failed.headers.get_raw("Record-Uri"), None);
    // The channel still records: the audio in the body this time.
    record(&mut client, &[("Max-Time", "500")]).await;
    client.play(vec![100; 8000]).await.unwrap();
    let (_, complete) = client.until_event("RECORD-COMPLETE").await.unwrap();
    assert_eq!(cause(&complete), 1);
    assert_eq!(complete.body.len(), 44 + 8000);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_heard_by_the_recorder_barges_in_on_the_prompt() {
    let rec = start("47100-47199");
    // One dialog with a synthesizer and a recorder sharing the audio.
    let mut probe = probe::Probe::open(
        rec.server.sip,
        &[ResourceType::Speechsynth, ResourceType::Recorder],
    )
    .await;
    let prompt =
        "Please leave your message after this rather long introduction, which you may interrupt.";
    let speak = probe
        .send(
            0,
            Method::Speak,
            &[],
            Some(("text/plain", prompt.as_bytes())),
        )
        .await;
    assert_eq!(
        status(&probe.receive().await.0),
        (200, RequestState::InProgress)
    );
    let rec_id = probe
        .send(
            1,
            Method::Record,
            &[("Record-URI", ""), ("Max-Time", "4000")],
            None,
        )
        .await;
    assert_eq!(
        status(&probe.receive().await.0),
        (200, RequestState::InProgress)
    );
    let speech = speech("Hello, it is me.");
    let out = probe.audio_out();
    let sender = tokio::spawn(async move { out.send(&speech).await });
    // START-OF-INPUT from the recorder, then SPEAK-COMPLETE 001 barge-in (RFC 6787 §8.4 order).
    let (start_of_input, _) = probe.receive().await;
    assert!(
        is_event(&start_of_input, "START-OF-INPUT"),
        "{}",
        start_of_input.start
    );
    assert_eq!(start_of_input.request_id(), rec_id);
    let (barged, _) = probe.receive().await;
    assert!(is_event(&barged, "SPEAK-COMPLETE"), "{}", barged.start);
    assert_eq!(barged.request_id(), speak);
    assert_eq!(
        barged.headers.get_raw("Completion-Cause"),
        Some("001 barge-in")
    );
    sender.await.unwrap();
    let (complete, _) = probe.receive().await;
    assert!(is_event(&complete, "RECORD-COMPLETE"), "{}", complete.start);
    probe.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_on_speech_starts_the_recording_at_the_speech() {
    let rec = start("47300-47349");
    let mut client = record_session(&rec.server, (47350, 47399)).await;
    record(
        &mut client,
        &[
            ("Record-URI", ""),
            ("Capture-On-Speech", "true"),
            ("Max-Time", "1000"),
        ],
    )
    .await;
    // Two seconds of silence, then speech (which starts with espeak-ng's own 300 ms of padding).
    let speech = speech("Hello, this is a message.");
    let mut sent = vec![0i16; 16000];
    sent.extend(&speech);
    client.play(sent.clone()).await.unwrap();
    let (before, complete) = client.until_event("RECORD-COMPLETE").await.unwrap();
    assert!(before.iter().any(|m| is_event(m, "START-OF-INPUT")));
    assert_eq!(cause(&complete), 1);
    let recorded = read_wav(&recorded_file(&complete, &rec.dir));
    assert_eq!(recorded.len(), 8000);
    // The recording is a second of the speech, not of the silence before it: it starts where the endpointer
    // placed the start of speech, within its pre-roll (500 ms) before the first loud sample and at most one
    // detector window (tens of ms) after it.
    let voice = sent.iter().position(|s| s.unsigned_abs() > 500).unwrap();
    let expected = through_pcmu(&sent);
    let start = (0..sent.len() - 8000)
        .step_by(FRAME)
        .find(|&at| expected[at..at + 8000] == recorded[..])
        .expect("the recording is not a second of what was sent");
    eprintln!(
        "capture on speech: recording starts {} ms into the audio, the voice at {} ms",
        start / 8,
        voice / 8
    );
    assert!(
        start + 4000 >= voice && start <= voice + 1600,
        "the recording starts at sample {start}, the voice at {voice}"
    );
    client.close().await;
}
