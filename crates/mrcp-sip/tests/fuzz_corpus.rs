//! Replays every file of `fuzz/corpus/sip_transaction/` through the fuzz driver, so CI runs the
//! corpus on stable.

#[test]
fn sip_transaction_corpus_replays_cleanly() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sip_transaction");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("read corpus file");
        mrcp_sip::fuzzing::run(&data);
        count += 1;
    }
    assert!(count > 0, "empty corpus in {}", dir.display());
}
