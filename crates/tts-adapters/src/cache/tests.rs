use std::sync::atomic::AtomicUsize;

use mrcp_proto::engine::EngineErrorKind;
use mrcp_proto::ssml::Gender;
use tokio::sync::mpsc;

use super::*;
use crate::PromptAudio;

/// An engine the test drives by hand: each `start` hands the engine's end of the synthesis to the test.
struct Scripted {
    capabilities: SynthesizerCapabilities,
    started: mpsc::UnboundedSender<SynthesisSink>,
    starts: AtomicUsize,
}

impl Synthesizer for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        if request.content == crate::SynthesisContent::Text("refuse".into()) {
            return Err(EngineError::new(
                "scripted",
                EngineErrorKind::BadRequest,
                "refused",
            ));
        }
        self.starts.fetch_add(1, Ordering::Relaxed);
        let (stream, sink) = synthesis_channel();
        let _ = self.started.send(sink);
        Ok(stream)
    }
}

const RATE: u32 = 8000;
/// One 20 ms frame at 8 kHz, in bytes.
const FRAME_BYTES: usize = 320;

struct Fixture {
    cache: Arc<PromptCache>,
    engine: Arc<Scripted>,
    cached: CachedSynthesizer,
    started: mpsc::UnboundedReceiver<SynthesisSink>,
}

fn fixture(limits: CacheLimits) -> Fixture {
    let (tx, started) = mpsc::unbounded_channel();
    let engine = Arc::new(Scripted {
        capabilities: SynthesizerCapabilities {
            sample_rate: RATE,
            languages: vec!["en-us".into()],
            voices: Vec::new(),
            reports_marks: true,
            takes_lexicons: false,
        },
        started: tx,
        starts: AtomicUsize::new(0),
    });
    let cache = PromptCache::new(limits);
    let cached = cache.wrap(Arc::clone(&engine) as Arc<dyn Synthesizer>);
    Fixture {
        cache,
        engine,
        cached,
        started,
    }
}

fn roomy() -> CacheLimits {
    CacheLimits {
        max_bytes: 1 << 20,
        max_prompt: Duration::from_secs(10),
        max_age: Duration::from_secs(3600),
    }
}

/// A frame whose samples all hold `n`, so the order of frames can be checked.
fn frame(n: i16) -> SynthesisEvent {
    SynthesisEvent::Audio(vec![n; FRAME_BYTES / 2])
}

/// Frame 0, mark "m", frames 1..frames, then Done.
fn prompt(frames: i16) -> Vec<SynthesisEvent> {
    let mut events = vec![frame(0), SynthesisEvent::Mark("m".into())];
    events.extend((1..frames).map(frame));
    events.push(SynthesisEvent::Done);
    events
}

async fn speak(sink: &SynthesisSink, events: &[SynthesisEvent]) {
    for event in events {
        sink.events
            .send(Ok(event.clone()))
            .await
            .expect("the cache reads the engine");
    }
}

/// Every event of `stream` up to its end; `Err` for an engine error.
async fn drain(stream: &mut SynthesisStream) -> Result<Vec<SynthesisEvent>, EngineError> {
    let mut events = Vec::new();
    while let Some(event) = stream.next_event().await {
        let event = event?;
        let done = event == SynthesisEvent::Done;
        events.push(event);
        if done {
            break;
        }
    }
    Ok(events)
}

impl Fixture {
    fn start(&self, text: &str) -> SynthesisStream {
        self.cached
            .start(SynthesisRequest::text(text))
            .expect("the engine takes the request")
    }

    async fn engine_started(&mut self) -> SynthesisSink {
        self.started.recv().await.expect("the engine was started")
    }

    fn starts(&self) -> usize {
        self.engine.starts.load(Ordering::Relaxed)
    }

    /// Speaks `text` through the engine (a miss) while the listener plays it, and returns what the listener
    /// got.
    async fn first(&mut self, text: &str, events: &[SynthesisEvent]) -> Vec<SynthesisEvent> {
        let mut stream = self.start(text);
        let sink = self.engine_started().await;
        let events = events.to_vec();
        let engine = tokio::spawn(async move { speak(&sink, &events).await });
        let played = drain(&mut stream).await.expect("no engine error");
        engine.await.expect("the engine task ends");
        played
    }

    /// Waits until the recorder has handed its recording to the table.
    async fn settled(&self, entries: u64) {
        for _ in 0..10_000 {
            if self.cache.stats().entries == entries {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("{:?}, not {entries} entries", self.cache.stats());
    }
}

#[tokio::test]
async fn a_repeated_prompt_plays_the_recording_without_the_engine() {
    let mut f = fixture(roomy());
    let events = prompt(5);
    assert_eq!(f.first("welcome", &events).await, events);
    f.settled(1).await;

    let mut again = f.start("welcome");
    assert_eq!(drain(&mut again).await, Ok(events.clone()));
    assert_eq!(f.starts(), 1, "the second SPEAK must not start the engine");
    let stats = f.cache.stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (1, 1, 1));
    assert_eq!(
        stats.bytes as usize,
        5 * FRAME_BYTES + 1 + key_len("welcome")
    );
}

/// The bytes the key of a plain-text prompt takes.
fn key_len(text: &str) -> usize {
    format!("scripted\n{:?}", SynthesisRequest::text(text)).len()
}

#[tokio::test]
async fn every_header_is_part_of_the_prompt() {
    let mut f = fixture(roomy());
    f.first("welcome", &prompt(2)).await;
    f.settled(1).await;
    let mut female = SynthesisRequest::text("welcome");
    female.voice.gender = Some(Gender::Female);
    let mut other = f.cached.start(female).expect("started");
    let sink = f.engine_started().await;
    speak(&sink, &prompt(3)).await;
    assert_eq!(drain(&mut other).await, Ok(prompt(3)));
    assert_eq!(f.starts(), 2, "another voice is another prompt");
}

#[tokio::test]
async fn speaks_during_the_first_synthesis_follow_it() {
    let mut f = fixture(roomy());
    let events = prompt(8);
    let mut first = f.start("welcome");
    let sink = f.engine_started().await;
    speak(&sink, &events[..3]).await;
    let mut second = f.start("welcome");
    let mut third = f.start("welcome");
    speak(&sink, &events[3..]).await;
    for stream in [&mut first, &mut second, &mut third] {
        assert_eq!(drain(stream).await, Ok(events.clone()));
    }
    assert_eq!(f.starts(), 1);
    let stats = f.cache.stats();
    assert_eq!((stats.misses, stats.joined, stats.hits), (1, 2, 0));
}

#[tokio::test]
async fn the_synthesis_runs_ahead_of_a_real_time_listener() {
    let mut f = fixture(roomy());
    let events = prompt(120);
    let _listener = f.start("welcome");
    let sink = f.engine_started().await;
    // More than the stream holds: the cache records it while the listener has read nothing.
    speak(&sink, &events).await;
    f.settled(1).await;
}

#[tokio::test]
async fn failures_reach_every_listener_and_are_not_kept() {
    let mut f = fixture(roomy());
    let mut first = f.start("welcome");
    let sink = f.engine_started().await;
    speak(&sink, &[frame(0)]).await;
    let mut second = f.start("welcome");
    let error = EngineError::new("scripted", EngineErrorKind::Internal, "voice crashed");
    sink.events
        .send(Err(error.clone()))
        .await
        .expect("the cache reads the engine");
    assert_eq!(drain(&mut first).await, Err(error.clone()));
    assert_eq!(drain(&mut second).await, Err(error));
    let events = prompt(2);
    assert_eq!(f.first("welcome", &events).await, events);
    assert_eq!(f.starts(), 2, "a failed prompt is synthesized again");
}

#[tokio::test]
async fn an_engine_that_vanishes_ends_the_listeners_streams_alike() {
    let mut f = fixture(roomy());
    let mut first = f.start("welcome");
    let sink = f.engine_started().await;
    speak(&sink, &[frame(0)]).await;
    drop(sink);
    assert_eq!(first.next_event().await, Some(Ok(frame(0))));
    assert_eq!(first.next_event().await, None);
    assert_eq!(f.cache.stats().entries, 0);
}

#[tokio::test]
async fn refusals_are_returned_at_once_and_not_counted() {
    let f = fixture(roomy());
    let refused = f.cached.start(SynthesisRequest::text("refuse"));
    assert_eq!(
        refused.map(|_| ()).map_err(|e| e.kind),
        Err(EngineErrorKind::BadRequest)
    );
    assert_eq!(f.cache.stats(), CacheStats::default());
}

#[tokio::test]
async fn prompts_with_fetched_audio_bypass_the_cache() {
    let mut f = fixture(roomy());
    for _ in 0..2 {
        let mut request = SynthesisRequest::text("welcome");
        request.audio.push(PromptAudio {
            src: "http://example.com/jingle.wav".into(),
            samples: Arc::from(vec![0i16; 160]),
        });
        let mut stream = f.cached.start(request).expect("started");
        let sink = f.engine_started().await;
        speak(&sink, &prompt(1)).await;
        assert_eq!(drain(&mut stream).await, Ok(prompt(1)));
    }
    assert_eq!(f.starts(), 2);
    assert_eq!(f.cache.stats().bypassed, 2);
}

#[tokio::test]
async fn a_listener_leaving_cancels_the_synthesis_only_when_it_was_the_last() {
    let mut f = fixture(roomy());
    let first = f.start("welcome");
    let sink = f.engine_started().await;
    speak(&sink, &[frame(0)]).await;
    let mut second = f.start("welcome");
    drop(first);
    let events = prompt(4);
    speak(&sink, &events[1..]).await;
    assert_eq!(drain(&mut second).await, Ok(events));
    f.settled(1).await;

    let lone = f.start("goodbye");
    let sink = f.engine_started().await;
    drop(lone);
    // The recorder drops the engine's stream: the engine sees the synthesis cancelled.
    sink.events.closed().await;
    assert_eq!(
        f.cache.stats().entries,
        1,
        "the cancelled prompt is not kept"
    );
}

#[tokio::test]
async fn a_prompt_over_the_limit_plays_in_step_with_its_listener_and_is_not_kept() {
    let mut f = fixture(CacheLimits {
        max_prompt: Duration::from_millis(100), // 5 frames
        ..roomy()
    });
    // The engine can only run a bounded way ahead (see below): the listener still gets everything, in order.
    let events = prompt(200);
    assert_eq!(f.first("a long story", &events).await, events);
    assert_eq!(f.cache.stats().entries, 0);
    f.first("a long story", &events).await;
    assert_eq!(f.starts(), 2);
}

#[tokio::test]
async fn the_recording_holds_back_the_engine_once_over_the_limit() {
    let mut f = fixture(CacheLimits {
        max_prompt: Duration::from_millis(100),
        ..roomy()
    });
    let _listener = f.start("a long story");
    let sink = f.engine_started().await;
    let mut sent = 0;
    // Nobody reads: the engine's channel, the tape's window and the listener's channel fill, then the engine
    // waits.
    while sent < 1000 {
        match sink.events.try_send(Ok(frame(1))) {
            Ok(()) => sent += 1,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Let the recorder and the listener take what they can, then see if the engine is held.
                for _ in 0..100 {
                    tokio::task::yield_now().await;
                }
                if sink.events.try_send(Ok(frame(1))).is_err() {
                    break;
                }
                sent += 1;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => panic!("the recorder gave up"),
        }
    }
    // The listener's channel and batch, the tape's window and the engine's channel: a bounded way ahead.
    assert!(
        sent <= 5 * STREAM_CAPACITY,
        "{sent} frames taken from the engine with no one playing them"
    );
}

#[tokio::test]
async fn the_least_recently_played_prompt_is_dropped_first() {
    let one_prompt = 3 * FRAME_BYTES + 1 + key_len("a");
    let mut f = fixture(CacheLimits {
        max_bytes: 2 * one_prompt,
        ..roomy()
    });
    for (n, text) in ["a", "b"].into_iter().enumerate() {
        f.first(text, &prompt(3)).await;
        f.settled(n as u64 + 1).await;
    }
    drain(&mut f.start("a")).await.expect("a hit");
    f.first("c", &prompt(3)).await;
    f.settled(2).await;
    assert_eq!(f.cache.stats().evicted, 1);
    drain(&mut f.start("a")).await.expect("a hit");
    assert_eq!(f.starts(), 3, "a is still kept");
    let _b = f.start("b");
    assert_eq!(f.starts(), 4, "b was dropped");
}

#[tokio::test(start_paused = true)]
async fn an_old_recording_is_synthesized_again() {
    let mut f = fixture(CacheLimits {
        max_age: Duration::from_secs(60),
        ..roomy()
    });
    f.first("welcome", &prompt(2)).await;
    f.settled(1).await;
    tokio::time::advance(Duration::from_secs(59)).await;
    drain(&mut f.start("welcome")).await.expect("a hit");
    assert_eq!(f.starts(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    f.first("welcome", &prompt(2)).await;
    assert_eq!(f.starts(), 2);
    assert_eq!(f.cache.stats().evicted, 1);
}
