#![no_main]
//! Fuzz target: SIP digest authentication of INVITEs, `Authorization` values against the server's
//! authenticator (see `mrcp_server::digest::fuzzing::run`; replayed by `tests/digest_corpus.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mrcp_server::digest::fuzzing::run(data);
});
