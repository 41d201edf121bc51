//! Normalising a SIP message before rsip parses it (RFC 3261 §7.3, §18.3).
//!
//! rsip 0.4 matches full header names only, does not unfold continuation lines, keeps a
//! comma-separated `Via` as one header, and takes everything after the blank line as the body.
//! This module fixes those four points by rewriting the header section, then hands the result to
//! rsip.

use super::{ParseError, SipLimits, compact::expand_compact_name};

/// The start line and header fields of one message, unfolded and with full header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeaders {
    /// The request line or status line, without its CRLF.
    pub start_line: String,
    /// `(name, value)` in wire order; names expanded from compact forms, values trimmed, one
    /// entry per `Via` value.
    pub headers: Vec<(String, String)>,
    /// Length of the start line plus header section, terminating blank line included.
    pub header_len: usize,
}

impl RawHeaders {
    /// Scans the header section of `raw` (which may carry a body after it).
    pub fn scan(raw: &[u8], limits: &SipLimits) -> Result<Self, ParseError> {
        let end = find_blank_line(raw).ok_or(if raw.len() > limits.max_header_bytes {
            ParseError::TooLarge {
                size: raw.len(),
                limit: limits.max_header_bytes,
            }
        } else {
            ParseError::UnterminatedHeaders
        })?;
        let header_len = end + 4;
        if header_len > limits.max_header_bytes {
            return Err(ParseError::TooLarge {
                size: header_len,
                limit: limits.max_header_bytes,
            });
        }
        let section = raw.get(..end).ok_or(ParseError::UnterminatedHeaders)?;
        let text = std::str::from_utf8(section).map_err(|_| ParseError::NotUtf8)?;
        let mut lines = text.split("\r\n");
        let start_line = lines.next().unwrap_or_default().to_owned();
        check_start_line(&start_line)?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for (index, line) in lines.enumerate() {
            if line.starts_with([' ', '\t']) {
                // §7.3.1: a line starting with whitespace continues the previous header.
                let (_, value) = headers
                    .last_mut()
                    .ok_or(ParseError::BadHeaderLine { line: index + 1 })?;
                let more = line.trim_matches([' ', '\t']);
                if !more.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(more);
                }
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or(ParseError::BadHeaderLine { line: index + 1 })?;
            let name = name.trim_end_matches([' ', '\t']);
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(ParseError::BadHeaderLine { line: index + 1 });
            }
            let name = expand_compact_name(name).map_or_else(|| name.to_owned(), str::to_owned);
            headers.push((name, value.trim_matches([' ', '\t']).to_owned()));
        }
        let headers = split_via(headers);
        Ok(Self {
            start_line,
            headers,
            header_len,
        })
    }

    /// The first value of header `name` (case-insensitive full name).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive full name), in wire order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the start line is a request line.
    pub fn is_request(&self) -> bool {
        !self.start_line.starts_with("SIP/")
    }

    /// The method of a request line.
    pub fn method(&self) -> Option<&str> {
        if self.is_request() {
            self.start_line.split(' ').next()
        } else {
            None
        }
    }

    /// `Content-Length`, if present and consistent (§20.14).
    pub fn content_length(&self) -> Result<Option<usize>, ParseError> {
        let mut found: Option<usize> = None;
        for value in self.all("Content-Length") {
            let parsed = parse_length(value).ok_or(ParseError::BadContentLength)?;
            match found {
                Some(previous) if previous != parsed => return Err(ParseError::BadContentLength),
                _ => found = Some(parsed),
            }
        }
        Ok(found)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.start_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses a `Content-Length` value: ASCII digits only, at most 9 of them so no overflow is possible.
pub(super) fn parse_length(value: &str) -> Option<usize> {
    let value = value.trim();
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Normalises one whole message: header section rewritten (see the module docs) and the body cut to
/// `Content-Length`. Returns the rewritten bytes and the scanned headers.
pub fn normalize(raw: &[u8], limits: &SipLimits) -> Result<(Vec<u8>, RawHeaders), ParseError> {
    if raw.len() > limits.max_message_bytes() {
        return Err(ParseError::TooLarge {
            size: raw.len(),
            limit: limits.max_message_bytes(),
        });
    }
    let headers = RawHeaders::scan(raw, limits)?;
    let rest = raw.get(headers.header_len..).unwrap_or_default();
    let body = match headers.content_length()? {
        Some(length) if length > limits.max_body_bytes => {
            return Err(ParseError::BodyTooLarge {
                length,
                limit: limits.max_body_bytes,
            });
        }
        // §18.3: bytes past Content-Length in a datagram are discarded.
        Some(length) => rest.get(..length).ok_or(ParseError::TruncatedBody {
            length,
            received: rest.len(),
        })?,
        // A datagram without Content-Length: the body runs to the end of the packet.
        None => rest,
    };
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if headers.get(name).is_none() {
            return Err(ParseError::MissingHeader(name));
        }
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    headers.write(&mut out);
    out.extend_from_slice(body);
    Ok((out, headers))
}

/// Parses one SIP message from a datagram or from one frame of [`super::StreamFramer`].
pub fn parse_message(raw: &[u8], limits: &SipLimits) -> Result<rsip::SipMessage, ParseError> {
    let (bytes, _) = normalize(raw, limits)?;
    rsip::SipMessage::try_from(bytes.as_slice()).map_err(|e| ParseError::Rsip(e.to_string()))
}

pub(super) fn find_blank_line(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n")
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn check_start_line(line: &str) -> Result<(), ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2)
        let code = rest.get(..3).ok_or(ParseError::BadStartLine)?;
        let ok = code.bytes().all(|b| b.is_ascii_digit())
            && matches!(code.as_bytes().first(), Some(b'1'..=b'6'))
            && rest.as_bytes().get(3).is_none_or(|b| *b == b' ');
        return if ok {
            Ok(())
        } else {
            Err(ParseError::BadStartLine)
        };
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (§7.1)
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadStartLine);
    };
    if method.is_empty()
        || !method.bytes().all(is_token_byte)
        || uri.is_empty()
        || version != "SIP/2.0"
    {
        return Err(ParseError::BadStartLine);
    }
    Ok(())
}

/// Splits `Via: a, b` into two `Via` headers (§7.3.1), commas inside quotes left alone.
fn split_via(headers: Vec<(String, String)>) -> Vec<(String, String)> {
    if !headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("Via") && v.contains(','))
    {
        return headers;
    }
    let mut out = Vec::with_capacity(headers.len() + 2);
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("Via") || !value.contains(',') {
            out.push((name, value));
            continue;
        }
        let mut quoted = false;
        let mut start = 0;
        for (i, c) in value.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    out.push((
                        name.clone(),
                        value.get(start..i).unwrap_or_default().trim().to_owned(),
                    ));
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push((
            name,
            value.get(start..).unwrap_or_default().trim().to_owned(),
        ));
    }
    out.retain(|(n, v)| !(n.eq_ignore_ascii_case("Via") && v.is_empty()));
    out
}
