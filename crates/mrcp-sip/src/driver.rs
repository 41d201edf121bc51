//! The tokio driver of an [`Endpoint`] ([`spawn`]) or a [`Proxy`] ([`spawn_proxy`]): one task per
//! UDP socket, one per TCP or TLS listener, one per stream connection, and one core task that
//! owns the sans-IO machine (RFC 3261 §18).
//!
//! Socket tasks only move bytes: they send what they read to the core over a bounded channel,
//! and stream connection tasks write what the core queues for them. The core task feeds the
//! endpoint, drains its outputs after every step, and re-arms one timer from
//! [`Endpoint::poll_timeout`]. Time comes from `tokio::time::Instant`, so tests may pause it.
//!
//! Stream transports (TCP, and TLS of RFC 3261 §26.2 on rustls, see [`crate::tls`]): connections
//! are reused both ways (a response or request to an address with an open connection of the same
//! transport uses it), framed by `Content-Length` with the keep-alive CRLFs of RFC 5626, closed
//! after `tcp_idle_timeout` without traffic, and closed on any framing error. A TLS handshake,
//! accepted or opened, runs in the connection's own task within `tls_config.handshake_timeout`,
//! so a peer that never finishes it delays nobody else. Outgoing TLS verifies the server's
//! certificate against [`SipTls::client`] (the Mozilla roots when unset) for the IP address
//! connected to, or [`SipTls::server_name`]. Failures to connect are published to
//! [`SipHandle::connect_failures`] with their cause.

mod stream;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use tokio::{
    net::{TcpListener, TcpStream, UdpSocket},
    sync::{broadcast, mpsc, oneshot},
    task::JoinHandle,
    time::{Instant, sleep_until},
};
use tokio_util::sync::CancellationToken;

use crate::{
    Body, CallHandle, ClientRequestId, Endpoint, EndpointConfig, Error, Event, Invite, LocalAddr,
    OutOfDialogRequest, Output, Response, ServerTxId, Transmit,
    proxy::{Proxy, ProxyConfig, ProxyEvent, ProxyOutput, ProxyTxId},
    tls::{
        TlsError,
        rustls::{ClientConfig, ServerConfig},
        tokio_rustls::TlsAcceptor,
    },
    transport::{ConnectionId, Peer, Transport},
};
use stream::{ConnectionTask, TlsRuntime};

/// Configuration of the driver.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// UDP addresses to bind (port 0 picks a free port).
    pub udp: Vec<SocketAddr>,
    /// TCP addresses to listen on.
    pub tcp: Vec<SocketAddr>,
    /// TLS addresses to listen on (RFC 3261 §26.2; 5061 by convention); needs
    /// [`SipTls::server`].
    pub tls: Vec<SocketAddr>,
    /// Certificates and trust for TLS, both ways.
    pub tls_config: SipTls,
    /// The endpoint; its `local` list is filled from the bound sockets.
    pub endpoint: EndpointConfig,
    /// Capacity of every channel (commands, events, socket input, per-connection output).
    pub channel_capacity: usize,
    /// Most TCP connections from or to one IP address.
    pub max_connections_per_ip: usize,
    /// A TCP connection with no traffic for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// A peer must finish a SIP message it started within this time, or its TCP connection is closed
    /// (slow-client protection: a peer trickling a byte a minute never goes idle).
    pub tcp_message_timeout: Duration,
    /// Limit on outgoing TCP connection set-up.
    pub tcp_connect_timeout: Duration,
    /// The address written in `Via`, `Contact` and `Record-Route` when a socket is bound to a
    /// wildcard address (`0.0.0.0`, `::`); without it the wildcard would be advertised.
    pub advertise: Option<std::net::IpAddr>,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            tls_config: SipTls::default(),
            endpoint: EndpointConfig::default(),
            channel_capacity: 1024,
            max_connections_per_ip: 256,
            tcp_idle_timeout: Duration::from_secs(600),
            tcp_message_timeout: Duration::from_secs(30),
            tcp_connect_timeout: Duration::from_secs(5),
            advertise: None,
        }
    }
}

/// TLS settings of a driver (build the rustls configurations with [`crate::tls`]).
///
/// A driver with a client configuration and no TLS listener still sends over TLS: its `Via` and
/// `Contact` name its first socket's address, and responses and in-dialog requests come back
/// over the connection it opened (§18.2.2, connection reuse).
#[derive(Debug, Clone)]
pub struct SipTls {
    /// What TLS listeners present: our certificate chain and key, and the client-certificate
    /// policy ([`crate::tls::server_config`]).
    pub server: Option<Arc<ServerConfig>>,
    /// What outgoing TLS connections trust ([`crate::tls::client_config`]); the Mozilla roots
    /// when `None`.
    pub client: Option<Arc<ClientConfig>>,
    /// The name server certificates must carry on outgoing connections; the IP address
    /// connected to when `None` (the core does no DNS, so peers are addresses).
    pub server_name: Option<String>,
    /// How long a handshake may take before the connection is closed.
    pub handshake_timeout: Duration,
}

impl Default for SipTls {
    fn default() -> Self {
        Self {
            server: None,
            client: None,
            server_name: None,
            handshake_timeout: crate::tls::DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// Why an outgoing stream connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connection failed (refused, unreachable, reset).
    #[error("tcp connect: {0}")]
    Io(std::io::Error),
    /// The TCP connection did not open in time.
    #[error("tcp connect did not finish within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The TLS handshake failed or timed out (certificate not trusted, wrong name, ...).
    #[error("{0}")]
    Tls(TlsError),
    /// The default client configuration could not be built.
    #[error("tls client configuration: {0}")]
    TlsClientConfig(Arc<TlsError>),
    /// A TLS connection was accepted on a driver without a server configuration.
    #[error("no tls server configuration")]
    TlsNotConfigured,
}

/// A connection the driver could not open; the transactions towards it have failed.
#[derive(Debug, Clone)]
pub struct ConnectFailure {
    /// The transport.
    pub transport: Transport,
    /// The remote address.
    pub addr: SocketAddr,
    /// Why.
    pub error: Arc<ConnectError>,
}

/// The receive buffer asked for on each SIP UDP socket.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// Commands of an endpoint driver.
pub(crate) enum Command {
    Respond(ServerTxId, Response, oneshot::Sender<Result<(), Error>>),
    Invite(Box<Invite>, oneshot::Sender<Result<CallHandle, Error>>),
    Cancel(CallHandle, oneshot::Sender<Result<(), Error>>),
    Bye(CallHandle, oneshot::Sender<Result<(), Error>>),
    ReInvite(CallHandle, Option<Body>, oneshot::Sender<Result<(), Error>>),
    Request(
        Box<OutOfDialogRequest>,
        oneshot::Sender<Result<ClientRequestId, Error>>,
    ),
    OptionsStatus(Option<u16>),
}

enum Inbound {
    Message(Bytes, Peer),
    Accepted(TcpStream, SocketAddr, Transport),
    Closed(ConnectionId),
    ConnectFailed(Transport, SocketAddr, Arc<ConnectError>),
}

/// A cheap, cloneable handle to a running driver.
#[derive(Clone, Debug)]
pub struct SipHandle {
    cmd: mpsc::Sender<Command>,
    local: Arc<Vec<LocalAddr>>,
    cancel: CancellationToken,
    failures: broadcast::Sender<ConnectFailure>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// The running driver: its handle, its events, and its core task.
#[must_use = "dropping the driver loses its events; call shutdown() to stop it"]
#[derive(Debug)]
pub struct SipDriver {
    /// Commands.
    pub handle: SipHandle,
    /// Events for the application, in order.
    pub events: mpsc::Receiver<Event>,
    /// The core task; it ends after [`SipHandle::shutdown`].
    pub task: JoinHandle<()>,
}

impl SipHandle {
    /// The bound local addresses (with the ports chosen for port 0).
    pub fn local_addrs(&self) -> &[LocalAddr] {
        &self.local
    }

    /// The bound address of `transport` in the family of `ipv4`, if any.
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.local
            .iter()
            .find(|l| l.transport == transport)
            .map(|l| l.addr)
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(make(tx))
            .await
            .map_err(|_| Error::DriverStopped)?;
        rx.await.map_err(|_| Error::DriverStopped)?
    }

    /// See [`Endpoint::respond`].
    pub async fn respond(&self, tx: ServerTxId, response: Response) -> Result<(), Error> {
        self.call(|r| Command::Respond(tx, response, r)).await
    }

    /// See [`Endpoint::invite`].
    pub async fn invite(&self, invite: Invite) -> Result<CallHandle, Error> {
        self.call(|r| Command::Invite(Box::new(invite), r)).await
    }

    /// See [`Endpoint::cancel`].
    pub async fn cancel(&self, call: CallHandle) -> Result<(), Error> {
        self.call(|r| Command::Cancel(call, r)).await
    }

    /// See [`Endpoint::bye`].
    pub async fn bye(&self, call: CallHandle) -> Result<(), Error> {
        self.call(|r| Command::Bye(call, r)).await
    }

    /// See [`Endpoint::reinvite`].
    pub async fn reinvite(&self, call: CallHandle, body: Option<Body>) -> Result<(), Error> {
        self.call(|r| Command::ReInvite(call, body, r)).await
    }

    /// See [`Endpoint::request`].
    pub async fn request(&self, request: OutOfDialogRequest) -> Result<ClientRequestId, Error> {
        self.call(|r| Command::Request(Box::new(request), r)).await
    }

    /// See [`Endpoint::set_options_status`] (200, 503 while draining, `None` to handle OPTIONS).
    pub async fn set_options_status(&self, status: Option<u16>) -> Result<(), Error> {
        self.cmd
            .send(Command::OptionsStatus(status))
            .await
            .map_err(|_| Error::DriverStopped)
    }

    /// Stops every task of the driver.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Outgoing connections that fail from now on, with their cause (a TLS certificate the
    /// client does not trust, a refused connection): the transactions towards them end with
    /// [`crate::EndReason::TransportError`] or a timeout, and this says why. Lagging receivers
    /// lose the oldest failures.
    pub fn connect_failures(&self) -> broadcast::Receiver<ConnectFailure> {
        self.failures.subscribe()
    }
}

/// Binds the sockets of `cfg` and starts the driver of an [`Endpoint`] (UAS and UAC).
pub async fn spawn(cfg: DriverConfig) -> Result<SipDriver, Error> {
    let sockets = bind(&cfg).await?;
    let mut endpoint_cfg = cfg.endpoint.clone();
    endpoint_cfg.local.extend(sockets.local.iter().copied());
    let local = Arc::new(endpoint_cfg.local.clone());
    let (cmd, events, task, cancel, failures) = start(cfg, sockets, Endpoint::new(endpoint_cfg));
    Ok(SipDriver {
        handle: SipHandle {
            cmd,
            local,
            cancel,
            failures,
        },
        events,
        task,
    })
}

/// Binds the sockets of `cfg` and starts the driver of a stateful [`Proxy`] (the dispatcher).
pub async fn spawn_proxy(cfg: DriverConfig, mut proxy: ProxyConfig) -> Result<ProxyDriver, Error> {
    let sockets = bind(&cfg).await?;
    proxy.local.extend(sockets.local.iter().copied());
    let local = Arc::new(proxy.local.clone());
    let (cmd, events, task, cancel, _) = start(cfg, sockets, Proxy::new(proxy));
    Ok(ProxyDriver {
        handle: ProxyHandle { cmd, local, cancel },
        events,
        task,
    })
}

struct Sockets {
    /// Each UDP socket with whether it is bound to an IPv4 address (looked up once, not per send).
    udp: Vec<(bool, Arc<UdpSocket>)>,
    streams: Vec<(TcpListener, Transport)>,
    local: Vec<LocalAddr>,
}

async fn bind(cfg: &DriverConfig) -> Result<Sockets, Error> {
    let mut sockets = Sockets {
        udp: Vec::new(),
        streams: Vec::new(),
        local: Vec::new(),
    };
    for addr in &cfg.udp {
        let io = |source| Error::Io {
            addr: *addr,
            source,
        };
        let socket = UdpSocket::bind(addr).await.map_err(io)?;
        // Bursts of INVITEs while thousands of RTP streams keep the workers busy overflowed the kernel's default
        // receive buffer (about 208 kB; docs/performance.md): ask for 4 MiB (capped at net.core.rmem_max).
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(UDP_RECEIVE_BUFFER);
        let bound = socket.local_addr().map_err(io)?;
        sockets.local.push(LocalAddr {
            transport: Transport::Udp,
            addr: advertised(bound, cfg.advertise),
        });
        sockets.udp.push((bound.is_ipv4(), Arc::new(socket)));
    }
    let tls = cfg.tls.iter().map(|a| (a, Transport::Tls));
    for (addr, transport) in cfg.tcp.iter().map(|a| (a, Transport::Tcp)).chain(tls) {
        if transport == Transport::Tls && cfg.tls_config.server.is_none() {
            return Err(Error::TlsNotConfigured { addr: *addr });
        }
        let io = |source| Error::Io {
            addr: *addr,
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(io)?;
        let bound = listener.local_addr().map_err(io)?;
        sockets.local.push(LocalAddr {
            transport,
            addr: advertised(bound, cfg.advertise),
        });
        sockets.streams.push((listener, transport));
    }
    // A TLS client without a TLS listener: name its first socket (see `SipTls`).
    if cfg.tls_config.client.is_some()
        && !sockets.local.iter().any(|l| l.transport == Transport::Tls)
        && let Some(first) = sockets.local.first()
    {
        sockets.local.push(LocalAddr {
            transport: Transport::Tls,
            addr: first.addr,
        });
    }
    Ok(sockets)
}

type Started<M> = (
    mpsc::Sender<<M as Machine>::Command>,
    mpsc::Receiver<<M as Machine>::Event>,
    JoinHandle<()>,
    CancellationToken,
    broadcast::Sender<ConnectFailure>,
);

/// Connection failures kept for slow subscribers.
const FAILURE_CAPACITY: usize = 64;

fn start<M: Machine>(cfg: DriverConfig, sockets: Sockets, machine: M) -> Started<M> {
    let cancel = CancellationToken::new();
    let cap = cfg.channel_capacity.max(1);
    let (in_tx, in_rx) = mpsc::channel(cap);
    for (_, socket) in &sockets.udp {
        tokio::spawn(udp_reader(
            socket.clone(),
            in_tx.clone(),
            cancel.child_token(),
        ));
    }
    for (listener, transport) in sockets.streams {
        tokio::spawn(stream::acceptor(
            listener,
            transport,
            in_tx.clone(),
            cancel.child_token(),
        ));
    }
    let (cmd_tx, cmd_rx) = mpsc::channel(cap);
    let (ev_tx, ev_rx) = mpsc::channel(cap);
    let (failures, _) = broadcast::channel(FAILURE_CAPACITY);
    let tls = Arc::new(TlsRuntime {
        acceptor: cfg.tls_config.server.clone().map(TlsAcceptor::from),
        client: cfg.tls_config.client.clone(),
        server_name: cfg.tls_config.server_name.clone(),
        handshake_timeout: cfg.tls_config.handshake_timeout,
    });
    let core = Core {
        machine,
        udp: sockets.udp,
        connections: HashMap::new(),
        by_addr: HashMap::new(),
        next_conn: 1,
        in_tx,
        events: ev_tx,
        cfg,
        tls,
        failures: failures.clone(),
        cancel: cancel.clone(),
    };
    let task = tokio::spawn(core.run(in_rx, cmd_rx));
    (cmd_tx, ev_rx, task, cancel, failures)
}

/// What a sans-IO machine gives its driver.
enum MachineOutput<E> {
    Transmit(Transmit),
    Event(E),
}

/// The sans-IO machines a driver can run: the [`Endpoint`] and the [`Proxy`].
trait Machine: Send + 'static {
    type Command: Send + 'static;
    type Event: Send + 'static;
    fn handle_message(&mut self, now: std::time::Instant, bytes: &[u8], peer: Peer);
    fn handle_connection_closed(&mut self, id: ConnectionId);
    fn handle_transport_error(
        &mut self,
        now: std::time::Instant,
        transport: Transport,
        addr: SocketAddr,
    );
    fn handle_timeout(&mut self, now: std::time::Instant);
    fn poll_timeout(&self) -> Option<std::time::Instant>;
    fn poll_output(&mut self) -> Option<MachineOutput<Self::Event>>;
    fn handle_command(&mut self, now: std::time::Instant, cmd: Self::Command);
}

impl Machine for Endpoint {
    type Command = Command;
    type Event = Event;
    fn handle_message(&mut self, now: std::time::Instant, bytes: &[u8], peer: Peer) {
        Endpoint::handle_message(self, now, bytes, peer);
    }
    fn handle_connection_closed(&mut self, id: ConnectionId) {
        Endpoint::handle_connection_closed(self, id);
    }
    fn handle_transport_error(
        &mut self,
        now: std::time::Instant,
        transport: Transport,
        addr: SocketAddr,
    ) {
        Endpoint::handle_transport_error(self, now, transport, addr);
    }
    fn handle_timeout(&mut self, now: std::time::Instant) {
        Endpoint::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        Endpoint::poll_timeout(self)
    }
    fn poll_output(&mut self) -> Option<MachineOutput<Event>> {
        Endpoint::poll_output(self).map(|o| match o {
            Output::Transmit(t) => MachineOutput::Transmit(t),
            Output::Event(e) => MachineOutput::Event(e),
        })
    }
    fn handle_command(&mut self, now: std::time::Instant, cmd: Command) {
        match cmd {
            Command::Respond(tx, response, reply) => {
                drop(reply.send(self.respond(now, tx, response)))
            }
            Command::Invite(invite, reply) => drop(reply.send(self.invite(now, *invite))),
            Command::Cancel(call, reply) => drop(reply.send(self.cancel(now, call))),
            Command::Bye(call, reply) => drop(reply.send(self.bye(now, call))),
            Command::ReInvite(call, body, reply) => {
                drop(reply.send(self.reinvite(now, call, body)))
            }
            Command::Request(request, reply) => drop(reply.send(self.request(now, *request))),
            Command::OptionsStatus(status) => self.set_options_status(status),
        }
    }
}

enum ProxyCommand {
    Forward(
        ProxyTxId,
        Peer,
        Option<String>,
        oneshot::Sender<Result<(), Error>>,
    ),
    Respond(ProxyTxId, u16, oneshot::Sender<Result<(), Error>>),
    Finish(ProxyTxId, oneshot::Sender<Result<(), Error>>),
}

impl std::fmt::Debug for ProxyCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyCommand")
    }
}

impl Machine for Proxy {
    type Command = ProxyCommand;
    type Event = ProxyEvent;
    fn handle_message(&mut self, now: std::time::Instant, bytes: &[u8], peer: Peer) {
        Proxy::handle_message(self, now, bytes, peer);
    }
    fn handle_connection_closed(&mut self, _id: ConnectionId) {}
    fn handle_transport_error(
        &mut self,
        now: std::time::Instant,
        transport: Transport,
        addr: SocketAddr,
    ) {
        Proxy::handle_transport_error(self, now, transport, addr);
    }
    fn handle_timeout(&mut self, now: std::time::Instant) {
        Proxy::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        Proxy::poll_timeout(self)
    }
    fn poll_output(&mut self) -> Option<MachineOutput<ProxyEvent>> {
        Proxy::poll_output(self).map(|o| match o {
            ProxyOutput::Transmit(t) => MachineOutput::Transmit(t),
            ProxyOutput::Event(e) => MachineOutput::Event(e),
        })
    }
    fn handle_command(&mut self, now: std::time::Instant, cmd: ProxyCommand) {
        match cmd {
            ProxyCommand::Forward(id, peer, uri, reply) => {
                drop(reply.send(self.forward(now, id, peer, uri)))
            }
            ProxyCommand::Respond(id, code, reply) => drop(reply.send(self.respond(now, id, code))),
            ProxyCommand::Finish(id, reply) => drop(reply.send(self.finish(now, id))),
        }
    }
}

/// A cheap, cloneable handle to a running proxy driver.
#[derive(Clone, Debug)]
pub struct ProxyHandle {
    cmd: mpsc::Sender<ProxyCommand>,
    local: Arc<Vec<LocalAddr>>,
    cancel: CancellationToken,
}

/// The running proxy driver.
#[must_use = "dropping the driver loses its events; call shutdown() to stop it"]
#[derive(Debug)]
pub struct ProxyDriver {
    /// Commands.
    pub handle: ProxyHandle,
    /// Events ([`ProxyEvent::NewRequest`], [`ProxyEvent::BranchFailed`]).
    pub events: mpsc::Receiver<ProxyEvent>,
    /// The core task.
    pub task: JoinHandle<()>,
}

impl ProxyHandle {
    /// The bound local addresses.
    pub fn local_addrs(&self) -> &[LocalAddr] {
        &self.local
    }

    async fn call(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), Error>>) -> ProxyCommand,
    ) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(make(tx))
            .await
            .map_err(|_| Error::DriverStopped)?;
        rx.await.map_err(|_| Error::DriverStopped)?
    }

    /// See [`Proxy::forward`].
    pub async fn forward(
        &self,
        id: ProxyTxId,
        target: Peer,
        request_uri: Option<String>,
    ) -> Result<(), Error> {
        self.call(|r| ProxyCommand::Forward(id, target, request_uri, r))
            .await
    }

    /// See [`Proxy::respond`].
    pub async fn respond(&self, id: ProxyTxId, code: u16) -> Result<(), Error> {
        self.call(|r| ProxyCommand::Respond(id, code, r)).await
    }

    /// See [`Proxy::finish`].
    pub async fn finish(&self, id: ProxyTxId) -> Result<(), Error> {
        self.call(|r| ProxyCommand::Finish(id, r)).await
    }

    /// Stops every task of the driver.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

/// The bound address, with a wildcard IP replaced by the advertised one.
fn advertised(bound: SocketAddr, advertise: Option<std::net::IpAddr>) -> SocketAddr {
    match advertise {
        Some(ip) if bound.ip().is_unspecified() => SocketAddr::new(ip, bound.port()),
        _ => bound,
    }
}

struct Connection {
    transport: Transport,
    addr: SocketAddr,
    tx: mpsc::Sender<Bytes>,
}

struct Core<M: Machine> {
    machine: M,
    udp: Vec<(bool, Arc<UdpSocket>)>,
    connections: HashMap<ConnectionId, Connection>,
    by_addr: HashMap<(Transport, SocketAddr), ConnectionId>,
    next_conn: u64,
    in_tx: mpsc::Sender<Inbound>,
    events: mpsc::Sender<M::Event>,
    cfg: DriverConfig,
    tls: Arc<TlsRuntime>,
    failures: broadcast::Sender<ConnectFailure>,
    cancel: CancellationToken,
}

impl<M: Machine> Core<M> {
    async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::Receiver<M::Command>,
    ) {
        loop {
            if self.events.is_closed() {
                // The application dropped its event receiver: nobody can answer requests.
                break;
            }
            let deadline = self.machine.poll_timeout().map(Instant::from_std);
            tokio::select! {
                () = self.cancel.cancelled() => break,
                Some(msg) = inbound.recv() => self.handle_inbound(msg),
                Some(cmd) = commands.recv() => self.machine.handle_command(Instant::now().into_std(), cmd),
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.machine.handle_timeout(Instant::now().into_std());
                }
            }
            if !self.drain().await {
                break;
            }
        }
        self.cancel.cancel();
    }

    fn handle_inbound(&mut self, msg: Inbound) {
        let now = Instant::now().into_std();
        match msg {
            Inbound::Message(bytes, peer) => self.machine.handle_message(now, &bytes, peer),
            Inbound::Accepted(stream, addr, transport) => {
                if self
                    .connections
                    .values()
                    .filter(|c| c.addr.ip() == addr.ip())
                    .count()
                    >= self.cfg.max_connections_per_ip
                {
                    tracing::warn!(peer = %addr, %transport, limit = self.cfg.max_connections_per_ip, "refusing connection over the per-ip limit");
                    return;
                }
                self.start_connection(transport, addr, Some(stream));
            }
            Inbound::Closed(id) => {
                if let Some(conn) = self.connections.remove(&id) {
                    let key = (conn.transport, conn.addr);
                    if self.by_addr.get(&key) == Some(&id) {
                        self.by_addr.remove(&key);
                    }
                }
                self.machine.handle_connection_closed(id);
            }
            Inbound::ConnectFailed(transport, addr, error) => {
                let _ = self.failures.send(ConnectFailure {
                    transport,
                    addr,
                    error,
                });
                self.machine.handle_transport_error(now, transport, addr)
            }
        }
    }

    /// Sends every pending output; `false` when the application dropped its event receiver.
    async fn drain(&mut self) -> bool {
        while let Some(out) = self.machine.poll_output() {
            match out {
                MachineOutput::Transmit(t) => self.transmit(t).await,
                MachineOutput::Event(event) => {
                    if self.events.send(event).await.is_err() {
                        return false;
                    }
                }
            }
        }
        true
    }

    async fn transmit(&mut self, t: Transmit) {
        match t.peer.transport {
            Transport::Udp => {
                let socket = self
                    .udp
                    .iter()
                    .find(|(ipv4, _)| *ipv4 == t.peer.addr.is_ipv4())
                    .map(|(_, s)| s);
                match socket {
                    Some(socket) => {
                        if let Err(e) = socket.send_to(&t.payload, t.peer.addr).await {
                            tracing::warn!(peer = %t.peer.addr, error = %e, "udp send failed");
                        }
                    }
                    None => {
                        tracing::warn!(peer = %t.peer.addr, "no udp socket of the peer's address family")
                    }
                }
            }
            transport @ (Transport::Tcp | Transport::Tls) => {
                let id = t
                    .peer
                    .connection
                    .filter(|id| {
                        self.connections
                            .get(id)
                            .is_some_and(|c| c.transport == transport)
                    })
                    .or_else(|| self.by_addr.get(&(transport, t.peer.addr)).copied())
                    .unwrap_or_else(|| self.start_connection(transport, t.peer.addr, None));
                if let Some(conn) = self.connections.get(&id)
                    && conn.tx.try_send(t.payload).is_err()
                {
                    tracing::warn!(peer = %t.peer.addr, %transport, "connection queue full or closed; message dropped");
                }
            }
        }
    }

    fn start_connection(
        &mut self,
        transport: Transport,
        addr: SocketAddr,
        stream: Option<TcpStream>,
    ) -> ConnectionId {
        let id = ConnectionId(self.next_conn);
        self.next_conn += 1;
        let (tx, rx) = mpsc::channel(self.cfg.channel_capacity.max(1));
        self.connections.insert(
            id,
            Connection {
                transport,
                addr,
                tx,
            },
        );
        self.by_addr.insert((transport, addr), id);
        let task = ConnectionTask {
            id,
            transport,
            addr,
            limits: self.cfg.endpoint.limits,
            idle: self.cfg.tcp_idle_timeout,
            message_timeout: self.cfg.tcp_message_timeout,
            connect_timeout: self.cfg.tcp_connect_timeout,
            tls: self.tls.clone(),
            inbound: self.in_tx.clone(),
            out: rx,
            cancel: self.cancel.child_token(),
        };
        tokio::spawn(task.run(stream));
        id
    }
}

async fn udp_reader(
    socket: Arc<UdpSocket>,
    inbound: mpsc::Sender<Inbound>,
    cancel: CancellationToken,
) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = tokio::select! {
            () = cancel.cancelled() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors surface here on some systems; keep reading.
                    tracing::debug!(error = %e, "udp receive error");
                    continue;
                }
            },
        };
        let data = buf.get(..n).unwrap_or_default();
        // RFC 5626 §4.4.1 keep-alives and empty datagrams carry no message.
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let peer = Peer {
            transport: Transport::Udp,
            addr: from,
            connection: None,
        };
        if inbound
            .send(Inbound::Message(Bytes::copy_from_slice(data), peer))
            .await
            .is_err()
        {
            return;
        }
    }
}
