//! The engines requests are routed to, built from `[engines.<name>]`, and the routing rules that choose
//! among them (see [`crate::routing`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use asr_adapters::Recognizer;
use asr_adapters::pocketsphinx::{PocketSphinx, PocketSphinxConfig};
use tracing::warn;

use crate::config::{Config, EngineConfig};
use crate::routing::{RouteContext, RouteRule, choose};

/// Every configured engine, by name, with the routes.
pub struct Engines {
    recognizers: BTreeMap<String, Arc<dyn Recognizer>>,
    routes: Vec<RouteRule>,
    default_recognizer: String,
}

impl Engines {
    /// Builds the engines of a validated config. Nothing is loaded yet: an engine that is not installed is
    /// reported by [`Engines::check`] and fails only the requests routed to it.
    pub fn from_config(config: &Config) -> Self {
        let recognizers = config
            .engines
            .iter()
            .map(|(name, engine)| {
                let recognizer: Arc<dyn Recognizer> = match engine {
                    EngineConfig::Pocketsphinx {
                        model_dir,
                        max_concurrent,
                    } => Arc::new(PocketSphinx::new(
                        name.clone(),
                        PocketSphinxConfig {
                            model_dir: model_dir.clone(),
                            max_concurrent: *max_concurrent,
                        },
                    )),
                };
                (name.clone(), recognizer)
            })
            .collect();
        Self {
            recognizers,
            routes: config.routes.clone(),
            default_recognizer: config.default_engines.speechrecog.clone(),
        }
    }

    /// Warns, naming what to install, about every engine that cannot run on this machine.
    pub fn check(&self, config: &Config) {
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
                }
            }
        }
    }

    /// The recognizer for a request: the first matching route's engine, else the default.
    pub fn recognizer(&self, cx: &RouteContext<'_>) -> Option<Arc<dyn Recognizer>> {
        let name = choose(&self.routes, cx, &self.default_recognizer);
        self.recognizers.get(name).cloned()
    }

    /// The sample rate of the default recognizer, which a session's listener starts with.
    pub fn default_recognizer_rate(&self) -> u32 {
        self.recognizers
            .get(&self.default_recognizer)
            .map_or(16_000, |r| r.capabilities().sample_rate)
    }
}
