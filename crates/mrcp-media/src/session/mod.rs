//! The RTP session of one media stream (RFC 3550), sans-IO: validates and tracks what arrives
//! (§A.1 sequence, §A.8 jitter), latches onto the peer's real address (symmetric RTP, RFC 4961)
//! for NAT, sends minimal RTCP (RR or SR with SDES CNAME, §6.4), accepts SR and BYE, and reports
//! inactivity.
//!
//! Run loop (the tokio driver in [`crate::endpoint`] does exactly this):
//! ```text
//! loop {
//!     datagram on the RTP socket  → session.handle_rtp(now, from, bytes)
//!     datagram on the RTCP socket → session.handle_rtcp(now, from, bytes)
//!     timer at poll_timeout()     → session.handle_timeout(now)
//!     audio to send               → session.send_rtp(now, &packet)
//!     while let Some(o) = session.poll_output() { transmit or deliver }
//! }
//! ```
//! Bad input (malformed, oversized, unknown payload type, strangers, SSRC in probation) is counted
//! in [`ReceiveStats`] and dropped; it never becomes an error or a panic.

mod stats;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mrcp_proto::rtp::{
    ByePacket, PayloadType, ReceiverReport, ReportBlock, RtcpCompound, RtcpPacket, RtpPacket,
    SdesChunk, SdesItem, SenderInfo, SenderReport, Ssrc,
};
pub use stats::ReceiveStats;
use stats::{SeqVerdict, SourceState};

/// Settings of an [`RtpSession`].
#[derive(Debug, Clone)]
pub struct RtpSessionConfig {
    /// Our synchronization source.
    pub local_ssrc: Ssrc,
    /// Our RTCP CNAME (RFC 3550 §6.5.1).
    pub cname: String,
    /// Clock rate of the stream, for jitter.
    pub clock_rate: u32,
    /// Payload types accepted (the negotiated codec and telephone-event); empty accepts all.
    pub payload_types: Vec<PayloadType>,
    /// Where the SDP says to send RTP.
    pub remote_rtp: Option<SocketAddr>,
    /// Where the SDP says to send RTCP (default: the RTP address, port + 1).
    pub remote_rtcp: Option<SocketAddr>,
    /// Symmetric RTP: send to where the peer's packets come from, and ignore other senders.
    pub symmetric: bool,
    /// A stranger may take over the latch after the latched address has been silent this long.
    pub relatch_after: Duration,
    /// Packets of a new SSRC dropped before switching to it (UniMRCP: 5).
    pub ssrc_probation: u32,
    /// Datagrams larger than this are dropped (16 frames of 10 ms L16 at 16 kHz fit).
    pub max_datagram: usize,
    /// Report inactivity after this long without RTP or RTCP from the peer.
    pub inactivity_timeout: Option<Duration>,
    /// RTCP report interval (RFC 3550 §6.2 minimum 5 s); `None` sends no RTCP.
    pub rtcp_interval: Option<Duration>,
    /// NTP time (RFC 3550 §4, 32.32 seconds since 1900) of the instant given to [`RtpSession::new`].
    pub ntp_at_start: u64,
}

impl RtpSessionConfig {
    /// Defaults: symmetric, 5-packet probation, no inactivity timeout, RTCP every 5 s.
    pub fn new(local_ssrc: Ssrc, clock_rate: u32) -> Self {
        Self {
            local_ssrc,
            cname: format!("{:08x}@open-mrcp", local_ssrc.0),
            clock_rate: clock_rate.max(1),
            payload_types: Vec::new(),
            remote_rtp: None,
            remote_rtcp: None,
            symmetric: true,
            relatch_after: Duration::from_secs(1),
            ssrc_probation: 5,
            max_datagram: 5200,
            inactivity_timeout: None,
            rtcp_interval: Some(Duration::from_secs(5)),
            ntp_at_start: 0,
        }
    }
}

/// Which socket of the pair a datagram uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The even RTP port.
    Rtp,
    /// The odd RTCP port.
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Socket to send from.
    pub channel: Channel,
    /// Destination.
    pub destination: SocketAddr,
    /// Bytes.
    pub payload: Vec<u8>,
}

/// A validated RTP packet from the current source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPacket {
    /// Its source.
    pub ssrc: Ssrc,
    /// Its payload type.
    pub payload_type: PayloadType,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Marker bit.
    pub marker: bool,
    /// Payload without padding.
    pub payload: Vec<u8>,
    /// When it arrived.
    pub arrival: Instant,
}

/// Something the owner of the session should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Media to hand to the jitter buffer (or the RFC 4733 receiver).
    Media(ReceivedPacket),
    /// RTP will now be sent to this address (symmetric RTP latch).
    Latched(SocketAddr),
    /// The peer's SSRC changed after probation.
    SsrcChanged {
        /// Previous source.
        old: Ssrc,
        /// New source.
        new: Ssrc,
    },
    /// The peer sent an RTCP sender report.
    SenderReport(SenderInfo),
    /// The peer sent RTCP BYE.
    Bye(Ssrc),
    /// Nothing from the peer for the inactivity timeout.
    Inactive {
        /// Last RTP or RTCP from the peer (or session start).
        last_activity: Instant,
    },
}

/// What [`RtpSession::poll_output`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this datagram.
    Transmit(Transmit),
    /// Deliver this event.
    Event(SessionEvent),
}

#[derive(Debug, Default, Clone, Copy)]
struct SendState {
    packets: u32,
    octets: u32,
    last_rtp_ts: u32,
    last_sent_at: Option<Instant>,
    sent_since_report: bool,
}

/// One RTP/RTCP stream; see the module docs.
#[derive(Debug)]
pub struct RtpSession {
    cfg: RtpSessionConfig,
    started: Instant,
    source: Option<(Ssrc, SourceState)>,
    candidate: Option<(Ssrc, u32)>,
    latched: Option<SocketAddr>,
    latched_rtcp: Option<SocketAddr>,
    last_from_latched: Option<Instant>,
    last_activity: Instant,
    inactive_reported: bool,
    next_rtcp: Option<Instant>,
    last_sr: Option<(u32, Instant)>,
    send: SendState,
    stats: ReceiveStats,
    out: VecDeque<Output>,
}

impl RtpSession {
    /// A session starting at `now`.
    pub fn new(cfg: RtpSessionConfig, now: Instant) -> Self {
        let next_rtcp = cfg.rtcp_interval.map(|i| now + i);
        Self {
            cfg,
            started: now,
            source: None,
            candidate: None,
            latched: None,
            latched_rtcp: None,
            last_from_latched: None,
            last_activity: now,
            inactive_reported: false,
            next_rtcp,
            last_sr: None,
            send: SendState::default(),
            stats: ReceiveStats::default(),
            out: VecDeque::new(),
        }
    }

    /// Reception counters so far.
    pub fn stats(&self) -> ReceiveStats {
        let mut s = self.stats;
        if let Some((_, src)) = &self.source {
            s.expected = src.expected();
            s.lost = src.expected().saturating_sub(src.received());
            s.jitter = src.jitter();
        }
        s
    }

    /// The peer's current SSRC.
    pub fn remote_ssrc(&self) -> Option<Ssrc> {
        self.source.as_ref().map(|(s, _)| *s)
    }

    /// Where RTP goes now: the latched address, else the signalled one.
    pub fn rtp_destination(&self) -> Option<SocketAddr> {
        self.latched
            .filter(|_| self.cfg.symmetric)
            .or(self.cfg.remote_rtp)
    }

    fn rtcp_destination(&self) -> Option<SocketAddr> {
        if let Some(a) = self.latched_rtcp.filter(|_| self.cfg.symmetric) {
            return Some(a);
        }
        if let Some(a) = self.cfg.remote_rtcp {
            return Some(a);
        }
        self.rtp_destination().map(|mut a| {
            a.set_port(a.port().wrapping_add(1));
            a
        })
    }

    /// Sets the signalled remote address (re-INVITE); the latch starts over.
    pub fn set_remote(&mut self, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        self.cfg.remote_rtp = rtp;
        self.cfg.remote_rtcp = rtcp;
        self.latched = None;
        self.latched_rtcp = None;
    }

    /// A datagram received on the RTP socket.
    pub fn handle_rtp(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        if datagram.len() > self.cfg.max_datagram {
            self.stats.oversized += 1;
            return;
        }
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        if !self.cfg.payload_types.is_empty()
            && !self.cfg.payload_types.contains(&packet.payload_type)
        {
            self.stats.unknown_payload_type += 1;
            return;
        }
        // Symmetric RTP latching.
        match self.latched {
            Some(addr) if addr != from && self.cfg.symmetric => {
                let silent = self
                    .last_from_latched
                    .is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.relatch_after);
                if !silent {
                    self.stats.stranger += 1;
                    return;
                }
                self.latch(now, from);
            }
            Some(_) => self.last_from_latched = Some(now),
            None => self.latch(now, from),
        }
        // SSRC: the first is adopted; a new one after `ssrc_probation` packets.
        let first = match &self.source {
            None => {
                self.source = Some((packet.ssrc, SourceState::new(packet.sequence)));
                true
            }
            Some((ssrc, _)) if *ssrc == packet.ssrc => {
                self.candidate = None;
                false
            }
            Some((old, _)) => {
                let old = *old;
                let count = match self.candidate {
                    Some((c, n)) if c == packet.ssrc => n + 1,
                    _ => 1,
                };
                if count <= self.cfg.ssrc_probation {
                    self.candidate = Some((packet.ssrc, count));
                    self.stats.probation += 1;
                    return;
                }
                self.candidate = None;
                self.source = Some((packet.ssrc, SourceState::new(packet.sequence)));
                self.out.push_back(Output::Event(SessionEvent::SsrcChanged {
                    old,
                    new: packet.ssrc,
                }));
                true
            }
        };
        let Some((_, src)) = self.source.as_mut() else {
            return;
        };
        match src.update_seq(packet.sequence, first) {
            SeqVerdict::Duplicate => {
                self.stats.duplicates += 1;
                return;
            }
            SeqVerdict::Jump => {
                self.stats.sequence_jumps += 1;
                return;
            }
            SeqVerdict::Reordered => self.stats.reordered += 1,
            SeqVerdict::InOrder => {}
        }
        src.update_jitter(
            stats::arrival_units(self.started, now, self.cfg.clock_rate),
            packet.timestamp,
        );
        self.stats.received += 1;
        self.stats.bytes += packet.payload.len() as u64;
        self.touch(now);
        self.out
            .push_back(Output::Event(SessionEvent::Media(ReceivedPacket {
                ssrc: packet.ssrc,
                payload_type: packet.payload_type,
                sequence: packet.sequence,
                timestamp: packet.timestamp,
                marker: packet.marker,
                payload: packet.payload.to_vec(),
                arrival: now,
            })));
    }

    fn latch(&mut self, now: Instant, from: SocketAddr) {
        self.latched = Some(from);
        self.last_from_latched = Some(now);
        if self.cfg.symmetric && self.cfg.remote_rtp != Some(from) {
            self.out
                .push_back(Output::Event(SessionEvent::Latched(from)));
        }
    }

    fn touch(&mut self, now: Instant) {
        self.last_activity = now;
        self.inactive_reported = false;
    }

    /// A datagram received on the RTCP socket.
    pub fn handle_rtcp(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        if datagram.len() > self.cfg.max_datagram {
            self.stats.oversized += 1;
            return;
        }
        let Ok(compound) = RtcpCompound::parse(datagram) else {
            self.stats.rtcp_malformed += 1;
            return;
        };
        if let Some(latched) = self.latched
            && self.cfg.symmetric
            && latched.ip() != from.ip()
        {
            self.stats.stranger += 1;
            return;
        }
        self.stats.rtcp_received += 1;
        self.latched_rtcp = Some(from);
        self.touch(now);
        for p in compound.packets {
            match p {
                RtcpPacket::SenderReport(sr) => {
                    // LSR: the middle 32 bits of the NTP timestamp (§6.4.1).
                    self.last_sr = Some(((sr.info.ntp_timestamp >> 16) as u32, now));
                    self.out
                        .push_back(Output::Event(SessionEvent::SenderReport(sr.info)));
                }
                RtcpPacket::Bye(bye) => {
                    for s in bye.sources {
                        self.out.push_back(Output::Event(SessionEvent::Bye(s)));
                    }
                }
                RtcpPacket::ReceiverReport(_) | RtcpPacket::Sdes(_) | RtcpPacket::Other { .. } => {}
            }
        }
    }

    /// Queues an RTP packet for the current destination and counts it for the next SR. Without a
    /// destination the packet is dropped and `false` returned.
    pub fn send_rtp(&mut self, now: Instant, packet: &RtpPacket<'_>) -> bool {
        let Some(destination) = self.rtp_destination() else {
            return false;
        };
        let Ok(payload) = packet.to_bytes() else {
            return false;
        };
        self.send.packets = self.send.packets.wrapping_add(1);
        self.send.octets = self
            .send
            .octets
            .wrapping_add(u32::try_from(packet.payload.len()).unwrap_or(0));
        self.send.last_rtp_ts = packet.timestamp;
        self.send.last_sent_at = Some(now);
        self.send.sent_since_report = true;
        self.out.push_back(Output::Transmit(Transmit {
            channel: Channel::Rtp,
            destination,
            payload,
        }));
        true
    }

    fn ntp_at(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.started);
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        self.cfg
            .ntp_at_start
            .wrapping_add((d.as_secs() << 32) | frac)
    }

    fn report(&mut self, now: Instant, bye: bool) {
        let Some(destination) = self.rtcp_destination() else {
            return;
        };
        let mut reports = Vec::new();
        if let Some((ssrc, src)) = self.source.as_mut() {
            let (fraction_lost, cumulative_lost) = src.loss_report();
            let (last_sr, delay_since_last_sr) = self.last_sr.map_or((0, 0), |(lsr, at)| {
                let d = now.saturating_duration_since(at);
                (
                    lsr,
                    u32::try_from(d.as_micros() * 65536 / 1_000_000).unwrap_or(u32::MAX),
                )
            });
            reports.push(ReportBlock {
                ssrc: *ssrc,
                fraction_lost,
                cumulative_lost,
                extended_highest_seq: src.extended_max(),
                jitter: src.jitter(),
                last_sr,
                delay_since_last_sr,
            });
        }
        let ssrc = self.cfg.local_ssrc;
        let first = if self.send.sent_since_report {
            // The RTP timestamp of `now`, extrapolated from the last packet sent (§6.4.1).
            let since = self.send.last_sent_at.map_or(0, |t| {
                stats::units(now.saturating_duration_since(t), self.cfg.clock_rate)
            });
            RtcpPacket::SenderReport(SenderReport {
                ssrc,
                info: SenderInfo {
                    ntp_timestamp: self.ntp_at(now),
                    rtp_timestamp: self.send.last_rtp_ts.wrapping_add(since as u32),
                    packet_count: self.send.packets,
                    octet_count: self.send.octets,
                },
                reports,
            })
        } else {
            RtcpPacket::ReceiverReport(ReceiverReport { ssrc, reports })
        };
        self.send.sent_since_report = false;
        let mut packets = vec![
            first,
            RtcpPacket::Sdes(vec![SdesChunk {
                ssrc,
                items: vec![SdesItem {
                    kind: SdesItem::CNAME,
                    value: self.cfg.cname.as_bytes(),
                }],
            }]),
        ];
        if bye {
            packets.push(RtcpPacket::Bye(ByePacket {
                sources: vec![ssrc],
                reason: None,
            }));
        }
        if let Ok(payload) = (RtcpCompound { packets }).to_bytes() {
            self.out.push_back(Output::Transmit(Transmit {
                channel: Channel::Rtcp,
                destination,
                payload,
            }));
        }
    }

    /// Queues a final report with BYE (RFC 3550 §6.6), when RTCP is enabled.
    pub fn close(&mut self, now: Instant) {
        if self.cfg.rtcp_interval.is_some() {
            self.report(now, true);
        }
        self.next_rtcp = None;
        self.cfg.inactivity_timeout = None;
    }

    /// Fires due timers (RTCP report, inactivity); spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(at) = self.next_rtcp
            && now >= at
        {
            self.report(now, false);
            self.next_rtcp = self.cfg.rtcp_interval.map(|i| now + i);
        }
        if let Some(t) = self.cfg.inactivity_timeout
            && !self.inactive_reported
            && now.saturating_duration_since(self.last_activity) >= t
        {
            self.inactive_reported = true;
            self.out.push_back(Output::Event(SessionEvent::Inactive {
                last_activity: self.last_activity,
            }));
        }
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let inactivity = self
            .cfg
            .inactivity_timeout
            .filter(|_| !self.inactive_reported)
            .map(|t| self.last_activity + t);
        match (self.next_rtcp, inactivity) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next datagram to send or event to deliver.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests;
