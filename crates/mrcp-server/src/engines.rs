//! The engines requests are routed to, built from `[engines.<name>]`, and the routing rules that choose
//! among them (see [`crate::routing`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use asr_adapters::Recognizer;
use asr_adapters::fault::{FaultMode, FaultRecognizer};
use asr_adapters::pocketsphinx::{PocketSphinx, PocketSphinxConfig};
use tracing::warn;
use tts_adapters::Synthesizer;
use tts_adapters::espeak::{EspeakConfig, EspeakNg};

use crate::config::{Config, EngineConfig, FaultKind};
use crate::routing::{RouteContext, RouteRule, choose};

/// Every configured engine, by name, with the routes.
pub struct Engines {
    recognizers: BTreeMap<String, Arc<dyn Recognizer>>,
    synthesizers: BTreeMap<String, Arc<dyn Synthesizer>>,
    routes: Vec<RouteRule>,
    default_recognizer: String,
    default_synthesizer: String,
}

impl Engines {
    /// Builds the engines of a validated config. An engine that is not installed is logged with what to
    /// install and fails only the requests routed to it.
    pub async fn from_config(config: &Config) -> Self {
        let mut recognizers: BTreeMap<String, Arc<dyn Recognizer>> = BTreeMap::new();
        let mut synthesizers: BTreeMap<String, Arc<dyn Synthesizer>> = BTreeMap::new();
        for (name, engine) in &config.engines {
            match engine {
                EngineConfig::Pocketsphinx {
                    model_dir,
                    max_concurrent,
                } => {
                    let ps = PocketSphinx::new(
                        name.clone(),
                        PocketSphinxConfig {
                            model_dir: model_dir.clone(),
                            max_concurrent: *max_concurrent,
                        },
                    );
                    if let Err(error) = ps.check_installed() {
                        warn!(%error, "requests routed to this engine will fail");
                    }
                    recognizers.insert(name.clone(), Arc::new(ps));
                }
                EngineConfig::Fault { mode } => {
                    let mode = match mode {
                        FaultKind::Panic => FaultMode::Panic,
                        FaultKind::Hang => FaultMode::Hang,
                        FaultKind::Error => FaultMode::Error,
                        FaultKind::Garbage => FaultMode::Garbage,
                    };
                    recognizers.insert(
                        name.clone(),
                        Arc::new(FaultRecognizer::new(name.clone(), mode)),
                    );
                }
                EngineConfig::Espeak {
                    max_concurrent,
                    default_language,
                    strict_voice_names,
                } => {
                    let config = EspeakConfig {
                        max_concurrent: *max_concurrent,
                        default_language: default_language.clone(),
                        strict_voice_names: *strict_voice_names,
                        ..EspeakConfig::default()
                    };
                    match EspeakNg::new(name.clone(), config).await {
                        Ok(engine) => {
                            synthesizers.insert(name.clone(), Arc::new(engine));
                        }
                        Err(error) => {
                            warn!(%error, "SPEAK requests routed to this engine will fail")
                        }
                    }
                }
            }
        }
        Self {
            recognizers,
            synthesizers,
            routes: config.routes.clone(),
            default_recognizer: config.default_engines.speechrecog.clone(),
            default_synthesizer: config.default_engines.speechsynth.clone(),
        }
    }

    /// The recognizer for a request: the first matching route's engine, else the default.
    pub fn recognizer(&self, cx: &RouteContext<'_>) -> Option<Arc<dyn Recognizer>> {
        let name = choose(&self.routes, cx, &self.default_recognizer);
        self.recognizers.get(name).cloned()
    }

    /// The synthesizer for a request: the first matching route's engine, else the default.
    pub fn synthesizer(&self, cx: &RouteContext<'_>) -> Option<Arc<dyn Synthesizer>> {
        let name = choose(&self.routes, cx, &self.default_synthesizer);
        self.synthesizers.get(name).cloned()
    }

    /// Every synthesizer, by configured name.
    pub fn synthesizers(&self) -> impl Iterator<Item = (&str, &Arc<dyn Synthesizer>)> {
        self.synthesizers.iter().map(|(name, s)| (name.as_str(), s))
    }

    /// The sample rate of the default recognizer, which a session's listener starts with.
    pub fn default_recognizer_rate(&self) -> u32 {
        self.recognizers
            .get(&self.default_recognizer)
            .map_or(16_000, |r| r.capabilities().sample_rate)
    }
}
