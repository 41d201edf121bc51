//! Loopback: the paced sender streams a WAV file to an RTP endpoint through a tap socket that
//! timestamps every datagram; the audio out of the receiver's jitter buffer must equal the sent
//! audio (after G.711 encode/decode), and the inter-packet gaps on the wire are reported.
//! Real sockets and real time on 127.0.0.1; every await has a deadline naming what it awaited.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use mrcp_media::codec::{AudioDecoder, AudioEncoder, Codec, SampleRate};
use mrcp_media::endpoint::{
    EndpointConfig, MediaCommand, MediaEvent, PortAllocator, PortRange, RtpEndpoint,
};
use mrcp_media::pacer::PromptId;
use mrcp_media::wav::WavAudio;
use mrcp_proto::rtp::PayloadType;
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn test_wav(dir: &std::path::Path) -> WavAudio {
    // 2 s of a gliding tone with an envelope and a little noise: every frame differs.
    let rate = 8000usize;
    let mut x = 12345u32;
    let samples = (0..2 * rate)
        .map(|n| {
            let t = n as f32 / rate as f32;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let noise = (x % 400) as f32 - 200.0;
            let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 3.0 * t).sin();
            (env * 12000.0 * (2.0 * std::f32::consts::PI * (300.0 + 400.0 * t) * t).sin() + noise)
                as i16
        })
        .collect();
    let audio = WavAudio {
        rate: SampleRate::HZ_8000,
        samples,
    };
    let path = dir.join("prompt.wav");
    audio.write(&path).expect("write wav");
    WavAudio::read(&path).expect("read wav back")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[tokio::test]
async fn paced_wav_arrives_intact_through_the_jitter_buffer() {
    let dir = std::env::temp_dir().join(format!("mrcp-media-loopback-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let wav = test_wav(&dir);
    let mut ports = PortAllocator::new(PortRange::new(42000, 42400));

    let receiver_cfg =
        EndpointConfig::new(Codec::Pcmu, PayloadType::PCMU, None, 0x1111_2222_3333_4444);
    let mut receiver = RtpEndpoint::bind(receiver_cfg, &mut ports, LOCAL, 1)
        .await
        .expect("bind receiver");

    // The tap records arrival times on the wire and forwards to the receiver.
    let tap = UdpSocket::bind(SocketAddr::new(LOCAL, 0))
        .await
        .expect("bind tap");
    let tap_addr = tap.local_addr().expect("tap addr");
    let receiver_addr = receiver.local_rtp;
    let tap_task = tokio::spawn(async move {
        let mut arrivals = Vec::new();
        let mut buf = vec![0u8; 2048];
        while let Ok(Ok((n, _))) =
            timeout(Duration::from_millis(500), tap.recv_from(&mut buf)).await
        {
            arrivals.push(Instant::now());
            tap.send_to(&buf[..n], receiver_addr)
                .await
                .expect("forward to receiver");
        }
        arrivals
    });

    let mut sender_cfg =
        EndpointConfig::new(Codec::Pcmu, PayloadType::PCMU, None, 0x5555_6666_7777_8888);
    sender_cfg.session.remote_rtp = Some(tap_addr);
    let mut sender = RtpEndpoint::bind(sender_cfg, &mut ports, LOCAL, 2)
        .await
        .expect("bind sender");

    let started = Instant::now();
    for cmd in [
        MediaCommand::BeginPrompt(PromptId(1)),
        MediaCommand::Audio(wav.samples.clone()),
        MediaCommand::EndPrompt,
    ] {
        sender
            .commands
            .send(cmd)
            .await
            .expect("sender takes commands");
    }
    let finished = timeout(Duration::from_secs(10), async {
        loop {
            match sender.events.recv().await {
                Some(MediaEvent::PromptFinished {
                    prompt, stopped, ..
                }) => break (prompt, stopped),
                Some(_) => continue,
                None => panic!("sender ended before the prompt finished"),
            }
        }
    })
    .await
    .expect("deadline: PromptFinished from the sender within 10 s");
    assert_eq!(finished, (PromptId(1), false));
    let elapsed = started.elapsed();

    let mut received = Vec::new();
    timeout(Duration::from_secs(5), async {
        while received.len() < wav.samples.len() {
            match receiver.events.recv().await {
                Some(MediaEvent::Audio { samples, .. }) => received.extend(samples),
                Some(MediaEvent::Gap { samples, .. }) => assert!(
                    received.is_empty() || received.len() >= wav.samples.len(),
                    "gap inside the stream after {} samples ({})",
                    received.len(),
                    samples.len()
                ),
                Some(_) => {}
                None => panic!("receiver ended early"),
            }
        }
    })
    .await
    .expect("deadline: all audio out of the receiver's jitter buffer within 5 s");

    let mut expected = Vec::new();
    let mut payload = Vec::new();
    AudioEncoder::new(Codec::Pcmu).encode(&wav.samples, &mut payload);
    AudioDecoder::new(Codec::Pcmu).decode(&payload, &mut expected);
    assert_eq!(received.len(), expected.len());
    assert!(
        received == expected,
        "received audio differs from the sent audio"
    );

    let arrivals = timeout(Duration::from_secs(5), tap_task)
        .await
        .expect("deadline: tap drains")
        .expect("tap task");
    assert_eq!(arrivals.len(), 100, "2 s of 20 ms packets");
    let mut gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    let (p50, p99, max) = (
        percentile(&gaps, 0.5),
        percentile(&gaps, 0.99),
        *gaps.last().expect("gaps"),
    );
    println!(
        "inter-packet gaps over {} packets: p50 {p50:?}, p99 {p99:?}, max {max:?}; prompt took {elapsed:?}",
        arrivals.len()
    );
    // Loose sanity only: wall-clock figures depend on the machine.
    assert!(
        p50 > Duration::from_millis(10) && p50 < Duration::from_millis(30),
        "p50 {p50:?}"
    );
    assert!(
        elapsed > Duration::from_millis(1900),
        "sent faster than real time: {elapsed:?}"
    );

    let rx = receiver.close().await;
    let tx = sender.close().await;
    println!("receiver: {:?}\nsender pacer: {:?}", rx.receive, tx.pacer);
    assert_eq!(rx.receive.received, 100);
    assert_eq!(rx.receive.lost, 0);
    assert_eq!(rx.jitter.late + rx.jitter.duplicates, 0);
    assert_eq!(tx.pacer.packets, 100);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_datagrams_are_counted_and_dropped() {
    let mut ports = PortAllocator::new(PortRange::new(42400, 42800));
    let mut cfg = EndpointConfig::new(
        Codec::Pcma,
        PayloadType::PCMA,
        Some(PayloadType::new(101).expect("pt")),
        9,
    );
    cfg.session.inactivity_timeout = Some(Duration::from_millis(300));
    let mut ep = RtpEndpoint::bind(cfg, &mut ports, LOCAL, 3)
        .await
        .expect("bind");
    let peer = UdpSocket::bind(SocketAddr::new(LOCAL, 0))
        .await
        .expect("bind peer");
    let mut good = vec![0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
    good.extend([0xd5; 160]);
    let mut te = vec![0x80, 101 | 0x80, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7];
    te.extend([4, 0x8a, 0, 160]);
    let datagrams: Vec<Vec<u8>> = vec![
        vec![0x40; 20],                                          // version 1
        vec![0xa0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 9],       // padding past the end
        vec![0x90, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9], // extension past the end
        vec![0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7],            // payload type not negotiated
        vec![0x80; 9000],                                        // giant
        good,
        te.clone(),
        {
            // The redundant end packet: same event, next sequence number.
            te[3] = 3;
            te
        },
    ];
    for d in &datagrams {
        peer.send_to(d, ep.local_rtp).await.expect("send");
    }
    let mut digits = Vec::new();
    let inactive = timeout(Duration::from_secs(5), async {
        loop {
            match ep.events.recv().await {
                Some(MediaEvent::Dtmf(d)) => digits.push(d.digit.as_char()),
                Some(MediaEvent::Inactive) => break true,
                Some(_) => {}
                None => break false,
            }
        }
    })
    .await
    .expect("deadline: inactivity reported within 5 s");
    assert!(inactive);
    assert_eq!(digits, vec!['4'], "one digit for two redundant end packets");
    let report = ep.close().await;
    assert_eq!(report.receive.malformed, 3);
    assert_eq!(report.receive.unknown_payload_type, 1);
    assert_eq!(report.receive.oversized, 1);
    assert_eq!(report.receive.received, 3);
}
