//! The header section of an MRCPv2 message (RFC 6787 §5.1, §6): an ordered collection with case-insensitive
//! names, raw values parsed lazily by the typed headers of [`crate::mrcp::header`].

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

use super::header::{Header, ValueError};
use super::method::is_token;
use super::status::StatusCode;

/// Where a name or value lives: a range of the received header section (no copy, no reference count per
/// field), a static name, or an owned string set by the application.
#[derive(Clone)]
enum Slot {
    Head(usize, usize),
    Static(&'static str),
    Owned(Box<str>),
}

#[derive(Clone)]
struct Field {
    name: Slot,
    value: Slot,
}

/// A header value that the typed header refused, naming the header so a server can answer with
/// [`InvalidHeader::status_code`] (RFC 6787 §5.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name} value {value:?}: {reason}")]
pub struct InvalidHeader {
    /// The header name.
    pub name: Cow<'static, str>,
    /// The raw value (or the printed value for a refused `set`).
    pub value: String,
    /// What is wrong with it.
    pub reason: ValueError,
}

impl InvalidHeader {
    /// The response status for a request carrying this header: `404 Illegal value for header field` for a
    /// syntax error, `409 Unsupported header field value` for a legal but out-of-range value (RFC 6787 §5.4).
    pub fn status_code(&self) -> StatusCode {
        match self.reason {
            ValueError::OutOfRange { .. } => StatusCode::UNSUPPORTED_HEADER_VALUE,
            ValueError::Syntax { .. } | ValueError::LineBreak => StatusCode::ILLEGAL_HEADER_VALUE,
        }
    }
}

/// Ordered header fields. Names compare case-insensitively; a header the crate does not know is kept, in its
/// place, and written back byte for byte. Typed access goes through [`Header`] types:
///
/// ```
/// use std::time::Duration;
/// use mrcp_proto::mrcp::{Headers, header::NoInputTimeout};
///
/// let mut h = Headers::new();
/// h.set(&NoInputTimeout(Duration::from_millis(5000))).unwrap();
/// assert_eq!(h.get_raw("no-input-timeout"), Some("5000"));
/// assert_eq!(h.get::<NoInputTimeout>().unwrap(), Some(NoInputTimeout(Duration::from_millis(5000))));
/// ```
#[derive(Clone, Default)]
pub struct Headers {
    /// The received header section that `Slot::Head` ranges point into (empty for built messages).
    head: Bytes,
    fields: Vec<Field>,
}

impl Headers {
    /// An empty collection.
    pub fn new() -> Headers {
        Headers::default()
    }

    pub(crate) fn with_capacity(n: usize) -> Headers {
        Headers {
            head: Bytes::new(),
            fields: Vec::with_capacity(n),
        }
    }

    /// An empty collection whose fields will be ranges of `head` (the decoder's header section).
    pub(crate) fn for_head(head: Bytes, n: usize) -> Headers {
        Headers {
            head,
            fields: Vec::with_capacity(n),
        }
    }

    fn bytes<'a>(&'a self, slot: &'a Slot) -> &'a [u8] {
        match slot {
            Slot::Head(start, end) => self.head.get(*start..*end).unwrap_or_default(),
            Slot::Static(s) => s.as_bytes(),
            Slot::Owned(s) => s.as_bytes(),
        }
    }

    fn text<'a>(&'a self, slot: &'a Slot) -> &'a str {
        match slot {
            // The decoder records ranges of a section it validated as UTF-8, cut at ASCII delimiters, so this
            // never falls back.
            Slot::Head(..) => std::str::from_utf8(self.bytes(slot)).unwrap_or_default(),
            Slot::Static(s) => s,
            Slot::Owned(s) => s,
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `(name, value)` of every field in order, names as written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields
            .iter()
            .map(|f| (self.text(&f.name), self.text(&f.value)))
    }

    pub(crate) fn iter_bytes(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.fields
            .iter()
            .map(|f| (self.bytes(&f.name), self.bytes(&f.value)))
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| self.bytes(&f.name).eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The raw value of the first field with this name.
    pub fn get_raw(&self, name: &str) -> Option<&str> {
        self.position(name)
            .and_then(|i| self.fields.get(i))
            .map(|f| self.text(&f.value))
    }

    /// Every raw value with this name, in order (e.g. several `Set-Cookie`).
    pub fn get_all_raw<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// True if a field with this name is present.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// The first field of type `H`, parsed; `Ok(None)` when absent, `Err` naming the header when its value does
    /// not parse.
    pub fn get<H: Header>(&self) -> Result<Option<H>, InvalidHeader> {
        let Some(raw) = self.get_raw(H::NAME) else {
            return Ok(None);
        };
        H::parse(raw).map(Some).map_err(|reason| InvalidHeader {
            name: Cow::Borrowed(H::NAME),
            value: raw.to_owned(),
            reason,
        })
    }

    /// Every field of type `H`, parsed, in order (e.g. several `Set-Cookie`).
    pub fn get_all<H: Header>(&self) -> Result<Vec<H>, InvalidHeader> {
        self.get_all_raw(H::NAME)
            .map(|raw| {
                H::parse(raw).map_err(|reason| InvalidHeader {
                    name: Cow::Borrowed(H::NAME),
                    value: raw.to_owned(),
                    reason,
                })
            })
            .collect()
    }

    /// Checks every field whose name the crate types (see [`crate::mrcp::header::lookup`]) and returns the
    /// first one that does not parse, so a server can refuse a request with `404`/`409` naming it before acting
    /// on any header. Unknown headers are not checked. Do not call it on GET-PARAMS, whose headers carry empty
    /// values on purpose (RFC 6787 §6.1).
    pub fn validate_known(&self) -> Result<(), InvalidHeader> {
        for (name, value) in self.iter() {
            if let Some(info) = crate::mrcp::header::lookup(name) {
                info.validate(value).map_err(|reason| InvalidHeader {
                    name: Cow::Borrowed(info.name),
                    value: value.to_owned(),
                    reason,
                })?;
            }
        }
        Ok(())
    }

    /// Sets header `H`: replaces the first field of that name in place (dropping later duplicates) or appends.
    /// Refuses a printed value with a line break, which would corrupt the framing.
    pub fn set<H: Header>(&mut self, header: &H) -> Result<(), InvalidHeader> {
        let mut value = String::new();
        header.write(&mut value);
        if value.contains(['\r', '\n']) {
            return Err(InvalidHeader {
                name: Cow::Borrowed(H::NAME),
                value,
                reason: ValueError::LineBreak,
            });
        }
        self.replace(Slot::Static(H::NAME), Slot::Owned(value.into()));
        Ok(())
    }

    /// Removes every field of type `H`; returns whether one was there.
    pub fn remove<H: Header>(&mut self) -> bool {
        self.remove_raw(H::NAME)
    }

    /// Removes every field with this name; returns whether one was there.
    pub fn remove_raw(&mut self, name: &str) -> bool {
        let before = self.fields.len();
        let head = &self.head;
        self.fields
            .retain(|f| !slot_bytes(head, &f.name).eq_ignore_ascii_case(name.as_bytes()));
        before != self.fields.len()
    }

    /// Appends a field as text (for headers the crate does not type, such as vendor headers). The name must be a
    /// token and the value must not contain a line break.
    pub fn append_raw(&mut self, name: &str, value: &str) -> Result<(), InvalidHeader> {
        check_raw(name, value)?;
        self.fields.push(Field {
            name: Slot::Owned(name.into()),
            value: Slot::Owned(value.trim().into()),
        });
        Ok(())
    }

    /// Sets a field as text: replaces the first field of that name in place or appends.
    pub fn set_raw(&mut self, name: &str, value: &str) -> Result<(), InvalidHeader> {
        check_raw(name, value)?;
        self.replace(Slot::Owned(name.into()), Slot::Owned(value.trim().into()));
        Ok(())
    }

    fn replace(&mut self, name: Slot, value: Slot) {
        let wanted = slot_bytes(&self.head, &name).to_vec();
        match self.position_bytes(&wanted) {
            Some(i) => {
                if let Some(f) = self.fields.get_mut(i) {
                    *f = Field { name, value };
                }
                let head = &self.head;
                let mut seen = 0usize;
                self.fields.retain(|f| {
                    if slot_bytes(head, &f.name).eq_ignore_ascii_case(&wanted) {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.fields.push(Field { name, value }),
        }
    }

    fn position_bytes(&self, name: &[u8]) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| self.bytes(&f.name).eq_ignore_ascii_case(name))
    }

    /// Appends a field with a static name and an owned value (message constructors).
    pub(crate) fn push_owned(&mut self, name: &'static str, value: String) {
        self.fields.push(Field {
            name: Slot::Static(name),
            value: Slot::Owned(value.into()),
        });
    }

    /// Appends a field the decoder checked, as ranges of the header section given to [`Headers::for_head`].
    pub(crate) fn push_range(&mut self, name: (usize, usize), value: (usize, usize)) {
        self.fields.push(Field {
            name: Slot::Head(name.0, name.1),
            value: Slot::Head(value.0, value.1),
        });
    }

    /// Joins a folded continuation line to the last value with one space (RFC 6787 §5.1 LWS); false if there is
    /// no field yet.
    pub(crate) fn extend_last(&mut self, more: &str) -> bool {
        let Some(last) = self.fields.last() else {
            return false;
        };
        let prev = self.text(&last.value);
        let mut v = String::with_capacity(prev.len() + 1 + more.len());
        v.push_str(prev);
        if !more.is_empty() {
            v.push(' ');
            v.push_str(more);
        }
        if let Some(last) = self.fields.last_mut() {
            last.value = Slot::Owned(v.into());
        }
        true
    }
}

fn slot_bytes<'a>(head: &'a Bytes, slot: &'a Slot) -> &'a [u8] {
    match slot {
        Slot::Head(start, end) => head.get(*start..*end).unwrap_or_default(),
        Slot::Static(s) => s.as_bytes(),
        Slot::Owned(s) => s.as_bytes(),
    }
}

fn check_raw(name: &str, value: &str) -> Result<(), InvalidHeader> {
    let reason = if !is_token(name) {
        ValueError::Syntax {
            expected: "a token header name",
        }
    } else if value.contains(['\r', '\n']) {
        ValueError::LineBreak
    } else {
        return Ok(());
    };
    Err(InvalidHeader {
        name: Cow::Owned(name.to_owned()),
        value: value.to_owned(),
        reason,
    })
}

impl PartialEq for Headers {
    /// Same fields in the same order; names case-insensitively, values exactly.
    fn eq(&self, other: &Headers) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .iter_bytes()
                .zip(other.iter_bytes())
                .all(|((an, av), (bn, bv))| an.eq_ignore_ascii_case(bn) && av == bv)
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| format!("{n}: {v}")))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrcp::header::{ConfidenceThreshold, NoInputTimeout, Score, VoiceName};
    use std::time::Duration;

    #[test]
    fn typed_get_set_and_unknown_headers_keep_order() {
        let mut h = Headers::new();
        h.append_raw("X-Vendor", "keep me").unwrap();
        h.set(&NoInputTimeout(Duration::from_millis(5000))).unwrap();
        h.append_raw("no-input-timeout", "7000").unwrap();
        h.set(&NoInputTimeout(Duration::from_millis(6000))).unwrap();
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("X-Vendor", "keep me"), ("No-Input-Timeout", "6000")]
        );
        assert!(h.remove::<NoInputTimeout>());
        assert!(!h.contains("No-Input-Timeout"));
    }

    #[test]
    fn bad_values_name_the_header() {
        let mut h = Headers::new();
        h.append_raw("confidence-threshold", "1.5").unwrap();
        let e = h.get::<ConfidenceThreshold>().unwrap_err();
        assert_eq!(e.name, "Confidence-Threshold");
        assert_eq!(e.status_code(), StatusCode::UNSUPPORTED_HEADER_VALUE);
        h.set_raw("Confidence-Threshold", "high").unwrap();
        let e = h.get::<ConfidenceThreshold>().unwrap_err();
        assert_eq!(e.status_code(), StatusCode::ILLEGAL_HEADER_VALUE);
        assert!(e.to_string().contains("Confidence-Threshold"));
        h.set(&ConfidenceThreshold(Score::new(0.5).unwrap()))
            .unwrap();
        assert_eq!(h.get_raw("CONFIDENCE-THRESHOLD"), Some("0.5"));
    }

    #[test]
    fn validate_known_names_the_first_bad_header() {
        let mut h = Headers::new();
        h.append_raw("X-Anything", "goes").unwrap();
        h.append_raw("No-Input-Timeout", "5000").unwrap();
        assert_eq!(h.validate_known(), Ok(()));
        h.append_raw("speed-vs-accuracy", "2.0").unwrap();
        h.append_raw("Recognition-Timeout", "soon").unwrap();
        let e = h.validate_known().unwrap_err();
        assert_eq!(e.name, "Speed-Vs-Accuracy");
        assert_eq!(e.status_code(), StatusCode::UNSUPPORTED_HEADER_VALUE);
    }

    #[test]
    fn get_all_reads_repeated_headers() {
        use crate::mrcp::header::SetCookie;
        let mut h = Headers::new();
        h.append_raw("Set-Cookie", "a=1").unwrap();
        h.append_raw("set-cookie", "b=2").unwrap();
        let all = h.get_all::<SetCookie>().unwrap();
        assert_eq!(all, [SetCookie("a=1".into()), SetCookie("b=2".into())]);
    }

    #[test]
    fn line_breaks_and_bad_names_are_refused() {
        let mut h = Headers::new();
        assert!(h.set(&VoiceName("a\r\nX: y".into())).is_err());
        assert!(h.append_raw("Bad Name", "v").is_err());
        assert!(h.append_raw("Name", "v\n").is_err());
        assert!(h.is_empty());
    }
}
