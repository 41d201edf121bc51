//! The speechsynth state machine under arbitrary request and prompt-event sequences; the checks live in
//! `crates/mrcp-server/tests/support/synthesizer_fuzz.rs`, which the corpus replay test runs too.
#![no_main]
#[path = "../../crates/mrcp-server/tests/support/synthesizer_fuzz.rs"]
mod synthesizer_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| synthesizer_fuzz::check(data));
