//! MRCPv2 control connections (RFC 6787 §4.2): TCP or TLS ([`crate::tls`]) through one generic stream, framed by
//! the sans-IO decoder of `mrcp-proto`, each request routed by its `Channel-Identifier` to the session that
//! owns it, and whatever sessions send written back in order.
//!
//! Many channels, of one session or several, may share a connection (`a=connection:existing`); a session
//! answers on the connection its request came from. When a connection ends, every session that used it is
//! told, so it can end its requests and, for a recognizer mid-utterance, stop the engine.
//!
//! Requests this layer answers itself, without a session: a missing `Channel-Identifier` (406), one that does
//! not parse (404), and an unknown session (405 resource not allocated).

mod registry;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use mrcp_proto::mrcp::codec::{Decoder, Limits};
use mrcp_proto::mrcp::{
    ChannelId, Message, Method, RequestId, RequestState, ResourceType, StartLine, StatusCode,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::access::AllowList;
use crate::limits::{MessageDeadline, SourceLimiter};
use crate::metrics;
use crate::resources::{Counted, LiveKind};

pub use registry::{DuplicateSession, SessionRegistry};

/// Messages queued for one connection's writer. A client that stops reading fills it, and sessions then see
/// [`SendError::Full`] rather than growing memory.
pub const OUTBOUND_CAPACITY: usize = 256;

/// Control events queued for one session: requests arrive one by one from clients that wait for each response,
/// so a few dozen cover any burst.
pub const CONTROL_CAPACITY: usize = 64;

/// Identifies one control connection for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u64);

/// What the control layer tells a session.
#[derive(Debug)]
pub enum ControlEvent {
    /// A request for one of the session's channels, with the connection to answer on.
    Request {
        /// The request.
        message: Message,
        /// Where its response and events go.
        connection: ConnectionHandle,
    },
    /// A connection the session used has closed.
    Closed(ConnectionId),
}

/// Why a message could not be queued for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The connection has closed.
    #[error("the MRCP connection has closed")]
    Closed,
    /// The client is not reading what it was sent.
    #[error("the MRCP client is not reading ({OUTBOUND_CAPACITY} messages queued)")]
    Full,
}

/// A session's way to write on a connection.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    id: ConnectionId,
    peer: SocketAddr,
    tls: bool,
    tx: mpsc::Sender<Outbound>,
}

/// A message queued for the connection's writer, and who wants to know once it is written.
struct Outbound {
    message: Message,
    written: Option<oneshot::Sender<()>>,
}

impl ConnectionHandle {
    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Queues a response or event; never waits.
    pub fn send(&self, message: Message) -> Result<(), SendError> {
        self.queue(Outbound {
            message,
            written: None,
        })
    }

    /// Like [`Self::send`], and the receiver resolves once the message has been written to the socket (or
    /// errs when the connection closed first). A synthesizer starts a prompt's audio only then, so the
    /// IN-PROGRESS response reaches the client before the first RTP packet: UniMRCP clients drop audio that
    /// comes before it (reference §12).
    pub fn send_then_notify(&self, message: Message) -> Result<oneshot::Receiver<()>, SendError> {
        let (written, notified) = oneshot::channel();
        self.queue(Outbound {
            message,
            written: Some(written),
        })?;
        Ok(notified)
    }

    fn queue(&self, outbound: Outbound) -> Result<(), SendError> {
        self.tx.try_send(outbound).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        })
    }
}

/// How the control layer frames, routes and whom it serves.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// Decoder size limits.
    pub limits: Limits,
    /// Whether the listener's connections are TLS ([`crate::tls::serve_mrcp`]).
    pub tls: bool,
    /// Who may connect (`access.mrcp_allow`); others are closed at once.
    pub allow: AllowList,
    /// Connections per source (`limits.mrcp_max_connections_per_source`).
    pub per_source: SourceLimiter,
    /// Time a client has to finish a message it started (`limits.tcp_message_timeout_ms`).
    pub message_timeout: Duration,
}

impl Default for ControlConfig {
    fn default() -> Self {
        let limits = crate::limits::LimitsConfig::default();
        ControlConfig {
            limits: Limits::default(),
            tls: false,
            allow: AllowList::default(),
            per_source: SourceLimiter::new(limits.mrcp_max_connections_per_source),
            message_timeout: limits.tcp_message_timeout(),
        }
    }
}

/// A connection id unique in the process, for every listener (TCP and TLS).
pub fn next_connection_id() -> ConnectionId {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    ConnectionId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// Accepts control connections until `shutdown` is cancelled; each connection runs in its own task.
pub async fn serve(
    listener: TcpListener,
    registry: Arc<SessionRegistry>,
    config: ControlConfig,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Refused peers are closed before a byte is read (dropping the stream closes it).
                if !config.allow.allows(peer.ip()) {
                    warn!(%peer, "MRCP connection refused: source not in access.mrcp_allow");
                    metrics::global().refused("mrcp", "access");
                    continue;
                }
                let Some(slot) = config.per_source.try_take(peer.ip()) else {
                    warn!(%peer, "MRCP connection refused: limits.mrcp_max_connections_per_source reached");
                    metrics::global().refused("mrcp", "per_source");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let id = next_connection_id();
                let (registry, config, shutdown) =
                    (registry.clone(), config.clone(), shutdown.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    run_connection(stream, id, peer, registry, config, shutdown).await;
                });
            }
            // Accept errors (EMFILE, a reset before accept) concern one connection; keep serving.
            Err(e) => warn!(error = %e, "MRCP accept failed"),
        }
    }
}

/// Runs one connection to its end: reads, routes, writes, and tells the sessions it served when it closes.
pub async fn run_connection<S>(
    stream: S,
    id: ConnectionId,
    peer: SocketAddr,
    registry: Arc<SessionRegistry>,
    config: ControlConfig,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _live = Counted::new(LiveKind::ControlConnection, ());
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut outbound) = mpsc::channel::<Outbound>(OUTBOUND_CAPACITY);
    let handle = ConnectionHandle {
        id,
        peer,
        tls: config.tls,
        tx,
    };
    let mut decoder = Decoder::new(config.limits, Default::default());
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut out = BytesMut::with_capacity(8 * 1024);
    let mut served: Vec<mpsc::Sender<ControlEvent>> = Vec::new();
    let mut pending = PendingRequests::default();
    let mut deadline = MessageDeadline::new(config.message_timeout);
    info!(connection = id.0, %peer, "MRCP connection opened");
    let reason = loop {
        let cut_off = deadline.poll_timeout();
        tokio::select! {
            () = shutdown.cancelled() => break "server shutdown",
            // Slow-client protection: a message begun must be finished in time (crate::limits).
            () = sleep_until_some(cut_off) => {
                metrics::global().refused("mrcp", "slow_client");
                break "message not finished in time (limits.tcp_message_timeout_ms)";
            }
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => break "closed by the client",
                Ok(_) => {
                    match route_all(&mut decoder, &mut buf, &handle, &registry, &mut served, &mut pending).await {
                        Ok(completed) => deadline.handle_read(tokio::time::Instant::now(), !buf.is_empty(), completed),
                        Err(reason) => break reason,
                    }
                }
                Err(_) => break "read error",
            },
            Some(first) = outbound.recv() => {
                out.clear();
                let mut notify = Vec::new();
                let mut next = Some(first);
                // Write what else is queued in the same syscall.
                while let Some(Outbound { message, written }) = next {
                    pending.answered(&message, metrics::global());
                    message.encode(&mut out);
                    notify.extend(written);
                    next = outbound.try_recv().ok();
                }
                if writer.write_all(&out).await.is_err() {
                    break "write error";
                }
                for written in notify {
                    let _ = written.send(());
                }
            }
        }
    };
    info!(connection = id.0, %peer, reason, "MRCP connection closed");
    for session in served {
        let _ = session.send(ControlEvent::Closed(id)).await;
    }
}

/// Decodes every complete message in `buf` and routes it. An error ends the connection: the stream can no
/// longer be framed (RFC 6787 §5 has no way to resynchronise).
async fn route_all(
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    handle: &ConnectionHandle,
    registry: &SessionRegistry,
    served: &mut Vec<mpsc::Sender<ControlEvent>>,
    pending: &mut PendingRequests,
) -> Result<bool, &'static str> {
    let mut completed = false;
    loop {
        let message = match decoder.decode(buf) {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(completed),
            Err(e) => {
                warn!(connection = handle.id.0, peer = %handle.peer, error = %e, "MRCP stream cannot be framed");
                return Err("framing error");
            }
        };
        completed = true;
        if let Some(m) = decoder.last_length_mismatch() {
            debug!(
                declared = m.declared,
                actual = m.actual,
                "MRCP message-length differs from the framed length"
            );
        }
        if !matches!(message.start, StartLine::Request { .. }) {
            // Clients send only requests (RFC 6787 §5.3); a stray response or event is logged and dropped.
            warn!(connection = handle.id.0, start = %message.start, "ignoring a non-request from an MRCP client");
            continue;
        }
        let channel = match message.channel_id() {
            Ok(Some(channel)) => channel,
            Ok(None) => {
                reject(handle, &message, None, StatusCode::MANDATORY_HEADER_MISSING);
                continue;
            }
            Err(invalid) => {
                reject(handle, &message, None, invalid.status_code());
                continue;
            }
        };
        let Some(session) = registry.get(channel.session_id()) else {
            reject(
                handle,
                &message,
                Some(channel.resource()),
                StatusCode::RESOURCE_NOT_ALLOCATED,
            );
            continue;
        };
        pending.routed(&message, &channel);
        if !served.iter().any(|s| s.same_channel(&session)) {
            served.push(session.clone());
        }
        // Waiting here pushes back on this connection only; a session that has ended drops the request and
        // the client's own timeout applies, as for a lost packet.
        let _ = session
            .send(ControlEvent::Request {
                message,
                connection: handle.clone(),
            })
            .await;
    }
}

/// Sleeps until `at`, or forever when there is no deadline.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn reject(
    handle: &ConnectionHandle,
    request: &Message,
    resource: Option<ResourceType>,
    status: StatusCode,
) {
    debug!(connection = handle.id.0, status = status.code(), start = %request.start, "MRCP request rejected");
    if let StartLine::Request { method, .. } = &request.start {
        metrics::request(resource, method, status);
    }
    let _ = handle.send(Message::response_to(
        request,
        status,
        RequestState::Complete,
    ));
}

/// Requests routed to sessions on one connection and not yet answered, so the response written back can be
/// counted in `mrcp_requests_total` with its method (a response names only the request id, RFC 6787 §5.3).
/// Final events are counted here too, in `mrcp_completion_causes_total`, whatever resource sent them.
#[derive(Debug, Default)]
struct PendingRequests {
    methods: HashMap<(ChannelId, RequestId), Method>,
}

impl PendingRequests {
    /// Clients wait for each response; more than this outstanding on one connection is a client that never
    /// reads, and older entries are not worth keeping.
    const LIMIT: usize = 1024;

    fn routed(&mut self, request: &Message, channel: &ChannelId) {
        if let StartLine::Request { method, request_id } = &request.start {
            if self.methods.len() >= Self::LIMIT {
                self.methods.clear();
            }
            self.methods
                .insert((channel.clone(), *request_id), method.clone());
        }
    }

    fn answered(&mut self, message: &Message, registry: &metrics::Registry) {
        let Ok(Some(channel)) = message.channel_id() else {
            return;
        };
        let resource = channel.resource();
        match &message.start {
            StartLine::Response {
                request_id, status, ..
            } => {
                if let Some(method) = self.methods.remove(&(channel, *request_id)) {
                    registry.request(Some(resource), &method, *status);
                }
            }
            // RFC 6787 §8.4.2, §9.4.11: `Completion-Cause: 000 success`, on the event that completes a request.
            StartLine::Event {
                state: RequestState::Complete,
                ..
            } => {
                let code = message
                    .headers
                    .get_raw("Completion-Cause")
                    .and_then(|raw| raw.trim().get(..3))
                    .and_then(|digits| digits.parse::<u16>().ok());
                if let Some(code) = code {
                    registry.completion(resource, code);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod pending_tests {
    use super::*;

    fn decode(text: &str) -> Message {
        let mut decoder = Decoder::new(Limits::default(), Default::default());
        let mut buf = BytesMut::from(text.replace("LEN", &text.len().to_string()).as_str());
        decoder.decode(&mut buf).unwrap().unwrap()
    }

    #[test]
    fn responses_and_final_events_are_counted_once() {
        let registry = metrics::Registry::new();
        let mut pending = PendingRequests::default();
        // Each text is exactly as long as its LEN placeholder makes it (three digits).
        let request = decode(
            "MRCP/2.0 LEN RECOGNIZE 7\r\nChannel-Identifier: 32AECB23433801@speechrecog\r\n\r\n",
        );
        let channel = request.channel_id().unwrap().unwrap();
        pending.routed(&request, &channel);
        let response =
            Message::response_to(&request, StatusCode::SUCCESS, RequestState::InProgress);
        pending.answered(&response, &registry);
        // A second response to the same request is not counted again.
        pending.answered(&response, &registry);
        let complete = decode(
            "MRCP/2.0 LEN RECOGNITION-COMPLETE 7 COMPLETE\r\nChannel-Identifier: 32AECB23433801@speechrecog\r\n\
             Completion-Cause: 002 no-input-timeout\r\n\r\n",
        );
        pending.answered(&complete, &registry);
        let text = registry.render();
        assert!(
            text.contains(
                "mrcp_requests_total{resource=\"speechrecog\",method=\"RECOGNIZE\",status=\"200\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "mrcp_completion_causes_total{resource=\"speechrecog\",cause=\"002\"} 1\n"
            ),
            "{text}"
        );
    }
}
