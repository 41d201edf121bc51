//! Incoming requests: server transaction matching (§17.2.3), the UAS core (§8.2), CANCEL (§9.2),
//! dialog requests (§12.2.2), re-INVITE glare (§14.2), session timers (RFC 4028 §9).

use std::{cmp::Reverse, time::Instant};

use mrcp_proto::sip::Message;

use super::{
    Call, CallHandle, EndReason, Endpoint, Event, Pending2xx, Response, Role, ServerKey,
    ServerMachine, ServerTx, ServerTxId, TimerRef,
    build::{ALLOW, SUPPORTED, contact_of, response_to},
};
use crate::{
    Error,
    header::{CSeq, Via, split_list, tag_of, uri_of},
    transaction::{ServerInvite, ServerInviteState, ServerNonInvite},
    transport::{Peer, received_via, response_peer},
};

impl Endpoint {
    pub(super) fn handle_request(&mut self, now: Instant, mut msg: Message, peer: Peer) {
        let Some(mut via) = msg.header("Via").and_then(Via::parse) else {
            tracing::warn!(peer = %peer.addr, "dropping request with unparsable top via");
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
        let cseq = match msg.header("CSeq").and_then(CSeq::parse) {
            Some(c) if c.method == method => c,
            _ => {
                if method != "ACK" {
                    let mut r = response_to(&msg, 400, "Bad CSeq", None);
                    r.push_header("Server", self.cfg.user_agent.clone());
                    self.transmit(dest, r.to_bytes());
                }
                return;
            }
        };
        let key = server_key(&msg, &via, &method);
        if method == "ACK" {
            return self.handle_ack(now, msg, key);
        }
        // §17.2.3: a retransmission of a request with a live transaction.
        if let Some(tx) = self.server.get_mut(&key) {
            let resend = match &mut tx.machine {
                ServerMachine::Invite(m) => m.on_request(),
                ServerMachine::NonInvite(m) => m.on_request(),
            };
            if let Some(bytes) = resend {
                let peer = tx.peer;
                self.transmit(peer, bytes);
            }
            return;
        }
        if method == "CANCEL" {
            return self.handle_cancel(now, msg, key, dest);
        }
        // §8.2.2.3: refuse what we do not support; never require anything ourselves.
        let unsupported: Vec<&str> = msg
            .headers_named("Require")
            .flat_map(split_list)
            .filter(|ext| !ext.eq_ignore_ascii_case("timer"))
            .collect();
        if !unsupported.is_empty() {
            let list = unsupported.join(", ");
            return self.respond_stateless(&msg, dest, 420, &[("Unsupported", &list)]);
        }
        let to_tag = msg.header("To").and_then(tag_of).map(str::to_owned);
        match to_tag {
            Some(tag) => self.handle_in_dialog(now, msg, key, dest, tag, cseq),
            None => self.handle_out_of_dialog(now, msg, key, dest, cseq),
        }
    }

    fn handle_ack(&mut self, now: Instant, msg: Message, key: ServerKey) {
        let invite_key = ServerKey {
            method: "INVITE".to_owned(),
            ..key
        };
        if let Some(tx) = self.server.get_mut(&invite_key)
            && let ServerMachine::Invite(m) = &mut tx.machine
            && m.state() != ServerInviteState::Accepted
        {
            // ACK of a non-2xx final: part of the INVITE transaction (§17.2.1).
            if m.on_ack(now) {
                let at = m.poll_timeout();
                self.schedule(at, TimerRef::Server(invite_key));
            }
            return;
        }
        // ACK of a 2xx: its own transaction, matched to the dialog (§13.3.1.4).
        let Some(handle) = self.dialog_of(&msg) else {
            tracing::debug!("dropping ack outside any dialog");
            return;
        };
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.pending_2xx.take().is_some() {
            call.confirmed = true;
            self.event(Event::Ack {
                call: handle,
                request: msg,
            });
        }
    }

    fn handle_cancel(&mut self, now: Instant, msg: Message, key: ServerKey, dest: Peer) {
        let invite_key = ServerKey {
            method: "INVITE".to_owned(),
            ..key.clone()
        };
        let Some(invite) = self.server.get(&invite_key) else {
            // §9.2: no matching transaction.
            return self.respond_stateless(&msg, dest, 481, &[]);
        };
        let proceeding = matches!(&invite.machine, ServerMachine::Invite(m) if m.state() == ServerInviteState::Proceeding);
        let call = invite.call;
        let invite_id = invite.id;
        // The CANCEL gets 200 in its own transaction, whatever the INVITE's state (§9.2).
        let id = self.new_server_tx(now, &msg, key.clone(), dest, None, false, false);
        let _ = self.respond(now, id, Response::status(200));
        if proceeding {
            // §9.2: answer the INVITE with 487; the call ends.
            if let Some(c) = call.and_then(|c| self.calls.get_mut(&c)) {
                c.cancelled = true;
            }
            let _ = self.respond(now, invite_id, Response::status(487));
        }
    }

    fn handle_out_of_dialog(
        &mut self,
        now: Instant,
        msg: Message,
        key: ServerKey,
        dest: Peer,
        cseq: CSeq,
    ) {
        match msg.method().unwrap_or_default() {
            "INVITE" => self.handle_new_invite(now, msg, key, dest, cseq),
            "OPTIONS" => self.handle_options(now, msg, key, dest),
            "BYE" | "UPDATE" | "INFO" | "PRACK" => self.respond_stateless(&msg, dest, 481, &[]),
            "REGISTER" | "SUBSCRIBE" | "NOTIFY" | "REFER" | "MESSAGE" | "PUBLISH" => {
                self.respond_stateless(&msg, dest, 405, &[("Allow", ALLOW)])
            }
            _ => self.respond_stateless(&msg, dest, 501, &[("Allow", ALLOW)]),
        }
    }

    fn handle_options(&mut self, now: Instant, msg: Message, key: ServerKey, dest: Peer) {
        match self.cfg.options_status {
            Some(code) => {
                let id = self.new_server_tx(now, &msg, key, dest, None, false, false);
                let mut response = Response::status(code);
                response
                    .headers
                    .push(("Accept".to_owned(), "application/sdp".to_owned()));
                let _ = self.respond(now, id, response);
            }
            None => {
                let id = self.new_server_tx(now, &msg, key, dest, None, false, true);
                self.event(Event::Options {
                    tx: id,
                    request: msg,
                    peer: dest,
                });
            }
        }
    }

    fn handle_new_invite(
        &mut self,
        now: Instant,
        msg: Message,
        key: ServerKey,
        dest: Peer,
        cseq: CSeq,
    ) {
        let call_id = msg.header("Call-ID").unwrap_or_default().to_owned();
        let from = msg.header("From").unwrap_or_default().to_owned();
        let Some(from_tag) = tag_of(&from).map(str::to_owned) else {
            return self.respond_stateless(&msg, dest, 400, &[]);
        };
        // §8.2.2.2: the same request arriving over another path is a merged request.
        let merged_key = (call_id.clone(), from_tag.clone(), cseq.seq);
        if self
            .merged
            .get(&merged_key)
            .is_some_and(|branch| *branch != key.branch)
        {
            return self.respond_stateless(&msg, dest, 482, &[]);
        }
        // RFC 4028 §9: accept a timer the peer asks for, if it is not too small.
        let session_expires = msg
            .header("Session-Expires")
            .and_then(|v| v.split(';').next()?.trim().parse().ok());
        if let Some(se) = session_expires
            && se < self.cfg.min_se
        {
            let min_se = self.cfg.min_se.to_string();
            return self.respond_stateless(&msg, dest, 422, &[("Min-SE", &min_se)]);
        }
        self.merged.insert(merged_key, key.branch.clone());
        let handle = CallHandle(self.next_id());
        let local_tag = self.random_token(12);
        let to = msg.header("To").unwrap_or_default().to_owned();
        let call = Call {
            role: Role::Uas,
            call_id: call_id.clone(),
            local_tag: local_tag.clone(),
            remote_tag: Some(from_tag.clone()),
            local_uri: to,
            remote_uri: strip_tag(&from),
            local_seq: self.rng_seq(),
            remote_seq: Some(cseq.seq),
            route_set: msg
                .headers_named("Record-Route")
                .flat_map(split_list)
                .map(str::to_owned)
                .collect(),
            remote_target: msg
                .header("Contact")
                .map(|c| uri_of(c).to_owned())
                .unwrap_or_default(),
            peer: dest,
            confirmed: false,
            invite_tx: Some(key.clone()),
            pending_2xx: None,
            invite_client: None,
            cancel_pending: false,
            ack: None,
            incoming_reinvite: false,
            outgoing_reinvite: false,
            session_expires,
            cancelled: false,
            not_answered: false,
            offer: None,
            refresh_at: None,
        };
        self.calls.insert(handle, call);
        self.dialogs.insert((call_id, local_tag, from_tag), handle);
        let id = self.new_server_tx(now, &msg, key, dest, Some(handle), true, true);
        // §17.2.1: 100 Trying at once, so the client stops retransmitting.
        let _ = self.respond(now, id, Response::status(100));
        self.event(Event::IncomingInvite {
            call: handle,
            tx: id,
            request: msg,
            peer: dest,
        });
    }

    fn handle_in_dialog(
        &mut self,
        now: Instant,
        msg: Message,
        key: ServerKey,
        dest: Peer,
        tag: String,
        cseq: CSeq,
    ) {
        let _ = tag;
        let Some(handle) = self.dialog_of(&msg) else {
            // §12.2.2: a request for a dialog we do not know.
            return self.respond_stateless(&msg, dest, 481, &[]);
        };
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        // §12.2.2: a lower CSeq than the last one is out of order.
        if call.remote_seq.is_some_and(|last| cseq.seq <= last) && msg.method() != Some("OPTIONS") {
            return self.respond_stateless(&msg, dest, 500, &[("Retry-After", "1")]);
        }
        call.remote_seq = Some(cseq.seq);
        if dest.connection.is_some() {
            call.peer.connection = dest.connection;
        }
        match msg.method().unwrap_or_default() {
            "BYE" => {
                // A BYE before the ACK ends the call too (§15.1.2); stop retransmitting the 2xx.
                call.pending_2xx = None;
                let id = self.new_server_tx(now, &msg, key, dest, Some(handle), false, false);
                let _ = self.respond(now, id, Response::status(200));
                self.end_call(handle, EndReason::RemoteBye);
            }
            "INVITE" => {
                // §14.2: a re-INVITE while another one is pending, in either direction.
                if call.incoming_reinvite || call.outgoing_reinvite || call.pending_2xx.is_some() {
                    let code = if call.incoming_reinvite || call.pending_2xx.is_some() {
                        500
                    } else {
                        491
                    };
                    return self.respond_stateless(&msg, dest, code, &[("Retry-After", "1")]);
                }
                call.incoming_reinvite = true;
                if let Some(contact) = msg.header("Contact") {
                    call.remote_target = uri_of(contact).to_owned();
                }
                if let Some(se) = msg
                    .header("Session-Expires")
                    .and_then(|v| v.split(';').next()?.trim().parse().ok())
                {
                    call.session_expires = Some(se);
                }
                let id = self.new_server_tx(now, &msg, key, dest, Some(handle), true, true);
                let _ = self.respond(now, id, Response::status(100));
                self.event(Event::ReInvite {
                    call: handle,
                    tx: id,
                    request: msg,
                });
            }
            "OPTIONS" => self.handle_options(now, msg, key, dest),
            "UPDATE" if msg.body.is_empty() => {
                // RFC 4028 refresh by UPDATE: accept, echo the interval.
                let se = call.session_expires;
                let id = self.new_server_tx(now, &msg, key, dest, Some(handle), false, false);
                let mut response = Response::status(200);
                if let Some(se) = se {
                    response
                        .headers
                        .push(("Session-Expires".to_owned(), format!("{se};refresher=uac")));
                }
                let _ = self.respond(now, id, response);
            }
            "UPDATE" => self.respond_stateless(&msg, dest, 488, &[]),
            "INFO" => {
                let id = self.new_server_tx(now, &msg, key, dest, Some(handle), false, false);
                let _ = self.respond(now, id, Response::status(200));
            }
            _ => self.respond_stateless(&msg, dest, 405, &[("Allow", ALLOW)]),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_server_tx(
        &mut self,
        now: Instant,
        msg: &Message,
        key: ServerKey,
        peer: Peer,
        call: Option<CallHandle>,
        invite: bool,
        to_application: bool,
    ) -> ServerTxId {
        let id = ServerTxId(self.next_id());
        let reliable = peer.transport.is_reliable();
        let machine = if invite {
            ServerMachine::Invite(ServerInvite::new(reliable, self.cfg.timers))
        } else {
            ServerMachine::NonInvite(ServerNonInvite::new(reliable, self.cfg.timers))
        };
        self.server_ids.insert(id, key.clone());
        if to_application {
            self.timers.push(Reverse((
                now + self.cfg.answer_timeout,
                TimerRef::Answer(key.clone()),
            )));
        }
        self.server.insert(
            key,
            ServerTx {
                id,
                machine,
                request: msg.clone(),
                peer,
                call,
                to_application,
            },
        );
        id
    }

    /// Sends `response` for the request of server transaction `tx`: the answer to an INVITE
    /// (`200` with the SDP answer, or 4xx/5xx), to a re-INVITE, or to an OPTIONS handed up.
    ///
    /// A 2xx to an INVITE is retransmitted until the ACK arrives (§13.3.1.4); a final response
    /// ends the transaction's wait; a non-2xx final to an initial INVITE ends the call.
    pub fn respond(
        &mut self,
        now: Instant,
        tx: ServerTxId,
        response: Response,
    ) -> Result<(), Error> {
        if !(100..=699).contains(&response.code) {
            return Err(Error::BadStatus {
                code: response.code,
            });
        }
        let key = self
            .server_ids
            .get(&tx)
            .cloned()
            .ok_or(Error::UnknownTransaction { tx })?;
        let stx = self
            .server
            .get(&key)
            .ok_or(Error::UnknownTransaction { tx })?;
        let call_handle = stx.call;
        let stx_peer = stx.peer;
        let call_tag = call_handle
            .and_then(|c| self.calls.get(&c))
            .map(|c| c.local_tag.clone());
        let (to_tag, contact) = match call_tag {
            Some(tag) => {
                let local = self.local_for(stx_peer.transport, stx_peer.addr).ok();
                (Some(tag), local.as_ref().map(contact_of))
            }
            None => (Some(self.random_token(12)), None),
        };
        let Some(stx) = self.server.get(&key) else {
            return Err(Error::UnknownTransaction { tx });
        };
        let mut response = response;
        let is_invite = stx.request.method() == Some("INVITE");
        if is_invite && (200..300).contains(&response.code) {
            self.add_session_timer(&stx.request, call_handle, &mut response);
        }
        let msg = self.build_response(&stx.request, &response, to_tag.as_deref(), contact);
        let bytes = msg.to_bytes();
        let Some(stx) = self.server.get_mut(&key) else {
            return Err(Error::UnknownTransaction { tx });
        };
        let accepted = match &mut stx.machine {
            ServerMachine::Invite(m) => m.on_response(now, response.code, bytes.clone()),
            ServerMachine::NonInvite(m) => m.on_response(now, response.code, bytes.clone()),
        };
        if !accepted {
            return Err(Error::AlreadyAnswered { tx });
        }
        let peer = stx.peer;
        let at = match &stx.machine {
            ServerMachine::Invite(m) => m.poll_timeout(),
            ServerMachine::NonInvite(m) => m.poll_timeout(),
        };
        let _ = stx.to_application;
        self.schedule(at, TimerRef::Server(key.clone()));
        self.transmit(peer, bytes.clone());
        if is_invite && response.code >= 200 {
            self.invite_answered(now, call_handle, &key, response.code, bytes, peer);
        }
        Ok(())
    }

    fn invite_answered(
        &mut self,
        now: Instant,
        handle: Option<CallHandle>,
        key: &ServerKey,
        code: u16,
        bytes: bytes::Bytes,
        peer: Peer,
    ) {
        let Some(handle) = handle else { return };
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let initial = call.invite_tx.as_ref() == Some(key);
        if initial {
            call.invite_tx = None;
        } else {
            call.incoming_reinvite = false;
        }
        if (200..300).contains(&code) {
            let t1 = self.cfg.timers.t1;
            call.pending_2xx = Some(Pending2xx {
                bytes,
                peer,
                interval: t1,
                next: now + t1,
                give_up: now + self.cfg.timers.t1x64(),
            });
            self.timers
                .push(Reverse((now + t1, TimerRef::Call(handle))));
        } else if initial {
            let reason = if call.cancelled {
                EndReason::Cancelled
            } else if call.not_answered {
                EndReason::NotAnswered
            } else {
                EndReason::Rejected
            };
            self.end_call(handle, reason);
        }
    }

    /// RFC 4028 §9: when the UAC asked for a session timer and supports it, answer with the
    /// interval and let the UAC refresh; never require it otherwise.
    fn add_session_timer(
        &self,
        request: &Message,
        call: Option<CallHandle>,
        response: &mut Response,
    ) {
        let Some(se) = call
            .and_then(|c| self.calls.get(&c))
            .and_then(|c| c.session_expires)
        else {
            return;
        };
        let supports = request
            .headers_named("Supported")
            .flat_map(split_list)
            .any(|s| s.eq_ignore_ascii_case("timer"));
        if !supports
            || response
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("Session-Expires"))
        {
            return;
        }
        response
            .headers
            .push(("Session-Expires".to_owned(), format!("{se};refresher=uac")));
        response
            .headers
            .push(("Require".to_owned(), "timer".to_owned()));
        let _ = SUPPORTED;
    }

    pub(super) fn dialog_of(&self, msg: &Message) -> Option<CallHandle> {
        let call_id = msg.header("Call-ID")?;
        let (local, remote) = if msg.is_request() {
            (
                msg.header("To").and_then(tag_of)?,
                msg.header("From").and_then(tag_of)?,
            )
        } else {
            (
                msg.header("From").and_then(tag_of)?,
                msg.header("To").and_then(tag_of)?,
            )
        };
        self.dialogs
            .get(&(call_id.to_owned(), local.to_owned(), remote.to_owned()))
            .copied()
    }

    pub(super) fn rng_seq(&mut self) -> u32 {
        // §8.1.1.5: any value below 2^31; keep headroom for the dialog's requests.
        use rand::Rng as _;
        self.rng.next_u32() % (1 << 30) + 1
    }
}

/// The server transaction key of `msg` (§17.2.3), with the RFC 2543 fallback (§17.2.3, second
/// part) when the branch lacks the magic cookie.
pub(crate) fn server_key(msg: &Message, via: &Via, method: &str) -> ServerKey {
    let method = if method == "ACK" { "INVITE" } else { method }.to_owned();
    let branch = if via.is_rfc3261_branch() {
        via.branch().unwrap_or_default().to_owned()
    } else {
        let cseq = msg
            .header("CSeq")
            .and_then(CSeq::parse)
            .map_or(0, |c| c.seq);
        format!(
            "rfc2543:{}:{}:{}:{}",
            msg.header("Call-ID").unwrap_or_default(),
            msg.header("From").and_then(tag_of).unwrap_or_default(),
            cseq,
            via.branch().unwrap_or_default()
        )
    };
    ServerKey {
        branch,
        sent_by: via.sent_by(),
        method,
    }
}

/// A From/To value without its tag parameter.
pub(super) fn strip_tag(value: &str) -> String {
    let head_end = value.rfind('>').map_or(0, |i| i + 1);
    let (head, params) = value.split_at(head_end);
    let kept: Vec<&str> = params
        .split(';')
        .filter(|p| !p.is_empty() && !p.trim().to_ascii_lowercase().starts_with("tag="))
        .collect();
    if head.is_empty() {
        // addr-spec form: the first part is the URI itself.
        let mut parts = value.split(';');
        let uri = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts
            .filter(|p| !p.trim().to_ascii_lowercase().starts_with("tag="))
            .collect();
        return std::iter::once(uri)
            .chain(rest)
            .collect::<Vec<_>>()
            .join(";");
    }
    std::iter::once(head)
        .chain(kept)
        .collect::<Vec<_>>()
        .join(";")
}
