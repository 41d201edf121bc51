//! Replays every file of `fuzz/corpus/sip_digest` through `mrcp_server::digest::fuzzing::run`, as the fuzz
//! target `fuzz/fuzz_targets/sip_digest.rs` does, so CI runs the corpus on stable: no guessed, malformed or
//! replayed `Authorization` gets in, and every challenge is well formed. The seeds that know the password are
//! accepted the number of times their nonce-counts allow.

use std::path::Path;

use mrcp_server::digest::fuzzing::run;

fn corpus_file(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/sip_digest")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn fuzz_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sip_digest");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/sip_digest exists") {
        run(&std::fs::read(entry.expect("corpus entry").path()).expect("corpus file"));
        replayed += 1;
    }
    assert!(replayed >= 3, "the corpus has {replayed} files");
}

#[test]
fn the_seeds_exercise_acceptance_and_refusal() {
    assert_eq!(run(&corpus_file("valid-md5")), 1);
    // nc 1 and 2 accepted; nc 3 comes after the nonce's 30 s lifetime and is answered stale.
    assert_eq!(run(&corpus_file("sha256-count-then-stale")), 2);
    assert_eq!(run(&corpus_file("refused")), 0);
}
