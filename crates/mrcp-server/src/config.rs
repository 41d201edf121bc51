//! The server's configuration: one TOML file (every key optional, documented with its default in
//! `examples/mrcp-server.toml`), command-line flags and environment variables over it.
//!
//! Defaults follow UniMRCP's so existing FreeSWITCH and Asterisk profiles work unchanged: SIP on 8060 (UDP and
//! TCP), MRCP on 1544, RTP from 5000 to 20000, and the embedded engines.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mrcp_proto::engine::SecretSource;
use serde::Deserialize;

use crate::access::AccessConfig;
use crate::limits::LimitsConfig;
use crate::routing::RouteRule;

/// Why a configuration was refused. Every variant names the TOML key so the operator knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key has the wrong type or is unknown.
    #[error("config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message, which names the key and line.
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("config key `{key}`: {problem}")]
    Invalid {
        /// The dotted TOML key.
        key: String,
        /// What is wrong and what is allowed.
        problem: String,
    },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`: capacity and the address peers are told to use.
    pub server: ServerConfig,
    /// `[sip]`: the SIP listener.
    pub sip: SipConfig,
    /// `[mrcp]`: the MRCPv2 control listener.
    pub mrcp: MrcpConfig,
    /// `[rtp]`: the media ports.
    pub rtp: RtpConfig,
    /// `[http]`: metrics and health.
    pub http: HttpConfig,
    /// `[tls]`: SIP and MRCP over TLS (off without a certificate).
    pub tls: TlsConfig,
    /// `[log]`: logging.
    pub log: LogConfig,
    /// `[recognizer]`: defaults for RECOGNIZE when the client sends no value.
    pub recognizer: RecognizerDefaults,
    /// `[recorder]`: where RECORD writes its audio and how long a recording may last.
    pub recorder: RecorderConfig,
    /// `[engines.<name>]`: the engines requests can be routed to.
    pub engines: BTreeMap<String, EngineConfig>,
    /// `[[routes]]`: which engine serves which request; first match wins.
    pub routes: Vec<RouteRule>,
    /// `[default_engines]`: the engine per resource when no route matches.
    pub default_engines: DefaultEngines,
    /// `[tts_cache]`: the prompt cache in front of the synthesizers.
    pub tts_cache: TtsCacheConfig,
    /// `[fetch]`: which URIs clients may make the server fetch (grammars, prompts).
    pub fetch: crate::fetch::FetchConfig,
    /// `[limits]`: what one peer may take ([`crate::limits`]).
    pub limits: LimitsConfig,
    /// `[access]`: allow-lists per listener and SIP digest authentication ([`crate::access`]).
    pub access: AccessConfig,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `advertise`: the address written in SDP `c=` and SIP Contact, for a server behind NAT or port
    /// forwarding. Default: the address the SIP request arrived on.
    pub advertise: Option<IpAddr>,
    /// `max_sessions`: sessions at once; a new INVITE beyond gets 503 with Retry-After. Default 1000.
    pub max_sessions: usize,
    /// `session_idle_timeout_s`: a session with no MRCP request and no audio for this long is ended.
    /// Default 600.
    pub session_idle_timeout_s: u64,
    /// `drain_timeout_s`: on SIGTERM, how long running sessions may go on while OPTIONS and new INVITEs get
    /// 503; those still running then are ended with BYE. Default 300.
    pub drain_timeout_s: u64,
}

/// `[sip]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// `listen`: address for SIP over UDP and TCP. Default `0.0.0.0:8060`.
    pub listen: SocketAddr,
    /// `udp`: listen on UDP. Default true.
    pub udp: bool,
    /// `tcp`: listen on TCP. Default true.
    pub tcp: bool,
}

/// `[mrcp]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MrcpConfig {
    /// `listen`: address for MRCPv2 over TCP. Default `0.0.0.0:1544`.
    pub listen: SocketAddr,
    /// `max_message_bytes`: the largest MRCP message accepted (a SPEAK or DEFINE-GRAMMAR body). Default 1 MiB.
    pub max_message_bytes: usize,
}

/// `[rtp]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RtpConfig {
    /// `ports`: the range RTP ports are taken from, `"MIN-MAX"`; even ports for RTP, the next for RTCP.
    /// Default `"5000-20000"`.
    pub ports: PortRange,
    /// `ptime_ms`: packet time of the audio the server sends. Default 20.
    pub ptime_ms: u32,
    /// `inactivity_timeout_s`: a session whose RTP stops for this long is ended (0 = never). Default 60.
    pub inactivity_timeout_s: u64,
}

/// `[tls]`: SIP over TLS (RFC 3261 §26.2, `sips:`) and MRCPv2 over TLS (RFC 6787 §4.2 `TCP/TLS/MRCPv2`), on
/// when `cert` and `key` are set. Files are read at start-up by [`crate::tls`].
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// `cert`: PEM certificate chain, leaf first. No default.
    pub cert: Option<PathBuf>,
    /// `key`: PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1). No default.
    pub key: Option<PathBuf>,
    /// `client_ca`: PEM CA certificates; when set, TLS clients must present a certificate they issued.
    pub client_ca: Option<PathBuf>,
    /// `sip_listen`: address for SIP over TLS. Default `0.0.0.0:5061` (RFC 3261 §26.2).
    pub sip_listen: Option<SocketAddr>,
    /// `mrcp_listen`: address for MRCPv2 over TLS. Default `0.0.0.0:1545` (no port is registered for it).
    pub mrcp_listen: Option<SocketAddr>,
    /// `handshake_timeout_ms`: a connection whose handshake has not finished after this long is closed.
    /// Default 10000.
    pub handshake_timeout_ms: Option<u64>,
}

impl TlsConfig {
    /// Default of `sip_listen`.
    pub const DEFAULT_SIP_LISTEN: SocketAddr =
        SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 5061);
    /// Default of `mrcp_listen`.
    pub const DEFAULT_MRCP_LISTEN: SocketAddr =
        SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 1545);
    /// Default of `handshake_timeout_ms`.
    pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

    /// A certificate needs its key and the other way round; the other keys need both. Checked once the file
    /// and the flags are merged ([`Config::apply`]) and by [`crate::tls::ServerTls::load`], which reads the files.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = self;
        match (&t.cert, &t.key) {
            (Some(_), None) => return Err(invalid("tls.key", "required when tls.cert is set")),
            (None, Some(_)) => return Err(invalid("tls.cert", "required when tls.key is set")),
            _ => {}
        }
        if t.cert.is_none() {
            for (key, set) in [
                ("tls.client_ca", t.client_ca.is_some()),
                ("tls.sip_listen", t.sip_listen.is_some()),
                ("tls.mrcp_listen", t.mrcp_listen.is_some()),
            ] {
                if set {
                    return Err(invalid(
                        "tls.cert",
                        format!("required (with tls.key) when {key} is set"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether TLS is configured.
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
    }

    /// `handshake_timeout_ms` as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(
            self.handshake_timeout_ms
                .unwrap_or(Self::DEFAULT_HANDSHAKE_TIMEOUT_MS),
        )
    }
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// `listen`: address of `/metrics` (Prometheus) and `/healthz`. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `format`: `"text"` or `"json"`. Default `"text"`.
    pub format: LogFormat,
    /// `filter`: a tracing filter (`info`, `mrcp_server=debug,info`…); `RUST_LOG` overrides it.
    /// Default `"info"`.
    pub filter: String,
}

/// `[recognizer]`: the values a RECOGNIZE gets when neither it nor SET-PARAMS gave one. FreeSWITCH has no
/// timeout of its own, so every recognition must end by these (RFC 6787 §9.4).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecognizerDefaults {
    /// `no_input_timeout_ms` (No-Input-Timeout, §9.4.6). Default 5000.
    pub no_input_timeout_ms: u64,
    /// `recognition_timeout_ms` (Recognition-Timeout, §9.4.7). Default 15000.
    pub recognition_timeout_ms: u64,
    /// `speech_complete_timeout_ms` (Speech-Complete-Timeout, §9.4.15). Default 800.
    pub speech_complete_timeout_ms: u64,
    /// `speech_incomplete_timeout_ms` (Speech-Incomplete-Timeout, §9.4.16). Default 1500.
    pub speech_incomplete_timeout_ms: u64,
    /// `dtmf_interdigit_timeout_ms` (DTMF-Interdigit-Timeout, §9.4.17). Default 5000.
    pub dtmf_interdigit_timeout_ms: u64,
    /// `dtmf_term_timeout_ms` (DTMF-Term-Timeout, §9.4.18). Default 10000.
    pub dtmf_term_timeout_ms: u64,
    /// `confidence_threshold` (Confidence-Threshold, §9.4.1), 0.0–1.0. Default 0.5.
    pub confidence_threshold: f32,
    /// `n_best_list_length` (N-Best-List-Length, §9.4.19), at least 1. Default 1.
    pub n_best_list_length: u32,
    /// `engine_deadline_ms`: the longest an engine may take to give its result after the input ended;
    /// past it the request completes with Completion-Cause 006. Default 10000.
    pub engine_deadline_ms: u64,
    /// `waveform_dir`: where Save-Waveform recordings are written. Default `/var/lib/mrcp-server/waveforms`.
    pub waveform_dir: PathBuf,
    /// `early_no_match` (Early-No-Match, §9.4): digits no DTMF grammar can match end the request at once with
    /// 001 no-match, rather than at the interdigit timeout. Default true: callers hear at once that they
    /// keyed wrongly.
    pub early_no_match: bool,
    /// `dtmf_buffer_time_ms` (DTMF-Buffer-Time, §9.4): digits keyed while no RECOGNIZE runs are kept this
    /// long for the next one (type-ahead). Default 5000; 0 keeps none.
    pub dtmf_buffer_time_ms: u64,
    /// `speech_too_early`: a RECOGNIZE that arrives while the caller is already speaking completes at once
    /// with 007 speech-too-early (§9.4.11), instead of recognizing from the middle of the utterance. Default
    /// false (the speech is recognized from where the request found it).
    pub speech_too_early: bool,
}

/// `[recorder]`: the recorder resource (RFC 6787 §10).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecorderConfig {
    /// `directory`: where recordings are written as WAV files. Default `/var/lib/mrcp-server/recordings`.
    pub directory: PathBuf,
    /// `max_time_ms`: the longest recording; a RECORD asking for more, or for no limit, gets this.
    /// 1000 to 600000. Default 60000.
    pub max_time_ms: u64,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            directory: PathBuf::from("/var/lib/mrcp-server/recordings"),
            max_time_ms: 60_000,
        }
    }
}

/// `[tts_cache]`: the prompt cache in front of the synthesizers ([`tts_adapters::cache`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtsCacheConfig {
    /// `max_mb`: audio kept for all engines together, in MiB; the least recently played prompts go first.
    /// 0 turns the cache off. Default 64 (about 25 minutes of 22 kHz audio).
    pub max_mb: u64,
    /// `max_prompt_s`: the longest prompt kept, in seconds of audio. Default 120.
    pub max_prompt_s: u64,
    /// `max_age_s`: how long a recording is played before the engine speaks the prompt again. Default 86400.
    pub max_age_s: u64,
    /// `engines`: the synthesizers the cache is in front of. Default: every one but `prompt-files` engines,
    /// whose prompts are recordings already.
    pub engines: Option<Vec<String>>,
}

impl Default for TtsCacheConfig {
    fn default() -> Self {
        Self {
            max_mb: 64,
            max_prompt_s: 120,
            max_age_s: 86_400,
            engines: None,
        }
    }
}

impl TtsCacheConfig {
    /// The cache's limits, or `None` when it is off.
    pub fn limits(&self) -> Option<tts_adapters::cache::CacheLimits> {
        let max_bytes = usize::try_from(self.max_mb.checked_mul(1 << 20)?).ok()?;
        (max_bytes > 0).then(|| tts_adapters::cache::CacheLimits {
            max_bytes,
            max_prompt: Duration::from_secs(self.max_prompt_s),
            max_age: Duration::from_secs(self.max_age_s),
        })
    }

    /// Whether the engine `name`, configured as `engine`, is cached.
    pub fn covers(&self, name: &str, engine: &EngineConfig) -> bool {
        match &self.engines {
            Some(names) => names.iter().any(|n| n == name),
            None => !matches!(engine, EngineConfig::PromptFiles { .. }),
        }
    }

    fn validate(&self, engines: &BTreeMap<String, EngineConfig>) -> Result<(), ConfigError> {
        if self.max_mb > 65_536 {
            return Err(invalid(
                "tts_cache.max_mb",
                "must be at most 65536 (64 GiB)",
            ));
        }
        if self.max_prompt_s == 0 {
            return Err(invalid(
                "tts_cache.max_prompt_s",
                "must be at least 1 (set max_mb = 0 to turn the cache off)",
            ));
        }
        if self.max_age_s == 0 {
            return Err(invalid(
                "tts_cache.max_age_s",
                "must be at least 1 (set max_mb = 0 to turn the cache off)",
            ));
        }
        for name in self.engines.iter().flatten() {
            if !engines.contains_key(name) {
                return Err(invalid(
                    "tts_cache.engines",
                    format!("no engine named {name:?} in [engines]"),
                ));
            }
        }
        Ok(())
    }
}

/// `[default_engines]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultEngines {
    /// `speechrecog`: the engine recognizing speech when no route matches. Default `"pocketsphinx"`.
    pub speechrecog: String,
    /// `speechsynth`: the engine speaking when no route matches. Default `"espeak"`.
    pub speechsynth: String,
}

/// `[engines.<name>]`: one engine instance; `kind` says which adapter it is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum EngineConfig {
    /// `kind = "espeak"`: the embedded offline synthesizer (espeak-ng as a subprocess).
    Espeak {
        /// `max_concurrent`: espeak-ng processes at once. Default: the number of cores.
        #[serde(default = "default_parallelism")]
        max_concurrent: usize,
        /// `default_language`: when neither the request nor the SSML names one. Default `"en-us"`.
        #[serde(default = "default_espeak_language")]
        default_language: String,
        /// `strict_voice_names`: a Voice-Name espeak-ng lacks fails the SPEAK with 005 rather than being
        /// ignored. Default true; set false for clients that always send a vendor's voice name.
        #[serde(default = "default_true")]
        strict_voice_names: bool,
    },
    /// `kind = "prompt-files"`: plays recorded WAV prompts from one directory (`tts_adapters::prompt_files`):
    /// a `text/plain` SPEAK names the prompt, SSML plays `<audio src>` and `<break>`. No synthesis runs, so it
    /// is also the cheapest synthesizer to measure the server's pacing with.
    #[serde(rename = "prompt-files")]
    PromptFiles {
        /// `dir`: the prompt directory (required).
        dir: PathBuf,
        /// `sample_rate`: the rate every prompt is recorded at, 16-bit mono PCM. Default 8000.
        #[serde(default = "default_prompt_rate")]
        sample_rate: u32,
    },
    /// `kind = "engine-ws"`: an external engine speaking engine-ws v1 (`docs/engine-ws.md`): a recognizer when
    /// `asr_url` is set, a synthesizer when `tts_url` is set, or both under one name.
    #[serde(rename = "engine-ws")]
    EngineWs(EngineWsSettings),
    /// `kind = "fault"`: a recognizer that fails on purpose (`mode = "panic" | "hang" | "error" | "garbage"`), to prove that
    /// a failing engine ends only its own requests. Never route production traffic to it.
    Fault {
        /// `mode`: how it fails.
        mode: FaultKind,
    },
    /// `kind = "azure"`: Microsoft Azure Speech, a recognizer (WebSocket) and a synthesizer (REST) under one
    /// name.
    Azure(AzureEngine),
    /// `kind = "iflytek"`: iFlytek streaming dictation (IAT) and online TTS under one name.
    Iflytek(IflytekEngine),
    /// `kind = "openai"`: an OpenAI-compatible server (OpenAI, speaches, LocalAI, whisper.cpp…), as a
    /// recognizer (`/v1/audio/transcriptions`) and a synthesizer (`/v1/audio/speech`).
    Openai {
        /// `base_url`: default `"https://api.openai.com"`.
        #[serde(default = "default_openai_url")]
        base_url: String,
        /// `api_key`: `{ env = "VAR" }` or `{ file = "PATH" }`; none for servers that need no key.
        #[serde(default)]
        api_key: Option<SecretSource>,
        /// `[engines.<name>.recognizer]`: model, language, timeouts (see `asr_adapters::openai`).
        #[serde(default)]
        recognizer: asr_adapters::openai::OpenAiTranscriptionConfig,
        /// `[engines.<name>.synthesizer]`: model, voice, format, timeouts (see `tts_adapters::openai`).
        #[serde(default)]
        synthesizer: tts_adapters::openai::OpenAiSpeechConfig,
    },
    /// `kind = "openai-realtime"`: OpenAI Realtime transcription over WebSocket, as a recognizer.
    #[serde(rename = "openai-realtime")]
    OpenaiRealtime {
        /// `base_url`: default `"https://api.openai.com"` (the WebSocket URL is derived from it).
        #[serde(default = "default_openai_url")]
        base_url: String,
        /// `api_key`: `{ env = "VAR" }` or `{ file = "PATH" }`.
        #[serde(default)]
        api_key: Option<SecretSource>,
        /// `[engines.<name>.recognizer]` (see `asr_adapters::openai::OpenAiRealtimeConfig`).
        #[serde(default)]
        recognizer: asr_adapters::openai::OpenAiRealtimeConfig,
    },
    /// `kind = "deepgram"`: Deepgram live streaming as a recognizer and Aura as a synthesizer.
    Deepgram {
        /// `base_url`: default `"https://api.deepgram.com"`.
        #[serde(default = "default_deepgram_url")]
        base_url: String,
        /// `api_key`: `{ env = "VAR" }` or `{ file = "PATH" }` (required).
        api_key: SecretSource,
        /// `[engines.<name>.recognizer]` (see `asr_adapters::deepgram::DeepgramListenConfig`).
        #[serde(default)]
        recognizer: asr_adapters::deepgram::DeepgramListenConfig,
        /// `[engines.<name>.synthesizer]` (see `tts_adapters::deepgram::DeepgramSpeakConfig`).
        #[serde(default)]
        synthesizer: tts_adapters::deepgram::DeepgramSpeakConfig,
    },
    /// `kind = "pocketsphinx"`: the embedded offline recognizer.
    Pocketsphinx {
        /// `model_dir`: default `/usr/share/pocketsphinx/model/en-us`.
        #[serde(default = "default_pocketsphinx_model")]
        model_dir: PathBuf,
        /// `max_concurrent`: decoders running at once. Default: the number of cores.
        #[serde(default = "default_parallelism")]
        max_concurrent: usize,
    },
}

/// `[engines.<name>]` with `kind = "engine-ws"` (`docs/engine-ws.md` §5).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineWsSettings {
    /// `asr_url`: the recognizer's `ws://` or `wss://` URL. Default: none (no recognizer).
    pub asr_url: Option<String>,
    /// `tts_url`: the synthesizer's `ws://`/`wss://` (streaming) or `http://`/`https://` URL. Default: none.
    pub tts_url: Option<String>,
    /// `api_key`: sent as `Authorization: Bearer`, from `{ env = "VAR" }` or `{ file = "PATH" }`. Default: none.
    pub api_key: Option<mrcp_proto::engine::SecretSource>,
    /// `asr_sample_rate`: the rate audio is sent to the recognizer at. Default 8000.
    #[serde(default = "default_asr_rate")]
    pub asr_sample_rate: u32,
    /// `tts_sample_rate`: the rate asked of the synthesizer. Default 16000.
    #[serde(default = "default_tts_rate")]
    pub tts_sample_rate: u32,
    /// `language`: sent when the request names none. Default `"en-US"`.
    #[serde(default = "default_engine_ws_language")]
    pub language: String,
    /// `connect_timeout_ms`: TCP, TLS and the upgrade. Default 5000.
    #[serde(default = "default_engine_ws_timeout")]
    pub connect_timeout_ms: u64,
    /// `result_timeout_ms`: the recognizer's final after `stop`; the synthesizer's next message. Default 5000.
    #[serde(default = "default_engine_ws_timeout")]
    pub result_timeout_ms: u64,
    /// `idle_timeout_ms`: `timeouts.idleMs` told to the recognizer. Default 10000.
    #[serde(default = "default_engine_ws_idle")]
    pub idle_timeout_ms: u64,
    /// `interim_results`: ask the recognizer for interim results. Default false.
    #[serde(default)]
    pub interim_results: bool,
}

fn default_asr_rate() -> u32 {
    8000
}

fn default_tts_rate() -> u32 {
    16_000
}

fn default_engine_ws_language() -> String {
    "en-US".to_owned()
}

fn default_engine_ws_timeout() -> u64 {
    5000
}

fn default_engine_ws_idle() -> u64 {
    10_000
}

impl EngineWsSettings {
    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let key = |k: &str| format!("engines.{name}.{k}");
        if self.asr_url.is_none() && self.tts_url.is_none() {
            return Err(invalid(
                key("asr_url"),
                "an engine-ws engine needs asr_url, tts_url or both",
            ));
        }
        if let Some(url) = &self.asr_url
            && !(url.starts_with("ws://") || url.starts_with("wss://"))
        {
            return Err(invalid(key("asr_url"), "must start with ws:// or wss://"));
        }
        if let Some(url) = &self.tts_url
            && !["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|s| url.starts_with(s))
        {
            return Err(invalid(
                key("tts_url"),
                "must start with ws://, wss://, http:// or https://",
            ));
        }
        for (k, rate) in [
            ("asr_sample_rate", self.asr_sample_rate),
            ("tts_sample_rate", self.tts_sample_rate),
        ] {
            if !(8000..=48_000).contains(&rate) {
                return Err(invalid(key(k), format!("{rate} is not from 8000 to 48000")));
            }
        }
        for (k, ms) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("result_timeout_ms", self.result_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ] {
            if !(1..=600_000).contains(&ms) {
                return Err(invalid(key(k), "must be from 1 to 600000 ms"));
            }
        }
        Ok(())
    }
}

/// `[engines.<name>] kind = "azure"`: every key but the credential and the region has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureEngine {
    /// `region`: the Azure region (`westeurope`…), which gives both endpoints.
    pub region: Option<String>,
    /// `key`: the subscription key, `{ env = "VAR" }` or `{ file = "PATH" }`.
    pub key: Option<SecretSource>,
    /// `token`: a bearer token instead of the key, same forms.
    pub token: Option<SecretSource>,
    /// `stt_endpoint`: default `wss://{region}.stt.speech.microsoft.com`.
    pub stt_endpoint: Option<String>,
    /// `tts_endpoint`: default `https://{region}.tts.speech.microsoft.com`.
    pub tts_endpoint: Option<String>,
    /// `language`: when the request names none. Default `"en-US"`.
    #[serde(default = "default_azure_language")]
    pub language: String,
    /// `mode`: `"conversation"` (default), `"interactive"` or `"dictation"`.
    #[serde(default = "default_azure_mode")]
    pub mode: String,
    /// `phrase_list`: send the grammars' phrases as a phrase list. Default true.
    #[serde(default = "default_true")]
    pub phrase_list: bool,
    /// `voice`: when the request names none. Default `"en-US-AvaMultilingualNeural"`.
    #[serde(default = "default_azure_voice")]
    pub voice: String,
    /// `output_format`: `"raw-8khz-8bit-mono-mulaw"` (default) or `"raw-16khz-16bit-mono-pcm"`.
    #[serde(default = "default_azure_format")]
    pub output_format: String,
    /// `connect_timeout_ms`: default 5000.
    #[serde(default = "default_cloud_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// `result_timeout_ms`: the longest wait for the final result after the input ended, and for each
    /// chunk of TTS audio. Default 5000.
    #[serde(default = "default_cloud_timeout_ms")]
    pub result_timeout_ms: u64,
    /// `max_retries`: retries after HTTP 429/503. Default 2.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
}

/// `[engines.<name>] kind = "iflytek"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IflytekEngine {
    /// `app_id`: the application id.
    pub app_id: String,
    /// `api_key`: APIKey, `{ env = "VAR" }` or `{ file = "PATH" }`.
    pub api_key: SecretSource,
    /// `api_secret`: APISecret, same forms.
    pub api_secret: SecretSource,
    /// `iat_endpoint`: default `wss://iat-api.xfyun.cn/v2/iat`.
    #[serde(default = "default_iflytek_iat")]
    pub iat_endpoint: String,
    /// `tts_endpoint`: default `wss://tts-api.xfyun.cn/v2/tts`.
    #[serde(default = "default_iflytek_tts")]
    pub tts_endpoint: String,
    /// `language`: IAT `language` when the request names none. Default `"zh_cn"`.
    #[serde(default = "default_iflytek_language")]
    pub language: String,
    /// `domain`: IAT `domain`. Default `"iat"`.
    #[serde(default = "default_iflytek_domain")]
    pub domain: String,
    /// `accent`: IAT `accent`. Default `"mandarin"`.
    #[serde(default = "default_iflytek_accent")]
    pub accent: String,
    /// `vad_eos_ms`: IAT `vad_eos`, 1000–10000. Default 3000.
    #[serde(default = "default_vad_eos")]
    pub vad_eos_ms: u32,
    /// `dynamic_correction`: IAT `dwa = "wpgs"` (Chinese; enable it in the console first). Default false.
    #[serde(default)]
    pub dynamic_correction: bool,
    /// `sample_rate`: 8000 (default: telephone audio as is) or 16000, for both directions.
    #[serde(default = "default_iflytek_rate")]
    pub sample_rate: u32,
    /// `voice`: TTS `vcn` when the request names none. Default `"xiaoyan"`.
    #[serde(default = "default_iflytek_voice")]
    pub voice: String,
    /// `connect_timeout_ms`: default 5000.
    #[serde(default = "default_cloud_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// `result_timeout_ms`: as for Azure. Default 5000.
    #[serde(default = "default_cloud_timeout_ms")]
    pub result_timeout_ms: u64,
    /// `max_retries`: retries after HTTP 429/503. Default 2.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
}

fn default_azure_language() -> String {
    "en-US".to_owned()
}
fn default_azure_mode() -> String {
    "conversation".to_owned()
}
fn default_azure_voice() -> String {
    "en-US-AvaMultilingualNeural".to_owned()
}
fn default_azure_format() -> String {
    "raw-8khz-8bit-mono-mulaw".to_owned()
}
fn default_cloud_timeout_ms() -> u64 {
    5000
}
fn default_max_retries() -> u32 {
    2
}
fn default_iflytek_iat() -> String {
    "wss://iat-api.xfyun.cn/v2/iat".to_owned()
}
fn default_iflytek_tts() -> String {
    "wss://tts-api.xfyun.cn/v2/tts".to_owned()
}
fn default_iflytek_language() -> String {
    "zh_cn".to_owned()
}
fn default_iflytek_domain() -> String {
    "iat".to_owned()
}
fn default_iflytek_accent() -> String {
    "mandarin".to_owned()
}
fn default_vad_eos() -> u32 {
    3000
}
fn default_iflytek_rate() -> u32 {
    8000
}
fn default_iflytek_voice() -> String {
    "xiaoyan".to_owned()
}

impl EngineConfig {
    /// Checks what serde cannot; `key` is the engine's TOML table (`engines.<name>`).
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            EngineConfig::Azure(a) => {
                if a.key.is_none() == a.token.is_none() {
                    return Err(invalid(
                        format!("{key}.key"),
                        "give exactly one of key and token",
                    ));
                }
                if a.region.is_none() && (a.stt_endpoint.is_none() || a.tts_endpoint.is_none()) {
                    return Err(invalid(
                        format!("{key}.region"),
                        "give the region, or both stt_endpoint and tts_endpoint",
                    ));
                }
                if !["conversation", "interactive", "dictation"].contains(&a.mode.as_str()) {
                    return Err(invalid(
                        format!("{key}.mode"),
                        format!("{:?} is not conversation, interactive or dictation", a.mode),
                    ));
                }
                if !["raw-8khz-8bit-mono-mulaw", "raw-16khz-16bit-mono-pcm"]
                    .contains(&a.output_format.as_str())
                {
                    return Err(invalid(
                        format!("{key}.output_format"),
                        format!(
                            "{:?} is not raw-8khz-8bit-mono-mulaw or raw-16khz-16bit-mono-pcm",
                            a.output_format
                        ),
                    ));
                }
                if a.connect_timeout_ms == 0 || a.result_timeout_ms == 0 {
                    return Err(invalid(
                        format!("{key}.result_timeout_ms"),
                        "timeouts must be above 0",
                    ));
                }
            }
            EngineConfig::Iflytek(x) => {
                if ![8000, 16_000].contains(&x.sample_rate) {
                    return Err(invalid(
                        format!("{key}.sample_rate"),
                        "must be 8000 or 16000",
                    ));
                }
                if !(1000..=10_000).contains(&x.vad_eos_ms) {
                    return Err(invalid(
                        format!("{key}.vad_eos_ms"),
                        "must be from 1000 to 10000",
                    ));
                }
                if x.app_id.is_empty() {
                    return Err(invalid(format!("{key}.app_id"), "must not be empty"));
                }
                if x.connect_timeout_ms == 0 || x.result_timeout_ms == 0 {
                    return Err(invalid(
                        format!("{key}.result_timeout_ms"),
                        "timeouts must be above 0",
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn default_openai_url() -> String {
    "https://api.openai.com".to_owned()
}

fn default_deepgram_url() -> String {
    "https://api.deepgram.com".to_owned()
}

fn default_pocketsphinx_model() -> PathBuf {
    PathBuf::from("/usr/share/pocketsphinx/model/en-us")
}

fn default_prompt_rate() -> u32 {
    8_000
}

fn default_espeak_language() -> String {
    "en-us".to_owned()
}

fn default_true() -> bool {
    true
}

fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// How a `kind = "fault"` engine fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Its task panics.
    Panic,
    /// It never answers.
    Hang,
    /// It reports an error.
    Error,
    /// It answers with a malformed result (junk text, NaN and out-of-range confidences).
    Garbage,
}

/// An inclusive port range written `"MIN-MAX"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// The first port.
    pub min: u16,
    /// The last port.
    pub max: u16,
}

impl std::str::FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (min, max) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not MIN-MAX"))?;
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port (1-65535)"))
        };
        let range = PortRange {
            min: port(min)?,
            max: port(max)?,
        };
        if range.min == 0 || range.min > range.max {
            return Err(format!("{s:?}: MIN must be at least 1 and not above MAX"));
        }
        if range.max - range.min < 3 {
            return Err(format!("{s:?}: holds fewer than two RTP/RTCP port pairs"));
        }
        Ok(range)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            advertise: None,
            max_sessions: 1000,
            session_idle_timeout_s: 600,
            drain_timeout_s: 300,
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8060)),
            udp: true,
            tcp: true,
        }
    }
}

impl Default for MrcpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 1544)),
            max_message_bytes: 1 << 20,
        }
    }
}

impl Default for RtpConfig {
    fn default() -> Self {
        Self {
            ports: PortRange {
                min: 5000,
                max: 20000,
            },
            ptime_ms: 20,
            inactivity_timeout_s: 60,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

impl Default for RecognizerDefaults {
    fn default() -> Self {
        Self {
            no_input_timeout_ms: 5000,
            recognition_timeout_ms: 15000,
            speech_complete_timeout_ms: 800,
            speech_incomplete_timeout_ms: 1500,
            dtmf_interdigit_timeout_ms: 5000,
            dtmf_term_timeout_ms: 10000,
            confidence_threshold: 0.5,
            n_best_list_length: 1,
            engine_deadline_ms: 10000,
            waveform_dir: PathBuf::from("/var/lib/mrcp-server/waveforms"),
            early_no_match: true,
            dtmf_buffer_time_ms: 5000,
            speech_too_early: false,
        }
    }
}

impl Default for DefaultEngines {
    fn default() -> Self {
        Self {
            speechrecog: "pocketsphinx".to_owned(),
            speechsynth: "espeak".to_owned(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut engines = BTreeMap::new();
        engines.insert(
            "pocketsphinx".to_owned(),
            EngineConfig::Pocketsphinx {
                model_dir: default_pocketsphinx_model(),
                max_concurrent: default_parallelism(),
            },
        );
        engines.insert(
            "espeak".to_owned(),
            EngineConfig::Espeak {
                max_concurrent: default_parallelism(),
                default_language: default_espeak_language(),
                strict_voice_names: true,
            },
        );
        Self {
            server: ServerConfig::default(),
            sip: SipConfig::default(),
            mrcp: MrcpConfig::default(),
            rtp: RtpConfig::default(),
            http: HttpConfig::default(),
            tls: TlsConfig::default(),
            log: LogConfig::default(),
            recognizer: RecognizerDefaults::default(),
            recorder: RecorderConfig::default(),
            engines,
            routes: Vec::new(),
            default_engines: DefaultEngines::default(),
            tts_cache: TtsCacheConfig::default(),
            fetch: crate::fetch::FetchConfig::default(),
            limits: LimitsConfig::default(),
            access: AccessConfig::default(),
        }
    }
}

/// Values given on the command line, which win over the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--sip-listen`.
    pub sip_listen: Option<SocketAddr>,
    /// `--mrcp-listen`.
    pub mrcp_listen: Option<SocketAddr>,
    /// `--rtp-ports`.
    pub rtp_ports: Option<PortRange>,
    /// `--advertise`.
    pub advertise: Option<IpAddr>,
    /// `--http-listen`.
    pub http_listen: Option<SocketAddr>,
    /// `--max-sessions`.
    pub max_sessions: Option<usize>,
    /// `--drain-timeout`.
    pub drain_timeout_s: Option<u64>,
    /// `--tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    pub tls_key: Option<PathBuf>,
    /// `--sip-tls-listen`.
    pub sip_tls_listen: Option<SocketAddr>,
    /// `--mrcp-tls-listen`.
    pub mrcp_tls_listen: Option<SocketAddr>,
}

impl Config {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Applies command-line values, then validates again.
    pub fn apply(mut self, o: &Overrides) -> Result<Config, ConfigError> {
        if let Some(v) = o.sip_listen {
            self.sip.listen = v;
        }
        if let Some(v) = o.mrcp_listen {
            self.mrcp.listen = v;
        }
        if let Some(v) = o.rtp_ports {
            self.rtp.ports = v;
        }
        if let Some(v) = o.advertise {
            self.server.advertise = Some(v);
        }
        if let Some(v) = o.http_listen {
            self.http.listen = v;
        }
        if let Some(v) = o.max_sessions {
            self.server.max_sessions = v;
        }
        if let Some(v) = o.drain_timeout_s {
            self.server.drain_timeout_s = v;
        }
        if let Some(v) = &o.tls_cert {
            self.tls.cert = Some(v.clone());
        }
        if let Some(v) = &o.tls_key {
            self.tls.key = Some(v.clone());
        }
        if let Some(v) = o.sip_tls_listen {
            self.tls.sip_listen = Some(v);
        }
        if let Some(v) = o.mrcp_tls_listen {
            self.tls.mrcp_listen = Some(v);
        }
        self.validate()?;
        self.tls.validate()?;
        Ok(self)
    }

    /// Checks ranges and references between sections.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.max_sessions == 0 {
            return Err(invalid("server.max_sessions", "must be at least 1"));
        }
        if !(1..=86_400).contains(&self.server.drain_timeout_s) {
            return Err(invalid(
                "server.drain_timeout_s",
                "must be from 1 to 86400 seconds",
            ));
        }
        if !self.sip.udp && !self.sip.tcp {
            return Err(invalid(
                "sip.udp",
                "SIP needs at least one of sip.udp and sip.tcp",
            ));
        }
        if !(10..=60).contains(&self.rtp.ptime_ms) || !self.rtp.ptime_ms.is_multiple_of(10) {
            return Err(invalid(
                "rtp.ptime_ms",
                format!("{} is not one of 10, 20, 30, 40, 50, 60", self.rtp.ptime_ms),
            ));
        }
        if self
            .tls
            .handshake_timeout_ms
            .is_some_and(|ms| !(100..=120_000).contains(&ms))
        {
            return Err(invalid(
                "tls.handshake_timeout_ms",
                "must be from 100 to 120000 ms",
            ));
        }
        if self.mrcp.max_message_bytes < 4096 {
            return Err(invalid("mrcp.max_message_bytes", "must be at least 4096"));
        }
        let r = &self.recognizer;
        if !(0.0..=1.0).contains(&r.confidence_threshold) {
            return Err(invalid(
                "recognizer.confidence_threshold",
                "must be between 0.0 and 1.0",
            ));
        }
        if r.n_best_list_length == 0 {
            return Err(invalid(
                "recognizer.n_best_list_length",
                "must be at least 1",
            ));
        }
        for (key, value) in [
            ("recognizer.no_input_timeout_ms", r.no_input_timeout_ms),
            (
                "recognizer.recognition_timeout_ms",
                r.recognition_timeout_ms,
            ),
            ("recognizer.engine_deadline_ms", r.engine_deadline_ms),
        ] {
            if value == 0 {
                return Err(invalid(
                    key,
                    "must be above 0: a recognition must always end",
                ));
            }
        }
        self.fetch.validate()?;
        if !(1000..=600_000).contains(&self.recorder.max_time_ms) {
            return Err(invalid(
                "recorder.max_time_ms",
                "must be from 1000 to 600000 (a recording is held in memory until it ends)",
            ));
        }
        for (name, engine) in &self.engines {
            if let EngineConfig::EngineWs(settings) = engine {
                settings.validate(name)?;
            }
            engine.validate(&format!("engines.{name}"))?;
        }
        self.limits.validate()?;
        self.access.validate()?;
        self.tts_cache.validate(&self.engines)?;
        let known = |name: &str| self.engines.contains_key(name);
        if !known(&self.default_engines.speechsynth) {
            return Err(invalid(
                "default_engines.speechsynth",
                format!(
                    "no engine named {:?} in [engines]",
                    self.default_engines.speechsynth
                ),
            ));
        }
        if !known(&self.default_engines.speechrecog) {
            return Err(invalid(
                "default_engines.speechrecog",
                format!(
                    "no engine named {:?} in [engines]",
                    self.default_engines.speechrecog
                ),
            ));
        }
        for (i, route) in self.routes.iter().enumerate() {
            if !known(&route.engine) {
                return Err(invalid(
                    format!("routes[{i}].engine"),
                    format!("no engine named {:?} in [engines]", route.engine),
                ));
            }
        }
        Ok(())
    }

    /// `server.drain_timeout_s` as a duration.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.server.drain_timeout_s)
    }

    /// `server.session_idle_timeout_s` as a duration.
    pub fn session_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.server.session_idle_timeout_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_file_gives_unimrcp_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.sip.listen.port(), 8060);
        assert_eq!(c.mrcp.listen.port(), 1544);
        assert_eq!(
            c.rtp.ports,
            PortRange {
                min: 5000,
                max: 20000
            }
        );
    }

    #[test]
    fn the_example_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mrcp-server.toml");
        let c = Config::load(&path).unwrap();
        assert!(c.engines.contains_key("pocketsphinx"));
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("[rtp]\nptime_ms = 25\n").unwrap_err().to_string();
        assert!(e.contains("rtp.ptime_ms"), "{e}");
        let e = parse("[rtp]\nports = \"6000-5000\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ports") && e.contains("MIN"), "{e}");
        let e = parse("[server]\nmax_sesions = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_sesions"), "{e}");
        let e = parse("[server]\ndrain_timeout_s = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.drain_timeout_s"), "{e}");
        let e = parse("[[routes]]\nengine = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("routes[0].engine") && e.contains("nope"), "{e}");
        let e = parse("[recognizer]\nconfidence_threshold = 1.5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("recognizer.confidence_threshold"), "{e}");
    }

    #[test]
    fn the_tts_cache_covers_synthesizers_but_recordings_by_default() {
        let c = parse(
            "[engines.prompts]\nkind = \"prompt-files\"\ndir = \"/tmp\"\n[engines.espeak]\nkind = \"espeak\"\n\
             [engines.pocketsphinx]\nkind = \"pocketsphinx\"\n",
        )
        .unwrap();
        let covers = |name: &str| c.tts_cache.covers(name, &c.engines[name]);
        assert!(covers("espeak"));
        assert!(!covers("prompts"));
        let limits = c.tts_cache.limits().unwrap();
        assert_eq!(limits.max_bytes, 64 << 20);
        assert_eq!(limits.max_prompt, Duration::from_secs(120));

        let c = parse("[tts_cache]\nengines = [\"pocketsphinx\"]\nmax_mb = 0\n").unwrap();
        assert!(c.tts_cache.limits().is_none(), "max_mb = 0 turns it off");
        assert!(!c.tts_cache.covers("espeak", &c.engines["espeak"]));
        let e = parse("[tts_cache]\nengines = [\"polly\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tts_cache.engines") && e.contains("polly"),
            "{e}"
        );
        let e = parse("[tts_cache]\nmax_age_s = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tts_cache.max_age_s"), "{e}");
    }

    /// The commented cloud-engine sections of the example file parse once uncommented.
    #[test]
    fn the_example_cloud_engines_parse() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mrcp-server.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find("# [engines.openai]").unwrap();
        let is_toml = |l: &str| {
            l.starts_with('[')
                || l.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
        };
        let uncommented: Vec<&str> = text[start..]
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| is_toml(l))
            .collect();
        let config = format!(
            "[default_engines]\nspeechrecog = \"deepgram\"\nspeechsynth = \"openai\"\n{}",
            uncommented.join("\n")
        );
        let c = parse(&config).unwrap();
        assert!(matches!(&c.engines["openai"], EngineConfig::Openai { .. }));
        assert!(matches!(
            &c.engines["openai-rt"],
            EngineConfig::OpenaiRealtime { .. }
        ));
        assert!(matches!(
            &c.engines["deepgram"],
            EngineConfig::Deepgram { .. }
        ));
    }

    #[test]
    fn cloud_engines_parse_with_defaults_and_nested_tables() {
        let c = parse(
            "[default_engines]\nspeechrecog = \"dg\"\nspeechsynth = \"oa\"\n[engines.oa]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\napi_key = { env = \"OA\" }\n\
             [engines.oa.recognizer]\nmodel = \"whisper-1\"\n\
             [engines.rt]\nkind = \"openai-realtime\"\n\
             [engines.dg]\nkind = \"deepgram\"\napi_key = { file = \"/run/dg\" }\n[engines.dg.recognizer]\nencoding = \"mulaw\"\n",
        )
        .unwrap();
        match &c.engines["oa"] {
            EngineConfig::Openai {
                recognizer,
                synthesizer,
                api_key,
                ..
            } => {
                assert_eq!(recognizer.model, "whisper-1");
                assert_eq!(synthesizer.voice, "alloy");
                assert_eq!(api_key, &Some(SecretSource::Env("OA".into())));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&c.engines["rt"], EngineConfig::OpenaiRealtime { base_url, .. } if base_url == "https://api.openai.com")
        );
        assert!(
            matches!(&c.engines["dg"], EngineConfig::Deepgram { recognizer, .. }
            if recognizer.encoding == asr_adapters::deepgram::DeepgramEncoding::Mulaw)
        );
        let e = parse("[engines.dg]\nkind = \"deepgram\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("api_key"), "{e}");
        let e = parse("[engines.oa]\nkind = \"openai\"\n[engines.oa.recognizer]\nmodle = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("modle"), "{e}");
    }

    #[test]
    fn engine_ws_engines_parse_and_are_checked() {
        let c = parse(
            "[default_engines]\nspeechrecog = \"mine\"\nspeechsynth = \"mine\"\n\
             [engines.mine]\nkind = \"engine-ws\"\nasr_url = \"ws://127.0.0.1:2700/asr\"\n\
             tts_url = \"http://127.0.0.1:2701/tts\"\napi_key = { env = \"MINE_KEY\" }\n",
        )
        .unwrap();
        let EngineConfig::EngineWs(ws) = &c.engines["mine"] else {
            panic!("not engine-ws: {:?}", c.engines["mine"]);
        };
        assert_eq!(ws.asr_sample_rate, 8000);
        assert_eq!(ws.result_timeout_ms, 5000);
        assert_eq!(
            ws.api_key,
            Some(mrcp_proto::engine::SecretSource::Env("MINE_KEY".into()))
        );
        let e = parse("[engines.mine]\nkind = \"engine-ws\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("engines.mine.asr_url"), "{e}");
        let e = parse("[engines.mine]\nkind = \"engine-ws\"\ntts_url = \"ftp://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("engines.mine.tts_url"), "{e}");
        let e = parse("[engines.mine]\nkind = \"engine-ws\"\nasr_url = \"ws://x\"\nasr_rate = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("asr_rate"), "{e}");
    }

    #[test]
    fn tls_keys_come_in_pairs() {
        // The file may hold half of the pair when the flags give the other half.
        let merged = |text: &str| parse(text).unwrap().apply(&Overrides::default());
        let e = merged("[tls]\ncert = \"c.pem\"\n").unwrap_err().to_string();
        assert!(e.contains("tls.key"), "{e}");
        let e = merged("[tls]\nkey = \"k.pem\"\n").unwrap_err().to_string();
        assert!(e.contains("tls.cert"), "{e}");
        let e = merged("[tls]\nsip_listen = \"127.0.0.1:5061\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tls.cert") && e.contains("tls.sip_listen"),
            "{e}"
        );
        let e = parse("[tls]\ncert = \"c\"\nkey = \"k\"\nhandshake_timeout_ms = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls.handshake_timeout_ms"), "{e}");
        let c =
            parse("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nclient_ca = \"ca.pem\"\n").unwrap();
        assert!(c.tls.enabled());
        let o = Overrides {
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            mrcp_tls_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Overrides::default()
        };
        let c = Config::default().apply(&o).unwrap();
        assert_eq!(c.tls.mrcp_listen, Some("127.0.0.1:0".parse().unwrap()));
        assert!(!Config::default().tls.enabled());
    }

    #[test]
    fn prompt_files_engine_parses_with_its_default_rate() {
        let head = "[default_engines]\nspeechsynth = \"prompts\"\n[engines.pocketsphinx]\nkind = \"pocketsphinx\"\n";
        let c = parse(&format!(
            "{head}[engines.prompts]\nkind = \"prompt-files\"\ndir = \"/srv/prompts\"\n"
        ))
        .unwrap();
        assert_eq!(
            c.engines.get("prompts"),
            Some(&EngineConfig::PromptFiles {
                dir: PathBuf::from("/srv/prompts"),
                sample_rate: 8_000
            })
        );
        let e = parse(&format!(
            "{head}[engines.prompts]\nkind = \"prompt-files\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("dir"), "{e}");
    }

    #[test]
    fn cloud_engines_parse_and_are_validated() {
        let c = parse(
            "[default_engines]\nspeechrecog = \"az\"\nspeechsynth = \"xf\"\n[engines.az]\nkind = \"azure\"\nregion = \"westeurope\"\nkey = { env = \"AZURE_SPEECH_KEY\" }\n\
             [engines.xf]\nkind = \"iflytek\"\napp_id = \"abc\"\napi_key = { env = \"K\" }\napi_secret = { file = \"/run/s\" }\n",
        )
        .unwrap();
        let EngineConfig::Azure(az) = &c.engines["az"] else {
            panic!("not azure")
        };
        assert_eq!(az.output_format, "raw-8khz-8bit-mono-mulaw");
        let EngineConfig::Iflytek(xf) = &c.engines["xf"] else {
            panic!("not iflytek")
        };
        assert_eq!((xf.sample_rate, xf.vad_eos_ms), (8000, 3000));
        let e = parse("[engines.az]\nkind = \"azure\"\nregion = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("engines.az.key"), "{e}");
        let e = parse("[engines.xf]\nkind = \"iflytek\"\napp_id = \"a\"\napi_key = { env = \"K\" }\napi_secret = { env = \"S\" }\nsample_rate = 44100\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("engines.xf.sample_rate"), "{e}");
        let e = parse("[engines.az]\nkind = \"azure\"\nregion = \"x\"\nkey = { env = \"K\" }\nvoise = \"v\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("voise"), "{e}");
    }

    #[test]
    fn overrides_win_and_are_validated() {
        let o = Overrides {
            sip_listen: Some("127.0.0.1:5070".parse().unwrap()),
            rtp_ports: Some("10000-10100".parse().unwrap()),
            max_sessions: Some(5),
            ..Overrides::default()
        };
        let c = Config::default().apply(&o).unwrap();
        assert_eq!(c.sip.listen.port(), 5070);
        assert_eq!(c.rtp.ports.max, 10100);
        assert_eq!(c.server.max_sessions, 5);
        let zero = Overrides {
            max_sessions: Some(0),
            ..Overrides::default()
        };
        assert!(Config::default().apply(&zero).is_err());
    }
}
