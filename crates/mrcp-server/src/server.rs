//! The server: binds SIP (UDP and TCP), the MRCP control listener and the RTP port range, and runs the SIP
//! loop that turns each INVITE into a session actor.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mrcp_media::endpoint::{PortAllocator, PortRange};
use mrcp_proto::mrcp::codec::Limits;
use mrcp_sip::driver::{DriverConfig, SipDriver, SipHandle, spawn};
use mrcp_sip::{CallHandle, EndpointConfig, Event, Response, Transport};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Config, RecognizerDefaults};
use crate::control::{self, ControlConfig, SessionRegistry};
use crate::engines::Engines;
use crate::session::{self, SessionCommand};

/// Commands queued for one session from the SIP loop.
const SESSION_COMMAND_CAPACITY: usize = 8;

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
}

/// What every session shares: configuration, the registry, the port pool, the SIP handle and the engines.
pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    pub(crate) registry: Arc<SessionRegistry>,
    pub(crate) ports: Mutex<PortAllocator>,
    pub(crate) sip: SipHandle,
    pub(crate) engines: Arc<Engines>,
    pub(crate) recognizer_defaults: Arc<RecognizerDefaults>,
    /// The address written in SDP for clients to reach MRCP and RTP.
    pub(crate) advertise: IpAddr,
    /// The address RTP sockets bind to.
    pub(crate) rtp_ip: IpAddr,
    /// The MRCP listener's port.
    pub(crate) mrcp_port: u16,
    active: AtomicUsize,
}

impl Shared {
    /// Takes a session slot; `false` when the server is at `max_sessions`.
    fn try_begin_session(&self) -> bool {
        let max = self.config.server.max_sessions;
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives a session slot back.
    pub(crate) fn session_ended(&self) {
        let _ = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
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
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds every listener and starts serving.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let config = Arc::new(config);
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
            endpoint: EndpointConfig {
                user_agent: format!("open-mrcp/{}", env!("CARGO_PKG_VERSION")),
                options_status: Some(200),
                // Tags, branches and Call-IDs derive from the seed (RFC 3261 §8.1.1.4, §19.3): unique per process.
                seed: rand::random(),
                ..EndpointConfig::default()
            },
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
        if config.server.advertise.is_none() && listen_ip.is_unspecified() {
            warn!(%advertise, "listening on all addresses without --advertise: SDP answers name {advertise}; set --advertise to the address clients reach");
        }
        let engines = Arc::new(Engines::from_config(&config).await);
        let registry = Arc::new(SessionRegistry::new());
        let range = PortRange::new(config.rtp.ports.min, config.rtp.ports.max);
        let shared = Arc::new(Shared {
            registry: registry.clone(),
            ports: Mutex::new(PortAllocator::new(range)),
            sip: driver.handle.clone(),
            engines,
            recognizer_defaults: Arc::new(config.recognizer.clone()),
            advertise,
            rtp_ip: listen_ip,
            mrcp_port: mrcp_addr.port(),
            active: AtomicUsize::new(0),
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
                ..Limits::default()
            },
        };
        let tasks = vec![
            tokio::spawn(control::serve(
                mrcp_listener,
                registry,
                control_config,
                shutdown.clone(),
            )),
            tokio::spawn(sip_loop(driver, shared.clone(), shutdown.clone())),
        ];
        info!(sip = %sip_addr, mrcp = %mrcp_addr, %advertise, "open-mrcp server started");
        Ok(Server {
            sip_addrs,
            mrcp_addr,
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

    /// Stops accepting, ends every session (with BYE) and waits for the tasks.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.shared.sip.shutdown();
    }
}

/// Turns SIP events into sessions and session commands.
async fn sip_loop(mut driver: SipDriver, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut calls: HashMap<CallHandle, mpsc::Sender<SessionCommand>> = HashMap::new();
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
                call, tx, request, ..
            } => {
                if !shared.try_begin_session() {
                    // At capacity: refuse at once so the client or balancer tries elsewhere (RFC 3261 §21.5.4).
                    let mut response = Response::status(503);
                    response
                        .headers
                        .push(("Retry-After".to_owned(), "5".to_owned()));
                    let _ = shared.sip.respond(tx, response).await;
                    continue;
                }
                let (commands_tx, commands_rx) = mpsc::channel(SESSION_COMMAND_CAPACITY);
                calls.insert(call, commands_tx);
                tokio::spawn(session::run(shared.clone(), call, tx, request, commands_rx));
            }
            Event::ReInvite { call, tx, request } => match calls.get(&call) {
                Some(session) => {
                    let _ = session.send(SessionCommand::ReInvite { tx, request }).await;
                }
                // §12.2.2: no such dialog here.
                None => {
                    let _ = shared.sip.respond(tx, Response::status(481)).await;
                }
            },
            Event::Terminated { call, reason } => {
                if let Some(session) = calls.remove(&call) {
                    let _ = session.send(SessionCommand::Terminated(reason)).await;
                }
            }
            Event::Options { tx, .. } => {
                let _ = shared.sip.respond(tx, Response::status(200)).await;
            }
            _ => {}
        }
        calls.retain(|_, session| !session.is_closed());
    }
    for session in calls.values() {
        let _ = session.send(SessionCommand::Shutdown).await;
    }
}
