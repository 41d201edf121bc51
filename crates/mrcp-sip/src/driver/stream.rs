//! Stream transports of the driver (RFC 3261 §18.3): TCP and TLS (§26.2) connections, both framed
//! by `Content-Length` with the keep-alives of RFC 5626 §3.5.1.
//!
//! One task per connection. It opens the connection when we are the client (TCP connect, then the
//! TLS handshake for TLS), or runs the TLS handshake on an accepted socket, each within its
//! deadline, then moves bytes: what it reads goes to the core through the framer, what the core
//! queues is written. The byte loop ([`serve`]) is generic over the stream, so TCP and TLS share
//! it; only opening differs.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use bytes::Bytes;
use mrcp_proto::sip::{Frame, SipLimits, StreamFramer};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    time::{Instant, sleep_until},
};
use tokio_util::sync::CancellationToken;

use super::{ConnectError, Inbound};
use crate::{
    tls::{self, TlsError, rustls::ClientConfig, tokio_rustls::TlsAcceptor},
    transport::{ConnectionId, Peer, Transport},
};

/// The TLS side of a driver: what it presents as a server and trusts as a client.
#[derive(Clone)]
pub(super) struct TlsRuntime {
    pub(super) acceptor: Option<TlsAcceptor>,
    pub(super) client: Option<Arc<ClientConfig>>,
    pub(super) server_name: Option<String>,
    pub(super) handshake_timeout: Duration,
}

impl TlsRuntime {
    /// The client configuration: the configured one, or one trusting the Mozilla roots, built once.
    fn client(&self) -> Result<Arc<ClientConfig>, ConnectError> {
        if let Some(config) = &self.client {
            return Ok(config.clone());
        }
        static WEBPKI: OnceLock<Result<Arc<ClientConfig>, Arc<TlsError>>> = OnceLock::new();
        WEBPKI
            .get_or_init(|| tls::client_config_from(tls::webpki_roots(), None).map_err(Arc::new))
            .clone()
            .map_err(ConnectError::TlsClientConfig)
    }
}

/// Accepts stream connections of one listener and hands them to the core.
pub(super) async fn acceptor(
    listener: TcpListener,
    transport: Transport,
    inbound: mpsc::Sender<Inbound>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    if inbound.send(Inbound::Accepted(stream, addr, transport)).await.is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(%transport, error = %e, "accept failed"),
            },
        }
    }
}

/// Everything one connection task needs.
pub(super) struct ConnectionTask {
    pub(super) id: ConnectionId,
    pub(super) transport: Transport,
    pub(super) addr: SocketAddr,
    pub(super) limits: SipLimits,
    pub(super) idle: Duration,
    /// A message started must be finished within this (slow-client protection).
    pub(super) message_timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) tls: Arc<TlsRuntime>,
    pub(super) inbound: mpsc::Sender<Inbound>,
    pub(super) out: mpsc::Receiver<Bytes>,
    pub(super) cancel: CancellationToken,
}

impl ConnectionTask {
    /// Opens (or, with `accepted`, completes) the connection, serves it, and reports its end.
    pub(super) async fn run(self, accepted: Option<TcpStream>) {
        let (id, transport, addr, inbound) =
            (self.id, self.transport, self.addr, self.inbound.clone());
        let outgoing = accepted.is_none();
        let cancel = self.cancel.clone();
        let result = tokio::select! {
            () = cancel.cancelled() => Ok(()),
            r = self.open_and_serve(accepted) => r,
        };
        let _ = inbound.send(Inbound::Closed(id)).await;
        if let Err(error) = result {
            if outgoing {
                tracing::warn!(peer = %addr, %transport, %error, "cannot connect");
                let _ = inbound
                    .send(Inbound::ConnectFailed(transport, addr, Arc::new(error)))
                    .await;
            } else {
                tracing::info!(peer = %addr, %transport, %error, "incoming connection refused");
            }
        }
    }

    async fn open_and_serve(self, accepted: Option<TcpStream>) -> Result<(), ConnectError> {
        let outgoing = accepted.is_none();
        let stream = match accepted {
            Some(stream) => stream,
            None => {
                match tokio::time::timeout(self.connect_timeout, TcpStream::connect(self.addr))
                    .await
                {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return Err(ConnectError::Io(e)),
                    Err(_) => return Err(ConnectError::Timeout(self.connect_timeout)),
                }
            }
        };
        let _ = stream.set_nodelay(true);
        match (self.transport, outgoing) {
            (Transport::Tls, false) => {
                let acceptor = self
                    .tls
                    .acceptor
                    .clone()
                    .ok_or(ConnectError::TlsNotConfigured)?;
                let stream = tls::accept(&acceptor, stream, self.addr, self.tls.handshake_timeout)
                    .await
                    .map_err(ConnectError::Tls)?;
                self.serve(stream).await;
            }
            (Transport::Tls, true) => {
                let name = tls::server_name(self.addr, self.tls.server_name.as_deref())
                    .map_err(ConnectError::Tls)?;
                let config = self.tls.client()?;
                let stream =
                    tls::connect(config, name, stream, self.addr, self.tls.handshake_timeout)
                        .await
                        .map_err(ConnectError::Tls)?;
                self.serve(stream).await;
            }
            _ => self.serve(stream).await,
        }
        Ok(())
    }

    /// Moves bytes until the peer closes, the connection idles out, or a framing error.
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(self, stream: S) {
        serve(
            stream,
            Peer {
                transport: self.transport,
                addr: self.addr,
                connection: Some(self.id),
            },
            &self.inbound,
            self.out,
            self.limits,
            (self.idle, self.message_timeout),
        )
        .await;
    }
}

/// The byte loop of one stream connection, TCP or TLS.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: Peer,
    inbound: &mpsc::Sender<Inbound>,
    mut out: mpsc::Receiver<Bytes>,
    limits: SipLimits,
    (idle, message_timeout): (Duration, Duration),
) {
    let addr = peer.addr;
    let transport = peer.transport;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut framer = StreamFramer::new(limits);
    let mut buf = vec![0u8; 16 * 1024];
    let mut idle_at = Instant::now() + idle;
    // When the message being received must be complete: armed by its first byte, cleared when nothing is left
    // half-received. A peer trickling a byte a minute never goes idle; this closes it.
    let mut message_due: Option<Instant> = None;
    loop {
        let cut_off = message_due.map_or(idle_at, |due| due.min(idle_at));
        tokio::select! {
            () = sleep_until(cut_off) => {
                if message_due.is_some_and(|due| due <= Instant::now()) {
                    tracing::warn!(peer = %addr, %transport, "closing connection: a message was not finished in time");
                } else {
                    tracing::debug!(peer = %addr, %transport, "closing idle connection");
                }
                break;
            }
            Some(bytes) = out.recv() => {
                idle_at = Instant::now() + idle;
                // TLS buffers records: flush so that each message leaves now.
                if let Err(e) = write(&mut writer, &bytes).await {
                    tracing::warn!(peer = %addr, %transport, error = %e, "write failed");
                    return;
                }
            }
            r = reader.read(&mut buf) => {
                let n = match r {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(peer = %addr, %transport, error = %e, "read failed");
                        return;
                    }
                };
                idle_at = Instant::now() + idle;
                framer.push(buf.get(..n).unwrap_or_default());
                loop {
                    match framer.next_frame() {
                        Ok(None) => break,
                        Ok(Some(Frame::Message(bytes))) => {
                            if inbound.send(Inbound::Message(bytes, peer)).await.is_err() {
                                return;
                            }
                        }
                        Ok(Some(Frame::Ping)) => {
                            // RFC 5626 §3.5.1: answer a ping with a pong.
                            if write(&mut writer, b"\r\n").await.is_err() {
                                return;
                            }
                        }
                        Ok(Some(Frame::Pong)) => {}
                        Err(e) => {
                            tracing::warn!(peer = %addr, %transport, error = %e, "closing connection on framing error");
                            return;
                        }
                    }
                }
                message_due = match (framer.buffered(), message_due) {
                    (0, _) => None,
                    (_, Some(due)) => Some(due),
                    (_, None) => Some(Instant::now() + message_timeout),
                };
            }
        }
    }
    // An orderly end: TLS sends close_notify (RFC 8446 §6.1), TCP a FIN.
    let _ = writer.shutdown().await;
}

async fn write<W: AsyncWrite + Unpin>(writer: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    writer.write_all(bytes).await?;
    writer.flush().await
}
