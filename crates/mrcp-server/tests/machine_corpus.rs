//! Replays every file of `fuzz/corpus/recognizer_machine` and `fuzz/corpus/synthesizer_machine` through the
//! same checks as the fuzz targets of those names, so CI runs the corpora on stable.

mod support {
    pub mod recognizer_fuzz;
    pub mod synthesizer_fuzz;
}

use std::path::Path;

/// Runs `check` on every file of `fuzz/corpus/<target>`.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the fuzz corpus directory exists") {
        let path = entry.expect("corpus entry").path();
        check(&std::fs::read(&path).expect("corpus file"));
        replayed += 1;
    }
    assert!(replayed > 0, "the corpus of {target} is empty");
}

#[test]
fn recognizer_corpus_replays() {
    replay("recognizer_machine", support::recognizer_fuzz::check);
}

#[test]
fn synthesizer_corpus_replays() {
    replay("synthesizer_machine", support::synthesizer_fuzz::check);
}

#[test]
fn scripted_recognitions_hold_the_invariants() {
    // A RECOGNIZE with speech and DTMF, speech, a result, then a queued one stopped; a hotword run; DTMF.
    support::recognizer_fuzz::check(&[
        0,
        0b0000_0111,
        1,
        4,
        10,
        10,
        4,
        11,
        50,
        5,
        7,
        1,
        8,
        220,
        0,
        3,
        2,
        4,
        9,
        9,
        2,
    ]);
    support::recognizer_fuzz::check(&[
        0,
        0b0010_0001,
        0,
        0,
        5,
        5,
        4,
        11,
        10,
        5,
        9,
        11,
        255,
        11,
        255,
    ]);
    support::recognizer_fuzz::check(&[0, 0b0100_0010, 3, 3, 0, 0, 6, 1, 6, 11, 6, 2, 11, 200]);
}

#[test]
fn scripted_prompts_hold_the_invariants() {
    // Three SPEAKs queued, a marker, a pause and resume, a barge-in, a STOP of one, prompts done.
    support::synthesizer_fuzz::check(&[0, 3, 0, 1, 0, 0, 7, 1, 2, 0, 3, 0, 8, 0, 5, 0, 1, 7, 8, 0]);
}
