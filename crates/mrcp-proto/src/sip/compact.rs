//! Compact header names (RFC 3261 §7.3.3 and the extensions that define their own).

/// Full name of a compact (single-letter) SIP header name, matched case-insensitively.
///
/// Returns `None` for any name that is not a registered compact form, including full names.
pub fn expand_compact_name(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if bytes.len() != 1 {
        return None;
    }
    // IANA "Header Fields" registry, compact column.
    Some(match bytes.first()?.to_ascii_lowercase() {
        b'a' => "Accept-Contact",      // RFC 3841
        b'b' => "Referred-By",         // RFC 3892
        b'c' => "Content-Type",        // RFC 3261
        b'd' => "Request-Disposition", // RFC 3841
        b'e' => "Content-Encoding",    // RFC 3261
        b'f' => "From",                // RFC 3261
        b'i' => "Call-ID",             // RFC 3261
        b'j' => "Reject-Contact",      // RFC 3841
        b'k' => "Supported",           // RFC 3261
        b'l' => "Content-Length",      // RFC 3261
        b'm' => "Contact",             // RFC 3261
        b'n' => "Identity-Info",       // RFC 4474
        b'o' => "Event",               // RFC 6665
        b'r' => "Refer-To",            // RFC 3515
        b's' => "Subject",             // RFC 3261
        b't' => "To",                  // RFC 3261
        b'u' => "Allow-Events",        // RFC 6665
        b'v' => "Via",                 // RFC 3261
        b'x' => "Session-Expires",     // RFC 4028
        b'y' => "Identity",            // RFC 8224
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::expand_compact_name;

    #[test]
    fn expands_rfc3261_forms_in_either_case() {
        for (c, full) in [
            ("i", "Call-ID"),
            ("M", "Contact"),
            ("e", "Content-Encoding"),
            ("l", "Content-Length"),
            ("c", "Content-Type"),
            ("f", "From"),
            ("s", "Subject"),
            ("k", "Supported"),
            ("t", "To"),
            ("V", "Via"),
            ("o", "Event"),
            ("u", "Allow-Events"),
            ("r", "Refer-To"),
            ("x", "Session-Expires"),
            ("y", "Identity"),
        ] {
            assert_eq!(expand_compact_name(c), Some(full), "{c}");
        }
    }

    #[test]
    fn leaves_full_and_unknown_names() {
        assert_eq!(expand_compact_name("Via"), None);
        assert_eq!(expand_compact_name("q"), None);
        assert_eq!(expand_compact_name(""), None);
    }
}
