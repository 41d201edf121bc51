//! A plain SIP message: start line, header fields in wire order, body (RFC 3261 §7).
//!
//! rsip 0.4 cannot parse IPv6 references (`sip:[2001:db8::1]:5060`) in URIs, so a request from an
//! IPv6 peer would fail as a whole in [`super::parse_message`]. The SIP stack therefore runs on
//! this type, which keeps URIs and header values as text and leaves typed parsing to the caller;
//! rsip stays available for callers that want its typed headers on IPv4 traffic.

use bytes::Bytes;

use super::{ParseError, RawHeaders, SipLimits, normalize::normalize};

/// The first line of a message (§7.1, §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP/2.0`
    Request {
        /// The method token, as sent (methods are case-sensitive, §7.1).
        method: String,
        /// The Request-URI, as sent.
        uri: String,
    },
    /// `SIP/2.0 SP Status-Code SP Reason-Phrase`
    Response {
        /// The status code, 100–699.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
}

/// One SIP message with normalised headers (full names, unfolded, one `Via` per entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request line or status line.
    pub start: StartLine,
    /// `(name, value)` in wire order.
    pub headers: Vec<(String, String)>,
    /// The body, exactly `Content-Length` bytes.
    pub body: Bytes,
}

impl Message {
    /// Parses one datagram or one stream frame (see [`super::StreamFramer`]).
    pub fn parse(raw: &[u8], limits: &SipLimits) -> Result<Self, ParseError> {
        let (bytes, raw_headers) = normalize(raw, limits)?;
        let body = Bytes::from(bytes).slice(normalized_header_len(&raw_headers)..);
        let start = parse_start_line(&raw_headers.start_line)?;
        Ok(Self {
            start,
            headers: raw_headers.headers,
            body,
        })
    }

    /// A request with no headers yet.
    pub fn request(method: &str, uri: &str) -> Self {
        Self {
            start: StartLine::Request {
                method: method.to_owned(),
                uri: uri.to_owned(),
            },
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A response with no headers yet.
    pub fn response(code: u16, reason: &str) -> Self {
        Self {
            start: StartLine::Response {
                code,
                reason: reason.to_owned(),
            },
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// The method of a request, or `None` for a response.
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response, or `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The first value of header `name` (full name, case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, in wire order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Appends a header.
    pub fn push_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_owned(), value.into()));
    }

    /// Inserts a header before every other one (used for `Via` and `Record-Route`, §16.6).
    pub fn prepend_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.insert(0, (name.to_owned(), value.into()));
    }

    /// Removes every header `name`.
    pub fn remove_headers(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Replaces every header `name` by one with `value`, in place of the first.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                if let Some(slot) = self.headers.get_mut(i) {
                    slot.1 = value;
                }
                let mut seen = 0usize;
                self.headers.retain(|(n, _)| {
                    if n.eq_ignore_ascii_case(name) {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.push_header(name, value),
        }
    }

    /// Serialises the message; `Content-Length` is always written last and always matches the body.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(512 + self.body.len());
        match &self.start {
            StartLine::Request { method, uri } => {
                out.extend_from_slice(method.as_bytes());
                out.push(b' ');
                out.extend_from_slice(uri.as_bytes());
                out.extend_from_slice(b" SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
            }
        }
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        Bytes::from(out)
    }
}

fn normalized_header_len(raw: &RawHeaders) -> usize {
    // Mirrors `RawHeaders::write`: start line, "name: value" lines, blank line.
    raw.start_line.len()
        + 2
        + raw
            .headers
            .iter()
            .map(|(n, v)| n.len() + 2 + v.len() + 2)
            .sum::<usize>()
        + 2
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let code: u16 = rest
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or(ParseError::BadStartLine)?;
        let reason = rest.get(4..).unwrap_or_default().to_owned();
        return Ok(StartLine::Response { code, reason });
    }
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(method), Some(uri)) => Ok(StartLine::Request {
            method: method.to_owned(),
            uri: uri.to_owned(),
        }),
        _ => Err(ParseError::BadStartLine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_request_parses_and_round_trips() {
        let raw = b"INVITE sip:[2001:db8::1]:8060 SIP/2.0\r\nv: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK1\r\n\
f: <sip:[2001:db8::9]>;tag=1\r\nt: <sip:[2001:db8::1]>\r\ni: x\r\nCSeq: 1 INVITE\r\nl: 3\r\n\r\nabcdef";
        let msg = Message::parse(raw, &SipLimits::default()).expect("parse");
        assert_eq!(msg.method(), Some("INVITE"));
        assert_eq!(
            msg.header("via"),
            Some("SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK1")
        );
        assert_eq!(&msg.body[..], b"abc");
        let again = Message::parse(&msg.to_bytes(), &SipLimits::default()).expect("reparse");
        assert_eq!(msg, again);
    }
}
