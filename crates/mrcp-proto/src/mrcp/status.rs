//! Request ids, status codes and request states of MRCPv2 responses and events (RFC 6787 §5.1, §5.3, §5.4, §5.5).

use std::fmt;
use std::str::FromStr;

/// The request id of a start line: `request-id = 1*10DIGIT` (RFC 6787 §5.1), a 32-bit unsigned number chosen by
/// the client, unique within the session and increasing (UniMRCP starts at 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u32);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A numeric field of a start line that is not 1 to `max_digits` decimal digits or overflows its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value:?} is not 1 to {max_digits} decimal digits in range")]
pub struct BadNumber {
    /// Which field: `request-id`, `status-code`, `message-length`.
    pub field: &'static str,
    /// The text as received.
    pub value: String,
    /// The largest number of digits the grammar allows.
    pub max_digits: usize,
}

/// Parses `1*max_digits DIGIT` into a `u64` without overflow; shared by every numeric field of the start line.
pub(crate) fn parse_digits(
    field: &'static str,
    s: &str,
    max_digits: usize,
) -> Result<u64, BadNumber> {
    let bad = || BadNumber {
        field,
        value: s.to_owned(),
        max_digits,
    };
    if s.is_empty() || s.len() > max_digits {
        return Err(bad());
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(bad());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(n)
}

impl FromStr for RequestId {
    type Err = BadNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = parse_digits("request-id", s, 10)?;
        u32::try_from(n).map(RequestId).map_err(|_| BadNumber {
            field: "request-id",
            value: s.to_owned(),
            max_digits: 10,
        })
    }
}

/// The request state of a response or event (RFC 6787 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestState {
    /// `COMPLETE`: the request is done; no more events carry its request id.
    Complete,
    /// `IN-PROGRESS`: the request runs; events with its request id follow.
    InProgress,
    /// `PENDING`: the request is queued. FreeSWITCH mishandles a later IN-PROGRESS, so servers avoid it.
    Pending,
}

impl RequestState {
    /// The token as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestState::Complete => "COMPLETE",
            RequestState::InProgress => "IN-PROGRESS",
            RequestState::Pending => "PENDING",
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request-state token that RFC 6787 §5.3 does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown request-state {0:?}")]
pub struct UnknownRequestState(pub String);

impl FromStr for RequestState {
    type Err = UnknownRequestState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "COMPLETE" => Ok(RequestState::Complete),
            "IN-PROGRESS" => Ok(RequestState::InProgress),
            "PENDING" => Ok(RequestState::Pending),
            _ => Err(UnknownRequestState(s.to_owned())),
        }
    }
}

/// A status code of a response (RFC 6787 §5.4): three digits, 2xx success, 4xx client failure, 5xx server failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 200 Success.
    pub const SUCCESS: StatusCode = StatusCode(200);
    /// 201 Success with some optional header fields ignored.
    pub const SUCCESS_WITH_IGNORE: StatusCode = StatusCode(201);
    /// 401 Method not allowed.
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(401);
    /// 402 Method not valid in this state.
    pub const METHOD_NOT_VALID_IN_STATE: StatusCode = StatusCode(402);
    /// 403 Unsupported header field.
    pub const UNSUPPORTED_HEADER_FIELD: StatusCode = StatusCode(403);
    /// 404 Illegal value for header field (a syntax violation).
    pub const ILLEGAL_HEADER_VALUE: StatusCode = StatusCode(404);
    /// 405 Resource not allocated for this session or does not exist.
    pub const RESOURCE_NOT_ALLOCATED: StatusCode = StatusCode(405);
    /// 406 Mandatory header field missing.
    pub const MANDATORY_HEADER_MISSING: StatusCode = StatusCode(406);
    /// 407 Method or resource out-of-sync (UniMRCP also uses it locally for a request timeout).
    pub const OUT_OF_SYNC: StatusCode = StatusCode(407);
    /// 408 Error in message body.
    pub const BODY_ERROR: StatusCode = StatusCode(408);
    /// 409 Unsupported header field value (legal syntax, beyond what the resource can do).
    pub const UNSUPPORTED_HEADER_VALUE: StatusCode = StatusCode(409);
    /// 410 Non-monotonic or out-of-order sequence number in request.
    pub const OUT_OF_ORDER: StatusCode = StatusCode(410);
    /// 421 First resource-specific failure code (421–499 are defined per resource).
    pub const RESOURCE_SPECIFIC_FAILURE: StatusCode = StatusCode(421);
    /// 501 Server internal error.
    pub const SERVER_INTERNAL_ERROR: StatusCode = StatusCode(501);
    /// 502 Protocol version not supported.
    pub const VERSION_NOT_SUPPORTED: StatusCode = StatusCode(502);
    /// 504 Message too large.
    pub const MESSAGE_TOO_LARGE: StatusCode = StatusCode(504);

    /// A status code from its number; `None` outside 100..=599 (the grammar is `3DIGIT`).
    pub const fn new(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 599 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The number.
    pub const fn code(self) -> u16 {
        self.0
    }

    /// True for 2xx (RFC 6787 §5.4: the request succeeded).
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 <= 299
    }

    /// The class of the code: success, client failure or server failure.
    pub const fn class(self) -> &'static str {
        match self.0 / 100 {
            2 => "Success",
            4 => "Client failure",
            5 => "Server failure",
            _ => "Unassigned",
        }
    }

    /// The meaning given in RFC 6787 §5.4, or the class for codes it leaves unassigned.
    pub const fn reason(self) -> &'static str {
        match self.0 {
            200 => "Success",
            201 => "Success with some optional header fields ignored",
            401 => "Method not allowed",
            402 => "Method not valid in this state",
            403 => "Unsupported header field",
            404 => "Illegal value for header field",
            405 => "Resource not allocated for this session or does not exist",
            406 => "Mandatory header field missing",
            407 => "Method or resource out-of-sync",
            408 => "Error in message body",
            409 => "Unsupported header field value",
            410 => "Non-monotonic or out-of-order sequence number in request",
            421..=499 => "Resource-specific failure",
            501 => "Server internal error",
            502 => "Protocol version not supported",
            504 => "Message too large",
            _ => self.class(),
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for StatusCode {
    type Err = BadNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadNumber {
            field: "status-code",
            value: s.to_owned(),
            max_digits: 3,
        };
        if s.len() != 3 {
            return Err(bad());
        }
        let n = parse_digits("status-code", s, 3)?;
        u16::try_from(n)
            .ok()
            .and_then(StatusCode::new)
            .ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_range() {
        assert_eq!("1".parse(), Ok(RequestId(1)));
        assert_eq!("4294967295".parse(), Ok(RequestId(u32::MAX)));
        assert!("4294967296".parse::<RequestId>().is_err());
        assert!("12345678901".parse::<RequestId>().is_err());
        assert!("".parse::<RequestId>().is_err());
        assert!("+1".parse::<RequestId>().is_err());
    }

    #[test]
    fn status_codes() {
        assert_eq!("200".parse(), Ok(StatusCode::SUCCESS));
        assert_eq!(
            StatusCode::UNSUPPORTED_HEADER_VALUE.reason(),
            "Unsupported header field value"
        );
        assert_eq!(
            StatusCode::new(433).map(StatusCode::reason),
            Some("Resource-specific failure")
        );
        assert!("20".parse::<StatusCode>().is_err());
        assert!("099".parse::<StatusCode>().is_err());
        assert!("600".parse::<StatusCode>().is_err());
        assert!(StatusCode::SUCCESS_WITH_IGNORE.is_success());
        assert!(!StatusCode::OUT_OF_SYNC.is_success());
    }

    #[test]
    fn request_states_round_trip() {
        for s in [
            RequestState::Complete,
            RequestState::InProgress,
            RequestState::Pending,
        ] {
            assert_eq!(s.as_str().parse(), Ok(s));
        }
        assert!("in-progress".parse::<RequestState>().is_err());
    }
}
