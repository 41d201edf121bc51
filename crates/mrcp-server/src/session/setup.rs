//! Session set-up: the INVITE's SDP offer becomes channels, an RTP endpoint and the SDP answer
//! (RFC 6787 §4.2, `shared/reference/freeswitch-unimrcp-client.md` §5.4 for what clients expect of it).

use std::sync::Arc;

use mrcp_media::codec::Codec as MediaCodec;
use mrcp_media::endpoint::{EndpointConfig, RtpEndpoint};
use mrcp_proto::mrcp::{ChannelId, ResourceType};
use mrcp_proto::rtp::PayloadType;
use mrcp_proto::sdp::{
    AnswerBuilder, AnswerConfig, AudioPlan, ControlTransport, MrcpSdp, SdpError,
};
use mrcp_sip::{CallHandle, Response, ServerTxId};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use super::Session;
use super::recog::CallInfo;
use crate::control::CONTROL_CAPACITY;
use crate::metrics::{self, SessionOutcome};
use crate::server::Shared;

/// Resources this server runs today; offers for others get their m-line refused (port 0).
const SERVED: [ResourceType; 3] = [
    ResourceType::Speechrecog,
    ResourceType::Speechsynth,
    ResourceType::Recorder,
];

/// Answers the INVITE and returns the running session, or answers with an error and returns `None`.
pub(super) async fn establish(
    shared: Arc<Shared>,
    call: CallHandle,
    tx: ServerTxId,
    invite: &mrcp_sip::Message,
) -> Option<Session> {
    match try_establish(&shared, call, invite).await {
        Ok((session, answer)) => {
            if let Err(error) = shared.sip.respond(tx, Response::ok_with_sdp(answer)).await {
                warn!(%error, "cannot send the 200 OK");
                metrics::session_outcome(SessionOutcome::SetupFailed);
                session.abandon();
                return None;
            }
            Some(session)
        }
        Err(failure) => {
            warn!(code = failure.code, reason = %failure.reason, "INVITE refused");
            metrics::invite_rejected(failure.code);
            metrics::session_outcome(SessionOutcome::SetupFailed);
            let mut response = Response::status(failure.code);
            response.headers.push((
                "Warning".to_owned(),
                format!("399 open-mrcp \"{}\"", failure.reason),
            ));
            let _ = shared.sip.respond(tx, response).await;
            shared.session_ended();
            None
        }
    }
}

/// Why an INVITE could not be served, as a SIP status and a reason for the Warning header.
struct Failure {
    code: u16,
    reason: String,
}

impl From<SdpError> for Failure {
    fn from(e: SdpError) -> Self {
        // RFC 3261 §21.4.26: the offer cannot be served.
        Failure {
            code: 488,
            reason: e.to_string().replace('"', "'"),
        }
    }
}

async fn try_establish(
    shared: &Arc<Shared>,
    call: CallHandle,
    invite: &mrcp_sip::Message,
) -> Result<(Session, bytes::Bytes), Failure> {
    let text = std::str::from_utf8(&invite.body).map_err(|_| Failure {
        code: 400,
        reason: "SDP body is not UTF-8".to_owned(),
    })?;
    if text.trim().is_empty() {
        // RFC 6787 §4.2: the INVITE carries the offer; we do not make offers in 200 OK.
        return Err(Failure {
            code: 488,
            reason: "INVITE without an SDP offer".to_owned(),
        });
    }
    let offer = MrcpSdp::parse(text)?;
    let session_id = shared.new_session_id();
    let mut answer = AnswerBuilder::new(&offer, answer_config(shared, session_id.1, session_id.1))?;

    // One channel per resource this server runs; the session's one audio line is the first the offer
    // pairs with them (FreeSWITCH and Asterisk open one dialog per resource, so there is one of each).
    let requests = answer.channels();
    let first = requests.first().ok_or_else(|| Failure {
        code: 488,
        reason: "no MRCP channel in the offer".to_owned(),
    })?;
    let plan = answer
        .audio()
        .into_iter()
        .find(|a| first.audio_index.is_none_or(|i| i == a.index))
        .ok_or_else(|| Failure {
            code: 488,
            reason: "no audio line in the offer".to_owned(),
        })?;
    let mut channels: Vec<ChannelId> = Vec::new();
    let mut tls_only = false;
    for request in &requests {
        let shares_audio = request.audio_index.is_none_or(|i| i == plan.index);
        let duplicate = channels.iter().any(|c| c.resource() == request.resource);
        if !shares_audio || duplicate {
            answer.reject(request.index);
            continue;
        }
        let id = ChannelId::new(session_id.0.clone(), request.resource).map_err(|e| Failure {
            code: 500,
            reason: e.to_string(),
        })?;
        answer.accept_control(request.index, id.clone(), None)?;
        tls_only |= request.transport == ControlTransport::Tls;
        channels.push(id);
    }
    let (rtp, codec) = bind_rtp(shared, &plan).await?;
    answer.accept_audio(plan.index, rtp.local_rtp.port())?;
    let body = bytes::Bytes::from(answer.build().to_string());

    let (control_tx, control_rx) = mpsc::channel(CONTROL_CAPACITY);
    shared
        .registry
        .insert(&session_id.0, control_tx)
        .map_err(|e| Failure {
            code: 500,
            reason: e.to_string(),
        })?;
    let call_info = CallInfo {
        request_uri_user: request_uri_user(invite),
        user_agent: invite.header("User-Agent").map(str::to_owned),
    };
    info!(session_id = %session_id.0, codec = ?codec, remote = %plan.remote, "session established");
    let session = Session {
        shared: shared.clone(),
        call,
        session_id: session_id.0,
        answer: body.clone(),
        sdp_id: session_id.1,
        sdp_version: session_id.1,
        clock_rate: codec.clock_rate(),
        codec_rate: codec.sample_rate(),
        call_info,
        recog: None,
        synth: None,
        recorder: None,
        rtp: Some(rtp),
        control: control_rx,
        connection: None,
        last_activity: Instant::now(),
        tls_only,
    };
    let mut session = session;
    for id in channels {
        session.open_channel(id).map_err(|e| Failure {
            code: 500,
            reason: e.to_string(),
        })?;
    }
    Ok((session, body))
}

/// What every answer of this server carries; `version` grows with each new answer in the dialog.
pub(super) fn answer_config(shared: &Shared, sdp_id: u64, version: u64) -> AnswerConfig {
    let mut config = AnswerConfig::new(shared.advertise, sdp_id);
    config.session_version = version;
    config.mrcp_port = shared.mrcp_port;
    if let Some((port, fingerprint)) = &shared.mrcp_tls {
        // RFC 6787 §4.2: a `TCP/TLS/MRCPv2` offer is answered with the TLS listener and our fingerprint.
        config.tls = true;
        config.mrcp_tls_port = Some(*port);
        config.fingerprint = Some(fingerprint.clone());
    }
    config.resources = SERVED.to_vec();
    config.ptime = Some(shared.config.rtp.ptime_ms);
    config
}

/// Binds the RTP endpoint for the chosen codec of an audio line.
async fn bind_rtp(shared: &Shared, plan: &AudioPlan) -> Result<(RtpEndpoint, MediaCodec), Failure> {
    let unsupported = || Failure {
        code: 488,
        reason: format!("codec {} is not supported", plan.codec.encoding_name),
    };
    let codec = MediaCodec::from_rtpmap(
        &plan.codec.encoding_name,
        plan.codec.clock_rate,
        Some(u32::from(plan.codec.channels.max(1))),
    )
    .ok_or_else(unsupported)?;
    let payload_type = PayloadType::new(plan.codec.payload_type).ok_or_else(unsupported)?;
    let telephone_event = plan
        .telephone_event
        .as_ref()
        .and_then(|te| PayloadType::new(te.payload_type));
    let seed = shared.random_u64();
    let mut cfg = EndpointConfig::new(codec, payload_type, telephone_event, seed);
    cfg.session.remote_rtp = Some(plan.remote);
    let timeout = shared.config.rtp.inactivity_timeout_s;
    cfg.session.inactivity_timeout = (timeout > 0).then(|| std::time::Duration::from_secs(timeout));
    let mut ports = shared.ports.lock().await;
    let rtp = RtpEndpoint::bind(cfg, &mut ports, shared.rtp_ip, seed)
        .await
        .map_err(|e| Failure {
            code: 503,
            reason: e.to_string(),
        })?;
    Ok((rtp, codec))
}

impl Session {
    /// Undoes a set-up whose answer could not be sent.
    fn abandon(self) {
        self.shared.registry.remove(&self.session_id);
        self.shared.session_ended();
    }
}

/// The user part of the INVITE's Request-URI (`sip:0800123@host` → `0800123`).
fn request_uri_user(invite: &mrcp_sip::Message) -> Option<String> {
    let mrcp_proto::sip::StartLine::Request { uri, .. } = &invite.start else {
        return None;
    };
    let rest = uri.split_once(':').map_or(uri.as_str(), |(_, r)| r);
    rest.split_once('@')
        .map(|(user, _)| user.to_owned())
        .filter(|u| !u.is_empty())
}
