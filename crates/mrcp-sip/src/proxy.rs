//! A stateful proxy core for the dispatcher (RFC 3261 §16): server transactions towards the
//! client, one client transaction per branch towards the backends, `Via` push and pop (§16.6,
//! §16.7), `Record-Route` insertion (§16.6 step 4), `Max-Forwards` (§16.3, §16.6 step 3), loose
//! routing of in-dialog requests (§16.4, §16.12), CANCEL forwarding (§16.10), the ACK of non-2xx
//! finals (§16.7 step 10, §17.1.1.3) and best-response selection across branches (§16.7 step 6).
//!
//! The application chooses targets: each new out-of-dialog request is handed up as
//! [`ProxyEvent::NewRequest`]; the application calls [`Proxy::forward`] (again after a
//! [`ProxyEvent::BranchFailed`] to fail over serially) or [`Proxy::respond`], and
//! [`Proxy::finish`] to send the best final response when it stops trying. In-dialog requests
//! (with our `Route` or a To tag) are forwarded by the core itself to their next hop.
//!
//! Instead of Timer C (§16.8), [`ProxyConfig::final_timeout`] finishes any request still without
//! a final response (branches cancelled, best response or 408 sent). Not done: DNS targets (the
//! next hop must be an IP literal), parallel-forking refinements beyond forwarding each 1xx.

use std::{
    collections::{HashMap, VecDeque},
    time::Instant,
};

use bytes::Bytes;
use mrcp_proto::sip::{Message, SipLimits, StartLine};
use rand::{Rng as _, SeedableRng, rngs::SmallRng};

mod deadlines;

use deadlines::{Deadlines, TxKey};

use crate::{
    LocalAddr, Transmit,
    endpoint::{
        ClientKey, ServerKey,
        build::{ack_for_non2xx, cancel_for, default_reason, response_to},
        uas::server_key,
    },
    header::{CSeq, SipUri, Via, format_host_port, split_list, tag_of, uri_of},
    transaction::{
        ClientInvite, ClientNonInvite, ResponseAction, ServerInvite, ServerInviteState,
        ServerNonInvite, TimerAction, TimerConfig,
    },
    transport::{Peer, Transport, received_via, response_peer},
};

/// Identifies one proxied request (its server transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProxyTxId(pub u64);

/// Configuration of a [`Proxy`].
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Our addresses, used in `Via` and `Record-Route` and to recognise our own `Route`.
    pub local: Vec<LocalAddr>,
    /// Insert `Record-Route` in dialog-creating requests so ACK, BYE and re-INVITE come back.
    pub record_route: bool,
    /// Transaction timers.
    pub timers: TimerConfig,
    /// Message limits.
    pub limits: SipLimits,
    /// Seed of branch generation.
    pub seed: u64,
    /// A request still without a final response this long after it arrived is finished by the
    /// core (best response so far, or 408), so a client never hangs on a silent application or
    /// backend (a guard in the spirit of Timer C, §16.8).
    pub final_timeout: std::time::Duration,
    /// A branch that gets no response at all (not even 100 Trying) this long after it was sent
    /// fails as if its transaction had timed out, while the retransmission timers keep the
    /// standard T1 (as Kamailio's `fr_timer` next to its T1). `None`: only Timer B/F.
    pub reply_timeout: Option<std::time::Duration>,
    /// A transaction that has its final response is forgotten this long after it, even if its
    /// RFC 3261 timer (64·T1 for Timers J, L and M: 32 s) runs longer — what Kamailio's
    /// `wait_timer` does. Bounds memory at high call rates; later retransmissions of a 2xx or of
    /// the request are then relayed or answered as if new. `None`: the RFC timers only.
    pub linger: Option<std::time::Duration>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            local: Vec::new(),
            record_route: true,
            timers: TimerConfig::default(),
            limits: SipLimits::default(),
            seed: 0,
            final_timeout: std::time::Duration::from_secs(60),
            reply_timeout: None,
            linger: None,
        }
    }
}

/// What the application must decide.
#[derive(Debug, Clone, PartialEq)]
pub enum ProxyEvent {
    /// A new out-of-dialog request: call [`Proxy::forward`] or [`Proxy::respond`].
    NewRequest {
        /// The request's id.
        id: ProxyTxId,
        /// The request as received (top Via already carries `received`/`rport`).
        request: Message,
    },
    /// A branch ended without success (`status` is `None` for a timeout or transport error):
    /// forward to another target, or call [`Proxy::finish`].
    BranchFailed {
        /// The request.
        id: ProxyTxId,
        /// The target that failed.
        target: Peer,
        /// Its final status.
        status: Option<u16>,
    },
    /// A branch of a request the application placed got a final response that ends the request
    /// (a 2xx, forwarded to the client, or a 6xx, §16.7 step 9): nothing more to decide. For
    /// the application's bookkeeping and counters.
    Answered {
        /// The request.
        id: ProxyTxId,
        /// The target that answered.
        target: Peer,
        /// Its final status.
        status: u16,
    },
}

/// What [`Proxy::poll_output`] returns.
#[derive(Debug, Clone, PartialEq)]
pub enum ProxyOutput {
    /// Send bytes.
    Transmit(Transmit),
    /// Tell the application.
    Event(ProxyEvent),
}

#[derive(Debug)]
enum ServerSide {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct Incoming {
    id: ProxyTxId,
    machine: ServerSide,
    request: Message,
    peer: Peer,
    branches: Vec<ClientKey>,
    /// Best final response so far (§16.7 step 6).
    best: Option<Message>,
    done: bool,
    /// Handed to the application (true) or forwarded by the core (false).
    decided_by_app: bool,
    /// When the core finishes the request itself if nobody did.
    final_by: Instant,
    /// When it got its final response.
    ended_at: Option<Instant>,
}

#[derive(Debug)]
enum ClientSide {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

#[derive(Debug)]
struct Branch {
    /// Its number in the deadline index.
    seq: u64,
    machine: ClientSide,
    request: Message,
    peer: Peer,
    parent: ServerKey,
    finished: bool,
    /// Without any response by then, the branch fails ([`ProxyConfig::reply_timeout`]).
    reply_by: Option<Instant>,
    /// When it got its final response.
    ended_at: Option<Instant>,
}

/// The sans-IO proxy core. Same run loop as [`crate::Endpoint`].
#[derive(Debug)]
pub struct Proxy {
    cfg: ProxyConfig,
    incoming: HashMap<ServerKey, Incoming>,
    ids: HashMap<ProxyTxId, ServerKey>,
    branches: HashMap<ClientKey, Branch>,
    /// Branch numbers of the deadline index to their keys.
    branch_keys: HashMap<u64, ClientKey>,
    next_branch: u64,
    /// Every transaction's earliest deadline, ordered.
    deadlines: Deadlines,
    /// Transactions changed since the index was last brought up to date ([`Proxy::reindex`]).
    touched: Vec<TxKey>,
    out: VecDeque<ProxyOutput>,
    rng: SmallRng,
    next_id: u64,
}

impl Proxy {
    /// A new proxy.
    pub fn new(cfg: ProxyConfig) -> Self {
        let rng = SmallRng::seed_from_u64(cfg.seed);
        Self {
            cfg,
            incoming: HashMap::new(),
            ids: HashMap::new(),
            branches: HashMap::new(),
            branch_keys: HashMap::new(),
            next_branch: 1,
            deadlines: Deadlines::default(),
            touched: Vec::new(),
            out: VecDeque::new(),
            rng,
            next_id: 1,
        }
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<ProxyOutput> {
        self.out.pop_front()
    }

    /// The earliest transaction deadline (O(1): read from the deadline index).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first()
    }

    /// Brings the deadline index up to date for every transaction changed since the last call.
    /// Every public entry point ends with it, so [`Proxy::poll_timeout`] is always exact.
    ///
    /// A transaction that has its final response keeps only what its remaining timers need
    /// (the machine with its last response or ACK): its copy of the request and the best
    /// response are released here, as it may live on for 64·T1 (Timers J, L, M).
    fn reindex(&mut self, now: Instant) {
        let linger = self.cfg.linger;
        while let Some(key) = self.touched.pop() {
            let at = match key {
                TxKey::Server(id) => self
                    .ids
                    .get(&ProxyTxId(id))
                    .and_then(|k| self.incoming.get_mut(k))
                    .and_then(|i| {
                        if i.done && i.ended_at.is_none() {
                            i.ended_at = Some(now);
                            i.request.headers = Vec::new();
                            i.request.body = Bytes::new();
                            i.best = None;
                        }
                        let forget = i.ended_at.zip(linger).map(|(t, l)| t + l);
                        let machine = match &i.machine {
                            ServerSide::Invite(m) => m.poll_timeout(),
                            ServerSide::NonInvite(m) => m.poll_timeout(),
                        };
                        let guard = (!i.done).then_some(i.final_by);
                        [machine, guard, forget].into_iter().flatten().min()
                    }),
                TxKey::Client(seq) => self
                    .branch_keys
                    .get(&seq)
                    .and_then(|k| self.branches.get_mut(k))
                    .and_then(|b| {
                        if b.finished && b.ended_at.is_none() {
                            b.ended_at = Some(now);
                            b.request.headers = Vec::new();
                            b.request.body = Bytes::new();
                        }
                        let forget = b.ended_at.zip(linger).map(|(t, l)| t + l);
                        let machine = match &b.machine {
                            ClientSide::Invite(m) => m.poll_timeout(),
                            ClientSide::NonInvite(m) => m.poll_timeout(),
                        };
                        [machine, b.reply_by, forget].into_iter().flatten().min()
                    }),
            };
            self.deadlines.set(key, at);
        }
    }

    fn touch_server(&mut self, id: ProxyTxId) {
        self.touched.push(TxKey::Server(id.0));
    }

    /// Adds a client transaction (a branch) and indexes it.
    fn insert_branch(&mut self, key: ClientKey, mut branch: Branch) {
        let seq = self.next_branch;
        self.next_branch += 1;
        branch.seq = seq;
        self.branch_keys.insert(seq, key.clone());
        if let Some(old) = self.branches.insert(key, branch) {
            // A branch parameter collision (random 64 bits): forget the older one.
            self.branch_keys.remove(&old.seq);
            self.touched.push(TxKey::Client(old.seq));
        }
        self.touched.push(TxKey::Client(seq));
    }

    fn remove_branch(&mut self, key: &ClientKey) -> Option<Branch> {
        let branch = self.branches.remove(key)?;
        self.branch_keys.remove(&branch.seq);
        self.touched.push(TxKey::Client(branch.seq));
        Some(branch)
    }

    /// Forgets a terminated server transaction and the finished branches it kept.
    fn remove_incoming(&mut self, key: &ServerKey) {
        let Some(inc) = self.incoming.remove(key) else {
            return;
        };
        self.ids.remove(&inc.id);
        self.touch_server(inc.id);
        for b in inc.branches {
            if self.branches.get(&b).is_some_and(|b| b.finished) {
                self.remove_branch(&b);
            }
        }
    }

    /// Number of live transactions (server plus client side).
    pub fn transaction_count(&self) -> usize {
        self.incoming.len() + self.branches.len()
    }

    fn transmit(&mut self, peer: Peer, payload: Bytes) {
        self.out
            .push_back(ProxyOutput::Transmit(Transmit { peer, payload }));
    }

    /// A message arrived from `peer`.
    pub fn handle_message(&mut self, now: Instant, bytes: &[u8], peer: Peer) {
        let Ok(msg) = Message::parse(bytes, &self.cfg.limits) else {
            tracing::warn!(peer = %peer.addr, "proxy dropping malformed sip message");
            return;
        };
        if msg.is_request() {
            self.handle_request(now, msg, peer);
        } else {
            self.handle_response(now, msg);
        }
        self.reindex(now);
    }

    fn handle_request(&mut self, now: Instant, mut msg: Message, peer: Peer) {
        let Some(mut via) = msg.header("Via").and_then(Via::parse) else {
            return;
        };
        received_via(&mut via, peer.addr);
        if let Some(slot) = msg
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("Via"))
        {
            slot.1 = via.to_string();
        }
        let dest = response_peer(&via, &peer);
        let method = msg.method().unwrap_or_default().to_owned();
        let key = server_key(&msg, &via, &method);
        if method == "ACK" {
            if let Some(inc) = self.incoming.get_mut(&key)
                && let ServerSide::Invite(m) = &mut inc.machine
                && m.state() != ServerInviteState::Accepted
            {
                m.on_ack(now);
                let id = inc.id;
                self.touch_server(id);
                return;
            }
            // ACK of a 2xx: forwarded statelessly along its route (§16.11).
            return self.forward_stateless(msg);
        }
        if let Some(inc) = self.incoming.get_mut(&key) {
            let resend = match &mut inc.machine {
                ServerSide::Invite(m) => m.on_request(),
                ServerSide::NonInvite(m) => m.on_request(),
            };
            if let Some(bytes) = resend {
                let p = inc.peer;
                self.transmit(p, bytes);
            }
            return;
        }
        // §16.3: Max-Forwards.
        let max_forwards = msg
            .header("Max-Forwards")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(70);
        if max_forwards == 0 {
            let mut r = response_to(&msg, 483, default_reason(483), None);
            r.push_header("Server", "open-mrcp proxy");
            return self.transmit(dest, r.to_bytes());
        }
        if method == "CANCEL" {
            return self.handle_cancel(now, msg, key, dest);
        }
        // Two own entries in a row when we double-record-routed (transport change).
        let ours = self.pop_own_route(&mut msg);
        if ours {
            self.pop_own_route(&mut msg);
        }
        let in_dialog = ours || msg.header("To").and_then(tag_of).is_some();
        let id = ProxyTxId(self.next_id);
        self.next_id += 1;
        let reliable = dest.transport.is_reliable();
        let machine = if method == "INVITE" {
            ServerSide::Invite(ServerInvite::new(reliable, self.cfg.timers))
        } else {
            ServerSide::NonInvite(ServerNonInvite::new(reliable, self.cfg.timers))
        };
        self.ids.insert(id, key.clone());
        self.touch_server(id);
        self.incoming.insert(
            key.clone(),
            Incoming {
                id,
                machine,
                request: msg.clone(),
                peer: dest,
                branches: Vec::new(),
                best: None,
                done: false,
                decided_by_app: !in_dialog,
                final_by: now + self.cfg.final_timeout,
                ended_at: None,
            },
        );
        if method == "INVITE" {
            // §16.2: a stateful proxy sends 100 Trying for INVITE.
            self.answer(now, &key, response_to(&msg, 100, "Trying", None));
        }
        if in_dialog {
            let next = msg
                .header("Route")
                .map(|r| uri_of(r).to_owned())
                .unwrap_or_else(|| request_uri(&msg));
            match SipUri::parse(&next).and_then(|u| u.socket_addr().map(|a| (a, u.transport))) {
                Some((addr, transport)) => {
                    let target = Peer {
                        transport: transport.unwrap_or(peer.transport),
                        addr,
                        connection: None,
                    };
                    let _ = self.forward(now, id, target, None);
                }
                None => self.respond_key(now, &key, 404),
            }
        } else {
            self.out
                .push_back(ProxyOutput::Event(ProxyEvent::NewRequest {
                    id,
                    request: msg,
                }));
        }
    }

    /// Removes the top `Route` if it names this proxy (§16.4); returns whether it did.
    fn pop_own_route(&self, msg: &mut Message) -> bool {
        let Some(first) = msg.header("Route").map(str::to_owned) else {
            return false;
        };
        let list = split_list(&first);
        let Some(top) = list.first().map(|s| (*s).to_owned()) else {
            return false;
        };
        let ours = SipUri::parse(uri_of(&top))
            .and_then(|u| u.socket_addr())
            .is_some_and(|a| self.cfg.local.iter().any(|l| l.addr == a));
        if !ours {
            return false;
        }
        let rest: Vec<&str> = list.into_iter().skip(1).collect();
        if let Some(i) = msg
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case("Route"))
        {
            if rest.is_empty() {
                msg.headers.remove(i);
            } else if let Some(slot) = msg.headers.get_mut(i) {
                slot.1 = rest.join(", ");
            }
        }
        true
    }

    fn handle_cancel(&mut self, now: Instant, msg: Message, key: ServerKey, dest: Peer) {
        let invite_key = ServerKey {
            method: "INVITE".to_owned(),
            ..key
        };
        let mut ok = response_to(&msg, 200, "OK", None);
        let Some(inc) = self.incoming.get_mut(&invite_key) else {
            ok = response_to(&msg, 481, default_reason(481), None);
            return self.transmit(dest, ok.to_bytes());
        };
        // §16.10: CANCEL every pending branch; their 487s make the final response.
        inc.decided_by_app = false;
        let pending: Vec<ClientKey> = inc.branches.clone();
        self.transmit(dest, ok.to_bytes());
        for bkey in pending {
            self.cancel_branch(now, &bkey);
        }
        if self
            .incoming
            .get(&invite_key)
            .is_some_and(|i| i.branches.is_empty())
        {
            self.respond_key(now, &invite_key, 487);
        }
    }

    fn cancel_branch(&mut self, now: Instant, bkey: &ClientKey) {
        let Some(branch) = self.branches.get(bkey) else {
            return;
        };
        let proceeding = matches!(&branch.machine, ClientSide::Invite(m) if m.state() == crate::transaction::ClientInviteState::Proceeding);
        if branch.finished || !proceeding {
            return;
        }
        let cancel = cancel_for(&branch.request);
        let peer = branch.peer;
        let key = ClientKey {
            branch: bkey.branch.clone(),
            method: "CANCEL".to_owned(),
        };
        let bytes = cancel.to_bytes();
        let parent = branch.parent.clone();
        let machine = ClientSide::NonInvite(ClientNonInvite::new(
            now,
            bytes.clone(),
            peer.transport.is_reliable(),
            self.cfg.timers,
        ));
        self.insert_branch(
            key,
            Branch {
                seq: 0,
                machine,
                request: cancel,
                peer,
                parent,
                finished: false,
                reply_by: None,
                ended_at: None,
            },
        );
        self.transmit(peer, bytes);
    }

    /// Forwards request `id` to `target`, optionally with a new Request-URI (§16.6).
    pub fn forward(
        &mut self,
        now: Instant,
        id: ProxyTxId,
        target: Peer,
        request_uri: Option<String>,
    ) -> Result<(), crate::Error> {
        let key = self
            .ids
            .get(&id)
            .cloned()
            .ok_or(crate::Error::ProxyUnknown { id })?;
        let inc = self
            .incoming
            .get(&key)
            .ok_or(crate::Error::ProxyUnknown { id })?;
        if inc.done {
            return Err(crate::Error::ProxyUnknown { id });
        }
        let mut msg = inc.request.clone();
        if let Some(uri) = request_uri
            && let StartLine::Request { method, .. } = &msg.start
        {
            msg.start = StartLine::Request {
                method: method.clone(),
                uri,
            };
        }
        let mf = msg
            .header("Max-Forwards")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(70);
        msg.set_header("Max-Forwards", mf.saturating_sub(1).to_string());
        let local = self
            .cfg
            .local
            .iter()
            .find(|l| l.transport == target.transport && l.addr.is_ipv4() == target.addr.is_ipv4())
            .copied()
            .ok_or(crate::Error::NoLocalAddress {
                transport: target.transport,
            })?;
        let method = msg.method().unwrap_or_default().to_owned();
        if self.cfg.record_route
            && method == "INVITE"
            && msg.header("To").and_then(tag_of).is_none()
        {
            // §16.6 step 4 with a transport change (client on UDP, backend on TCP or the
            // reverse): two entries, the lower one reachable by the caller and the top one by
            // the callee, so each side sends in-dialog requests over its own transport (the
            // "double Record-Route" of RFC 5658 §3.2).
            let caller_side = self
                .cfg
                .local
                .iter()
                .find(|l| {
                    l.transport == inc.peer.transport && l.addr.is_ipv4() == inc.peer.addr.is_ipv4()
                })
                .copied();
            if let Some(caller_side) = caller_side
                && caller_side != local
            {
                msg.prepend_header("Record-Route", record_route(&caller_side));
            }
            msg.prepend_header("Record-Route", record_route(&local));
        }
        let branch = format!("z9hG4bK{:016x}", self.rng.next_u64());
        let via = Via {
            transport: target.transport,
            host: local.addr.ip().to_string(),
            port: Some(local.addr.port()),
            params: vec![
                ("branch".to_owned(), Some(branch.clone())),
                ("rport".to_owned(), None),
            ],
        };
        msg.prepend_header("Via", via.to_string());
        let bytes = msg.to_bytes();
        let bkey = ClientKey {
            branch,
            method: method.clone(),
        };
        let reliable = target.transport.is_reliable();
        let machine = if method == "INVITE" {
            ClientSide::Invite(ClientInvite::new(
                now,
                bytes.clone(),
                reliable,
                self.cfg.timers,
            ))
        } else {
            ClientSide::NonInvite(ClientNonInvite::new(
                now,
                bytes.clone(),
                reliable,
                self.cfg.timers,
            ))
        };
        self.insert_branch(
            bkey.clone(),
            Branch {
                seq: 0,
                machine,
                request: msg,
                peer: target,
                parent: key.clone(),
                finished: false,
                reply_by: self.cfg.reply_timeout.map(|t| now + t),
                ended_at: None,
            },
        );
        if let Some(inc) = self.incoming.get_mut(&key) {
            inc.branches.push(bkey);
        }
        self.transmit(target, bytes);
        self.reindex(now);
        Ok(())
    }

    /// Answers request `id` locally with `code` (e.g. 503 when no backend is available, 200 to
    /// an OPTIONS addressed to the proxy).
    pub fn respond(&mut self, now: Instant, id: ProxyTxId, code: u16) -> Result<(), crate::Error> {
        let key = self
            .ids
            .get(&id)
            .cloned()
            .ok_or(crate::Error::ProxyUnknown { id })?;
        self.respond_key(now, &key, code);
        self.reindex(now);
        Ok(())
    }

    /// Stops trying: sends the best final response collected (§16.7 step 6), or 408 if none.
    pub fn finish(&mut self, now: Instant, id: ProxyTxId) -> Result<(), crate::Error> {
        let key = self
            .ids
            .get(&id)
            .cloned()
            .ok_or(crate::Error::ProxyUnknown { id })?;
        let best = self.incoming.get_mut(&key).and_then(|i| i.best.take());
        match best {
            Some(mut msg) => {
                if msg.status() == Some(503) {
                    // §16.7 step 6: a 503 is forwarded as 500.
                    msg.start = StartLine::Response {
                        code: 500,
                        reason: default_reason(500).to_owned(),
                    };
                }
                self.answer(now, &key, msg);
            }
            None => self.respond_key(now, &key, 408),
        }
        self.reindex(now);
        Ok(())
    }

    fn respond_key(&mut self, now: Instant, key: &ServerKey, code: u16) {
        let Some(inc) = self.incoming.get(key) else {
            return;
        };
        let tag = format!("{:012x}", self.rng.next_u64() & 0xffff_ffff_ffff);
        let msg = response_to(&inc.request, code, default_reason(code), Some(&tag));
        self.answer(now, key, msg);
    }

    /// Sends `msg` as a response of the server transaction `key`.
    fn answer(&mut self, now: Instant, key: &ServerKey, msg: Message) {
        let code = msg.status().unwrap_or(500);
        let bytes = msg.to_bytes();
        let Some(inc) = self.incoming.get_mut(key) else {
            return;
        };
        let accepted = match &mut inc.machine {
            ServerSide::Invite(m) => m.on_response(now, code, bytes.clone()),
            ServerSide::NonInvite(m) => m.on_response(now, code, bytes.clone()),
        };
        if code >= 200 {
            inc.done = true;
        }
        let (peer, id) = (inc.peer, inc.id);
        self.touch_server(id);
        if accepted {
            self.transmit(peer, bytes);
        } else if (200..300).contains(&code) && key.method == "INVITE" {
            // §16.7 step 5: every 2xx to INVITE is forwarded, retransmissions included.
            self.transmit(peer, bytes);
        }
    }

    fn handle_response(&mut self, now: Instant, mut msg: Message) {
        let Some(code) = msg.status() else { return };
        let Some(via) = msg.header("Via").and_then(Via::parse) else {
            return;
        };
        let Some(cseq) = msg.header("CSeq").and_then(CSeq::parse) else {
            return;
        };
        let bkey = ClientKey {
            branch: via.branch().unwrap_or_default().to_owned(),
            method: cseq.method.clone(),
        };
        let Some(branch) = self.branches.get_mut(&bkey) else {
            // A 2xx retransmission after the branch ended: forward statelessly (§16.7).
            tracing::debug!("proxy dropping response for no branch");
            return;
        };
        let action = match &mut branch.machine {
            ClientSide::Invite(m) => m.on_response(now, code),
            ClientSide::NonInvite(m) => m.on_response(now, code),
        };
        branch.reply_by = None;
        self.touched.push(TxKey::Client(branch.seq));
        // §16.7 step 3: remove our Via.
        if let Some(i) = msg
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case("Via"))
        {
            msg.headers.remove(i);
        }
        let (parent, peer) = (branch.parent.clone(), branch.peer);
        if bkey.method == "CANCEL" {
            return;
        }
        match action {
            ResponseAction::Absorb => {
                if (200..300).contains(&code) && bkey.method == "INVITE" {
                    self.answer(now, &parent, msg);
                }
            }
            ResponseAction::ResendAck(ack) => self.transmit(peer, ack),
            ResponseAction::PassUpAndAck => {
                let ack = ack_for_non2xx(&branch.request, &msg).to_bytes();
                if let ClientSide::Invite(m) = &mut branch.machine {
                    m.set_ack(ack.clone());
                }
                branch.finished = true;
                self.transmit(peer, ack);
                self.branch_final(now, &parent, peer, msg, code);
            }
            ResponseAction::PassUp => match code {
                100 => {}
                101..=199 => self.answer(now, &parent, msg),
                200..=299 => {
                    branch.finished = true;
                    let placed = self
                        .incoming
                        .get(&parent)
                        .filter(|i| i.decided_by_app && !i.done)
                        .map(|i| i.id);
                    if let Some(id) = placed {
                        self.out.push_back(ProxyOutput::Event(ProxyEvent::Answered {
                            id,
                            target: peer,
                            status: code,
                        }));
                    }
                    self.answer(now, &parent, msg);
                    // §16.7 step 10: cancel the other branches.
                    let others: Vec<ClientKey> = self
                        .incoming
                        .get(&parent)
                        .map(|i| i.branches.clone())
                        .unwrap_or_default();
                    for other in others.iter().filter(|k| **k != bkey) {
                        self.cancel_branch(now, other);
                    }
                }
                _ => {
                    branch.finished = true;
                    self.branch_final(now, &parent, peer, msg, code);
                }
            },
        }
    }

    fn branch_final(
        &mut self,
        now: Instant,
        parent: &ServerKey,
        target: Peer,
        msg: Message,
        code: u16,
    ) {
        let Some(inc) = self.incoming.get_mut(parent) else {
            return;
        };
        if inc.done {
            return;
        }
        let better = inc
            .best
            .as_ref()
            .and_then(Message::status)
            .is_none_or(|best| rank(code) < rank(best));
        if better {
            inc.best = Some(msg);
        }
        let id = inc.id;
        let all_done = inc
            .branches
            .iter()
            .all(|k| self.branches.get(k).is_none_or(|b| b.finished));
        if code >= 600 && inc.decided_by_app {
            self.out.push_back(ProxyOutput::Event(ProxyEvent::Answered {
                id,
                target,
                status: code,
            }));
        }
        if code >= 600 || !inc.decided_by_app {
            if all_done || code >= 600 {
                let _ = self.finish(now, id);
            }
            return;
        }
        self.out
            .push_back(ProxyOutput::Event(ProxyEvent::BranchFailed {
                id,
                target,
                status: Some(code),
            }));
    }

    /// The transport could not reach `addr`: every unfinished branch towards it fails as if its
    /// transaction timed out (§16.7 step 2 treats it as a 408 for response selection).
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        transport: Transport,
        addr: std::net::SocketAddr,
    ) {
        // A scan, but transport errors are rare (a refused or broken TCP connection).
        let failed: Vec<ClientKey> = self
            .branches
            .iter()
            .filter(|(_, b)| !b.finished && b.peer.transport == transport && b.peer.addr == addr)
            .map(|(k, _)| k.clone())
            .collect();
        for key in failed {
            let Some(branch) = self.remove_branch(&key) else {
                continue;
            };
            if key.method == "CANCEL" {
                continue;
            }
            let request = self.incoming.get(&branch.parent).map(|i| i.request.clone());
            if let Some(request) = request {
                let timeout = response_to(&request, 408, default_reason(408), Some("proxy408"));
                self.branch_final_timeout(now, &branch.parent, branch.peer, timeout);
            }
        }
        self.reindex(now);
    }

    /// Fires due timers, earliest deadline first; spurious calls do nothing. Each transaction
    /// due at `now` is taken from the deadline index (O(log n)), run, and re-indexed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.reindex(now);
        // Transactions re-armed at or before `now` while this runs wait for the next call, so
        // one call always ends.
        let due: Vec<TxKey> = std::iter::from_fn(|| self.deadlines.pop_due(now))
            .map(|(_, key)| key)
            .collect();
        for key in due {
            match key {
                TxKey::Server(id) => self.server_timeout(now, ProxyTxId(id)),
                TxKey::Client(seq) => self.branch_timeout(now, seq),
            }
            self.reindex(now);
        }
    }

    fn server_timeout(&mut self, now: Instant, id: ProxyTxId) {
        self.touch_server(id);
        let Some(key) = self.ids.get(&id).cloned() else {
            return;
        };
        if self.lingered(self.incoming.get(&key).and_then(|i| i.ended_at), now) {
            self.remove_incoming(&key);
            return;
        }
        let overdue = self
            .incoming
            .get(&key)
            .filter(|i| !i.done && i.final_by <= now)
            .map(|i| i.branches.clone());
        if let Some(branches) = overdue {
            tracing::warn!(
                ?id,
                "proxied request without final response in time; finishing it"
            );
            for b in branches {
                self.cancel_branch(now, &b);
            }
            let _ = self.finish(now, id);
        }
        while let Some(i) = self.incoming.get_mut(&key) {
            let action = match &mut i.machine {
                ServerSide::Invite(m) => m.handle_timeout(now),
                ServerSide::NonInvite(m) => m.handle_timeout(now),
            };
            let peer = i.peer;
            match action {
                Some(TimerAction::Retransmit(bytes)) => self.transmit(peer, bytes),
                Some(_) => {
                    self.remove_incoming(&key);
                    break;
                }
                None => break,
            }
        }
    }

    fn branch_timeout(&mut self, now: Instant, seq: u64) {
        self.touched.push(TxKey::Client(seq));
        let Some(key) = self.branch_keys.get(&seq).cloned() else {
            return;
        };
        if self.lingered(self.branches.get(&key).and_then(|b| b.ended_at), now) {
            self.remove_branch(&key);
            return;
        }
        while let Some(b) = self.branches.get_mut(&key) {
            let silent = b.reply_by.is_some_and(|t| t <= now);
            let action = if silent {
                // No response at all in time: give up on this branch (no CANCEL without a
                // provisional response, §9.1).
                Some(TimerAction::TimedOut(crate::transaction::Timer::B))
            } else {
                match &mut b.machine {
                    ClientSide::Invite(m) => m.handle_timeout(now),
                    ClientSide::NonInvite(m) => m.handle_timeout(now),
                }
            };
            let (peer, parent) = (b.peer, b.parent.clone());
            match action {
                Some(TimerAction::Retransmit(bytes)) => self.transmit(peer, bytes),
                Some(TimerAction::TimedOut(_)) => {
                    if let Some(b) = self.branches.get_mut(&key) {
                        b.finished = true;
                    }
                    let req = self.incoming.get(&parent).map(|i| i.request.clone());
                    if let Some(req) = req.filter(|_| key.method != "CANCEL") {
                        let timeout = response_to(&req, 408, default_reason(408), Some("proxy408"));
                        self.branch_final_timeout(now, &parent, peer, timeout);
                    }
                    self.remove_branch(&key);
                    break;
                }
                Some(TimerAction::Terminated) => {
                    self.remove_branch(&key);
                    break;
                }
                None => break,
            }
        }
    }

    /// Whether a transaction that ended at `ended_at` has outlived [`ProxyConfig::linger`].
    fn lingered(&self, ended_at: Option<Instant>, now: Instant) -> bool {
        ended_at
            .zip(self.cfg.linger)
            .is_some_and(|(t, l)| t + l <= now)
    }

    fn branch_final_timeout(
        &mut self,
        now: Instant,
        parent: &ServerKey,
        target: Peer,
        msg: Message,
    ) {
        let Some(inc) = self.incoming.get_mut(parent) else {
            return;
        };
        if inc.done {
            return;
        }
        if inc.best.is_none() {
            inc.best = Some(msg);
        }
        let id = inc.id;
        if inc.decided_by_app {
            self.out
                .push_back(ProxyOutput::Event(ProxyEvent::BranchFailed {
                    id,
                    target,
                    status: None,
                }));
        } else {
            let _ = self.finish(now, id);
        }
    }

    /// ACK of a 2xx and other transaction-less forwarding (§16.11): pop our Route, push a Via,
    /// decrement Max-Forwards, send to the next hop.
    fn forward_stateless(&mut self, mut msg: Message) {
        if self.pop_own_route(&mut msg) {
            self.pop_own_route(&mut msg);
        }
        let next = msg
            .header("Route")
            .map(|r| uri_of(r).to_owned())
            .unwrap_or_else(|| request_uri(&msg));
        let Some(uri) = SipUri::parse(&next) else {
            return;
        };
        let Some(addr) = uri.socket_addr() else {
            return;
        };
        let transport = uri.transport.unwrap_or(Transport::Udp);
        let Some(local) = self
            .cfg
            .local
            .iter()
            .find(|l| l.transport == transport)
            .copied()
        else {
            return;
        };
        let mf = msg
            .header("Max-Forwards")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(70);
        msg.set_header("Max-Forwards", mf.saturating_sub(1).to_string());
        let via = Via {
            transport,
            host: local.addr.ip().to_string(),
            port: Some(local.addr.port()),
            params: vec![(
                "branch".to_owned(),
                Some(format!("z9hG4bK{:016x}", self.rng.next_u64())),
            )],
        };
        msg.prepend_header("Via", via.to_string());
        self.transmit(
            Peer {
                transport,
                addr,
                connection: None,
            },
            msg.to_bytes(),
        );
    }
}

/// `<sip:host:port;transport=x;lr>` for our Record-Route.
fn record_route(local: &LocalAddr) -> String {
    let hp = format_host_port(&local.addr.ip().to_string(), Some(local.addr.port()));
    match local.transport {
        Transport::Udp => format!("<sip:{hp};lr>"),
        t => format!("<sip:{hp};transport={};lr>", t.param()),
    }
}

fn request_uri(msg: &Message) -> String {
    match &msg.start {
        StartLine::Request { uri, .. } => uri.clone(),
        StartLine::Response { .. } => String::new(),
    }
}

/// §16.7 step 6: 6xx first, then the lowest class; 5xx last among 4xx/5xx.
fn rank(code: u16) -> u16 {
    match code {
        600.. => 0,
        300..=399 => 1000 + code,
        400..=499 => 2000 + code,
        _ => 3000 + code,
    }
}
