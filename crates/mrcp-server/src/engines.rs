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
use tts_adapters::cache::PromptCache;
use tts_adapters::engine_ws::{EngineWsSynthesizer, EngineWsTtsConfig, HttpSynthesizer};
use tts_adapters::espeak::{EspeakConfig, EspeakNg};
use tts_adapters::prompt_files::{PromptFiles, PromptFilesConfig};

use crate::config::{Config, EngineConfig, EngineWsSettings, FaultKind};

mod openai_deepgram;
use crate::routing::{RouteContext, RouteRule, choose};

/// Every configured engine, by name, with the routes.
pub struct Engines {
    recognizers: BTreeMap<String, Arc<dyn Recognizer>>,
    synthesizers: BTreeMap<String, Arc<dyn Synthesizer>>,
    routes: Vec<RouteRule>,
    default_recognizer: String,
    default_synthesizer: String,
    tts_cache: Option<Arc<PromptCache>>,
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
                EngineConfig::Azure(cloud) => match cloud::azure(name, cloud) {
                    Ok((recognizer, synthesizer)) => {
                        recognizers.insert(name.clone(), recognizer);
                        synthesizers.insert(name.clone(), synthesizer);
                    }
                    Err(error) => {
                        warn!(engine = %name, %error, "requests routed to this engine will fail")
                    }
                },
                EngineConfig::Iflytek(cloud) => match cloud::iflytek(name, cloud) {
                    Ok((recognizer, synthesizer)) => {
                        recognizers.insert(name.clone(), recognizer);
                        synthesizers.insert(name.clone(), synthesizer);
                    }
                    Err(error) => {
                        warn!(engine = %name, %error, "requests routed to this engine will fail")
                    }
                },
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
                EngineConfig::Openai { .. }
                | EngineConfig::OpenaiRealtime { .. }
                | EngineConfig::Deepgram { .. } => {
                    openai_deepgram::build(name, engine, &mut recognizers, &mut synthesizers);
                }
                EngineConfig::PromptFiles { dir, sample_rate } => {
                    let config = PromptFilesConfig {
                        sample_rate: *sample_rate,
                        ..PromptFilesConfig::new(dir)
                    };
                    match PromptFiles::new(name.clone(), config) {
                        Ok(engine) => {
                            synthesizers.insert(name.clone(), Arc::new(engine));
                        }
                        Err(error) => {
                            warn!(%error, "SPEAK requests routed to this engine will fail")
                        }
                    }
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
        let tts_cache = config.tts_cache.limits().map(PromptCache::new);
        if let Some(cache) = &tts_cache {
            for (name, engine) in &mut synthesizers {
                let covered = config
                    .engines
                    .get(name)
                    .is_some_and(|e| config.tts_cache.covers(name, e));
                if covered {
                    *engine = Arc::new(cache.wrap(Arc::clone(engine)));
                }
            }
        }
        Self {
            recognizers,
            synthesizers,
            tts_cache,
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

    /// The prompt cache in front of the synthesizers, unless `[tts_cache] max_mb = 0`.
    pub fn tts_cache(&self) -> Option<&Arc<PromptCache>> {
        self.tts_cache.as_ref()
    }

    /// The sample rate of the default recognizer, which a session's listener starts with.
    pub fn default_recognizer_rate(&self) -> u32 {
        self.recognizers
            .get(&self.default_recognizer)
            .map_or(16_000, |r| r.capabilities().sample_rate)
    }
}

/// Cloud engines from their config: credentials are read here, once, and never logged.
mod cloud {
    use std::sync::Arc;
    use std::time::Duration;

    use asr_adapters::Recognizer;
    use asr_adapters::azure::{AzureAuth, AzureRecognizer, AzureSpeechConfig, RecognitionMode};
    use asr_adapters::iflytek::{IflytekIatConfig, IflytekRecognizer};
    use mrcp_proto::engine::RetryPolicy;
    use tts_adapters::Synthesizer;
    use tts_adapters::azure::{AzureSynthesizer, AzureTtsConfig, OutputFormat};
    use tts_adapters::iflytek::{IflytekSynthesizer, IflytekTtsConfig};

    use crate::config::{AzureEngine, IflytekEngine};

    type Pair = (Arc<dyn Recognizer>, Arc<dyn Synthesizer>);

    fn retry(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            ..RetryPolicy::default()
        }
    }

    pub(super) fn azure(name: &str, c: &AzureEngine) -> Result<Pair, String> {
        let auth = match (&c.key, &c.token) {
            (Some(key), _) => AzureAuth::SubscriptionKey(key.load().map_err(|e| e.to_string())?),
            (None, Some(token)) => AzureAuth::BearerToken(token.load().map_err(|e| e.to_string())?),
            (None, None) => return Err("no key or token".to_owned()),
        };
        let region = c.region.as_deref().unwrap_or_default();
        let mut stt = AzureSpeechConfig::new(
            c.stt_endpoint
                .clone()
                .unwrap_or_else(|| AzureSpeechConfig::region_endpoint(region)),
            auth.clone(),
        );
        stt.mode = match c.mode.as_str() {
            "interactive" => RecognitionMode::Interactive,
            "dictation" => RecognitionMode::Dictation,
            _ => RecognitionMode::Conversation,
        };
        stt.default_language.clone_from(&c.language);
        stt.phrase_list = c.phrase_list;
        stt.connect_timeout = Duration::from_millis(c.connect_timeout_ms);
        stt.result_timeout = Duration::from_millis(c.result_timeout_ms);
        stt.retry = retry(c.max_retries);
        let mut tts = AzureTtsConfig::new(
            c.tts_endpoint
                .clone()
                .unwrap_or_else(|| AzureTtsConfig::region_endpoint(region)),
            auth,
        );
        tts.output_format = if c.output_format == "raw-16khz-16bit-mono-pcm" {
            OutputFormat::Pcm16k
        } else {
            OutputFormat::Mulaw8k
        };
        tts.default_voice.clone_from(&c.voice);
        tts.default_language.clone_from(&c.language);
        tts.connect_timeout = Duration::from_millis(c.connect_timeout_ms);
        tts.read_timeout = Duration::from_millis(c.result_timeout_ms);
        tts.retry = retry(c.max_retries);
        Ok((
            Arc::new(AzureRecognizer::new(name, stt).map_err(|e| e.to_string())?),
            Arc::new(AzureSynthesizer::new(name, tts).map_err(|e| e.to_string())?),
        ))
    }

    pub(super) fn iflytek(name: &str, c: &IflytekEngine) -> Result<Pair, String> {
        let key = c.api_key.load().map_err(|e| e.to_string())?;
        let secret = c.api_secret.load().map_err(|e| e.to_string())?;
        let mut iat =
            IflytekIatConfig::new(&c.iat_endpoint, &c.app_id, key.clone(), secret.clone());
        iat.default_language.clone_from(&c.language);
        iat.domain.clone_from(&c.domain);
        iat.accent.clone_from(&c.accent);
        iat.vad_eos_ms = c.vad_eos_ms;
        iat.dynamic_correction = c.dynamic_correction;
        iat.sample_rate = c.sample_rate;
        iat.connect_timeout = Duration::from_millis(c.connect_timeout_ms);
        iat.result_timeout = Duration::from_millis(c.result_timeout_ms);
        iat.retry = retry(c.max_retries);
        let mut tts = IflytekTtsConfig::new(&c.tts_endpoint, &c.app_id, key, secret);
        tts.default_voice.clone_from(&c.voice);
        tts.sample_rate = c.sample_rate;
        tts.read_timeout = Duration::from_millis(c.result_timeout_ms);
        tts.retry = retry(c.max_retries);
        Ok((
            Arc::new(IflytekRecognizer::new(name, iat).map_err(|e| e.to_string())?),
            Arc::new(IflytekSynthesizer::new(name, tts).map_err(|e| e.to_string())?),
        ))
    }
}
