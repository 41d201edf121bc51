//! Replays every file of the `ssml` fuzz corpus (`fuzz/corpus/ssml/`) through the checks of the fuzz target,
//! so CI exercises what the fuzzer found without running it.

use std::path::Path;

use mrcp_proto::ssml::{self, Context, Limits};

#[test]
fn ssml_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ssml");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut files = 0;
    let mut parsed = 0;
    for entry in entries {
        let path = entry.expect("corpus entry").path();
        let data =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        files += 1;
        let Ok(input) = std::str::from_utf8(&data) else {
            continue;
        };
        let Ok(doc) = ssml::parse(input) else {
            continue;
        };
        parsed += 1;
        let _ = ssml::segments(&doc, &Context::default(), &Limits::default());
        let written = doc.to_xml();
        let back = ssml::parse(&written).unwrap_or_else(|e| {
            panic!(
                "{}: written document does not parse: {e}: {written}",
                path.display()
            )
        });
        assert_eq!(
            back,
            doc,
            "{}: round trip changed the document",
            path.display()
        );
    }
    assert!(
        files >= 5,
        "the corpus at {} has only {files} files",
        dir.display()
    );
    assert!(parsed >= 3, "only {parsed} corpus files parse");
}
