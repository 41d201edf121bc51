//! One MRCP session as a UniMRCP-based client opens it: an INVITE with the profile's SDP offer for one
//! resource (one SIP dialog per resource, as mod_unimrcp does), a TCP control connection to the answered
//! address, and an RTP stream at real pace.
//!
//! With [`SessionConfig::tls`], the offer asks for `TCP/TLS/MRCPv2` and the control connection is TLS (RFC 6787
//! §4.2); with `transport: Transport::Tls`, SIP goes over TLS to a `sips:` URI (RFC 3261 §26.2, RFC 5630). The
//! server's certificate must chain to [`ClientTls`]'s roots and name the address connected to (or
//! [`ClientTls::server_name`]).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mrcp_media::codec::Codec as MediaCodec;
use mrcp_media::endpoint::{
    EndpointConfig, MediaCommand, MediaEvent, PortAllocator, PortRange, RtpEndpoint,
};
use mrcp_media::pacer::PromptId;
use mrcp_proto::mrcp::codec::Decoder;
use mrcp_proto::mrcp::{ChannelId, Message, Method, RequestId, ResourceType, StartLine};
use mrcp_proto::rtp::{DtmfEvent, PayloadType};
use mrcp_proto::sdp::{
    ChannelOffer, ClientProfile, ConnectionMode, ControlTransport, MrcpSdp, OfferConfig,
    build_offer, read_answer,
};
use mrcp_sip::driver::{DriverConfig, SipDriver, SipTls, spawn};
use mrcp_sip::tls::{self, rustls::ClientConfig};
use mrcp_sip::{Body, CallHandle, EndReason, Event, Invite, Peer, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::error::ClientError;
use crate::tts::TtsReceiver;
use crate::violation::{Accepted, Conformance, Mode, Violation, completion_event};

/// The RTP side of a session: an endpoint that sends (recognizer, recorder: audio and DTMF at real pace) or
/// a raw receiver (synthesizer: packets with their arrival times, see [`crate::tts`]).
#[derive(Debug)]
pub(crate) enum Media {
    /// Sends (and decodes through a jitter buffer).
    Endpoint(RtpEndpoint),
    /// Receives TTS.
    Receiver(TtsReceiver),
}

/// TLS for a session (see the module docs).
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// What the server's certificate must chain to, and our certificate for servers that require one.
    pub config: Arc<ClientConfig>,
    /// The name the server's certificate must carry; the IP address connected to when `None`.
    pub server_name: Option<String>,
}

impl ClientTls {
    /// Trusts the CA certificates of a PEM file, or the Mozilla roots (`webpki-roots`) without one.
    pub fn from_ca_file(ca: Option<&Path>) -> Result<ClientTls, ClientError> {
        Ok(ClientTls {
            config: tls::client_config(ca)?,
            server_name: None,
        })
    }
}

/// The MRCP control connection: TCP or TLS.
pub(crate) trait ControlStream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send + Sync> ControlStream for S {}

/// Where and how to open a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The server's SIP address.
    pub server: SocketAddr,
    /// UDP, TCP or TLS for SIP (TLS needs [`SessionConfig::tls`] or trusts the Mozilla roots).
    pub transport: Transport,
    /// Whose offer and requests to reproduce.
    pub profile: ClientProfile,
    /// The resource to ask for.
    pub resource: ResourceType,
    /// The local address for SIP and RTP.
    pub local_ip: IpAddr,
    /// Local RTP ports to take a pair from.
    pub rtp_ports: (u16, u16),
    /// How long to wait for SIP and MRCP answers.
    pub timeout: Duration,
    /// MRCP over TLS (`TCP/TLS/MRCPv2`) with these roots, and the roots of SIP over TLS; `None` for TCP.
    pub tls: Option<ClientTls>,
}

/// An open MRCP session with one channel.
pub struct Session {
    sip: SipDriver,
    call: CallHandle,
    channel: ChannelId,
    pub(crate) mrcp: Box<dyn ControlStream>,
    pub(crate) media: Media,
    pub(crate) decoder: Decoder,
    pub(crate) buf: BytesMut,
    next_request: u32,
    next_prompt: u64,
    pub(crate) timeout: Duration,
    sip_setup: Duration,
    telephone_event: bool,
    pub(crate) resource: ResourceType,
    pub(crate) conformance: Conformance,
}

/// What [`Session::until_event_with_media`] saw: the awaited event, what came before it, and the media
/// timing around it.
#[derive(Debug)]
pub struct MediaWait {
    /// Messages received before the event.
    pub before: Vec<Message>,
    /// The awaited event.
    pub event: Message,
    /// When the event was decoded.
    pub event_at: Instant,
    /// When the audio of the last input sent with [`Session::send_input`] ended at the receiver, if its last
    /// packet left before the event arrived.
    pub input_end: Option<Instant>,
    /// When the first audio from the server was played out (after the jitter buffer).
    pub first_audio_at: Option<Instant>,
    /// Audio frames received from the server.
    pub audio_frames: u64,
    /// Audio samples received from the server (8 kHz).
    pub audio_samples: u64,
}

impl Session {
    /// INVITE with the profile's offer, then connect the control channel.
    pub async fn open(config: &SessionConfig) -> Result<Session, ClientError> {
        let mut ports = PortAllocator::new(PortRange::new(config.rtp_ports.0, config.rtp_ports.1));
        Session::open_with_ports(config, &mut ports).await
    }

    /// Like [`Session::open`], taking the RTP port pair from `ports` (ignoring `config.rtp_ports`): a load
    /// generator keeps one allocator per session slot so that concurrent sessions never try the same ports.
    pub async fn open_with_ports(
        config: &SessionConfig,
        ports: &mut PortAllocator,
    ) -> Result<Session, ClientError> {
        let endpoint = mrcp_sip::EndpointConfig::default();
        let local = SocketAddr::new(config.local_ip, 0);
        let (udp, tcp) = match config.transport {
            // TLS requests name the TCP socket in Via and come back over the connection (SipTls).
            Transport::Tcp | Transport::Tls => (Vec::new(), vec![local]),
            Transport::Udp => (vec![local], Vec::new()),
        };
        let tls_config = match (&config.tls, config.transport) {
            (Some(t), _) => SipTls {
                client: Some(t.config.clone()),
                server_name: t.server_name.clone(),
                ..SipTls::default()
            },
            (None, Transport::Tls) => SipTls {
                client: Some(tls::client_config(None)?),
                ..SipTls::default()
            },
            (None, _) => SipTls::default(),
        };
        let mut sip = spawn(DriverConfig {
            udp,
            tcp,
            tls_config,
            endpoint,
            ..DriverConfig::default()
        })
        .await?;
        let mut connect_failures = sip.handle.connect_failures();
        // The profiles offer PCMU first and servers answer in the offer's order; the endpoint follows the answer.
        let cfg = EndpointConfig::new(
            MediaCodec::Pcmu,
            PayloadType::PCMU,
            PayloadType::new(101),
            rand::random(),
        );
        let mut media = if config.resource == ResourceType::Speechsynth {
            let (rtp, rtcp) = ports.bind_pair(config.local_ip).await?;
            Media::Receiver(TtsReceiver::new(rtp, rtcp)?)
        } else {
            Media::Endpoint(RtpEndpoint::bind(cfg, ports, config.local_ip, rand::random()).await?)
        };
        let rtp_port = match &media {
            Media::Endpoint(e) => e.local_rtp.port(),
            Media::Receiver(r) => r.local_rtp().port(),
        };
        let mut offer_config = OfferConfig::new(
            config.profile,
            config.local_ip,
            rand::random::<u64>() >> 1,
            1,
        );
        if config.tls.is_some() {
            offer_config.control_transport = ControlTransport::Tls;
        }
        let offer = build_offer(
            &offer_config,
            &[ChannelOffer {
                resource: config.resource,
                connection_mode: ConnectionMode::New,
                rtp_port,
            }],
        );
        let invited = Instant::now();
        let call = sip
            .handle
            .invite(Invite {
                uri: match config.transport {
                    Transport::Tls => format!("sips:mrcp@{}", config.server),
                    _ => format!("sip:mrcp@{}", config.server),
                },
                peer: Peer {
                    transport: config.transport,
                    addr: config.server,
                    connection: None,
                },
                from: None,
                to: None,
                headers: vec![(
                    "User-Agent".to_owned(),
                    user_agent(config.profile).to_owned(),
                )],
                body: Some(Body::sdp(offer.to_string())),
            })
            .await?;
        let answer = tokio::time::timeout(config.timeout, async {
            loop {
                match sip.events.recv().await {
                    Some(Event::Answered { response, .. }) => return Ok(response),
                    Some(Event::Rejected { response, .. }) => {
                        return Err(ClientError::Rejected {
                            status: response.status().unwrap_or(0),
                        });
                    }
                    Some(Event::Terminated {
                        call: ended,
                        reason: EndReason::TransportError,
                    }) if ended == call => {
                        // The driver published why before failing the transaction.
                        return Err(match connect_failures.try_recv() {
                            Ok(failure) => ClientError::Connect {
                                addr: failure.addr,
                                transport: failure.transport,
                                error: failure.error,
                            },
                            Err(_) => ClientError::Closed,
                        });
                    }
                    Some(_) => {}
                    None => return Err(ClientError::Closed),
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout {
            what: "answer to the INVITE",
            limit_ms: millis(config.timeout),
        })??;
        let sip_setup = invited.elapsed();
        let text = String::from_utf8_lossy(&answer.body);
        let negotiated = read_answer(&offer, &MrcpSdp::parse(&text)?)?;
        let channel = negotiated
            .first()
            .ok_or(ClientError::ChannelRefused(config.resource))?;
        let (Some(channel_id), Some(mrcp_addr)) = (channel.channel_id.clone(), channel.mrcp) else {
            return Err(ClientError::ChannelRefused(config.resource));
        };
        let telephone_event = channel
            .audio
            .as_ref()
            .is_some_and(|a| a.telephone_event.is_some());
        if let Some(audio) = &channel.audio {
            match &mut media {
                Media::Endpoint(rtp) => {
                    let _ = rtp
                        .commands
                        .send(MediaCommand::SetRemote(Some(audio.remote), None))
                        .await;
                }
                Media::Receiver(receiver) => {
                    let c = &audio.codec;
                    let codec = MediaCodec::from_rtpmap(
                        &c.encoding_name,
                        c.clock_rate,
                        Some(u32::from(c.channels)),
                    );
                    match (codec, PayloadType::new(c.payload_type)) {
                        (Some(codec), Some(pt)) => receiver.set_codec(codec, pt),
                        _ => return Err(ClientError::UnsupportedCodec(c.encoding_name.clone())),
                    }
                }
            }
        }
        let tcp = tokio::time::timeout(config.timeout, TcpStream::connect(mrcp_addr))
            .await
            .map_err(|_| ClientError::Timeout {
                what: "MRCP connection",
                limit_ms: millis(config.timeout),
            })??;
        tcp.set_nodelay(true)?;
        let mrcp: Box<dyn ControlStream> = match &config.tls {
            Some(t) => {
                if channel.transport != ControlTransport::Tls {
                    return Err(ClientError::TlsRefused {
                        answered: channel.transport.as_str(),
                    });
                }
                let name = tls::server_name(mrcp_addr, t.server_name.as_deref())?;
                Box::new(
                    tls::connect(t.config.clone(), name, tcp, mrcp_addr, config.timeout).await?,
                )
            }
            None => Box::new(tcp),
        };
        Ok(Session {
            sip,
            call,
            channel: channel_id.clone(),
            mrcp,
            media,
            decoder: Decoder::default(),
            buf: BytesMut::new(),
            next_request: 1,
            next_prompt: 1,
            timeout: config.timeout,
            sip_setup,
            telephone_event,
            resource: config.resource,
            conformance: Conformance::new(channel_id.clone(), Mode::Strict),
        })
    }

    /// Time from sending the INVITE to its 200 OK.
    pub fn sip_setup(&self) -> Duration {
        self.sip_setup
    }

    /// The channel the server allocated.
    pub fn channel(&self) -> &ChannelId {
        &self.channel
    }

    /// Sends a request with header fields and an optional `(content type, body)`; returns its request id
    /// (1, 2, 3… per session, as UniMRCP numbers them). It becomes the outstanding request the
    /// conformance checker expects a response to.
    pub async fn send(
        &mut self,
        method: Method,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Result<RequestId, ClientError> {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let mut message = Message::request(method.clone(), id, &self.channel);
        // UniMRCP's order (reference §6, §7.2, §7.3, §8.2): Channel-Identifier, Content-Type, the other
        // fields as added, and Content-Length last (written by the encoder).
        if let Some((content_type, bytes)) = body {
            let _ = message.set_body(content_type, bytes.to_vec());
        }
        for (name, value) in headers {
            // A caller-supplied field that does not parse is sent as written only if it is a legal field.
            let _ = message.headers.append_raw(name, value);
        }
        self.mrcp.write_all(&message.to_bytes()).await?;
        self.conformance.sent(id, method);
        // TLS holds records until flushed; for TCP this does nothing.
        self.mrcp.flush().await?;
        Ok(id)
    }

    /// Strict (the default) or lenient handling of violations.
    pub fn set_mode(&mut self, mode: Mode) {
        self.conformance.set_mode(mode);
    }

    /// Strict or lenient.
    pub fn mode(&self) -> Mode {
        self.conformance.mode()
    }

    /// The violations seen so far (lenient mode keeps all of them).
    pub fn violations(&self) -> &[Violation] {
        self.conformance.violations()
    }

    /// Checks a message from the server: strict mode turns a violation into an error.
    pub(crate) fn check(&mut self, m: &Message) -> Result<Accepted, ClientError> {
        Ok(self.conformance.on_message(m)?)
    }

    /// The error for a wait that timed out: [`Violation::NeverCompleted`] when a request is IN-PROGRESS and
    /// no response is outstanding, else a timeout naming `what`.
    pub(crate) fn timed_out(&mut self, what: &'static str) -> ClientError {
        let never = match (
            self.conformance.outstanding(),
            self.conformance.in_progress().first(),
        ) {
            (None, Some((request, method))) => Some(Violation::NeverCompleted {
                request: *request,
                method: method.clone(),
                event: completion_event(method).unwrap_or("completion event"),
                waited: self.timeout,
            }),
            _ => None,
        };
        match never {
            Some(v) => {
                // Reported in either mode: nothing more can be awaited.
                let _ = self.conformance.report(v.clone());
                ClientError::Violation(v)
            }
            None => ClientError::Timeout {
                what,
                limit_ms: millis(self.timeout),
            },
        }
    }

    /// The next message from the server, checked.
    pub async fn receive(&mut self) -> Result<Message, ClientError> {
        let read = tokio::time::timeout(
            self.timeout,
            read_message(&mut self.decoder, &mut self.buf, &mut self.mrcp),
        )
        .await;
        let m = match read {
            Ok(m) => m?,
            Err(_) => return Err(self.timed_out("MRCP message")),
        };
        self.check(&m)?;
        Ok(m)
    }

    /// Messages until the event named `event` with state COMPLETE; returns it and what came before.
    pub async fn until_event(
        &mut self,
        event: &str,
    ) -> Result<(Vec<Message>, Message), ClientError> {
        let mut before = Vec::new();
        loop {
            let m = self.receive().await?;
            if matches!(&m.start, StartLine::Event { event: e, .. } if e.as_str() == event) {
                return Ok((before, m));
            }
            before.push(m);
        }
    }

    /// Messages until the event named `event`, while watching the RTP stream: when the input sent with
    /// [`Session::send_input`] ended and what audio the server sent. Each message must arrive within the
    /// session timeout. (For synthesis, [`Session::speak`] measures the audio packet by packet.)
    pub async fn until_event_with_media(&mut self, event: &str) -> Result<MediaWait, ClientError> {
        let mut before = Vec::new();
        let (mut input_end, mut first_audio_at) = (None, None);
        let (mut audio_frames, mut audio_samples) = (0u64, 0u64);
        let mut media_open = matches!(self.media, Media::Endpoint(_));
        loop {
            let deadline = tokio::time::sleep(self.timeout);
            tokio::pin!(deadline);
            let message = loop {
                let events = match &mut self.media {
                    Media::Endpoint(e) => Some(&mut e.events),
                    Media::Receiver(_) => None,
                };
                tokio::select! {
                    // Reading is cancel-safe: partial bytes stay in `buf` for the next call.
                    m = read_message(&mut self.decoder, &mut self.buf, &mut self.mrcp) => break m?,
                    e = async { match events { Some(ev) => ev.recv().await, None => None } }, if media_open => match e {
                        Some(MediaEvent::Audio { samples, .. }) => {
                            first_audio_at.get_or_insert_with(Instant::now);
                            audio_frames += 1;
                            audio_samples += samples.len() as u64;
                        }
                        Some(MediaEvent::PromptFinished { audio_end, .. }) => input_end = Some(audio_end),
                        Some(_) => {}
                        None => media_open = false,
                    },
                    () = &mut deadline => return Err(self.timed_out("MRCP message")),
                }
            };
            self.check(&message)?;
            if matches!(&message.start, StartLine::Event { event: e, .. } if e.as_str() == event) {
                return Ok(MediaWait {
                    before,
                    event: message,
                    event_at: Instant::now(),
                    input_end,
                    first_audio_at,
                    audio_frames,
                    audio_samples,
                });
            }
            before.push(message);
        }
    }

    /// Waits until the last input sent with [`Session::send_input`] has been sent; returns a message that
    /// arrived first instead (none is expected while the caller hears a prompt).
    pub async fn until_prompt_end(&mut self) -> Result<Option<Message>, ClientError> {
        let limit_ms = millis(self.timeout);
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let Media::Endpoint(rtp) = &mut self.media else {
            return Err(ClientError::NoSender(self.resource));
        };
        let m = loop {
            tokio::select! {
                m = read_message(&mut self.decoder, &mut self.buf, &mut self.mrcp) => break m?,
                e = rtp.events.recv() => match e {
                    Some(MediaEvent::PromptFinished { .. }) => return Ok(None),
                    Some(_) => {}
                    None => return Err(ClientError::Closed),
                },
                () = &mut deadline => {
                    return Err(ClientError::Timeout { what: "end of the simulated prompt", limit_ms });
                }
            }
        };
        self.check(&m)?;
        Ok(Some(m))
    }

    /// Whether the answer negotiated telephone-event (RFC 4733).
    pub fn telephone_event(&self) -> bool {
        self.telephone_event
    }

    /// Sends 8 kHz samples and then the digits as one input at real pace: RFC 4733 events of 100 ms when
    /// telephone-event was negotiated, else in-band tones mixed into the audio as UniMRCP does (reference
    /// §7.7). Its end is reported by [`Session::until_event_with_media`].
    pub async fn send_input(
        &mut self,
        mut samples: Vec<i16>,
        digits: &str,
    ) -> Result<(), ClientError> {
        let prompt = PromptId(self.next_prompt);
        self.next_prompt += 1;
        if !self.telephone_event {
            samples.extend(crate::tones::inband_dtmf(digits));
        }
        let mut commands = vec![MediaCommand::BeginPrompt(prompt)];
        if !samples.is_empty() {
            commands.push(MediaCommand::Audio(samples));
        }
        if self.telephone_event {
            commands.extend(
                digits
                    .chars()
                    .filter_map(DtmfEvent::from_char)
                    .map(|d| MediaCommand::Dtmf(d, Duration::from_millis(100))),
            );
        }
        commands.push(MediaCommand::EndPrompt);
        self.commands(commands).await
    }

    async fn commands(&self, commands: Vec<MediaCommand>) -> Result<(), ClientError> {
        let Media::Endpoint(rtp) = &self.media else {
            return Err(ClientError::NoSender(self.resource));
        };
        for command in commands {
            rtp.commands
                .send(command)
                .await
                .map_err(|_| ClientError::Closed)?;
        }
        Ok(())
    }

    /// Streams 8 kHz mono samples at real pace as one talkspurt.
    pub async fn play(&self, samples: Vec<i16>) -> Result<(), ClientError> {
        self.commands(vec![
            MediaCommand::BeginPrompt(PromptId(1)),
            MediaCommand::Audio(samples),
            MediaCommand::EndPrompt,
        ])
        .await
    }

    /// Sends digits as RFC 4733 events of 100 ms each.
    pub async fn dtmf(&self, digits: &str) -> Result<(), ClientError> {
        let commands = digits
            .chars()
            .filter_map(DtmfEvent::from_char)
            .map(|event| MediaCommand::Dtmf(event, Duration::from_millis(100)))
            .collect();
        self.commands(commands).await
    }

    /// Closes the MRCP connection but not the SIP dialog (a client whose control connection drops).
    pub async fn drop_control(&mut self) -> Result<(), ClientError> {
        self.mrcp.shutdown().await?;
        Ok(())
    }

    /// Waits until the server ends the dialog (its BYE) and returns why it ended.
    pub async fn terminated(&mut self) -> Result<mrcp_sip::EndReason, ClientError> {
        let limit_ms = millis(self.timeout);
        tokio::time::timeout(self.timeout, async {
            loop {
                match self.sip.events.recv().await {
                    Some(Event::Terminated { call, reason }) if call == self.call => {
                        return Ok(reason);
                    }
                    Some(_) => {}
                    None => return Err(ClientError::Closed),
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout {
            what: "end of the SIP dialog",
            limit_ms,
        })?
    }

    /// Ends the session with BYE (bounded by the session timeout).
    pub async fn close(self) {
        let _ = tokio::time::timeout(self.timeout, self.sip.handle.bye(self.call)).await;
        if let Media::Endpoint(rtp) = self.media {
            let _ = tokio::time::timeout(self.timeout, rtp.close()).await;
        }
        self.sip.handle.shutdown();
    }
}

/// The next whole message on the control connection (RFC 6787 §5: framed by message-length).
pub(crate) async fn read_message(
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    mrcp: &mut (impl AsyncRead + Unpin + ?Sized),
) -> Result<Message, ClientError> {
    loop {
        if let Some(m) = decoder.decode(buf)? {
            return Ok(m);
        }
        if mrcp.read_buf(buf).await? == 0 {
            return Err(if buf.is_empty() {
                ClientError::Closed
            } else {
                ClientError::ClosedMidMessage {
                    buffered: buf.len(),
                }
            });
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn user_agent(profile: ClientProfile) -> &'static str {
    match profile {
        ClientProfile::FreeSwitch => "FreeSWITCH-mod_sofia/1.10.12-release",
        ClientProfile::Asterisk => "Asterisk PBX 20.0.0",
        _ => "UniMRCP SofiaSIP 1.8.0",
    }
}

/// Reads a WAV file as 8 kHz mono 16-bit samples, the audio the profiles send.
pub fn read_wav_8k(path: &Path) -> Result<Vec<i16>, ClientError> {
    let reader = hound::WavReader::open(path)
        .map_err(|e| ClientError::Wav(format!("{}: {e}", path.display())))?;
    let spec = reader.spec();
    if spec.channels != 1 || spec.sample_rate != 8000 || spec.bits_per_sample != 16 {
        return Err(ClientError::Wav(format!(
            "{}: need 8000 Hz mono 16-bit, found {} Hz, {} channels, {} bits (convert with: sox IN -r 8000 -c 1 -b 16 OUT.wav)",
            path.display(),
            spec.sample_rate,
            spec.channels,
            spec.bits_per_sample
        )));
    }
    reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| ClientError::Wav(format!("{}: {e}", path.display())))
}
