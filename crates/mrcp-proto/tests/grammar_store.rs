//! The sans-IO grammar store: DEFINE-GRAMMAR by Content-ID (RFC 6787 §9.8), `session:` and `builtin:`
//! references, URI grammars fetched by the caller with cache lifetimes on injected time.

use std::path::Path;
use std::time::{Duration, Instant};

use mrcp_proto::grammar::GrammarLimits;
use mrcp_proto::grammar::matcher::{ActiveGrammar, MatchOptions, Transcript, match_transcripts};
use mrcp_proto::grammar::store::{
    DefineOutcome, Fetched, GrammarStore, Resolution, ResolvedGrammar, StoreError, parse_uri_list,
};
use serde_json::json;

fn data(file: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/grammars")
            .join(file),
    )
    .expect("data file")
}

fn ready(r: Resolution) -> Vec<ResolvedGrammar> {
    match r {
        Resolution::Ready(g) => g,
        Resolution::NeedFetch(u) => panic!("unexpected fetch of {u:?}"),
    }
}

fn best(grammars: &[ResolvedGrammar], text: &str) -> Option<serde_json::Value> {
    let active: Vec<ActiveGrammar<'_>> = grammars.iter().map(ResolvedGrammar::active).collect();
    let t = [Transcript {
        text: text.into(),
        confidence: 0.8,
    }];
    match_transcripts(&active, &t, &MatchOptions::default())
        .best()
        .map(|m| m.instance.clone())
}

#[test]
fn define_reference_and_unload() {
    let now = Instant::now();
    let mut store = GrammarStore::new(GrammarLimits::default());
    // FreeSWITCH names grammars by a bare word or a UUID, never an RFC 2392 id.
    let outcome = store
        .define("yesno", "application/srgs+xml", &data("yesno.grxml"), now)
        .expect("defines");
    assert_eq!(outcome, DefineOutcome::Defined);
    let refs = parse_uri_list("session:yesno\r\nbuiltin:speech/number\r\n");
    let grammars = ready(store.resolve(&refs, now).expect("resolves"));
    assert_eq!(grammars.len(), 2);
    assert_eq!(grammars[0].id, "session:yesno");
    assert_eq!(best(&grammars, "yeah"), Some(json!("yes")));
    assert_eq!(best(&grammars, "forty two"), Some(json!(42)));
    // Asterisk unloads with an empty DEFINE-GRAMMAR.
    assert_eq!(
        store.define("yesno", "application/srgs+xml", b"", now),
        Ok(DefineOutcome::Unloaded)
    );
    assert_eq!(
        store.define("yesno", "application/srgs+xml", b"", now),
        Ok(DefineOutcome::NotDefined)
    );
    let err = store.resolve(&refs, now).expect_err("undefined");
    assert_eq!(err, StoreError::UnknownSession { id: "yesno".into() });
    assert_eq!(err.completion_cause(), 4);
}

#[test]
fn define_errors_name_source_and_line() {
    let mut store = GrammarStore::new(GrammarLimits::default());
    let bad = b"<grammar root=\"a\">\n<rule id=\"a\">\n<one-of></one-of></rule></grammar>";
    let err = store
        .define("grammar-0", "application/srgs+xml", bad, Instant::now())
        .expect_err("invalid");
    assert!(err.to_string().starts_with("grammar-0:3: "), "{err}");
    assert_eq!(err.completion_cause(), 5);
    let err = store
        .define("g", "application/x-nuance-gsl", b";GSL2.0", Instant::now())
        .expect_err("gsl");
    assert!(
        err.to_string().contains("unsupported grammar content type"),
        "{err}"
    );
}

#[test]
fn fetch_nested_grammar_with_external_rule_and_cache() {
    let t0 = Instant::now();
    let mut store = GrammarStore::new(GrammarLimits::default());
    let refs = parse_uri_list("http://grammars.test/ivr/nested.grxml");
    let Resolution::NeedFetch(uris) = store.resolve(&refs, t0).expect("resolves") else {
        panic!("fetch expected")
    };
    assert_eq!(uris, ["http://grammars.test/ivr/nested.grxml"]);
    let body = data("nested.grxml");
    let f = Fetched {
        uri: &uris[0],
        content_type: Some("application/srgs+xml"),
        body: &body,
        cache_control: Some("max-age=300"),
        expires: None,
        date: None,
    };
    store.handle_fetched(&f, t0).expect("parses");
    // The grammar references cities.grxml#city relative to its own URI.
    let Resolution::NeedFetch(uris) = store.resolve(&refs, t0).expect("resolves") else {
        panic!("fetch expected")
    };
    assert_eq!(uris, ["http://grammars.test/ivr/cities.grxml"]);
    let body = data("cities.grxml");
    let f = Fetched {
        uri: &uris[0],
        content_type: None,
        body: &body,
        cache_control: None,
        expires: None,
        date: None,
    };
    store.handle_fetched(&f, t0).expect("parses");
    let grammars = ready(store.resolve(&refs, t0).expect("resolves"));
    assert_eq!(
        best(&grammars, "two large uh coffees to new york"),
        Some(
            json!({"count": 2, "drink": "coffee", "size": "large", "city": "NYC", "said": "new york"})
        )
    );
    assert_eq!(
        best(&grammars, "a tea"),
        Some(json!({"count": 1, "drink": "tea", "size": "regular"}))
    );
    // cities.grxml had no cache lifetime: used once, then fetched again; nested.grxml is fresh for 300 s.
    let later = t0 + Duration::from_secs(10);
    let Resolution::NeedFetch(uris) = store.resolve(&refs, later).expect("resolves") else {
        panic!("refetch expected")
    };
    assert_eq!(uris, ["http://grammars.test/ivr/cities.grxml"]);
    store.handle_fetch_failed(&uris[0], "404 not found");
    let err = store.resolve(&refs, later).expect_err("fetch failed");
    assert_eq!(err.completion_cause(), 9);
    assert!(err.to_string().contains("404 not found"));
}

#[test]
fn expired_cache_entries_are_fetched_again() {
    let t0 = Instant::now();
    let mut store = GrammarStore::new(GrammarLimits::default());
    let refs = parse_uri_list("https://g.test/yesno.grxml");
    let body = data("yesno.grxml");
    let f = Fetched {
        uri: "https://g.test/yesno.grxml",
        content_type: Some("application/srgs+xml"),
        body: &body,
        cache_control: None,
        expires: Some("Sun, 06 Nov 1994 08:50:37 GMT"),
        date: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
    };
    store.handle_fetched(&f, t0).expect("parses");
    assert_eq!(ready(store.resolve(&refs, t0).expect("ok")).len(), 1);
    assert_eq!(
        ready(
            store
                .resolve(&refs, t0 + Duration::from_secs(59))
                .expect("ok")
        )
        .len(),
        1
    );
    assert!(matches!(
        store.resolve(&refs, t0 + Duration::from_secs(61)),
        Ok(Resolution::NeedFetch(_))
    ));
}

#[test]
fn uri_list_define_grammar_and_unsupported_uris() {
    let now = Instant::now();
    let mut store = GrammarStore::new(GrammarLimits::default());
    // FreeSWITCH `define-grammar=true`: DEFINE-GRAMMAR with a text/uri-list body.
    let out = store
        .define("g1", "text/uri-list", b"builtin:dtmf/digits?length=3", now)
        .expect("defines");
    assert_eq!(out, DefineOutcome::Defined);
    let grammars = ready(
        store
            .resolve(&parse_uri_list("session:g1"), now)
            .expect("ok"),
    );
    assert_eq!(grammars[0].grammar.mode(), mrcp_proto::grammar::Mode::Dtmf);
    let err = store
        .resolve(&parse_uri_list("ftp://x/y.grxml"), now)
        .expect_err("ftp");
    assert_eq!(err.completion_cause(), 9);
    let err = store
        .resolve(&parse_uri_list("builtin:dtmf/nonsense"), now)
        .expect_err("unknown builtin");
    assert_eq!(err.completion_cause(), 4);
}
