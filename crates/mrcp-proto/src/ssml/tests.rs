use std::time::Duration;

use proptest::prelude::*;

use super::parse::parse_with;
use super::value::time_millis;
use super::*;

fn speech(seg: &Segment) -> &Speech {
    match seg {
        Segment::Speech(s) => s,
        other => panic!("expected speech, got {other:?}"),
    }
}

fn segs(input: &str) -> Vec<Segment> {
    segments(
        &parse(input).unwrap(),
        &Context::default(),
        &Limits::default(),
    )
    .unwrap()
}

#[test]
fn parses_every_element() {
    let doc = parse(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">
  <lexicon uri="http://example.com/lex.pls"/>
  <voice name="Alice Bob" gender="female" age="30" variant="2" languages="en-US fr">
    <prosody rate="+10%" volume="-6dB" pitch="high">Hi</prosody>
  </voice>
  <break time="1.5s" strength="weak"/><mark name="m1"/>
  <say-as interpret-as="digits" format="x">123</say-as>
  <sub alias="World Wide Web">WWW</sub>
  <phoneme alphabet="ipa" ph="t&#x259;mei&#x325;&#x27E;o&#x28A;">tomato</phoneme>
  <emphasis level="strong">now</emphasis>
  <p xml:lang="en-GB"><s>One.</s></p>
  <audio src="beep.wav">beep</audio>
  <lang xml:lang="fr-FR">bonjour</lang>
</speak>"#,
    )
    .unwrap();
    assert_eq!(doc.version.as_deref(), Some("1.1"));
    assert_eq!(doc.lang.as_deref(), Some("en-US"));
    assert_eq!(doc.lexicons, vec!["http://example.com/lex.pls".to_owned()]);
    let elements: Vec<&Node> = doc
        .children
        .iter()
        .filter(|n| !matches!(n, Node::Text(_)))
        .collect();
    assert_eq!(elements.len(), 10);
    let Node::Voice(v) = elements[0] else {
        panic!("{:?}", elements[0])
    };
    assert_eq!(v.gender, Some(Gender::Female));
    assert_eq!((v.age, v.variant), (Some(30), Some(2)));
    assert_eq!(
        *elements[1],
        Node::Break(Break {
            time: Some(Duration::from_millis(1500)),
            strength: Some(BreakStrength::Weak)
        })
    );
    let Node::Phoneme(p) = elements[5] else {
        panic!()
    };
    assert_eq!(p.ph, "təmei̥ɾoʊ");
}

#[test]
fn entities_and_char_refs_resolve() {
    let doc =
        parse("<speak>a &lt;b&gt; &amp; &quot;c&apos; &#65;&#x42;<![CDATA[<x>]]></speak>").unwrap();
    assert_eq!(
        doc.children,
        vec![Node::Text("a <b> & \"c' AB<x>".to_owned())]
    );
}

/// Found by the `ssml` fuzz target: an empty CDATA section made an empty text node, which the writer drops,
/// so the document did not read back the same.
#[test]
fn an_empty_cdata_section_adds_no_text() {
    let doc = parse("<speak><![CDATA[]]></speak>").unwrap();
    assert_eq!(doc.children, vec![]);
    assert_eq!(parse(&doc.to_xml()).unwrap(), doc);
}

#[test]
fn dtd_entities_are_refused_not_expanded() {
    let input = "<!DOCTYPE speak [<!ENTITY lol \"lol\">]>\n<speak>&lol;</speak>";
    let err = parse(input).unwrap_err();
    assert_eq!(
        err.kind,
        SsmlErrorKind::UnknownEntity {
            name: "lol".to_owned()
        }
    );
    assert_eq!(err.position.map(|p| p.line), Some(2));
}

#[test]
fn errors_say_what_and_where() {
    let cases: &[(&str, &str)] = &[
        (
            "<speak>\n  <foo/></speak>",
            "unknown element <foo> at line 2, column 3",
        ),
        (
            "<p>x</p>",
            "root element is <p>, expected <speak> at line 1, column 1",
        ),
        (
            "<speak><break time=\"soon\"/></speak>",
            "<break> time=\"soon\" is not a time such as 500ms or 1.5s",
        ),
        (
            "<speak><mark/></speak>",
            "<mark> requires the name attribute",
        ),
        (
            "<speak><sub alias=\"a\"><break/></sub></speak>",
            "<break> is not allowed inside <sub>",
        ),
        (
            "<speak><voice gender=\"robot\">x</voice></speak>",
            "<voice> gender=\"robot\" is not male",
        ),
        ("<speak>text", "missing </speak>"),
        ("<speak></speak><speak/>", "content after the </speak> root"),
        ("", "no <speak> element"),
        (
            "<speak><prosody rate=\"loud\">x</prosody></speak>",
            "<prosody> rate=\"loud\"",
        ),
        (
            "<speak><prosody rate=\"1e5\">x</prosody></speak>",
            "<prosody> rate=\"1e5\"",
        ),
        (
            "<speak><break time=\"100000s\"/></speak>",
            "break of 100000000 ms exceeds limit 60000 ms",
        ),
        ("<speak><s>a</p></speak>", "malformed xml"),
        ("<speak>&#0;</speak>", "invalid character reference"),
    ];
    for (input, expected) in cases {
        let err = parse(input).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{input:?}: {err:?} lacks {expected:?}"
        );
    }
}

#[test]
fn limits_hold() {
    let deep = format!("<speak>{}x{}</speak>", "<p>".repeat(40), "</p>".repeat(40));
    assert!(matches!(
        parse(&deep).unwrap_err().kind,
        SsmlErrorKind::TooDeep { limit: 32 }
    ));
    let limits = Limits {
        max_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with("<speak>hello</speak>", &limits)
            .unwrap_err()
            .kind,
        SsmlErrorKind::TooLarge { len: 20, limit: 10 }
    ));
    let many = format!("<speak>{}</speak>", "<mark name=\"m\"/>".repeat(50));
    let limits = Limits {
        max_segments: 10,
        ..Limits::default()
    };
    let doc = parse(&many).unwrap();
    assert!(matches!(
        segments(&doc, &Context::default(), &limits)
            .unwrap_err()
            .kind,
        SsmlErrorKind::TooManySegments { limit: 10 }
    ));
    let limits = Limits {
        max_nodes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(&many, &limits).unwrap_err().kind,
        SsmlErrorKind::TooManyNodes { limit: 10 }
    ));
}

#[test]
fn vendor_elements_are_transparent_and_meta_skipped() {
    let doc = parse(
        "<speak xmlns:amazon=\"x\"><meta name=\"a\" content=\"b\"/><metadata><x>y</x></metadata>\
         Hello <amazon:effect name=\"whispered\">quiet</amazon:effect> <w>world</w></speak>",
    )
    .unwrap();
    assert_eq!(
        doc.children,
        vec![Node::Text("Hello quiet world".to_owned())]
    );
}

#[test]
fn time_designations() {
    assert_eq!(time_millis("500ms"), Some(500));
    assert_eq!(time_millis("1.5s"), Some(1500));
    assert_eq!(time_millis(".25s"), Some(250));
    assert_eq!(time_millis("0.0004s"), Some(0));
    assert_eq!(time_millis("2.5ms"), Some(3));
    for bad in ["", "s", "ms", "1", "1.s", "-1s", "1 s", "1e3ms", "1.2.3s"] {
        assert_eq!(time_millis(bad), None, "{bad}");
    }
}

#[test]
fn segments_carry_context_and_place_marks_and_breaks() {
    let segs = segs(
        r#"<speak xml:lang="en-US">Hello <mark name="a"/> there.
           <break time="500ms"/><voice gender="female"><prosody rate="slow">Slowly</prosody> now</voice>
           <lang xml:lang="fr-FR">Bonjour</lang><break/><break strength="strong"/></speak>"#,
    );
    assert_eq!(segs.len(), 8, "{segs:#?}");
    assert_eq!(speech(&segs[0]).text, "Hello");
    assert_eq!(segs[1], Segment::Mark("a".to_owned()));
    assert_eq!(speech(&segs[2]).text, "there.");
    assert_eq!(segs[3], Segment::Break(Duration::from_millis(500)));
    let slow = speech(&segs[4]);
    assert_eq!((slow.text.as_str(), slow.prosody.rate), ("Slowly", 0.75));
    assert_eq!(slow.voice.gender, Some(Gender::Female));
    assert_eq!(speech(&segs[5]).text, "now");
    assert_eq!(speech(&segs[6]).lang.as_deref(), Some("fr-FR"));
    assert_eq!(segs[7], Segment::Break(Duration::from_millis(1100)));
}

#[test]
fn say_as_sub_and_sentences_render_to_text() {
    let segs = segs(
        "<speak><s>Call <say-as interpret-as=\"telephone\">+1 555-0100</say-as></s>\
         <s>Code <say-as interpret-as=\"digits\">42</say-as></s>\
         <p>Born <say-as interpret-as=\"date\" format=\"mdy\">3/5/2024</say-as></p>\
         <sub alias=\"doctor\">Dr.</sub></speak>",
    );
    assert_eq!(
        speech(&segs[0]).text,
        "Call plus 1, 5 5 5, 0 1 0 0. Code 4 2. Born March 5, 2024. doctor"
    );
}

#[test]
fn audio_keeps_its_fallback() {
    let segs = segs("<speak>A<audio src=\"x.wav\">beep <mark name=\"m\"/></audio>B</speak>");
    assert_eq!(segs.len(), 3);
    let Segment::Audio { src, fallback } = &segs[1] else {
        panic!("{segs:?}")
    };
    assert_eq!(src, "x.wav");
    assert_eq!(fallback.len(), 2);
}

#[test]
fn plain_text_is_one_segment() {
    let ctx = Context {
        lang: Some("en-GB".to_owned()),
        ..Context::default()
    };
    let segs = plain_text("  Hello\n\n world  ", &ctx, &Limits::default()).unwrap();
    assert_eq!(segs.len(), 1);
    assert_eq!(speech(&segs[0]).text, "Hello world");
    assert_eq!(speech(&segs[0]).lang.as_deref(), Some("en-GB"));
    assert!(
        plain_text(" \n ", &ctx, &Limits::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn prosody_resolution_nests() {
    let segs = segs(
        "<speak><prosody rate=\"2\" volume=\"50\"><prosody rate=\"-50%\" volume=\"+6dB\">x</prosody></prosody></speak>",
    );
    let p = speech(&segs[0]).prosody;
    assert!((p.rate - 1.0).abs() < 1e-6);
    assert!((p.volume - 0.5 * 10f32.powf(0.3)).abs() < 1e-4);
}

#[test]
fn media_type() {
    assert!(is_ssml_media_type("application/ssml+xml"));
    assert!(is_ssml_media_type("Application/SSML+XML; charset=utf-8"));
    assert!(is_ssml_media_type("application/synthesis+ssml"));
    assert!(!is_ssml_media_type("text/plain"));
}

fn text_strategy() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&\"'\\n\\r\\té€-]{1,12}"
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-zA-Z0-9 <>&\"'\\t\\n-]{0,8}")
}

fn prosody_value() -> impl Strategy<Value = ProsodyValue> {
    prop_oneof![
        proptest::sample::select(ProsodyLabel::ALL.to_vec()).prop_map(ProsodyValue::Label),
        (
            proptest::option::of(prop_oneof![Just(Sign::Plus), Just(Sign::Minus)]),
            0u32..100_000,
            proptest::sample::select(vec![
                ProsodyUnit::None,
                ProsodyUnit::Percent,
                ProsodyUnit::Decibels,
                ProsodyUnit::Hertz,
                ProsodyUnit::Semitones
            ])
        )
            .prop_map(|(sign, v, unit)| ProsodyValue::Number(ProsodyNumber {
                sign,
                value: v as f32 / 100.0,
                unit
            })),
    ]
}

/// Values valid for the attribute, as the parser checks them.
fn for_attr(value: ProsodyValue, attr: &str) -> Option<ProsodyValue> {
    let valid = match value {
        ProsodyValue::Label(l) => parse(&format!(
            "<speak><prosody {attr}=\"{}\">x</prosody></speak>",
            l.as_str()
        ))
        .is_ok(),
        ProsodyValue::Number(n) => match attr {
            "rate" => matches!(n.unit, ProsodyUnit::None | ProsodyUnit::Percent),
            "volume" => !matches!(n.unit, ProsodyUnit::Hertz | ProsodyUnit::Semitones),
            _ => n.unit != ProsodyUnit::Decibels,
        },
    };
    valid.then_some(value)
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        text_strategy().prop_map(Node::Text),
        "[a-z0-9_]{1,6}".prop_map(Node::Mark),
        (
            proptest::option::of(0u64..60_000),
            proptest::option::of(proptest::sample::select(BreakStrength::ALL.to_vec()))
        )
            .prop_map(|(t, strength)| Node::Break(Break {
                time: t.map(Duration::from_millis),
                strength
            })),
        ("[a-z]{1,8}", opt_text(), opt_text(), text_strategy()).prop_map(
            |(i, format, detail, text)| {
                Node::SayAs(SayAs {
                    interpret_as: i,
                    format,
                    detail,
                    text,
                })
            }
        ),
        (text_strategy(), text_strategy()).prop_map(|(alias, text)| Node::Sub(Sub { alias, text })),
        (text_strategy(), opt_text(), text_strategy())
            .prop_map(|(ph, alphabet, text)| Node::Phoneme(Phoneme { ph, alphabet, text })),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let children = proptest::collection::vec(inner, 0..4);
        prop_oneof![
            (
                opt_text(),
                proptest::option::of(prop_oneof![
                    Just(Gender::Male),
                    Just(Gender::Female),
                    Just(Gender::Neutral)
                ]),
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u32>()),
                opt_text(),
                opt_text(),
                children.clone()
            )
                .prop_map(|(name, gender, age, variant, languages, lang, children)| {
                    Node::Voice(Voice {
                        name,
                        gender,
                        age,
                        variant,
                        languages,
                        lang,
                        children,
                    })
                }),
            (
                proptest::option::of(prosody_value()),
                proptest::option::of(prosody_value()),
                proptest::option::of(prosody_value()),
                children.clone()
            )
                .prop_map(|(rate, volume, pitch, children)| Node::Prosody(Prosody {
                    rate: rate.and_then(|v| for_attr(v, "rate")),
                    volume: volume.and_then(|v| for_attr(v, "volume")),
                    pitch: pitch.and_then(|v| for_attr(v, "pitch")),
                    children
                })),
            (
                proptest::option::of(proptest::sample::select(EmphasisLevel::ALL.to_vec())),
                children.clone()
            )
                .prop_map(|(level, children)| Node::Emphasis(Emphasis { level, children })),
            (opt_text(), children.clone())
                .prop_map(|(lang, children)| Node::Paragraph(Block { lang, children })),
            (opt_text(), children.clone())
                .prop_map(|(lang, children)| Node::Sentence(Block { lang, children })),
            ("[a-z:/.]{1,10}", children.clone())
                .prop_map(|(src, children)| Node::Audio(Audio { src, children })),
            ("[a-z-]{1,6}", children)
                .prop_map(|(lang, children)| Node::Lang(Lang { lang, children })),
        ]
    })
}

/// The parser merges adjacent text runs, so a generated document does the same before comparing.
fn merge_text(nodes: Vec<Node>) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    for node in nodes {
        let node = match node {
            Node::Voice(mut v) => {
                v.children = merge_text(v.children);
                Node::Voice(v)
            }
            Node::Prosody(mut p) => {
                p.children = merge_text(p.children);
                Node::Prosody(p)
            }
            Node::Emphasis(mut e) => {
                e.children = merge_text(e.children);
                Node::Emphasis(e)
            }
            Node::Paragraph(mut b) => {
                b.children = merge_text(b.children);
                Node::Paragraph(b)
            }
            Node::Sentence(mut b) => {
                b.children = merge_text(b.children);
                Node::Sentence(b)
            }
            Node::Audio(mut a) => {
                a.children = merge_text(a.children);
                Node::Audio(a)
            }
            Node::Lang(mut l) => {
                l.children = merge_text(l.children);
                Node::Lang(l)
            }
            other => other,
        };
        match (out.last_mut(), node) {
            (Some(Node::Text(a)), Node::Text(b)) => a.push_str(&b),
            (_, node) => out.push(node),
        }
    }
    out
}

proptest! {
    #[test]
    fn documents_round_trip(
        version in proptest::option::of(prop_oneof![Just("1.0".to_owned()), Just("1.1".to_owned())]),
        lang in opt_text(),
        base in opt_text(),
        lexicons in proptest::collection::vec("[a-z:/.]{1,10}", 0..2),
        children in proptest::collection::vec(node(), 0..6),
    ) {
        let doc = Document { version, lang, base, lexicons, children: merge_text(children) };
        let xml = doc.to_xml();
        let back = parse(&xml).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        prop_assert_eq!(&back, &doc, "{}", xml);
        // Whatever parses also segments within the limits.
        segments(&back, &Context::default(), &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn arbitrary_input_never_panics(input in ".{0,200}") {
        let _ = parse(&input).map(|d| segments(&d, &Context::default(), &Limits::default()));
    }
}

#[test]
fn byte_order_mark_and_declaration_are_accepted() {
    let doc = parse("\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<speak>Hi</speak>\r\n")
        .unwrap();
    assert_eq!(doc.children, vec![Node::Text("Hi".to_owned())]);
}
