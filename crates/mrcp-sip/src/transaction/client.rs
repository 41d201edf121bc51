//! Client transactions (RFC 3261 §17.1, RFC 6026 §7.2).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Timer, TimerAction, TimerConfig};

/// What the owner does with a response matched to a client transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseAction {
    /// Pass the response to the TU.
    PassUp,
    /// First non-2xx final response of an INVITE: pass it up, build the ACK (§17.1.1.3) and give
    /// it to [`ClientInvite::set_ack`], which sends it.
    PassUpAndAck,
    /// Retransmitted non-2xx final: send the stored ACK again.
    ResendAck(Bytes),
    /// Retransmission or late response: drop it.
    Absorb,
}

/// States of the INVITE client transaction (§17.1.1.2 Figure 5, RFC 6026 `Accepted`).
///
/// ```text
///  Calling --Timer A: resend; Timer B: timeout--> Terminated
///    | 1xx
///    V
///  Proceeding --2xx--> Accepted (2xx retransmissions to TU) --Timer M--> Terminated
///    | 300-699: send ACK
///    V
///  Completed (resend ACK on retransmitted final) --Timer D--> Terminated
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, nothing received.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 2xx arrived (RFC 6026).
    Accepted,
    /// A non-2xx final arrived, ACK sent.
    Completed,
    /// Done.
    Terminated,
}

/// The INVITE client transaction (§17.1.1).
#[derive(Debug)]
pub struct ClientInvite {
    state: ClientInviteState,
    reliable: bool,
    cfg: TimerConfig,
    request: Bytes,
    ack: Option<Bytes>,
    timer_a: Option<(Instant, Duration)>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
}

impl ClientInvite {
    /// A new transaction; the owner sends `request` once now.
    pub fn new(now: Instant, request: Bytes, reliable: bool, cfg: TimerConfig) -> Self {
        Self {
            state: ClientInviteState::Calling,
            reliable,
            cfg,
            request,
            ack: None,
            timer_a: (!reliable).then_some((now + cfg.t1, cfg.t1)),
            timer_b: Some(now + cfg.t1x64()),
            timer_d: None,
            timer_m: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// The bytes of the INVITE (for building CANCEL and ACK).
    pub fn request(&self) -> &Bytes {
        &self.request
    }

    /// A response with status `code` matched this transaction.
    pub fn on_response(&mut self, now: Instant, code: u16) -> ResponseAction {
        use ClientInviteState as S;
        match (self.state, code) {
            (S::Calling | S::Proceeding, 100..=199) => {
                self.state = S::Proceeding;
                self.timer_a = None;
                ResponseAction::PassUp
            }
            (S::Calling | S::Proceeding, 200..=299) => {
                self.state = S::Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_m = Some(now + self.cfg.t1x64());
                ResponseAction::PassUp
            }
            (S::Calling | S::Proceeding, _) => {
                self.state = S::Completed;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_d = Some(if self.reliable {
                    now
                } else {
                    now + self.cfg.timer_d
                });
                ResponseAction::PassUpAndAck
            }
            (S::Accepted, 200..=299) => ResponseAction::PassUp,
            (S::Completed, 300..) => self
                .ack
                .clone()
                .map_or(ResponseAction::Absorb, ResponseAction::ResendAck),
            _ => ResponseAction::Absorb,
        }
    }

    /// Stores the ACK sent for a non-2xx final response.
    pub fn set_ack(&mut self, ack: Bytes) {
        self.ack = Some(ack);
    }

    /// The transport reported a failure (§17.1.4): the transaction ends; the TU is told.
    pub fn on_transport_error(&mut self) {
        self.state = ClientInviteState::Terminated;
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timer_a.map(|(t, _)| t),
            self.timer_b,
            self.timer_d,
            self.timer_m,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires the earliest due timer; spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TimerAction> {
        if self.timer_b.is_some_and(|t| t <= now) {
            self.timer_a = None;
            self.timer_b = None;
            self.state = ClientInviteState::Terminated;
            return Some(TimerAction::TimedOut(Timer::B));
        }
        if let Some((at, interval)) = self.timer_a
            && at <= now
        {
            // §17.1.1.2: Timer A doubles without the T2 cap.
            let next = interval * 2;
            self.timer_a = Some((now + next, next));
            return Some(TimerAction::Retransmit(self.request.clone()));
        }
        if self.timer_d.is_some_and(|t| t <= now) || self.timer_m.is_some_and(|t| t <= now) {
            self.timer_d = None;
            self.timer_m = None;
            self.state = ClientInviteState::Terminated;
            return Some(TimerAction::Terminated);
        }
        None
    }
}

/// States of the non-INVITE client transaction (§17.1.2.2 Figure 6).
///
/// ```text
///  Trying --1xx--> Proceeding --final--> Completed --Timer K--> Terminated
///    |  Timer E: resend (T1 doubling to T2); Timer F: timeout
///    +--final--> Completed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// Request sent.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived.
    Completed,
    /// Done.
    Terminated,
}

/// The non-INVITE client transaction (§17.1.2).
#[derive(Debug)]
pub struct ClientNonInvite {
    state: ClientNonInviteState,
    reliable: bool,
    cfg: TimerConfig,
    request: Bytes,
    timer_e: Option<(Instant, Duration)>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl ClientNonInvite {
    /// A new transaction; the owner sends `request` once now.
    pub fn new(now: Instant, request: Bytes, reliable: bool, cfg: TimerConfig) -> Self {
        Self {
            state: ClientNonInviteState::Trying,
            reliable,
            cfg,
            request,
            timer_e: (!reliable).then_some((now + cfg.t1, cfg.t1)),
            timer_f: Some(now + cfg.t1x64()),
            timer_k: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// A response with status `code` matched this transaction.
    pub fn on_response(&mut self, now: Instant, code: u16) -> ResponseAction {
        use ClientNonInviteState as S;
        match (self.state, code) {
            (S::Trying | S::Proceeding, 100..=199) => {
                self.state = S::Proceeding;
                ResponseAction::PassUp
            }
            (S::Trying | S::Proceeding, _) => {
                self.state = S::Completed;
                self.timer_e = None;
                self.timer_f = None;
                self.timer_k = Some(if self.reliable {
                    now
                } else {
                    now + self.cfg.t4
                });
                ResponseAction::PassUp
            }
            _ => ResponseAction::Absorb,
        }
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timer_e.map(|(t, _)| t), self.timer_f, self.timer_k]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires the earliest due timer; spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TimerAction> {
        if self.timer_f.is_some_and(|t| t <= now) {
            self.timer_e = None;
            self.timer_f = None;
            self.state = ClientNonInviteState::Terminated;
            return Some(TimerAction::TimedOut(Timer::F));
        }
        if let Some((at, interval)) = self.timer_e
            && at <= now
        {
            // §17.1.2.2: in Proceeding the interval is T2.
            let next = if self.state == ClientNonInviteState::Proceeding {
                self.cfg.t2
            } else {
                (interval * 2).min(self.cfg.t2)
            };
            self.timer_e = Some((now + next, next));
            return Some(TimerAction::Retransmit(self.request.clone()));
        }
        if self.timer_k.is_some_and(|t| t <= now) {
            self.timer_k = None;
            self.state = ClientNonInviteState::Terminated;
            return Some(TimerAction::Terminated);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TimerConfig {
        TimerConfig::default()
    }

    #[test]
    fn timer_k_waits_t4_over_udp_and_nothing_over_tcp() {
        let now = Instant::now();
        let mut udp = ClientNonInvite::new(now, Bytes::from_static(b"BYE"), false, cfg());
        assert_eq!(udp.on_response(now, 200), ResponseAction::PassUp);
        assert_eq!(udp.poll_timeout(), Some(now + cfg().t4));
        assert_eq!(
            udp.on_response(now, 200),
            ResponseAction::Absorb,
            "retransmitted final absorbed"
        );
        assert_eq!(
            udp.handle_timeout(now + cfg().t4),
            Some(TimerAction::Terminated)
        );
        let mut tcp = ClientNonInvite::new(now, Bytes::from_static(b"BYE"), true, cfg());
        assert_eq!(
            tcp.poll_timeout(),
            Some(now + cfg().t1x64()),
            "no Timer E over TCP, only F"
        );
        tcp.on_response(now, 200);
        assert_eq!(tcp.handle_timeout(now), Some(TimerAction::Terminated));
    }

    #[test]
    fn timer_e_uses_t2_in_proceeding() {
        let now = Instant::now();
        let mut tx = ClientNonInvite::new(now, Bytes::from_static(b"OPTIONS"), false, cfg());
        tx.on_response(now, 100);
        let at = tx.poll_timeout().expect("timer e");
        assert!(matches!(
            tx.handle_timeout(at),
            Some(TimerAction::Retransmit(_))
        ));
        assert_eq!(tx.poll_timeout(), Some(at + cfg().t2));
    }

    #[test]
    fn timer_m_absorbs_2xx_retransmissions_then_ends() {
        let now = Instant::now();
        let mut tx = ClientInvite::new(now, Bytes::from_static(b"INVITE"), false, cfg());
        assert_eq!(tx.on_response(now, 200), ResponseAction::PassUp);
        assert_eq!(tx.state(), ClientInviteState::Accepted);
        assert_eq!(
            tx.on_response(now, 200),
            ResponseAction::PassUp,
            "2xx retransmissions reach the TU"
        );
        assert_eq!(tx.on_response(now, 486), ResponseAction::Absorb);
        assert_eq!(
            tx.handle_timeout(now + cfg().t1x64()),
            Some(TimerAction::Terminated)
        );
        assert_eq!(
            tx.handle_timeout(now + cfg().t1x64()),
            None,
            "spurious timeouts do nothing"
        );
    }
}
