//! Building requests and responses (RFC 3261 §8.1.1, §8.2.6, §9.1, §12.2.1.1, §17.1.1.3).

use mrcp_proto::sip::{Message, ParseError, RawHeaders};

use super::{Call, Endpoint, LocalAddr, Response};
use crate::{
    header::{CSeq, SipUri, Via, format_host_port, tag_of, uri_of},
    transport::{Peer, Transport, received_via, response_peer},
};

/// Methods this endpoint accepts (`Allow`, §20.5).
pub(crate) const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO";
/// Extensions this endpoint supports (`Supported`, §20.37): session timers only; never 100rel.
pub(crate) const SUPPORTED: &str = "timer";

/// The default reason phrase of a status code (§21).
pub fn default_reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => match code / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// A response to `request` with the headers §8.2.6.2 copies, and `To` tagged with `to_tag` unless
/// the request already had one or the response is `100`.
pub(crate) fn response_to(
    request: &Message,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
) -> Message {
    let mut msg = Message::response(code, reason);
    for (name, value) in &request.headers {
        let copy = ["Via", "From", "Call-ID", "CSeq"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n));
        if copy {
            msg.push_header(name, value.clone());
        } else if name.eq_ignore_ascii_case("To") {
            match to_tag {
                Some(tag) if code > 100 && tag_of(value).is_none() => {
                    msg.push_header("To", format!("{value};tag={tag}"))
                }
                _ => msg.push_header("To", value.clone()),
            }
        }
    }
    msg
}

/// The ACK for a non-2xx final response (§17.1.1.3): same Request-URI, Call-ID, From, CSeq number
/// and top Via as the INVITE, To from the response, Route from the INVITE.
pub(crate) fn ack_for_non2xx(invite: &Message, response: &Message) -> Message {
    let uri = match &invite.start {
        mrcp_proto::sip::StartLine::Request { uri, .. } => uri.clone(),
        mrcp_proto::sip::StartLine::Response { .. } => String::new(),
    };
    let mut ack = Message::request("ACK", &uri);
    if let Some(via) = invite.header("Via") {
        ack.push_header("Via", via);
    }
    ack.push_header("Max-Forwards", "70");
    copy(invite, &mut ack, "From");
    copy(response, &mut ack, "To");
    copy(invite, &mut ack, "Call-ID");
    let seq = invite
        .header("CSeq")
        .and_then(CSeq::parse)
        .map_or(1, |c| c.seq);
    ack.push_header("CSeq", format!("{seq} ACK"));
    for route in invite.headers_named("Route") {
        ack.push_header("Route", route);
    }
    ack
}

/// The CANCEL of an INVITE (§9.1): same Request-URI, top Via, From, To, Call-ID, CSeq number and
/// Route.
pub(crate) fn cancel_for(invite: &Message) -> Message {
    let mut cancel = ack_for_non2xx(invite, invite);
    cancel.start = match &invite.start {
        mrcp_proto::sip::StartLine::Request { uri, .. } => mrcp_proto::sip::StartLine::Request {
            method: "CANCEL".to_owned(),
            uri: uri.clone(),
        },
        other => other.clone(),
    };
    let seq = invite
        .header("CSeq")
        .and_then(CSeq::parse)
        .map_or(1, |c| c.seq);
    cancel.set_header("CSeq", format!("{seq} CANCEL"));
    cancel
}

fn copy(from: &Message, to: &mut Message, name: &str) {
    if let Some(v) = from.header(name) {
        to.push_header(name, v);
    }
}

/// `<sip:host:port;transport=tcp>` for a local address; `<sips:host:port>` over TLS (RFC 5630 §3.1.2:
/// a request over TLS carries a SIPS Contact, §8.1.1.8 when its Request-URI is SIPS).
pub(crate) fn contact_of(local: &LocalAddr) -> String {
    let hostport = format_host_port(&local.addr.ip().to_string(), Some(local.addr.port()));
    match local.transport {
        Transport::Udp => format!("<sip:{hostport}>"),
        Transport::Tls => format!("<sips:{hostport}>"),
        t => format!("<sip:{hostport};transport={}>", t.param()),
    }
}

impl Endpoint {
    /// A `Via` for a request we send from `local`.
    pub(super) fn via_for(&mut self, local: &LocalAddr) -> (String, String) {
        let branch = self.new_branch();
        let via = Via {
            transport: local.transport,
            host: local.addr.ip().to_string(),
            port: Some(local.addr.port()),
            params: vec![
                ("rport".to_owned(), None),
                ("branch".to_owned(), Some(branch.clone())),
            ],
        };
        (via.to_string(), branch)
    }

    /// Turns an application [`Response`] into a message for `request`.
    pub(super) fn build_response(
        &self,
        request: &Message,
        response: &Response,
        to_tag: Option<&str>,
        contact: Option<String>,
    ) -> Message {
        let reason = response
            .reason
            .as_deref()
            .unwrap_or_else(|| default_reason(response.code));
        let mut msg = response_to(request, response.code, reason, to_tag);
        let is_invite = request.method() == Some("INVITE");
        if is_invite && (101..300).contains(&response.code) {
            // §12.1.1: dialog-creating responses copy Record-Route and carry a Contact.
            for rr in request.headers_named("Record-Route") {
                msg.push_header("Record-Route", rr);
            }
            if let Some(contact) = contact {
                msg.push_header("Contact", contact);
            }
        }
        msg.push_header("Server", self.cfg.user_agent.clone());
        if matches!(request.method(), Some("INVITE" | "OPTIONS")) && response.code >= 200 {
            msg.push_header("Allow", ALLOW);
            msg.push_header("Supported", SUPPORTED);
        }
        for (name, value) in &response.headers {
            msg.push_header(name, value.clone());
        }
        if let Some(body) = &response.body {
            msg.push_header("Content-Type", body.content_type.clone());
            if body.content_type.eq_ignore_ascii_case("application/sdp") {
                msg.push_header("Content-Disposition", "session");
            }
            msg.body = body.bytes.clone();
        }
        msg
    }

    /// A request inside `call` (§12.2.1.1) and the peer of its next hop.
    pub(super) fn in_dialog_request(
        &mut self,
        call: &mut Call,
        method: &str,
    ) -> Result<(Message, Peer), crate::Error> {
        let first = call.route_set.first().map(|r| uri_of(r).to_owned());
        let strict = first
            .as_deref()
            .and_then(SipUri::parse)
            .is_some_and(|u| !u.lr);
        let (uri, routes): (String, Vec<String>) = match (&first, strict) {
            (Some(first), true) => {
                let mut rest: Vec<String> = call.route_set.iter().skip(1).cloned().collect();
                rest.push(format!("<{}>", call.remote_target));
                (first.clone(), rest)
            }
            _ => (call.remote_target.clone(), call.route_set.clone()),
        };
        let next_hop = first.unwrap_or_else(|| call.remote_target.clone());
        let peer = self.next_hop_peer(&next_hop, &call.peer);
        let local = self.local_for(peer.transport, peer.addr)?;
        let (via, _) = self.via_for(&local);
        let mut msg = Message::request(method, &uri);
        msg.push_header("Via", via);
        msg.push_header("Max-Forwards", "70");
        let (from, to) = match call.role {
            super::Role::Uac | super::Role::Uas => (
                format!("{};tag={}", call.local_uri, call.local_tag),
                match &call.remote_tag {
                    Some(tag) => format!("{};tag={tag}", call.remote_uri),
                    None => call.remote_uri.clone(),
                },
            ),
        };
        msg.push_header("From", from);
        msg.push_header("To", to);
        msg.push_header("Call-ID", call.call_id.clone());
        if method != "ACK" {
            call.local_seq = call.local_seq.saturating_add(1);
        }
        msg.push_header("CSeq", format!("{} {method}", call.local_seq));
        for route in routes {
            msg.push_header("Route", route);
        }
        if method == "INVITE" {
            msg.push_header("Contact", contact_of(&local));
        }
        msg.push_header("User-Agent", self.cfg.user_agent.clone());
        Ok((msg, peer))
    }

    /// Where a request whose next hop is `uri` goes; falls back to `fallback` (the peer the dialog
    /// was set up with) when the host is not an IP literal, since the core does no DNS.
    pub(super) fn next_hop_peer(&self, uri: &str, fallback: &Peer) -> Peer {
        let parsed = SipUri::parse(uri);
        // A `sips:` URI without a transport parameter is reached over TLS (RFC 5630 §3.1.3).
        let transport = parsed
            .as_ref()
            .and_then(|u| u.transport.or(u.secure.then_some(Transport::Tls)))
            .unwrap_or(fallback.transport);
        // A stream connection to the previous hop of the dialog stays the way to reach it
        // (connection reuse, as Sofia-SIP and Kamailio do), whatever port its URI names.
        if transport.is_reliable()
            && transport == fallback.transport
            && fallback.connection.is_some()
        {
            return *fallback;
        }
        match parsed.and_then(|u| u.socket_addr()) {
            Some(addr) => Peer {
                transport,
                addr,
                connection: (addr == fallback.addr && transport == fallback.transport)
                    .then_some(fallback.connection)
                    .flatten(),
            },
            None => *fallback,
        }
    }

    /// Answers a message that failed to parse with `400` when a response is possible (a request
    /// with the headers a response needs), otherwise drops it with a log line (§21.4.1).
    pub(super) fn reject_malformed(&mut self, bytes: &[u8], err: &ParseError, peer: Peer) {
        let raw = RawHeaders::scan(bytes, &self.cfg.limits).ok().or_else(|| {
            // A malformed request line: the headers may still allow a 400 (§21.4.1).
            if !matches!(err, ParseError::BadStartLine) || bytes.starts_with(b"SIP/") {
                return None;
            }
            let end = bytes.windows(2).position(|w| w == b"\r\n")?;
            let mut fixed = b"INVALID sip:invalid SIP/2.0".to_vec();
            fixed.extend_from_slice(bytes.get(end..)?);
            RawHeaders::scan(&fixed, &self.cfg.limits).ok()
        });
        let answerable = raw.as_ref().filter(|r| {
            r.is_request()
                && r.method() != Some("ACK")
                && ["Via", "From", "To", "Call-ID", "CSeq"]
                    .iter()
                    .all(|h| r.get(h).is_some())
        });
        let Some(raw) = answerable else {
            tracing::warn!(peer = %peer.addr, error = %err, "dropping malformed sip message");
            return;
        };
        let Some(mut via) = raw.get("Via").and_then(Via::parse) else {
            tracing::warn!(peer = %peer.addr, error = %err, "dropping malformed sip message with bad via");
            return;
        };
        received_via(&mut via, peer.addr);
        let mut msg = Message::response(400, err.reason());
        let mut first_via = true;
        for (name, value) in &raw.headers {
            if name.eq_ignore_ascii_case("Via") {
                msg.push_header(
                    "Via",
                    if first_via {
                        via.to_string()
                    } else {
                        value.clone()
                    },
                );
                first_via = false;
            } else if ["From", "To", "Call-ID", "CSeq"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
            {
                msg.push_header(name, value.clone());
            }
        }
        msg.push_header("Server", self.cfg.user_agent.clone());
        tracing::warn!(peer = %peer.addr, error = %err, "answering malformed sip request with 400");
        let dest = response_peer(&via, &peer);
        self.transmit(dest, msg.to_bytes());
    }

    /// Sends a stateless response (no transaction) to `request`.
    pub(super) fn respond_stateless(
        &mut self,
        request: &Message,
        peer: Peer,
        code: u16,
        extra: &[(&str, &str)],
    ) {
        let mut msg = response_to(request, code, default_reason(code), None);
        for (name, value) in extra {
            msg.push_header(name, *value);
        }
        msg.push_header("Server", self.cfg.user_agent.clone());
        self.transmit(peer, msg.to_bytes());
    }
}
