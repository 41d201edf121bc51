#![no_main]
//! Fuzz target: see `mrcp_proto::grammar::fuzz_support::grammar_match` (replayed by `tests/grammar_fuzz_corpus.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mrcp_proto::grammar::fuzz_support::grammar_match(data);
});
