#![no_main]
//! Fuzz the NLSML reader and writer (RFC 6787 §9.6): no input may panic; anything that parses must write, and
//! what is written must read back to the same result (the mapping is a fixed point after one pass).
use mrcp_proto::nlsml::{Nlsml, WriteOptions};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(result) = Nlsml::parse(text) else {
        return;
    };
    // A parsed document can hold characters XML 1.0 cannot write (e.g. from &#1;); the writer must refuse them.
    let Ok(xml) = result.to_xml(&WriteOptions::default()) else {
        return;
    };
    let once = Nlsml::parse(&xml).expect("written NLSML parses");
    let xml2 = once.to_xml(&WriteOptions::default()).expect("rewrites");
    let twice = Nlsml::parse(&xml2).expect("rewritten NLSML parses");
    assert_eq!(once, twice, "read/write is stable");
});
