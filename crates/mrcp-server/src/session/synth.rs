//! One speechsynth channel of a session: MRCP requests in, the [`SynthesizerMachine`] in the middle, the
//! engine's audio resampled to the call's rate and handed to the RTP endpoint's paced sender, SPEAK-COMPLETE
//! once the last packet has left.
//!
//! Audio is fed to the endpoint only a little ahead of real time ([`LOOKAHEAD`]), so PAUSE, STOP and
//! barge-in act within that margin and a long prompt never sits whole in the sender's queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use mrcp_media::codec::SampleRate;
use mrcp_media::endpoint::MediaCommand;
use mrcp_media::pacer::PromptId;
use mrcp_media::resample::StreamResampler;
use mrcp_proto::engine::EngineError;
use mrcp_proto::mrcp::header::{
    ActiveRequestIdList, Header, JumpSize, KillOnBargeIn, ProsodyRateHeader, ProsodyVolumeHeader,
    SpeakLength, SpeakRestart, SpeechLanguage, SynthesizerCause, VoiceAge, VoiceGenderHeader,
    VoiceName, VoiceVariant,
};
use mrcp_proto::mrcp::{
    ChannelId, EventName, Headers, InvalidHeader, Message, Method, RequestId, RequestState,
    StartLine, StatusCode,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};
use tts_adapters::{
    SynthesisEvent, SynthesisFailure, SynthesisStream, failure_of, gender_from_header,
    rate_from_header, volume_from_header,
};

use super::fetching::{FetchOutcome, Fetching};
use super::outbox::{Outbox, sanitize};
use super::prompt_content::{self, ContentFailure, FetchedPrompts, SpeakContent};
use super::recog::CallInfo;
use crate::control::ConnectionHandle;
use crate::engines::Engines;
use crate::fetch::Fetcher;
use crate::params::ChannelParams;
use crate::resources::{Counted, LiveKind};
use crate::routing::RouteContext;
use crate::synthesizer::{ControlAction, Input, Output, SpeakParams, SynthesizerMachine};

/// How far ahead of real time audio is handed to the paced sender.
const LOOKAHEAD: Duration = Duration::from_millis(300);

/// When more audio is wanted, up to this much more than [`LOOKAHEAD`] is taken from what the engine has
/// ready and handed over in one command: a prompt costs the session and the endpoint one wake per batch
/// rather than per 20 ms frame.
const FEED_BATCH: Duration = Duration::from_millis(100);

/// SPEAK-COMPLETE goes out this long after the prompt's audio ends at the receiver, so the caller's jitter
/// buffer has played it (reference §12 row 4: FreeSWITCH lost the tail when the event came first).
const COMPLETION_GUARD: Duration = Duration::from_millis(40);

/// The vendor parameter that asks for SPEECH-MARKER events (off by default: FreeSWITCH and Asterisk treat
/// any event but SPEAK-COMPLETE as an error).
const MARKS_PARAMETER: &str = "speech-markers";

/// What a SPEAK asked for, kept from the request until it ends.
struct Prepared {
    /// The engine request, or why the content cannot be spoken.
    request: Result<SpeakContent, ContentFailure>,
}

/// The prompt being spoken.
struct Playing {
    request_id: RequestId,
    stream: Option<Counted<SynthesisStream>>,
    resampler: Option<StreamResampler>,
    engine_rate: u32,
    /// When the prompt's audio started, moved forward by the time spent paused.
    started: Instant,
    /// Audio handed to the sender so far.
    sent: Duration,
    paused_at: Option<Instant>,
    /// When SPEAK-COMPLETE is due, once the sender reported the last packet.
    complete_at: Option<Instant>,
    /// Resolves once the IN-PROGRESS response is on the wire; no audio goes to the sender before, since
    /// UniMRCP clients drop packets that arrive ahead of it (reference §12).
    response_written: Option<oneshot::Receiver<()>>,
}

impl Playing {
    /// Whether a feed begun at `now` takes more: the sender holds less than [`LOOKAHEAD`] plus
    /// [`FEED_BATCH`].
    fn wants_more(&self, now: Instant) -> bool {
        self.feed_at().is_some() && self.started + self.sent < now + LOOKAHEAD + FEED_BATCH
    }

    /// When more audio is wanted: now, if the sender has less than [`LOOKAHEAD`] queued.
    fn feed_at(&self) -> Option<Instant> {
        if self.stream.is_none() || self.paused_at.is_some() || self.response_written.is_some() {
            return None;
        }
        Some(
            (self.started + self.sent)
                .checked_sub(LOOKAHEAD)
                .unwrap_or(self.started),
        )
    }
}

/// A speechsynth channel.
pub(crate) struct SynthChannel {
    out: Outbox,
    machine: SynthesizerMachine,
    params: ChannelParams,
    engines: Arc<Engines>,
    call: CallInfo,
    prepared: HashMap<RequestId, Prepared>,
    playing: Option<Playing>,
    media: mpsc::Sender<MediaCommand>,
    codec_rate: SampleRate,
    /// Fetches prompts named by URI.
    fetcher: Fetcher,
    /// The SPEAK waiting on fetched prompts, and the requests behind it.
    fetching: Fetching,
    /// What was fetched for that SPEAK.
    prompts: FetchedPrompts,
}

/// What woke a synthesizer channel besides MRCP requests and timers.
pub(crate) enum SynthWake {
    /// The engine's next event; `None` when its stream ended.
    Engine(Option<Result<SynthesisEvent, EngineError>>),
    /// Prompt fetches finished.
    Fetched(Vec<FetchOutcome>),
    /// The playing prompt's IN-PROGRESS response has been written: its audio may flow.
    ResponseWritten,
}

impl SynthChannel {
    pub(crate) fn new(
        id: ChannelId,
        engines: Arc<Engines>,
        call: CallInfo,
        media: mpsc::Sender<MediaCommand>,
        codec_rate: SampleRate,
        fetcher: Fetcher,
    ) -> Self {
        Self {
            out: Outbox::new(id),
            machine: SynthesizerMachine::new(),
            params: ChannelParams::new(Headers::new()),
            engines,
            call,
            prepared: HashMap::new(),
            playing: None,
            media,
            codec_rate,
            fetcher,
            fetching: Fetching::default(),
            prompts: FetchedPrompts::new(),
        }
    }

    /// The channel id.
    pub(crate) fn id(&self) -> &ChannelId {
        self.out.channel()
    }

    /// Whether a prompt is playing (a session speaking to a silent caller is not idle).
    pub(crate) fn is_speaking(&self) -> bool {
        self.playing.is_some()
    }

    /// The next word from the engine (when the channel wants audio now) or the prompt fetches, for the
    /// session's `select!`.
    pub(crate) async fn next_wake(&mut self, now: Instant) -> SynthWake {
        let (written, stream) = match self.playing.as_mut() {
            Some(p) => {
                let feed = p.feed_at().is_some_and(|at| at <= now);
                (
                    p.response_written.as_mut(),
                    p.stream.as_mut().filter(|_| feed),
                )
            }
            None => (None, None),
        };
        let engine = async {
            match stream {
                Some(stream) => stream.next_event().await,
                None => std::future::pending().await,
            }
        };
        // A connection that closed before writing lets the audio go too: there is no client to order it for.
        let written = async {
            match written {
                Some(written) => {
                    let _ = written.await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = engine => SynthWake::Engine(event),
            () = written => SynthWake::ResponseWritten,
            outcomes = self.fetching.next() => SynthWake::Fetched(outcomes),
        }
    }

    /// Handles what [`Self::next_wake`] returned.
    pub(crate) fn handle_wake(&mut self, now: Instant, wake: SynthWake) {
        match wake {
            SynthWake::Engine(event) => self.handle_engine_event(now, event),
            SynthWake::ResponseWritten => {
                if let Some(p) = &mut self.playing {
                    p.response_written = None;
                    // Real time starts with the first audio handed over.
                    p.started = now;
                }
            }
            SynthWake::Fetched(outcomes) => {
                self.prompts.extend(outcomes);
                while let Some((request, connection)) = self.fetching.next_request() {
                    self.handle_request(now, request, connection);
                }
            }
        }
    }

    /// When [`Self::handle_timeout`] must next run: more audio wanted, or SPEAK-COMPLETE due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let playing = self.playing.as_ref()?;
        [playing.feed_at(), playing.complete_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Sends SPEAK-COMPLETE when due (wanting audio needs no action here: the session reads the stream).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self
            .playing
            .as_ref()
            .and_then(|p| p.complete_at)
            .is_some_and(|at| at <= now)
        {
            self.machine.handle_input(Input::PromptDone);
            self.drain(now);
        }
    }

    /// The connection closed: prompts end silently.
    pub(crate) fn connection_closed(&mut self, now: Instant) {
        self.out.disconnect();
        self.machine.handle_input(Input::Stop {
            request_id: RequestId(0),
            targets: None,
        });
        self.drain(now);
    }

    /// The session's recognizer heard the caller: a prompt with Kill-On-Barge-In stops.
    pub(crate) fn barge_in(&mut self, now: Instant) {
        self.machine.handle_input(Input::LocalBargeIn);
        self.drain(now);
    }

    /// The endpoint reports that a prompt's last packet left.
    pub(crate) fn prompt_finished(&mut self, prompt: PromptId, audio_end: Instant, stopped: bool) {
        if let Some(playing) = &mut self.playing
            && u64::from(playing.request_id.0) == prompt.0
            && !stopped
        {
            playing.complete_at = Some(audio_end + COMPLETION_GUARD);
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
        if matches!(
            request.start,
            StartLine::Request {
                method: Method::Speak,
                ..
            }
        ) && self.prompts.is_empty()
        {
            let uris = prompt_content::uris_to_fetch(&request);
            if !uris.is_empty() {
                debug!(channel = %self.id(), ?uris, "fetching prompts");
                // A SPEAK needs one round: what it names is all there is to fetch.
                let _ = self
                    .fetching
                    .start(&self.fetcher, uris, request, connection);
                return;
            }
        }
        self.out.answer_on(connection);
        let StartLine::Request { method, request_id } = &request.start else {
            return;
        };
        let request_id = *request_id;
        debug!(channel = %self.id(), %method, request_id = request_id.0, "MRCP request");
        let input = match method {
            Method::SetParams => {
                match self.params.set_params(&request.headers) {
                    Ok(()) => self
                        .out
                        .respond(request_id, StatusCode::SUCCESS, &Headers::new()),
                    Err(invalid) => self.out.respond_invalid(request_id, &invalid),
                }
                None
            }
            Method::GetParams => {
                let values = self.params.get_params(&request.headers);
                self.out.respond(request_id, StatusCode::SUCCESS, &values);
                None
            }
            Method::Speak => match self.speak(request_id, &request) {
                Ok(params) => Some(Input::Speak { request_id, params }),
                Err(invalid) => {
                    self.out.respond_invalid(request_id, &invalid);
                    None
                }
            },
            Method::Stop => match request.headers.get::<ActiveRequestIdList>() {
                Ok(list) => Some(Input::Stop {
                    request_id,
                    targets: list.map(|l| l.0),
                }),
                Err(invalid) => {
                    self.out.respond_invalid(request_id, &invalid);
                    None
                }
            },
            Method::Pause => Some(Input::Pause { request_id }),
            Method::Resume => Some(Input::Resume { request_id }),
            Method::BargeInOccurred => Some(Input::BargeInOccurred { request_id }),
            Method::Control => Some(Input::Control {
                request_id,
                action: control_action(&request.headers),
            }),
            Method::DefineLexicon => {
                // §8.16: no engine of this server takes lexicons yet.
                let cause = SynthesizerCause::LexiconLoadFailure;
                self.out.respond_failed(
                    request_id,
                    cause.into(),
                    "the synthesizer takes no lexicons",
                );
                None
            }
            // §5.3: a method the resource does not have.
            _ => {
                self.out
                    .respond(request_id, StatusCode::METHOD_NOT_ALLOWED, &Headers::new());
                None
            }
        };
        if let Some(input) = input {
            self.machine.handle_input(input);
        }
        self.drain(now);
    }

    /// What the engine produced.
    pub(crate) fn handle_engine_event(
        &mut self,
        now: Instant,
        event: Option<Result<SynthesisEvent, EngineError>>,
    ) {
        let Some(playing) = &mut self.playing else {
            return;
        };
        let mut event = event;
        // Audio ready in the stream joins this feed, up to the batch, in one command.
        let mut batch = Vec::new();
        while let Some(Ok(SynthesisEvent::Audio(samples))) = &event {
            playing.sent +=
                Duration::from_secs_f64(samples.len() as f64 / f64::from(playing.engine_rate));
            match &mut playing.resampler {
                // Frames of any length are accepted; a failure would lose only this frame.
                Some(r) => {
                    let _ = r.process(samples, &mut batch);
                }
                None => batch.extend_from_slice(samples),
            }
            if !playing.wants_more(now) {
                break;
            }
            event = match playing.stream.as_mut().map(|s| s.try_next_event()) {
                Some(Poll::Ready(next)) => next,
                _ => break,
            };
        }
        if !batch.is_empty() {
            self.command(MediaCommand::Audio(batch));
        }
        let Some(playing) = &mut self.playing else {
            return;
        };
        match event {
            // Taken into the batch above.
            Some(Ok(SynthesisEvent::Audio(_))) => {}
            Some(Ok(SynthesisEvent::Mark(name))) => {
                self.machine.handle_input(Input::Mark { name });
            }
            Some(Ok(SynthesisEvent::Done)) => {
                if let Some(mut resampler) = playing.resampler.take() {
                    let mut tail = Vec::new();
                    let _ = resampler.flush(&mut tail);
                    if !tail.is_empty() {
                        self.command(MediaCommand::Audio(tail));
                    }
                }
                if let Some(playing) = &mut self.playing {
                    playing.stream = None;
                }
                self.command(MediaCommand::EndPrompt);
            }
            Some(Err(error)) => {
                warn!(channel = %self.id(), %error, "synthesizer engine failed");
                crate::metrics::engine_failed(&error);
                self.fail(cause_of(&error));
            }
            None => {
                warn!(channel = %self.id(), "synthesizer engine ended without finishing the prompt");
                self.fail(SynthesizerCause::Error);
            }
        }
        self.drain(now);
    }

    fn fail(&mut self, cause: SynthesizerCause) {
        self.command(MediaCommand::Stop);
        self.machine.handle_input(Input::PromptFailed { cause });
    }

    /// Reads a SPEAK: its machine parameters, and the engine request (or why the content cannot be spoken,
    /// reported as SPEAK-COMPLETE when its turn comes).
    fn speak(
        &mut self,
        request_id: RequestId,
        request: &Message,
    ) -> Result<SpeakParams, InvalidHeader> {
        let headers = &request.headers;
        let p = &self.params;
        let vendor = p.vendor_parameters(headers)?;
        let report_marks = vendor
            .get(MARKS_PARAMETER)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let params = SpeakParams {
            // §8.4: Kill-On-Barge-In defaults to true.
            kill_on_barge_in: p.effective::<KillOnBargeIn>(headers)?.is_none_or(|k| k.0),
            report_marks,
        };
        let content = prompt_content::content(request, &std::mem::take(&mut self.prompts));
        let request = match content {
            Ok(mut content) => {
                let req = &mut content.request;
                req.voice.name = p.effective::<VoiceName>(headers)?.map(|v| v.0);
                req.voice.gender = p
                    .effective::<VoiceGenderHeader>(headers)?
                    .map(|g| gender_from_header(g.0));
                req.voice.age = p.effective::<VoiceAge>(headers)?.map(|a| a.0);
                req.voice.variant = p.effective::<VoiceVariant>(headers)?.map(|v| v.0);
                req.language = p.effective::<SpeechLanguage>(headers)?.map(|l| l.0);
                req.rate = p
                    .effective::<ProsodyRateHeader>(headers)?
                    .map(|r| rate_from_header(r.0));
                req.volume = p
                    .effective::<ProsodyVolumeHeader>(headers)?
                    .map(|v| volume_from_header(v.0));
                req.vendor_parameters = vendor
                    .0
                    .into_iter()
                    .map(|v| (v.name, v.value.unwrap_or_default()))
                    .collect();
                Ok(content)
            }
            Err(failure) => Err(failure),
        };
        self.prepared.insert(request_id, Prepared { request });
        Ok(params)
    }

    /// Carries out the machine's outputs.
    fn drain(&mut self, now: Instant) {
        // The IN-PROGRESS response sent in this step, for the prompt the same step starts to wait on.
        let mut in_progress_written = None;
        while let Some(output) = self.machine.poll_output() {
            match output {
                Output::Response {
                    request_id,
                    status,
                    state,
                    active_request_ids,
                    unsupported_header,
                } => {
                    let mut headers = Headers::new();
                    if !active_request_ids.is_empty() {
                        let _ = headers.set(&ActiveRequestIdList(active_request_ids.clone()));
                    }
                    if let Some(name) = unsupported_header {
                        let _ = headers.set_raw(name, "unsupported");
                    }
                    let message = self.out.response(request_id, status, state, &headers);
                    if state == RequestState::InProgress {
                        in_progress_written = self.out.send_then_notify(message);
                    } else {
                        self.out.send(message);
                    }
                    for id in active_request_ids {
                        self.prepared.remove(&id);
                    }
                }
                Output::SpeechMarker { request_id, name } => {
                    let mut headers = Headers::new();
                    let _ = headers.set_raw("Speech-Marker", &format!("timestamp=0;{name}"));
                    let message = self.out.event(
                        EventName::SpeechMarker,
                        request_id,
                        RequestState::InProgress,
                        &headers,
                    );
                    self.out.send(message);
                }
                Output::SpeakComplete { request_id, cause } => {
                    let mut headers = Headers::new();
                    let _ = headers.set(&mrcp_proto::mrcp::header::CompletionCause::from(cause));
                    if let Some(Prepared {
                        request: Err(failure),
                    }) = self.prepared.get(&request_id)
                    {
                        let _ = headers.set_raw("Completion-Reason", &sanitize(&failure.reason));
                        if let Some(uri) = &failure.failed_uri {
                            let _ = headers.set_raw("Failed-URI", &sanitize(uri));
                        }
                    }
                    let message = self.out.event(
                        EventName::SpeakComplete,
                        request_id,
                        RequestState::Complete,
                        &headers,
                    );
                    self.out.send(message);
                    self.prepared.remove(&request_id);
                    if self
                        .playing
                        .as_ref()
                        .is_some_and(|p| p.request_id == request_id)
                    {
                        self.playing = None;
                    }
                }
                Output::StartPrompt { request_id } => {
                    self.start_prompt(now, request_id, in_progress_written.take());
                }
                Output::StopPrompt { request_id } => {
                    if self
                        .playing
                        .as_ref()
                        .is_some_and(|p| p.request_id == request_id)
                    {
                        self.playing = None;
                        self.command(MediaCommand::Stop);
                    }
                }
                Output::PauseAudio => {
                    if let Some(p) = &mut self.playing {
                        p.paused_at.get_or_insert(now);
                    }
                    // The sender holds what it has queued, so the caller hears nothing more (§8.11).
                    self.command(MediaCommand::Pause);
                }
                Output::ResumeAudio => {
                    if let Some(p) = &mut self.playing
                        && let Some(at) = p.paused_at.take()
                    {
                        p.started += now.saturating_duration_since(at);
                    }
                    self.command(MediaCommand::Resume);
                }
                Output::RestartPrompt { request_id } => {
                    self.playing = None;
                    self.command(MediaCommand::Stop);
                    self.start_prompt(now, request_id, None);
                }
            }
        }
    }

    /// The SPEAK's content cannot be spoken: SPEAK-COMPLETE carries the cause, and the reason and Failed-URI
    /// kept in `prepared` for it.
    fn content_failed(&mut self, request_id: RequestId, failure: ContentFailure) {
        warn!(channel = %self.id(), request_id = request_id.0, reason = failure.reason, "SPEAK content refused");
        let cause = failure.cause;
        self.prepared.insert(
            request_id,
            Prepared {
                request: Err(failure),
            },
        );
        self.machine.handle_input(Input::PromptFailed { cause });
    }

    /// Starts the engine for a SPEAK; its audio waits for `response_written` when the IN-PROGRESS response
    /// was sent with it.
    fn start_prompt(
        &mut self,
        now: Instant,
        request_id: RequestId,
        response_written: Option<oneshot::Receiver<()>>,
    ) {
        let content = match self.prepared.get(&request_id).map(|p| p.request.clone()) {
            Some(Ok(content)) => content,
            Some(Err(failure)) => return self.content_failed(request_id, failure),
            None => return,
        };
        let request = &content.request;
        let route = RouteContext {
            resource: self.id().resource(),
            language: request.language.as_deref(),
            request_uri_user: self.call.request_uri_user.as_deref(),
            user_agent: self.call.user_agent.as_deref(),
            vendor_parameters: &request.vendor_parameters,
        };
        let Some(engine) = self.engines.synthesizer(&route) else {
            warn!(channel = %self.id(), "no synthesizer engine is available for this request");
            self.machine.handle_input(Input::PromptFailed {
                cause: SynthesizerCause::Error,
            });
            return;
        };
        crate::metrics::engine_request(engine.name(), "speechsynth");
        let engine_rate = engine.capabilities().sample_rate;
        let resampler = if engine_rate == self.codec_rate.0 {
            None
        } else {
            match StreamResampler::new(
                SampleRate(engine_rate),
                self.codec_rate,
                Duration::from_millis(20),
            ) {
                Ok(r) => Some(r),
                Err(error) => {
                    warn!(channel = %self.id(), %error, "cannot resample the synthesizer's audio");
                    self.machine.handle_input(Input::PromptFailed {
                        cause: SynthesizerCause::Error,
                    });
                    return;
                }
            }
        };
        let request = match content.for_engine(engine_rate) {
            Ok(request) => request,
            Err(failure) => return self.content_failed(request_id, failure),
        };
        // An engine is a guest: even a panic in `start` ends only this request (design rule 3).
        let started =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.start(request)));
        let Ok(started) = started else {
            warn!(channel = %self.id(), engine = engine.name(), "synthesizer engine panicked");
            crate::metrics::engine_error(engine.name(), "panic");
            self.machine.handle_input(Input::PromptFailed {
                cause: SynthesizerCause::Error,
            });
            return;
        };
        match started {
            Ok(stream) => {
                self.command(MediaCommand::BeginPrompt(PromptId(u64::from(request_id.0))));
                self.playing = Some(Playing {
                    request_id,
                    stream: Some(Counted::new(LiveKind::EngineStream, stream)),
                    resampler,
                    engine_rate,
                    started: now,
                    sent: Duration::ZERO,
                    paused_at: None,
                    complete_at: None,
                    response_written,
                });
            }
            Err(error) => {
                warn!(channel = %self.id(), %error, "synthesizer engine refused the request");
                crate::metrics::engine_failed(&error);
                self.machine.handle_input(Input::PromptFailed {
                    cause: cause_of(&error),
                });
            }
        }
    }

    fn command(&mut self, command: MediaCommand) {
        // The endpoint reads commands at once; a full queue means it has stopped, and the prompt's audio is
        // lost with it.
        if self.media.try_send(command).is_err() {
            warn!(channel = %self.id(), "RTP endpoint is not taking audio");
        }
    }
}

/// What CONTROL asks for (§8.13): a restart, or a move the engines cannot make yet (409 naming the header).
fn control_action(headers: &Headers) -> ControlAction {
    if headers
        .get::<SpeakRestart>()
        .ok()
        .flatten()
        .is_some_and(|r| r.0)
    {
        ControlAction::Restart
    } else if headers.contains(SpeakLength::NAME) {
        ControlAction::Seek {
            header: SpeakLength::NAME,
        }
    } else {
        ControlAction::Seek {
            header: JumpSize::NAME,
        }
    }
}

fn cause_of(error: &EngineError) -> SynthesizerCause {
    match failure_of(error) {
        SynthesisFailure::ParseFailure => SynthesizerCause::ParseFailure,
        SynthesisFailure::UriFailure => SynthesizerCause::UriFailure,
        SynthesisFailure::LanguageUnsupported => SynthesizerCause::LanguageUnsupported,
        SynthesisFailure::LexiconLoadFailure => SynthesizerCause::LexiconLoadFailure,
        SynthesisFailure::Error => SynthesizerCause::Error,
    }
}
