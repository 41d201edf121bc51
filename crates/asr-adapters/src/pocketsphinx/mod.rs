//! The embedded offline recognizer: CMU PocketSphinx from Debian, loaded at run time.
//!
//! * **Grammar mode**: the active grammars arrive as one JSGF grammar; the decoder's dictionary holds only the
//!   words they use (added from the CMU dictionary with `ps_add_word`), and each distinct grammar becomes a
//!   named JSGF search that stays compiled in the decoder for the next request with the same grammar.
//! * **Dictation** (`builtin:speech/transcribe`): the full dictionary with the `en-us` trigram model;
//!   best-effort on telephone audio.
//!
//! Decoders are pooled and run on tokio's blocking pool, at most [`PocketSphinxConfig::max_concurrent`] at
//! once, never on the reactor. Audio must be 16 kHz (the server upsamples 8 kHz telephone audio).

mod dictionary;
mod ffi;
mod noise_floor;

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Semaphore;

pub use dictionary::{Dictionary, DictionaryError};
pub use ffi::LoadError;

use crate::{
    Alternative, Constraint, EngineError, EngineErrorKind, EngineSide, GrammarSupport,
    RecognitionRequest, RecognitionStream, Recognizer, RecognizerCapabilities, RecognizerEvent,
    recognition_channel,
};
use ffi::{Api, RawDecoder};
use noise_floor::NoiseFloor;

/// The sample rate of the `en-us` acoustic model.
pub const SAMPLE_RATE: u32 = 16_000;

/// Where the model is and how many decoders may run at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocketSphinxConfig {
    /// The model directory of `pocketsphinx-en-us`: holds `en-us/` (acoustic model), `cmudict-en-us.dict`
    /// and `en-us.lm.bin`. Default `/usr/share/pocketsphinx/model/en-us`.
    pub model_dir: PathBuf,
    /// Recognitions decoding at the same time; more wait for a free decoder. Default: the number of cores.
    pub max_concurrent: usize,
}

impl Default for PocketSphinxConfig {
    fn default() -> Self {
        Self {
            model_dir: PathBuf::from("/usr/share/pocketsphinx/model/en-us"),
            max_concurrent: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

impl PocketSphinxConfig {
    fn acoustic_model(&self) -> PathBuf {
        self.model_dir.join("en-us")
    }

    fn dictionary(&self) -> PathBuf {
        self.model_dir.join("cmudict-en-us.dict")
    }

    fn language_model(&self) -> PathBuf {
        self.model_dir.join("en-us.lm.bin")
    }
}

/// A grammar-mode decoder and what it already holds.
struct GrammarDecoder {
    raw: RawDecoder,
    words: HashSet<String>,
    searches: HashSet<String>,
}

/// The PocketSphinx engine. Cheap to clone; clones share the decoder pools.
#[derive(Clone)]
pub struct PocketSphinx {
    name: String,
    capabilities: RecognizerCapabilities,
    shared: Arc<Shared>,
}

struct Shared {
    config: PocketSphinxConfig,
    dictionary: OnceLock<Result<Arc<Dictionary>, DictionaryError>>,
    grammar_decoders: Mutex<Vec<GrammarDecoder>>,
    dictation_decoders: Mutex<Vec<RawDecoder>>,
    permits: Arc<Semaphore>,
}

impl PocketSphinx {
    /// Makes the engine. Nothing is loaded until the first recognition, so a server without PocketSphinx
    /// installed starts and only the requests routed here fail.
    pub fn new(name: impl Into<String>, config: PocketSphinxConfig) -> Self {
        let permits = Arc::new(Semaphore::new(config.max_concurrent.max(1)));
        Self {
            name: name.into(),
            capabilities: RecognizerCapabilities {
                sample_rate: SAMPLE_RATE,
                languages: vec!["en-US".to_owned()],
                grammar_support: GrammarSupport::Constrained,
            },
            shared: Arc::new(Shared {
                config,
                dictionary: OnceLock::new(),
                grammar_decoders: Mutex::new(Vec::new()),
                dictation_decoders: Mutex::new(Vec::new()),
                permits,
            }),
        }
    }

    /// Checks that the libraries and the model are installed, loading both; the server calls it at start-up
    /// for routes that need PocketSphinx so a missing package is reported before the first call.
    pub fn check_installed(&self) -> Result<(), EngineError> {
        self.api()?;
        self.dictionary()?;
        Ok(())
    }

    fn error(&self, kind: EngineErrorKind, message: impl Into<String>) -> EngineError {
        EngineError::new(&self.name, kind, message)
    }

    fn api(&self) -> Result<Arc<Api>, EngineError> {
        Api::get().map_err(|e| self.error(EngineErrorKind::Unavailable, e.to_string()))
    }

    fn dictionary(&self) -> Result<Arc<Dictionary>, EngineError> {
        let path = self.shared.config.dictionary();
        self.shared
            .dictionary
            .get_or_init(|| Dictionary::load(&path).map(Arc::new))
            .clone()
            .map_err(|e| self.error(EngineErrorKind::Unavailable, e.to_string()))
    }
}

impl Recognizer for PocketSphinx {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &RecognizerCapabilities {
        &self.capabilities
    }

    fn start(&self, request: RecognitionRequest) -> Result<RecognitionStream, EngineError> {
        let api = self.api()?;
        let job = match request.constraint {
            Constraint::Grammars(grammars) => {
                let dictionary = self.dictionary()?;
                let unknown: Vec<&str> = grammars
                    .words
                    .iter()
                    .filter(|w| dictionary.pronunciations(w).is_none())
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    return Err(self.error(
                        EngineErrorKind::BadRequest,
                        format!(
                            "words not in the pronouncing dictionary: {}",
                            unknown.join(", ")
                        ),
                    ));
                }
                if grammars.jsgf.trim().is_empty() {
                    return Err(self.error(
                        EngineErrorKind::BadRequest,
                        "no grammar to recognize against",
                    ));
                }
                Job::Grammar {
                    jsgf: grammars.jsgf,
                    words: grammars.words,
                    dictionary,
                }
            }
            Constraint::Dictation => Job::Dictation,
        };
        let (stream, mut side) = recognition_channel();
        let engine = self.clone();
        tokio::spawn(async move {
            // The utterance is collected as it arrives, which needs no decoder: nothing is lost while every
            // decoder is busy or the first one is still loading its model.
            let Some(utterance) = collect_utterance(&mut side).await else {
                return;
            };
            // Waiting for a decoder is queueing, not failing: the server's own deadline bounds the wait.
            let Ok(permit) = engine.shared.permits.clone().acquire_owned().await else {
                return;
            };
            let events = side.events.clone();
            let worker = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                engine.run(api, job, &utterance, &side);
            });
            if let Err(e) = worker.await {
                // A panic inside the decoder ends only this recognition.
                let message = format!("decoder task failed: {e}");
                let _ = events
                    .send(Err(EngineError::new(
                        "pocketsphinx",
                        EngineErrorKind::Internal,
                        message,
                    )))
                    .await;
            }
        });
        Ok(stream)
    }
}

/// What one recognition needs from the pools.
enum Job {
    Grammar {
        jsgf: String,
        words: Vec<String>,
        dictionary: Arc<Dictionary>,
    },
    Dictation,
}

impl PocketSphinx {
    /// Decodes one collected utterance on a blocking thread and reports the final result.
    fn run(&self, api: Arc<Api>, job: Job, utterance: &[i16], side: &EngineSide) {
        let result = match job {
            Job::Grammar {
                jsgf,
                words,
                dictionary,
            } => {
                let mut decoder = match self.grammar_decoder(&api, &jsgf, &words, &dictionary) {
                    Ok(d) => d,
                    Err(e) => return report(side, Err(e)),
                };
                let result = decode(&mut decoder.raw, utterance);
                if result.is_ok() {
                    self.shared
                        .grammar_decoders
                        .lock()
                        .map(|mut pool| pool.push(decoder))
                        .ok();
                }
                result
            }
            Job::Dictation => {
                let mut decoder = match self.dictation_decoder(&api) {
                    Ok(d) => d,
                    Err(e) => return report(side, Err(e)),
                };
                let result = decode(&mut decoder, utterance);
                if result.is_ok() {
                    self.shared
                        .dictation_decoders
                        .lock()
                        .map(|mut pool| pool.push(decoder))
                        .ok();
                }
                result
            }
        };
        report(
            side,
            result.map_err(|e| self.error(EngineErrorKind::Internal, e.to_string())),
        );
    }

    /// Takes a pooled decoder (or makes one) and readies it for `jsgf`.
    fn grammar_decoder(
        &self,
        api: &Arc<Api>,
        jsgf: &str,
        words: &[String],
        dictionary: &Dictionary,
    ) -> Result<GrammarDecoder, EngineError> {
        let pooled = self
            .shared
            .grammar_decoders
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop());
        let mut decoder = match pooled {
            Some(d) => d,
            None => {
                // An empty dictionary to start from: the grammar's words are added below.
                let base = base_dictionary_file()
                    .map_err(|e| self.error(EngineErrorKind::Unavailable, e))?;
                let raw = self.new_decoder(api, &base, None)?;
                GrammarDecoder {
                    raw,
                    words: HashSet::new(),
                    searches: HashSet::new(),
                }
            }
        };
        for word in words {
            if decoder.words.contains(word) {
                continue;
            }
            for (i, phones) in dictionary
                .pronunciations(word)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let entry = if i == 0 {
                    word.clone()
                } else {
                    format!("{word}({})", i + 1)
                };
                decoder
                    .raw
                    .add_word(&entry, phones, false)
                    .map_err(|e| self.error(EngineErrorKind::Internal, e.to_string()))?;
            }
            decoder.words.insert(word.clone());
        }
        let search = search_name(jsgf);
        if !decoder.searches.contains(&search) {
            decoder.raw.set_jsgf(&search, jsgf).map_err(|_| {
                self.error(
                    EngineErrorKind::BadRequest,
                    "the grammar does not compile as JSGF in PocketSphinx",
                )
            })?;
            decoder.searches.insert(search.clone());
        }
        decoder
            .raw
            .set_search(&search)
            .map_err(|e| self.error(EngineErrorKind::Internal, e.to_string()))?;
        Ok(decoder)
    }

    fn dictation_decoder(&self, api: &Arc<Api>) -> Result<RawDecoder, EngineError> {
        if let Some(d) = self
            .shared
            .dictation_decoders
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
        {
            return Ok(d);
        }
        let config = &self.shared.config;
        self.new_decoder(api, &config.dictionary(), Some(&config.language_model()))
    }

    /// A decoder on the acoustic model with `dictionary`, and an n-gram model for dictation.
    fn new_decoder(
        &self,
        api: &Arc<Api>,
        dictionary: &std::path::Path,
        language_model: Option<&std::path::Path>,
    ) -> Result<RawDecoder, EngineError> {
        let config = &self.shared.config;
        let (hmm, dict) = (config.acoustic_model(), dictionary.to_string_lossy());
        let hmm = hmm.to_string_lossy();
        let mut args = vec![("-hmm", hmm.as_ref()), ("-dict", dict.as_ref())];
        let lm = language_model.map(|p| p.to_string_lossy());
        if let Some(lm) = &lm {
            args.push(("-lm", lm.as_ref()));
        }
        args.extend([("-samprate", "16000"), ("-logfn", "/dev/null")]);
        RawDecoder::new(api.clone(), &args).map_err(|e| {
            self.error(
                EngineErrorKind::Unavailable,
                format!("{e}: check the model in {}", config.model_dir.display()),
            )
        })
    }
}

/// Decodes a whole utterance in one pass.
///
/// Whole-utterance decoding lets PocketSphinx normalise the cepstra over the utterance (`-cmn batch`, as the
/// model was trained); live normalisation from the model's initial means lost short phrases in our tests.
/// It costs little latency: grammar decoding runs at about 1% of real time, so a 3 s utterance is decoded in
/// tens of milliseconds after the end of speech. Speech start and end come from the server's endpointer.
fn decode(raw: &mut RawDecoder, utterance: &[i16]) -> Result<Option<Alternative>, ffi::CallError> {
    raw.start_utt()?;
    raw.process_raw(utterance, true)?;
    raw.end_utt()?;
    Ok(raw.hypothesis().map(|text| Alternative {
        text,
        confidence: raw.posterior() as f32,
    }))
}

/// Reads audio until the server finishes the input, with the noise floor applied; `None` when the server
/// cancelled the recognition meanwhile.
async fn collect_utterance(side: &mut EngineSide) -> Option<Vec<i16>> {
    let mut utterance: Vec<i16> = Vec::new();
    let mut floor = NoiseFloor::new();
    while let Some(mut samples) = side.audio.recv().await {
        if utterance.len() + samples.len() > MAX_UTTERANCE_SAMPLES {
            // Past the longest utterance we decode, keep the start: the server's timers end such input anyway.
            continue;
        }
        floor.apply(&mut samples);
        utterance.extend_from_slice(&samples);
    }
    (!side.events.is_closed()).then_some(utterance)
}

/// The longest utterance decoded: 60 s at 16 kHz (about 2 MB).
const MAX_UTTERANCE_SAMPLES: usize = 60 * SAMPLE_RATE as usize;

fn report(side: &EngineSide, result: Result<Option<Alternative>, EngineError>) {
    let event = result.map(|best| RecognizerEvent::Final(best.into_iter().collect()));
    let _ = side.events.blocking_send(event);
}

/// A search name per distinct grammar text, so a pooled decoder recompiles a grammar only once.
fn search_name(jsgf: &str) -> String {
    let mut hasher = DefaultHasher::new();
    jsgf.hash(&mut hasher);
    format!("g{:016x}", hasher.finish())
}

/// The empty start-up dictionary of grammar decoders, written once per process: PocketSphinx reads its `-dict`
/// from a file.
fn base_dictionary_file() -> Result<PathBuf, String> {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "open-mrcp-pocketsphinx-{}.dict",
            std::process::id()
        ));
        std::fs::write(&path, "")
            .map(|()| path.clone())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
    .clone()
}
