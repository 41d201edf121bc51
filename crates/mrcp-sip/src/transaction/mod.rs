//! RFC 3261 §17 transactions as sans-IO state machines, with the RFC 6026 `Accepted` states.
//!
//! Each machine is driven by its owner (the [`crate::Endpoint`]): messages matched to it go in
//! through its `on_*` methods, time goes in through `handle_timeout(now)`, and the next deadline
//! comes out of `poll_timeout()`. A machine never reads the clock. Messages are stored as bytes,
//! so a retransmission is a copy of what was sent (§17.1.1.2, §17.2.1).
//!
//! | machine | RFC | timers |
//! |---|---|---|
//! | [`ClientInvite`] | §17.1.1, RFC 6026 §7.2 | A, B, D, M |
//! | [`ClientNonInvite`] | §17.1.2 | E, F, K |
//! | [`ServerInvite`] | §17.2.1, RFC 6026 §7.1 | G, H, I, L |
//! | [`ServerNonInvite`] | §17.2.2 | J |

mod client;
mod server;
mod timer;

pub use client::{
    ClientInvite, ClientInviteState, ClientNonInvite, ClientNonInviteState, ResponseAction,
};
pub use server::{ServerInvite, ServerInviteState, ServerNonInvite, ServerNonInviteState};
pub use timer::{Timer, TimerConfig};

use bytes::Bytes;

/// What a machine asks its owner to do after `handle_timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerAction {
    /// Send these bytes again (Timers A, E, G and the 2xx retransmission of the UAS core).
    Retransmit(Bytes),
    /// The transaction timed out (Timers B, F, H): tell the transaction user (§17.1.1.2, §17.2.1).
    TimedOut(Timer),
    /// The transaction reached `Terminated` and can be dropped.
    Terminated,
}
