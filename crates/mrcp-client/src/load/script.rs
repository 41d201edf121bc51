//! One load session as FreeSWITCH's `mod_unimrcp` or Asterisk's `app_unimrcp` drives it (reference §7, §11.2):
//! one SIP dialog per resource, DEFINE-GRAMMAR for a text grammar, RECOGNIZE with a `text/uri-list` body and
//! `Cancel-If-Queue: false`, START-INPUT-TIMERS after a simulated prompt, the input at real pace, then
//! RECOGNITION-COMPLETE checked for Completion-Cause 000 and the expected text; or SPEAK with `text/plain`
//! awaiting SPEAK-COMPLETE while counting the audio (RFC 6787 §8, §9).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mrcp_media::endpoint::PortAllocator;
use mrcp_proto::mrcp::{Message, Method, RequestId, RequestState, ResourceType, StartLine};
use mrcp_proto::nlsml::{InputContent, Nlsml};
use mrcp_proto::sdp::ClientProfile;

use crate::session::{ClientError, Session, SessionConfig};
use crate::speak::SpeakRequest;
use crate::violation::{Mode, Violation};

/// A grammar as the load sessions send it.
#[derive(Debug, Clone)]
pub enum Grammar {
    /// Text sent with DEFINE-GRAMMAR, then referred to as `session:<name>` (reference §7.2).
    Inline {
        /// Its media type (`application/srgs+xml`, `application/srgs`, …).
        content_type: String,
        /// The grammar text.
        body: Arc<[u8]>,
    },
    /// A URI put as is in the RECOGNIZE body (`builtin:dtmf/digits?length=4`, `http://…`).
    Uri(String),
}

/// What each recognition session sends and expects.
#[derive(Debug, Clone)]
pub struct RecognizeInput {
    /// The grammar.
    pub grammar: Grammar,
    /// 8 kHz speech streamed after the input timers start (may be empty).
    pub audio: Arc<[i16]>,
    /// Digits sent as RFC 4733 events after the audio (may be empty).
    pub digits: String,
    /// Text that must appear in the NLSML `<input>` or `<instance>` (case-insensitive).
    pub expect: Option<String>,
    /// The simulated prompt: RECOGNIZE with `Start-Input-Timers: false`, silence for this long, then
    /// START-INPUT-TIMERS (reference §7.4). Zero: timers start with RECOGNIZE.
    pub prompt: Duration,
}

/// What each synthesis session asks for.
#[derive(Debug, Clone)]
pub struct SpeakInput {
    /// The text, sent as `text/plain` (or `application/ssml+xml` when it starts with `<`).
    pub text: String,
}

/// Why a session failed, in the classes the report counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The INVITE got this final status.
    SipStatus(u16),
    /// Nothing arrived in time; names what was awaited.
    Timeout(&'static str),
    /// A request got a non-2xx status or the wrong request-state.
    MrcpStatus {
        /// The request.
        method: Method,
        /// The status code.
        status: u16,
        /// The request-state.
        state: RequestState,
    },
    /// The completion event carried another cause than 000 (success).
    CompletionCause {
        /// The cause code.
        code: u16,
        /// What the NLSML `<input>` held, or the Completion-Reason, for the report.
        heard: String,
    },
    /// Completion-Cause 000, but the result lacked the expected text or no audio came.
    WrongResult(String),
    /// The server did what FreeSWITCH or Asterisk would fail on (reference §7.6): a message for another
    /// request, an unexpected event, an unparsable result (strict mode).
    Violation(Violation),
    /// The session could not be set up or used (SDP, TCP, RTP ports, connection closed).
    Transport(String),
}

impl Failure {
    /// The class name counted in the report: `sip 503`, `timeout: MRCP message`, `mrcp RECOGNIZE 405`,
    /// `completion-cause 001`, `wrong result`, `violation: wrong-request-id`, `transport`.
    pub fn class(&self) -> String {
        match self {
            Failure::SipStatus(s) => format!("sip {s}"),
            Failure::Timeout(what) => format!("timeout: {what}"),
            Failure::MrcpStatus { method, status, .. } => format!("mrcp {method} {status}"),
            Failure::CompletionCause { code, .. } => format!("completion-cause {code:03}"),
            Failure::WrongResult(_) => "wrong result".to_owned(),
            Failure::Violation(v) => format!("violation: {}", v.name()),
            Failure::Transport(_) => "transport".to_owned(),
        }
    }

    /// A one-line description of this occurrence.
    pub fn detail(&self) -> String {
        match self {
            Failure::MrcpStatus {
                method,
                status,
                state,
            } => format!("{method} answered {status} {state}"),
            Failure::CompletionCause { code, heard } => {
                format!("completion-cause {code:03}: {heard}")
            }
            Failure::WrongResult(d) | Failure::Transport(d) => d.clone(),
            Failure::Violation(v) => v.to_string(),
            other => other.class(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Rejected { status } => Failure::SipStatus(status),
            ClientError::Timeout { what, .. } => Failure::Timeout(what),
            ClientError::Violation(v) => Failure::Violation(v),
            ClientError::Decode(d) => Failure::Transport(format!("mrcp stream: {d}")),
            other => Failure::Transport(other.to_string()),
        }
    }
}

/// The measurements of one session, whatever its outcome.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// INVITE → 200 OK.
    pub sip_setup: Option<Duration>,
    /// Request → response, for each request.
    pub mrcp_responses: Vec<Duration>,
    /// End of the input audio → RECOGNITION-COMPLETE, when the result came after the audio ended.
    pub input_to_complete: Option<Duration>,
    /// Start of the input (timers running) → RECOGNITION-COMPLETE.
    pub input_start_to_complete: Option<Duration>,
    /// The result came before the input's audio ended (a DTMF grammar complete at its last digit, speech
    /// ended by the endpointer inside trailing silence).
    pub completed_before_end_of_input: bool,
    /// SPEAK's IN-PROGRESS → first RTP packet.
    pub first_audio: Option<Duration>,
    /// SPEAK sent → first RTP packet.
    pub first_audio_from_request: Option<Duration>,
    /// RFC 3550 interarrival jitter of the TTS stream at its last packet.
    pub tts_jitter: Option<Duration>,
    /// Largest gap between two TTS packets.
    pub tts_max_gap: Option<Duration>,
    /// Open → BYE sent.
    pub total: Option<Duration>,
}

/// One finished session.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When it was opened.
    pub started: Instant,
    /// Which resource it used.
    pub resource: ResourceType,
    /// What was measured.
    pub timings: Timings,
    /// `None` on success.
    pub failure: Option<Failure>,
}

/// Runs one recognition session to its end, BYE included (also when `deadline` passes first, which fails
/// it as `timeout: session`).
pub async fn recognize(
    config: &SessionConfig,
    ports: &mut PortAllocator,
    input: &RecognizeInput,
    timings: &mut Timings,
    deadline: Instant,
    mode: Mode,
) -> Result<(), Failure> {
    let mut session = open(config, ports, deadline).await?;
    session.set_mode(mode);
    timings.sip_setup = Some(session.sip_setup());
    let script = recognize_on(&mut session, config.profile, input, timings);
    let result = tokio::time::timeout_at(deadline.into(), script)
        .await
        .unwrap_or(Err(Failure::Timeout("session")));
    session.close().await;
    result
}

async fn open(
    config: &SessionConfig,
    ports: &mut PortAllocator,
    deadline: Instant,
) -> Result<Session, Failure> {
    match tokio::time::timeout_at(deadline.into(), Session::open_with_ports(config, ports)).await {
        Ok(opened) => Ok(opened?),
        Err(_) => Err(Failure::Timeout("session")),
    }
}

async fn recognize_on(
    session: &mut Session,
    profile: ClientProfile,
    input: &RecognizeInput,
    timings: &mut Timings,
) -> Result<(), Failure> {
    let uri = match &input.grammar {
        Grammar::Inline { content_type, body } => {
            // FreeSWITCH names the grammar with a UUID, app_mrcprecog with grammar-N (reference §7.2, §11.2).
            let name = match profile {
                ClientProfile::Asterisk => "grammar-0".to_owned(),
                _ => uuid(),
            };
            let headers = [("Content-Id", name.as_str())];
            let body = Some((content_type.as_str(), &body[..]));
            request(session, Method::DefineGrammar, &headers, body, timings).await?;
            format!("session:{name}")
        }
        Grammar::Uri(uri) => uri.clone(),
    };
    let prompt = !input.prompt.is_zero();
    let mut headers = vec![("Cancel-If-Queue", "false")];
    match (profile, prompt) {
        (_, true) => headers.push(("Start-Input-Timers", "false")),
        // app_mrcprecog always writes the header (reference §11.2); FreeSWITCH only when false.
        (ClientProfile::Asterisk, false) => headers.push(("Start-Input-Timers", "true")),
        _ => {}
    }
    let body = Some(("text/uri-list", uri.as_bytes()));
    request(session, Method::Recognize, &headers, body, timings).await?;
    if prompt {
        // The caller is silent while the prompt plays; FreeSWITCH streams that silence (reference §7.3).
        let samples = usize::try_from(input.prompt.as_millis() * 8).unwrap_or(usize::MAX);
        session.send_input(vec![0; samples], "").await?;
        let wait = session.until_prompt_end().await?;
        if let Some(m) = wait {
            // Accepted by the client, but nothing should come while timers wait for the prompt to end.
            return Err(Failure::WrongResult(format!(
                "{} during the prompt",
                m.start
            )));
        }
        request(session, Method::StartInputTimers, &[], None, timings).await?;
    }
    let input_start = Instant::now();
    session
        .send_input(input.audio.to_vec(), &input.digits)
        .await?;
    let wait = session
        .until_event_with_media("RECOGNITION-COMPLETE")
        .await?;
    timings.input_start_to_complete = Some(wait.event_at.saturating_duration_since(input_start));
    // Request-ids, events and channel were checked as they came (strict mode fails there).
    match wait.input_end {
        Some(end) => {
            timings.input_to_complete = Some(wait.event_at.saturating_duration_since(end));
        }
        None => {
            // The caller keeps talking until its input ends; anything arriving meanwhile is an event after
            // completion, a violation the session reports (reference §7.6).
            timings.completed_before_end_of_input = true;
            let _ = session.until_prompt_end().await?;
        }
    }
    check_cause(&wait.event)?;
    if let Some(expect) = &input.expect {
        check_expected(&wait.event, expect)?;
    }
    Ok(())
}

/// Runs one synthesis session to its end, BYE included (also past `deadline`, as for [`recognize`]).
pub async fn speak(
    config: &SessionConfig,
    ports: &mut PortAllocator,
    input: &SpeakInput,
    timings: &mut Timings,
    deadline: Instant,
    mode: Mode,
) -> Result<(), Failure> {
    let config = SessionConfig {
        resource: ResourceType::Speechsynth,
        ..config.clone()
    };
    let mut session = open(&config, ports, deadline).await?;
    session.set_mode(mode);
    timings.sip_setup = Some(session.sip_setup());
    let result = tokio::time::timeout_at(deadline.into(), speak_on(&mut session, input, timings))
        .await
        .unwrap_or(Err(Failure::Timeout("session")));
    session.close().await;
    result
}

async fn speak_on(
    session: &mut Session,
    input: &SpeakInput,
    timings: &mut Timings,
) -> Result<(), Failure> {
    let outcome = session.speak(&SpeakRequest::text(&input.text)).await?;
    timings.mrcp_responses.push(outcome.response_time);
    let stats = &outcome.stats;
    timings.first_audio = stats.first_packet_from_in_progress;
    timings.first_audio_from_request = stats.first_packet_from_request;
    if stats.pacing.gaps > 0 {
        timings.tts_jitter = Some(Duration::from_secs_f64(stats.pacing.jitter_ms / 1000.0));
        timings.tts_max_gap = Some(Duration::from_secs_f64(stats.pacing.gap_max_ms / 1000.0));
    }
    if let StartLine::Response { status, state, .. } = &outcome.response.start
        && !outcome.accepted()
    {
        return Err(Failure::MrcpStatus {
            method: Method::Speak,
            status: status.code(),
            state: *state,
        });
    }
    if session.mode() == Mode::Strict
        && let Some(v) = outcome.violations.first()
    {
        return Err(Failure::Violation(v.clone()));
    }
    if let Some(complete) = outcome.events.last().filter(|_| outcome.completed) {
        check_cause(complete)?;
    }
    if outcome.stats.packets == 0 {
        return Err(Failure::WrongResult(
            "SPEAK-COMPLETE without any audio".to_owned(),
        ));
    }
    Ok(())
}

/// Sends a request and awaits its response: the session checks request-id, channel and request-state as
/// UniMRCP does (reference §6, §7.2–§7.4); a non-2xx status fails the session. Events of a request in
/// progress that come first are legal and skipped.
async fn request(
    session: &mut Session,
    method: Method,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
    timings: &mut Timings,
) -> Result<RequestId, Failure> {
    let sent = Instant::now();
    let id = session.send(method.clone(), headers, body).await?;
    loop {
        let response = session.receive().await?;
        if let StartLine::Response { status, state, .. } = &response.start {
            timings.mrcp_responses.push(sent.elapsed());
            return if status.is_success() {
                Ok(id)
            } else {
                Err(Failure::MrcpStatus {
                    method,
                    status: status.code(),
                    state: *state,
                })
            };
        }
    }
}

fn check_cause(event: &Message) -> Result<(), Failure> {
    let raw = event.headers.get_raw("Completion-Cause").ok_or_else(|| {
        Failure::Violation(Violation::MissingCompletionCause {
            event: event_name(event),
            request: event.request_id(),
        })
    })?;
    let code: u16 = raw
        .trim()
        .get(..3)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            Failure::Violation(Violation::BadResult {
                event: event_name(event),
                reason: format!("Completion-Cause {raw:?} is not a number"),
            })
        })?;
    if code == 0 {
        Ok(())
    } else {
        let reason = event.headers.get_raw("Completion-Reason").unwrap_or("");
        let heard = match Nlsml::parse(&String::from_utf8_lossy(&event.body)) {
            Ok(n) => format!("heard {:?} {reason}", heard(&n)),
            Err(_) => reason.to_owned(),
        };
        Err(Failure::CompletionCause { code, heard })
    }
}

fn event_name(m: &Message) -> String {
    match &m.start {
        StartLine::Event { event, .. } => event.to_string(),
        other => other.to_string(),
    }
}

/// The expected text must appear in an interpretation's `<input>` or `<instance>` (RFC 6787 §9.6.3).
fn check_expected(event: &Message, expect: &str) -> Result<(), Failure> {
    let text = String::from_utf8_lossy(&event.body);
    let nlsml = Nlsml::parse(&text).map_err(|e| {
        Failure::Violation(Violation::BadResult {
            event: event_name(event),
            reason: e.to_string(),
        })
    })?;
    let expect = expect.to_lowercase();
    let found = nlsml.interpretations.iter().any(|i| {
        let input = match i.input.as_ref().map(|i| &i.content) {
            Some(InputContent::Text(t)) => t.to_lowercase().contains(&expect),
            _ => false,
        };
        let instance = i
            .instance
            .as_ref()
            .is_some_and(|v| v.to_string().to_lowercase().contains(&expect));
        input || instance
    });
    if found {
        Ok(())
    } else {
        Err(Failure::WrongResult(format!(
            "expected {expect:?}, heard {:?}",
            heard(&nlsml)
        )))
    }
}

/// The text of each interpretation's `<input>`, `nomatch` or `noinput`.
fn heard(nlsml: &Nlsml) -> Vec<String> {
    nlsml
        .interpretations
        .iter()
        .filter_map(|i| match i.input.as_ref().map(|i| &i.content) {
            Some(InputContent::Text(t)) => Some(t.clone()),
            Some(InputContent::NoMatch) => Some("nomatch".to_owned()),
            Some(InputContent::NoInput) => Some("noinput".to_owned()),
            None => None,
        })
        .collect()
}

/// A random RFC 4122 version 4 UUID, as FreeSWITCH names unnamed grammars (reference §7.2).
fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let (v, var) = (&hex[13..16], (b[8] & 0x3f) | 0x80);
    format!(
        "{}-{}-4{}-{:02x}{}-{}",
        &hex[..8],
        &hex[8..12],
        v,
        var,
        &hex[18..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_the_rfc_4122_shape() {
        let u = uuid();
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(u.as_bytes()[14], b'4', "{u}");
        assert!(matches!(u.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{u}");
    }

    #[test]
    fn failure_classes() {
        assert_eq!(Failure::SipStatus(503).class(), "sip 503");
        let f = Failure::CompletionCause {
            code: 1,
            heard: String::new(),
        };
        assert_eq!(f.class(), "completion-cause 001");
        let f = Failure::MrcpStatus {
            method: Method::Recognize,
            status: 405,
            state: RequestState::Complete,
        };
        assert_eq!(f.class(), "mrcp RECOGNIZE 405");
    }
}
