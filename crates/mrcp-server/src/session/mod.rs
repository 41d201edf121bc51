//! A session: one SIP dialog with its MRCP channels and its RTP stream, owned by one actor task
//! (`docs/architecture.md`, rule 2). The SIP loop hands it the INVITE; the control layer, the RTP endpoint
//! and the engine send it messages over bounded channels; it answers, runs its channels' state machines and
//! tears everything down on BYE, on the control connection closing, on RTP inactivity or when idle.

pub(crate) mod audio_in;
mod fetching;
mod outbox;
mod prompt_content;
mod recog;
mod record;
mod setup;
mod synth;

use std::sync::Arc;
use std::time::Duration;

use mrcp_media::endpoint::{MediaCommand, MediaEvent, RtpEndpoint};
use mrcp_proto::mrcp::{ChannelId, ResourceType};
use mrcp_proto::sdp::{AnswerBuilder, MrcpSdp, SdpError};
use mrcp_sip::{CallHandle, EndReason, ServerTxId};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

use crate::control::{ConnectionId, ControlEvent};
use crate::metrics::{self, SessionOutcome};
use crate::resources::{Counted, LiveKind};
use crate::server::Shared;
pub(crate) use recog::RecogChannel;
pub(crate) use record::RecordChannel;
pub(crate) use synth::SynthChannel;

/// What the SIP loop tells a session.
#[derive(Debug)]
pub enum SessionCommand {
    /// The dialog ended (BYE, or a SIP failure).
    Terminated(EndReason),
    /// A re-INVITE: a session refresh (RFC 4028) or a changed offer.
    ReInvite {
        /// The transaction to answer.
        tx: ServerTxId,
        /// The request.
        request: mrcp_sip::Message,
    },
    /// The server is stopping.
    Shutdown,
}

/// Why a session ended, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Sip(EndReason),
    ControlClosed,
    RtpInactive,
    Idle,
    Shutdown,
}

/// A running session's state, owned by its task.
pub(crate) struct Session {
    shared: Arc<Shared>,
    call: CallHandle,
    session_id: String,
    answer: bytes::Bytes,
    /// The `o=` session id and version of our answers (RFC 4566 §5.2: the version grows when the answer
    /// changes).
    sdp_id: u64,
    sdp_version: u64,
    /// The negotiated codec's RTP clock rate, for jitter in seconds.
    clock_rate: u32,
    /// The rate of the call's audio.
    codec_rate: mrcp_media::codec::SampleRate,
    /// What the INVITE said that routing may use.
    call_info: recog::CallInfo,
    recog: Option<RecogChannel>,
    synth: Option<SynthChannel>,
    recorder: Option<RecordChannel>,
    rtp: Option<RtpEndpoint>,
    control: mpsc::Receiver<ControlEvent>,
    connection: Option<ConnectionId>,
    last_activity: Instant,
    /// Channels answered as `TCP/TLS/MRCPv2` are served on TLS connections only (RFC 6787 §12).
    tls_only: bool,
}

/// Runs a session from its INVITE to its end.
pub(crate) async fn run(
    shared: Arc<Shared>,
    call: CallHandle,
    tx: ServerTxId,
    invite: mrcp_sip::Message,
    commands: mpsc::Receiver<SessionCommand>,
) {
    let call_id = invite.header("Call-ID").unwrap_or_default().to_owned();
    let span = info_span!("session", call_id = %call_id);
    async move {
        let _live = Counted::new(LiveKind::SessionActor, ());
        let Some(session) = setup::establish(shared, call, tx, &invite).await else {
            return;
        };
        session.serve(commands).await;
    }
    .instrument(span)
    .await;
}

impl Session {
    /// Opens the channel `id` on the session's audio (at set-up, or when a re-INVITE adds a resource).
    fn open_channel(&mut self, id: ChannelId) -> Result<(), mrcp_media::resample::ResampleError> {
        let shared = &self.shared;
        match id.resource() {
            ResourceType::Speechrecog => {
                let engine_rate =
                    mrcp_media::codec::SampleRate(shared.engines.default_recognizer_rate());
                let listener = audio_in::AudioIn::new(self.codec_rate, engine_rate)?;
                let defaults = shared.recognizer_defaults.clone();
                let call = self.call_info.clone();
                self.recog = Some(RecogChannel::new(
                    id,
                    defaults,
                    shared.engines.clone(),
                    call,
                    listener,
                    shared.fetcher.clone(),
                    shared.config.limits.grammar_max_bytes,
                ));
            }
            ResourceType::Recorder => {
                let listener = audio_in::AudioIn::new(self.codec_rate, self.codec_rate)?;
                let config = shared.config.recorder.clone();
                self.recorder = Some(RecordChannel::new(id, config, listener));
            }
            _ => {
                if let Some(rtp) = &self.rtp {
                    let (engines, call) = (shared.engines.clone(), self.call_info.clone());
                    let commands = rtp.commands.clone();
                    self.synth = Some(SynthChannel::new(
                        id,
                        engines,
                        call,
                        commands,
                        self.codec_rate,
                        shared.fetcher.clone(),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn serve(mut self, mut commands: mpsc::Receiver<SessionCommand>) {
        let idle_limit = self.shared.config.session_idle_timeout();
        let ending = loop {
            let deadline = self.next_deadline(idle_limit);
            tokio::select! {
                command = commands.recv() => match command {
                    Some(SessionCommand::Terminated(reason)) => break Ending::Sip(reason),
                    Some(SessionCommand::ReInvite { tx, request }) => self.reinvite(tx, &request).await,
                    Some(SessionCommand::Shutdown) | None => break Ending::Shutdown,
                },
                Some(event) = self.control.recv() => {
                    if let Some(ending) = self.on_control(event) {
                        break ending;
                    }
                }
                event = next_media(&mut self.rtp) => {
                    if let Some(ending) = self.on_media(event) {
                        break ending;
                    }
                }
                wake = next_recog_wake(&mut self.recog) => {
                    if let Some(recog) = &mut self.recog {
                        recog.handle_wake(Instant::now().into_std(), wake);
                    }
                }
                wake = next_synth_wake(&mut self.synth, Instant::now().into_std()) => {
                    if let Some(synth) = &mut self.synth {
                        synth.handle_wake(Instant::now().into_std(), wake);
                    }
                }
                written = next_write(&mut self.recorder) => {
                    if let Some(recorder) = &mut self.recorder {
                        recorder.write_done(written);
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    if now.duration_since(self.last_activity) >= idle_limit
                        && !self.synth.as_ref().is_some_and(SynthChannel::is_speaking)
                        && !self.recorder.as_ref().is_some_and(RecordChannel::is_recording)
                    {
                        break Ending::Idle;
                    }
                    if let Some(recog) = &mut self.recog {
                        recog.handle_timeout(now.into_std());
                    }
                    if let Some(synth) = &mut self.synth {
                        synth.handle_timeout(now.into_std());
                    }
                    if let Some(recorder) = &mut self.recorder {
                        recorder.handle_timeout(now.into_std());
                    }
                }
            }
            self.barge_in();
        };
        self.teardown(ending).await;
    }

    /// The earliest of the channels' deadlines and the idle limit.
    fn next_deadline(&self, idle_limit: Duration) -> Instant {
        let idle = self.last_activity + idle_limit;
        let recog = self.recog.as_ref().and_then(RecogChannel::poll_timeout);
        let synth = self.synth.as_ref().and_then(SynthChannel::poll_timeout);
        let recorder = self.recorder.as_ref().and_then(RecordChannel::poll_timeout);
        [recog, synth, recorder]
            .into_iter()
            .flatten()
            .map(Instant::from_std)
            .fold(idle, Instant::min)
    }

    /// When the recognizer or the recorder heard the caller start, a prompt with Kill-On-Barge-In stops
    /// (RFC 6787 §8.4).
    fn barge_in(&mut self) {
        let recog = self
            .recog
            .as_mut()
            .is_some_and(RecogChannel::take_heard_input);
        let recorder = self
            .recorder
            .as_mut()
            .is_some_and(RecordChannel::take_heard_input);
        if let Some(synth) = &mut self.synth
            && (recog || recorder)
        {
            synth.barge_in(Instant::now().into_std());
        }
    }

    fn on_control(&mut self, event: ControlEvent) -> Option<Ending> {
        let now = Instant::now().into_std();
        match event {
            ControlEvent::Request {
                message,
                connection,
            } if self.tls_only && !connection.is_tls() => {
                // A plain TCP connection naming a TLS channel: as if it did not exist, without touching the session.
                warn!(peer = %connection.peer(), "request for a TLS channel on a TCP connection refused");
                let _ = connection.send(mrcp_proto::mrcp::Message::response_to(
                    &message,
                    mrcp_proto::mrcp::StatusCode::RESOURCE_NOT_ALLOCATED,
                    mrcp_proto::mrcp::RequestState::Complete,
                ));
                None
            }
            ControlEvent::Request {
                message,
                connection,
            } => {
                self.last_activity = Instant::now();
                self.connection = Some(connection.id());
                let target = message.channel_id().ok().flatten();
                match target {
                    Some(channel) if self.recog.as_ref().is_some_and(|r| r.id() == &channel) => {
                        if let Some(recog) = &mut self.recog {
                            recog.handle_request(now, message, connection);
                        }
                    }
                    Some(channel) if self.synth.as_ref().is_some_and(|s| s.id() == &channel) => {
                        if let Some(synth) = &mut self.synth {
                            synth.handle_request(now, message, connection);
                        }
                    }
                    Some(channel) if self.recorder.as_ref().is_some_and(|r| r.id() == &channel) => {
                        if let Some(recorder) = &mut self.recorder {
                            recorder.handle_request(now, message, connection);
                        }
                    }
                    _ => {
                        // §6.2.1: a channel this session did not allocate.
                        let response = mrcp_proto::mrcp::Message::response_to(
                            &message,
                            mrcp_proto::mrcp::StatusCode::RESOURCE_NOT_ALLOCATED,
                            mrcp_proto::mrcp::RequestState::Complete,
                        );
                        let _ = connection.send(response);
                    }
                }
                None
            }
            ControlEvent::Closed(id) if self.connection == Some(id) => {
                if let Some(recog) = &mut self.recog {
                    recog.connection_closed(now);
                }
                if let Some(synth) = &mut self.synth {
                    synth.connection_closed(now);
                }
                if let Some(recorder) = &mut self.recorder {
                    recorder.connection_closed(now);
                }
                Some(Ending::ControlClosed)
            }
            ControlEvent::Closed(_) => None,
        }
    }

    fn on_media(&mut self, event: Option<MediaEvent>) -> Option<Ending> {
        let now = Instant::now().into_std();
        match event {
            Some(MediaEvent::Audio { samples, .. } | MediaEvent::Gap { samples, .. }) => {
                if let Some(recog) = &mut self.recog {
                    recog.handle_audio(now, &samples);
                }
                if let Some(recorder) = &mut self.recorder {
                    recorder.handle_audio(now, &samples);
                }
            }
            Some(MediaEvent::Dtmf(digit)) => {
                self.last_activity = Instant::now();
                if let Some(recog) = &mut self.recog {
                    recog.handle_digit(now, digit.digit.as_char());
                }
            }
            Some(MediaEvent::Inactive) => return Some(Ending::RtpInactive),
            Some(MediaEvent::Latched(addr)) => info!(%addr, "RTP latched"),
            Some(MediaEvent::PromptFinished {
                prompt,
                audio_end,
                stopped,
                ..
            }) => {
                if let Some(synth) = &mut self.synth {
                    synth.prompt_finished(prompt, audio_end, stopped);
                }
            }
            Some(MediaEvent::Bye) => {}
            None => {
                // The endpoint task ended (socket error): the session goes on without audio.
                warn!("RTP endpoint stopped");
                self.rtp = None;
            }
        }
        None
    }

    /// A re-INVITE (RFC 3261 §14.2): a session refresh without a body, or with the same offer, gets the
    /// current answer; an offer that removes a channel (its m-line at port 0, as UniMRCP does before BYE)
    /// ends that channel and answers it with port 0. Adding a resource by re-INVITE is refused per m-line.
    async fn reinvite(&mut self, tx: ServerTxId, request: &mrcp_sip::Message) {
        let response = match self.reanswer(request) {
            Ok(body) => mrcp_sip::Response::ok_with_sdp(body),
            Err(error) => {
                warn!(%error, "re-INVITE offer refused");
                let mut response = mrcp_sip::Response::status(488);
                let warning = format!("399 open-mrcp \"{}\"", error.to_string().replace('"', "'"));
                response.headers.push(("Warning".to_owned(), warning));
                response
            }
        };
        if let Err(error) = self.shared.sip.respond(tx, response).await {
            warn!(%error, "cannot answer re-INVITE");
        }
    }

    fn reanswer(&mut self, request: &mrcp_sip::Message) -> Result<bytes::Bytes, SdpError> {
        let text = String::from_utf8_lossy(&request.body);
        if text.trim().is_empty() {
            return Ok(self.answer.clone());
        }
        let offer = MrcpSdp::parse(&text)?;
        // The same answer keeps its version; a changed one gets the next (RFC 3264 §8).
        let same = self.answer_to(&offer, self.sdp_version)?;
        if same == self.answer {
            return Ok(same);
        }
        let changed = self.answer_to(&offer, self.sdp_version + 1)?;
        self.sdp_version += 1;
        self.answer = changed.clone();
        Ok(changed)
    }

    /// The answer to a re-offer at `version`, dropping the channels the offer no longer asks for.
    fn answer_to(&mut self, offer: &MrcpSdp, version: u64) -> Result<bytes::Bytes, SdpError> {
        let config = setup::answer_config(&self.shared, self.sdp_id, version);
        let mut builder = AnswerBuilder::new(offer, config)?;
        let mut keep_recog = false;
        let mut keep_synth = false;
        let mut keep_recorder = false;
        for request in builder.channels() {
            let existing = match request.resource {
                ResourceType::Speechrecog => self.recog.as_ref().map(|c| c.id().clone()),
                ResourceType::Speechsynth => self.synth.as_ref().map(|c| c.id().clone()),
                ResourceType::Recorder => self.recorder.as_ref().map(|c| c.id().clone()),
                _ => None,
            };
            // A resource the session lacks is added on the session's audio (RFC 6787 §4.2, "resource
            // addition"); one the server does not run is refused by the builder already.
            let id = match existing {
                Some(id) => id,
                None => match ChannelId::new(self.session_id.clone(), request.resource) {
                    Ok(id) if self.rtp.is_some() && self.open_channel(id.clone()).is_ok() => {
                        info!(resource = %request.resource, "channel added by re-INVITE");
                        id
                    }
                    _ => {
                        builder.reject(request.index);
                        continue;
                    }
                },
            };
            builder.accept_control(request.index, id, None)?;
            keep_recog |= request.resource == ResourceType::Speechrecog;
            keep_synth |= request.resource == ResourceType::Speechsynth;
            keep_recorder |= request.resource == ResourceType::Recorder;
        }
        if !keep_recog && self.recog.take().is_some() {
            info!("speechrecog channel removed by re-INVITE");
        }
        if !keep_synth && self.synth.take().is_some() {
            info!("speechsynth channel removed by re-INVITE");
        }
        if !keep_recorder && self.recorder.take().is_some() {
            info!("recorder channel removed by re-INVITE");
        }
        if (keep_recog || keep_synth || keep_recorder)
            && let (Some(rtp), Some(plan)) = (&self.rtp, builder.audio().first().cloned())
        {
            builder.accept_audio(plan.index, rtp.local_rtp.port())?;
            let _ = rtp
                .commands
                .try_send(MediaCommand::SetRemote(Some(plan.remote), None));
        }
        Ok(bytes::Bytes::from(builder.build().to_string()))
    }

    async fn teardown(mut self, ending: Ending) {
        info!(session_id = %self.session_id, ?ending, "session ends");
        metrics::session_outcome(match ending {
            Ending::Sip(_) => SessionOutcome::Bye,
            Ending::ControlClosed => SessionOutcome::ControlClosed,
            Ending::RtpInactive => SessionOutcome::RtpInactive,
            Ending::Idle => SessionOutcome::Idle,
            Ending::Shutdown => SessionOutcome::Shutdown,
        });
        self.shared.registry.remove(&self.session_id);
        // Dropping the channels drops their engine streams, which cancels the engines.
        self.recog = None;
        self.synth = None;
        self.recorder = None;
        if let Some(rtp) = self.rtp.take() {
            let report = rtp.close().await;
            metrics::rtp_report(report.receive.lost, report.receive.jitter, self.clock_rate);
            info!(
                received = report.receive.received,
                lost = report.receive.lost,
                "RTP stream closed"
            );
        }
        if !matches!(ending, Ending::Sip(_)) {
            // We end the dialog ourselves (§15.1.1).
            let _ = self.shared.sip.bye(self.call).await;
        }
        self.shared.session_ended();
    }
}

async fn next_media(rtp: &mut Option<RtpEndpoint>) -> Option<MediaEvent> {
    match rtp {
        Some(rtp) => rtp.events.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_synth_wake(
    synth: &mut Option<SynthChannel>,
    now: std::time::Instant,
) -> synth::SynthWake {
    match synth {
        Some(synth) => synth.next_wake(now).await,
        None => std::future::pending().await,
    }
}

async fn next_write(recorder: &mut Option<RecordChannel>) -> Result<(), String> {
    match recorder.as_mut().and_then(RecordChannel::pending_write) {
        Some(write) => write
            .await
            .unwrap_or_else(|e| Err(format!("the writer task failed: {e}"))),
        None => std::future::pending().await,
    }
}

async fn next_recog_wake(recog: &mut Option<RecogChannel>) -> recog::RecogWake {
    match recog {
        Some(recog) => recog.next_wake().await,
        None => std::future::pending().await,
    }
}
