//! Property tests: write → parse is the identity for generated NLSML results (RFC 6787 §9.6) within the
//! documented instance mapping (strings, non-empty objects, arrays of two or more, attributes as `@` keys).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use mrcp_proto::nlsml::{Input, InputContent, InputMode, Interpretation, Nlsml, WriteOptions};
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Any text XML 1.0 can carry, including markup characters, quotes and whitespace that needs escaping.
fn raw_text() -> impl Strategy<Value = String> {
    "[ -~\t\r\né中€&<>\"']{0,24}"
}

/// Element content is read trimmed, so generate it trimmed.
fn text() -> impl Strategy<Value = String> {
    raw_text().prop_map(|s| s.trim().to_owned())
}

fn name() -> impl Strategy<Value = String> {
    "[a-wyzA-Z_][a-zA-Z0-9_.-]{0,8}"
}

fn instance() -> impl Strategy<Value = Value> {
    let leaf = text().prop_map(Value::String);
    leaf.prop_recursive(3, 24, 4, |inner| {
        let member = prop_oneof![
            3 => inner.clone(),
            1 => vec(inner, 2..4).prop_map(Value::Array),
        ];
        (
            btree_map(name(), member, 1..4),
            of(("[a-z]{1,6}", raw_text())),
        )
            .prop_map(|(children, attr)| {
                let mut map: Map<String, Value> = children.into_iter().collect();
                if let Some((k, v)) = attr {
                    map.insert(format!("@{k}"), Value::String(v));
                }
                Value::Object(map)
            })
    })
}

fn confidence() -> impl Strategy<Value = f32> {
    0.0f32..=1.0
}

fn input() -> impl Strategy<Value = Input> {
    (
        of(prop_oneof![Just(InputMode::Speech), Just(InputMode::Dtmf)]),
        of(confidence()),
        prop_oneof![
            4 => text().prop_map(InputContent::Text),
            1 => Just(InputContent::NoMatch),
            1 => Just(InputContent::NoInput),
        ],
    )
        .prop_map(|(mode, confidence, content)| Input {
            mode,
            confidence,
            content,
        })
}

fn result() -> impl Strategy<Value = Nlsml> {
    (
        of(raw_text()),
        vec(
            (
                of(raw_text()),
                of(confidence()),
                of(instance()),
                of(input()),
            )
                .prop_map(|(grammar, confidence, instance, input)| Interpretation {
                    grammar,
                    confidence,
                    instance,
                    input,
                }),
            0..4,
        ),
    )
        .prop_map(|(grammar, interpretations)| Nlsml {
            grammar,
            interpretations,
        })
}

proptest! {
    #[test]
    fn written_results_read_back(result in result(), declaration: bool, namespace: bool) {
        let xml = result.to_xml(&WriteOptions { declaration, namespace }).unwrap();
        prop_assert_eq!(Nlsml::parse(&xml), Ok(result), "{}", xml);
    }

    #[test]
    fn text_instances_round_trip_as_strings(s in text()) {
        let result = Nlsml::new(vec![Interpretation {
            instance: Some(Value::String(s.clone())),
            ..Interpretation::default()
        }]);
        let xml = result.to_xml(&WriteOptions::default()).unwrap();
        let back = Nlsml::parse(&xml).unwrap();
        prop_assert_eq!(back.interpretations[0].instance.clone(), Some(Value::String(s)));
    }

    #[test]
    fn confidence_0_to_100_reads_as_fraction(percent in 2u32..=100) {
        let xml = format!("<result><interpretation confidence=\"{percent}\"/></result>");
        let c = Nlsml::parse(&xml).unwrap().interpretations[0].confidence.unwrap();
        prop_assert!((c - percent as f32 / 100.0).abs() < 1e-6);
    }
}
