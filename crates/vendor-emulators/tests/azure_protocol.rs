//! The Azure emulator enforces the documented protocol: driven here by a raw WebSocket client, not the
//! adapter, so each rule is seen on its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use vendor_emulators::azure::{Script, stt};

const KEY: &str = "k";
const ID: &str = "0123456789abcdef0123456789abcdef";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(
    emulator: &vendor_emulators::azure::Emulator,
    connection_id: &str,
) -> Result<Ws, Error> {
    let url = format!(
        "ws://{}/speech/recognition/conversation/cognitiveservices/v1?language=en-US&format=detailed",
        emulator.addr()
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Ocp-Apim-Subscription-Key", KEY.parse().unwrap());
    request
        .headers_mut()
        .insert("X-ConnectionId", connection_id.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

fn config() -> Message {
    Message::text(
        "Path: speech.config\r\nX-Timestamp: 2026-01-01T00:00:00.000Z\r\nContent-Type: application/json\r\n\r\n{}",
    )
}

fn audio(request_id: &str, payload: &[u8]) -> Message {
    let head = format!(
        "Path: audio\r\nX-RequestId: {request_id}\r\nX-Timestamp: 2026-01-01T00:00:00.000Z\r\n"
    );
    let mut m = (head.len() as u16).to_be_bytes().to_vec();
    m.extend_from_slice(head.as_bytes());
    m.extend_from_slice(payload);
    Message::binary(m)
}

fn riff(rate: u32) -> Vec<u8> {
    let mut h = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data\0\0\0\0");
    h
}

/// The close frame the emulator ends with, as `code reason`.
async fn close_of(ws: &mut Ws) -> String {
    let wait = async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Close(Some(f))) = m {
                return format!("{} {}", u16::from(f.code), f.reason);
            }
        }
        String::from("no close frame")
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("no close in time")
}

#[tokio::test]
async fn the_handshake_needs_a_key_and_a_no_dash_connection_id() {
    let emulator = stt::start(Script::new(KEY, "yes")).await.unwrap();
    let Err(Error::Http(r)) = open(&emulator, "not-a-uuid").await else {
        panic!("accepted")
    };
    assert_eq!(r.status().as_u16(), 400);
    let wrong = stt::start(Script::new("other", "yes")).await.unwrap();
    let Err(Error::Http(r)) = open(&wrong, ID).await else {
        panic!("accepted")
    };
    assert_eq!(r.status().as_u16(), 401);
    assert!(open(&emulator, ID).await.is_ok());
}

#[tokio::test]
async fn audio_before_speech_config_is_refused_with_1002() {
    let emulator = stt::start(Script::new(KEY, "yes")).await.unwrap();
    let mut ws = open(&emulator, ID).await.unwrap();
    ws.send(audio(ID, &riff(16_000))).await.unwrap();
    assert!(close_of(&mut ws).await.starts_with("1002"));
}

#[tokio::test]
async fn framing_and_header_rules_have_their_documented_close_codes() {
    let emulator = stt::start(Script::new(KEY, "yes")).await.unwrap();
    let mut ws = open(&emulator, ID).await.unwrap();
    ws.send(config()).await.unwrap();
    ws.send(Message::binary(vec![0xFF, 0xFF, b'P']))
        .await
        .unwrap();
    assert_eq!(
        close_of(&mut ws).await,
        "1007 Incorrect message format. Binary message has invalid header size prefix."
    );

    let mut ws = open(&emulator, ID).await.unwrap();
    ws.send(config()).await.unwrap();
    ws.send(audio("with-dashes-0123-4567", &riff(16_000)))
        .await
        .unwrap();
    assert_eq!(
        close_of(&mut ws).await,
        "1002 Invalid request. X-RequestId header value was not specified in no-dash UUID format."
    );

    let mut ws = open(&emulator, ID).await.unwrap();
    ws.send(config()).await.unwrap();
    ws.send(audio(ID, &[0u8; 640])).await.unwrap();
    assert!(
        close_of(&mut ws)
            .await
            .starts_with("1007 Invalid audio format")
    );
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let mut script = Script::new(KEY, "yes");
    script.idle_timeout = Duration::from_millis(200);
    let emulator = stt::start(script).await.unwrap();
    let mut ws = open(&emulator, ID).await.unwrap();
    assert!(close_of(&mut ws).await.starts_with("1000 Timeout"));
}

#[tokio::test]
async fn silence_is_not_recognized_and_turns_are_framed() {
    let emulator = stt::start(Script::new(KEY, "yes")).await.unwrap();
    let mut ws = open(&emulator, ID).await.unwrap();
    ws.send(config()).await.unwrap();
    let mut first = riff(16_000);
    first.extend_from_slice(&[0u8; 6400]);
    ws.send(audio(ID, &first)).await.unwrap();
    ws.send(audio(ID, &[])).await.unwrap();
    let mut paths = Vec::new();
    let collect = async {
        while let Some(Ok(Message::Text(t))) = ws.next().await {
            let path = t
                .lines()
                .find_map(|l| l.strip_prefix("Path: "))
                .unwrap_or("")
                .to_owned();
            let done = path == "turn.end";
            paths.push((path, t.to_string()));
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), collect)
        .await
        .unwrap();
    let names: Vec<&str> = paths.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["turn.start", "speech.phrase", "turn.end"]);
    assert!(paths[1].1.contains("InitialSilenceTimeout"));
}
