//! The example UAS: answers every INVITE with 100 and a 200 carrying an MRCPv2 SDP answer
//! (RFC 6787 §4.2), answers OPTIONS (by the endpoint), and logs ACK, BYE, CANCEL and re-INVITE.
//! Shared by `examples/uas/main.rs` and the SIPp integration tests.

use mrcp_sip::{
    Event, Response,
    driver::{SipDriver, SipHandle},
};

/// How the example UAS answers INVITEs.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Final status for INVITEs (200 answers with SDP; anything else rejects).
    pub invite_status: u16,
    /// When false, INVITEs are left unanswered (to test CANCEL).
    pub answer: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            invite_status: 200,
            answer: true,
        }
    }
}

/// Counters of what the UAS saw, returned when the event stream ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// INVITEs.
    pub invites: u32,
    /// ACKs of 2xx.
    pub acks: u32,
    /// Calls ended by the peer's BYE.
    pub byes: u32,
    /// Calls cancelled.
    pub cancels: u32,
    /// re-INVITEs.
    pub reinvites: u32,
    /// Calls that ended for another reason (ACK timeout, not answered, ...).
    pub other_ends: u32,
}

/// An MRCPv2 answer to `offer` (resource copied from `a=resource`).
pub fn sdp_answer(offer: &[u8], ip: std::net::IpAddr, channel: u64) -> String {
    let offer = String::from_utf8_lossy(offer);
    let resource = offer
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=resource:").map(str::to_owned))
        .unwrap_or_else(|| "speechsynth".to_owned());
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=open-mrcp 1 1 IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
m=application 1544 TCP/MRCPv2 1\r\na=setup:passive\r\na=connection:new\r\n\
a=channel:{channel:016x}@{resource}\r\na=cmid:1\r\nm=audio 5000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\na=sendonly\r\na=mid:1\r\n"
    )
}

/// Runs the UAS until the driver stops; returns what it saw.
pub async fn serve(mut driver: SipDriver, behaviour: Behaviour) -> Seen {
    let handle: SipHandle = driver.handle.clone();
    let ip = handle
        .local_addrs()
        .first()
        .map_or(std::net::Ipv4Addr::LOCALHOST.into(), |l| l.addr.ip());
    let mut seen = Seen::default();
    while let Some(event) = driver.events.recv().await {
        match event {
            Event::IncomingInvite {
                call, tx, request, ..
            } => {
                seen.invites += 1;
                if !behaviour.answer {
                    continue;
                }
                let response = if behaviour.invite_status == 200 {
                    Response::ok_with_sdp(sdp_answer(&request.body, ip, call.0))
                } else {
                    Response::status(behaviour.invite_status)
                };
                if let Err(e) = handle.respond(tx, response).await {
                    tracing::warn!(error = %e, "answering invite failed");
                }
            }
            Event::ReInvite { call, tx, request } => {
                seen.reinvites += 1;
                let _ = handle
                    .respond(
                        tx,
                        Response::ok_with_sdp(sdp_answer(&request.body, ip, call.0)),
                    )
                    .await;
            }
            Event::Options { tx, .. } => {
                let _ = handle.respond(tx, Response::status(200)).await;
            }
            Event::Ack { .. } => seen.acks += 1,
            Event::Terminated { reason, .. } => match reason {
                mrcp_sip::EndReason::RemoteBye => seen.byes += 1,
                mrcp_sip::EndReason::Cancelled => seen.cancels += 1,
                _ => seen.other_ends += 1,
            },
            other => tracing::debug!(?other, "event"),
        }
    }
    seen
}
