//! Helpers shared by the `mrcp_*` integration tests.
pub mod capture;
pub mod fuzz_decoder;
