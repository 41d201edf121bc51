//! The embedded offline synthesizer: espeak-ng from Debian (package `espeak-ng`), run as a subprocess.
//!
//! espeak-ng is GPL-3; the process boundary keeps the server's licence free. Each speech segment of a prompt
//! (see [`mrcp_proto::ssml::segments`]) is one `espeak-ng --stdout --stdin -v <voice>[+variant] -s -a -p`
//! process: the voice comes from Voice-Name/Gender/Variant, Speech-Language and SSML `<voice>`/`xml:lang`,
//! rate, volume and pitch from Prosody-* and `<prosody>`. `<break>` becomes silence and `<mark>` is reported
//! between segments — espeak-ng's command line cannot report mark timing, so splitting at marks is what
//! places them exactly. Audio streams out in 20 ms frames as espeak-ng writes it, at its native 22 050 Hz.
//!
//! * At most [`EspeakConfig::max_concurrent`] processes run at once; a process's output is read ahead into
//!   a buffer of up to [`EspeakConfig::max_buffered`] of audio so that it exits (and frees its slot) long
//!   before a real-time listener has heard it.
//! * Dropping the [`SynthesisStream`] kills the running process and reaps it (no zombies); so do failures
//!   and an espeak-ng that writes nothing for [`EspeakConfig::idle_timeout`].
//! * `<audio>` cannot be fetched by espeak-ng: its fallback content is spoken (the server plays recordings
//!   itself when it can fetch them). `<phoneme>` speaks its text; `<say-as>` is rendered by the segmenter.
//! * Lexicons are refused (`lexicon-load-failure`); Voice-Age is not used (espeak-ng voices have no age).

mod voices;
mod wav;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use mrcp_proto::engine::{EngineError, EngineErrorKind};
use mrcp_proto::ssml::{Limits, Segment};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

pub use voices::{Catalog, EspeakVariant, EspeakVoice};
pub use wav::{WavError, WavStream};

use crate::{
    SynthesisEvent, SynthesisFailure, SynthesisRequest, SynthesisStream, Synthesizer,
    SynthesizerCapabilities, synthesis_channel,
};
use voices::{ResolveError, prosody_args};

/// The rate espeak-ng synthesizes at, declared as the engine's rate (the server resamples).
pub const SAMPLE_RATE: u32 = 22_050;

/// Samples in one 20 ms frame at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 441;

/// The Debian package to name when espeak-ng is missing.
pub const DEBIAN_PACKAGE: &str = "espeak-ng";

/// How the engine runs espeak-ng.
#[derive(Debug, Clone, PartialEq)]
pub struct EspeakConfig {
    /// The program. Default `espeak-ng` (found on `PATH`).
    pub program: PathBuf,
    /// espeak-ng processes running at once; more prompts wait for a slot. Default: the number of cores.
    pub max_concurrent: usize,
    /// The language when neither the request nor the document names one. Default `en-us`.
    pub default_language: String,
    /// Whether a Voice-Name (or `<voice name>`) that matches no espeak-ng voice or variant fails the
    /// request (`language-unsupported`) rather than being ignored. Default true.
    pub strict_voice_names: bool,
    /// A process that writes nothing for this long is killed and the prompt fails. Default 10 s.
    pub idle_timeout: Duration,
    /// Audio read ahead of the listener per prompt. Default 30 s (about 1.3 MB).
    pub max_buffered: Duration,
    /// Bounds on the content.
    pub limits: Limits,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        Self {
            program: PathBuf::from("espeak-ng"),
            max_concurrent: std::thread::available_parallelism().map_or(2, usize::from),
            default_language: "en-us".to_owned(),
            strict_voice_names: true,
            idle_timeout: Duration::from_secs(10),
            max_buffered: Duration::from_secs(30),
            limits: Limits::default(),
        }
    }
}

/// The espeak-ng engine. Cheap to clone; clones share the process slots.
#[derive(Clone)]
pub struct EspeakNg {
    name: String,
    capabilities: SynthesizerCapabilities,
    shared: Arc<Shared>,
}

struct Shared {
    config: EspeakConfig,
    catalog: Catalog,
    permits: Arc<Semaphore>,
    slots: u32,
}

/// One thing to do for a prompt, decided before anything is spoken.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Speak {
        voice: String,
        prosody: [String; 6],
        text: String,
    },
    Silence(usize),
    /// Audio the server fetched for an `<audio src>`, already at [`SAMPLE_RATE`].
    Play(std::sync::Arc<[i16]>),
    Mark(String),
}

/// Why a running synthesis stopped early.
enum Stop {
    Cancelled,
    Failed(EngineError),
}

impl EspeakNg {
    /// Finds espeak-ng and lists its voices. Fails with `Unavailable`, naming the Debian package, when it
    /// is not installed, so the server can report it at start-up for the routes that need it.
    pub async fn new(name: impl Into<String>, config: EspeakConfig) -> Result<Self, EngineError> {
        let name = name.into();
        let voices = list(&name, &config, "--voices").await?;
        let variants = list(&name, &config, "--voices=variant").await?;
        let catalog = Catalog::parse(&voices, &variants);
        if catalog.voices.is_empty() {
            return Err(EngineError::new(
                &name,
                EngineErrorKind::Unavailable,
                format!(
                    "{} lists no voices (reinstall the Debian package {DEBIAN_PACKAGE})",
                    config.program.display()
                ),
            ));
        }
        let slots = u32::try_from(config.max_concurrent.clamp(1, 1_024)).unwrap_or(1);
        let capabilities = SynthesizerCapabilities {
            sample_rate: SAMPLE_RATE,
            languages: catalog.languages(),
            voices: catalog.voice_infos(),
            reports_marks: true,
            takes_lexicons: false,
        };
        Ok(Self {
            name,
            capabilities,
            shared: Arc::new(Shared {
                permits: Arc::new(Semaphore::new(slots as usize)),
                slots,
                config,
                catalog,
            }),
        })
    }

    /// The voices and variants installed.
    pub fn catalog(&self) -> &Catalog {
        &self.shared.catalog
    }

    /// Waits until no espeak-ng process of this engine is running (all killed or exited, and reaped).
    pub async fn idle(&self) {
        if let Ok(all) = self.shared.permits.acquire_many(self.shared.slots).await {
            drop(all);
        }
    }

    fn error(
        &self,
        failure: SynthesisFailure,
        kind: EngineErrorKind,
        detail: impl AsRef<str>,
    ) -> EngineError {
        failure.error(&self.name, kind, detail)
    }

    /// Turns segments into steps, resolving every voice first so a missing language fails before any audio.
    fn plan(
        &self,
        request: &SynthesisRequest,
        segments: Vec<Segment>,
        steps: &mut Vec<Step>,
    ) -> Result<(), EngineError> {
        let config = &self.shared.config;
        for segment in segments {
            match segment {
                Segment::Speech(speech) => {
                    let voice = self
                        .shared
                        .catalog
                        .resolve(&speech, &config.default_language, config.strict_voice_names)
                        .map_err(|e| match e {
                            ResolveError::Language(lang) => self.error(
                                SynthesisFailure::LanguageUnsupported,
                                EngineErrorKind::BadRequest,
                                format!("no espeak-ng voice speaks {lang}"),
                            ),
                            ResolveError::Name(name) => self.error(
                                SynthesisFailure::LanguageUnsupported,
                                EngineErrorKind::BadRequest,
                                format!("no espeak-ng voice or variant is named {name}"),
                            ),
                        })?;
                    steps.push(Step::Speak {
                        voice,
                        prosody: prosody_args(&speech.prosody),
                        text: speech.text,
                    });
                }
                Segment::Break(pause) => {
                    let samples =
                        pause.as_micros().saturating_mul(u128::from(SAMPLE_RATE)) / 1_000_000;
                    steps.push(Step::Silence(
                        usize::try_from(samples).unwrap_or(usize::MAX),
                    ));
                }
                Segment::Mark(name) => steps.push(Step::Mark(name)),
                Segment::Audio { src, fallback } => match request.audio_for(&src) {
                    Some(audio) => steps.push(Step::Play(audio.samples.clone())),
                    None => {
                        tracing::debug!(engine = %self.name, %src, "no fetched audio; speaking the fallback");
                        self.plan(request, fallback, steps)?;
                    }
                },
            }
        }
        Ok(())
    }
}

/// Runs `espeak-ng <flag>` and returns its output.
async fn list(name: &str, config: &EspeakConfig, flag: &str) -> Result<String, EngineError> {
    let unavailable = |detail: String| EngineError::new(name, EngineErrorKind::Unavailable, detail);
    let output = Command::new(&config.program)
        .arg(flag)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            unavailable(format!(
                "cannot run {}: {e} (install the Debian package {DEBIAN_PACKAGE})",
                config.program.display()
            ))
        })?;
    if !output.status.success() {
        return Err(unavailable(format!(
            "{} {flag} failed with {}: {}",
            config.program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Synthesizer for EspeakNg {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        if !request.lexicons.is_empty() {
            return Err(self.error(
                SynthesisFailure::LexiconLoadFailure,
                EngineErrorKind::BadRequest,
                "espeak-ng takes no lexicons",
            ));
        }
        let segments = request.segments(&self.shared.config.limits).map_err(|e| {
            self.error(
                SynthesisFailure::ParseFailure,
                EngineErrorKind::BadRequest,
                e.to_string(),
            )
        })?;
        let mut steps = Vec::new();
        self.plan(&request, segments, &mut steps)?;
        let (stream, sink) = synthesis_channel();
        let engine = self.clone();
        tokio::spawn(async move {
            let tx = sink.events;
            let outcome = engine.run(steps, &tx).await;
            match outcome {
                Ok(()) => {
                    let _ = tx.send(Ok(SynthesisEvent::Done)).await;
                }
                Err(Stop::Failed(e)) => {
                    tracing::warn!(engine = %engine.name, error = %e, "synthesis failed");
                    let _ = tx.send(Err(e)).await;
                }
                Err(Stop::Cancelled) => {
                    tracing::debug!(engine = %engine.name, "synthesis cancelled");
                }
            }
        });
        Ok(stream)
    }
}

type Events = mpsc::Sender<Result<SynthesisEvent, EngineError>>;

impl EspeakNg {
    async fn run(&self, steps: Vec<Step>, tx: &Events) -> Result<(), Stop> {
        for step in steps {
            match step {
                Step::Mark(name) => tx
                    .send(Ok(SynthesisEvent::Mark(name)))
                    .await
                    .map_err(|_| Stop::Cancelled)?,
                Step::Silence(mut samples) => {
                    while samples > 0 {
                        let n = samples.min(FRAME_SAMPLES);
                        samples -= n;
                        tx.send(Ok(SynthesisEvent::Audio(vec![0; n])))
                            .await
                            .map_err(|_| Stop::Cancelled)?;
                    }
                }
                Step::Play(samples) => {
                    for frame in samples.chunks(FRAME_SAMPLES) {
                        tx.send(Ok(SynthesisEvent::Audio(frame.to_vec())))
                            .await
                            .map_err(|_| Stop::Cancelled)?;
                    }
                }
                Step::Speak {
                    voice,
                    prosody,
                    text,
                } => self.speak(&voice, &prosody, text, tx).await?,
            }
        }
        Ok(())
    }

    /// Speaks one segment with one espeak-ng process, streaming its audio.
    async fn speak(
        &self,
        voice: &str,
        prosody: &[String; 6],
        text: String,
        tx: &Events,
    ) -> Result<(), Stop> {
        let config = &self.shared.config;
        let permit: OwnedSemaphorePermit = tokio::select! {
            permit = self.shared.permits.clone().acquire_owned() => permit.map_err(|_| Stop::Cancelled)?,
            () = tx.closed() => return Err(Stop::Cancelled),
        };
        let mut child = Command::new(&config.program)
            .args(["--stdout", "--stdin", "-v", voice])
            .args(prosody)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Stop::Failed(self.error(
                    SynthesisFailure::Error,
                    EngineErrorKind::Unavailable,
                    format!(
                        "cannot run {}: {e} (install the Debian package {DEBIAN_PACKAGE})",
                        config.program.display()
                    ),
                ))
            })?;
        tracing::debug!(engine = %self.name, pid = child.id(), voice, "espeak-ng started");
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(self.fail(&mut child, "espeak-ng pipes missing").await);
        };
        // Written from a task of its own so a long text cannot block on a full pipe while we read.
        tokio::spawn(async move {
            let _ = stdin.write_all(text.as_bytes()).await;
            let _ = stdin.write_all(b"\n").await;
        });
        let errors = tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let room = 2_048usize.saturating_sub(kept.len());
                kept.extend_from_slice(buf.get(..n.min(room)).unwrap_or_default());
            }
            String::from_utf8_lossy(&kept).trim().to_owned()
        });

        let max_buffered = usize::try_from(
            config
                .max_buffered
                .as_millis()
                .saturating_mul(u128::from(SAMPLE_RATE))
                / 1_000,
        )
        .unwrap_or(usize::MAX);
        let mut wav = WavStream::default();
        let mut pending: VecDeque<i16> = VecDeque::new();
        let mut decoded = Vec::new();
        let mut buf = vec![0u8; 8_192];
        let mut permit = Some(permit);
        let mut reading = true;
        loop {
            let ready = pending.len() >= FRAME_SAMPLES || (!reading && !pending.is_empty());
            if !reading && pending.is_empty() {
                return Ok(());
            }
            tokio::select! {
                biased;
                () = tx.closed() => {
                    let _ = child.kill().await;
                    return Err(Stop::Cancelled);
                }
                slot = tx.reserve(), if ready => {
                    let Ok(slot) = slot else {
                        let _ = child.kill().await;
                        return Err(Stop::Cancelled);
                    };
                    let n = pending.len().min(FRAME_SAMPLES);
                    slot.send(Ok(SynthesisEvent::Audio(pending.drain(..n).collect())));
                }
                read = tokio::time::timeout(config.idle_timeout, stdout.read(&mut buf)),
                    if reading && pending.len() < max_buffered =>
                {
                    match read {
                        Err(_) => {
                            let idle = config.idle_timeout;
                            let _ = child.kill().await;
                            return Err(Stop::Failed(self.error(
                                SynthesisFailure::Error,
                                EngineErrorKind::Timeout,
                                format!("espeak-ng wrote nothing for {} ms", idle.as_millis()),
                            )));
                        }
                        Ok(Err(e)) => return Err(self.fail(&mut child, format!("reading espeak-ng output: {e}")).await),
                        Ok(Ok(0)) => {
                            reading = false;
                            let status = match tokio::time::timeout(config.idle_timeout, child.wait()).await {
                                Ok(Ok(status)) => status,
                                _ => return Err(self.fail(&mut child, "espeak-ng did not exit after its output ended").await),
                            };
                            drop(permit.take());
                            if status.success() && !wav.in_data() {
                                return Err(Stop::Failed(self.error(
                                    SynthesisFailure::Error,
                                    EngineErrorKind::Internal,
                                    "espeak-ng ended without writing a WAV header",
                                )));
                            }
                            if !status.success() {
                                let stderr = errors.await.unwrap_or_default();
                                return Err(Stop::Failed(self.error(
                                    SynthesisFailure::Error,
                                    EngineErrorKind::Internal,
                                    format!("espeak-ng exited with {status}: {stderr}"),
                                )));
                            }
                        }
                        Ok(Ok(n)) => {
                            decoded.clear();
                            if let Err(e) = wav.push(buf.get(..n).unwrap_or_default(), &mut decoded) {
                                return Err(self.fail(&mut child, e.to_string()).await);
                            }
                            if let Some(rate) = wav.sample_rate()
                                && rate != SAMPLE_RATE
                            {
                                return Err(self.fail(&mut child, format!("espeak-ng wrote {rate} Hz, expected {SAMPLE_RATE}")).await);
                            }
                            pending.extend(decoded.iter().copied());
                        }
                    }
                }
            }
        }
    }

    /// Kills and reaps the process and builds the failure.
    async fn fail(&self, child: &mut Child, detail: impl AsRef<str>) -> Stop {
        let _ = child.kill().await;
        Stop::Failed(self.error(SynthesisFailure::Error, EngineErrorKind::Internal, detail))
    }
}
