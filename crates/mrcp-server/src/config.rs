//! The server's configuration: one TOML file (every key optional, documented with its default in
//! `examples/mrcp-server.toml`), command-line flags and environment variables over it.
//!
//! Defaults follow UniMRCP's so existing FreeSWITCH and Asterisk profiles work unchanged: SIP on 8060 (UDP and
//! TCP), MRCP on 1544, RTP from 5000 to 20000, and the embedded engines.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// `[log]`: logging.
    pub log: LogConfig,
    /// `[recognizer]`: defaults for RECOGNIZE when the client sends no value.
    pub recognizer: RecognizerDefaults,
    /// `[engines.<name>]`: the engines requests can be routed to.
    pub engines: BTreeMap<String, EngineConfig>,
    /// `[[routes]]`: which engine serves which request; first match wins.
    pub routes: Vec<RouteRule>,
    /// `[default_engines]`: the engine per resource when no route matches.
    pub default_engines: DefaultEngines,
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
    /// `kind = "fault"`: a recognizer that fails on purpose (`mode = "panic" | "hang" | "error" | "garbage"`), to prove that
    /// a failing engine ends only its own requests. Never route production traffic to it.
    Fault {
        /// `mode`: how it fails.
        mode: FaultKind,
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

fn default_pocketsphinx_model() -> PathBuf {
    PathBuf::from("/usr/share/pocketsphinx/model/en-us")
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
            log: LogConfig::default(),
            recognizer: RecognizerDefaults::default(),
            engines,
            routes: Vec::new(),
            default_engines: DefaultEngines::default(),
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
        self.validate()?;
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
        self.limits.validate()?;
        self.access.validate()?;
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
