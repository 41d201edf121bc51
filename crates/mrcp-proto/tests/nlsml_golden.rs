//! Golden tests: the NLSML bodies of the UniMRCP 1.8 captures and the reference's examples (§10.4) parse, and
//! what we write for them reads back the same (RFC 6787 §9.6). Also replays the `nlsml` fuzz corpus.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use mrcp_proto::nlsml::{Input, InputMode, Nlsml, WriteOptions};
use serde_json::json;

const CAPTURES: &str = include_str!("data/unimrcp-wire-captures.txt");

/// Bodies of MRCP messages whose Content-Type is NLSML.
fn nlsml_bodies() -> Vec<String> {
    CAPTURES
        .split("----- frame ")
        .skip(1)
        .filter_map(|chunk| {
            let payload = chunk.split("----- end -----").next()?;
            let (head, body) = payload.split_once("\r\n\r\n")?;
            let ct = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-type:"))?;
            ct.contains("nlsml").then(|| body.to_owned())
        })
        .collect()
}

#[test]
fn captured_recognition_results_parse() {
    let bodies = nlsml_bodies();
    assert_eq!(
        bodies.len(),
        2,
        "two RECOGNITION-COMPLETE bodies in the captures"
    );
    for body in bodies {
        let result = Nlsml::parse(&body).unwrap();
        assert_eq!(result.interpretations.len(), 1);
        let i = &result.interpretations[0];
        assert_eq!(
            i.grammar.as_deref(),
            Some("session:request1@form-level.store")
        );
        assert_eq!(i.confidence, Some(0.97));
        assert_eq!(i.instance, Some(json!("one")));
        assert_eq!(i.input, Some(Input::speech("one")));
        let written = result.to_xml(&WriteOptions::default()).unwrap();
        assert_eq!(Nlsml::parse(&written).unwrap(), result);
        // Same layout as UniMRCP except the stray space after <result>.
        assert_eq!(written, body.replace("<result> \n", "<result>\n"));
    }
}

#[test]
fn reference_examples_parse() {
    // reference §10.4 (what FreeSWITCH users and Asterisk's apt_nlsml_doc handle)
    let fs = "<?xml version=\"1.0\"?>\n<result>\n  <interpretation grammar=\"session:yesno\" confidence=\"0.87\">\n    <instance>yes</instance>\n    <input mode=\"speech\">yes</input>\n  </interpretation>\n</result>\n";
    let r = Nlsml::parse(fs).unwrap();
    assert_eq!(r.to_xml(&WriteOptions::default()).unwrap(), fs);
    // RFC 6787 §9.6-style, namespaced, DTMF with a 0-100 confidence
    let dtmf = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<result xmlns=\"urn:ietf:params:xml:ns:mrcpv2\" grammar=\"builtin:dtmf/digits?length=4\">\n<interpretation confidence=\"100\"><instance>1234</instance><input mode=\"dtmf\">1 2 3 4</input></interpretation>\n</result>";
    let r = Nlsml::parse(dtmf).unwrap();
    assert_eq!(r.interpretations[0].confidence, Some(1.0));
    assert_eq!(
        r.interpretations[0].input.as_ref().unwrap().mode,
        Some(InputMode::Dtmf)
    );
}

#[test]
fn replays_nlsml_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/nlsml");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/corpus/nlsml exists") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        n += 1;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Ok(result) = Nlsml::parse(text) else {
            continue;
        };
        let Ok(xml) = result.to_xml(&WriteOptions::default()) else {
            continue;
        };
        let once = Nlsml::parse(&xml).unwrap();
        let twice = Nlsml::parse(&once.to_xml(&WriteOptions::default()).unwrap()).unwrap();
        assert_eq!(once, twice);
    }
    assert!(n >= 4, "corpus has {n} files");
}
