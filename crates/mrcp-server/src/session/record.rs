//! One recorder channel of a session (RFC 6787 §10): MRCP requests in, the [`RecorderMachine`] in the
//! middle, the call's audio through the endpointer into it, and each recording written as a WAV file on the
//! blocking pool or returned in the message body (Record-URI, §10.4.7).
//!
//! A message that reports a file waits until the file is written, and the messages after it wait behind it,
//! so the client sees them in order and never a Record-URI that does not exist yet. A write that fails ends
//! the request with Completion-Cause 004 and a log line; the session goes on.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mrcp_media::codec::SampleRate;
use mrcp_media::vad::VadEvent;
use mrcp_media::wav::{WavAudio, WavRecorder};
use mrcp_proto::mrcp::header::{
    ActiveRequestIdList, CompletionCause, CompletionReason, ContentId, FailedUri, FailedUriCause,
    MediaUri, NewAudioChannel, RecordUri, RecorderCause, SensitivityLevel, TrimLength,
    VerBufferUtterance,
};
use mrcp_proto::mrcp::{
    ChannelId, EventName, Headers, Message, Method, RequestId, RequestState, StartLine, StatusCode,
};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::audio_in::AudioIn;
use super::outbox::{Outbox, sanitize};
use crate::config::RecorderConfig;
use crate::control::ConnectionHandle;
use crate::params::ChannelParams;
use crate::recorder::{self, Input, Output, RecordTarget, RecorderMachine, Recording, Refusal};

/// The media type of the recordings.
const WAV_TYPE: &str = "audio/wav";

/// A message on its way out.
enum Outgoing {
    Ready(Message),
    /// A message that reports a file, sent once the file is written.
    Writing {
        message: Message,
        uri: MediaUri,
        path: PathBuf,
        write: JoinHandle<Result<(), String>>,
    },
}

/// A recorder channel.
pub(crate) struct RecordChannel {
    out: Outbox,
    machine: RecorderMachine,
    params: ChannelParams,
    config: RecorderConfig,
    listener: AudioIn,
    /// Where the running RECORD's audio goes.
    target: Option<RecordTarget>,
    queue: VecDeque<Outgoing>,
    /// START-OF-INPUT went out since the session last asked (barge-in for the session's synthesizer).
    heard_input: bool,
}

impl RecordChannel {
    pub(crate) fn new(id: ChannelId, config: RecorderConfig, listener: AudioIn) -> Self {
        Self {
            out: Outbox::new(id),
            machine: RecorderMachine::new(),
            params: ChannelParams::new(Headers::new()),
            config,
            listener,
            target: None,
            queue: VecDeque::new(),
            heard_input: false,
        }
    }

    /// The channel id.
    pub(crate) fn id(&self) -> &ChannelId {
        self.out.channel()
    }

    /// Whether a RECORD is running (a session recording a caller is not idle).
    pub(crate) fn is_recording(&self) -> bool {
        self.machine.is_recording()
    }

    /// Whether START-OF-INPUT went out since the last call: the caller started speaking, which barges in on
    /// the session's prompt (RFC 6787 §8.4 Kill-On-Barge-In).
    pub(crate) fn take_heard_input(&mut self) -> bool {
        std::mem::take(&mut self.heard_input)
    }

    /// When the machine next needs [`Self::handle_timeout`].
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    /// Fires due timers.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
        self.drain();
    }

    /// The write the next message waits for, for the session's `select!`.
    pub(crate) fn pending_write(&mut self) -> Option<&mut JoinHandle<Result<(), String>>> {
        match self.queue.front_mut() {
            Some(Outgoing::Writing { write, .. }) => Some(write),
            _ => None,
        }
    }

    /// The write at the front of the queue finished: its message goes out, then those behind it.
    pub(crate) fn write_done(&mut self, result: Result<(), String>) {
        let Some(Outgoing::Writing {
            mut message,
            uri,
            path,
            ..
        }) = self.queue.pop_front()
        else {
            return;
        };
        match result {
            Ok(()) => {
                info!(channel = %self.out.channel(), path = %path.display(), "recording written");
                let _ = message.headers.set(&RecordUri(uri));
            }
            Err(error) => {
                warn!(channel = %self.out.channel(), path = %path.display(), %error,
                    "cannot write the recording: check [recorder] directory");
                let _ = message
                    .headers
                    .set(&CompletionCause::from(RecorderCause::Error));
                let _ = message.headers.set(&CompletionReason(sanitize(&format!(
                    "cannot write the recording: {error}"
                ))));
            }
        }
        self.out.send(message);
        self.flush();
    }

    /// The connection closed: a running RECORD ends silently (nobody can hear its events).
    pub(crate) fn connection_closed(&mut self, now: Instant) {
        self.out.disconnect();
        self.queue.clear();
        if self.machine.is_recording() {
            self.machine.handle_input(
                now,
                Input::Stop {
                    request_id: RequestId(0),
                    trim_length: None,
                },
            );
            while self.machine.poll_output().is_some() {}
        }
    }

    /// Decoded audio from the call, at the stream's rate.
    pub(crate) fn handle_audio(&mut self, now: Instant, samples: &[i16]) {
        if !self.machine.is_recording() {
            return;
        }
        self.machine.handle_audio(now, samples);
        match self.listener.endpoint(samples) {
            Some(VadEvent::SpeechStart { at }) => {
                self.machine.handle_input(now, Input::SpeechStarted { at })
            }
            Some(VadEvent::SpeechEnd { at }) => {
                self.machine.handle_input(now, Input::SpeechEnded { at })
            }
            None => {}
        }
        self.drain();
    }

    /// One MRCP request for this channel.
    pub(crate) fn handle_request(
        &mut self,
        now: Instant,
        request: Message,
        connection: ConnectionHandle,
    ) {
        self.out.answer_on(connection);
        let StartLine::Request { method, request_id } = &request.start else {
            return;
        };
        let request_id = *request_id;
        debug!(channel = %self.out.channel(), %method, request_id = request_id.0, "MRCP request");
        match method {
            Method::SetParams => match self.params.set_params(&request.headers) {
                Ok(()) => self.respond(request_id, StatusCode::SUCCESS, &Headers::new()),
                Err(invalid) => self.respond_invalid(request_id, &invalid),
            },
            Method::GetParams => {
                let values = self.params.get_params(&request.headers);
                self.respond(request_id, StatusCode::SUCCESS, &values);
            }
            Method::Record => self.record(now, request_id, &request.headers),
            Method::StartInputTimers => self
                .machine
                .handle_input(now, Input::StartInputTimers { request_id }),
            Method::Stop => match request.headers.get::<TrimLength>() {
                Ok(trim) => self.machine.handle_input(
                    now,
                    Input::Stop {
                        request_id,
                        trim_length: trim.map(|t| t.0),
                    },
                ),
                Err(invalid) => self.respond_invalid(request_id, &invalid),
            },
            // §5.3: a method the resource does not have.
            _ => self.respond(request_id, StatusCode::METHOD_NOT_ALLOWED, &Headers::new()),
        }
        self.drain();
    }

    fn record(&mut self, now: Instant, request_id: RequestId, headers: &Headers) {
        if self.machine.is_recording() {
            // §10.6: the recorder does not queue; answered here so the running recording's endpointer is
            // left alone.
            return self.respond(
                request_id,
                StatusCode::METHOD_NOT_VALID_IN_STATE,
                &Headers::new(),
            );
        }
        let rate = self.listener.rate().0;
        let name = format!("{}-{}.wav", self.out.channel().session_id(), request_id.0);
        let max_time = Duration::from_millis(self.config.max_time_ms);
        let resolved = recorder::resolve(
            &self.params,
            headers,
            max_time,
            rate,
            &self.config.directory,
            &name,
        );
        let (params, target) = match resolved {
            Ok(r) => r,
            Err(Refusal::Invalid(invalid)) => return self.respond_invalid(request_id, &invalid),
            Err(Refusal::Uri { uri, reason }) => {
                warn!(channel = %self.out.channel(), %uri, reason, "Record-URI refused");
                let mut h = Headers::new();
                let _ = h.set(&CompletionCause::from(RecorderCause::UriFailure));
                let _ = h.set(&CompletionReason(reason.to_owned()));
                let _ = h.set(&FailedUri(sanitize(&uri)));
                let _ = h.set(&FailedUriCause("not writable by this server".to_owned()));
                return self.respond(request_id, StatusCode::OUT_OF_SYNC, &h);
            }
        };
        // Sensitivity-Level (§10.4.1) for this recording; every RECORD starts the endpointer afresh, which
        // is also what New-Audio-Channel (§10.4.15) asks for.
        let sensitivity = match self.params.effective::<SensitivityLevel>(headers) {
            Ok(s) => s.map(|s| s.0.get()),
            Err(invalid) => return self.respond_invalid(request_id, &invalid),
        };
        match self.params.effective::<VerBufferUtterance>(headers) {
            // No verifier resource runs on this server, so there is no buffer to feed.
            Ok(Some(VerBufferUtterance(true))) => {
                debug!(channel = %self.out.channel(), "Ver-Buffer-Utterance ignored: no verifier resource");
            }
            Ok(_) => {}
            Err(invalid) => return self.respond_invalid(request_id, &invalid),
        }
        if let Err(invalid) = self.params.effective::<NewAudioChannel>(headers) {
            return self.respond_invalid(request_id, &invalid);
        }
        self.listener.set_sensitivity(sensitivity);
        self.listener.reset();
        self.target = Some(target);
        self.machine
            .handle_input(now, Input::Record { request_id, params });
    }

    /// Carries out the machine's outputs.
    fn drain(&mut self) {
        while let Some(output) = self.machine.poll_output() {
            match output {
                Output::Response {
                    request_id,
                    status,
                    state,
                    active_request_ids,
                    recording,
                } => {
                    let mut headers = Headers::new();
                    if !active_request_ids.is_empty() {
                        let _ = headers.set(&ActiveRequestIdList(active_request_ids.clone()));
                    }
                    let message = self.out.response(request_id, status, state, &headers);
                    match (recording, active_request_ids.first()) {
                        (Some(recording), Some(&recorded)) => {
                            self.deliver(message, recorded, recording)
                        }
                        _ => self.emit(message),
                    }
                }
                Output::StartOfInput { request_id } => {
                    let message = self.out.event(
                        EventName::StartOfInput,
                        request_id,
                        RequestState::InProgress,
                        &Headers::new(),
                    );
                    self.emit(message);
                    self.heard_input = true;
                }
                Output::RecordComplete {
                    request_id,
                    cause,
                    recording,
                } => {
                    let mut headers = Headers::new();
                    let _ = headers.set(&CompletionCause::from(cause));
                    let message = self.out.event(
                        EventName::RecordComplete,
                        request_id,
                        RequestState::Complete,
                        &headers,
                    );
                    match recording {
                        Some(recording) => self.deliver(message, request_id, recording),
                        None => self.emit(message),
                    }
                }
            }
        }
    }

    /// Sends a message that reports `recording` of the RECORD `recorded`: with the WAV in its body, or
    /// once the file is written.
    fn deliver(&mut self, mut message: Message, recorded: RequestId, recording: Recording) {
        let target = self.target.take().unwrap_or(RecordTarget::Inline);
        let duration = recording.duration();
        let size = recording.samples.len() as u64 * 2 + 44;
        match target {
            RecordTarget::Inline => {
                let id = format!(
                    "{}-{}@recorder",
                    self.out.channel().session_id(),
                    recorded.0
                );
                match wav_bytes(&recording) {
                    Ok(bytes) => {
                        let uri = MediaUri {
                            uri: format!("cid:{id}"),
                            size: Some(bytes.len() as u64),
                            duration: Some(duration),
                            other: Vec::new(),
                        };
                        let _ = message.headers.set(&RecordUri(uri));
                        let _ = message.headers.set(&ContentId(id));
                        let _ = message.set_body(WAV_TYPE, bytes);
                    }
                    Err(error) => {
                        warn!(channel = %self.out.channel(), %error, "cannot encode the recording");
                        let _ = message
                            .headers
                            .set(&CompletionCause::from(RecorderCause::Error));
                    }
                }
                self.emit(message);
            }
            RecordTarget::File(path) => {
                let uri = MediaUri {
                    uri: format!("file://{}", path.display()),
                    size: Some(size),
                    duration: Some(duration),
                    other: Vec::new(),
                };
                let written = path.clone();
                let write = tokio::task::spawn_blocking(move || write_wav(&written, recording));
                self.queue.push_back(Outgoing::Writing {
                    message,
                    uri,
                    path,
                    write,
                });
            }
        }
    }

    fn respond(&mut self, request_id: RequestId, status: StatusCode, headers: &Headers) {
        let message = self
            .out
            .response(request_id, status, RequestState::Complete, headers);
        self.emit(message);
    }

    fn respond_invalid(
        &mut self,
        request_id: RequestId,
        invalid: &mrcp_proto::mrcp::InvalidHeader,
    ) {
        debug!(channel = %self.out.channel(), %invalid, "request refused");
        let mut headers = Headers::new();
        let _ = headers.set_raw(&invalid.name, &sanitize(&invalid.value));
        self.respond(request_id, invalid.status_code(), &headers);
    }

    /// Sends now, or after the writes queued before it.
    fn emit(&mut self, message: Message) {
        if self.queue.is_empty() {
            self.out.send(message);
        } else {
            self.queue.push_back(Outgoing::Ready(message));
        }
    }

    fn flush(&mut self) {
        while let Some(Outgoing::Ready(_)) = self.queue.front() {
            if let Some(Outgoing::Ready(message)) = self.queue.pop_front() {
                self.out.send(message);
            }
        }
    }
}

/// The recording as a WAV file in memory.
fn wav_bytes(recording: &Recording) -> Result<Vec<u8>, mrcp_media::wav::WavError> {
    let mut bytes = Vec::with_capacity(recording.samples.len() * 2 + 44);
    let mut wav = WavRecorder::new(std::io::Cursor::new(&mut bytes), SampleRate(recording.rate))?;
    wav.push(&recording.samples)?;
    wav.finish()?;
    Ok(bytes)
}

/// Writes a recording beside its final name and renames it, so a reader of the URI never sees half a file.
fn write_wav(path: &std::path::Path, recording: Recording) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let partial = path.with_extension("wav.part");
    WavAudio {
        rate: SampleRate(recording.rate),
        samples: recording.samples,
    }
    .write(&partial)
    .map_err(|e| e.to_string())?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))
}
