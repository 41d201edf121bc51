//! Builds the `kind = "openai"`, `"openai-realtime"` and `"deepgram"` engines: credentials are read once at
//! start from the environment or a file (a missing one is logged, naming the variable or file, never a
//! value, and the engine is left out, so requests routed to it fail with Completion-Cause 006 / 004).

use std::collections::BTreeMap;
use std::sync::Arc;

use asr_adapters::Recognizer;
use asr_adapters::deepgram::DeepgramRecognizer;
use asr_adapters::openai::{OpenAiRealtime, OpenAiTranscriber};
use mrcp_proto::engine::{Secret, SecretSource};
use tracing::warn;
use tts_adapters::Synthesizer;
use tts_adapters::deepgram::DeepgramSpeech;
use tts_adapters::openai::OpenAiSpeech;

use crate::config::EngineConfig;

fn load(name: &str, source: Option<&SecretSource>) -> Result<Option<Secret>, ()> {
    match source.map(SecretSource::load).transpose() {
        Ok(secret) => Ok(secret),
        Err(error) => {
            warn!(engine = name, %error, "cannot read the API key: requests routed to this engine will fail");
            Err(())
        }
    }
}

/// Adds the recognizer and synthesizer of one cloud engine config.
pub(super) fn build(
    name: &str,
    engine: &EngineConfig,
    recognizers: &mut BTreeMap<String, Arc<dyn Recognizer>>,
    synthesizers: &mut BTreeMap<String, Arc<dyn Synthesizer>>,
) {
    match engine {
        EngineConfig::Openai {
            base_url,
            api_key,
            recognizer,
            synthesizer,
        } => {
            let Ok(key) = load(name, api_key.as_ref()) else {
                return;
            };
            match OpenAiTranscriber::new(name, base_url, key.clone(), recognizer.clone()) {
                Ok(r) => {
                    recognizers.insert(name.to_owned(), Arc::new(r));
                }
                Err(error) => warn!(%error, "RECOGNIZE requests routed to this engine will fail"),
            }
            match OpenAiSpeech::new(name, base_url, key, synthesizer.clone()) {
                Ok(s) => {
                    synthesizers.insert(name.to_owned(), Arc::new(s));
                }
                Err(error) => warn!(%error, "SPEAK requests routed to this engine will fail"),
            }
        }
        EngineConfig::OpenaiRealtime {
            base_url,
            api_key,
            recognizer,
        } => {
            let Ok(key) = load(name, api_key.as_ref()) else {
                return;
            };
            let r = OpenAiRealtime::new(name, base_url, key, recognizer.clone());
            recognizers.insert(name.to_owned(), Arc::new(r));
        }
        EngineConfig::Deepgram {
            base_url,
            api_key,
            recognizer,
            synthesizer,
        } => {
            let Ok(Some(key)) = load(name, Some(api_key)) else {
                return;
            };
            match DeepgramRecognizer::new(name, base_url, key.clone(), recognizer.clone()) {
                Ok(r) => {
                    recognizers.insert(name.to_owned(), Arc::new(r));
                }
                Err(error) => warn!(%error, "RECOGNIZE requests routed to this engine will fail"),
            }
            match DeepgramSpeech::new(name, base_url, key, synthesizer.clone()) {
                Ok(s) => {
                    synthesizers.insert(name.to_owned(), Arc::new(s));
                }
                Err(error) => warn!(%error, "SPEAK requests routed to this engine will fail"),
            }
        }
        _ => {}
    }
}
