//! A reference engine-ws v1 engine (`docs/engine-ws.md`) on loopback, for tests: ASR at `/asr`, TTS over
//! WebSocket at `/tts`, TTS over HTTP at `POST /tts`, all on one port. It follows the specification to the
//! letter unless told to fail ([`Fault`]), and is what the adapters, the server's end-to-end tests and the
//! conformance kit's own tests run against.
//!
//! It does not recognize or synthesize anything real: it detects speech by energy and returns a scripted
//! transcript, and it "speaks" a tone as long as the text. Real engines are in `examples/engines/`.
//!
//! The HTTP side (the upgrade and the POST) is read by hand: no HTTP server crate is among the project's
//! dependencies, and a test engine needs one request per connection, `Content-Length` bodies and nothing else.

mod asr;
mod tts;

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// The longest POST body read.
const MAX_BODY: usize = 1 << 20;

/// How the engine misbehaves, if at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// None: a conforming engine.
    #[default]
    None,
    /// Accepts the connection and the `start`, then never answers.
    Hang,
    /// Drops the TCP connection, without a close frame, after this many audio frames (received for ASR,
    /// sent for TTS; for HTTP, after the headers and part of the body).
    DisconnectAfterFrames(usize),
    /// Sends `error` with this kind and message after this many audio frames (HTTP: answers 500).
    ErrorAfterFrames {
        /// Frames first.
        frames: usize,
        /// The `kind` sent.
        kind: String,
        /// The `message` sent.
        message: String,
    },
    /// Speaks jambonz's dialect (`docs/engine-ws.md` §6): no `started`, results as `transcription`, errors as
    /// `{"type":"error","error":…}`.
    Jambonz,
    /// Breaks the specification's rules: takes audio before `start` and any `start`, sends no `started`,
    /// never times out, answers `cancel` with a `final`, ignores TTS `stop`, answers a malformed POST with
    /// 200. The deliberately broken engine `engine-check` must fail.
    Sloppy,
}

/// What the engine does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Behaviour {
    /// The credential it requires (`Authorization: Bearer …`); `None` takes any.
    pub token: Option<String>,
    /// The alternatives it reports when it heard speech, best first (none: no match).
    pub alternatives: Vec<(String, f32)>,
    /// How it fails.
    pub fault: Fault,
}

impl Behaviour {
    /// A conforming engine that hears `transcript` with confidence 0.9.
    pub fn hearing(transcript: &str) -> Self {
        Self {
            alternatives: vec![(transcript.to_owned(), 0.9)],
            ..Self::default()
        }
    }

    /// The same engine with a fault.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// The same engine requiring a credential.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }
}

/// A running reference engine; it stops accepting when dropped.
#[derive(Debug)]
pub struct ReferenceEngine {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ReferenceEngine {
    /// Starts the engine on `127.0.0.1`, on a free port.
    pub async fn start(behaviour: Behaviour) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, behaviour.clone()));
            }
        });
        Ok(Self { addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The ASR WebSocket URL.
    pub fn asr_url(&self) -> String {
        format!("ws://{}/asr", self.addr)
    }

    /// The TTS WebSocket URL.
    pub fn tts_url(&self) -> String {
        format!("ws://{}/tts", self.addr)
    }

    /// The TTS HTTP URL.
    pub fn http_url(&self) -> String {
        format!("http://{}/tts", self.addr)
    }
}

impl Drop for ReferenceEngine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A request head, read.
struct Head {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    /// Bytes read after the head (the start of a body).
    rest: Vec<u8>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_head(socket: &mut TcpStream) -> Option<Head> {
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 2048];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    };
    let text = std::str::from_utf8(buf.get(..end)?).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Head {
        method,
        path: path.split('?').next().unwrap_or("").to_owned(),
        headers,
        rest: buf.get(end + 4..).unwrap_or_default().to_vec(),
    })
}

/// Writes a complete HTTP response and closes.
pub(crate) async fn respond(socket: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(body).await;
    let _ = socket.shutdown().await;
}

async fn serve(mut socket: TcpStream, behaviour: Behaviour) {
    let Some(head) = read_head(&mut socket).await else {
        return;
    };
    if let Some(token) = &behaviour.token {
        let expected = format!("Bearer {token}");
        if head.header("authorization") != Some(expected.as_str()) {
            let body = br#"{"kind":"auth","message":"unknown credential"}"#;
            return respond(&mut socket, "401 Unauthorized", "application/json", body).await;
        }
    }
    let upgrade = head
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    match (head.method.as_str(), head.path.as_str(), upgrade) {
        ("GET", path @ ("/asr" | "/tts"), true) => {
            let Some(key) = head.header("sec-websocket-key") else {
                return respond(&mut socket, "400 Bad Request", "text/plain", b"no key").await;
            };
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            if socket.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
            let ws = WebSocketStream::from_raw_socket(socket, Role::Server, None).await;
            if path == "/asr" {
                asr::serve(ws, behaviour).await;
            } else {
                tts::serve_ws(ws, behaviour).await;
            }
        }
        ("POST", "/tts", _) => {
            let length: usize = head
                .header("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            if length > MAX_BODY {
                return respond(&mut socket, "413 Payload Too Large", "text/plain", b"").await;
            }
            let mut body = head.rest.clone();
            while body.len() < length {
                let mut chunk = vec![0u8; length - body.len()];
                match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => body.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                }
            }
            tts::serve_http(socket, &body, &behaviour).await;
        }
        _ => {
            respond(
                &mut socket,
                "404 Not Found",
                "text/plain",
                b"no such engine",
            )
            .await
        }
    }
}
