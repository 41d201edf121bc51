//! A prompt cache in front of any [`Synthesizer`].
//!
//! IVR prompts repeat: "Please say your account number" is spoken thousands of times a day with the same
//! voice and rate. The first SPEAK of a prompt starts the engine; what the engine produces is recorded as fast
//! as the engine produces it, not at the caller's real-time pace. Every later SPEAK with the same body and
//! headers to the same engine plays that recording, with its SSML marks in place, and costs no synthesis. A
//! SPEAK that arrives while the first one is still being synthesized follows the same recording, so a burst of
//! identical prompts is synthesized once.
//!
//! What bounds it ([`CacheLimits`]):
//! - all kept recordings together: the least recently played goes first;
//! - one prompt: a longer one is played as the engine produces it, at most [`STREAM_CAPACITY`] events ahead of
//!   its slowest listener, and is not kept;
//! - age: an older recording is dropped when next asked for, and the engine is asked again.
//!
//! Not cached: requests with fetched `<audio>` (the fetched audio may change under the same URI, and the
//! fetcher has its own cache rules), refusals and failures (the next SPEAK asks the engine again; SPEAKs that
//! joined a failing synthesis get the same error). A synthesis no one listens to any more is cancelled.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mrcp_proto::engine::EngineError;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::synthesizer::{
    STREAM_CAPACITY, SynthesisEvent, SynthesisRequest, SynthesisSink, SynthesisStream, Synthesizer,
    SynthesizerCapabilities, synthesis_channel,
};

/// How much a [`PromptCache`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Audio kept in total, in bytes of 16-bit PCM; the least recently played prompts are dropped first.
    pub max_bytes: usize,
    /// The longest prompt kept, as audio; a longer one is played but not kept.
    pub max_prompt: Duration,
    /// How long a recording is played before the engine is asked again (a voice may have been updated).
    pub max_age: Duration,
}

/// What a [`PromptCache`] has done since it was made, and what it holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// SPEAKs played from a complete recording.
    pub hits: u64,
    /// SPEAKs that followed a recording still being made.
    pub joined: u64,
    /// SPEAKs that started the engine.
    pub misses: u64,
    /// SPEAKs that bypassed the cache (fetched `<audio>`).
    pub bypassed: u64,
    /// Recordings dropped to stay within [`CacheLimits::max_bytes`] or [`CacheLimits::max_age`].
    pub evicted: u64,
    /// Complete recordings kept now.
    pub entries: u64,
    /// Bytes of audio they hold.
    pub bytes: u64,
}

/// Recordings of synthesized prompts, shared by every engine wrapped with [`PromptCache::wrap`] so one byte
/// budget covers them all.
#[derive(Debug)]
pub struct PromptCache {
    limits: CacheLimits,
    table: Mutex<Table>,
    hits: AtomicU64,
    joined: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
    evicted: AtomicU64,
}

/// The recordings by key, with the complete ones in order of last use.
#[derive(Debug, Default)]
struct Table {
    slots: HashMap<Arc<str>, Slot>,
    /// Complete recordings by the tick of their last use: the first is the least recently played.
    by_use: BTreeMap<u64, Arc<str>>,
    bytes: usize,
    tick: u64,
}

#[derive(Debug)]
struct Slot {
    tape: Arc<Tape>,
    /// Set once the engine finished the prompt within the limits.
    complete: Option<Kept>,
}

#[derive(Debug, Clone, Copy)]
struct Kept {
    made: Instant,
    used: u64,
    bytes: usize,
}

impl PromptCache {
    /// An empty cache.
    pub fn new(limits: CacheLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            table: Mutex::default(),
            hits: AtomicU64::new(0),
            joined: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        })
    }

    /// `engine` with this cache in front of it. The engine keeps its name and capabilities.
    pub fn wrap(self: &Arc<Self>, engine: Arc<dyn Synthesizer>) -> CachedSynthesizer {
        let rate = f64::from(engine.capabilities().sample_rate);
        // 16-bit samples; a prompt limit beyond memory is clamped by the float-to-int cast.
        let max_prompt_bytes = (self.limits.max_prompt.as_secs_f64() * rate * 2.0) as usize;
        CachedSynthesizer {
            engine,
            cache: Arc::clone(self),
            max_prompt_bytes: max_prompt_bytes.min(self.limits.max_bytes),
        }
    }

    /// Counters and contents now.
    pub fn stats(&self) -> CacheStats {
        let table = self.table();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            joined: self.joined.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bypassed: self.bypassed.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            entries: table.by_use.len() as u64,
            bytes: table.bytes as u64,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A stream playing the recording under `key`, if there is one to follow.
    fn play(&self, key: &str) -> Option<SynthesisStream> {
        let mut table = self.table();
        let slot = table.slots.get(key)?;
        if let Some(kept) = slot.complete
            && kept.made.elapsed() > self.limits.max_age
        {
            table.remove(key);
            self.evicted.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let tape = Arc::clone(&slot.tape);
        let seat = Seat::take(&tape)?;
        if slot.complete.is_some() {
            table.touch(key);
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.joined.fetch_add(1, Ordering::Relaxed);
        }
        drop(table);
        Some(seat.listen())
    }

    /// Records `stream` under `key` and returns a stream playing the recording.
    fn record(
        self: &Arc<Self>,
        key: Arc<str>,
        engine: SynthesisStream,
        max_prompt_bytes: usize,
    ) -> SynthesisStream {
        let mut table = self.table();
        // Two first SPEAKs of one prompt at once: the second records for itself only.
        let shared = !table.slots.contains_key(&key);
        let tape = Arc::new(Tape::new(shared));
        if shared {
            table.slots.insert(
                Arc::clone(&key),
                Slot {
                    tape: Arc::clone(&tape),
                    complete: None,
                },
            );
        }
        drop(table);
        let seat = Seat {
            tape: Arc::clone(&tape),
            index: 0,
        };
        let recorder = Recorder {
            cache: Arc::clone(self),
            key,
            tape,
            max_prompt_bytes,
        };
        tokio::spawn(recorder.run(engine));
        seat.listen()
    }

    /// The engine finished `tape` within the limits: keep it, then drop the least recently played
    /// recordings until the cache is within its byte budget.
    fn keep(&self, key: &Arc<str>, tape: &Arc<Tape>, audio_bytes: usize) {
        let mut table = self.table();
        let tick = table.next_tick();
        let Some(slot) = table.slots.get_mut(key) else {
            return;
        };
        if !Arc::ptr_eq(&slot.tape, tape) {
            return;
        }
        // The key (the whole request) is held as long as the audio.
        let bytes = audio_bytes + key.len();
        slot.complete = Some(Kept {
            made: Instant::now(),
            used: tick,
            bytes,
        });
        table.by_use.insert(tick, Arc::clone(key));
        table.bytes += bytes;
        while table.bytes > self.limits.max_bytes {
            let Some((_, oldest)) = table.by_use.pop_first() else {
                break;
            };
            table.remove(&oldest);
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `tape` will not be kept: later SPEAKs ask the engine again.
    fn forget(&self, key: &str, tape: &Arc<Tape>) {
        let mut table = self.table();
        if table
            .slots
            .get(key)
            .is_some_and(|slot| slot.complete.is_none() && Arc::ptr_eq(&slot.tape, tape))
        {
            table.slots.remove(key);
        }
    }
}

impl Table {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Marks the complete recording under `key` as just played.
    fn touch(&mut self, key: &str) {
        let tick = self.next_tick();
        if let Some(kept) = self.slots.get_mut(key).and_then(|s| s.complete.as_mut()) {
            let old = std::mem::replace(&mut kept.used, tick);
            if let Some(name) = self.by_use.remove(&old) {
                self.by_use.insert(tick, name);
            }
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(kept) = self.slots.remove(key).and_then(|s| s.complete) {
            self.by_use.remove(&kept.used);
            self.bytes -= kept.bytes;
        }
    }
}

/// A synthesizer with a [`PromptCache`] in front of it (see [`PromptCache::wrap`]).
pub struct CachedSynthesizer {
    engine: Arc<dyn Synthesizer>,
    cache: Arc<PromptCache>,
    max_prompt_bytes: usize,
}

impl Synthesizer for CachedSynthesizer {
    fn name(&self) -> &str {
        self.engine.name()
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        self.engine.capabilities()
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        let cache = &self.cache;
        if !request.audio.is_empty() {
            cache.bypassed.fetch_add(1, Ordering::Relaxed);
            return self.engine.start(request);
        }
        // Every field of the request shapes the audio, so all of them make the key.
        let key: Arc<str> = format!("{}\n{request:?}", self.engine.name()).into();
        if let Some(stream) = cache.play(&key) {
            return Ok(stream);
        }
        let engine = self.engine.start(request)?;
        cache.misses.fetch_add(1, Ordering::Relaxed);
        Ok(cache.record(key, engine, self.max_prompt_bytes))
    }
}

/// How a recorded synthesis ended.
#[derive(Debug, Clone)]
enum Ending {
    Done,
    Failed(EngineError),
    /// The engine's stream ended without either; listeners see their stream end the same way.
    Vanished,
}

/// One synthesis as recorded: the events so far and the positions of its listeners.
#[derive(Debug)]
struct Tape {
    state: Mutex<TapeState>,
    /// Wakes listeners waiting for more events.
    grew: Notify,
    /// Wakes the recorder when a listener moves on or leaves.
    moved: Notify,
}

#[derive(Debug)]
struct TapeState {
    events: VecDeque<SynthesisEvent>,
    /// The index of `events[0]` since the start; above 0 only for a recording not kept, whose played part
    /// is dropped.
    base: usize,
    end: Option<Ending>,
    bytes: usize,
    /// Whether the recording may still be kept (it is in the table and within the prompt limit).
    keeping: bool,
    /// The next index each listener reads; `None` for a seat left.
    seats: Vec<Option<usize>>,
}

/// What a listener does next.
enum Step {
    Play(Vec<SynthesisEvent>),
    End(Ending),
    Wait,
}

/// What the recorder does next.
enum Take {
    Next,
    Wait,
    /// No one listens any more: cancel the synthesis.
    Abandon,
}

impl Tape {
    /// A tape with its first listener in seat 0.
    fn new(keeping: bool) -> Self {
        Self {
            state: Mutex::new(TapeState {
                events: VecDeque::new(),
                base: 0,
                end: None,
                bytes: 0,
                keeping,
                seats: vec![Some(0)],
            }),
            grew: Notify::new(),
            moved: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, TapeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TapeState {
    /// The next events for the listener in `seat`, who has read up to `position`.
    fn read(&mut self, seat: usize, position: usize) -> Step {
        let start = position - self.base;
        if start < self.events.len() {
            let end = self.events.len().min(start + STREAM_CAPACITY);
            let batch: Vec<_> = self.events.range(start..end).cloned().collect();
            if let Some(s) = self.seats.get_mut(seat) {
                *s = Some(position + batch.len());
            }
            return Step::Play(batch);
        }
        match &self.end {
            Some(ending) => Step::End(ending.clone()),
            None => Step::Wait,
        }
    }

    fn may_take(&mut self) -> Take {
        let Some(slowest) = self.seats.iter().flatten().min().copied() else {
            return Take::Abandon;
        };
        if self.keeping {
            return Take::Next;
        }
        // Not kept: drop what every listener has played, and stay close to the slowest one.
        let played = slowest - self.base;
        self.events.drain(..played);
        self.base = slowest;
        if self.events.len() >= STREAM_CAPACITY {
            Take::Wait
        } else {
            Take::Next
        }
    }
}

/// Reads the engine's stream into a tape.
struct Recorder {
    cache: Arc<PromptCache>,
    key: Arc<str>,
    tape: Arc<Tape>,
    max_prompt_bytes: usize,
}

impl Recorder {
    async fn run(self, mut engine: SynthesisStream) {
        let tape = &self.tape;
        loop {
            let mut moved = pin!(tape.moved.notified());
            moved.as_mut().enable();
            let take = tape.state().may_take();
            match take {
                Take::Next => {}
                Take::Wait => {
                    moved.await;
                    continue;
                }
                Take::Abandon => {
                    // Dropping the engine's stream cancels the synthesis.
                    self.cache.forget(&self.key, tape);
                    return;
                }
            }
            let event = tokio::select! {
                event = engine.next_event() => event,
                () = &mut moved => continue,
            };
            let mut state = tape.state();
            let was_keeping = state.keeping;
            match event {
                Some(Ok(SynthesisEvent::Done)) => state.end = Some(Ending::Done),
                Some(Ok(event)) => {
                    state.bytes += match &event {
                        SynthesisEvent::Audio(samples) => samples.len() * 2,
                        SynthesisEvent::Mark(name) => name.len(),
                        SynthesisEvent::Done => 0,
                    };
                    state.keeping &= state.bytes <= self.max_prompt_bytes;
                    state.events.push_back(event);
                }
                Some(Err(error)) => state.end = Some(Ending::Failed(error)),
                None => state.end = Some(Ending::Vanished),
            }
            let (ended, keeping, bytes) = (state.end.clone(), state.keeping, state.bytes);
            drop(state);
            tape.grew.notify_waiters();
            match ended {
                Some(Ending::Done) if keeping => {
                    self.cache.keep(&self.key, tape, bytes);
                    return;
                }
                Some(_) => {
                    self.cache.forget(&self.key, tape);
                    return;
                }
                None if was_keeping && !keeping => self.cache.forget(&self.key, tape),
                None => {}
            }
        }
    }
}

/// A listener's place on a tape; leaving it (also when the task is dropped) lets the recorder move on.
struct Seat {
    tape: Arc<Tape>,
    index: usize,
}

impl Seat {
    /// A seat at the start of `tape`, unless the tape has already dropped its start.
    fn take(tape: &Arc<Tape>) -> Option<Self> {
        let mut state = tape.state();
        if state.base > 0 {
            return None;
        }
        let index = match state.seats.iter().position(Option::is_none) {
            Some(free) => {
                state.seats[free] = Some(0);
                free
            }
            None => {
                state.seats.push(Some(0));
                state.seats.len() - 1
            }
        };
        Some(Self {
            tape: Arc::clone(tape),
            index,
        })
    }

    /// A stream playing the tape from its start, fed by a task of its own.
    fn listen(self) -> SynthesisStream {
        let (stream, sink) = synthesis_channel();
        tokio::spawn(self.play(sink));
        stream
    }

    /// Sends the tape to `sink` as it grows, until its end or until the server drops the stream.
    async fn play(self, sink: SynthesisSink) {
        let tape = &self.tape;
        let mut position = 0;
        loop {
            let mut grew = pin!(tape.grew.notified());
            grew.as_mut().enable();
            let step = tape.state().read(self.index, position);
            match step {
                Step::Play(batch) => {
                    position += batch.len();
                    tape.moved.notify_waiters();
                    for event in batch {
                        if sink.events.send(Ok(event)).await.is_err() {
                            return;
                        }
                    }
                }
                Step::End(Ending::Done) => {
                    let _ = sink.events.send(Ok(SynthesisEvent::Done)).await;
                    return;
                }
                Step::End(Ending::Failed(error)) => {
                    let _ = sink.events.send(Err(error)).await;
                    return;
                }
                Step::End(Ending::Vanished) => return,
                Step::Wait => {
                    tokio::select! {
                        () = grew => {}
                        () = sink.events.closed() => return,
                    }
                }
            }
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        if let Some(seat) = self.tape.state().seats.get_mut(self.index) {
            *seat = None;
        }
        self.tape.moved.notify_waiters();
    }
}

#[cfg(test)]
mod tests;
