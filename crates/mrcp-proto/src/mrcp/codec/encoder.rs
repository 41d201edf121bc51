//! The canonical MRCPv2 writer (RFC 6787 §5.1): `Channel-Identifier` first, the other headers in order,
//! `Content-Length` last and only when there is a body, CRLF line ends, and a message-length that counts the
//! whole message including its own digits.

use bytes::{BufMut, BytesMut};

use crate::mrcp::message::{Message, StartLine, VERSION};

const CHANNEL_IDENTIFIER: &[u8] = b"Channel-Identifier";
const CONTENT_LENGTH: &[u8] = b"Content-Length";

/// Number of decimal digits of `n`.
fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn put_u64(dst: &mut BytesMut, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.put_slice(&buf[i..]);
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Length of the start line after `MRCP/2.0 <length> ` and before CRLF.
fn start_rest_len(start: &StartLine) -> usize {
    match start {
        StartLine::Request { method, request_id } => {
            method.as_str().len() + 1 + digits(u64::from(request_id.0))
        }
        StartLine::Response {
            request_id, state, ..
        } => digits(u64::from(request_id.0)) + 1 + 3 + 1 + state.as_str().len(),
        StartLine::Event {
            event,
            request_id,
            state,
        } => event.as_str().len() + 1 + digits(u64::from(request_id.0)) + 1 + state.as_str().len(),
    }
}

/// The index of the header written first: the first `Channel-Identifier`.
fn channel_index(msg: &Message) -> Option<usize> {
    msg.headers
        .iter_bytes()
        .position(|(n, _)| n.eq_ignore_ascii_case(CHANNEL_IDENTIFIER))
}

/// Bytes after the start line: headers, the empty line and the body.
fn tail_len(msg: &Message) -> usize {
    let mut n = 2;
    for (name, value) in msg.headers.iter_bytes() {
        if !name.eq_ignore_ascii_case(CONTENT_LENGTH) {
            n += name.len() + 2 + value.len() + 2;
        }
    }
    if !msg.body.is_empty() {
        n += CONTENT_LENGTH.len() + 2 + digits(len_u64(msg.body.len())) + 2;
    }
    n + msg.body.len()
}

/// The message-length of `msg` once encoded: the smallest fixed point `L = base + digits(L)`. Each extra digit
/// changes the total by one, so the loop ends within a few steps (99 → 101, 998 → 1002).
pub fn message_length(msg: &Message) -> usize {
    let base = VERSION.len() + 1 + 1 + start_rest_len(&msg.start) + 2 + tail_len(msg);
    let mut d = 1;
    while digits(len_u64(base + d)) != d {
        d += 1;
    }
    base + d
}

fn put_header(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    dst.put_slice(name);
    dst.put_slice(b": ");
    dst.put_slice(value);
    dst.put_slice(b"\r\n");
}

/// Appends the canonical wire form of `msg` to `dst`. `Content-Length` fields in `msg.headers` are ignored; the
/// one written is computed from the body.
pub fn encode(msg: &Message, dst: &mut BytesMut) {
    let total = message_length(msg);
    dst.reserve(total);
    dst.put_slice(VERSION.as_bytes());
    dst.put_u8(b' ');
    put_u64(dst, len_u64(total));
    dst.put_u8(b' ');
    match &msg.start {
        StartLine::Request { method, request_id } => {
            dst.put_slice(method.as_str().as_bytes());
            dst.put_u8(b' ');
            put_u64(dst, u64::from(request_id.0));
        }
        StartLine::Response {
            request_id,
            status,
            state,
        } => {
            put_u64(dst, u64::from(request_id.0));
            dst.put_u8(b' ');
            put_u64(dst, u64::from(status.code()));
            dst.put_u8(b' ');
            dst.put_slice(state.as_str().as_bytes());
        }
        StartLine::Event {
            event,
            request_id,
            state,
        } => {
            dst.put_slice(event.as_str().as_bytes());
            dst.put_u8(b' ');
            put_u64(dst, u64::from(request_id.0));
            dst.put_u8(b' ');
            dst.put_slice(state.as_str().as_bytes());
        }
    }
    dst.put_slice(b"\r\n");
    let first = channel_index(msg);
    if let Some((name, value)) = first.and_then(|i| msg.headers.iter_bytes().nth(i)) {
        put_header(dst, name, value);
    }
    for (i, (name, value)) in msg.headers.iter_bytes().enumerate() {
        if Some(i) != first && !name.eq_ignore_ascii_case(CONTENT_LENGTH) {
            put_header(dst, name, value);
        }
    }
    if !msg.body.is_empty() {
        dst.put_slice(CONTENT_LENGTH);
        dst.put_slice(b": ");
        put_u64(dst, len_u64(msg.body.len()));
        dst.put_slice(b"\r\n");
    }
    dst.put_slice(b"\r\n");
    dst.put_slice(&msg.body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrcp::{ChannelId, Method, RequestId, RequestState, ResourceType, StatusCode};

    fn channel() -> ChannelId {
        ChannelId::new("9f8e7d6c5b4a3921", ResourceType::Speechsynth).unwrap()
    }

    #[test]
    fn minimal_response_is_83_bytes_like_unimrcp() {
        let req = Message::request(Method::Speak, RequestId(1), &channel());
        let resp = Message::response_to(&req, StatusCode::SUCCESS, RequestState::InProgress);
        let bytes = resp.to_bytes();
        assert_eq!(
            &bytes[..],
            b"MRCP/2.0 83 1 200 IN-PROGRESS\r\nChannel-Identifier: 9f8e7d6c5b4a3921@speechsynth\r\n\r\n"
        );
        assert_eq!(bytes.len(), 83);
    }

    fn with_body_len(n: usize) -> Message {
        let mut m = Message::request(Method::Speak, RequestId(1), &channel());
        m.body = bytes::Bytes::from(vec![b'a'; n]);
        m
    }

    #[test]
    fn message_length_is_exact_across_digit_boundaries() {
        // Find the body sizes where the total crosses 99/100, 999/1000 and 9999/10000 and check each side.
        for n in 0..12_000 {
            let m = with_body_len(n);
            let bytes = m.to_bytes();
            let declared: usize = std::str::from_utf8(&bytes[9..])
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(declared, bytes.len(), "body {n}");
            assert_eq!(m.message_length(), bytes.len());
        }
        let lens: Vec<usize> = (0..12_000)
            .map(|n| with_body_len(n).message_length())
            .collect();
        for boundary in [100, 1000, 10_000] {
            // Around each digit boundary the length grows by one byte per body byte, plus one for the extra digit.
            let i = lens.iter().position(|&l| l >= boundary).unwrap();
            assert!(
                lens[i] - lens[i - 1] <= 2,
                "jump at {boundary}: {} -> {}",
                lens[i - 1],
                lens[i]
            );
        }
    }

    #[test]
    fn digit_boundary_fixed_points() {
        assert_eq!(digits(0), 1);
        assert_eq!(digits(99), 2);
        assert_eq!(digits(100), 3);
        // A base of 97 fits in 99 (2 digits); 98 cannot be 100 (3 digits) so becomes 101.
        let fixed = |base: usize| {
            let mut d = 1;
            while digits((base + d) as u64) != d {
                d += 1;
            }
            base + d
        };
        assert_eq!(fixed(97), 99);
        assert_eq!(fixed(98), 101);
        assert_eq!(fixed(99), 102);
        assert_eq!(fixed(996), 999);
        assert_eq!(fixed(997), 1001);
        assert_eq!(fixed(998), 1002);
    }
}
