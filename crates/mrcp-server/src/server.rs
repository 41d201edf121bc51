//! The server: binds SIP (UDP, TCP and, with `[tls]`, TLS), the MRCP control listeners (TCP and TLS, see
//! [`crate::tls`]) and the RTP port range, and runs the SIP
//! loop that turns each INVITE into a session actor; serves `/metrics` and `/healthz` ([`crate::http`]); and
//! drains on request (issue 10): OPTIONS and new INVITEs get 503 while running sessions finish.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mrcp_media::endpoint::{PortAllocator, PortRange};
use mrcp_proto::mrcp::codec::Limits;
use mrcp_sip::driver::{DriverConfig, SipDriver, SipHandle, SipTls, spawn};
use mrcp_sip::{CallHandle, EndpointConfig, Event, Response, Transport};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::access::AllowList;
use crate::config::{Config, ConfigError, RecognizerDefaults};
use crate::control::{self, ControlConfig, SessionRegistry};
use crate::digest::{AuthOutcome, DigestAuth};
use crate::engines::Engines;
use crate::http::{self, HttpState};
use crate::limits::{SourceLimiter, SourceSlot};
use crate::metrics;
use crate::session::{self, SessionCommand};
use crate::tls::{self, ServerTls};

/// Commands queued for one session from the SIP loop.
const SESSION_COMMAND_CAPACITY: usize = 8;

/// Retry-After (seconds) of a 503 at capacity: sessions end often, so soon (RFC 3261 §20.33).
const RETRY_AFTER_BUSY: &str = "5";

/// How long [`Server::shutdown`] waits for ended sessions to send their BYE before the SIP layer stops.
const BYE_GRACE: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The SIP sockets could not be bound.
    #[error("cannot start SIP on {addr}: {source}")]
    Sip {
        /// The address.
        addr: SocketAddr,
        /// The SIP layer's error.
        source: mrcp_sip::Error,
    },
    /// The MRCP listener could not be bound.
    #[error("cannot listen for MRCP on {addr}: {source}")]
    Mrcp {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS certificate, key or client CA of `[tls]` is unusable.
    #[error("{0}")]
    Tls(ConfigError),
    /// A SIP digest password could not be read.
    #[error(transparent)]
    Credentials(#[from] crate::digest::CredentialError),
    /// The HTTP (metrics and health) listener could not be bound.
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `[fetch]` section could not be turned into an HTTP client.
    #[error("{0}")]
    Fetch(#[from] crate::config::ConfigError),
}

/// What every session shares: configuration, the registry, the port pool, the SIP handle and the engines.
pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    pub(crate) registry: Arc<SessionRegistry>,
    pub(crate) ports: Mutex<PortAllocator>,
    pub(crate) sip: SipHandle,
    pub(crate) engines: Arc<Engines>,
    pub(crate) recognizer_defaults: Arc<RecognizerDefaults>,
    /// Fetches grammars and prompts named by URI, under `[fetch]`.
    pub(crate) fetcher: crate::fetch::Fetcher,
    /// The address written in SDP for clients to reach MRCP and RTP.
    pub(crate) advertise: IpAddr,
    /// The address RTP sockets bind to.
    pub(crate) rtp_ip: IpAddr,
    /// The MRCP listener's port.
    pub(crate) mrcp_port: u16,
    /// The MRCP-over-TLS listener's port and our certificate's fingerprint, with `[tls]`.
    pub(crate) mrcp_tls: Option<(u16, String)>,
    active: AtomicUsize,
    /// Notified each time a session ends, for the drain.
    ended: Notify,
    /// Cancelled when the server starts draining.
    draining: CancellationToken,
}

impl Shared {
    /// Takes a session slot; `false` when the server is at `max_sessions`.
    fn try_begin_session(&self) -> bool {
        let max = self.config.server.max_sessions;
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .inspect(|_| metrics::global().session_started())
            .is_ok()
    }

    /// Gives a session slot back.
    pub(crate) fn session_ended(&self) {
        let _ = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .inspect(|_| metrics::global().session_released());
        // A stored permit when nobody waits: the drain loop re-checks the count, so nothing is missed.
        self.ended.notify_one();
    }

    /// Sessions running now.
    pub fn active_sessions(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// A new MRCP session id (64 random bits as hex, RFC 6787 §6.2.1) and the SDP `o=` session id.
    pub(crate) fn new_session_id(&self) -> (String, u64) {
        let bits = self.random_u64();
        (format!("{bits:016x}"), bits >> 1)
    }

    pub(crate) fn random_u64(&self) -> u64 {
        rand::random()
    }
}

/// A running server.
pub struct Server {
    /// Bound SIP addresses, per transport.
    pub sip_addrs: Vec<(Transport, SocketAddr)>,
    /// The bound MRCP address.
    pub mrcp_addr: SocketAddr,
    /// The bound MRCP-over-TLS address, with `[tls]`.
    pub mrcp_tls_addr: Option<SocketAddr>,
    /// The bound address of `/metrics` and `/healthz`.
    pub http_addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds every listener and starts serving.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let config = Arc::new(config);
        let server_tls = ServerTls::load(&config.tls).map_err(StartError::Tls)?;
        let sip_addr = config.sip.listen;
        let listen_ip = sip_addr.ip();
        let advertise = config
            .server
            .advertise
            .unwrap_or(if listen_ip.is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                listen_ip
            });
        let digest = config
            .access
            .digest
            .as_ref()
            .map(DigestAuth::from_config)
            .transpose()?;
        let driver = spawn(DriverConfig {
            advertise: Some(advertise),
            udp: if config.sip.udp {
                vec![sip_addr]
            } else {
                Vec::new()
            },
            tcp: if config.sip.tcp {
                vec![sip_addr]
            } else {
                Vec::new()
            },
            tls: server_tls.iter().map(|t| t.sip_listen).collect(),
            tls_config: SipTls {
                server: server_tls.as_ref().map(|t| t.config.clone()),
                handshake_timeout: config.tls.handshake_timeout(),
                ..SipTls::default()
            },
            endpoint: EndpointConfig {
                user_agent: format!("open-mrcp/{}", env!("CARGO_PKG_VERSION")),
                // OPTIONS come to the SIP loop, which answers 200 or 503 (draining, full) with the load.
                options_status: None,
                ..EndpointConfig::default()
            },
            tcp_idle_timeout: Duration::from_secs(config.limits.sip_tcp_idle_timeout_s),
            tcp_message_timeout: config.limits.tcp_message_timeout(),
            ..DriverConfig::default()
        })
        .await
        .map_err(|source| StartError::Sip {
            addr: sip_addr,
            source,
        })?;
        let mrcp_listener = TcpListener::bind(config.mrcp.listen)
            .await
            .map_err(|source| StartError::Mrcp {
                addr: config.mrcp.listen,
                source,
            })?;
        let mrcp_addr = mrcp_listener
            .local_addr()
            .map_err(|source| StartError::Mrcp {
                addr: config.mrcp.listen,
                source,
            })?;
        let mrcp_tls = match &server_tls {
            Some(t) => {
                let bind_error = |source| StartError::Mrcp {
                    addr: t.mrcp_listen,
                    source,
                };
                let listener = TcpListener::bind(t.mrcp_listen).await.map_err(bind_error)?;
                let addr = listener.local_addr().map_err(bind_error)?;
                Some((listener, addr, t.clone()))
            }
            None => None,
        };
        let mrcp_tls_addr = mrcp_tls.as_ref().map(|(_, addr, _)| *addr);
        let http_listener = TcpListener::bind(config.http.listen)
            .await
            .map_err(|source| StartError::Http {
                addr: config.http.listen,
                source,
            })?;
        let http_addr = http_listener
            .local_addr()
            .map_err(|source| StartError::Http {
                addr: config.http.listen,
                source,
            })?;
        metrics::global().set_capacity(config.server.max_sessions);
        metrics::global().set_rtp_range(config.rtp.ports.min, config.rtp.ports.max);
        if config.server.advertise.is_none() && listen_ip.is_unspecified() {
            warn!(%advertise, "listening on all addresses without --advertise: SDP answers name {advertise}; set --advertise to the address clients reach");
        }
        let engines = Arc::new(Engines::from_config(&config).await);
        metrics::global().set_tts_cache(engines.tts_cache().cloned());
        let fetcher = crate::fetch::Fetcher::new(&config.fetch)?;
        let registry = Arc::new(SessionRegistry::new());
        let range = PortRange::new(config.rtp.ports.min, config.rtp.ports.max);
        let shared = Arc::new(Shared {
            registry: registry.clone(),
            ports: Mutex::new(PortAllocator::new(range)),
            sip: driver.handle.clone(),
            engines,
            recognizer_defaults: Arc::new(config.recognizer.clone()),
            fetcher,
            advertise,
            rtp_ip: listen_ip,
            mrcp_port: mrcp_addr.port(),
            mrcp_tls: mrcp_tls
                .as_ref()
                .map(|(_, addr, t)| (addr.port(), t.fingerprint.clone())),
            active: AtomicUsize::new(0),
            ended: Notify::new(),
            draining: CancellationToken::new(),
            config: config.clone(),
        });
        let sip_addrs = driver
            .handle
            .local_addrs()
            .iter()
            .map(|l| (l.transport, l.addr))
            .collect();
        let shutdown = CancellationToken::new();
        let control_config = ControlConfig {
            limits: Limits {
                max_body: config.mrcp.max_message_bytes,
                max_header_section: config.limits.mrcp_max_header_bytes,
                max_start_line: Limits::default()
                    .max_start_line
                    .min(config.limits.mrcp_max_header_bytes),
                ..Limits::default()
            },
            tls: false,
            allow: config.access.mrcp_allow.clone(),
            per_source: SourceLimiter::new(config.limits.mrcp_max_connections_per_source),
            message_timeout: config.limits.tcp_message_timeout(),
        };
        let gate = SipGate {
            allow: config.access.sip_allow.clone(),
            digest,
            per_source: SourceLimiter::new(config.limits.max_sessions_per_source),
            retry_after: config.limits.retry_after_s.to_string(),
        };
        let mut tasks = Vec::new();
        if let Some((listener, _, server_tls)) = mrcp_tls {
            tasks.push(tokio::spawn(tls::serve_mrcp(
                listener,
                server_tls,
                registry.clone(),
                ControlConfig {
                    tls: true,
                    ..control_config.clone()
                },
                shutdown.clone(),
            )));
        }
        tasks.extend([
            tokio::spawn(control::serve(
                mrcp_listener,
                registry,
                control_config,
                shutdown.clone(),
            )),
            tokio::spawn(sip_loop(driver, shared.clone(), gate, shutdown.clone())),
            tokio::spawn(http::serve(
                http_listener,
                HttpState {
                    draining: shared.draining.clone(),
                    allow: config.access.http_allow.clone(),
                },
                shutdown.clone(),
            )),
        ]);
        info!(sip = %sip_addr, mrcp = %mrcp_addr, mrcp_tls = ?mrcp_tls_addr, http = %http_addr, %advertise, "open-mrcp server started");
        Ok(Server {
            sip_addrs,
            mrcp_addr,
            mrcp_tls_addr,
            http_addr,
            shared,
            shutdown,
            tasks,
        })
    }

    /// The bound SIP address of a transport.
    pub fn sip_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.sip_addrs
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }

    /// Sessions running now.
    pub fn active_sessions(&self) -> usize {
        self.shared.active_sessions()
    }

    /// Whether [`Server::drain`] has begun.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.is_cancelled()
    }

    /// Graceful drain (issue 10): from now on OPTIONS and new INVITEs get 503 with Retry-After, so balancers
    /// take this server out of rotation, and `/healthz` answers 503. Running sessions go on until they end
    /// or `deadline` passes; then the rest are ended with BYE and the server stops.
    pub async fn drain(self, deadline: Duration) {
        let until = tokio::time::Instant::now() + deadline;
        self.shared.draining.cancel();
        metrics::global().set_draining(true);
        info!(
            sessions = self.active_sessions(),
            deadline_s = deadline.as_secs(),
            "draining"
        );
        if wait_for_sessions(&self.shared, until).await {
            info!("drained: every session ended");
        } else {
            warn!(
                sessions = self.active_sessions(),
                "drain deadline passed: ending the remaining sessions"
            );
        }
        self.shutdown().await;
    }

    /// Stops accepting, ends every session (with BYE) and waits for the tasks.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        // Sessions were told to stop; let them send their BYE before the SIP layer goes.
        let _ = wait_for_sessions(&self.shared, tokio::time::Instant::now() + BYE_GRACE).await;
        self.shared.sip.shutdown();
    }
}

/// Waits until no session runs (`true`) or `until` passes (`false`).
async fn wait_for_sessions(shared: &Shared, until: tokio::time::Instant) -> bool {
    while shared.active_sessions() > 0 {
        tokio::select! {
            () = shared.ended.notified() => {}
            () = tokio::time::sleep_until(until) => return shared.active_sessions() == 0,
        }
    }
    true
}

/// Sends a response without waiting in the SIP loop: the driver's core blocks while its event channel is full,
/// so a loop that awaited its own commands there could deadlock under load.
fn respond_later(sip: &SipHandle, tx: mrcp_sip::ServerTxId, response: Response) {
    let sip = sip.clone();
    tokio::spawn(async move {
        if let Err(error) = sip.respond(tx, response).await {
            warn!(%error, "cannot send a SIP response");
        }
    });
}

/// Hands a command to a session without blocking the SIP loop (for the same reason as [`respond_later`]); a
/// session whose queue is full gets it from a task of its own.
fn forward(session: &mpsc::Sender<SessionCommand>, command: SessionCommand) {
    if let Err(mpsc::error::TrySendError::Full(command)) = session.try_send(command) {
        let session = session.clone();
        tokio::spawn(async move {
            let _ = session.send(command).await;
        });
    }
}

/// A running call as the SIP loop sees it: the session's queue, and the slot its source holds.
struct Call {
    commands: mpsc::Sender<SessionCommand>,
    _source: SourceSlot,
}

/// Turns SIP events into sessions and session commands.
async fn sip_loop(
    mut driver: SipDriver,
    shared: Arc<Shared>,
    mut gate: SipGate,
    shutdown: CancellationToken,
) {
    let mut calls: HashMap<CallHandle, Call> = HashMap::new();
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            event = driver.events.recv() => match event {
                Some(event) => event,
                None => break,
            },
        };
        match event {
            Event::IncomingInvite {
                call,
                tx,
                request,
                peer,
            } => {
                // Sessions that ended give their source's slot back before this one is counted.
                calls.retain(|_, c| !c.commands.is_closed());
                let source = match gate.admit(std::time::Instant::now(), peer.addr, &request) {
                    Admission::Admitted(slot) => slot,
                    Admission::Refused(response) => {
                        metrics::invite_rejected(response.code);
                        respond_later(&shared.sip, tx, response);
                        continue;
                    }
                };
                let refusal = if shared.draining.is_cancelled() {
                    Some(drain_retry_after(&shared))
                } else if !shared.try_begin_session() {
                    Some(RETRY_AFTER_BUSY.to_owned())
                } else {
                    None
                };
                if let Some(retry_after) = refusal {
                    // Draining or at capacity: refuse at once so the client or balancer tries elsewhere
                    // (RFC 3261 §21.5.4); never stay silent.
                    let mut response = Response::status(503);
                    response
                        .headers
                        .push(("Retry-After".to_owned(), retry_after));
                    respond_later(&shared.sip, tx, response);
                    metrics::invite_rejected(503);
                    continue;
                }
                let (commands_tx, commands_rx) = mpsc::channel(SESSION_COMMAND_CAPACITY);
                calls.insert(
                    call,
                    Call {
                        commands: commands_tx,
                        _source: source,
                    },
                );
                tokio::spawn(session::run(shared.clone(), call, tx, request, commands_rx));
            }
            Event::ReInvite { call, tx, request } => match calls.get(&call) {
                Some(session) => {
                    forward(&session.commands, SessionCommand::ReInvite { tx, request });
                }
                // §12.2.2: no such dialog here.
                None => {
                    respond_later(&shared.sip, tx, Response::status(481));
                }
            },
            Event::Terminated { call, reason } => {
                if let Some(session) = calls.remove(&call) {
                    forward(&session.commands, SessionCommand::Terminated(reason));
                }
            }
            Event::Options { tx, peer, .. } => {
                // A source outside the allow-list learns nothing, not even the load.
                let response = if gate.allows(peer.addr) {
                    options_response(&shared)
                } else {
                    warn!(source = %peer.addr, "OPTIONS refused: source not in access.sip_allow");
                    metrics::global().refused("sip", "access");
                    Response::status(403)
                };
                respond_later(&shared.sip, tx, response);
            }
            _ => {}
        }
        calls.retain(|_, session| !session.commands.is_closed());
    }
    for session in calls.values() {
        let _ = session.commands.send(SessionCommand::Shutdown).await;
    }
}

/// Retry-After of a 503 while draining: the configured drain time, after which this instance is gone.
fn drain_retry_after(shared: &Shared) -> String {
    shared.config.server.drain_timeout_s.to_string()
}

/// The answer to OPTIONS (RFC 3261 §11.2): 200 while serving; 503 with Retry-After while draining or full, so
/// Kamailio and OpenSIPS probing take the server out of rotation. `X-Load: <active>/<max>` lets a balancer
/// or `mrcp-dispatcher` weigh servers by load.
fn options_response(shared: &Shared) -> Response {
    let active = shared.active_sessions();
    let max = shared.config.server.max_sessions;
    let mut response = if shared.draining.is_cancelled() {
        let mut r = Response::status(503);
        r.headers
            .push(("Retry-After".to_owned(), drain_retry_after(shared)));
        r
    } else if active >= max {
        let mut r = Response::status(503);
        r.headers
            .push(("Retry-After".to_owned(), RETRY_AFTER_BUSY.to_owned()));
        r
    } else {
        Response::status(200)
    };
    response
        .headers
        .push(("Accept".to_owned(), "application/sdp".to_owned()));
    response
        .headers
        .push(("X-Load".to_owned(), format!("{active}/{max}")));
    response
}

/// What an INVITE must pass before a session is considered: the SIP allow-list (403), digest authentication
/// (401) and the per-source session limit (503 with Retry-After, see [`crate::limits`]).
struct SipGate {
    allow: AllowList,
    digest: Option<DigestAuth>,
    per_source: SourceLimiter,
    retry_after: String,
}

enum Admission {
    Admitted(SourceSlot),
    Refused(Response),
}

impl SipGate {
    /// Whether `source` is in `access.sip_allow`.
    fn allows(&self, source: SocketAddr) -> bool {
        self.allow.allows(source.ip())
    }

    fn admit(
        &mut self,
        now: std::time::Instant,
        source: SocketAddr,
        request: &mrcp_sip::Message,
    ) -> Admission {
        if !self.allows(source) {
            warn!(%source, "INVITE refused: source not in access.sip_allow");
            metrics::global().refused("sip", "access");
            return Admission::Refused(Response::status(403));
        }
        if let Some(digest) = &mut self.digest {
            let method = request.method().unwrap_or("INVITE");
            match digest.check(now, method, request.headers_named("Authorization")) {
                AuthOutcome::Authorized { user } => {
                    tracing::debug!(%source, user, "INVITE authenticated");
                }
                AuthOutcome::Challenge {
                    www_authenticate,
                    reason,
                } => {
                    // A first INVITE without credentials is the normal start of the exchange.
                    if reason != crate::digest::RefusalReason::Missing {
                        warn!(%source, reason = reason.as_str(), "INVITE credentials refused");
                        metrics::global().refused("sip", "auth");
                    }
                    let mut response = Response::status(401);
                    for value in www_authenticate {
                        response
                            .headers
                            .push(("WWW-Authenticate".to_owned(), value));
                    }
                    return Admission::Refused(response);
                }
            }
        }
        match self.per_source.try_take(source.ip()) {
            Some(slot) => Admission::Admitted(slot),
            None => {
                warn!(%source, "INVITE refused: limits.max_sessions_per_source reached");
                metrics::global().refused("sip", "per_source");
                let mut response = Response::status(503);
                response
                    .headers
                    .push(("Retry-After".to_owned(), self.retry_after.clone()));
                Admission::Refused(response)
            }
        }
    }
}
