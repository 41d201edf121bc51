//! The endpoint task: moves datagrams, commands and timer ticks between tokio and the sans-IO
//! machines. No protocol logic lives here.

use std::time::Instant as StdInstant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::{EndpointConfig, EndpointReport, MediaCommand, MediaEvent};
use crate::codec::{AudioDecoder, AudioEncoder};
use crate::dtmf::Rfc4733Receiver;
use crate::jitter::{JitterBuffer, JitterPacket, Playout};
use crate::pacer::{PacedSender, PacerOutput};
use crate::session::{Channel, Output, RtpSession, SessionEvent};

/// The receive buffer the RTP and RTCP sockets share: above the session's largest datagram (5200 bytes by
/// default), so a longer one, truncated here, still counts as oversized. 64 KiB here cost up to 128 KiB of
/// resident memory per session once the allocator recycled the buffers (docs/performance.md); one buffer
/// for both sockets rather than one each saves another 8 KiB per session.
const MAX_DATAGRAM: usize = 8192;

struct Machines {
    session: RtpSession,
    jitter: JitterBuffer<Vec<u8>>,
    pacer: PacedSender,
    decoder: AudioDecoder,
    encoder: AudioEncoder,
    rfc4733: Rfc4733Receiver,
    cfg: EndpointConfig,
    /// Samples waiting to fill a packet.
    partial: Vec<i16>,
    frame_samples: usize,
    report: EndpointReport,
}

impl Machines {
    fn command(&mut self, now: StdInstant, cmd: MediaCommand) {
        match cmd {
            MediaCommand::BeginPrompt(id) => self.pacer.begin_prompt(id),
            MediaCommand::Audio(samples) => {
                self.partial.extend_from_slice(&samples);
                let whole = self.partial.len() / self.frame_samples * self.frame_samples;
                for frame in self.partial[..whole].chunks(self.frame_samples) {
                    let mut payload = Vec::with_capacity(self.cfg.codec.payload_len(frame.len()));
                    self.encoder.encode(frame, &mut payload);
                    let units = self.cfg.codec.timestamp_units(payload.len());
                    self.pacer.push_frame(now, payload, units);
                }
                self.partial.drain(..whole);
            }
            MediaCommand::EndPrompt => {
                if !self.partial.is_empty() {
                    self.partial.resize(self.frame_samples, 0);
                    let mut payload = Vec::new();
                    self.encoder.encode(&self.partial, &mut payload);
                    let units = self.cfg.codec.timestamp_units(payload.len());
                    self.pacer.push_frame(now, payload, units);
                    self.partial.clear();
                }
                self.pacer.end_prompt(now);
            }
            MediaCommand::Stop => {
                self.partial.clear();
                self.pacer.stop(now);
            }
            MediaCommand::Pause => self.pacer.pause(now),
            MediaCommand::Resume => self.pacer.resume(now),
            MediaCommand::Dtmf(digit, duration) => {
                self.pacer.push_dtmf(now, digit, duration, 10);
            }
            MediaCommand::SetRemote(rtp, rtcp) => self.session.set_remote(rtp, rtcp),
        }
    }

    /// Runs every machine's timers and collects datagrams and events.
    fn drain(
        &mut self,
        now: StdInstant,
        sends: &mut Vec<(Channel, std::net::SocketAddr, Vec<u8>)>,
        events: &mut Vec<MediaEvent>,
    ) {
        self.session.handle_timeout(now);
        self.pacer.handle_timeout(now);
        while let Some(out) = self.pacer.poll_output() {
            match out {
                PacerOutput::Packet(p) => {
                    self.session
                        .send_rtp(now, &p.rtp(self.cfg.session.local_ssrc));
                }
                PacerOutput::PromptFinished {
                    prompt,
                    last_packet_at,
                    audio_end,
                    stopped,
                } => {
                    events.push(MediaEvent::PromptFinished {
                        prompt,
                        last_packet_at,
                        audio_end,
                        stopped,
                    });
                }
            }
        }
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Transmit(t) => sends.push((t.channel, t.destination, t.payload)),
                Output::Event(SessionEvent::Media(p)) => {
                    if Some(p.payload_type) == self.cfg.telephone_event {
                        if let Some(d) = self.rfc4733.handle_packet(p.timestamp, &p.payload) {
                            events.push(MediaEvent::Dtmf(d));
                        }
                    } else {
                        let duration = self.cfg.codec.timestamp_units(p.payload.len());
                        self.jitter.push(
                            p.arrival,
                            JitterPacket {
                                ssrc: p.ssrc,
                                sequence: p.sequence,
                                timestamp: p.timestamp,
                                marker: p.marker,
                                duration,
                                payload: p.payload,
                            },
                        );
                    }
                }
                Output::Event(SessionEvent::Latched(a)) => {
                    tracing::debug!(remote = %a, "rtp latched to the peer's source address");
                    events.push(MediaEvent::Latched(a));
                }
                Output::Event(SessionEvent::Bye(ssrc)) => {
                    tracing::debug!(%ssrc, "rtcp bye from the peer");
                    events.push(MediaEvent::Bye);
                }
                Output::Event(SessionEvent::Inactive { .. }) => {
                    tracing::info!("no rtp from the peer within the inactivity timeout");
                    events.push(MediaEvent::Inactive);
                }
                Output::Event(SessionEvent::SsrcChanged { old, new }) => {
                    tracing::debug!(%old, %new, "peer ssrc changed");
                }
                Output::Event(SessionEvent::SenderReport(_)) => {}
            }
        }
        while let Some(frame) = self.jitter.pop(now) {
            match frame {
                Playout::Packet {
                    timestamp,
                    marker,
                    payload,
                    ..
                } => {
                    let mut samples = Vec::with_capacity(self.cfg.codec.samples_in(payload.len()));
                    self.decoder.decode(&payload, &mut samples);
                    events.push(MediaEvent::Audio {
                        timestamp,
                        marker,
                        samples,
                    });
                }
                Playout::Gap {
                    timestamp,
                    duration,
                } => {
                    let n = usize::try_from(duration).unwrap_or(0)
                        * self.cfg.codec.sample_rate().0 as usize
                        / self.cfg.codec.clock_rate().max(1) as usize;
                    let mut samples = Vec::with_capacity(n);
                    self.decoder.conceal(n, &mut samples);
                    events.push(MediaEvent::Gap { timestamp, samples });
                }
            }
        }
    }

    fn deadline(&self) -> Option<StdInstant> {
        [
            self.session.poll_timeout(),
            self.jitter.poll_timeout(),
            self.pacer.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

pub(super) async fn run(
    cfg: EndpointConfig,
    seed: u64,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    mut commands: mpsc::Receiver<MediaCommand>,
    events: mpsc::Sender<MediaEvent>,
) -> EndpointReport {
    let start = Instant::now().into_std();
    let frame_samples = cfg
        .codec
        .sample_rate()
        .samples_in_ms(u32::try_from(cfg.ptime.as_millis()).unwrap_or(20))
        .max(1);
    let mut m = Machines {
        session: RtpSession::new(cfg.session.clone(), start),
        jitter: JitterBuffer::new(cfg.jitter.clone()),
        pacer: PacedSender::new(cfg.pacer(seed)),
        decoder: AudioDecoder::new(cfg.codec),
        encoder: AudioEncoder::new(cfg.codec),
        rfc4733: Rfc4733Receiver::new(),
        partial: Vec::new(),
        frame_samples,
        report: EndpointReport::default(),
        cfg,
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut sends = Vec::new();
    let mut out_events = Vec::new();
    let timer = sleep_until(Instant::now());
    tokio::pin!(timer);
    let mut open = true;
    while open {
        let deadline = m.deadline();
        if let Some(d) = deadline {
            timer.as_mut().reset(Instant::from_std(d));
        }
        tokio::select! {
            // Readiness, then a non-blocking read: both sockets can wait at once on the one buffer.
            Ok(()) = rtp.readable() => {
                if let Ok((n, from)) = rtp.try_recv_from(&mut buf) {
                    m.session.handle_rtp(Instant::now().into_std(), from, buf.get(..n).unwrap_or(&[]));
                }
            }
            Ok(()) = rtcp.readable() => {
                if let Ok((n, from)) = rtcp.try_recv_from(&mut buf) {
                    m.session.handle_rtcp(Instant::now().into_std(), from, buf.get(..n).unwrap_or(&[]));
                }
            }
            cmd = commands.recv() => match cmd {
                Some(c) => m.command(Instant::now().into_std(), c),
                None => open = false,
            },
            () = &mut timer, if deadline.is_some() => {}
        }
        let now = Instant::now().into_std();
        if !open {
            m.session.close(now);
        }
        m.drain(now, &mut sends, &mut out_events);
        for (channel, dest, bytes) in sends.drain(..) {
            let socket = match channel {
                Channel::Rtp => &rtp,
                Channel::Rtcp => &rtcp,
            };
            if let Err(e) = socket.send_to(&bytes, dest).await {
                tracing::warn!(destination = %dest, error = %e, "rtp send failed");
                m.report.send_errors += 1;
            }
        }
        for ev in out_events.drain(..) {
            if events.try_send(ev).is_err() {
                m.report.events_dropped += 1;
            }
        }
    }
    if m.report.events_dropped > 0 {
        tracing::warn!(
            dropped = m.report.events_dropped,
            "media events dropped: the owner did not keep up"
        );
    }
    m.report.receive = m.session.stats();
    m.report.jitter = m.jitter.stats();
    m.report.pacer = m.pacer.stats();
    m.report
}
