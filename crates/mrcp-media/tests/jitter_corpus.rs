//! Replays every file of `fuzz/corpus/jitter_buffer` through the same checks as the fuzz target
//! `fuzz/fuzz_targets/jitter_buffer.rs`, so CI runs the corpus on stable.

mod support {
    pub mod jitter_fuzz;
}

use support::jitter_fuzz::check;

#[test]
fn fuzz_corpus_replays() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/jitter_buffer");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/jitter_buffer exists") {
        let path = entry.expect("corpus entry").path();
        if path.is_file() {
            check(&std::fs::read(&path).expect("corpus file"));
            n += 1;
        }
    }
    assert!(n > 0, "no corpus files in {}", dir.display());
}

proptest::proptest! {
    #[test]
    fn arbitrary_operations_keep_the_invariants(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..800)) {
        check(&data);
    }
}
