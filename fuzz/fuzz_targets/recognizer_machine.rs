//! The speechrecog state machine under arbitrary request, audio-event and clock sequences; the checks live in
//! `crates/mrcp-server/tests/support/recognizer_fuzz.rs`, which the corpus replay test runs too.
#![no_main]
#[path = "../../crates/mrcp-server/tests/support/recognizer_fuzz.rs"]
mod recognizer_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| recognizer_fuzz::check(data));
