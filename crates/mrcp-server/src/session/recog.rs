//! One speechrecog channel of a session: MRCP requests in, the [`RecognizerMachine`] in the middle, MRCP
//! responses and events out, with the grammars, the engine stream and the listener beside it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asr_adapters::{
    Alternative, CompiledGrammars, Constraint, PushError, RecognitionRequest, RecognitionStream,
    RecognizerEvent,
};
use bytes::Bytes;
use mrcp_media::wav::WavAudio;
use mrcp_proto::grammar::GrammarLimits;
use mrcp_proto::grammar::dtmf::{DtmfOutcome, match_dtmf};
use mrcp_proto::grammar::export::{phrase_list, to_jsgf, word_list};
use mrcp_proto::grammar::matcher::GrammarMatch;
use mrcp_proto::grammar::matcher::{
    ActiveGrammar, MatchOptions, MatchOutcome, Transcript, match_transcripts,
};
use mrcp_proto::grammar::model::Mode as GrammarMode;
use mrcp_proto::grammar::store::{
    DefineOutcome, Fetched as StoreFetched, GrammarStore, Resolution, ResolvedGrammar, StoreError,
    parse_uri_list,
};
use mrcp_proto::mrcp::header::{
    ActiveRequestIdList, ClearDtmfBuffer, CompletionCause, ContentId, DtmfBufferTime, InputType,
    InputTypeHeader, MediaUri, NBestListLength, RecognizerCause, SaveWaveform, SensitivityLevel,
    SpeechLanguage, WaveformUri,
};
use mrcp_proto::mrcp::{
    ChannelId, EventName, Headers, Message, Method, RequestId, RequestState, StartLine, StatusCode,
};
use mrcp_proto::nlsml::{Input, InputMode, Interpretation, Nlsml, WriteOptions};
use tracing::{debug, warn};

use super::audio_in::{AudioIn, Heard};
use super::fetching::{FetchOutcome, Fetching};
use super::outbox::Outbox;
use crate::config::RecognizerDefaults;
use crate::control::ConnectionHandle;
use crate::engines::Engines;
use crate::fetch::Fetcher;
use crate::metrics;
use crate::params::ChannelParams;
use crate::recognizer::{
    self, ActiveInputs, DtmfClassifier, DtmfMatch, EngineOutcome, Input as MachineInput, InputKind,
    Outcome, Output, RecognizerMachine, TypeAhead,
};
use crate::resources::{Counted, LiveKind};
use crate::routing::RouteContext;

/// What the INVITE said that routing rules may use.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallInfo {
    /// The Request-URI user part (the number dialled).
    pub(crate) request_uri_user: Option<String>,
    /// The User-Agent header.
    pub(crate) user_agent: Option<String>,
}

/// What woke a recognizer channel besides MRCP requests, audio and timers.
pub(crate) enum RecogWake {
    /// The engine's next event; `None` when its stream ended.
    Engine(Option<Result<RecognizerEvent, asr_adapters::EngineError>>),
    /// Grammar fetches finished.
    Fetched(Vec<FetchOutcome>),
}

/// Why the grammars of a request are not ready.
enum GrammarsPending {
    /// They failed, with this cause.
    Failed(RecognizerCause, String, Option<String>),
    /// These URIs must be fetched first.
    Fetch(Vec<String>),
}

impl GrammarsPending {
    fn failed(cause: RecognizerCause, reason: impl Into<String>) -> Self {
        GrammarsPending::Failed(cause, reason.into(), None)
    }

    fn from_store(error: &StoreError) -> Self {
        let cause = RecognizerCause::from_code(error.completion_cause())
            .unwrap_or(RecognizerCause::GrammarLoadFailure);
        let failed_uri = match error {
            StoreError::FetchFailed { uri, .. } | StoreError::UnsupportedUri { uri } => {
                Some(uri.clone())
            }
            _ => None,
        };
        GrammarsPending::Failed(cause, error.to_string(), failed_uri)
    }
}

/// The Vendor-Specific-Parameters key a client sets to `true` to receive INTERMEDIATE-RESULT events with the
/// engine's interim text (FreeSWITCH and Asterisk fail on events they do not expect, so it is off by default).
const INTERMEDIATE_PARAMETER: &str = "intermediate-results";

/// The NLSML media type (RFC 6787 §9.6).
const NLSML_TYPE: &str = "application/nlsml+xml";

/// The grammars and engine parameters of one RECOGNIZE, kept from the request until it ends.
struct Prepared {
    request_id: RequestId,
    grammars: Arc<Vec<ResolvedGrammar>>,
    /// The engine request, when speech grammars are active.
    engine_request: Option<RecognitionRequest>,
    /// The client asked for INTERMEDIATE-RESULT events.
    intermediate_results: bool,
}

/// Classifies digits against the DTMF grammars of a RECOGNIZE (the machine's view of them).
struct DtmfGrammars {
    grammars: Arc<Vec<ResolvedGrammar>>,
    limits: GrammarLimits,
}

impl DtmfClassifier for DtmfGrammars {
    fn classify(&self, digits: &str) -> DtmfMatch {
        let active = active(&self.grammars);
        match match_dtmf(&active, digits, &self.limits) {
            DtmfOutcome::Complete { can_extend, .. } => DtmfMatch::Complete {
                extendable: can_extend,
            },
            DtmfOutcome::Incomplete => DtmfMatch::Incomplete,
            DtmfOutcome::NoMatch => DtmfMatch::NoMatch,
        }
    }
}

fn active(grammars: &[ResolvedGrammar]) -> Vec<ActiveGrammar<'_>> {
    grammars
        .iter()
        .map(|g| ActiveGrammar {
            id: &g.id,
            grammar: &g.grammar,
            weight: g.weight,
        })
        .collect()
}

/// A speechrecog channel.
pub(crate) struct RecogChannel {
    out: Outbox,
    machine: RecognizerMachine<Nlsml>,
    params: ChannelParams,
    defaults: Arc<RecognizerDefaults>,
    store: GrammarStore,
    engines: Arc<Engines>,
    call: CallInfo,
    /// The running RECOGNIZE first, then the queued one.
    prepared: VecDeque<Prepared>,
    stream: Option<Counted<RecognitionStream>>,
    listener: AudioIn,
    heard: Vec<Heard>,
    engine_audio: Vec<i16>,
    frames_dropped: u64,
    /// START-OF-INPUT went out since the session last asked (barge-in for the session's synthesizer).
    heard_input: bool,
    /// The call's audio of the running RECOGNIZE, kept when it asked for Save-Waveform (RFC 6787 §9.4).
    waveform: Option<Vec<i16>>,
    /// The engine serving the running RECOGNIZE, for metrics.
    engine_name: String,
    /// When the caller's last speech or digit ended: RECOGNITION-COMPLETE's latency counts from here.
    input_ended_at: Option<Instant>,
    /// Digits keyed while no recognition runs, for the next one (DTMF-Buffer-Time, §9.4).
    typeahead: TypeAhead,
    /// Fetches grammars named by URI.
    fetcher: Fetcher,
    /// The request waiting on fetched grammars, and those behind it.
    fetching: Fetching,
}

/// The longest recording kept for Save-Waveform: 60 s at 16 kHz is under 2 MB.
const MAX_WAVEFORM: Duration = Duration::from_secs(60);

impl RecogChannel {
    pub(crate) fn new(
        id: ChannelId,
        defaults: Arc<RecognizerDefaults>,
        engines: Arc<Engines>,
        call: CallInfo,
        listener: AudioIn,
        fetcher: Fetcher,
        grammar_max_bytes: usize,
    ) -> Self {
        Self {
            out: Outbox::new(id),
            machine: RecognizerMachine::new(),
            params: ChannelParams::new(defaults.as_headers()),
            defaults,
            // limits.grammar_max_bytes: a larger grammar fails with Completion-Cause 005 (crate::limits).
            store: GrammarStore::new(GrammarLimits {
                max_bytes: grammar_max_bytes,
                ..GrammarLimits::default()
            }),
            engines,
            call,
            prepared: VecDeque::new(),
            stream: None,
            listener,
            heard: Vec::new(),
            engine_audio: Vec::new(),
            frames_dropped: 0,
            heard_input: false,
            waveform: None,
            engine_name: String::new(),
            input_ended_at: None,
            typeahead: TypeAhead::default(),
            fetcher,
            fetching: Fetching::default(),
        }
    }

    /// The channel id.
    pub(crate) fn id(&self) -> &ChannelId {
        self.out.channel()
    }

    /// Whether START-OF-INPUT went out since the last call: the caller started speaking or keying, which
    /// barges in on the session's prompt.
    pub(crate) fn take_heard_input(&mut self) -> bool {
        std::mem::take(&mut self.heard_input)
    }

    /// The next word from the engine or the grammar fetches, for the session's `select!`.
    pub(crate) async fn next_wake(&mut self) -> RecogWake {
        let engine = async {
            match &mut self.stream {
                Some(stream) => stream.next_event().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = engine => RecogWake::Engine(event),
            outcomes = self.fetching.next() => RecogWake::Fetched(outcomes),
        }
    }

    /// Handles what [`Self::next_wake`] returned.
    pub(crate) fn handle_wake(&mut self, now: Instant, wake: RecogWake) {
        match wake {
            RecogWake::Engine(event) => self.handle_engine_event(now, event),
            RecogWake::Fetched(outcomes) => self.handle_fetched(now, outcomes),
        }
    }

    /// Grammars fetched (or not): hand them to the store, then take up the parked request and those
    /// deferred behind it.
    fn handle_fetched(&mut self, now: Instant, outcomes: Vec<FetchOutcome>) {
        for (uri, result) in outcomes {
            match result {
                Ok(document) => {
                    let fetched = StoreFetched {
                        uri: &uri,
                        content_type: document.content_type.as_deref(),
                        body: &document.body,
                        cache_control: document.cache_control.as_deref(),
                        expires: document.expires.as_deref(),
                        date: document.date.as_deref(),
                    };
                    if let Err(error) = self.store.handle_fetched(&fetched, now) {
                        warn!(channel = %self.out.channel(), %uri, %error, "fetched grammar is not valid");
                    }
                }
                Err(error) => {
                    warn!(channel = %self.out.channel(), %error, "grammar fetch failed");
                    self.store.handle_fetch_failed(&uri, &error.to_string());
                }
            }
        }
        while let Some((request, connection)) = self.fetching.next_request() {
            self.handle_request(now, request, connection);
        }
    }

    /// When the machine next needs [`Self::handle_timeout`].
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    /// Fires due timers.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
        self.drain(now);
    }

    /// The connection closed: requests in flight end silently (nobody can hear their events).
    pub(crate) fn connection_closed(&mut self, now: Instant) {
        self.out.disconnect();
        if self.machine.is_recognizing() {
            self.machine.handle_input(
                now,
                MachineInput::Stop {
                    request_id: RequestId(0),
                },
            );
            self.drain(now);
        }
    }

    /// One MRCP request for this channel.
    pub(crate) fn handle_request(
        &mut self,
        now: Instant,
        request: Message,
        connection: ConnectionHandle,
    ) {
        if self.fetching.is_busy() {
            return self.fetching.defer(request, connection);
        }
        self.out.answer_on(connection.clone());
        let StartLine::Request { method, request_id } = &request.start else {
            return;
        };
        let request_id = *request_id;
        debug!(channel = %self.out.channel(), %method, request_id = request_id.0, "MRCP request");
        match method {
            Method::SetParams => match self.params.set_params(&request.headers) {
                Ok(()) => self
                    .out
                    .respond(request_id, StatusCode::SUCCESS, &Headers::new()),
                Err(invalid) => self.out.respond_invalid(request_id, &invalid),
            },
            Method::GetParams => {
                let values = self.params.get_params(&request.headers);
                self.out.respond(request_id, StatusCode::SUCCESS, &values);
            }
            Method::DefineGrammar => self.define_grammar(now, request_id, &request, &connection),
            Method::Recognize => self.recognize(now, request_id, &request, &connection),
            Method::StartInputTimers => self
                .machine
                .handle_input(now, MachineInput::StartInputTimers { request_id }),
            Method::Stop => self
                .machine
                .handle_input(now, MachineInput::Stop { request_id }),
            Method::GetResult => self
                .machine
                .handle_input(now, MachineInput::GetResult { request_id }),
            // §5.3: a method the resource does not have.
            _ => self
                .out
                .respond(request_id, StatusCode::METHOD_NOT_ALLOWED, &Headers::new()),
        }
        self.drain(now);
    }

    /// Decoded audio from the call, at the stream's rate.
    pub(crate) fn handle_audio(&mut self, now: Instant, samples: &[i16]) {
        self.heard.clear();
        self.engine_audio.clear();
        self.listener
            .process(samples, &mut self.heard, &mut self.engine_audio);
        if let Some(waveform) = &mut self.waveform
            && self.machine.is_recognizing()
        {
            let limit = self
                .listener
                .rate()
                .samples_in_ms(MAX_WAVEFORM.as_millis() as u32);
            let room = limit.saturating_sub(waveform.len());
            waveform.extend(samples.iter().take(room));
        }
        for heard in std::mem::take(&mut self.heard) {
            if matches!(heard, Heard::SpeechEnded | Heard::Digit(_)) {
                self.input_ended_at = Some(now);
            }
            let input = match heard {
                Heard::SpeechStarted => MachineInput::SpeechStarted,
                Heard::SpeechEnded => MachineInput::SpeechEnded,
                Heard::Digit(d) if !self.machine.is_recognizing() => {
                    self.typeahead.push(now, d);
                    continue;
                }
                Heard::Digit(d) => MachineInput::Dtmf(d),
            };
            self.machine.handle_input(now, input);
        }
        if let Some(stream) = &self.stream
            && !self.engine_audio.is_empty()
        {
            match stream.try_push(std::mem::take(&mut self.engine_audio)) {
                Ok(()) | Err(PushError::Finished) | Err(PushError::EngineGone) => {}
                Err(PushError::Full) => {
                    self.frames_dropped += 1;
                    if self.frames_dropped.is_power_of_two() {
                        warn!(channel = %self.out.channel(), dropped = self.frames_dropped, "engine behind: audio frames dropped");
                    }
                }
            }
        }
        self.drain(now);
    }

    /// A DTMF digit from RFC 4733 events.
    pub(crate) fn handle_digit(&mut self, now: Instant, digit: char) {
        if !self.machine.is_recognizing() {
            return self.typeahead.push(now, digit);
        }
        self.input_ended_at = Some(now);
        self.machine.handle_input(now, MachineInput::Dtmf(digit));
        self.drain(now);
    }

    /// What the engine said; `None` when its stream ended without a final result.
    fn handle_engine_event(
        &mut self,
        now: Instant,
        event: Option<Result<RecognizerEvent, asr_adapters::EngineError>>,
    ) {
        let input = match event {
            Some(Ok(RecognizerEvent::Final(alternatives))) => {
                debug!(channel = %self.out.channel(), ?alternatives, "engine result");
                if let Some(ended) = self.input_ended_at {
                    metrics::engine_result(&self.engine_name, now.saturating_duration_since(ended));
                }
                MachineInput::EngineResult(self.interpret(&alternatives))
            }
            Some(Ok(RecognizerEvent::SpeechStarted)) => MachineInput::EngineHeardSpeech,
            Some(Ok(RecognizerEvent::Partial { text })) => {
                self.machine
                    .handle_input(now, MachineInput::EngineHeardSpeech);
                self.drain(now);
                return self.intermediate_result(&text);
            }
            // The server's endpointer decides the end of input.
            Some(Ok(RecognizerEvent::SpeechEnded)) => return,
            Some(Err(error)) => {
                warn!(channel = %self.out.channel(), %error, "recognizer engine failed");
                metrics::engine_failed(&error);
                self.stream = None;
                MachineInput::EngineFailed
            }
            None => {
                warn!(channel = %self.out.channel(), "recognizer engine ended without a result");
                metrics::engine_error(&self.engine_name, "no_result");
                self.stream = None;
                MachineInput::EngineFailed
            }
        };
        self.machine.handle_input(now, input);
        self.drain(now);
    }

    fn define_grammar(
        &mut self,
        now: Instant,
        request_id: RequestId,
        request: &Message,
        connection: &ConnectionHandle,
    ) {
        let content_id = match request.headers.get::<ContentId>() {
            Ok(Some(id)) => id.0,
            Ok(None) => {
                // §9.8: DEFINE-GRAMMAR needs a Content-ID to name the grammar.
                return self.out.respond(
                    request_id,
                    StatusCode::MANDATORY_HEADER_MISSING,
                    &Headers::new(),
                );
            }
            Err(invalid) => return self.out.respond_invalid(request_id, &invalid),
        };
        let content_type = request.content_type().unwrap_or("");
        match self
            .store
            .define(&content_id, content_type, &request.body, now)
        {
            Ok(DefineOutcome::Defined | DefineOutcome::Unloaded | DefineOutcome::NotDefined) => {
                let mut headers = Headers::new();
                set_cause(&mut headers, RecognizerCause::Success);
                self.out.respond(request_id, StatusCode::SUCCESS, &headers);
            }
            Ok(DefineOutcome::NeedFetch(uris)) => {
                self.fetch_for(request_id, uris, request, connection);
            }
            Err(error) => self.grammar_failure(request_id, GrammarsPending::from_store(&error)),
        }
    }

    /// Parks a request while the grammars it names are fetched.
    fn fetch_for(
        &mut self,
        request_id: RequestId,
        uris: Vec<String>,
        request: &Message,
        connection: &ConnectionHandle,
    ) {
        debug!(channel = %self.out.channel(), request_id = request_id.0, ?uris, "fetching grammars");
        let parked = self
            .fetching
            .start(&self.fetcher, uris, request.clone(), connection.clone());
        if parked.is_err() {
            self.grammar_failure(
                request_id,
                GrammarsPending::failed(
                    RecognizerCause::UriFailure,
                    format!(
                        "grammar references nest more than {} fetches deep",
                        super::fetching::MAX_FETCH_ROUNDS
                    ),
                ),
            );
        }
    }

    /// Answers a request whose grammar failed: 407 with the Completion-Cause (RFC 6787 §9.8, §9.9), and the
    /// Failed-URI when a fetch failed (§9.4.17).
    fn grammar_failure(&mut self, request_id: RequestId, failure: GrammarsPending) {
        let GrammarsPending::Failed(cause, reason, failed_uri) = failure else {
            return;
        };
        warn!(channel = %self.out.channel(), request_id = request_id.0, cause = cause.code(), reason, "grammar failure");
        self.out
            .respond_failed_uri(request_id, cause.into(), &reason, failed_uri.as_deref());
    }

    fn recognize(
        &mut self,
        now: Instant,
        request_id: RequestId,
        request: &Message,
        connection: &ConnectionHandle,
    ) {
        let grammars = match self.load_grammars(now, request) {
            Ok(g) => g,
            Err(GrammarsPending::Fetch(uris)) => {
                return self.fetch_for(request_id, uris, request, connection);
            }
            Err(failed) => return self.grammar_failure(request_id, failed),
        };
        let grammars = Arc::new(grammars);
        let speech = grammars
            .iter()
            .any(|g| g.grammar.mode() == GrammarMode::Voice);
        let has_dtmf = grammars
            .iter()
            .any(|g| g.grammar.mode() == GrammarMode::Dtmf);
        let engine_request = if speech {
            match self.engine_request(request, &grammars) {
                Ok(r) => Some(r),
                Err(invalid) => return self.out.respond_invalid(request_id, &invalid),
            }
        } else {
            None
        };
        let dtmf: Option<Box<dyn DtmfClassifier>> = has_dtmf.then(|| {
            Box::new(DtmfGrammars {
                grammars: grammars.clone(),
                limits: self.store.limits().clone(),
            }) as Box<dyn DtmfClassifier>
        });
        let mut params = match recognizer::resolve(
            &self.params,
            &request.headers,
            &self.defaults,
            ActiveInputs { speech, dtmf },
        ) {
            Ok(p) => p,
            Err(invalid) => return self.out.respond_invalid(request_id, &invalid),
        };
        params.speech_too_early =
            speech && self.defaults.speech_too_early && self.listener.in_speech();
        self.waveform = match self.params.effective::<SaveWaveform>(&request.headers) {
            Ok(save) => save.is_some_and(|s| s.0).then(Vec::new),
            Err(invalid) => return self.out.respond_invalid(request_id, &invalid),
        };
        // Sensitivity-Level applies to this request only; without one the endpointer's default returns.
        match self.params.effective::<SensitivityLevel>(&request.headers) {
            Ok(level) => self.listener.set_sensitivity(level.map(|l| l.0.get())),
            Err(invalid) => return self.out.respond_invalid(request_id, &invalid),
        }
        let buffer_time = match (
            self.params.effective::<ClearDtmfBuffer>(&request.headers),
            self.params.effective::<DtmfBufferTime>(&request.headers),
        ) {
            (Ok(clear), Ok(time)) => {
                if clear.is_some_and(|c| c.0) {
                    self.typeahead.clear();
                }
                time.map_or(
                    Duration::from_millis(self.defaults.dtmf_buffer_time_ms),
                    |t| t.0,
                )
            }
            (Err(invalid), _) | (_, Err(invalid)) => {
                return self.out.respond_invalid(request_id, &invalid);
            }
        };
        let intermediate_results = match self.params.vendor_parameters(&request.headers) {
            Ok(vendor) => vendor
                .get(INTERMEDIATE_PARAMETER)
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            Err(invalid) => return self.out.respond_invalid(request_id, &invalid),
        };
        self.input_ended_at = None;
        self.prepared.push_back(Prepared {
            request_id,
            grammars,
            engine_request,
            intermediate_results,
        });
        self.machine
            .handle_input(now, MachineInput::Recognize { request_id, params });
        // The digits keyed ahead go to this recognition first (§9.4: "it MUST look to this buffer").
        if has_dtmf && self.machine.is_recognizing() {
            for digit in self.typeahead.take(now, buffer_time) {
                self.input_ended_at = Some(now);
                self.machine.handle_input(now, MachineInput::Dtmf(digit));
            }
        }
    }

    /// The grammars of a RECOGNIZE: inline (defined under its Content-ID, or an anonymous one) or referenced by
    /// a `text/uri-list` body; none means the grammars of earlier DEFINE-GRAMMARs are not implied (§9.9).
    fn load_grammars(
        &mut self,
        now: Instant,
        request: &Message,
    ) -> Result<Vec<ResolvedGrammar>, GrammarsPending> {
        let body = String::from_utf8_lossy(&request.body);
        let content_type = request
            .content_type()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let refs = if request.body.is_empty() {
            return Err(GrammarsPending::failed(
                RecognizerCause::GrammarLoadFailure,
                "RECOGNIZE has no grammar",
            ));
        } else if content_type.starts_with("text/uri-list") {
            parse_uri_list(&body)
        } else {
            let id = match request.headers.get::<ContentId>() {
                Ok(Some(id)) => id.0,
                _ => format!("inline-{}", request.request_id().0),
            };
            let ct = request.content_type().unwrap_or("");
            if let DefineOutcome::NeedFetch(uris) = self
                .store
                .define(&id, ct, &request.body, now)
                .map_err(|e| GrammarsPending::from_store(&e))?
            {
                return Err(GrammarsPending::Fetch(uris));
            }
            parse_uri_list(&format!("session:{id}"))
        };
        match self.store.resolve(&refs, now) {
            Ok(Resolution::Ready(grammars)) if !grammars.is_empty() => Ok(grammars),
            Ok(Resolution::Ready(_)) => Err(GrammarsPending::failed(
                RecognizerCause::GrammarLoadFailure,
                "no grammar in the request",
            )),
            Ok(Resolution::NeedFetch(uris)) => Err(GrammarsPending::Fetch(uris)),
            Err(e) => Err(GrammarsPending::from_store(&e)),
        }
    }

    fn engine_request(
        &self,
        request: &Message,
        grammars: &[ResolvedGrammar],
    ) -> Result<RecognitionRequest, mrcp_proto::mrcp::InvalidHeader> {
        let voice: Vec<&ResolvedGrammar> = grammars
            .iter()
            .filter(|g| g.grammar.mode() == GrammarMode::Voice)
            .collect();
        let constraint = if voice.iter().any(|g| g.grammar.is_dictation()) {
            Constraint::Dictation
        } else {
            let mut words: Vec<String> = voice.iter().flat_map(|g| word_list(&g.grammar)).collect();
            words.sort();
            words.dedup();
            let alternatives: Vec<String> = voice
                .iter()
                .enumerate()
                .map(|(i, g)| to_jsgf(&g.grammar, &format!("g{i}")))
                .collect();
            Constraint::Grammars(CompiledGrammars {
                jsgf: union_jsgf(&alternatives),
                words,
                phrases: voice
                    .iter()
                    .flat_map(|g| phrase_list(&g.grammar, 200))
                    .collect(),
            })
        };
        Ok(RecognitionRequest {
            language: self
                .params
                .effective::<SpeechLanguage>(&request.headers)?
                .map(|l| l.0),
            constraint,
            n_best: self
                .params
                .effective::<NBestListLength>(&request.headers)?
                .map_or(1, |n| n.0.get()),
            vendor_parameters: self
                .params
                .vendor_parameters(&request.headers)?
                .0
                .into_iter()
                .map(|p| (p.name, p.value.unwrap_or_default()))
                .collect(),
        })
    }

    /// Interprets an engine's n-best list against the running request's grammars.
    fn interpret(&self, alternatives: &[Alternative]) -> EngineOutcome<Nlsml> {
        let Some(prepared) = self.prepared.front() else {
            return EngineOutcome::NoMatch { result: None };
        };
        let transcripts: Vec<Transcript> = alternatives
            .iter()
            .map(|a| Transcript {
                text: a.text.clone(),
                confidence: a.confidence,
            })
            .collect();
        let heard = transcripts.first().map(|t| t.text.clone());
        match match_transcripts(
            &active(&prepared.grammars),
            &transcripts,
            &MatchOptions::default(),
        ) {
            MatchOutcome::Match(matches) => {
                let confidence = matches.first().map_or(0.0, |m| m.confidence);
                EngineOutcome::Match {
                    confidence,
                    result: nlsml_of(&matches),
                }
            }
            MatchOutcome::NoMatch { .. } => EngineOutcome::NoMatch {
                result: heard.map(|_| Nlsml::no_match(Some(InputMode::Speech))),
            },
        }
    }

    /// Carries out the machine's outputs.
    fn drain(&mut self, now: Instant) {
        while let Some(output) = self.machine.poll_output() {
            match output {
                Output::Response {
                    request_id,
                    status,
                    state,
                    active_request_ids,
                    result,
                } => {
                    let mut headers = Headers::new();
                    if !active_request_ids.is_empty() {
                        let _ = headers.set(&ActiveRequestIdList(active_request_ids));
                    }
                    let mut message = self.out.response(request_id, status, state, &headers);
                    if let Some(outcome) = result {
                        self.attach_result(&mut message, &outcome);
                    }
                    self.out.send(message);
                }
                Output::StartOfInput { request_id, input } => {
                    let mut headers = Headers::new();
                    let kind = match input {
                        InputKind::Speech => InputType::Speech,
                        InputKind::Dtmf => InputType::Dtmf,
                    };
                    let _ = headers.set(&InputTypeHeader(kind));
                    let message = self.out.event(
                        EventName::StartOfInput,
                        request_id,
                        RequestState::InProgress,
                        &headers,
                    );
                    self.out.send(message);
                    self.heard_input = true;
                }
                Output::RecognitionComplete {
                    request_id,
                    cause,
                    outcome,
                } => {
                    let mut headers = Headers::new();
                    set_cause(&mut headers, cause);
                    if let Some(ended) = self.input_ended_at.take() {
                        metrics::recognition_latency(now.saturating_duration_since(ended));
                    }
                    match self.save_waveform(request_id) {
                        Some(Ok(uri)) => {
                            let _ = headers.set(&WaveformUri(uri));
                        }
                        // §9.4.30: empty when an error kept the server from recording.
                        Some(Err(())) => {
                            let _ = headers.set_raw("Waveform-Uri", "");
                        }
                        None => {}
                    }
                    let mut message = self.out.event(
                        EventName::RecognitionComplete,
                        request_id,
                        RequestState::Complete,
                        &headers,
                    );
                    self.attach_result(&mut message, &outcome);
                    self.out.send(message);
                    if self
                        .prepared
                        .front()
                        .is_some_and(|p| p.request_id == request_id)
                    {
                        self.prepared.pop_front();
                    }
                    self.listener.reset();
                }
                Output::StartEngine { request_id } => self.start_engine(now, request_id),
                Output::FinishEngineInput { .. } => {
                    if let Some(stream) = &mut self.stream {
                        stream.finish();
                    }
                }
                Output::CancelEngine { request_id } => {
                    self.stream = None;
                    // A STOP ends queued requests too: forget their grammars.
                    if !self.machine.is_recognizing() {
                        self.prepared.clear();
                    } else if self
                        .prepared
                        .front()
                        .is_some_and(|p| p.request_id != request_id)
                    {
                        self.prepared.pop_front();
                    }
                }
            }
        }
    }

    fn start_engine(&mut self, now: Instant, request_id: RequestId) {
        // The running request is at the front once the one before it has ended.
        while self
            .prepared
            .front()
            .is_some_and(|p| p.request_id != request_id)
        {
            self.prepared.pop_front();
        }
        let Some(request) = self.prepared.front().and_then(|p| p.engine_request.clone()) else {
            return;
        };
        let route = RouteContext {
            resource: self.out.channel().resource(),
            language: request.language.as_deref(),
            request_uri_user: self.call.request_uri_user.as_deref(),
            user_agent: self.call.user_agent.as_deref(),
            vendor_parameters: &request.vendor_parameters,
        };
        let Some(engine) = self.engines.recognizer(&route) else {
            warn!(channel = %self.out.channel(), "no recognizer engine for this request");
            metrics::engine_error("none", "unavailable");
            self.machine.handle_input(now, MachineInput::EngineFailed);
            return;
        };
        let rate = mrcp_media::codec::SampleRate(engine.capabilities().sample_rate);
        if let Err(error) = self.listener.set_engine_rate(rate) {
            warn!(channel = %self.out.channel(), %error, "cannot resample to the engine's rate");
            self.machine.handle_input(now, MachineInput::EngineFailed);
            return;
        }
        if let Constraint::Grammars(g) = &request.constraint {
            debug!(channel = %self.out.channel(), jsgf = ?g.jsgf, "engine grammar");
        }
        self.engine_name = engine.name().to_owned();
        metrics::engine_request(engine.name(), "speechrecog");
        // An engine is a guest: even a panic in `start` ends only this request (design rule 3).
        let started =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.start(request)));
        let Ok(started) = started else {
            warn!(channel = %self.out.channel(), engine = engine.name(), "recognizer engine panicked");
            metrics::engine_error(engine.name(), "panic");
            self.machine.handle_input(now, MachineInput::EngineFailed);
            return;
        };
        match started {
            Ok(stream) => self.stream = Some(Counted::new(LiveKind::EngineStream, stream)),
            Err(error) => {
                warn!(channel = %self.out.channel(), %error, "recognizer engine refused the request");
                metrics::engine_failed(&error);
                self.machine.handle_input(now, MachineInput::EngineFailed);
            }
        }
    }

    /// Writes the recording of a finished RECOGNIZE that asked for Save-Waveform to the waveform directory
    /// (off the async workers when the runtime has several) and returns the URI to report
    /// (`file://…;size=…;duration=…`, as FreeSWITCH reads it), or `Err` when the write failed (disk full, no
    /// permission): that is logged, the partial file removed, and the event carries an empty Waveform-URI.
    fn save_waveform(&mut self, request_id: RequestId) -> Option<Result<MediaUri, ()>> {
        let samples = self.waveform.take()?;
        let rate = self.listener.rate();
        let name = format!("{}-{}.wav", self.out.channel().session_id(), request_id.0);
        let path = self.defaults.waveform_dir.join(name);
        let duration =
            Duration::from_millis(samples.len() as u64 * 1000 / u64::from(rate.0.max(1)));
        let size = samples.len() as u64 * 2 + 44;
        let uri = format!("file://{}", path.display());
        let write = || {
            path.parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    // Written aside and renamed, so a reader of the URI never sees half a file.
                    let partial = path.with_extension("wav.part");
                    let written = WavAudio { rate, samples }
                        .write(&partial)
                        .map_err(|e| e.to_string())
                        .and_then(|()| std::fs::rename(&partial, &path).map_err(|e| e.to_string()));
                    if written.is_err() {
                        // A full disk must not keep the half file either.
                        let _ = std::fs::remove_file(&partial);
                    }
                    written
                })
        };
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let written = if multi_thread {
            tokio::task::block_in_place(write)
        } else {
            write()
        };
        if let Err(error) = written {
            warn!(path = %path.display(), %error, "cannot save the waveform: check [recognizer] waveform_dir");
            metrics::engine_error("waveform", "write_failed");
            return Some(Err(()));
        }
        Some(Ok(MediaUri {
            uri,
            size: Some(size),
            duration: Some(duration),
            other: Vec::new(),
        }))
    }

    /// An engine's interim text as INTERMEDIATE-RESULT (IN-PROGRESS, NLSML with the text as input), for a
    /// running RECOGNIZE whose client asked for them.
    fn intermediate_result(&mut self, text: &str) {
        let Some(prepared) = self.prepared.front() else {
            return;
        };
        if !prepared.intermediate_results || !self.machine.is_recognizing() || text.is_empty() {
            return;
        }
        let nlsml = Nlsml::new(vec![Interpretation {
            grammar: None,
            confidence: None,
            instance: None,
            input: Some(Input::speech(text.to_owned())),
        }]);
        let mut message = self.out.event(
            EventName::IntermediateResult,
            prepared.request_id,
            RequestState::InProgress,
            &Headers::new(),
        );
        if let Ok(xml) = nlsml.to_xml(&WriteOptions::default()) {
            let _ = message.set_body(NLSML_TYPE, Bytes::from(xml));
        }
        self.out.send(message);
    }

    /// Writes the NLSML of an outcome into a RECOGNITION-COMPLETE or GET-RESULT response.
    fn attach_result(&self, message: &mut Message, outcome: &Outcome<Nlsml>) {
        let nlsml = match outcome {
            Outcome::Speech(Some(nlsml)) => Some(nlsml.clone()),
            Outcome::Dtmf(digits) => Some(self.dtmf_nlsml(digits)),
            Outcome::Speech(None) | Outcome::None => None,
        };
        if let Some(xml) = nlsml.and_then(|n| n.to_xml(&WriteOptions::default()).ok()) {
            let _ = message.set_body(NLSML_TYPE, Bytes::from(xml));
        }
    }

    fn dtmf_nlsml(&self, digits: &str) -> Nlsml {
        let matched = self.prepared.front().and_then(|p| {
            match match_dtmf(&active(&p.grammars), digits, self.store.limits()) {
                DtmfOutcome::Complete { matched, .. } => Some(matched),
                DtmfOutcome::Incomplete | DtmfOutcome::NoMatch => None,
            }
        });
        match matched {
            Some(m) => nlsml_of(std::slice::from_ref(&m)),
            None => Nlsml::no_match(Some(InputMode::Dtmf)),
        }
    }
}

fn set_cause(headers: &mut Headers, cause: RecognizerCause) {
    let _ = headers.set(&CompletionCause::from(cause));
}

/// One NLSML result from grammar matches, best first.
fn nlsml_of(matches: &[GrammarMatch]) -> Nlsml {
    Nlsml::new(
        matches
            .iter()
            .map(|m| Interpretation {
                grammar: Some(m.grammar_id.clone()),
                confidence: Some(m.confidence),
                instance: Some(m.instance.clone()),
                input: Some(match m.mode {
                    GrammarMode::Dtmf => Input::dtmf(m.input.clone()),
                    GrammarMode::Voice => Input::speech(m.input.clone()),
                }),
            })
            .collect(),
    )
}

/// Joins the JSGF of several grammars into one whose public rule accepts any of them. Each grammar's rules
/// get the prefix `g<i>_` (rule names from [`to_jsgf`] are `[A-Za-z0-9_]`, so `<name>` is unambiguous), and
/// the public rules become alternatives of `<union>`.
fn union_jsgf(grammars: &[String]) -> String {
    if let [single] = grammars {
        return single.clone();
    }
    let mut rules = String::new();
    let mut roots = Vec::new();
    for (i, text) in grammars.iter().enumerate() {
        let body: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("#JSGF") && !l.starts_with("grammar "))
            .collect();
        let defined: Vec<String> = body
            .iter()
            .filter_map(|l| {
                l.trim_start_matches("public ")
                    .strip_prefix('<')?
                    .split_once('>')
                    .map(|(n, _)| n.to_owned())
            })
            .collect();
        for line in body {
            let mut line = line.to_owned();
            for name in &defined {
                line = line.replace(&format!("<{name}>"), &format!("<g{i}_{name}>"));
            }
            if let Some(rest) = line.strip_prefix("public ") {
                if let Some((root, _)) = rest.split_once('=') {
                    roots.push(root.trim().to_owned());
                }
                line = rest.to_owned();
            }
            rules.push_str(&line);
            rules.push('\n');
        }
    }
    format!(
        "#JSGF V1.0;\ngrammar union;\npublic <union> = {};\n{rules}",
        roots.join(" | ")
    )
}
