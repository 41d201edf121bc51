#![no_main]
//! The jitter buffer under arbitrary packet streams; the property lives in
//! `crates/mrcp-media/tests/support/jitter_fuzz.rs`, which the corpus replay test runs too.

#[path = "../../crates/mrcp-media/tests/support/jitter_fuzz.rs"]
mod jitter_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| jitter_fuzz::check(data));
