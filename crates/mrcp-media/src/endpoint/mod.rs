//! The tokio edge of the media path: one task per RTP stream owns the socket pair and composes the
//! sans-IO machines — [`RtpSession`](crate::session::RtpSession) for validation, latching and
//! RTCP, [`JitterBuffer`](crate::jitter::JitterBuffer) and [`AudioDecoder`](crate::codec::AudioDecoder)
//! for what arrives, [`Rfc4733Receiver`](crate::dtmf::Rfc4733Receiver) for telephone-events, and
//! [`PacedSender`](crate::pacer::PacedSender) with [`AudioEncoder`](crate::codec::AudioEncoder) for
//! what leaves. It holds no protocol logic of its own.
//!
//! ```text
//!  commands (bounded) ──▶ ┌─────────────── endpoint task ───────────────┐ ──▶ events (bounded)
//!  BeginPrompt/Audio/…    │ select!{ rtp socket, rtcp socket, commands,  │     Audio / Gap / Dtmf /
//!                         │          sleep_until(min deadline) }         │     PromptFinished / …
//!                         │ then drain every machine, re-arm the timer   │
//!                         └──────────────────────────────────────────────┘
//! ```
//! Decoded audio and DTMF go to the owner over a bounded channel with `try_send`: a slow owner loses
//! frames (counted in [`EndpointReport::events_dropped`]) rather than stalling the socket.

mod driver;
mod ports;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mrcp_proto::rtp::{DtmfEvent, PayloadType};
pub use ports::{PortAllocator, PortRange};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::codec::Codec;
use crate::dtmf::DetectedDigit;
use crate::jitter::{JitterConfig, JitterStats};
use crate::pacer::{PacerConfig, PacerStats, PromptId};
use crate::session::{ReceiveStats, RtpSessionConfig};

/// Why an endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Every pair of the range is taken.
    #[error("no free rtp port pair on {ip} in {start}-{end}")]
    NoFreePort {
        /// Address tried.
        ip: IpAddr,
        /// Range start.
        start: u16,
        /// Range end.
        end: u16,
    },
    /// Reading the bound address failed.
    #[error("rtp socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Settings of an [`RtpEndpoint`].
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The RTP session (SSRC, remote address from SDP, payload types, timeouts).
    pub session: RtpSessionConfig,
    /// The negotiated codec.
    pub codec: Codec,
    /// Its payload type (from the SDP answer).
    pub payload_type: PayloadType,
    /// The telephone-event payload type, if negotiated.
    pub telephone_event: Option<PayloadType>,
    /// Packet time.
    pub ptime: Duration,
    /// Jitter buffer settings.
    pub jitter: JitterConfig,
    /// Capacity of the event channel.
    pub event_capacity: usize,
}

impl EndpointConfig {
    /// Defaults for a codec and payload type: 20 ms ptime, random SSRC/sequence/timestamp from
    /// `seed` (the caller supplies randomness; RFC 3550 §5.1 wants them unpredictable).
    pub fn new(
        codec: Codec,
        payload_type: PayloadType,
        telephone_event: Option<PayloadType>,
        seed: u64,
    ) -> Self {
        let ptime = Duration::from_millis(20);
        let mut session =
            RtpSessionConfig::new(mrcp_proto::rtp::Ssrc(seed as u32), codec.clock_rate());
        session.payload_types = std::iter::once(payload_type)
            .chain(telephone_event)
            .collect();
        Self {
            session,
            codec,
            payload_type,
            telephone_event,
            ptime,
            jitter: JitterConfig::new(codec.clock_rate(), ptime),
            event_capacity: 256,
        }
    }

    pub(crate) fn pacer(&self, seed: u64) -> PacerConfig {
        PacerConfig {
            ssrc: self.session.local_ssrc,
            payload_type: self.payload_type,
            telephone_event: self.telephone_event,
            clock_rate: self.codec.clock_rate(),
            ptime: self.ptime,
            initial_sequence: (seed >> 32) as u16,
            initial_timestamp: (seed >> 16) as u32,
        }
    }
}

/// What the owner tells the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCommand {
    /// A prompt starts; audio until [`MediaCommand::EndPrompt`] belongs to it.
    BeginPrompt(PromptId),
    /// Linear samples at the codec's rate, any length; cut into ptime packets.
    Audio(Vec<i16>),
    /// The prompt's audio is complete (a partial last packet is padded with silence).
    EndPrompt,
    /// Discard queued audio now (barge-in, STOP).
    Stop,
    /// Hold the queued audio: nothing is sent until [`MediaCommand::Resume`] (PAUSE).
    Pause,
    /// Send the held audio on (RESUME).
    Resume,
    /// Send a DTMF digit as RFC 4733 events.
    Dtmf(DtmfEvent, Duration),
    /// New remote addresses (re-INVITE).
    SetRemote(Option<SocketAddr>, Option<SocketAddr>),
}

/// What the endpoint tells the owner.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// Decoded audio at the codec's rate, in playout order.
    Audio {
        /// RTP timestamp.
        timestamp: u32,
        /// Marker bit (talkspurt start).
        marker: bool,
        /// Samples.
        samples: Vec<i16>,
    },
    /// A span nothing arrived for, already filled with this many samples of silence.
    Gap {
        /// RTP timestamp.
        timestamp: u32,
        /// Silence samples.
        samples: Vec<i16>,
    },
    /// A digit from RFC 4733 events.
    Dtmf(DetectedDigit),
    /// A prompt's last packet left.
    PromptFinished {
        /// The prompt.
        prompt: PromptId,
        /// When its last packet left.
        last_packet_at: Instant,
        /// When its audio ends at the receiver.
        audio_end: Instant,
        /// Ended by [`MediaCommand::Stop`].
        stopped: bool,
    },
    /// RTP now goes to this address (symmetric RTP).
    Latched(SocketAddr),
    /// The peer sent RTCP BYE.
    Bye,
    /// Nothing from the peer for the inactivity timeout.
    Inactive,
}

/// Counters when the endpoint ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointReport {
    /// RTP session counters.
    pub receive: ReceiveStats,
    /// Jitter buffer counters.
    pub jitter: JitterStats,
    /// Paced sender counters.
    pub pacer: PacerStats,
    /// Events the owner did not take in time.
    pub events_dropped: u64,
    /// Datagrams the socket failed to send.
    pub send_errors: u64,
}

/// A running endpoint: its addresses, a command sender and an event receiver. Dropping the
/// command sender (or calling [`RtpEndpoint::close`]) ends the task after a final RTCP BYE.
#[must_use = "dropping the endpoint closes it"]
#[derive(Debug)]
pub struct RtpEndpoint {
    /// Local RTP address (even port).
    pub local_rtp: SocketAddr,
    /// Local RTCP address (RTP port + 1).
    pub local_rtcp: SocketAddr,
    /// Commands to the task.
    pub commands: mpsc::Sender<MediaCommand>,
    /// Events from the task.
    pub events: mpsc::Receiver<MediaEvent>,
    task: JoinHandle<EndpointReport>,
}

impl RtpEndpoint {
    /// Binds a port pair from `ports` on `ip` and starts the task.
    pub async fn bind(
        cfg: EndpointConfig,
        ports: &mut PortAllocator,
        ip: IpAddr,
        seed: u64,
    ) -> Result<Self, EndpointError> {
        let (rtp, rtcp) = ports.bind_pair(ip).await?;
        let local_rtp = rtp.local_addr()?;
        let local_rtcp = rtcp.local_addr()?;
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (ev_tx, ev_rx) = mpsc::channel(cfg.event_capacity.max(1));
        let task = tokio::spawn(driver::run(cfg, seed, rtp, rtcp, cmd_rx, ev_tx));
        Ok(Self {
            local_rtp,
            local_rtcp,
            commands: cmd_tx,
            events: ev_rx,
            task,
        })
    }

    /// Closes the endpoint and returns its counters.
    pub async fn close(self) -> EndpointReport {
        drop(self.commands);
        self.task.await.unwrap_or_default()
    }
}
