//! Receiving synthesized audio (RFC 6787 §8: the synthesizer streams RTP to the client) the way a UniMRCP
//! client hears it, and measuring it: time to the first packet, inter-packet gaps, RFC 3550 §6.4.1
//! interarrival jitter and drift against the RTP clock, packets outside the SPEAK (reference §8.3), packets
//! with another payload type or at the RTCP port (reference §9).
//!
//! [`TtsCapture`] is sans-IO: it takes datagrams with their arrival time and the phase of the SPEAK, and
//! decodes PCMU, PCMA or L16 (`mrcp-media`'s decoders) into linear samples. [`TtsReceiver`] owns the RTP and
//! RTCP sockets of a synthesizer session and feeds it. [`write_wav`] saves the audio (hound).
//!
//! The receiver reads raw packets rather than the output of a jitter buffer, so that the pacing measured is
//! the server's, not the buffer's.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mrcp_media::codec::{AudioDecoder, Codec};
use mrcp_proto::rtp::{PayloadType, RtpPacket};
use tokio::net::UdpSocket;

use crate::session::ClientError;

/// Largest RTP datagram read.
const MAX_DATAGRAM: usize = 2048;
/// At most this many samples of silence fill a timestamp gap (1 s at 8 kHz): a peer's jump in timestamps
/// never makes us allocate more.
const MAX_GAP_FILL: u32 = 8000;
/// At most this many samples are kept (one hour at 8 kHz).
const MAX_SAMPLES: usize = 8000 * 3600;

/// Where a SPEAK stands when a packet arrives (reference §8.3: UniMRCP clients play audio only between the
/// IN-PROGRESS and SPEAK-COMPLETE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// SPEAK sent, its IN-PROGRESS not yet received.
    BeforeInProgress,
    /// IN-PROGRESS received, SPEAK-COMPLETE not yet.
    Speaking,
    /// SPEAK-COMPLETE received.
    AfterComplete,
}

/// Percentiles of the gaps between consecutive packets, and jitter, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pacing {
    /// Gaps measured (packets − 1).
    pub gaps: u64,
    /// Median gap.
    pub gap_p50_ms: f64,
    /// 99th percentile gap.
    pub gap_p99_ms: f64,
    /// Largest gap.
    pub gap_max_ms: f64,
    /// RFC 3550 §6.4.1 interarrival jitter at the last packet.
    pub jitter_ms: f64,
    /// Largest distance between a packet's arrival and its place on the RTP clock, counted from the first
    /// packet: how far the stream ran ahead of (bursts) or behind real time. UniMRCP restarts its receiver
    /// past 500 ms at 8 kHz (`DEVIATION_THRESHOLD`, reference §9).
    pub max_drift_ms: f64,
}

/// What a SPEAK's audio looked like.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TtsStats {
    /// Packets played (between IN-PROGRESS and SPEAK-COMPLETE, with the negotiated payload type).
    pub packets: u64,
    /// Samples decoded (silence filling lost packets included).
    pub samples: u64,
    /// The sample rate of the audio.
    pub sample_rate: u32,
    /// SPEAK sent → first packet.
    pub first_packet_from_request: Option<Duration>,
    /// IN-PROGRESS received → first packet (zero when the packet came first).
    pub first_packet_from_in_progress: Option<Duration>,
    /// Last packet → SPEAK-COMPLETE (the guard time the server left; reference §12 #4).
    pub last_packet_to_complete: Option<Duration>,
    /// Pacing of the packets played.
    pub pacing: Pacing,
    /// Packets before the IN-PROGRESS (discarded by UniMRCP clients).
    pub before_in_progress: u64,
    /// Packets after SPEAK-COMPLETE (lost by FreeSWITCH).
    pub after_complete: u64,
    /// Packets with another payload type than the negotiated one (comfort noise excluded).
    pub wrong_payload_type: u64,
    /// The first wrong payload type seen.
    pub first_wrong_payload_type: Option<u8>,
    /// RTP packets that reached the RTCP port.
    pub rtp_at_rtcp_port: u64,
    /// Datagrams that are not RTP.
    pub malformed: u64,
}

/// Collects one SPEAK's audio and timing; sans-IO.
#[derive(Debug)]
pub struct TtsCapture {
    codec: Codec,
    payload_type: PayloadType,
    decoder: AudioDecoder,
    samples: Vec<i16>,
    sent_at: Instant,
    in_progress_at: Option<Instant>,
    complete_at: Option<Instant>,
    first: Option<(Instant, u32)>,
    last: Option<(Instant, u32, u32)>,
    gaps: Histogram<u64>,
    jitter: f64,
    last_transit: Option<f64>,
    max_drift: f64,
    stats: TtsStats,
}

impl TtsCapture {
    /// A capture for a SPEAK sent at `sent_at`, on the negotiated codec and payload type.
    pub fn new(codec: Codec, payload_type: PayloadType, sent_at: Instant) -> Self {
        let mut gaps = Histogram::new_with_bounds(1, 60_000_000, 3)
            .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_histogram()));
        gaps.auto(true);
        Self {
            codec,
            payload_type,
            decoder: AudioDecoder::new(codec),
            samples: Vec::new(),
            sent_at,
            in_progress_at: None,
            complete_at: None,
            first: None,
            last: None,
            gaps,
            jitter: 0.0,
            last_transit: None,
            max_drift: 0.0,
            stats: TtsStats {
                sample_rate: codec.sample_rate().0,
                ..TtsStats::default()
            },
        }
    }

    /// The IN-PROGRESS response arrived.
    pub fn in_progress(&mut self, at: Instant) {
        self.in_progress_at.get_or_insert(at);
    }

    /// SPEAK-COMPLETE arrived.
    pub fn complete(&mut self, at: Instant) {
        self.complete_at.get_or_insert(at);
    }

    /// The phase a packet arriving now falls in.
    pub fn phase(&self) -> Phase {
        match (self.in_progress_at, self.complete_at) {
            (_, Some(_)) => Phase::AfterComplete,
            (Some(_), None) => Phase::Speaking,
            (None, None) => Phase::BeforeInProgress,
        }
    }

    /// A datagram at the RTCP port: counted when it is RTP rather than RTCP (RTCP packet types 200–204 read
    /// as RTP payload types 72–76 with the marker set, RFC 5761 §4).
    pub fn on_rtcp_port(&mut self, datagram: &[u8]) {
        if let Ok(p) = RtpPacket::parse(datagram)
            && !(72..=76).contains(&p.payload_type.get())
        {
            self.stats.rtp_at_rtcp_port += 1;
        }
    }

    /// An RTP datagram that arrived at `at`.
    pub fn on_packet(&mut self, at: Instant, datagram: &[u8]) {
        let Ok(p) = RtpPacket::parse(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        if p.payload_type != self.payload_type {
            if p.payload_type != PayloadType::CN {
                self.stats.wrong_payload_type += 1;
                self.stats
                    .first_wrong_payload_type
                    .get_or_insert(p.payload_type.get());
            }
            return;
        }
        match self.phase() {
            Phase::BeforeInProgress => {
                self.stats.before_in_progress += 1;
                return;
            }
            Phase::AfterComplete => {
                self.stats.after_complete += 1;
                return;
            }
            Phase::Speaking => {}
        }
        self.stats.packets += 1;
        let clock = f64::from(self.codec.clock_rate().max(1));
        if self.first.is_none() {
            self.first = Some((at, p.timestamp));
            self.stats.first_packet_from_request = Some(at.saturating_duration_since(self.sent_at));
            self.stats.first_packet_from_in_progress =
                self.in_progress_at.map(|t| at.saturating_duration_since(t));
        }
        if let Some((first_at, first_ts)) = self.first {
            let elapsed = at.saturating_duration_since(first_at).as_secs_f64();
            let media = f64::from(p.timestamp.wrapping_sub(first_ts)) / clock;
            self.max_drift = self.max_drift.max((elapsed - media).abs());
            // RFC 3550 §6.4.1: D = (Rj − Ri) − (Sj − Si), J += (|D| − J) / 16, in seconds here.
            let transit = elapsed - media;
            if let Some(prev) = self.last_transit {
                let d = (transit - prev).abs();
                self.jitter += (d - self.jitter) / 16.0;
            }
            self.last_transit = Some(transit);
        }
        if let Some((last_at, last_ts, last_units)) = self.last {
            let gap = at.saturating_duration_since(last_at);
            self.gaps
                .saturating_record(u64::try_from(gap.as_micros()).unwrap_or(u64::MAX).max(1));
            // A timestamp jump past the previous packet's end is lost audio: fill it with silence (bounded).
            let expected = last_ts.wrapping_add(last_units);
            let missing = p.timestamp.wrapping_sub(expected);
            if missing > 0 && missing <= MAX_GAP_FILL {
                let n = self.codec.sample_rate().0 as usize * missing as usize
                    / self.codec.clock_rate().max(1) as usize;
                self.push_samples(&vec![0; n]);
            }
        }
        let units = self.codec.timestamp_units(p.payload.len());
        self.last = Some((at, p.timestamp, units));
        let mut decoded = Vec::with_capacity(self.codec.samples_in(p.payload.len()));
        self.decoder.decode(p.payload, &mut decoded);
        self.push_samples(&decoded);
    }

    fn push_samples(&mut self, s: &[i16]) {
        let room = MAX_SAMPLES.saturating_sub(self.samples.len());
        let take = s.get(..room.min(s.len())).unwrap_or(&[]);
        self.samples.extend_from_slice(take);
        self.stats.samples = self.samples.len() as u64;
    }

    /// The measurements so far.
    pub fn stats(&self) -> TtsStats {
        let mut stats = self.stats.clone();
        let ms = |us: u64| us as f64 / 1000.0;
        if !self.gaps.is_empty() {
            stats.pacing.gaps = self.gaps.len();
            stats.pacing.gap_p50_ms = ms(self.gaps.value_at_quantile(0.5));
            stats.pacing.gap_p99_ms = ms(self.gaps.value_at_quantile(0.99));
            stats.pacing.gap_max_ms = ms(self.gaps.max());
        }
        stats.pacing.jitter_ms = self.jitter * 1000.0;
        stats.pacing.max_drift_ms = self.max_drift * 1000.0;
        stats.last_packet_to_complete = match (self.last, self.complete_at) {
            (Some((at, _, _)), Some(done)) => Some(done.saturating_duration_since(at)),
            _ => None,
        };
        stats
    }

    /// The decoded audio.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Takes the decoded audio.
    pub fn into_samples(self) -> Vec<i16> {
        self.samples
    }
}

#[allow(clippy::panic)]
fn unreachable_histogram() -> Histogram<u64> {
    // Three significant digits are always accepted (hdrhistogram allows 0..=5).
    panic!("hdrhistogram refused 3 significant digits")
}

/// The RTP and RTCP sockets of a synthesizer session, and the codec the answer negotiated.
#[derive(Debug)]
pub struct TtsReceiver {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    local: SocketAddr,
    codec: Codec,
    payload_type: PayloadType,
    buf: Vec<u8>,
}

impl TtsReceiver {
    /// Wraps a bound port pair; PCMU until [`TtsReceiver::set_codec`].
    pub fn new(rtp: UdpSocket, rtcp: UdpSocket) -> Result<Self, ClientError> {
        let local = rtp.local_addr()?;
        Ok(Self {
            rtp,
            rtcp,
            local,
            codec: Codec::Pcmu,
            payload_type: PayloadType::PCMU,
            buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// The local RTP address (offered in the SDP).
    pub fn local_rtp(&self) -> SocketAddr {
        self.local
    }

    /// The codec and payload type of the answer.
    pub fn set_codec(&mut self, codec: Codec, payload_type: PayloadType) {
        self.codec = codec;
        self.payload_type = payload_type;
    }

    /// The negotiated payload type.
    pub fn payload_type(&self) -> PayloadType {
        self.payload_type
    }

    /// A capture for a SPEAK sent at `sent_at`.
    pub fn capture(&self, sent_at: Instant) -> TtsCapture {
        TtsCapture::new(self.codec, self.payload_type, sent_at)
    }

    /// Gives `capture` every datagram already waiting on either port, without waiting. Called as
    /// SPEAK-COMPLETE is read: on a busy client, audio that arrived before the event may not have been read
    /// yet, and must not be counted as coming after it.
    pub fn receive_ready(&mut self, capture: &mut TtsCapture) {
        while let Ok((n, _)) = self.rtp.try_recv_from(&mut self.buf) {
            capture.on_packet(Instant::now(), self.buf.get(..n).unwrap_or(&[]));
        }
        let mut rtcp_buf = [0u8; MAX_DATAGRAM];
        while let Ok((n, _)) = self.rtcp.try_recv_from(&mut rtcp_buf) {
            capture.on_rtcp_port(rtcp_buf.get(..n).unwrap_or(&[]));
        }
    }

    /// Waits for the next datagram on either port and gives it to `capture`. Cancel-safe.
    pub async fn receive(&mut self, capture: &mut TtsCapture) {
        let (rtp, rtcp, buf) = (&self.rtp, &self.rtcp, &mut self.buf);
        let mut rtcp_buf = [0u8; MAX_DATAGRAM];
        tokio::select! {
            r = rtp.recv_from(buf) => if let Ok((n, _)) = r {
                capture.on_packet(Instant::now(), buf.get(..n).unwrap_or(&[]));
            },
            r = rtcp.recv_from(&mut rtcp_buf) => if let Ok((n, _)) = r {
                capture.on_rtcp_port(rtcp_buf.get(..n).unwrap_or(&[]));
            },
        }
    }
}

/// Writes 16-bit mono samples at `sample_rate` to a WAV file.
pub fn write_wav(path: &Path, sample_rate: u32, samples: &[i16]) -> Result<(), ClientError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav_error = |e: hound::Error| ClientError::Wav(format!("{}: {e}", path.display()));
    let mut w = hound::WavWriter::create(path, spec).map_err(wav_error)?;
    for s in samples {
        w.write_sample(*s).map_err(wav_error)?;
    }
    w.finalize().map_err(wav_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let p = RtpPacket::new(
            PayloadType::new(pt).unwrap_or(PayloadType::PCMU),
            seq,
            ts,
            mrcp_proto::rtp::Ssrc(7),
            seq == 0,
            payload,
        );
        p.to_bytes().unwrap_or_default()
    }

    #[test]
    fn paced_stream_has_no_jitter_and_counts_phases() {
        let t0 = Instant::now();
        let mut c = TtsCapture::new(Codec::Pcmu, PayloadType::PCMU, t0);
        let silence = [0xffu8; 160];
        c.on_packet(t0, &packet(0, 0, 0, &silence));
        c.in_progress(t0 + Duration::from_millis(5));
        for i in 0..50u16 {
            let at = t0 + Duration::from_millis(10 + 20 * u64::from(i));
            c.on_packet(at, &packet(0, i, 160 * u32::from(i), &silence));
        }
        c.on_packet(t0, &packet(8, 99, 0, &silence));
        c.complete(t0 + Duration::from_millis(1100));
        c.on_packet(
            t0 + Duration::from_millis(1120),
            &packet(0, 60, 0, &silence),
        );
        let s = c.stats();
        assert_eq!((s.packets, s.samples), (50, 8000));
        assert_eq!((s.before_in_progress, s.after_complete), (1, 1));
        assert_eq!(
            (s.wrong_payload_type, s.first_wrong_payload_type),
            (1, Some(8))
        );
        assert_eq!(s.first_packet_from_request, Some(Duration::from_millis(10)));
        assert_eq!(
            s.first_packet_from_in_progress,
            Some(Duration::from_millis(5))
        );
        assert_eq!(s.last_packet_to_complete, Some(Duration::from_millis(110)));
        assert_eq!(s.pacing.gaps, 49);
        assert!((s.pacing.gap_p50_ms - 20.0).abs() < 0.1, "{s:?}");
        assert!(
            s.pacing.jitter_ms < 0.01 && s.pacing.max_drift_ms < 0.01,
            "{s:?}"
        );
    }

    #[test]
    fn a_burst_shows_as_drift_and_jitter_and_a_lost_packet_as_silence() {
        let t0 = Instant::now();
        let mut c = TtsCapture::new(Codec::Pcma, PayloadType::PCMA, t0);
        c.in_progress(t0);
        let voice = [0x55u8; 160];
        // Ten packets at once (a burst of 200 ms of audio), packet 5 missing.
        for i in (0..10u16).filter(|i| *i != 5) {
            c.on_packet(t0, &packet(8, i, 160 * u32::from(i), &voice));
        }
        let s = c.stats();
        assert_eq!(s.packets, 9);
        assert_eq!(s.samples, 1600, "the lost packet is filled with silence");
        assert!((s.pacing.max_drift_ms - 180.0).abs() < 0.5, "{s:?}");
        assert!(s.pacing.jitter_ms > 1.0, "{s:?}");
        assert!(c.samples()[..800].iter().all(|v| *v != 0));
    }

    #[test]
    fn rtp_at_the_rtcp_port_is_told_from_rtcp() {
        let mut c = TtsCapture::new(Codec::Pcmu, PayloadType::PCMU, Instant::now());
        c.on_rtcp_port(&packet(0, 1, 0, &[0xff; 160]));
        // An RTCP receiver report header: V=2, PT=201.
        c.on_rtcp_port(&[0x80, 201, 0, 1, 0, 0, 0, 7]);
        assert_eq!(c.stats().rtp_at_rtcp_port, 1);
    }
}
