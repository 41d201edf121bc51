//! The Azure text-to-speech REST endpoint: `POST /cognitiveservices/v1`, answered with a speech-like signal
//! in the asked format, sent with chunked transfer encoding as it is "synthesized". See [`super`] for the
//! documentation followed.
//!
//! HTTP/1.1 is served by hand over `httparse` because the emulator needs byte-level control of the
//! response (breaking a chunked body off halfway, dropping the connection after the request) that a
//! server framework hides.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Emulator, Fault, Script, Shared};
use crate::speech_audio::speech_like;

/// The largest request head and body accepted.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

/// Starts the TTS emulator on a loopback port.
pub async fn start(script: Script) -> std::io::Result<Emulator> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let shared = Shared::new(script);
    let state = shared.clone();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            // Small service messages go out at once, as from a real front end (no Nagle delay).
            let _ = stream.set_nodelay(true);
            connections.spawn(connection(stream, state.clone()));
        }
    });
    Ok(Emulator::new(addr, shared, task))
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let (head_len, method, path, headers, content_length) = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut slots);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let headers: Vec<(String, String)> = req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let cl = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (
                    len,
                    req.method.unwrap_or("").to_owned(),
                    req.path.unwrap_or("").to_owned(),
                    headers,
                    cl,
                );
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            _ => return None,
        }
    };
    if content_length > MAX_BODY {
        return None;
    }
    let mut body = buf.split_off(head_len);
    while body.len() < content_length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(content_length);
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

async fn respond(stream: &mut TcpStream, status: u16, reason: &str, body: &str) {
    let text = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The formats the emulator produces: (name, rate, μ-law?).
const FORMATS: [(&str, u32, bool); 3] = [
    ("raw-8khz-8bit-mono-mulaw", 8000, true),
    ("raw-8khz-16bit-mono-pcm", 8000, false),
    ("raw-16khz-16bit-mono-pcm", 16_000, false),
];

async fn connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let refuse = |status: u16| shared.log(|l| l.refused.push(status));
    if request.method != "POST" || request.path != "/cognitiveservices/v1" {
        refuse(404);
        return respond(&mut stream, 404, "Not Found", "").await;
    }
    if shared.throttled() {
        refuse(429);
        return respond(&mut stream, 429, "Too Many Requests", "").await;
    }
    if !shared.key_ok(
        request.header("Ocp-Apim-Subscription-Key"),
        request.header("Authorization"),
    ) {
        refuse(401);
        let body = r#"{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}"#;
        return respond(&mut stream, 401, "Unauthorized", body).await;
    }
    if !request
        .header("Content-Type")
        .is_some_and(|c| c.trim().starts_with("application/ssml+xml"))
    {
        refuse(415);
        return respond(&mut stream, 415, "Unsupported Media Type", "").await;
    }
    let format = request.header("X-Microsoft-OutputFormat").unwrap_or("");
    let Some(&(_, rate, mulaw)) = FORMATS.iter().find(|(n, _, _)| *n == format) else {
        refuse(400);
        return respond(
            &mut stream,
            400,
            "Bad Request",
            "unsupported X-Microsoft-OutputFormat",
        )
        .await;
    };
    let ssml = String::from_utf8_lossy(&request.body).into_owned();
    let Some(text) = spoken_text(&ssml) else {
        refuse(400);
        return respond(
            &mut stream,
            400,
            "Bad Request",
            "invalid SSML: speak and voice name are required",
        )
        .await;
    };
    shared.log(|l| {
        l.connections += 1;
        l.ssml.push(ssml.clone());
        l.formats.push(format.to_owned());
    });
    match shared.script.fault {
        Fault::Disconnect => return,
        Fault::Delay(d) => tokio::time::sleep(d).await,
        _ => {}
    }
    let samples = speech_like(&text, rate);
    let bytes: Vec<u8> = if mulaw {
        samples.iter().map(|&s| linear_to_ulaw(s)).collect()
    } else {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    };
    let head = "HTTP/1.1 200 OK\r\nContent-Type: audio/basic\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    // 100 ms of audio per chunk.
    let chunk_len = (rate as usize / 10) * if mulaw { 1 } else { 2 };
    let chunks: Vec<&[u8]> = bytes.chunks(chunk_len).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        if shared.script.fault == Fault::ErrorMidStream && i == chunks.len() / 2 {
            // Break the body off: no terminating chunk, connection closed.
            let _ = stream.shutdown().await;
            return;
        }
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            return;
        }
        shared.log(|l| l.audio_bytes += chunk.len());
    }
    shared.log(|l| l.finals_sent.push(Instant::now()));
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let _ = stream.shutdown().await;
}

/// The text inside `<voice name="…">` elements of a `<speak>` document, tags removed and entities decoded;
/// `None` when the document lacks `<speak` or a named `<voice`.
fn spoken_text(ssml: &str) -> Option<String> {
    if !ssml.contains("<speak") || !ssml.contains("xml:lang=") || !ssml.contains("<voice name=") {
        return None;
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in ssml.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// G.711 μ-law encoding (ITU-T G.711 §2), written here so the emulator shares no code with the adapter.
fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoken_text_needs_speak_and_a_named_voice() {
        assert_eq!(
            spoken_text(r#"<speak version="1.0" xml:lang="en-US"><voice name="v">Fish &amp; chips</voice></speak>"#)
                .as_deref(),
            Some("Fish & chips")
        );
        assert_eq!(spoken_text("<speak xml:lang=\"en\">hi</speak>"), None);
    }

    #[test]
    fn mulaw_of_silence_is_0xff() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1) & 0x80, 0);
    }
}
