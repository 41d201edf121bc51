//! Server transactions (RFC 3261 §17.2, RFC 6026 §7.1).

use std::time::Instant;

use bytes::Bytes;

use super::{Timer, TimerAction, TimerConfig};

/// States of the INVITE server transaction (§17.2.1 Figure 7 with RFC 6026 `Accepted`).
///
/// ```text
///                     |INVITE: pass to TU, send 100
///                     V
///   +-----------> Proceeding --1xx from TU: send
///   | INVITE:        |  |
///   | resend last    |  +---2xx from TU: send--> Accepted --Timer L--> Terminated
///   +----------------+  |                        (INVITE and ACK absorbed,
///                       | 300-699 from TU: send   2xx retransmitted by the TU)
///                       V
///                   Completed --INVITE: resend; Timer G: resend; Timer H: timeout
///                       | ACK
///                       V
///                   Confirmed --Timer I--> Terminated
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// Waiting for the TU's final response.
    Proceeding,
    /// 2xx sent (RFC 6026).
    Accepted,
    /// 300–699 sent, waiting for the ACK.
    Completed,
    /// ACK received, absorbing ACK retransmissions.
    Confirmed,
    /// Done.
    Terminated,
}

/// The INVITE server transaction (§17.2.1).
#[derive(Debug)]
pub struct ServerInvite {
    state: ServerInviteState,
    reliable: bool,
    cfg: TimerConfig,
    last_response: Option<Bytes>,
    timer_g: Option<(Instant, std::time::Duration)>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl ServerInvite {
    /// A new transaction for a received INVITE, in `Proceeding`.
    pub fn new(reliable: bool, cfg: TimerConfig) -> Self {
        Self {
            state: ServerInviteState::Proceeding,
            reliable,
            cfg,
            last_response: None,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// A retransmission of the INVITE arrived: the bytes to send again, if any (§17.2.1).
    pub fn on_request(&mut self) -> Option<Bytes> {
        match self.state {
            ServerInviteState::Proceeding | ServerInviteState::Completed => {
                self.last_response.clone()
            }
            _ => None,
        }
    }

    /// An ACK matched this transaction (non-2xx ACK, same branch). Returns whether it is absorbed.
    pub fn on_ack(&mut self, now: Instant) -> bool {
        match self.state {
            ServerInviteState::Completed => {
                self.state = ServerInviteState::Confirmed;
                self.timer_g = None;
                self.timer_h = None;
                self.timer_i = Some(if self.reliable {
                    now
                } else {
                    now + self.cfg.t4
                });
                true
            }
            ServerInviteState::Confirmed | ServerInviteState::Accepted => true,
            _ => false,
        }
    }

    /// The TU sends response `code` as `bytes`. Returns `false` if the state forbids it (a final
    /// response was already sent), in which case nothing must be sent.
    pub fn on_response(&mut self, now: Instant, code: u16, bytes: Bytes) -> bool {
        if self.state != ServerInviteState::Proceeding {
            return false;
        }
        self.last_response = Some(bytes);
        match code {
            100..=199 => {}
            200..=299 => {
                self.state = ServerInviteState::Accepted;
                self.timer_l = Some(now + self.cfg.t1x64());
            }
            _ => {
                self.state = ServerInviteState::Completed;
                if !self.reliable {
                    self.timer_g = Some((now + self.cfg.t1, self.cfg.t1));
                }
                self.timer_h = Some(now + self.cfg.t1x64());
            }
        }
        true
    }

    /// The transport failed to deliver a response (§17.2.4): the transaction ends.
    pub fn on_transport_error(&mut self) {
        self.state = ServerInviteState::Terminated;
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timer_g.map(|(t, _)| t),
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires the earliest due timer; spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TimerAction> {
        if self.timer_h.is_some_and(|t| t <= now) {
            self.timer_h = None;
            self.timer_g = None;
            self.state = ServerInviteState::Terminated;
            return Some(TimerAction::TimedOut(Timer::H));
        }
        if let Some((at, interval)) = self.timer_g
            && at <= now
        {
            let next = (interval * 2).min(self.cfg.t2);
            self.timer_g = Some((now + next, next));
            return self.last_response.clone().map(TimerAction::Retransmit);
        }
        if self.timer_i.is_some_and(|t| t <= now) || self.timer_l.is_some_and(|t| t <= now) {
            self.timer_i = None;
            self.timer_l = None;
            self.state = ServerInviteState::Terminated;
            return Some(TimerAction::Terminated);
        }
        None
    }
}

/// States of the non-INVITE server transaction (§17.2.2 Figure 8).
///
/// ```text
///  Trying --1xx from TU--> Proceeding --final from TU--> Completed --Timer J--> Terminated
///    |                                                      ^  request: resend final
///    +-------------------final from TU----------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// Request passed to the TU, nothing sent.
    Trying,
    /// A provisional response was sent.
    Proceeding,
    /// A final response was sent.
    Completed,
    /// Done.
    Terminated,
}

/// The non-INVITE server transaction (§17.2.2).
#[derive(Debug)]
pub struct ServerNonInvite {
    state: ServerNonInviteState,
    reliable: bool,
    cfg: TimerConfig,
    last_response: Option<Bytes>,
    timer_j: Option<Instant>,
}

impl ServerNonInvite {
    /// A new transaction for a received request, in `Trying`.
    pub fn new(reliable: bool, cfg: TimerConfig) -> Self {
        Self {
            state: ServerNonInviteState::Trying,
            reliable,
            cfg,
            last_response: None,
            timer_j: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// A retransmission of the request arrived: the bytes to send again, if any.
    pub fn on_request(&self) -> Option<Bytes> {
        match self.state {
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed => {
                self.last_response.clone()
            }
            _ => None,
        }
    }

    /// The TU sends response `code`; `false` if a final response was already sent.
    pub fn on_response(&mut self, now: Instant, code: u16, bytes: Bytes) -> bool {
        if matches!(
            self.state,
            ServerNonInviteState::Completed | ServerNonInviteState::Terminated
        ) {
            return false;
        }
        self.last_response = Some(bytes);
        if code < 200 {
            self.state = ServerNonInviteState::Proceeding;
        } else {
            self.state = ServerNonInviteState::Completed;
            self.timer_j = Some(if self.reliable {
                now
            } else {
                now + self.cfg.t1x64()
            });
        }
        true
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    /// Fires Timer J; spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TimerAction> {
        if self.timer_j.is_some_and(|t| t <= now) {
            self.timer_j = None;
            self.state = ServerNonInviteState::Terminated;
            return Some(TimerAction::Terminated);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_i_and_l() {
        let cfg = TimerConfig::default();
        let now = Instant::now();
        let mut tx = ServerInvite::new(false, cfg);
        assert!(tx.on_response(now, 404, Bytes::from_static(b"404")));
        assert!(
            !tx.on_response(now, 200, Bytes::from_static(b"200")),
            "one final response only"
        );
        assert!(tx.on_ack(now));
        assert_eq!(tx.state(), ServerInviteState::Confirmed);
        assert_eq!(
            tx.poll_timeout(),
            Some(now + cfg.t4),
            "Timer I = T4 over UDP"
        );
        assert_eq!(
            tx.on_request(),
            None,
            "INVITE retransmissions absorbed once confirmed"
        );
        assert_eq!(
            tx.handle_timeout(now + cfg.t4),
            Some(TimerAction::Terminated)
        );

        let mut tx = ServerInvite::new(true, cfg);
        assert!(tx.on_response(now, 200, Bytes::from_static(b"200")));
        assert_eq!(tx.state(), ServerInviteState::Accepted);
        assert_eq!(
            tx.poll_timeout(),
            Some(now + cfg.t1x64()),
            "Timer L = 64*T1"
        );
        assert!(tx.on_ack(now), "ACKs absorbed while Accepted");
        assert_eq!(
            tx.handle_timeout(now + cfg.t1x64()),
            Some(TimerAction::Terminated)
        );
    }

    #[test]
    fn timer_j_is_zero_over_tcp() {
        let now = Instant::now();
        let mut tx = ServerNonInvite::new(true, TimerConfig::default());
        assert_eq!(tx.on_request(), None, "nothing to resend in Trying");
        assert!(tx.on_response(now, 200, Bytes::from_static(b"200")));
        assert_eq!(tx.on_request(), Some(Bytes::from_static(b"200")));
        assert_eq!(tx.poll_timeout(), Some(now));
        assert_eq!(tx.handle_timeout(now), Some(TimerAction::Terminated));
        assert_eq!(tx.state(), ServerNonInviteState::Terminated);
    }
}
