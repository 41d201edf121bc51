#![no_main]
//! SSML parsing (W3C SSML 1.1) of hostile input: parse, segment, and for documents that parse, the
//! writer's output must parse back to the same document.
use mrcp_proto::ssml::{self, Context, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = ssml::parse(input) else {
        return;
    };
    let _ = ssml::segments(&doc, &Context::default(), &Limits::default());
    let written = doc.to_xml();
    match ssml::parse(&written) {
        Ok(back) => assert_eq!(back, doc, "round trip changed the document: {written}"),
        Err(e) => panic!("written document does not parse: {e}: {written}"),
    }
});
