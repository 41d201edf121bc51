//! Replays the seed corpora of the grammar fuzz targets (`fuzz/corpus/srgs_xml`, `srgs_abnf`, `grammar_match`)
//! through the same harnesses the fuzzer runs, plus regressions found by fuzzing.

use std::path::{Path, PathBuf};

use mrcp_proto::grammar::fuzz_support;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("corpus file");
            (p, data)
        })
        .collect()
}

#[test]
fn srgs_xml_corpus() {
    let files = corpus("srgs_xml");
    assert!(!files.is_empty());
    for (_, data) in files {
        fuzz_support::srgs_xml(&data);
    }
}

#[test]
fn srgs_abnf_corpus() {
    let files = corpus("srgs_abnf");
    assert!(!files.is_empty());
    for (_, data) in files {
        fuzz_support::srgs_abnf(&data);
    }
}

#[test]
fn grammar_match_corpus() {
    let files = corpus("grammar_match");
    assert!(!files.is_empty());
    for (_, data) in files {
        fuzz_support::grammar_match(&data);
    }
}

/// Inputs that once broke a harness (found by fuzzing), kept as regressions.
const REGRESSIONS_XML: &[&[u8]] = &[
    b"<grammar><rule id=\"a\"><item></item></rule></grammar>",
    b"<grammar xml:lang=\"a&#10;b\" root=\"a\"><rule id=\"a\">x</rule></grammar>",
];
const REGRESSIONS_ABNF: &[&[u8]] = &[
    b"#ABNF 1.0;\n$a = (x) <0-1> <2>;",
    // A declaration value spanning lines (language "en-USq\nmode voice") did not survive ABNF → XML → ABNF.
    b"#ABNF 1.0 UTF-8;\nlanguage en-USq\nmode voice;\nroot $a;\n$a = x;",
];
const REGRESSIONS_MATCH: &[&[u8]] =
    &[b"x x x x x x x x\n#ABNF 1.0;\nroot $a;\n$a = ($GARBAGE | x | x x) <0->;"];

#[test]
fn malformed_input_regressions() {
    REGRESSIONS_XML
        .iter()
        .for_each(|d| fuzz_support::srgs_xml(d));
    REGRESSIONS_ABNF
        .iter()
        .for_each(|d| fuzz_support::srgs_abnf(d));
    REGRESSIONS_MATCH
        .iter()
        .for_each(|d| fuzz_support::grammar_match(d));
}
