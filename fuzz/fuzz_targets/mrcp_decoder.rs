#![no_main]
//! Fuzzes the MRCPv2 stream decoder and encoder (RFC 6787 §5). The checks live in
//! `crates/mrcp-proto/tests/mrcp_support/fuzz_decoder.rs`, which the stable corpus-replay test also runs.

#[path = "../../crates/mrcp-proto/tests/mrcp_support/fuzz_decoder.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    checks::run(data);
});
