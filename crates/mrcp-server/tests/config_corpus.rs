//! Replays every file of `fuzz/corpus/config` through the configuration parser, as the fuzz target
//! `fuzz/fuzz_targets/config.rs` does, so CI runs the corpus on stable: any text is accepted or refused with
//! an error naming the key, never a panic.

use std::path::Path;

use mrcp_server::config::{Config, ConfigError};

#[test]
fn fuzz_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/config exists") {
        let path = entry.expect("corpus entry").path();
        let text =
            String::from_utf8_lossy(&std::fs::read(&path).expect("corpus file")).into_owned();
        match Config::from_toml(&text, &path) {
            Ok(config) => assert!(config.validate().is_ok()),
            Err(ConfigError::Invalid { key, .. }) => assert!(!key.is_empty()),
            Err(_) => {}
        }
        replayed += 1;
    }
    assert!(replayed > 0, "the corpus is empty");
}
