//! Unit tests of NLSML reading and writing.

use serde_json::json;

use super::*;

const UNIMRCP: &str = "<?xml version=\"1.0\"?>\n<result> \n  <interpretation grammar=\"session:request1@form-level.store\" confidence=\"0.97\">\n    <instance>one</instance>\n    <input mode=\"speech\">one</input>\n  </interpretation>\n</result>\n";

#[test]
fn reads_unimrcp_result() {
    let r = Nlsml::parse(UNIMRCP).unwrap();
    assert_eq!(r.interpretations.len(), 1);
    let i = &r.interpretations[0];
    assert_eq!(
        i.grammar.as_deref(),
        Some("session:request1@form-level.store")
    );
    assert_eq!(i.confidence, Some(0.97));
    assert_eq!(i.instance, Some(json!("one")));
    assert_eq!(i.input, Some(Input::speech("one")));
}

#[test]
fn writes_unimrcp_layout() {
    let r = Nlsml::new(vec![Interpretation {
        grammar: Some("session:yesno".into()),
        confidence: Some(0.87),
        instance: Some(json!("yes")),
        input: Some(Input::speech("yes")),
    }]);
    assert_eq!(
        r.to_xml(&WriteOptions::default()).unwrap(),
        "<?xml version=\"1.0\"?>\n<result>\n  <interpretation grammar=\"session:yesno\" confidence=\"0.87\">\n    <instance>yes</instance>\n    <input mode=\"speech\">yes</input>\n  </interpretation>\n</result>\n"
    );
    let ns = r
        .to_xml(&WriteOptions {
            declaration: false,
            namespace: true,
        })
        .unwrap();
    assert!(ns.starts_with("<result xmlns=\"urn:ietf:params:xml:ns:mrcpv2\">"));
    assert_eq!(Nlsml::parse(&ns).unwrap(), r);
}

#[test]
fn confidence_scales() {
    let doc = |c: &str| format!("<result><interpretation confidence=\"{c}\"/></result>");
    let read = |c: &str| Nlsml::parse(&doc(c)).map(|r| r.interpretations[0].confidence);
    assert_eq!(read("0.5"), Ok(Some(0.5)));
    assert_eq!(read("87"), Ok(Some(0.87)));
    assert_eq!(read("100"), Ok(Some(1.0)));
    assert_eq!(read("1"), Ok(Some(1.0)));
    for bad in ["-1", "101", "NaN", "high", "inf"] {
        assert!(
            matches!(read(bad), Err(NlsmlError::BadConfidence(_))),
            "{bad}"
        );
    }
}

#[test]
fn structured_instances_nomatch_noinput_and_dtmf() {
    let doc = r#"<result xmlns="urn:ietf:params:xml:ns:mrcpv2" grammar="builtin:dtmf/digits">
  <interpretation confidence="90">
    <instance><SWI_literal>1 2</SWI_literal><SWI_meaning>{12}</SWI_meaning><digit>1</digit><digit>2</digit><city code="BOS">Boston <![CDATA[& co]]></city></instance>
    <input mode="dtmf" confidence="1.0">1 2</input>
  </interpretation>
  <interpretation><input><nomatch/></input></interpretation>
  <interpretation><instance/><input mode="speech"><noinput/></input></interpretation>
</result>"#;
    let r = Nlsml::parse(doc).unwrap();
    assert_eq!(r.grammar.as_deref(), Some("builtin:dtmf/digits"));
    let i = &r.interpretations[0];
    assert_eq!(i.confidence, Some(0.9));
    assert_eq!(
        i.instance,
        Some(
            json!({"SWI_literal": "1 2", "SWI_meaning": "{12}", "digit": ["1", "2"],
            "city": {"@code": "BOS", "#text": "Boston & co"}})
        )
    );
    assert_eq!(i.input.as_ref().unwrap().mode, Some(InputMode::Dtmf));
    assert_eq!(
        r.interpretations[1].input.as_ref().unwrap().content,
        InputContent::NoMatch
    );
    assert_eq!(
        r.interpretations[2].input.as_ref().unwrap().content,
        InputContent::NoInput
    );
    assert_eq!(r.interpretations[2].instance, Some(json!("")));
    // Written back, the structured instance reads the same.
    let again = Nlsml::parse(&r.to_xml(&WriteOptions::default()).unwrap()).unwrap();
    assert_eq!(again, r);
    assert_eq!(
        Nlsml::parse(
            &Nlsml::no_match(Some(InputMode::Speech))
                .to_xml(&WriteOptions::default())
                .unwrap()
        )
        .unwrap(),
        Nlsml::no_match(Some(InputMode::Speech))
    );
    assert_eq!(
        Nlsml::parse(&Nlsml::no_input().to_xml(&WriteOptions::default()).unwrap()).unwrap(),
        Nlsml::no_input()
    );
}

#[test]
fn escapes_text_and_attributes() {
    let nasty = "a<b>&\"c' \t\r\n]]> d";
    let r = Nlsml::new(vec![Interpretation {
        grammar: Some(nasty.into()),
        confidence: None,
        instance: Some(json!({"k": nasty, "@attr": nasty})),
        input: Some(Input::speech("x & y < z")),
    }]);
    let xml = r.to_xml(&WriteOptions::default()).unwrap();
    assert!(xml.contains("x &amp; y &lt; z"));
    assert_eq!(
        Nlsml::parse(&xml).unwrap().interpretations[0]
            .grammar
            .as_deref(),
        Some(nasty)
    );
    let back = Nlsml::parse(&xml).unwrap();
    assert_eq!(
        back.interpretations[0].instance,
        Some(json!({"@attr": nasty, "k": nasty.trim()}))
    );
    let bad_name = Nlsml::new(vec![Interpretation {
        instance: Some(json!({"two words": "x"})),
        ..Interpretation::default()
    }]);
    assert!(matches!(
        bad_name.to_xml(&WriteOptions::default()),
        Err(NlsmlError::BadElementName(_))
    ));
    let bad_char = Nlsml::new(vec![Interpretation {
        instance: Some(json!("nul\u{0}")),
        ..Interpretation::default()
    }]);
    assert_eq!(
        bad_char.to_xml(&WriteOptions::default()),
        Err(NlsmlError::BadCharacter(0))
    );
}

#[test]
fn rejects_malformed() {
    for bad in [
        "",
        "not xml",
        "<result>",
        "<result></results>",
        "<result><interpretation></result>",
        "<result/><result/>",
        "<result>&bogus;</result>",
        "<result a=\"1\" a=\"2\"/>",
        "<result><interpretation><input mode=\"touch\">1</input></interpretation></result>",
    ] {
        assert!(Nlsml::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        Nlsml::parse("<answer/>"),
        Err(NlsmlError::NotResult("answer".into()))
    );
    let deep = format!("<result>{}{}</result>", "<a>".repeat(40), "</a>".repeat(40));
    assert_eq!(
        Nlsml::parse(&deep),
        Err(NlsmlError::TooDeep { limit: MAX_DEPTH })
    );
    let big = format!("<result>{}</result>", " ".repeat(MAX_NLSML_LEN));
    assert!(matches!(
        Nlsml::parse(&big),
        Err(NlsmlError::TooLarge { .. })
    ));
}
