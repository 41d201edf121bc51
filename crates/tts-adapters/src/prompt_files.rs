//! The prompt-file synthesizer: plays pre-recorded WAV prompts from one directory, for sites that record
//! their prompts and for SSML `<audio src>` that names a local prompt (RFC 6787 §8.6, SSML 1.0 §3.3.1).
//!
//! * `text/plain`: the body is the name of one prompt (`welcome` or `welcome.wav`).
//! * SSML: `<audio src="welcome.wav">` plays the file, `<break>` is silence, `<mark>` is reported in place;
//!   text cannot be spoken, so text outside an `<audio>` fails the request (route such prompts to a speaking
//!   engine), and a missing recording fails with `uri-failure` (its fallback text could not be spoken either).
//! * Files must be 16-bit mono PCM WAV at [`PromptFilesConfig::sample_rate`], the engine's declared rate (the
//!   server resamples it to the call's). Names are plain relative paths inside the directory: absolute paths,
//!   `..` and URIs with a scheme other than `file:` are refused.

use std::path::{Component, Path, PathBuf};

use mrcp_proto::engine::{EngineError, EngineErrorKind};
use mrcp_proto::ssml::{Limits, Segment};

use crate::{
    SynthesisEvent, SynthesisFailure, SynthesisRequest, SynthesisStream, Synthesizer,
    SynthesizerCapabilities, synthesis_channel,
};

/// Where the prompts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptFilesConfig {
    /// The prompt directory.
    pub dir: PathBuf,
    /// The rate every prompt is recorded at. Default 8 000 Hz.
    pub sample_rate: u32,
    /// The largest prompt file read. Default 50 MB.
    pub max_file_bytes: u64,
    /// Bounds on the content.
    pub limits: Limits,
}

impl PromptFilesConfig {
    /// Prompts in `dir`, 8 kHz.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            sample_rate: 8_000,
            max_file_bytes: 50_000_000,
            limits: Limits::default(),
        }
    }
}

/// The prompt-file engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PromptFiles {
    name: String,
    config: PromptFilesConfig,
    capabilities: SynthesizerCapabilities,
}

#[derive(Debug)]
enum Step {
    Play(PathBuf),
    Silence(usize),
    Mark(String),
}

impl PromptFiles {
    /// Makes the engine for an existing directory.
    pub fn new(name: impl Into<String>, config: PromptFilesConfig) -> Result<Self, EngineError> {
        let name = name.into();
        if !config.dir.is_dir() {
            return Err(EngineError::new(
                &name,
                EngineErrorKind::Unavailable,
                format!("prompt directory {} does not exist", config.dir.display()),
            ));
        }
        let capabilities = SynthesizerCapabilities {
            sample_rate: config.sample_rate,
            languages: Vec::new(),
            voices: Vec::new(),
            reports_marks: true,
            takes_lexicons: false,
        };
        Ok(Self {
            name,
            config,
            capabilities,
        })
    }

    fn uri_failure(&self, detail: impl AsRef<str>) -> EngineError {
        SynthesisFailure::UriFailure.error(&self.name, EngineErrorKind::BadRequest, detail)
    }

    /// The file a prompt name stands for, refusing anything that leaves the directory.
    fn resolve(&self, src: &str) -> Result<PathBuf, EngineError> {
        let name = src.strip_prefix("file:").unwrap_or(src).trim();
        let relative = Path::new(name);
        let plain = !name.is_empty()
            && !name.contains("://")
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(self.uri_failure(format!(
                "prompt {src:?} is not a name inside the prompt directory"
            )));
        }
        let mut path = self.config.dir.join(relative);
        if path.extension().is_none() {
            path.set_extension("wav");
        }
        // Canonical paths, so a symbolic link cannot lead out of the directory either.
        let inside = match (path.canonicalize(), self.config.dir.canonicalize()) {
            (Ok(file), Ok(dir)) => file.is_file() && file.starts_with(dir),
            _ => false,
        };
        if !inside {
            return Err(self.uri_failure(format!("no prompt file {}", path.display())));
        }
        Ok(path)
    }

    fn plan(&self, segments: Vec<Segment>, steps: &mut Vec<Step>) -> Result<(), EngineError> {
        for segment in segments {
            match segment {
                Segment::Audio { src, .. } => steps.push(Step::Play(self.resolve(&src)?)),
                Segment::Break(pause) => {
                    let n = pause
                        .as_micros()
                        .saturating_mul(u128::from(self.config.sample_rate))
                        / 1_000_000;
                    steps.push(Step::Silence(usize::try_from(n).unwrap_or(usize::MAX)));
                }
                Segment::Mark(name) => steps.push(Step::Mark(name)),
                Segment::Speech(speech) => {
                    return Err(EngineError::new(
                        &self.name,
                        EngineErrorKind::BadRequest,
                        format!(
                            "prompt files cannot speak text ({:?}); only <audio> prompts",
                            speech.text
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads one prompt, checking its format against the declared rate.
    fn read(&self, path: &Path) -> Result<Vec<i16>, EngineError> {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX);
        if size > self.config.max_file_bytes {
            return Err(self.uri_failure(format!(
                "prompt file {} of {size} bytes exceeds limit {}",
                path.display(),
                self.config.max_file_bytes
            )));
        }
        let reader = hound::WavReader::open(path)
            .map_err(|e| self.uri_failure(format!("prompt file {}: {e}", path.display())))?;
        let spec = reader.spec();
        if spec.channels != 1
            || spec.bits_per_sample != 16
            || spec.sample_format != hound::SampleFormat::Int
            || spec.sample_rate != self.config.sample_rate
        {
            return Err(self.uri_failure(format!(
                "prompt file {} is {} channels of {}-bit audio at {} Hz, expected 16-bit mono at {} Hz",
                path.display(),
                spec.channels,
                spec.bits_per_sample,
                spec.sample_rate,
                self.config.sample_rate
            )));
        }
        reader
            .into_samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.uri_failure(format!("prompt file {}: {e}", path.display())))
    }
}

impl Synthesizer for PromptFiles {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &SynthesizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: SynthesisRequest) -> Result<SynthesisStream, EngineError> {
        let segments = match &request.content {
            crate::SynthesisContent::Text(name) => vec![Segment::Audio {
                src: name.trim().to_owned(),
                fallback: Vec::new(),
            }],
            crate::SynthesisContent::Ssml(_) => {
                request.segments(&self.config.limits).map_err(|e| {
                    SynthesisFailure::ParseFailure.error(
                        &self.name,
                        EngineErrorKind::BadRequest,
                        e.to_string(),
                    )
                })?
            }
        };
        let mut steps = Vec::new();
        self.plan(segments, &mut steps)?;
        let (stream, sink) = synthesis_channel();
        let engine = self.clone();
        let frame = usize::try_from(self.config.sample_rate / 50)
            .unwrap_or(160)
            .max(1);
        tokio::spawn(async move {
            let tx = sink.events;
            for step in steps {
                let samples = match step {
                    Step::Mark(name) => {
                        if tx.send(Ok(SynthesisEvent::Mark(name))).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Step::Silence(mut n) => {
                        // Frame by frame: breaks may add up to hours, never allocated at once.
                        while n > 0 {
                            let len = n.min(frame);
                            n -= len;
                            if tx
                                .send(Ok(SynthesisEvent::Audio(vec![0; len])))
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                        continue;
                    }
                    Step::Play(path) => {
                        // File reads block: on the blocking pool, never on the reactor.
                        let reader = engine.clone();
                        match tokio::task::spawn_blocking(move || reader.read(&path)).await {
                            Ok(Ok(samples)) => samples,
                            Ok(Err(e)) => {
                                let _ = tx.send(Err(e)).await;
                                return;
                            }
                            Err(e) => {
                                let e = EngineError::new(
                                    &engine.name,
                                    EngineErrorKind::Internal,
                                    e.to_string(),
                                );
                                let _ = tx.send(Err(e)).await;
                                return;
                            }
                        }
                    }
                };
                for chunk in samples.chunks(frame) {
                    if tx
                        .send(Ok(SynthesisEvent::Audio(chunk.to_vec())))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            let _ = tx.send(Ok(SynthesisEvent::Done)).await;
        });
        Ok(stream)
    }
}
