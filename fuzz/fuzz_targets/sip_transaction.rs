#![no_main]
//! Fuzzes the SIP transaction and dialog layer: a script of messages, timer steps and answers
//! driven through one `mrcp_sip::Endpoint` (see `mrcp_sip::fuzzing::run`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mrcp_sip::fuzzing::run(data);
});
