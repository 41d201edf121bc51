//! Decodes the MRCPv2 messages of a real UniMRCP recognition (the umc 'run recog' scenario of the bundled
//! capture) with the streaming decoder, and prints each message's start line, channel and typed headers.
//!
//! Run: `cargo run -p mrcp-proto --example decode_capture [capture-file]`
//! (default: `tests/data/unimrcp-wire-captures.txt` of this crate).

#[path = "../tests/mrcp_support/capture.rs"]
mod capture;

use std::process::ExitCode;

use mrcp_proto::mrcp::codec::Decoder;
use mrcp_proto::mrcp::header;
use mrcp_proto::mrcp::{BytesMut, Message, StartLine};

const SCENARIO: &str = "umc 'run recog'";

fn describe(msg: &Message) -> String {
    let kind = match &msg.start {
        StartLine::Request { .. } => "request ",
        StartLine::Response { status, .. } => {
            return format!("response {} ({})", msg.start, status.reason());
        }
        StartLine::Event { .. } => "event   ",
    };
    format!("{kind} {}", msg.start)
}

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/unimrcp-wire-captures.txt"
        )
        .to_owned()
    });
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let frames = match capture::parse(&text) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let exchange: Vec<_> = frames
        .iter()
        .filter(|f| f.scenario.starts_with(SCENARIO) && f.is_mrcp())
        .collect();
    if exchange.is_empty() {
        eprintln!("{path}: no MRCP messages in the {SCENARIO} scenario");
        return ExitCode::FAILURE;
    }
    println!(
        "MRCPv2 messages of the {SCENARIO} exchange ({} TCP segments), decoded as a stream:\n",
        exchange.len()
    );

    // One decoder per direction, as a connection would have; feed each segment as it arrived.
    let mut directions: Vec<(String, Decoder, BytesMut)> = Vec::new();
    for f in exchange {
        let key = format!("{} -> {}", f.src, f.dst);
        let idx = match directions.iter().position(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                directions.push((key.clone(), Decoder::default(), BytesMut::new()));
                directions.len() - 1
            }
        };
        let (_, decoder, buf) = &mut directions[idx];
        buf.extend_from_slice(&f.payload);
        loop {
            let msg = match decoder.decode(buf) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("frame {}: {e}", f.number);
                    return ExitCode::FAILURE;
                }
            };
            println!(
                "frame {:>3}  {key}  ({} bytes)",
                f.number,
                msg.message_length()
            );
            println!("  {}", describe(&msg));
            match msg.channel_id() {
                Ok(Some(ch)) => println!(
                    "  channel   session {} resource {}",
                    ch.session_id(),
                    ch.resource()
                ),
                Ok(None) => println!("  channel   (missing)"),
                Err(e) => println!("  channel   {e}"),
            }
            for (name, value) in msg.headers.iter() {
                let typed = match header::lookup(name) {
                    Some(info) => match (info.describe)(value) {
                        Ok(v) => v,
                        Err(e) => format!("invalid: {e}"),
                    },
                    None => format!("(unknown header) {value:?}"),
                };
                println!("  {name:<22} {typed}");
            }
            if !msg.body.is_empty() {
                let body = String::from_utf8_lossy(&msg.body);
                let first = body.lines().next().unwrap_or_default();
                println!(
                    "  body      {} bytes of {}: {first}…",
                    msg.body.len(),
                    msg.content_type().unwrap_or("(no type)")
                );
            }
            if let Some(m) = decoder.last_length_mismatch() {
                println!(
                    "  warning   message-length {} but {} bytes framed",
                    m.declared, m.actual
                );
            }
            println!();
        }
    }
    ExitCode::SUCCESS
}
