//! Outgoing requests and their responses: the UAC core (§8.1, §13.2), client transaction
//! matching (§17.1.3), the 2xx ACK (§13.2.2.4), CANCEL (§9.1), BYE (§15.1.1).

use std::time::Instant;

use mrcp_proto::sip::Message;

use super::{
    Call, CallHandle, ClientKey, ClientMachine, ClientRequestId, ClientTx, EndReason, Endpoint,
    Event, Invite, OutOfDialogRequest, Purpose, Role, TimerRef,
    build::{ALLOW, SUPPORTED, ack_for_non2xx, cancel_for, contact_of},
    uas::strip_tag,
};
use crate::{
    Error,
    header::{CSeq, Via, split_list, tag_of, uri_of},
    transaction::{ClientInvite, ClientInviteState, ClientNonInvite, ResponseAction},
    transport::Peer,
};

impl Endpoint {
    /// UAC: sends an INVITE and returns the call it starts. Responses come as
    /// [`Event::Provisional`], then [`Event::Answered`] (ACK already sent) or
    /// [`Event::Rejected`] / [`Event::Terminated`].
    pub fn invite(&mut self, now: Instant, invite: Invite) -> Result<CallHandle, Error> {
        let local = self.local_for(invite.peer.transport, invite.peer.addr)?;
        let (via, branch) = self.via_for(&local);
        let call_id = format!("{}@open-mrcp", self.random_token(24));
        let local_tag = self.random_token(12);
        let host =
            crate::header::format_host_port(&local.addr.ip().to_string(), Some(local.addr.port()));
        let from_uri = format!(
            "<{}>",
            invite.from.clone().unwrap_or_else(|| format!("sip:{host}"))
        );
        let to_uri = format!(
            "<{}>",
            invite.to.clone().unwrap_or_else(|| invite.uri.clone())
        );
        let seq = self.rng_seq();
        let mut msg = Message::request("INVITE", &invite.uri);
        msg.push_header("Via", via);
        msg.push_header("Max-Forwards", "70");
        msg.push_header("From", format!("{from_uri};tag={local_tag}"));
        msg.push_header("To", to_uri.clone());
        msg.push_header("Call-ID", call_id.clone());
        msg.push_header("CSeq", format!("{seq} INVITE"));
        msg.push_header("Contact", contact_of(&local));
        msg.push_header("User-Agent", self.cfg.user_agent.clone());
        msg.push_header("Allow", ALLOW);
        msg.push_header("Supported", SUPPORTED);
        for (name, value) in &invite.headers {
            msg.push_header(name, value.clone());
        }
        if let Some(body) = &invite.body {
            msg.push_header("Content-Type", body.content_type.clone());
            msg.body = body.bytes.clone();
        }
        let handle = CallHandle(self.next_id());
        let key = ClientKey {
            branch,
            method: "INVITE".to_owned(),
        };
        self.calls.insert(
            handle,
            Call {
                role: Role::Uac,
                call_id,
                local_tag,
                remote_tag: None,
                local_uri: from_uri,
                remote_uri: to_uri,
                local_seq: seq,
                remote_seq: None,
                route_set: Vec::new(),
                remote_target: invite.uri.clone(),
                peer: invite.peer,
                confirmed: false,
                invite_tx: None,
                pending_2xx: None,
                invite_client: Some(key.clone()),
                cancel_pending: false,
                ack: None,
                incoming_reinvite: false,
                outgoing_reinvite: false,
                session_expires: None,
                cancelled: false,
                not_answered: false,
                offer: invite.body.clone(),
                refresh_at: None,
            },
        );
        self.start_client(now, key, msg, invite.peer, Some(handle), Purpose::Invite);
        Ok(handle)
    }

    /// UAC: cancels the INVITE of `call` (§9.1). Sent at once after a provisional response, or as
    /// soon as one arrives; ignored once a final response arrived.
    pub fn cancel(&mut self, now: Instant, call: CallHandle) -> Result<(), Error> {
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(Error::UnknownCall { call })?;
        let Some(key) = c.invite_client.clone() else {
            return Err(Error::InvalidState {
                call,
                what: "cancel",
            });
        };
        let state = match self.client.get(&key).map(|t| &t.machine) {
            Some(ClientMachine::Invite(m)) => m.state(),
            _ => {
                return Err(Error::InvalidState {
                    call,
                    what: "cancel",
                });
            }
        };
        match state {
            ClientInviteState::Calling => {
                c.cancel_pending = true;
                Ok(())
            }
            ClientInviteState::Proceeding => {
                self.send_cancel(now, &key, call);
                Ok(())
            }
            _ => Err(Error::InvalidState {
                call,
                what: "cancel",
            }),
        }
    }

    fn send_cancel(&mut self, now: Instant, invite_key: &ClientKey, call: CallHandle) {
        let Some(tx) = self.client.get(invite_key) else {
            return;
        };
        let cancel = cancel_for(&tx.request);
        let peer = tx.peer;
        let key = ClientKey {
            branch: invite_key.branch.clone(),
            method: "CANCEL".to_owned(),
        };
        self.start_client(now, key, cancel, peer, Some(call), Purpose::Cancel);
    }

    /// Sends BYE for `call` (§15.1.1), from either side. The call ends with
    /// [`Event::Terminated`] (`LocalBye`) when the BYE completes.
    pub fn bye(&mut self, now: Instant, call: CallHandle) -> Result<(), Error> {
        self.send_bye(now, call)
    }

    pub(super) fn send_bye(&mut self, now: Instant, handle: CallHandle) -> Result<(), Error> {
        let mut call = self
            .calls
            .remove(&handle)
            .ok_or(Error::UnknownCall { call: handle })?;
        call.pending_2xx = None;
        let built = if call.remote_tag.is_some() {
            self.in_dialog_request(&mut call, "BYE")
        } else {
            Err(Error::InvalidState {
                call: handle,
                what: "bye before dialog",
            })
        };
        self.calls.insert(handle, call);
        let (msg, peer) = built?;
        let key = client_key(&msg).ok_or(Error::InvalidState {
            call: handle,
            what: "bye",
        })?;
        self.start_client(now, key, msg, peer, Some(handle), Purpose::Bye);
        Ok(())
    }

    /// Sends a re-INVITE in `call` with `body` as the new offer (§14.1). Its final response comes
    /// as [`Event::ReInviteResponse`]; a 491 means glare, retry later.
    pub fn reinvite(
        &mut self,
        now: Instant,
        handle: CallHandle,
        body: Option<super::Body>,
    ) -> Result<(), Error> {
        let mut call = self
            .calls
            .remove(&handle)
            .ok_or(Error::UnknownCall { call: handle })?;
        if call.outgoing_reinvite || call.incoming_reinvite || call.remote_tag.is_none() {
            self.calls.insert(handle, call);
            return Err(Error::InvalidState {
                call: handle,
                what: "reinvite",
            });
        }
        let built = self.in_dialog_request(&mut call, "INVITE");
        call.outgoing_reinvite = built.is_ok();
        self.calls.insert(handle, call);
        let (mut msg, peer) = built?;
        msg.push_header("Allow", ALLOW);
        msg.push_header("Supported", SUPPORTED);
        if let Some(body) = body {
            if let Some(c) = self.calls.get_mut(&handle) {
                c.offer = Some(body.clone());
            }
            msg.push_header("Content-Type", body.content_type);
            msg.body = body.bytes;
        }
        let key = client_key(&msg).ok_or(Error::InvalidState {
            call: handle,
            what: "reinvite",
        })?;
        self.start_client(now, key, msg, peer, Some(handle), Purpose::ReInvite);
        Ok(())
    }

    /// Sends an out-of-dialog non-INVITE request (an OPTIONS ping). Its final response comes as
    /// [`Event::RequestResponse`], or [`Event::RequestTimeout`] after Timer F.
    pub fn request(
        &mut self,
        now: Instant,
        request: OutOfDialogRequest,
    ) -> Result<ClientRequestId, Error> {
        let local = self.local_for(request.peer.transport, request.peer.addr)?;
        let (via, branch) = self.via_for(&local);
        let host =
            crate::header::format_host_port(&local.addr.ip().to_string(), Some(local.addr.port()));
        let mut msg = Message::request(&request.method, &request.uri);
        msg.push_header("Via", via);
        msg.push_header("Max-Forwards", "70");
        let tag = self.random_token(12);
        msg.push_header("From", format!("<sip:{host}>;tag={tag}"));
        msg.push_header("To", format!("<{}>", request.uri));
        msg.push_header("Call-ID", format!("{}@open-mrcp", self.random_token(24)));
        msg.push_header("CSeq", format!("1 {}", request.method));
        msg.push_header("User-Agent", self.cfg.user_agent.clone());
        for (name, value) in &request.headers {
            msg.push_header(name, value.clone());
        }
        let id = ClientRequestId(self.next_id());
        let key = ClientKey {
            branch,
            method: request.method.clone(),
        };
        self.start_client(now, key, msg, request.peer, None, Purpose::Request(id));
        Ok(id)
    }

    fn start_client(
        &mut self,
        now: Instant,
        key: ClientKey,
        msg: Message,
        peer: Peer,
        call: Option<CallHandle>,
        purpose: Purpose,
    ) {
        let bytes = msg.to_bytes();
        let reliable = peer.transport.is_reliable();
        let machine = if key.method == "INVITE" {
            ClientMachine::Invite(ClientInvite::new(
                now,
                bytes.clone(),
                reliable,
                self.cfg.timers,
            ))
        } else {
            ClientMachine::NonInvite(ClientNonInvite::new(
                now,
                bytes.clone(),
                reliable,
                self.cfg.timers,
            ))
        };
        let at = match &machine {
            ClientMachine::Invite(m) => m.poll_timeout(),
            ClientMachine::NonInvite(m) => m.poll_timeout(),
        };
        self.client.insert(
            key.clone(),
            ClientTx {
                machine,
                request: msg,
                peer,
                call,
                purpose,
            },
        );
        self.schedule(at, TimerRef::Client(key));
        self.transmit(peer, bytes);
    }

    pub(super) fn handle_response(&mut self, now: Instant, msg: Message, peer: Peer) {
        let Some(code) = msg.status() else { return };
        let Some(key) = client_key(&msg) else {
            tracing::debug!(peer = %peer.addr, "dropping response without via branch or cseq");
            return;
        };
        let Some(tx) = self.client.get_mut(&key) else {
            // A 2xx retransmitted after the INVITE transaction ended: ACK it again (§13.2.2.4).
            if key.method == "INVITE" && (200..300).contains(&code) {
                self.reack(&msg);
            }
            return;
        };
        if peer.connection.is_some() {
            tx.peer.connection = peer.connection;
        }
        let action = match &mut tx.machine {
            ClientMachine::Invite(m) => m.on_response(now, code),
            ClientMachine::NonInvite(m) => m.on_response(now, code),
        };
        let at = match &tx.machine {
            ClientMachine::Invite(m) => m.poll_timeout(),
            ClientMachine::NonInvite(m) => m.poll_timeout(),
        };
        let (call, purpose, tx_peer) = (tx.call, tx.purpose, tx.peer);
        self.schedule(at, TimerRef::Client(key.clone()));
        match action {
            ResponseAction::Absorb => {}
            ResponseAction::ResendAck(bytes) => self.transmit(tx_peer, bytes),
            ResponseAction::PassUpAndAck => {
                let ack = self
                    .client
                    .get(&key)
                    .map(|t| ack_for_non2xx(&t.request, &msg).to_bytes());
                if let (
                    Some(ack),
                    Some(ClientTx {
                        machine: ClientMachine::Invite(m),
                        ..
                    }),
                ) = (ack.clone(), self.client.get_mut(&key))
                {
                    m.set_ack(ack);
                }
                if let Some(ack) = ack {
                    self.transmit(tx_peer, ack);
                }
                self.pass_up(now, call, purpose, msg);
            }
            ResponseAction::PassUp => self.pass_up(now, call, purpose, msg),
        }
    }

    fn pass_up(&mut self, now: Instant, call: Option<CallHandle>, purpose: Purpose, msg: Message) {
        let code = msg.status().unwrap_or_default();
        match (purpose, call) {
            (Purpose::Request(id), _) if code >= 200 => {
                self.event(Event::RequestResponse { id, response: msg })
            }
            (Purpose::Invite, Some(handle)) => self.invite_response(now, handle, msg, code),
            (Purpose::ReInvite, Some(handle)) if code >= 200 => {
                if let Some(c) = self.calls.get_mut(&handle) {
                    c.outgoing_reinvite = false;
                }
                if (200..300).contains(&code) {
                    self.send_2xx_ack(handle, &msg);
                    self.schedule_refresh(now, handle, &msg);
                }
                self.event(Event::ReInviteResponse {
                    call: handle,
                    response: msg,
                });
            }
            (Purpose::Bye, Some(handle)) if code >= 200 => {
                self.end_call(handle, EndReason::LocalBye)
            }
            _ => {}
        }
    }

    fn invite_response(&mut self, now: Instant, handle: CallHandle, msg: Message, code: u16) {
        let Some(call) = self.calls.get_mut(&handle) else {
            // The call was cancelled or ended locally; still ACK a 2xx and hang it up (§15).
            return;
        };
        match code {
            100..=199 => {
                if call.cancel_pending {
                    call.cancel_pending = false;
                    if let Some(key) = call.invite_client.clone() {
                        self.send_cancel(now, &key, handle);
                    }
                }
                if code > 100 {
                    self.event(Event::Provisional {
                        call: handle,
                        response: msg,
                    });
                }
            }
            200..=299 => {
                if call.confirmed {
                    // Retransmitted 2xx: the ACK again.
                    if let Some((ack, peer)) = call.ack.clone() {
                        self.transmit(peer, ack);
                    }
                    return;
                }
                call.confirmed = true;
                call.remote_tag = msg.header("To").and_then(tag_of).map(str::to_owned);
                // §12.1.2: route set is the Record-Route of the 2xx in reverse order.
                let mut routes: Vec<String> = msg
                    .headers_named("Record-Route")
                    .flat_map(split_list)
                    .map(str::to_owned)
                    .collect();
                routes.reverse();
                call.route_set = routes;
                if let Some(contact) = msg.header("Contact") {
                    call.remote_target = uri_of(contact).to_owned();
                }
                call.remote_uri = strip_tag(msg.header("To").unwrap_or_default());
                if let Some(remote) = call.remote_tag.clone() {
                    self.dialogs.insert(
                        (call.call_id.clone(), call.local_tag.clone(), remote),
                        handle,
                    );
                }
                let cancelled = call.cancel_pending;
                self.send_2xx_ack(handle, &msg);
                self.schedule_refresh(now, handle, &msg);
                self.event(Event::Answered {
                    call: handle,
                    response: msg,
                });
                if cancelled {
                    // §9.1: a CANCEL that lost the race to a 2xx; hang up.
                    let _ = self.send_bye(now, handle);
                }
            }
            _ => {
                self.event(Event::Rejected {
                    call: handle,
                    response: msg,
                });
                self.end_call(handle, EndReason::Rejected);
            }
        }
    }

    /// The ACK of a 2xx (§13.2.2.4): a new transaction-less request in the dialog, same CSeq number.
    fn send_2xx_ack(&mut self, handle: CallHandle, response: &Message) {
        let Some(mut call) = self.calls.remove(&handle) else {
            return;
        };
        let seq = response
            .header("CSeq")
            .and_then(CSeq::parse)
            .map_or(call.local_seq, |c| c.seq);
        let saved = call.local_seq;
        call.local_seq = seq;
        let built = self.in_dialog_request(&mut call, "ACK");
        call.local_seq = saved;
        if let Ok((msg, peer)) = built {
            let bytes = msg.to_bytes();
            call.ack = Some((bytes.clone(), peer));
            self.transmit(peer, bytes);
        }
        self.calls.insert(handle, call);
    }

    fn reack(&mut self, response: &Message) {
        let Some(handle) = self.dialog_of(response) else {
            return;
        };
        if let Some((ack, peer)) = self.calls.get(&handle).and_then(|c| c.ack.clone()) {
            self.transmit(peer, ack);
        }
    }
}

/// The client transaction key of a response or of a request we built (§17.1.3).
fn client_key(msg: &Message) -> Option<ClientKey> {
    let via = msg.header("Via").and_then(Via::parse)?;
    let cseq = msg.header("CSeq").and_then(CSeq::parse)?;
    Some(ClientKey {
        branch: via.branch()?.to_owned(),
        method: cseq.method,
    })
}
