//! SPEAK on a synthesizer session (RFC 6787 §8.4, reference §8): the request, its IN-PROGRESS, the audio
//! packet by packet with its timing, SPEAK-COMPLETE, and what arrived around them.

use std::time::{Duration, Instant};

use mrcp_proto::mrcp::{Message, Method, RequestId, RequestState, StartLine};

use crate::session::{ClientError, Media, Session, read_message};
use crate::tts::TtsStats;
use crate::violation::{Accepted, AudioTiming, Violation};

/// How long the receiver keeps listening after SPEAK-COMPLETE, to count audio FreeSWITCH would lose.
pub const DEFAULT_TAIL: Duration = Duration::from_millis(200);

/// The body and header fields of a SPEAK.
#[derive(Debug, Clone)]
pub struct SpeakRequest {
    /// `text/plain` or `application/ssml+xml`.
    pub content_type: String,
    /// The text or SSML.
    pub body: String,
    /// Header fields in order (`Voice-Name`, `Prosody-Rate`, …).
    pub headers: Vec<(String, String)>,
    /// How long to listen after SPEAK-COMPLETE.
    pub tail: Duration,
}

impl SpeakRequest {
    /// A SPEAK of `text` with the type FreeSWITCH picks: SSML when the text starts with `<?xml` or `<speak`
    /// (reference §8.2), plain text otherwise.
    pub fn text(text: &str) -> Self {
        let t = text.trim_start();
        let ssml = t.starts_with("<?xml") || t.starts_with("<speak");
        Self {
            content_type: if ssml {
                "application/ssml+xml"
            } else {
                "text/plain"
            }
            .to_owned(),
            body: text.to_owned(),
            headers: Vec::new(),
            tail: DEFAULT_TAIL,
        }
    }
}

/// What a SPEAK produced.
#[derive(Debug, Clone)]
pub struct SpeakOutcome {
    /// Its request id.
    pub request: RequestId,
    /// The response.
    pub response: Message,
    /// SPEAK sent → its response.
    pub response_time: Duration,
    /// The events received, SPEAK-COMPLETE last.
    pub events: Vec<Message>,
    /// Whether SPEAK-COMPLETE arrived.
    pub completed: bool,
    /// The audio's measurements.
    pub stats: TtsStats,
    /// The decoded audio played between IN-PROGRESS and SPEAK-COMPLETE, at `stats.sample_rate`.
    pub audio: Vec<i16>,
    /// Violations only visible once the audio ended (audio outside the request, wrong payload type or port,
    /// no audio). In strict mode any of them fails the SPEAK; see [`SpeakOutcome::conforms`].
    pub violations: Vec<Violation>,
}

impl SpeakOutcome {
    /// The Completion-Cause code of SPEAK-COMPLETE.
    pub fn completion_cause(&self) -> Option<u16> {
        let complete = self.events.last().filter(|_| self.completed)?;
        let raw = complete.headers.get_raw("Completion-Cause")?;
        raw.trim().get(..3)?.parse().ok()
    }

    /// Whether the response was `2xx IN-PROGRESS`.
    pub fn accepted(&self) -> bool {
        matches!(&self.response.start, StartLine::Response { status, state, .. }
            if status.is_success() && *state == RequestState::InProgress)
    }

    /// No violation was found in the audio.
    pub fn conforms(&self) -> bool {
        self.violations.is_empty()
    }
}

impl Session {
    /// Sends SPEAK and receives its audio until SPEAK-COMPLETE plus `request.tail`. A message that breaks
    /// the rules ends it with [`ClientError::Violation`] in strict mode; violations in the audio are in
    /// [`SpeakOutcome::violations`]. Each message or packet must come within the session timeout, else
    /// [`Violation::NeverCompleted`].
    pub async fn speak(&mut self, request: &SpeakRequest) -> Result<SpeakOutcome, ClientError> {
        let Media::Receiver(receiver) = &self.media else {
            return Err(ClientError::NotSynthesizer(self.resource));
        };
        let sent_at = Instant::now();
        let mut capture = receiver.capture(sent_at);
        let rtp_port = receiver.local_rtp().port();
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body = Some((request.content_type.as_str(), request.body.as_bytes()));
        let id = self.send(Method::Speak, &headers, body).await?;
        let mut response = None;
        let mut events = Vec::new();
        let mut completed = false;
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        while !completed {
            let Media::Receiver(receiver) = &mut self.media else {
                return Err(ClientError::NotSynthesizer(self.resource));
            };
            let message = tokio::select! {
                // MRCP first: a packet that follows the IN-PROGRESS on the wire is not counted before it.
                biased;
                m = read_message(&mut self.decoder, &mut self.buf, &mut self.mrcp) => m?,
                () = receiver.receive(&mut capture) => {
                    deadline.as_mut().reset(tokio::time::Instant::now() + self.timeout);
                    continue;
                }
                () = &mut deadline => return Err(self.timed_out("response to SPEAK")),
            };
            deadline
                .as_mut()
                .reset(tokio::time::Instant::now() + self.timeout);
            let now = Instant::now();
            match self.check(&message)? {
                Accepted::Response { .. } if response.is_none() => {
                    let in_progress = matches!(&message.start, StartLine::Response { status, state, .. }
                        if status.is_success() && *state == RequestState::InProgress);
                    response = Some((message, now.saturating_duration_since(sent_at)));
                    if in_progress {
                        capture.in_progress(now);
                    } else {
                        break;
                    }
                }
                Accepted::Event { complete, .. } => {
                    completed = complete;
                    if complete {
                        if let Media::Receiver(receiver) = &mut self.media {
                            receiver.receive_ready(&mut capture);
                        }
                        capture.complete(now);
                    }
                    events.push(message);
                }
                // Lenient mode: what was tolerated is kept for the report.
                _ => events.push(message),
            }
        }
        if completed {
            let Media::Receiver(receiver) = &mut self.media else {
                return Err(ClientError::NotSynthesizer(self.resource));
            };
            let tail = tokio::time::sleep(request.tail);
            tokio::pin!(tail);
            loop {
                tokio::select! {
                    () = receiver.receive(&mut capture) => {}
                    () = &mut tail => break,
                }
            }
        }
        let stats = capture.stats();
        let Some((response, response_time)) = response else {
            return Err(ClientError::Closed);
        };
        let mut outcome = SpeakOutcome {
            request: id,
            response,
            response_time,
            events,
            completed,
            stats,
            audio: capture.into_samples(),
            violations: Vec::new(),
        };
        let s = &outcome.stats;
        let mut found = Vec::new();
        for (packets, when) in [
            (s.before_in_progress, AudioTiming::BeforeInProgress),
            (s.after_complete, AudioTiming::AfterComplete),
        ] {
            if packets > 0 {
                found.push(Violation::AudioOutsideRequest {
                    request: id,
                    packets,
                    when,
                });
            }
        }
        if let Some(got) = s.first_wrong_payload_type {
            let negotiated = receiver_payload_type(self);
            found.push(Violation::WrongPayloadType { got, negotiated });
        }
        if s.rtp_at_rtcp_port > 0 {
            found.push(Violation::RtpToWrongPort {
                port: rtp_port.saturating_add(1),
                rtp_port,
                packets: s.rtp_at_rtcp_port,
            });
        }
        if s.packets == 0 && outcome.completion_cause() == Some(0) {
            found.push(Violation::NoAudio {
                request: id,
                port: rtp_port,
            });
        }
        for v in found {
            // Kept in the session's list in either mode; strict callers fail on `outcome.violations`.
            let _ = self.conformance.report(v.clone());
            outcome.violations.push(v);
        }
        Ok(outcome)
    }
}

fn receiver_payload_type(session: &Session) -> u8 {
    match &session.media {
        Media::Receiver(r) => r.payload_type().get(),
        Media::Endpoint(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssml_is_detected_as_freeswitch_does() {
        assert_eq!(SpeakRequest::text("Hello").content_type, "text/plain");
        assert_eq!(
            SpeakRequest::text("  <?xml version=\"1.0\"?><speak/>").content_type,
            "application/ssml+xml"
        );
        assert_eq!(
            SpeakRequest::text("<speak>Hi</speak>").content_type,
            "application/ssml+xml"
        );
        // Only `<?xml` and `<speak` count (reference §8.2), not any markup.
        assert_eq!(SpeakRequest::text("<b>Hi</b>").content_type, "text/plain");
    }
}
