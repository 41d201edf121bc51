//! URI resolution (RFC 3986 §5.2) and HTTP freshness (RFC 9111 §4.2) for fetched grammars.

use std::time::Duration;

pub(super) fn is_fetchable(uri: &str) -> bool {
    let lower = uri.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("file:")
}

/// Resolve a reference against a base URI (RFC 3986 §5.2, the common cases: absolute references, absolute
/// paths and relative paths with `./` and `../`).
pub fn join_uri(base: Option<&str>, reference: &str) -> String {
    let reference = reference.trim();
    let has_scheme = reference.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let Some(base) = base.filter(|_| !has_scheme) else {
        return reference.to_owned();
    };
    let (prefix, path) = match base.find("://") {
        Some(i) => {
            let after = i + 3;
            let slash = base
                .get(after..)
                .and_then(|r| r.find('/'))
                .map_or(base.len(), |p| p + after);
            (
                base.get(..slash).unwrap_or(base),
                base.get(slash..).unwrap_or(""),
            )
        }
        None => match base.split_once(':') {
            Some((scheme, rest)) => (base.get(..scheme.len() + 1).unwrap_or(""), rest),
            None => ("", base),
        },
    };
    if reference.starts_with('/') {
        return format!("{prefix}{reference}");
    }
    let dir = path.rfind('/').map_or("", |i| path.get(..=i).unwrap_or(""));
    let mut segments: Vec<&str> = dir.split('/').collect();
    segments.pop();
    for seg in reference.split('/') {
        match seg {
            "." => {}
            ".." => {
                if segments.len() > 1 {
                    segments.pop();
                }
            }
            s => segments.push(s),
        }
    }
    format!("{prefix}{}", segments.join("/"))
}

/// Freshness lifetime of a response (RFC 9111 §4.2.1): `max-age`, else `Expires` − `Date`; `no-cache`,
/// `no-store` or no information give zero (usable once, for the resolution that asked for it).
pub fn freshness_lifetime(
    cache_control: Option<&str>,
    expires: Option<&str>,
    date: Option<&str>,
) -> Duration {
    if let Some(cc) = cache_control {
        let mut max_age = None;
        for directive in cc.split(',') {
            let d = directive.trim().to_ascii_lowercase();
            if d == "no-cache" || d == "no-store" {
                return Duration::ZERO;
            }
            if let Some(v) = d.strip_prefix("max-age=") {
                max_age = v.trim_matches('"').parse::<u64>().ok();
            }
        }
        if let Some(secs) = max_age {
            return Duration::from_secs(secs.min(365 * 24 * 3600));
        }
    }
    match (
        expires.and_then(parse_http_date),
        date.and_then(parse_http_date),
    ) {
        (Some(e), Some(d)) if e > d => Duration::from_secs((e - d).min(365 * 24 * 3600)),
        _ => Duration::ZERO,
    }
}

/// Parse an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) into seconds since 1970.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let t: Vec<u64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = t.as_slice() else {
        return None;
    };
    if !(1970..=9999).contains(&year) || !(1..=31).contains(&day) || *h > 23 || *m > 59 || *sec > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), shifted so the year starts in March.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}
