//! The incremental MRCPv2 decoder (RFC 6787 §5.1) with the `tokio_util::codec::Decoder` contract: feed it
//! whatever the socket produced; `Ok(None)` means it needs more bytes, `Ok(Some(_))` is one message, `Err` means
//! the stream cannot be framed any more and the connection should be closed.

use bytes::{Buf, Bytes, BytesMut};

use crate::mrcp::headers::Headers;
use crate::mrcp::message::{Message, StartLine, VERSION};
use crate::mrcp::method::{EventName, Method, NotAToken, TOKEN_BYTES};
use crate::mrcp::status::{
    BadNumber, RequestId, RequestState, StatusCode, UnknownRequestState, parse_digits,
};

/// Size limits, all checked before anything is allocated for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest start line, in bytes without its line end.
    pub max_start_line: usize,
    /// Longest header section (start line, headers and the empty line), in bytes.
    pub max_header_section: usize,
    /// Most header fields in one message.
    pub max_headers: usize,
    /// Largest body (`Content-Length`), in bytes.
    pub max_body: usize,
}

impl Default for Limits {
    /// 1 KiB start line, 64 KiB header section, 256 fields, 4 MiB body (large inline grammars fit).
    fn default() -> Limits {
        Limits {
            max_start_line: 1024,
            max_header_section: 64 * 1024,
            max_headers: 256,
            max_body: 4 * 1024 * 1024,
        }
    }
}

/// What to do when the start-line message-length differs from the bytes framed by `Content-Length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LengthPolicy {
    /// Accept the message and report the difference ([`Decoder::last_length_mismatch`]), as UniMRCP and
    /// FreeSWITCH do (old UniMRCP servers sent wrong lengths, unimrcp issue 190).
    #[default]
    Tolerate,
    /// Fail with [`DecodeError::LengthMismatch`].
    Reject,
}

/// A start-line message-length that disagrees with the framed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthMismatch {
    /// The message-length of the start line.
    pub declared: u64,
    /// The bytes actually framed: header section plus Content-Length.
    pub actual: u64,
}

/// Why the byte stream could not be framed or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No line end within the start-line limit.
    #[error("start line longer than limit {limit}")]
    StartLineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// No empty line within the header-section limit.
    #[error("header section longer than limit {limit}")]
    HeaderSectionTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// More header fields than allowed.
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// `Content-Length` above the body limit.
    #[error("content-length {length} exceeds limit {limit}")]
    BodyTooLarge {
        /// The announced length.
        length: u64,
        /// The limit.
        limit: usize,
    },
    /// The header section is not UTF-8 (RFC 6787 §5.1 requires it).
    #[error("header section is not utf-8")]
    NotUtf8,
    /// A control character (other than HT, or CR before LF) inside the header section.
    #[error("control character at offset {offset} of the header section")]
    ControlCharacter {
        /// Byte offset from the start line.
        offset: usize,
    },
    /// The start line does not begin with `MRCP/2.0`.
    #[error("unsupported protocol version {version:?}")]
    UnsupportedVersion {
        /// The first token of the start line.
        version: String,
    },
    /// The start line has neither the request, response nor event shape.
    #[error("malformed start line {line:?}")]
    MalformedStartLine {
        /// The line (at most 128 bytes of it).
        line: String,
    },
    /// A numeric start-line field is malformed.
    #[error(transparent)]
    BadNumber(#[from] BadNumber),
    /// The request-state is not one of RFC 6787 §5.3.
    #[error(transparent)]
    BadRequestState(#[from] UnknownRequestState),
    /// A method or event name is not a token.
    #[error("bad method or event name: {0}")]
    BadName(#[from] NotAToken),
    /// A header line without `:` or with a name that is not a token.
    #[error("malformed header line {line:?}")]
    MalformedHeader {
        /// The line (at most 128 bytes of it).
        line: String,
    },
    /// `Content-Length` is not a decimal number.
    #[error("bad content-length {value:?}")]
    BadContentLength {
        /// The raw value.
        value: String,
    },
    /// Two `Content-Length` fields disagree, so the body cannot be framed.
    #[error("conflicting content-length {first} and {second}")]
    ConflictingContentLength {
        /// The first value.
        first: u64,
        /// The other value.
        second: u64,
    },
    /// The start-line length differs from the framed length (only with [`LengthPolicy::Reject`]).
    #[error("message-length {} differs from the {} bytes framed", .0.declared, .0.actual)]
    LengthMismatch(LengthMismatch),
    /// The stream ended in the middle of a message.
    #[error("stream ended inside a message with {buffered} bytes buffered")]
    Truncated {
        /// Bytes left in the buffer.
        buffered: usize,
    },
}

fn excerpt(s: &str) -> String {
    let mut end = s.len().min(128);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

enum State {
    /// Looking for the end of the header section; `scanned` bytes need no second look.
    Head { scanned: usize, line_seen: bool },
    /// Header section parsed, waiting for `body_len` bytes.
    Body {
        start: StartLine,
        headers: Headers,
        declared: u64,
        head_len: usize,
        body_len: usize,
    },
}

/// Frames MRCPv2 messages out of a byte stream; see the module docs for the contract.
///
/// ```
/// use bytes::BytesMut;
/// use mrcp_proto::mrcp::codec::Decoder;
///
/// let mut dec = Decoder::default();
/// let mut buf = BytesMut::from(&b"MRCP/2.0 83 1 200 IN-PROGRESS\r\nChannel-Identifier: 9f8e"[..]);
/// assert!(dec.decode(&mut buf).unwrap().is_none()); // needs more
/// buf.extend_from_slice(b"7d6c5b4a3921@speechsynth\r\n\r\n");
/// let msg = dec.decode(&mut buf).unwrap().unwrap();
/// assert_eq!(msg.start.to_string(), "1 200 IN-PROGRESS");
/// ```
pub struct Decoder {
    limits: Limits,
    policy: LengthPolicy,
    state: State,
    last_mismatch: Option<LengthMismatch>,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(Limits::default(), LengthPolicy::default())
    }
}

impl Decoder {
    /// A decoder with these limits and message-length policy.
    pub fn new(limits: Limits, policy: LengthPolicy) -> Decoder {
        Decoder {
            limits,
            policy,
            state: State::Head {
                scanned: 0,
                line_seen: false,
            },
            last_mismatch: None,
        }
    }

    /// The message-length disagreement of the message returned last, if it had one (log it as a warning).
    pub fn last_length_mismatch(&self) -> Option<LengthMismatch> {
        self.last_mismatch
    }

    /// Decodes the next message from the front of `buf`, consuming its bytes. Never panics; after `Err` the
    /// decoder is reset but the stream position is lost, so close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        let r = self.decode_inner(buf);
        if r.is_err() {
            self.state = State::Head {
                scanned: 0,
                line_seen: false,
            };
        }
        r
    }

    /// Like [`Decoder::decode`] at end of stream: a partial message left in `buf` is [`DecodeError::Truncated`].
    /// Stray line ends between messages are ignored.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        match self.decode(buf)? {
            Some(m) => Ok(Some(m)),
            None if matches!(self.state, State::Body { .. }) => {
                // The header section arrived but not the whole body.
                self.state = State::Head {
                    scanned: 0,
                    line_seen: false,
                };
                Err(DecodeError::Truncated {
                    buffered: buf.len(),
                })
            }
            None if buf.iter().all(|b| matches!(b, b'\r' | b'\n')) => {
                buf.clear();
                Ok(None)
            }
            None => Err(DecodeError::Truncated {
                buffered: buf.len(),
            }),
        }
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        if let State::Head { scanned, line_seen } = &mut self.state {
            if *scanned == 0 {
                // Tolerate empty lines between messages.
                let skip = buf
                    .iter()
                    .take_while(|b| matches!(b, b'\r' | b'\n'))
                    .count();
                buf.advance(skip);
                if buf.is_empty() {
                    return Ok(None);
                }
            }
            let Some(end) = find_head_end(buf, scanned, line_seen, &self.limits)? else {
                return Ok(None);
            };
            let head = buf.split_to(end).freeze();
            let (start, declared, headers, content_length) = parse_head(&head, &self.limits)?;
            let body_len = match usize::try_from(content_length) {
                Ok(n) if n <= self.limits.max_body => n,
                _ => {
                    return Err(DecodeError::BodyTooLarge {
                        length: content_length,
                        limit: self.limits.max_body,
                    });
                }
            };
            self.state = State::Body {
                start,
                headers,
                declared,
                head_len: end,
                body_len,
            };
        }
        let State::Body { body_len, .. } = self.state else {
            return Ok(None);
        };
        if buf.len() < body_len {
            // Checked against `max_body` above, so this reservation is bounded.
            buf.reserve(body_len - buf.len());
            return Ok(None);
        }
        let body = buf.split_to(body_len).freeze();
        let State::Body {
            start,
            headers,
            declared,
            head_len,
            body_len,
        } = std::mem::replace(
            &mut self.state,
            State::Head {
                scanned: 0,
                line_seen: false,
            },
        )
        else {
            return Ok(None);
        };
        let actual = u64::try_from(head_len + body_len).unwrap_or(u64::MAX);
        self.last_mismatch = (declared != actual).then_some(LengthMismatch { declared, actual });
        if let (Some(m), LengthPolicy::Reject) = (self.last_mismatch, self.policy) {
            return Err(DecodeError::LengthMismatch(m));
        }
        Ok(Some(Message {
            start,
            headers,
            body,
        }))
    }
}

/// Finds the end of the header section (just past the empty line), resuming at `*scanned`. Accepts CRLF, bare
/// LF and mixtures. Enforces the start-line and header-section limits on what has arrived so far.
fn find_head_end(
    buf: &[u8],
    scanned: &mut usize,
    line_seen: &mut bool,
    limits: &Limits,
) -> Result<Option<usize>, DecodeError> {
    let mut i = *scanned;
    while let Some(off) = buf.get(i..).and_then(|rest| memchr::memchr(b'\n', rest)) {
        let lf = i + off;
        if !*line_seen {
            let line_len = if lf > 0 && buf.get(lf - 1) == Some(&b'\r') {
                lf - 1
            } else {
                lf
            };
            if line_len > limits.max_start_line {
                return Err(DecodeError::StartLineTooLong {
                    limit: limits.max_start_line,
                });
            }
            *line_seen = true;
        }
        let end = match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => Some(lf + 2),
            (Some(b'\r'), Some(b'\n')) => Some(lf + 3),
            (None, _) | (Some(b'\r'), None) => {
                // Cannot tell yet whether an empty line follows.
                *scanned = lf;
                break;
            }
            _ => None,
        };
        if let Some(end) = end {
            if end > limits.max_header_section {
                return Err(DecodeError::HeaderSectionTooLong {
                    limit: limits.max_header_section,
                });
            }
            return Ok(Some(end));
        }
        i = lf + 1;
        *scanned = i;
    }
    if !*line_seen && buf.len() > limits.max_start_line + 1 {
        return Err(DecodeError::StartLineTooLong {
            limit: limits.max_start_line,
        });
    }
    if buf.len() > limits.max_header_section {
        return Err(DecodeError::HeaderSectionTooLong {
            limit: limits.max_header_section,
        });
    }
    if *scanned < i {
        *scanned = i;
    }
    Ok(None)
}

/// Parses the start line (RFC 6787 §5.1): `MRCP/2.0 <length>` then the request, response or event shape.
fn parse_start_line(line: &str) -> Result<(StartLine, u64), DecodeError> {
    let mut t = line.split_ascii_whitespace();
    let malformed = || DecodeError::MalformedStartLine {
        line: excerpt(line),
    };
    let version = t.next().ok_or_else(malformed)?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion {
            version: excerpt(version),
        });
    }
    let declared = parse_digits("message-length", t.next().ok_or_else(malformed)?, 19)?;
    let (a, b, c, extra) = (t.next(), t.next(), t.next(), t.next());
    if extra.is_some() {
        return Err(malformed());
    }
    let start = match (a, b, c) {
        (Some(method), Some(id), None) => StartLine::Request {
            method: method.parse::<Method>()?,
            request_id: id.parse::<RequestId>()?,
        },
        (Some(id), Some(status), Some(state)) if id.bytes().all(|b| b.is_ascii_digit()) => {
            StartLine::Response {
                request_id: id.parse::<RequestId>()?,
                status: status.parse::<StatusCode>()?,
                state: state.parse::<RequestState>()?,
            }
        }
        (Some(event), Some(id), Some(state)) => StartLine::Event {
            event: event.parse::<EventName>()?,
            request_id: id.parse::<RequestId>()?,
            state: state.parse::<RequestState>()?,
        },
        _ => return Err(malformed()),
    };
    Ok((start, declared))
}

/// The byte range of `part` inside `whole`; `part` is always a subslice cut from `whole` by the parser.
fn span(whole: &str, part: &str) -> (usize, usize) {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    (start, start.saturating_add(part.len()))
}

fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

/// Lines of the header section without their LF or CRLF, counting the CRs it strips.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
    crs: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.text.get(self.pos..).filter(|r| !r.is_empty())?;
        let end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        self.pos += end + 1;
        let line = rest.get(..end)?;
        Some(match line.strip_suffix('\r') {
            Some(stripped) => {
                self.crs += 1;
                stripped
            }
            None => line,
        })
    }
}

/// The error for the first control character that is not a line end (slow path, errors only).
fn control_character(text: &str) -> DecodeError {
    let b = text.as_bytes();
    let offset = (0..b.len())
        .find(|&i| {
            let c = b[i];
            (c < 0x20 && c != b'\t' && c != b'\n' && !(c == b'\r' && b.get(i + 1) == Some(&b'\n')))
                || c == 0x7f
        })
        .unwrap_or(0);
    DecodeError::ControlCharacter { offset }
}

/// Parses the header section: start line, fields (with obsolete line folding joined by one space), and the
/// framing `Content-Length`, which is taken out of the fields.
fn parse_head(
    head: &Bytes,
    limits: &Limits,
) -> Result<(StartLine, u64, Headers, u64), DecodeError> {
    let text = std::str::from_utf8(head).map_err(|_| DecodeError::NotUtf8)?;
    // RFC 6787 §5.1 allows only visible characters, spaces and tabs inside lines; a stray CR or other control
    // character would be written back and could split a line for another parser. One branch-free pass (it
    // vectorizes) finds other controls and counts CRs; each CR must end a line, which the loop below counts.
    let bad = text.bytes().fold(false, |bad, b| {
        bad | ((b < 0x20) & (b != b'\t') & (b != b'\r') & (b != b'\n')) | (b == 0x7f)
    });
    let crs = memchr::memchr_iter(b'\r', text.as_bytes()).count();
    if bad {
        return Err(control_character(text));
    }
    let mut lines = Lines {
        text,
        pos: 0,
        crs: 0,
    };
    let (start, declared) = parse_start_line(lines.next().unwrap_or_default())?;
    let mut headers = Headers::for_head(head.clone(), 12);
    let mut content_length: Option<u64> = None;
    let mut last_was_content_length = false;
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // RFC 6787 §5.1 allows LWS folding; join it to the previous value.
            if last_was_content_length || !headers.extend_last(trim_ws(line)) {
                return Err(DecodeError::MalformedHeader {
                    line: excerpt(line),
                });
            }
            continue;
        }
        let malformed = || DecodeError::MalformedHeader {
            line: excerpt(line),
        };
        // One pass finds the colon and checks that the name before it is a token.
        let colon = line
            .bytes()
            .position(|c| c == b':' || !TOKEN_BYTES[usize::from(c)])
            .filter(|&i| i > 0 && line.as_bytes().get(i) == Some(&b':'))
            .ok_or_else(malformed)?;
        let (Some(name), Some(value)) = (line.get(..colon), line.get(colon + 1..)) else {
            return Err(malformed());
        };
        let value = trim_ws(value);
        last_was_content_length = name.eq_ignore_ascii_case("Content-Length");
        if last_was_content_length {
            let n = parse_digits("content-length", value, 19).map_err(|_| {
                DecodeError::BadContentLength {
                    value: excerpt(value),
                }
            })?;
            match content_length {
                Some(first) if first != n => {
                    return Err(DecodeError::ConflictingContentLength { first, second: n });
                }
                _ => content_length = Some(n),
            }
            continue;
        }
        if headers.len() >= limits.max_headers {
            return Err(DecodeError::TooManyHeaders {
                limit: limits.max_headers,
            });
        }
        headers.push_range(span(text, name), span(text, value));
    }
    if lines.crs != crs {
        return Err(control_character(text));
    }
    Ok((start, declared, headers, content_length.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Message>, DecodeError> {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(m) = dec.decode_eof(&mut buf)? {
            out.push(m);
        }
        Ok(out)
    }

    const RECORD: &[u8] = b"MRCP/2.0 133 RECORD 1\r\nChannel-Identifier: 5476f07e1cff455a@recorder\r\nNo-Input-Timeout: 5000\r\nFinal-Silence: 300\r\nMax-Time: 10000\r\n\r\n";

    #[test]
    fn request_without_content_length_has_no_body() {
        let msgs = decode_all(RECORD).unwrap();
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0].body.is_empty());
        assert_eq!(msgs[0].headers.len(), 4);
    }

    #[test]
    fn get_params_keeps_empty_values() {
        let msgs = decode_all(
            b"MRCP/2.0 110 GET-PARAMS 4\r\nChannel-Identifier: a1@speechrecog\r\nNo-Input-Timeout:\r\nSpeech-Language: \r\n\r\n",
        )
        .unwrap();
        let h: Vec<_> = msgs[0].headers.iter().collect();
        assert_eq!(h[1..], [("No-Input-Timeout", ""), ("Speech-Language", "")]);
    }

    #[test]
    fn bare_lf_and_folding_are_accepted() {
        let input = b"MRCP/2.0 10 STOP 3\nChannel-Identifier: a1@speechrecog\nX-Long: one\n  two\nContent-Length: 2\n\nok";
        let mut dec = Decoder::default();
        let mut buf = BytesMut::from(&input[..]);
        let m = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(m.headers.get_raw("x-long"), Some("one two"));
        assert_eq!(&m.body[..], b"ok");
        assert!(dec.last_length_mismatch().is_some());
    }

    #[test]
    fn wrong_length_is_tolerated_or_rejected() {
        let input = b"MRCP/2.0 999 1 200 COMPLETE\r\nChannel-Identifier: a1@speechrecog\r\n\r\n";
        let mut buf = BytesMut::from(&input[..]);
        let mut dec = Decoder::default();
        assert!(dec.decode(&mut buf).unwrap().is_some());
        assert_eq!(dec.last_length_mismatch().map(|m| m.declared), Some(999));
        let mut buf = BytesMut::from(&input[..]);
        let mut strict = Decoder::new(Limits::default(), LengthPolicy::Reject);
        assert!(matches!(
            strict.decode(&mut buf),
            Err(DecodeError::LengthMismatch(_))
        ));
    }

    #[test]
    fn limits_are_enforced_before_allocation() {
        let limits = Limits {
            max_body: 10,
            ..Limits::default()
        };
        let mut dec = Decoder::new(limits, LengthPolicy::Tolerate);
        let mut buf =
            BytesMut::from(&b"MRCP/2.0 1 SPEAK 1\r\nContent-Length: 99999999999\r\n\r\n"[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(DecodeError::BodyTooLarge {
                length: 99_999_999_999,
                limit: 10
            })
        );
        let mut buf = BytesMut::from(&vec![b'M'; 2000][..]);
        assert!(matches!(
            Decoder::default().decode(&mut buf),
            Err(DecodeError::StartLineTooLong { .. })
        ));
        let mut long = b"MRCP/2.0 1 SPEAK 1\r\n".to_vec();
        long.extend(std::iter::repeat_n(b"X-A: b\r\n".iter().copied(), 10_000).flatten());
        let mut buf = BytesMut::from(&long[..]);
        assert!(matches!(
            Decoder::default().decode(&mut buf),
            Err(DecodeError::HeaderSectionTooLong { .. })
        ));
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"MRCP/2.0 x SPEAK 1\r\n\r\n",
            b"MRCP/2.0 10 SPEAK\r\n\r\n",
            b"MRCP/2.0 10 1 200 DONE\r\n\r\n",
            b"MRCP/2.0 10 1 2000 COMPLETE\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1\r\nNo colon\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1\r\nBad Name: v\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1\r\nContent-Length: -1\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1\r\n folded-first\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1\r\nX: \xff\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1 2 3\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1\r\nX: a\rb\r\n\r\n",
            b"MRCP/2.0 10 SPEAK 1\r\nX: a\x00b\r\n\r\n",
        ] {
            assert!(
                decode_all(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            decode_all(b"MRCP/2.0 10 SPEAK 1\r\nContent-Length: 5\r\n\r\nab"),
            Err(DecodeError::Truncated { buffered: 2 })
        ));
        assert!(matches!(
            decode_all(b"MRCP/2.0 10 SPEAK 1\r\nContent-Length: 5\r\n\r\n"),
            Err(DecodeError::Truncated { buffered: 0 })
        ));
        assert!(matches!(
            decode_all(b"MRCP/2.0 10 SPEAK 1\r\nContent-Length: 5\r\n\r\n\r\n"),
            Err(DecodeError::Truncated { buffered: 2 })
        ));
        assert!(matches!(
            decode_all(b"MRCP/2.0 10 SPEAK 1\r\nChannel-Identifier: a@b"),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn several_messages_in_one_read_and_byte_at_a_time() {
        let mut stream = RECORD.to_vec();
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(RECORD);
        let whole = decode_all(&stream).unwrap();
        assert_eq!(whole.len(), 2);
        let mut dec = Decoder::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in &stream {
            buf.extend_from_slice(&[b]);
            while let Some(m) = dec.decode(&mut buf).unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got, whole);
    }
}
