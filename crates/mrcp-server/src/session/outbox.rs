//! Where a channel's responses and events go: the connection its last request came on (RFC 6787 §4.2: a
//! channel answers on the connection the client uses for it).

use mrcp_proto::mrcp::header::{CompletionCause, Header};
use mrcp_proto::mrcp::{
    ChannelId, EventName, Headers, InvalidHeader, Message, RequestId, RequestState, StartLine,
    StatusCode,
};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::control::ConnectionHandle;

/// A channel's way out.
pub(crate) struct Outbox {
    channel: ChannelId,
    connection: Option<ConnectionHandle>,
}

impl Outbox {
    pub(crate) fn new(channel: ChannelId) -> Self {
        Self {
            channel,
            connection: None,
        }
    }

    /// The channel id.
    pub(crate) fn channel(&self) -> &ChannelId {
        &self.channel
    }

    /// Answers go where this request came from.
    pub(crate) fn answer_on(&mut self, connection: ConnectionHandle) {
        self.connection = Some(connection);
    }

    /// The connection closed: nothing can be sent any more.
    pub(crate) fn disconnect(&mut self) {
        self.connection = None;
    }

    /// A response with these header fields after Channel-Identifier.
    pub(crate) fn response(
        &self,
        request_id: RequestId,
        status: StatusCode,
        state: RequestState,
        headers: &Headers,
    ) -> Message {
        let mut message = Message::event(EventName::StartOfInput, request_id, state, &self.channel);
        message.start = StartLine::Response {
            request_id,
            status,
            state,
        };
        append(&mut message, headers);
        message
    }

    /// An event with these header fields after Channel-Identifier.
    pub(crate) fn event(
        &self,
        event: EventName,
        request_id: RequestId,
        state: RequestState,
        headers: &Headers,
    ) -> Message {
        let mut message = Message::event(event, request_id, state, &self.channel);
        append(&mut message, headers);
        message
    }

    /// A final (COMPLETE) response.
    pub(crate) fn respond(&mut self, request_id: RequestId, status: StatusCode, headers: &Headers) {
        let message = self.response(request_id, status, RequestState::Complete, headers);
        self.send(message);
    }

    /// The answer to a request carrying a header value that does not parse or is not supported: 404 or 409
    /// naming the header, as RFC 6787 §5.4 asks.
    pub(crate) fn respond_invalid(&mut self, request_id: RequestId, invalid: &InvalidHeader) {
        debug!(channel = %self.channel, %invalid, "request refused");
        let mut headers = Headers::new();
        let _ = headers.set_raw(&invalid.name, &sanitize(&invalid.value));
        self.respond(request_id, invalid.status_code(), &headers);
    }

    /// The answer to a request that failed with a completion cause: 407 with Completion-Cause and a
    /// Completion-Reason for the operator.
    pub(crate) fn respond_failed(
        &mut self,
        request_id: RequestId,
        cause: CompletionCause,
        reason: &str,
    ) {
        self.respond_failed_uri(request_id, cause, reason, None);
    }

    /// [`Self::respond_failed`] with the URI that could not be fetched, as Failed-URI (RFC 6787 §8.4.14,
    /// §9.4.17).
    pub(crate) fn respond_failed_uri(
        &mut self,
        request_id: RequestId,
        cause: CompletionCause,
        reason: &str,
        failed_uri: Option<&str>,
    ) {
        let mut headers = Headers::new();
        let _ = headers.set(&cause);
        let _ = headers.set_raw("Completion-Reason", &sanitize(reason));
        if let Some(uri) = failed_uri {
            let _ = headers.set_raw("Failed-URI", &sanitize(uri));
        }
        self.respond(request_id, StatusCode::OUT_OF_SYNC, &headers);
    }

    /// Queues a message on the connection; a closed or stalled connection only loses it.
    pub(crate) fn send(&mut self, message: Message) {
        let Some(connection) = &self.connection else {
            return;
        };
        if let Err(error) = connection.send(message) {
            warn!(channel = %self.channel, %error, "MRCP message not sent");
        }
    }

    /// Sends `message`; the receiver resolves once it is written to the client's connection. `None` when it
    /// could not be queued (the connection is gone or full), so there is nothing to wait for.
    pub(crate) fn send_then_notify(&mut self, message: Message) -> Option<oneshot::Receiver<()>> {
        let connection = self.connection.as_ref()?;
        connection
            .send_then_notify(message)
            .inspect_err(|error| warn!(channel = %self.channel, %error, "MRCP message not sent"))
            .ok()
    }
}

fn append(message: &mut Message, headers: &Headers) {
    for (name, value) in headers.iter() {
        if !name.eq_ignore_ascii_case(mrcp_proto::mrcp::header::ChannelIdentifier::NAME) {
            let _ = message.headers.append_raw(name, value);
        }
    }
}

/// Keeps a text usable as a header value: one line, printable, at most 200 characters.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}
