//! Why a client session failed: SIP (RFC 3261) and SDP (RFC 3264, RFC 6787 §4) setup, the MRCP control
//! connection (RFC 6787 §5), RTP, WAV files, and the violations strict mode fails on.

use std::net::SocketAddr;
use std::sync::Arc;

use mrcp_proto::mrcp::ResourceType;
use mrcp_proto::mrcp::codec::DecodeError;
use mrcp_proto::sdp::SdpError;
use mrcp_sip::Transport;
use mrcp_sip::driver::ConnectError;
use mrcp_sip::tls::TlsError;

use crate::violation::Violation;

/// Why a session could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The SIP layer failed (bind, send).
    #[error("sip: {0}")]
    Sip(#[from] mrcp_sip::Error),
    /// The INVITE got a final error response.
    #[error("the server refused the INVITE with {status}")]
    Rejected {
        /// The SIP status code.
        status: u16,
    },
    /// No final response in time.
    #[error("no {what} within {limit_ms} ms")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// The limit, milliseconds.
        limit_ms: u64,
    },
    /// The SDP answer is unusable.
    #[error("sdp answer: {0}")]
    Sdp(#[from] SdpError),
    /// The answer refused the resource or gave no MRCP address.
    #[error("the server refused the {0} channel")]
    ChannelRefused(ResourceType),
    /// RTP or TCP I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The RTP endpoint could not start.
    #[error("rtp: {0}")]
    Rtp(#[from] mrcp_media::endpoint::EndpointError),
    /// The server's MRCP stream cannot be framed.
    #[error("mrcp stream from the server: {0}")]
    Decode(#[from] DecodeError),
    /// The server closed the MRCP connection.
    #[error("the server closed the MRCP connection")]
    Closed,
    /// The server closed the MRCP connection in the middle of a message.
    #[error(
        "the server closed the MRCP connection in the middle of a message ({buffered} bytes of it received)"
    )]
    ClosedMidMessage {
        /// Bytes of the partial message.
        buffered: usize,
    },
    /// A WAV file is unusable.
    #[error("wav: {0}")]
    Wav(String),
    /// The server did what FreeSWITCH or Asterisk fails on (strict mode).
    #[error("violation: {0}")]
    Violation(#[from] Violation),
    /// The answer chose a codec the client cannot decode.
    #[error("the answer chose {0}, which the client cannot decode")]
    UnsupportedCodec(String),
    /// The operation needs an RTP sender, and a synthesizer session only receives.
    #[error("a {0} session does not send audio")]
    NoSender(ResourceType),
    /// The operation needs a synthesizer session.
    #[error("a {0} session does not receive synthesized audio")]
    NotSynthesizer(ResourceType),
    /// The SIP connection to the server could not be opened (for TLS: a certificate we do not trust, a name
    /// that does not match, a handshake the server refused).
    #[error("cannot reach the server at {addr} over {transport}: {error}")]
    Connect {
        /// The server's SIP address.
        addr: SocketAddr,
        /// The SIP transport.
        transport: Transport,
        /// Why.
        error: Arc<ConnectError>,
    },
    /// TLS configuration or the MRCP TLS handshake failed.
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    /// The server refused a request that had to be accepted (IN-PROGRESS was due).
    #[error("the server answered {what} with {start_line}")]
    Refused {
        /// The request.
        what: &'static str,
        /// The response's start line.
        start_line: String,
    },
    /// TLS was offered for MRCP and the server answered another transport.
    #[error("the server answered {answered} to a TCP/TLS/MRCPv2 offer")]
    TlsRefused {
        /// The answered proto.
        answered: &'static str,
    },
}
