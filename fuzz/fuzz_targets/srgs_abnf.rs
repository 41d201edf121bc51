#![no_main]
//! Placeholder fuzz target, filled by its issue.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data;
});
