//! The engines requests are routed to, built from `[engines.<name>]`, and the routing rules that choose
//! among them (see [`crate::routing`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Duration;

use asr_adapters::Recognizer;
use asr_adapters::engine_ws::{EngineWsConfig, EngineWsRecognizer};
use asr_adapters::fault::{FaultMode, FaultRecognizer};
use asr_adapters::pocketsphinx::{PocketSphinx, PocketSphinxConfig};
use tracing::warn;
use tts_adapters::Synthesizer;
use tts_adapters::engine_ws::{EngineWsSynthesizer, EngineWsTtsConfig, HttpSynthesizer};
use tts_adapters::espeak::{EspeakConfig, EspeakNg};

use crate::config::{Config, EngineConfig, EngineWsSettings, FaultKind};
use crate::routing::{RouteContext, RouteRule, choose};

/// Every configured engine, by name, with the routes.
pub struct Engines {
    recognizers: BTreeMap<String, Arc<dyn Recognizer>>,
    synthesizers: BTreeMap<String, Arc<dyn Synthesizer>>,
    routes: Vec<RouteRule>,
    default_recognizer: String,
    default_synthesizer: String,
}

/// Builds the recognizer and the synthesizer of a `kind = "engine-ws"` engine (`docs/engine-ws.md` §5). A
/// credential that cannot be read is logged (naming its source, never its value) and the engine is left out,
/// so requests routed to it fail.
fn engine_ws(
    name: &str,
    settings: &EngineWsSettings,
    recognizers: &mut BTreeMap<String, Arc<dyn Recognizer>>,
    synthesizers: &mut BTreeMap<String, Arc<dyn Synthesizer>>,
) {
    let credential = match settings.api_key.as_ref().map(|source| source.load()) {
        None => None,
        Some(Ok(secret)) => Some(secret),
        Some(Err(error)) => {
            warn!(engine = name, %error, "engine-ws credential unavailable: requests routed to this engine will fail");
            return;
        }
    };
    let connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
    let result_timeout = Duration::from_millis(settings.result_timeout_ms);
    if let Some(url) = &settings.asr_url {
        let config = EngineWsConfig {
            url: url.clone(),
            credential: credential.clone(),
            sample_rate: settings.asr_sample_rate,
            language: settings.language.clone(),
            connect_timeout,
            result_timeout,
            idle_timeout: Duration::from_millis(settings.idle_timeout_ms),
            interim_results: settings.interim_results,
        };
        match EngineWsRecognizer::new(name, config) {
            Ok(engine) => {
                recognizers.insert(name.to_owned(), Arc::new(engine));
            }
            Err(error) => warn!(%error, "RECOGNIZE requests routed to this engine will fail"),
        }
    }
    if let Some(url) = &settings.tts_url {
        let config = EngineWsTtsConfig {
            url: url.clone(),
            credential,
            sample_rate: settings.tts_sample_rate,
            language: settings.language.clone(),
            connect_timeout,
            result_timeout,
        };
        let built: Result<Arc<dyn Synthesizer>, _> = if url.starts_with("http") {
            HttpSynthesizer::new(name, config).map(|e| Arc::new(e) as Arc<dyn Synthesizer>)
        } else {
            EngineWsSynthesizer::new(name, config).map(|e| Arc::new(e) as Arc<dyn Synthesizer>)
        };
        match built {
            Ok(engine) => {
                synthesizers.insert(name.to_owned(), engine);
            }
            Err(error) => warn!(%error, "SPEAK requests routed to this engine will fail"),
        }
    }
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
                EngineConfig::EngineWs(settings) => {
                    engine_ws(name, settings, &mut recognizers, &mut synthesizers);
                }
                EngineConfig::Fault { mode } => {
                    let mode = match mode {
                        FaultKind::Panic => FaultMode::Panic,
                        FaultKind::Hang => FaultMode::Hang,
                        FaultKind::Error => FaultMode::Error,
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
