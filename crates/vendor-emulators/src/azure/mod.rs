//! An emulator of Microsoft Azure Speech: streaming recognition over the Speech WebSocket protocol ("USP",
//! [`stt`]) and text to speech over REST ([`tts`]).
//!
//! Documentation followed (and where it was silent, what the emulator chose):
//! - `MicrosoftDocs/azure-docs: articles/cognitive-services/Speech/API-Reference-REST/websocketprotocol.md`:
//!   the handshake headers (`Ocp-Apim-Subscription-Key` or `Authorization: Bearer`, `X-ConnectionId` as a
//!   UUID without dashes, 400 otherwise), the text and binary message formats (2-byte big-endian header
//!   length, at most 8192), `speech.config` before any audio, the RIFF header in a turn's first audio chunk,
//!   the empty audio message that ends the audio, the service messages (`turn.start`,
//!   `speech.startDetected`, `speech.hypothesis`, `speech.phrase`, `speech.endDetected`, `turn.end`), the close
//!   codes (1002 with "Missing/Empty header. {Header}" and "Invalid request. X-RequestId header value was not
//!   specified in no-dash UUID format.", 1007 "Incorrect message format. Binary message has invalid header
//!   size prefix." and bad audio, 1011 server error) and the limits (180 s idle, 10 minutes per connection);
//! - the Speech SDK for JavaScript (`WebsocketMessageFormatter.ts` for the framing, `DetailedSpeechPhrase.ts`
//!   and `Enums.ts` for `speech.phrase`, `DynamicGrammarBuilder.ts` for the `speech.context` phrase list);
//! - Microsoft's "Text to speech REST API" reference for [`tts`]: `POST /cognitiveservices/v1`, the key
//!   header, `Content-Type: application/ssml+xml` (415 otherwise), `X-Microsoft-OutputFormat` (400 when
//!   unknown), 400 for SSML without `<speak>`/`<voice name>`, 401 for a bad key, 429 when throttled.
//! - Chosen, not documented: the order violation "audio before `speech.config`" closes with 1002; the
//!   401 body text; a final `speech.phrase` follows the empty audio message or 1.2 s of trailing silence.

pub mod stt;
pub mod tts;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A failure to inject.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// Wait this long before the final result (STT) or the response (TTS).
    Delay(Duration),
    /// Fail mid-stream: STT closes with 1011 after the first hypothesis; TTS breaks the body off halfway.
    ErrorMidStream,
    /// Drop the TCP connection without a close: STT when speech starts, TTS after reading the request.
    Disconnect,
    /// Refuse this many connections with 429 first.
    Throttle(u32),
}

/// How the emulator behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The subscription key (or bearer token) accepted.
    pub key: String,
    /// STT: the n-best list (lexical text, confidence) of the final result, best first.
    pub alternatives: Vec<(String, f32)>,
    /// The failure to inject.
    pub fault: Fault,
    /// STT: a connection with no client message for this long is closed (documented: 180 s).
    pub idle_timeout: Duration,
    /// STT: a connection is closed after this long (documented: 10 minutes).
    pub max_connection: Duration,
}

impl Script {
    /// A well-behaved emulator accepting `key` and recognizing `transcript` with confidence 0.92.
    pub fn new(key: &str, transcript: &str) -> Self {
        Self {
            key: key.to_owned(),
            alternatives: vec![(transcript.to_owned(), 0.92)],
            fault: Fault::None,
            idle_timeout: Duration::from_secs(180),
            max_connection: Duration::from_secs(600),
        }
    }

    /// The same, with a fault.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

/// What the emulator saw and did, for assertions.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// Handshakes accepted.
    pub connections: u32,
    /// HTTP statuses of refused handshakes or requests.
    pub refused: Vec<u16>,
    /// STT: phrase-list entries received in `speech.context`.
    pub phrases: Vec<String>,
    /// Bytes of PCM received (STT) or sent (TTS).
    pub audio_bytes: usize,
    /// When each final `speech.phrase` (STT) or last audio chunk (TTS) was sent.
    pub finals_sent: Vec<Instant>,
    /// Close frames the emulator sent, as `code reason`.
    pub closes: Vec<String>,
    /// STT: close frames the client sent (one per connection it ended politely).
    pub client_closes: u32,
    /// TTS: the SSML bodies received.
    pub ssml: Vec<String>,
    /// TTS: the output formats asked for.
    pub formats: Vec<String>,
}

/// State shared by an emulator's connections.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) script: Script,
    pub(crate) log: Mutex<Log>,
    pub(crate) throttle_left: Mutex<u32>,
}

impl Shared {
    pub(crate) fn new(script: Script) -> Arc<Self> {
        let throttle = match script.fault {
            Fault::Throttle(n) => n,
            _ => 0,
        };
        Arc::new(Self {
            script,
            log: Mutex::new(Log::default()),
            throttle_left: Mutex::new(throttle),
        })
    }

    pub(crate) fn log(&self, f: impl FnOnce(&mut Log)) {
        f(&mut self.log.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Whether this attempt is throttled (and counts it).
    pub(crate) fn throttled(&self) -> bool {
        let mut left = self
            .throttle_left
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *left > 0 {
            *left -= 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn key_ok(
        &self,
        subscription_key: Option<&str>,
        authorization: Option<&str>,
    ) -> bool {
        let key = self.script.key.as_str();
        subscription_key == Some(key)
            || authorization.and_then(|a| a.strip_prefix("Bearer ")) == Some(key)
    }
}

/// A running emulator on loopback; stops when dropped.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Emulator {
    pub(crate) fn new(addr: SocketAddr, shared: Arc<Shared>, task: JoinHandle<()>) -> Self {
        Self { addr, shared, task }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of what happened so far.
    pub fn log(&self) -> Log {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
