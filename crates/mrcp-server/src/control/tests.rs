//! Control connections against scripted clients: exact bytes in, routed requests and responses out.

use std::time::Duration;

use mrcp_proto::mrcp::codec::Decoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

const DEADLINE: Duration = Duration::from_secs(5);

fn config() -> ControlConfig {
    ControlConfig {
        limits: Limits::default(),
        tls: false,
        ..ControlConfig::default()
    }
}

/// A session that answers every request 200 COMPLETE and reports what it saw.
fn echo_session(registry: &SessionRegistry, session_id: &str) -> mpsc::Receiver<String> {
    let (tx, mut rx) = mpsc::channel(8);
    registry.insert(session_id, tx).unwrap();
    let (seen_tx, seen_rx) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                ControlEvent::Request {
                    message,
                    connection,
                } => {
                    let _ = seen_tx.send(message.start.to_string()).await;
                    let response =
                        Message::response_to(&message, StatusCode::SUCCESS, RequestState::Complete);
                    connection.send(response).unwrap();
                }
                ControlEvent::Closed(_) => {
                    let _ = seen_tx.send("closed".to_owned()).await;
                }
            }
        }
    });
    seen_rx
}

fn request(method: &str, id: u32, channel: Option<&str>) -> Vec<u8> {
    let headers = channel
        .map(|c| format!("Channel-Identifier: {c}\r\n"))
        .unwrap_or_default();
    let rest = format!(" {method} {id}\r\n{headers}\r\n");
    // The message length counts its own digits (RFC 6787 §5.1).
    let mut len = "MRCP/2.0 ".len() + rest.len() + 1;
    while "MRCP/2.0 ".len() + len.to_string().len() + rest.len() != len {
        len = "MRCP/2.0 ".len() + len.to_string().len() + rest.len();
    }
    format!("MRCP/2.0 {len}{rest}").into_bytes()
}

fn start(registry: &Arc<SessionRegistry>) -> (DuplexStream, CancellationToken) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let shutdown = CancellationToken::new();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    tokio::spawn(run_connection(
        server,
        ConnectionId(1),
        peer,
        registry.clone(),
        config(),
        shutdown.clone(),
    ));
    (client, shutdown)
}

async fn read_message(
    client: &mut DuplexStream,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
) -> Message {
    tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(m) = decoder.decode(buf).unwrap() {
                return m;
            }
            assert!(
                client.read_buf(buf).await.unwrap() > 0,
                "connection closed before a response"
            );
        }
    })
    .await
    .expect("no MRCP response within 5 s")
}

async fn next_seen(seen: &mut mpsc::Receiver<String>) -> String {
    tokio::time::timeout(DEADLINE, seen.recv())
        .await
        .expect("session saw nothing within 5 s")
        .unwrap()
}

#[tokio::test]
async fn routes_by_channel_and_answers_on_the_same_connection() {
    let registry = Arc::new(SessionRegistry::new());
    let mut a = echo_session(&registry, "aaaa");
    let mut b = echo_session(&registry, "bbbb");
    let (mut client, _shutdown) = start(&registry);
    let (mut decoder, mut buf) = (Decoder::default(), BytesMut::new());
    // Two sessions multiplexed on one connection, both requests in one write.
    let mut bytes = request("RECOGNIZE", 1, Some("aaaa@speechrecog"));
    bytes.extend(request("SPEAK", 7, Some("bbbb@speechsynth")));
    client.write_all(&bytes).await.unwrap();
    assert_eq!(next_seen(&mut a).await, "RECOGNIZE 1");
    assert_eq!(next_seen(&mut b).await, "SPEAK 7");
    let first = read_message(&mut client, &mut decoder, &mut buf).await;
    let second = read_message(&mut client, &mut decoder, &mut buf).await;
    let mut ids = [first.request_id().0, second.request_id().0];
    ids.sort_unstable();
    assert_eq!(ids, [1, 7]);
}

#[tokio::test]
async fn a_request_split_byte_by_byte_is_routed() {
    let registry = Arc::new(SessionRegistry::new());
    let mut a = echo_session(&registry, "aaaa");
    let (mut client, _shutdown) = start(&registry);
    for byte in request("STOP", 3, Some("aaaa@speechrecog")) {
        client.write_all(&[byte]).await.unwrap();
    }
    assert_eq!(next_seen(&mut a).await, "STOP 3");
}

#[tokio::test]
async fn requests_without_a_session_are_answered_here() {
    let registry = Arc::new(SessionRegistry::new());
    let (mut client, _shutdown) = start(&registry);
    let (mut decoder, mut buf) = (Decoder::default(), BytesMut::new());
    for (bytes, status) in [
        (request("RECOGNIZE", 1, Some("nosuch@speechrecog")), 405),
        (request("RECOGNIZE", 2, None), 406),
        (request("RECOGNIZE", 3, Some("abc@tts")), 404),
    ] {
        client.write_all(&bytes).await.unwrap();
        let response = read_message(&mut client, &mut decoder, &mut buf).await;
        assert!(
            matches!(response.start, StartLine::Response { status: s, state: RequestState::Complete, .. } if s.code() == status),
            "{}",
            response.start
        );
    }
}

#[tokio::test]
async fn garbage_closes_the_connection_and_tells_its_sessions() {
    let registry = Arc::new(SessionRegistry::new());
    let mut a = echo_session(&registry, "aaaa");
    let (mut client, _shutdown) = start(&registry);
    client
        .write_all(&request("RECOGNIZE", 1, Some("aaaa@speechrecog")))
        .await
        .unwrap();
    assert_eq!(next_seen(&mut a).await, "RECOGNIZE 1");
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(next_seen(&mut a).await, "closed");
    // The server side is gone: reads end.
    let mut rest = Vec::new();
    tokio::time::timeout(DEADLINE, client.read_to_end(&mut rest))
        .await
        .expect("connection not closed")
        .unwrap();
}

#[tokio::test]
async fn a_client_hanging_up_tells_its_sessions() {
    let registry = Arc::new(SessionRegistry::new());
    let mut a = echo_session(&registry, "aaaa");
    let (mut client, _shutdown) = start(&registry);
    client
        .write_all(&request("RECOGNIZE", 1, Some("aaaa@speechrecog")))
        .await
        .unwrap();
    assert_eq!(next_seen(&mut a).await, "RECOGNIZE 1");
    drop(client);
    assert_eq!(next_seen(&mut a).await, "closed");
}

#[tokio::test]
async fn serves_real_tcp_on_loopback() {
    let registry = Arc::new(SessionRegistry::new());
    let mut a = echo_session(&registry, "aaaa");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        listener,
        registry.clone(),
        config(),
        shutdown.clone(),
    ));
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client
        .write_all(&request("GET-PARAMS", 9, Some("aaaa@speechrecog")))
        .await
        .unwrap();
    assert_eq!(next_seen(&mut a).await, "GET-PARAMS 9");
    let (mut decoder, mut buf) = (Decoder::default(), BytesMut::new());
    let response = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(m) = decoder.decode(&mut buf).unwrap() {
                return m;
            }
            assert!(client.read_buf(&mut buf).await.unwrap() > 0);
        }
    })
    .await
    .expect("no response over TCP within 5 s");
    assert_eq!(response.request_id().0, 9);
    shutdown.cancel();
    tokio::time::timeout(DEADLINE, server)
        .await
        .expect("server did not stop")
        .unwrap();
}

#[test]
fn the_registry_refuses_duplicates() {
    let registry = SessionRegistry::new();
    let (tx, _rx) = mpsc::channel(1);
    registry.insert("s1", tx.clone()).unwrap();
    assert_eq!(
        registry.insert("s1", tx),
        Err(DuplicateSession("s1".to_owned()))
    );
    registry.remove("s1");
    assert!(registry.is_empty());
}
