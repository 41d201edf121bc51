//! Replays every file of `fuzz/corpus/mrcp_decoder` through the fuzz target's checks, so CI (stable, no
//! libFuzzer) keeps the corpus and its regressions green.

mod mrcp_support;

#[test]
fn replay_mrcp_decoder_corpus() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/mrcp_decoder"
    );
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("fuzz/corpus/mrcp_decoder exists")
        .map(|e| e.expect("readable corpus entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let data = std::fs::read(&path).expect("readable corpus file");
        mrcp_support::fuzz_decoder::run(&data);
        n += 1;
    }
    assert!(
        n >= 5,
        "the seed corpus holds at least the captured messages ({n} files)"
    );
}
