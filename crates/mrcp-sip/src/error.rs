//! Errors of the SIP stack: local misuse of the API and driver failures. Bad input from peers is
//! never an `Err`; it becomes a response (400, 481, ...) or a logged drop.

use thiserror::Error;

use crate::{
    endpoint::{CallHandle, ServerTxId},
    transport::Transport,
};

/// What went wrong in a call to the endpoint or its driver.
#[derive(Debug, Error)]
pub enum Error {
    /// No local address is configured for the transport.
    #[error("no local address for transport {transport}")]
    NoLocalAddress {
        /// The transport.
        transport: Transport,
    },
    /// The server transaction is unknown or over.
    #[error("unknown server transaction {tx:?}")]
    UnknownTransaction {
        /// The transaction.
        tx: ServerTxId,
    },
    /// The transaction already has a final response.
    #[error("server transaction {tx:?} already answered")]
    AlreadyAnswered {
        /// The transaction.
        tx: ServerTxId,
    },
    /// The status code is outside 100–699.
    #[error("status code {code} outside 100-699")]
    BadStatus {
        /// The code.
        code: u16,
    },
    /// The call is unknown or over.
    #[error("unknown call {call:?}")]
    UnknownCall {
        /// The call.
        call: CallHandle,
    },
    /// The call's state does not allow the operation.
    #[error("call {call:?} cannot {what} in its current state")]
    InvalidState {
        /// The call.
        call: CallHandle,
        /// The operation.
        what: &'static str,
    },
    /// A socket operation failed in the driver.
    #[error("sip transport i/o on {addr}: {source}")]
    Io {
        /// The local or remote address involved.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The proxied request is unknown or already answered.
    #[error("unknown or finished proxied request {id:?}")]
    ProxyUnknown {
        /// The request.
        id: crate::proxy::ProxyTxId,
    },
    /// A TLS listener was asked for without a server certificate ([`crate::driver::SipTls`]).
    #[error("cannot listen for tls on {addr}: no certificate and key configured")]
    TlsNotConfigured {
        /// The listen address.
        addr: std::net::SocketAddr,
    },
    /// The driver task has stopped.
    #[error("sip driver stopped")]
    DriverStopped,
}
