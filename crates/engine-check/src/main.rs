//! `engine-check`: drives an engine-ws v1 engine through every case of `docs/engine-ws.md` §7 and prints
//! PASS, FAIL (with the reason) or SKIP per case; exits with 1 when any case fails.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use engine_check::asr::AsrOptions;
use engine_check::tts::TtsOptions;

#[derive(Parser)]
#[command(
    name = "engine-check",
    version,
    about = "Conformance kit for engine-ws v1 engines (docs/engine-ws.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Checks a recognizer at ws://HOST:PORT/PATH.
    Asr {
        /// The engine's ws:// or wss:// URL.
        url: String,
        /// 16-bit mono WAV at 8000 or 16000 Hz to recognize (default: a synthetic tone burst at 16 kHz).
        #[arg(long)]
        audio: Option<PathBuf>,
        /// Text the best transcript of --audio must contain.
        #[arg(long)]
        expect: Option<String>,
        /// A JSGF grammar file sent as `jsgf` (grammar mode instead of dictation).
        #[arg(long)]
        jsgf: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Checks a synthesizer at ws://… (streaming) or http://… (one POST per prompt).
    Tts {
        /// The engine's ws://, wss://, http:// or https:// URL.
        url: String,
        /// sampleRateHz to ask for.
        #[arg(long, default_value_t = 16_000)]
        sample_rate: u32,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(clap::Args)]
struct Common {
    /// Environment variable holding the engine's credential (sent as Authorization: Bearer; also enables
    /// the auth case). Never given on the command line, where other users could read it.
    #[arg(long)]
    token_env: Option<String>,
    /// How long the engine may take for each reply, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
}

impl Common {
    fn token(&self) -> anyhow::Result<Option<String>> {
        self.token_env
            .as_ref()
            .map(|var| {
                std::env::var(var).with_context(|| format!("environment variable {var} is not set"))
            })
            .transpose()
    }
}

fn read_wav(path: &PathBuf) -> anyhow::Result<(Vec<i16>, u32)> {
    let reader =
        hound::WavReader::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let spec = reader.spec();
    if spec.channels != 1
        || spec.bits_per_sample != 16
        || !matches!(spec.sample_rate, 8000 | 16_000)
    {
        bail!(
            "{}: 16-bit mono at 8000 or 16000 Hz needed, it is {spec:?}",
            path.display()
        );
    }
    let samples = reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()?;
    Ok((samples, spec.sample_rate))
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let report = match cli.command {
        Command::Asr {
            url,
            audio,
            expect,
            jsgf,
            common,
        } => {
            let mut o = AsrOptions::new(url.clone());
            o.token = common.token()?;
            o.timeout = Duration::from_millis(common.timeout_ms);
            if let Some(path) = &audio {
                (o.audio, o.sample_rate) = read_wav(path)?;
            }
            o.expect = expect;
            if let Some(path) = &jsgf {
                o.jsgf = Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                );
            }
            println!(
                "engine-check asr {} (engine-ws v1)",
                engine_check::redacted(&url)
            );
            engine_check::asr::check(&o).await
        }
        Command::Tts {
            url,
            sample_rate,
            common,
        } => {
            let mut o = TtsOptions::new(url.clone());
            o.token = common.token()?;
            o.timeout = Duration::from_millis(common.timeout_ms);
            o.sample_rate = sample_rate;
            println!(
                "engine-check tts {} (engine-ws v1)",
                engine_check::redacted(&url)
            );
            engine_check::tts::check(&o).await
        }
    };
    println!("{report}");
    Ok(if report.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
