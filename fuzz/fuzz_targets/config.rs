//! The server's TOML configuration: any text is accepted or refused with an error naming the key, never a
//! panic; an accepted config passes its own validation again.
#![no_main]

use std::path::Path;

use mrcp_server::config::Config;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml(text, Path::new("fuzz.toml")) {
        assert!(config.validate().is_ok(), "an accepted config must validate");
    }
});
