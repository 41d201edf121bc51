//! The sans-IO SIP endpoint: transaction matching (RFC 3261 §17.1.3, §17.2.3), dialogs (§12–§15),
//! the UAS and UAC cores (§8, §13), CANCEL (§9) and session timers (RFC 4028, accepted, never
//! required).
//!
//! Run loop, one owner per endpoint:
//!
//! ```text
//! loop {
//!     bytes from a socket  -> endpoint.handle_message(now, bytes, peer)
//!     deadline reached     -> endpoint.handle_timeout(now)
//!     application command  -> endpoint.respond(..) / invite(..) / bye(..) / cancel(..)
//!     while let Some(out) = endpoint.poll_output() { Transmit -> socket, Event -> application }
//!     re-arm the timer with endpoint.poll_timeout()
//! }
//! ```
//!
//! Every incoming request that needs an answer from the application carries a [`ServerTxId`];
//! every call (a dialog and the INVITE that makes it) has a [`CallHandle`].

pub(crate) mod build;
mod uac;
pub(crate) mod uas;

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, VecDeque},
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use mrcp_proto::sip::{Message, SipLimits};
use rand::{Rng as _, SeedableRng, rngs::SmallRng};

use crate::{
    Error,
    transaction::{
        ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, TimerAction, TimerConfig,
    },
    transport::{Peer, Transport},
};

/// Identifies a call: one INVITE dialog, from the initial INVITE to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

/// Identifies a server transaction whose request waits for the application's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(pub u64);

/// Identifies an out-of-dialog request sent with [`Endpoint::request`] (OPTIONS pings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientRequestId(pub u64);

/// A local address the endpoint can be reached on, written in `Via` and `Contact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr {
    /// The transport.
    pub transport: Transport,
    /// The address (for a wildcard bind, the address peers reach).
    pub addr: SocketAddr,
}

/// Configuration of an [`Endpoint`].
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Local addresses per transport.
    pub local: Vec<LocalAddr>,
    /// `User-Agent` / `Server` header value.
    pub user_agent: String,
    /// T1, T2, T4, Timer D.
    pub timers: TimerConfig,
    /// Message size limits.
    pub limits: SipLimits,
    /// When set, OPTIONS are answered by the endpoint with this status (200, or 503 while
    /// draining); when `None`, they are handed to the application as [`Event::Options`].
    pub options_status: Option<u16>,
    /// Smallest `Session-Expires` accepted (RFC 4028 §5: at least 90 s).
    pub min_se: u32,
    /// Seed of the generator of tags, branches and Call-IDs. The default is different for every
    /// endpoint (RFC 3261 §8.1.1.4, §19.3 want them globally unique); set it for reproducible tests.
    pub seed: u64,
    /// A request handed to the application and not answered within this time gets
    /// `500 Server Internal Error` from the endpoint, so a peer never hangs on a silent UAS
    /// (FreeSWITCH's mod_unimrcp waits forever for an INVITE that only got 100).
    pub answer_timeout: Duration,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            local: Vec::new(),
            user_agent: concat!("open-mrcp/", env!("CARGO_PKG_VERSION")).to_owned(),
            timers: TimerConfig::default(),
            limits: SipLimits::default(),
            options_status: Some(200),
            min_se: 90,
            // std's RandomState draws its keys from the OS once per process and varies them per
            // instance, which is what a seed for non-cryptographic identifiers needs.
            seed: std::hash::BuildHasher::hash_one(
                &std::collections::hash_map::RandomState::new(),
                0u8,
            ),
            answer_timeout: Duration::from_secs(30),
        }
    }
}

/// A body and its `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// `Content-Type`, e.g. `application/sdp`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Bytes,
}

impl Body {
    /// An `application/sdp` body.
    pub fn sdp(bytes: impl Into<Bytes>) -> Self {
        Self {
            content_type: "application/sdp".to_owned(),
            bytes: bytes.into(),
        }
    }
}

/// A response the application gives to [`Endpoint::respond`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// Status code, 100–699.
    pub code: u16,
    /// Reason phrase; the RFC 3261 §21 default when `None`.
    pub reason: Option<String>,
    /// Extra headers (`Retry-After`, ...).
    pub headers: Vec<(String, String)>,
    /// The body (the SDP answer of a 200 to INVITE).
    pub body: Option<Body>,
}

impl Response {
    /// A response with a status code only.
    pub fn status(code: u16) -> Self {
        Self {
            code,
            ..Self::default()
        }
    }

    /// `200 OK` with an SDP body.
    pub fn ok_with_sdp(sdp: impl Into<Bytes>) -> Self {
        Self {
            code: 200,
            body: Some(Body::sdp(sdp)),
            ..Self::default()
        }
    }
}

/// An INVITE to send with [`Endpoint::invite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// Request-URI, e.g. `sip:mrcp@192.0.2.1:8060`.
    pub uri: String,
    /// Where to send it.
    pub peer: Peer,
    /// From URI; `sip:<local address>` when `None`.
    pub from: Option<String>,
    /// To URI; the Request-URI when `None`.
    pub to: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The SDP offer.
    pub body: Option<Body>,
}

/// An out-of-dialog non-INVITE request (OPTIONS ping) for [`Endpoint::request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfDialogRequest {
    /// Method, e.g. `OPTIONS`.
    pub method: String,
    /// Request-URI.
    pub uri: String,
    /// Where to send it.
    pub peer: Peer,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE.
    RemoteBye,
    /// We sent BYE and it completed (any final response or timeout).
    LocalBye,
    /// The peer cancelled the INVITE before it was answered.
    Cancelled,
    /// The INVITE was rejected (non-2xx final), by us or by the peer.
    Rejected,
    /// No response to our INVITE (Timer B).
    Timeout,
    /// No ACK for our 2xx within 64·T1 (§13.3.1.4); a BYE was sent.
    AckTimeout,
    /// The application did not answer the INVITE within `answer_timeout`; 500 was sent.
    NotAnswered,
    /// A transport failure.
    TransportError,
}

/// Something the application must know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// UAS: a new INVITE (its body is the SDP offer). Answer with [`Endpoint::respond`].
    IncomingInvite {
        /// The call created for it.
        call: CallHandle,
        /// The transaction to answer.
        tx: ServerTxId,
        /// The request.
        request: Message,
        /// Where the request came from and its responses go (§18.2.2, RFC 3581).
        peer: Peer,
    },
    /// UAS or UAC: a re-INVITE inside the call (RFC 4028 refresh or a changed offer). Answer
    /// with [`Endpoint::respond`].
    ReInvite {
        /// The call.
        call: CallHandle,
        /// The transaction to answer.
        tx: ServerTxId,
        /// The request.
        request: Message,
    },
    /// UAS: the ACK of our 2xx (it may carry an SDP answer).
    Ack {
        /// The call.
        call: CallHandle,
        /// The ACK.
        request: Message,
    },
    /// An OPTIONS when [`EndpointConfig::options_status`] is `None`; answer with
    /// [`Endpoint::respond`].
    Options {
        /// The transaction to answer.
        tx: ServerTxId,
        /// The request.
        request: Message,
        /// Where the request came from and the response goes.
        peer: Peer,
    },
    /// UAC: a provisional response to our INVITE.
    Provisional {
        /// The call.
        call: CallHandle,
        /// The response.
        response: Message,
    },
    /// UAC: a 2xx to our INVITE; the ACK has been sent.
    Answered {
        /// The call.
        call: CallHandle,
        /// The response (its body is the SDP answer).
        response: Message,
    },
    /// UAC: the final response to our re-INVITE (2xx already ACKed).
    ReInviteResponse {
        /// The call.
        call: CallHandle,
        /// The response.
        response: Message,
    },
    /// UAC: a non-2xx final response to our INVITE; the ACK has been sent. The call has ended.
    Rejected {
        /// The call.
        call: CallHandle,
        /// The response.
        response: Message,
    },
    /// The response to a request sent with [`Endpoint::request`].
    RequestResponse {
        /// The request.
        id: ClientRequestId,
        /// The final response.
        response: Message,
    },
    /// A request sent with [`Endpoint::request`] got no final response (Timer F).
    RequestTimeout {
        /// The request.
        id: ClientRequestId,
    },
    /// The call ended; the handle is no longer valid.
    Terminated {
        /// The call.
        call: CallHandle,
        /// Why.
        reason: EndReason,
    },
}

/// One datagram or stream chunk to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where.
    pub peer: Peer,
    /// The whole message.
    pub payload: Bytes,
}

/// What [`Endpoint::poll_output`] returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send bytes.
    Transmit(Transmit),
    /// Tell the application.
    Event(Event),
}

/// Server transaction key (§17.2.3): branch, sent-by and method (ACK matches INVITE).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ServerKey {
    pub(crate) branch: String,
    pub(crate) sent_by: String,
    pub(crate) method: String,
}

/// Client transaction key (§17.1.3): branch and CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ClientKey {
    pub(crate) branch: String,
    pub(crate) method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum TimerRef {
    Server(ServerKey),
    Answer(ServerKey),
    Refresh(CallHandle),
    Client(ClientKey),
    Call(CallHandle),
}

#[derive(Debug)]
enum ServerMachine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct ServerTx {
    id: ServerTxId,
    machine: ServerMachine,
    request: Message,
    peer: Peer,
    call: Option<CallHandle>,
    /// Whether the application (rather than the endpoint) must answer.
    to_application: bool,
}

#[derive(Debug)]
enum ClientMachine {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    ReInvite,
    Bye,
    Cancel,
    Request(ClientRequestId),
}

#[derive(Debug)]
struct ClientTx {
    machine: ClientMachine,
    request: Message,
    peer: Peer,
    call: Option<CallHandle>,
    purpose: Purpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Uas,
    Uac,
}

/// 2xx retransmission by the UAS core until the ACK arrives (§13.3.1.4).
#[derive(Debug)]
struct Pending2xx {
    bytes: Bytes,
    peer: Peer,
    interval: Duration,
    next: Instant,
    give_up: Instant,
}

#[derive(Debug)]
struct Call {
    role: Role,
    call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    /// Local name-addr without tag (From for a UAC, To for a UAS).
    local_uri: String,
    /// Remote name-addr without tag.
    remote_uri: String,
    local_seq: u32,
    remote_seq: Option<u32>,
    route_set: Vec<String>,
    remote_target: String,
    peer: Peer,
    confirmed: bool,
    /// UAS: the initial INVITE's server transaction, until its final response.
    invite_tx: Option<ServerKey>,
    pending_2xx: Option<Pending2xx>,
    /// UAC: the initial INVITE client transaction.
    invite_client: Option<ClientKey>,
    /// UAC: CANCEL asked for before any provisional response (§9.1).
    cancel_pending: bool,
    /// UAC: the ACK of the 2xx, resent on retransmitted 2xx.
    ack: Option<(Bytes, Peer)>,
    /// An incoming re-INVITE is waiting for its final response.
    incoming_reinvite: bool,
    /// Our re-INVITE is waiting for its final response.
    outgoing_reinvite: bool,
    /// `Session-Expires` agreed (RFC 4028), echoed in 2xx to refreshes.
    session_expires: Option<u32>,
    /// UAS: a CANCEL arrived for the initial INVITE.
    cancelled: bool,
    /// UAS: the application never answered the initial INVITE.
    not_answered: bool,
    /// UAC: the last SDP offer we sent, re-sent in session refreshes (RFC 4028).
    offer: Option<Body>,
    /// UAC: when to send the next session refresh.
    refresh_at: Option<Instant>,
}

/// The sans-IO SIP endpoint. See the module docs for the run loop.
#[derive(Debug)]
pub struct Endpoint {
    cfg: EndpointConfig,
    server: HashMap<ServerKey, ServerTx>,
    server_ids: HashMap<ServerTxId, ServerKey>,
    /// INVITEs by (Call-ID, From tag, CSeq) for merged-request detection (§8.2.2.2).
    merged: HashMap<(String, String, u32), String>,
    client: HashMap<ClientKey, ClientTx>,
    calls: HashMap<CallHandle, Call>,
    /// (Call-ID, local tag, remote tag) → call.
    dialogs: HashMap<(String, String, String), CallHandle>,
    timers: BinaryHeap<Reverse<(Instant, TimerRef)>>,
    out: VecDeque<Output>,
    rng: SmallRng,
    next_id: u64,
}

impl Endpoint {
    /// A new endpoint.
    pub fn new(cfg: EndpointConfig) -> Self {
        let rng = SmallRng::seed_from_u64(cfg.seed);
        Self {
            cfg,
            server: HashMap::new(),
            server_ids: HashMap::new(),
            merged: HashMap::new(),
            client: HashMap::new(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            timers: BinaryHeap::new(),
            out: VecDeque::new(),
            rng,
            next_id: 1,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// Adds a local address (the driver calls this once a socket is bound).
    pub fn add_local(&mut self, local: LocalAddr) {
        self.cfg.local.push(local);
    }

    /// Sets how OPTIONS are answered: `Some(200)`, `Some(503)` while draining, or `None` to hand
    /// them to the application.
    pub fn set_options_status(&mut self, status: Option<u16>) {
        self.cfg.options_status = status;
    }

    /// Number of live calls.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Number of live transactions (server plus client).
    pub fn transaction_count(&self) -> usize {
        self.server.len() + self.client.len()
    }

    /// The next output: bytes to send or an event for the application.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest deadline of every transaction and call timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// A message arrived from `peer`. Malformed input is answered with `400` when possible and
    /// dropped otherwise; it never returns an error.
    pub fn handle_message(&mut self, now: Instant, bytes: &[u8], peer: Peer) {
        match Message::parse(bytes, &self.cfg.limits) {
            Ok(msg) if msg.is_request() => self.handle_request(now, msg, peer),
            Ok(msg) => self.handle_response(now, msg, peer),
            Err(err) => self.reject_malformed(bytes, &err, peer),
        }
    }

    /// A stream connection closed: forget it in every peer that names it.
    pub fn handle_connection_closed(&mut self, connection: crate::transport::ConnectionId) {
        for call in self.calls.values_mut() {
            if call.peer.connection == Some(connection) {
                call.peer.connection = None;
            }
        }
        for tx in self.server.values_mut() {
            if tx.peer.connection == Some(connection) {
                tx.peer.connection = None;
            }
        }
    }

    /// The transport could not reach `peer` (connection refused or reset before sending):
    /// every client transaction towards it ends as if Timer B/F fired (§17.1.4), and the calls
    /// they belong to end with [`EndReason::TransportError`].
    pub fn handle_transport_error(&mut self, now: Instant, transport: Transport, addr: SocketAddr) {
        let failed: Vec<ClientKey> = self
            .client
            .iter()
            .filter(|(_, tx)| tx.peer.transport == transport && tx.peer.addr == addr)
            .map(|(k, _)| k.clone())
            .collect();
        for key in failed {
            if let Some(tx) = self.client.remove(&key) {
                match (tx.purpose, tx.call) {
                    (Purpose::Invite, Some(call)) => self.end_call(call, EndReason::TransportError),
                    (purpose, call) => self.client_timed_out(now, call, purpose),
                }
            }
        }
    }

    /// Fires every timer due at `now`; spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, which))) = self.timers.pop() else {
                break;
            };
            match which {
                TimerRef::Server(key) => self.server_timeout(now, key),
                TimerRef::Answer(key) => self.answer_timeout(now, key),
                TimerRef::Refresh(call) => self.refresh_timeout(now, call),
                TimerRef::Client(key) => self.client_timeout(now, key),
                TimerRef::Call(call) => self.call_timeout(now, call),
            }
        }
    }

    fn server_timeout(&mut self, now: Instant, key: ServerKey) {
        loop {
            let Some(tx) = self.server.get_mut(&key) else {
                return;
            };
            let due = match &tx.machine {
                ServerMachine::Invite(m) => m.poll_timeout(),
                ServerMachine::NonInvite(m) => m.poll_timeout(),
            };
            match due {
                Some(t) if t <= now => {}
                Some(t) => {
                    self.timers.push(Reverse((t, TimerRef::Server(key))));
                    return;
                }
                None => return,
            }
            let action = match &mut tx.machine {
                ServerMachine::Invite(m) => m.handle_timeout(now),
                ServerMachine::NonInvite(m) => m.handle_timeout(now),
            };
            let peer = tx.peer;
            match action {
                Some(TimerAction::Retransmit(bytes)) => self.transmit(peer, bytes),
                Some(TimerAction::TimedOut(timer)) => {
                    // Timer H: the ACK for our non-2xx never came; the call is already over.
                    tracing::debug!(?timer, "server transaction timed out");
                    self.remove_server(&key);
                    return;
                }
                Some(TimerAction::Terminated) => {
                    self.remove_server(&key);
                    return;
                }
                None => return,
            }
        }
    }

    fn answer_timeout(&mut self, now: Instant, key: ServerKey) {
        let Some(tx) = self.server.get(&key) else {
            return;
        };
        let unanswered = match &tx.machine {
            ServerMachine::Invite(m) => {
                m.state() == crate::transaction::ServerInviteState::Proceeding
            }
            ServerMachine::NonInvite(m) => {
                matches!(
                    m.state(),
                    crate::transaction::ServerNonInviteState::Trying
                        | crate::transaction::ServerNonInviteState::Proceeding
                )
            }
        };
        if !unanswered {
            return;
        }
        let (id, call) = (tx.id, tx.call);
        tracing::warn!(?id, "application did not answer in time; sending 500");
        if let Some(c) = call.and_then(|c| self.calls.get_mut(&c))
            && c.invite_tx.as_ref() == Some(&key)
        {
            c.cancelled = false;
            c.not_answered = true;
        }
        let _ = self.respond(
            now,
            id,
            Response {
                code: 500,
                headers: vec![("Retry-After".to_owned(), "5".to_owned())],
                ..Response::default()
            },
        );
    }

    fn client_timeout(&mut self, now: Instant, key: ClientKey) {
        loop {
            let Some(tx) = self.client.get_mut(&key) else {
                return;
            };
            let due = match &tx.machine {
                ClientMachine::Invite(m) => m.poll_timeout(),
                ClientMachine::NonInvite(m) => m.poll_timeout(),
            };
            match due {
                Some(t) if t <= now => {}
                Some(t) => {
                    self.timers.push(Reverse((t, TimerRef::Client(key))));
                    return;
                }
                None => return,
            }
            let action = match &mut tx.machine {
                ClientMachine::Invite(m) => m.handle_timeout(now),
                ClientMachine::NonInvite(m) => m.handle_timeout(now),
            };
            let (peer, call, purpose) = (tx.peer, tx.call, tx.purpose);
            match action {
                Some(TimerAction::Retransmit(bytes)) => self.transmit(peer, bytes),
                Some(TimerAction::TimedOut(_)) => {
                    self.client.remove(&key);
                    self.client_timed_out(now, call, purpose);
                    return;
                }
                Some(TimerAction::Terminated) => {
                    self.client.remove(&key);
                    return;
                }
                None => return,
            }
        }
    }

    fn client_timed_out(&mut self, now: Instant, call: Option<CallHandle>, purpose: Purpose) {
        match (purpose, call) {
            (Purpose::Request(id), _) => self.event(Event::RequestTimeout { id }),
            (Purpose::Invite, Some(call)) => self.end_call(call, EndReason::Timeout),
            (Purpose::Bye, Some(call)) => self.end_call(call, EndReason::LocalBye),
            (Purpose::ReInvite, Some(call)) => {
                // §14.1: a re-INVITE timing out ends the dialog with BYE.
                if let Some(c) = self.calls.get_mut(&call) {
                    c.outgoing_reinvite = false;
                }
                let _ = self.send_bye(now, call);
            }
            _ => {}
        }
    }

    fn call_timeout(&mut self, now: Instant, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let Some(pending) = call.pending_2xx.as_mut() else {
            return;
        };
        if pending.give_up <= now {
            call.pending_2xx = None;
            // §13.3.1.4: no ACK; the session is over, end it with BYE.
            let _ = self.send_bye(now, handle);
            self.end_call(handle, EndReason::AckTimeout);
            return;
        }
        if pending.next <= now {
            pending.interval = (pending.interval * 2).min(self.cfg.timers.t2);
            pending.next = now + pending.interval;
            let (bytes, peer) = (pending.bytes.clone(), pending.peer);
            let next = pending.next.min(pending.give_up);
            self.timers.push(Reverse((next, TimerRef::Call(handle))));
            self.transmit(peer, bytes);
        } else {
            let next = pending.next.min(pending.give_up);
            self.timers.push(Reverse((next, TimerRef::Call(handle))));
        }
    }

    /// RFC 4028 §10: as refresher, re-INVITE with the last offer at half the interval.
    fn refresh_timeout(&mut self, now: Instant, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        match call.refresh_at {
            Some(at) if at <= now => {}
            _ => return,
        }
        call.refresh_at = None;
        let offer = call.offer.clone();
        if self.reinvite(now, handle, offer).is_err() {
            // Another re-INVITE is pending: try again shortly.
            let retry = now + Duration::from_secs(10);
            if let Some(call) = self.calls.get_mut(&handle) {
                call.refresh_at = Some(retry);
            }
            self.timers
                .push(Reverse((retry, TimerRef::Refresh(handle))));
        }
    }

    /// Schedules our refresh if `response` (a 2xx to our INVITE or re-INVITE) makes us the
    /// refresher (RFC 4028 §7.4: `refresher=uac`, or no refresher parameter).
    pub(crate) fn schedule_refresh(
        &mut self,
        now: Instant,
        handle: CallHandle,
        response: &Message,
    ) {
        let Some(value) = response.header("Session-Expires") else {
            return;
        };
        let mut parts = value.split(';');
        let Some(interval) = parts.next().and_then(|v| v.trim().parse::<u64>().ok()) else {
            return;
        };
        let refresher = parts.find_map(|p| {
            let (n, v) = p.split_once('=')?;
            n.trim()
                .eq_ignore_ascii_case("refresher")
                .then(|| v.trim().to_ascii_lowercase())
        });
        if refresher.as_deref().is_some_and(|r| r != "uac") || interval < 90 {
            return;
        }
        let at = now + Duration::from_secs(interval / 2);
        if let Some(call) = self.calls.get_mut(&handle) {
            call.refresh_at = Some(at);
            self.timers.push(Reverse((at, TimerRef::Refresh(handle))));
        }
    }

    fn remove_server(&mut self, key: &ServerKey) {
        if let Some(tx) = self.server.remove(key) {
            self.server_ids.remove(&tx.id);
            if key.method == "INVITE"
                && let (Some(call_id), Some(from), Some(cseq)) = (
                    tx.request.header("Call-ID"),
                    tx.request.header("From").and_then(crate::header::tag_of),
                    tx.request
                        .header("CSeq")
                        .and_then(crate::header::CSeq::parse),
                )
            {
                self.merged
                    .remove(&(call_id.to_owned(), from.to_owned(), cseq.seq));
            }
        }
    }

    fn end_call(&mut self, handle: CallHandle, reason: EndReason) {
        if let Some(call) = self.calls.remove(&handle) {
            if let Some(remote) = call.remote_tag {
                self.dialogs.remove(&(call.call_id, call.local_tag, remote));
            }
            self.event(Event::Terminated {
                call: handle,
                reason,
            });
        }
    }

    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn transmit(&mut self, peer: Peer, payload: Bytes) {
        self.out
            .push_back(Output::Transmit(Transmit { peer, payload }));
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn random_token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8; 62] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        (0..len)
            .map(|_| {
                let i = (self.rng.next_u32() % 62) as usize;
                char::from(ALPHABET.get(i).copied().unwrap_or(b'0'))
            })
            .collect()
    }

    fn new_branch(&mut self) -> String {
        format!("z9hG4bK{}", self.random_token(16))
    }

    fn local_for(&self, transport: Transport, remote: SocketAddr) -> Result<LocalAddr, Error> {
        let same = |l: &&LocalAddr| l.transport == transport;
        self.cfg
            .local
            .iter()
            .filter(same)
            .find(|l| l.addr.is_ipv4() == remote.is_ipv4())
            .or_else(|| self.cfg.local.iter().find(same))
            .copied()
            .ok_or(Error::NoLocalAddress { transport })
    }

    fn schedule(&mut self, at: Option<Instant>, which: TimerRef) {
        if let Some(at) = at {
            self.timers.push(Reverse((at, which)));
        }
    }
}
