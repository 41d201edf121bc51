//! Session parameters: what SET-PARAMS stores and GET-PARAMS reads (RFC 6787 §6.1.1), and how a request's
//! effective value of a header is found: the request's own field, else the channel's SET-PARAMS value, else
//! the server's default (`[recognizer]` in the config).

use mrcp_proto::mrcp::header::{Header, VendorParams, VendorSpecificParameters, lookup};
use mrcp_proto::mrcp::{Headers, InvalidHeader};

/// Header fields that describe one message rather than set a parameter, so SET-PARAMS ignores them.
const PER_MESSAGE: &[&str] = &[
    "Channel-Identifier",
    "Content-Type",
    "Content-ID",
    "Content-Length",
    "Content-Base",
    "Content-Encoding",
    "Content-Location",
    "Active-Request-Id-List",
    "Proxy-Sync-Id",
];

fn is_per_message(name: &str) -> bool {
    PER_MESSAGE.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// The parameters of one channel: its SET-PARAMS values over the server defaults.
#[derive(Debug, Clone, Default)]
pub struct ChannelParams {
    defaults: Headers,
    set: Headers,
}

impl ChannelParams {
    /// Parameters with the given server defaults (written as header fields) and nothing set.
    pub fn new(defaults: Headers) -> Self {
        Self {
            defaults,
            set: Headers::new(),
        }
    }

    /// SET-PARAMS (§6.1.1): stores every parameter of the request. All or nothing: a value that its header
    /// type refuses rejects the request (the error names the header and gives the status, 404 or 409), and
    /// nothing is stored.
    pub fn set_params(&mut self, request: &Headers) -> Result<(), InvalidHeader> {
        let fields: Vec<(&str, &str)> = request
            .iter()
            .filter(|(name, _)| !is_per_message(name))
            .collect();
        for (name, value) in &fields {
            if let Some(info) = lookup(name) {
                info.validate(value).map_err(|reason| InvalidHeader {
                    name: info.name.into(),
                    value: (*value).to_owned(),
                    reason,
                })?;
            }
        }
        for (name, value) in fields {
            if name.eq_ignore_ascii_case(VendorSpecificParameters::NAME) {
                let merged = merge_vendor(self.set.get::<VendorSpecificParameters>()?, value)?;
                self.set.set(&merged)?;
            } else {
                self.set.set_raw(name, value)?;
            }
        }
        Ok(())
    }

    /// GET-PARAMS (§6.1.2): the values of the fields the request names, or of every parameter set or
    /// defaulted when it names none. A named field with no value is left out.
    pub fn get_params(&self, request: &Headers) -> Headers {
        let mut out = Headers::new();
        let asked: Vec<&str> = request
            .iter()
            .map(|(n, _)| n)
            .filter(|n| !is_per_message(n))
            .collect();
        if asked.is_empty() {
            for (name, value) in self.defaults.iter().chain(self.set.iter()) {
                // `set_raw` replaces, so a value set by SET-PARAMS wins over the default listed before it.
                let _ = out.set_raw(name, value);
            }
        } else {
            for name in asked {
                if let Some(value) = self
                    .set
                    .get_raw(name)
                    .or_else(|| self.defaults.get_raw(name))
                {
                    let _ = out.set_raw(name, value);
                }
            }
        }
        out
    }

    /// The effective value of header `H` for a request: the request's, else SET-PARAMS', else the default.
    pub fn effective<H: Header>(&self, request: &Headers) -> Result<Option<H>, InvalidHeader> {
        for layer in [request, &self.set, &self.defaults] {
            if let Some(value) = layer.get::<H>()? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// The effective Vendor-Specific-Parameters: the request's pairs over the channel's, by name.
    pub fn vendor_parameters(&self, request: &Headers) -> Result<VendorParams, InvalidHeader> {
        let mut params = self
            .set
            .get::<VendorSpecificParameters>()?
            .map(|v| v.0)
            .unwrap_or_default();
        if let Some(VendorSpecificParameters(own)) = request.get::<VendorSpecificParameters>()? {
            params = merge_pairs(params, own);
        }
        Ok(params)
    }
}

fn merge_vendor(
    stored: Option<VendorSpecificParameters>,
    new_value: &str,
) -> Result<VendorSpecificParameters, InvalidHeader> {
    let mut scratch = Headers::new();
    scratch.set_raw(VendorSpecificParameters::NAME, new_value)?;
    let new = scratch
        .get::<VendorSpecificParameters>()?
        .map(|v| v.0)
        .unwrap_or_default();
    let old = stored.map(|v| v.0).unwrap_or_default();
    Ok(VendorSpecificParameters(merge_pairs(old, new)))
}

/// `base` with every pair of `over` replacing the one of the same name or appended (names are
/// case-sensitive, as vendors define them).
fn merge_pairs(mut base: VendorParams, over: VendorParams) -> VendorParams {
    for pair in over.0 {
        match base.0.iter_mut().find(|p| p.name == pair.name) {
            Some(existing) => *existing = pair,
            None => base.0.push(pair),
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mrcp_proto::mrcp::StatusCode;
    use mrcp_proto::mrcp::header::{ConfidenceThreshold, NoInputTimeout, RecognitionTimeout};

    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in fields {
            h.append_raw(n, v).unwrap();
        }
        h
    }

    fn params() -> ChannelParams {
        ChannelParams::new(headers(&[
            ("No-Input-Timeout", "5000"),
            ("Recognition-Timeout", "15000"),
        ]))
    }

    #[test]
    fn request_wins_over_set_params_over_defaults() {
        let mut p = params();
        p.set_params(&headers(&[
            ("Channel-Identifier", "abc@speechrecog"),
            ("No-Input-Timeout", "7000"),
        ]))
        .unwrap();
        let none = Headers::new();
        assert_eq!(
            p.effective::<NoInputTimeout>(&none).unwrap(),
            Some(NoInputTimeout(Duration::from_secs(7)))
        );
        assert_eq!(
            p.effective::<RecognitionTimeout>(&none).unwrap(),
            Some(RecognitionTimeout(Duration::from_secs(15)))
        );
        let own = headers(&[("No-Input-Timeout", "100")]);
        assert_eq!(
            p.effective::<NoInputTimeout>(&own).unwrap(),
            Some(NoInputTimeout(Duration::from_millis(100)))
        );
        assert_eq!(p.effective::<ConfidenceThreshold>(&none).unwrap(), None);
    }

    #[test]
    fn set_params_is_all_or_nothing_and_names_the_header() {
        let mut p = params();
        let err = p
            .set_params(&headers(&[
                ("No-Input-Timeout", "7000"),
                ("Confidence-Threshold", "7.5"),
            ]))
            .unwrap_err();
        assert_eq!(err.name, "Confidence-Threshold");
        assert_eq!(err.status_code(), StatusCode::UNSUPPORTED_HEADER_VALUE);
        assert_eq!(
            p.effective::<NoInputTimeout>(&Headers::new()).unwrap(),
            Some(NoInputTimeout(Duration::from_secs(5)))
        );
    }

    #[test]
    fn get_params_reads_named_fields_or_all() {
        let mut p = params();
        p.set_params(&headers(&[("Speech-Language", "en-GB"), ("X-Custom", "1")]))
            .unwrap();
        let named = p.get_params(&headers(&[
            ("Channel-Identifier", "x@speechrecog"),
            ("speech-language", ""),
        ]));
        assert_eq!(named.get_raw("Speech-Language"), Some("en-GB"));
        assert_eq!(named.len(), 1);
        let all = p.get_params(&Headers::new());
        assert_eq!(all.get_raw("No-Input-Timeout"), Some("5000"));
        assert_eq!(all.get_raw("X-Custom"), Some("1"));
    }

    #[test]
    fn vendor_parameters_merge_by_name() {
        let mut p = params();
        p.set_params(&headers(&[(
            "Vendor-Specific-Parameters",
            "engine=ps;model=a",
        )]))
        .unwrap();
        p.set_params(&headers(&[("Vendor-Specific-Parameters", "model=b")]))
            .unwrap();
        let req = headers(&[("Vendor-Specific-Parameters", "engine=deepgram;beam=3")]);
        let merged = p.vendor_parameters(&req).unwrap();
        assert_eq!(merged.get("engine"), Some("deepgram"));
        assert_eq!(merged.get("model"), Some("b"));
        assert_eq!(merged.get("beam"), Some("3"));
        assert_eq!(merged.0.len(), 3);
    }
}
