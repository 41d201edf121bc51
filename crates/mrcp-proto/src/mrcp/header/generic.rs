//! Generic headers, valid for every resource (RFC 6787 §6.2).

use std::time::Duration;

use super::value::VendorParams;
use super::{HeaderValue, ValueError, header};
use crate::mrcp::{ChannelId, RequestId};

impl HeaderValue for ChannelId {
    fn parse(value: &str) -> Result<Self, ValueError> {
        value.parse().map_err(|_| ValueError::Syntax {
            expected: "<session-id>@<resource> with a known resource",
        })
    }
    fn write(&self, out: &mut String) {
        out.push_str(self.session_id());
        out.push('@');
        out.push_str(self.resource().as_str());
    }
}

impl HeaderValue for Vec<RequestId> {
    /// `request-id *("," request-id)`.
    fn parse(value: &str) -> Result<Self, ValueError> {
        value
            .split(',')
            .map(|id| {
                id.trim().parse().map_err(|_| ValueError::Syntax {
                    expected: "request ids separated by ','",
                })
            })
            .collect()
    }
    fn write(&self, out: &mut String) {
        for (i, id) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            id.0.write(out);
        }
    }
}

header!(
    /// `Channel-Identifier: <session-id>@<resource>`: mandatory in every message (RFC 6787 §6.2.1).
    ChannelIdentifier, "Channel-Identifier", ChannelId
);
header!(
    /// `Accept`: body types the client accepts, e.g. in GET-RESULT (RFC 6787 §6.2).
    Accept, "Accept", String
);
header!(
    /// `Active-Request-Id-List`: the requests a STOP, BARGE-IN-OCCURRED or … acted on (RFC 6787 §6.2).
    ActiveRequestIdList, "Active-Request-Id-List", Vec<RequestId>
);
header!(
    /// `Proxy-Sync-Id`: ties a BARGE-IN-OCCURRED to the recognizer's event (RFC 6787 §6.2).
    ProxySyncId, "Proxy-Sync-Id", String
);
header!(
    /// `Accept-Charset`: charsets accepted in bodies (RFC 6787 §6.2).
    AcceptCharset, "Accept-Charset", String
);
header!(
    /// `Content-Type`: media type of the body, e.g. `application/srgs+xml` (RFC 6787 §6.2).
    ContentType, "Content-Type", String
);
header!(
    /// `Content-Id`: names an inline grammar or lexicon; FreeSWITCH sends a bare name or a UUID, not an RFC 2392 id
    /// (RFC 6787 §6.2).
    ContentId, "Content-Id", String
);
header!(
    /// `Content-Base`: base URI for relative URIs in the body (RFC 6787 §6.2).
    ContentBase, "Content-Base", String
);
header!(
    /// `Content-Encoding` of the body (RFC 6787 §6.2).
    ContentEncoding, "Content-Encoding", String
);
header!(
    /// `Content-Location` of the body (RFC 6787 §6.2).
    ContentLocation, "Content-Location", String
);
header!(
    /// `Content-Length`: body size in bytes (RFC 6787 §6.2). The codec frames on it and writes it itself, so a
    /// decoded message's headers never hold it.
    ContentLength, "Content-Length", u64
);
header!(
    /// `Fetch-Timeout`: milliseconds allowed to fetch a URI (RFC 6787 §6.2).
    FetchTimeout, "Fetch-Timeout", Duration
);
header!(
    /// `Cache-Control` directives for fetched content (RFC 6787 §6.2).
    CacheControl, "Cache-Control", String
);
header!(
    /// `Logging-Tag`: a tag for the server's logs, set with SET-PARAMS (RFC 6787 §6.2).
    LoggingTag, "Logging-Tag", String
);
header!(
    /// `Set-Cookie`: a cookie for URI fetches (RFC 6787 §6.2, RFC 6265).
    SetCookie, "Set-Cookie", String
);
header!(
    /// `Vendor-Specific-Parameters: name=value;name=value` (RFC 6787 §6.2).
    VendorSpecificParameters, "Vendor-Specific-Parameters", VendorParams
);
