//! The tokio side: one task owns the [`Health`] machine and the [`Selector`], and drives the
//! `mrcp-sip` proxy core (requests towards the destinations, RFC 3261 §16) and a UAC endpoint
//! (OPTIONS probes, §11). It never touches the SDP.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use mrcp_sip::{
    ClientRequestId, Event, LocalAddr, Message, OutOfDialogRequest, Peer,
    driver::{DriverConfig, ProxyDriver, ProxyHandle, SipDriver, SipHandle, spawn, spawn_proxy},
    proxy::{ProxyConfig, ProxyEvent, ProxyTxId},
    transaction::TimerConfig,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::{Instant, sleep_until},
};

use crate::{
    config::Config,
    destination::{DestId, Destination},
    health::{Health, HealthOutput, HealthState, ProbeResult},
    metrics::{DestinationStats, ProbeCounts, ResponseCounts, Stats},
    select::Selector,
};

/// Why the dispatcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The SIP sockets could not be bound.
    #[error("cannot start sip on {addr}: {source}")]
    Sip {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: mrcp_sip::Error,
    },
    /// The HTTP listener could not be bound.
    #[error("cannot listen for http on {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running dispatcher.
#[must_use = "dropping the dispatcher does not stop it; call shutdown()"]
#[derive(Debug)]
pub struct Dispatcher {
    /// The bound SIP addresses (UDP and TCP).
    pub sip_addrs: Vec<LocalAddr>,
    /// The bound HTTP address (`/metrics`, `/healthz`), when `http_listen` is set.
    pub http_addr: Option<SocketAddr>,
    stats: watch::Receiver<Stats>,
    proxy: ProxyHandle,
    uac: SipHandle,
    task: JoinHandle<()>,
    http: Option<JoinHandle<()>>,
}

impl Dispatcher {
    /// Binds `config.listen` on UDP and TCP and starts dispatching.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let listen = config.listen;
        let err = |source| StartError::Sip {
            addr: listen,
            source,
        };

        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        let ProxyDriver {
            handle: proxy,
            events: proxy_events,
            task: _,
        } = spawn_proxy(
            DriverConfig {
                udp: vec![listen],
                tcp: vec![listen],
                ..DriverConfig::default()
            },
            ProxyConfig {
                record_route: true,
                // Standard T1 (500 ms) for retransmissions: a shorter one multiplies the
                // messages when a loaded backend answers late. A silent destination is left
                // after `invite_timeout` by the core's reply guard instead.
                timers: TimerConfig::default(),
                reply_timeout: Some(config.invite_timeout),
                // Answered transactions are forgotten after 5 s rather than 64·T1 (32 s), as
                // Kamailio's wait_timer: at thousands of calls per second that is the
                // difference between a few hundred megabytes and a few gigabytes.
                linger: Some(Duration::from_secs(5)),
                seed,
                ..ProxyConfig::default()
            },
        )
        .await
        .map_err(err)?;
        let SipDriver {
            handle: uac,
            events: uac_events,
            task: _,
        } = spawn(DriverConfig {
            udp: vec![SocketAddr::new(listen.ip(), 0)],
            tcp: vec![SocketAddr::new(listen.ip(), 0)],
            endpoint: mrcp_sip::EndpointConfig {
                user_agent: "mrcp-dispatcher".into(),
                seed: seed ^ 0x0b7,
                ..Default::default()
            },
            ..DriverConfig::default()
        })
        .await
        .map_err(err)?;
        let now = Instant::now();
        let (done_tx, done_rx) = mpsc::channel(1024);
        let state = State {
            proxy: proxy.clone(),
            done: done_tx,
            health: Health::new(config.health, config.destinations.len(), now.into_std()),
            selector: Selector::new(config.algorithm, &config.destinations),
            stats: Stats {
                destinations: config
                    .destinations
                    .iter()
                    .map(|d| DestinationStats {
                        uri: d.uri.clone(),
                        state: HealthState::Up,
                        invites: 0,
                        failovers: 0,
                        load: None,
                        responses: ResponseCounts::default(),
                        probes: ProbeCounts::default(),
                    })
                    .collect(),
                ..Stats::default()
            },
            dests: config.destinations,
            calls: HashMap::new(),
            probes: HashMap::new(),
        };
        let (stats_tx, stats) = watch::channel(state.stats.clone());
        let (http, http_addr) = match config.http_listen {
            Some(addr) => {
                let http_err = |source| StartError::Http { addr, source };
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(http_err)?;
                let bound = listener.local_addr().map_err(http_err)?;
                (
                    Some(tokio::spawn(crate::http::serve(listener, stats.clone()))),
                    Some(bound),
                )
            }
            None => (None, None),
        };
        let sip_addrs = proxy.local_addrs().to_vec();
        let task =
            tokio::spawn(state.run(proxy_events, done_rx, uac.clone(), uac_events, stats_tx));
        Ok(Self {
            sip_addrs,
            http_addr,
            stats,
            proxy,
            uac,
            task,
            http,
        })
    }

    /// The bound address of `transport`.
    pub fn sip_addr(&self, transport: mrcp_sip::Transport) -> Option<SocketAddr> {
        self.sip_addrs
            .iter()
            .find(|l| l.transport == transport)
            .map(|l| l.addr)
    }

    /// Per-destination state and counters.
    pub fn stats(&self) -> Vec<DestinationStats> {
        self.stats.borrow().destinations.clone()
    }

    /// All counters (what `/metrics` renders).
    pub fn snapshot(&self) -> Stats {
        self.stats.borrow().clone()
    }

    /// A receiver that sees every change of the counters.
    pub fn watch_stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// Stops the dispatcher, its SIP drivers and its HTTP endpoint.
    pub fn shutdown(&self) {
        self.task.abort();
        if let Some(http) = &self.http {
            http.abort();
        }
        self.proxy.shutdown();
        self.uac.shutdown();
    }
}

/// An INVITE being placed.
struct Attempt {
    call_id: String,
    tried: Vec<DestId>,
    since: Instant,
}

/// Forgotten after this long: the proxy core has finished the request by then (its
/// `final_timeout` is 60 s); successful INVITEs produce no event, so entries are swept.
const ATTEMPT_TTL: Duration = Duration::from_secs(90);

/// The outcome of a proxy command run off the event loop.
enum Done {
    /// `forward` was refused by the core (e.g. no local address of that transport).
    ForwardFailed(ProxyTxId, DestId, mrcp_sip::Error),
}

struct State {
    /// Commands to the proxy core run in their own tasks: the core blocks when its event
    /// channel is full, so awaiting a command's reply in the loop that drains those events
    /// would deadlock under load.
    proxy: ProxyHandle,
    done: mpsc::Sender<Done>,
    dests: Vec<Destination>,
    health: Health,
    selector: Selector,
    stats: Stats,
    calls: HashMap<ProxyTxId, Attempt>,
    probes: HashMap<ClientRequestId, (DestId, u64)>,
}

impl State {
    async fn run(
        mut self,
        mut proxy_events: mpsc::Receiver<ProxyEvent>,
        mut done: mpsc::Receiver<Done>,
        uac: SipHandle,
        mut uac_events: mpsc::Receiver<Event>,
        stats: watch::Sender<Stats>,
    ) {
        let mut next_sweep = Instant::now() + ATTEMPT_TTL;
        loop {
            let health_at = self
                .health
                .poll_timeout()
                .map(Instant::from_std)
                .unwrap_or(next_sweep);
            let deadline = health_at.min(next_sweep);
            tokio::select! {
                ev = proxy_events.recv() => {
                    let Some(ev) = ev else { return };
                    self.handle_proxy_event(ev);
                }
                Some(Done::ForwardFailed(id, dest, error)) = done.recv() => {
                    if let Some(s) = self.stats.destinations.get_mut(dest.0) {
                        s.invites = s.invites.saturating_sub(1);
                    }
                    tracing::warn!(?id, ?dest, %error, "cannot forward; trying another destination");
                    self.try_next(id);
                }
                ev = uac_events.recv() => {
                    let Some(ev) = ev else { return };
                    self.handle_uac_event(ev);
                }
                () = sleep_until(deadline) => {
                    let now = Instant::now();
                    self.health.handle_timeout(now.into_std());
                    if now >= next_sweep {
                        self.calls.retain(|_, a| a.since + ATTEMPT_TTL > now);
                        next_sweep = now + ATTEMPT_TTL;
                    }
                }
            }
            self.drain_health(&uac).await;
            stats.send_if_modified(|s| {
                let changed = *s != self.stats;
                if changed {
                    s.clone_from(&self.stats);
                }
                changed
            });
        }
    }

    async fn drain_health(&mut self, uac: &SipHandle) {
        while let Some(out) = self.health.poll_output() {
            match out {
                HealthOutput::Probe(dest, seq) => {
                    let Some(d) = self.dests.get(dest.0) else {
                        continue;
                    };
                    let request = OutOfDialogRequest {
                        method: "OPTIONS".into(),
                        uri: d.uri.clone(),
                        peer: d.peer(),
                        headers: vec![("Max-Forwards".into(), "70".into())],
                    };
                    match uac.request(request).await {
                        Ok(id) => {
                            self.probes.insert(id, (dest, seq));
                        }
                        Err(e) => {
                            tracing::warn!(dest = %d.uri, error = %e, "cannot send OPTIONS probe");
                            if let Some(s) = self.stats.destinations.get_mut(dest.0) {
                                s.probes.timeout += 1;
                            }
                            let now = Instant::now().into_std();
                            self.health
                                .handle_probe_result(now, dest, seq, ProbeResult::NoReply);
                        }
                    }
                }
                HealthOutput::Changed { dest, in_rotation } => {
                    if let Some(d) = self.dests.get(dest.0) {
                        tracing::info!(dest = %d.uri, in_rotation, "destination state changed");
                    }
                }
            }
        }
        for (i, s) in self.stats.destinations.iter_mut().enumerate() {
            if let Some(state) = self.health.state(DestId(i)) {
                s.state = state;
            }
        }
    }

    fn handle_uac_event(&mut self, ev: Event) {
        let now = Instant::now().into_std();
        match ev {
            Event::RequestResponse { id, response } => {
                let Some((dest, seq)) = self.probes.remove(&id) else {
                    return;
                };
                let status = response.status().unwrap_or(500);
                let load = response.header("X-Load").and_then(parse_load);
                let s = self.stats.destinations.get_mut(dest.0);
                if (200..300).contains(&status) {
                    self.selector.set_load(dest, load);
                    if let Some(s) = s {
                        s.load = load;
                        s.probes.ok += 1;
                    }
                } else if let Some(s) = s {
                    if status == 503 {
                        s.probes.draining += 1;
                    } else {
                        s.probes.failed += 1;
                    }
                }
                self.health
                    .handle_probe_result(now, dest, seq, ProbeResult::Status(status));
            }
            Event::RequestTimeout { id } => {
                if let Some((dest, seq)) = self.probes.remove(&id) {
                    if let Some(s) = self.stats.destinations.get_mut(dest.0) {
                        s.probes.timeout += 1;
                    }
                    self.health
                        .handle_probe_result(now, dest, seq, ProbeResult::NoReply);
                }
            }
            _ => {}
        }
    }

    fn handle_proxy_event(&mut self, ev: ProxyEvent) {
        match ev {
            ProxyEvent::NewRequest { id, request } => match request.method() {
                Some("INVITE") => {
                    self.stats.invites += 1;
                    let attempt = Attempt {
                        call_id: call_id(&request),
                        tried: Vec::new(),
                        since: Instant::now(),
                    };
                    self.calls.insert(id, attempt);
                    self.try_next(id);
                }
                // A ping aimed at the dispatcher itself.
                Some("OPTIONS") => self.respond(id, 200),
                _ => self.respond(id, 405),
            },
            ProxyEvent::Answered { id, target, status } => {
                self.calls.remove(&id);
                if let Some(s) = self
                    .dest_of(&target)
                    .and_then(|d| self.stats.destinations.get_mut(d.0))
                {
                    s.responses.record(status);
                }
            }
            ProxyEvent::BranchFailed { id, target, status } => {
                let dest = self.dest_of(&target);
                if let Some(s) = dest.and_then(|d| self.stats.destinations.get_mut(d.0)) {
                    match status {
                        Some(code) => s.responses.record(code),
                        None => s.responses.timeouts += 1,
                    }
                }
                let retry = match status {
                    None => {
                        // A silent destination leaves at once, but never the last one in
                        // rotation: when every destination is slow at once (a load spike),
                        // the probes decide, rather than a 503 to every call meanwhile.
                        let others_up = (0..self.dests.len())
                            .filter(|i| Some(DestId(*i)) != dest)
                            .any(|i| self.health.in_rotation(DestId(i)));
                        if let Some(d) = dest.filter(|_| others_up) {
                            self.health
                                .handle_branch_failure(Instant::now().into_std(), d);
                        }
                        true
                    }
                    Some(code) => code == 408 || (500..600).contains(&code),
                };
                if retry && self.calls.contains_key(&id) {
                    if let Some(s) = dest.and_then(|d| self.stats.destinations.get_mut(d.0)) {
                        s.failovers += 1;
                    }
                    tracing::info!(?id, to = %target.addr, ?status, "branch failed; failing over");
                    self.try_next(id);
                } else {
                    self.calls.remove(&id);
                    self.finish(id);
                }
            }
        }
    }

    /// Forwards request `id` to the next destination, or finishes it when none is left.
    fn try_next(&mut self, id: ProxyTxId) {
        let Some(attempt) = self.calls.get_mut(&id) else {
            return;
        };
        let health = &self.health;
        let pick = self
            .selector
            .select(&attempt.call_id, &attempt.tried, |d| health.in_rotation(d));
        let Some((dest, d)) = pick.and_then(|p| self.dests.get(p.0).map(|d| (p, d))) else {
            let first = attempt.tried.is_empty();
            self.calls.remove(&id);
            if first {
                // Nothing in rotation at all.
                self.stats.no_destination += 1;
                self.respond(id, 503);
            } else {
                self.finish(id);
            }
            return;
        };
        attempt.tried.push(dest);
        tracing::info!(?id, call_id = %attempt.call_id, to = %d.uri, "dispatching INVITE");
        if let Some(s) = self.stats.destinations.get_mut(dest.0) {
            s.invites += 1;
        }
        let (proxy, done, peer) = (self.proxy.clone(), self.done.clone(), d.peer());
        tokio::spawn(async move {
            if let Err(e) = proxy.forward(id, peer, None).await {
                let _ = done.send(Done::ForwardFailed(id, dest, e)).await;
            }
        });
    }

    fn respond(&self, id: ProxyTxId, code: u16) {
        let proxy = self.proxy.clone();
        tokio::spawn(async move {
            if let Err(e) = proxy.respond(id, code).await {
                tracing::debug!(?id, code, error = %e, "respond");
            }
        });
    }

    fn finish(&self, id: ProxyTxId) {
        let proxy = self.proxy.clone();
        tokio::spawn(async move {
            if let Err(e) = proxy.finish(id).await {
                tracing::debug!(?id, error = %e, "finish");
            }
        });
    }

    fn dest_of(&self, peer: &Peer) -> Option<DestId> {
        self.dests
            .iter()
            .position(|d| d.addr == peer.addr && d.transport == peer.transport)
            .map(DestId)
    }
}

fn call_id(request: &Message) -> String {
    request
        .header("Call-ID")
        .or_else(|| request.header("i"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// `X-Load` as the server sends it, `active/max` (a fraction of its capacity), or a plain number.
fn parse_load(v: &str) -> Option<f64> {
    let load = match v.trim().split_once('/') {
        Some((active, max)) => {
            let (active, max) = (
                active.trim().parse::<f64>().ok()?,
                max.trim().parse::<f64>().ok()?,
            );
            if max <= 0.0 {
                return None;
            }
            active / max
        }
        None => v.trim().parse::<f64>().ok()?,
    };
    (load.is_finite() && load >= 0.0).then_some(load)
}

#[cfg(test)]
mod tests {
    use super::parse_load;

    #[test]
    fn x_load_as_a_fraction_or_a_number() {
        assert_eq!(parse_load("3/100"), Some(0.03));
        assert_eq!(parse_load(" 0/64 "), Some(0.0));
        assert_eq!(parse_load("0.5"), Some(0.5));
        assert_eq!(parse_load("1/0"), None);
        assert_eq!(parse_load("-1"), None);
        assert_eq!(parse_load("NaN"), None);
        assert_eq!(parse_load("x/2"), None);
    }
}
