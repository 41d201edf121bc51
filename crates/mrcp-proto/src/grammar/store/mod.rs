//! The grammar store of one session (sans-IO): grammars defined with DEFINE-GRAMMAR by Content-ID
//! (RFC 6787 §9.8; an empty body unloads, as Asterisk's `res_speech_unimrcp` does), `session:` references to
//! them (§9.4.13, §13.1.4), `builtin:` grammars (§9.5) and grammars fetched by URI, with HTTP caching
//! (RFC 9111 §4.2: `Cache-Control: max-age`, `no-cache`/`no-store`, `Expires` − `Date`).
//!
//! The store never fetches. [`GrammarStore::resolve`] either returns the compiled grammars or lists the URIs
//! the caller must fetch (honouring Fetch-Timeout itself) and hand back with [`GrammarStore::handle_fetched`]
//! or [`GrammarStore::handle_fetch_failed`]; then it calls `resolve` again:
//!
//! ```text
//! loop {
//!     match store.resolve(&refs, now)? {
//!         Resolution::Ready(grammars) => break grammars,
//!         Resolution::NeedFetch(uris) => for uri in uris { /* fetch, then */ store.handle_fetched(..) },
//!     }
//! }
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

mod http;

use http::is_fetchable;
pub use http::{freshness_lifetime, join_uri, parse_http_date};

use super::builtin;
use super::compile::{CompiledGrammar, external_uris};
use super::error::{GrammarError, GrammarErrorKind};
use super::limits::GrammarLimits;
use super::model::Grammar;
use super::parse_grammar;

/// Maximum number of grammars defined in one session.
pub const MAX_SESSION_GRAMMARS: usize = 256;
/// Maximum number of fetched grammars cached by one store.
pub const MAX_CACHED_FETCHES: usize = 128;

/// A grammar reference of a RECOGNIZE `text/uri-list` body, with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct GrammarRef {
    /// The URI (`session:…`, `builtin:…`, `http(s):…`, `file:…`).
    pub uri: String,
    /// Weight (1.0 when absent).
    pub weight: f32,
}

/// Parse a `text/uri-list` body (RFC 2483 §5; one URI per line, `#` comments). A trailing `;weight=x` parameter
/// sets the weight. FreeSWITCH ends every line with CRLF when several grammars are active, Asterisk joins with
/// CRLF or LF without a trailing one: all are accepted.
pub fn parse_uri_list(body: &str) -> Vec<GrammarRef> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            if let Some(idx) = line.to_ascii_lowercase().rfind(";weight=") {
                let w = line.get(idx + 8..).unwrap_or("").trim().trim_matches('"');
                if let Ok(weight) = w.parse::<f32>()
                    && weight.is_finite()
                    && weight >= 0.0
                {
                    return GrammarRef {
                        uri: line.get(..idx).unwrap_or(line).to_owned(),
                        weight,
                    };
                }
            }
            GrammarRef {
                uri: line.to_owned(),
                weight: 1.0,
            }
        })
        .collect()
}

/// A compiled grammar ready for matching, with the id to report and its weight.
#[derive(Debug, Clone)]
pub struct ResolvedGrammar {
    /// The reference as the client wrote it (reported in NLSML `grammar=`).
    pub id: String,
    /// Weight from the RECOGNIZE body.
    pub weight: f32,
    /// The grammar.
    pub grammar: Arc<CompiledGrammar>,
}

impl ResolvedGrammar {
    /// The view the matchers take ([`match_transcripts`](super::match_transcripts),
    /// [`match_dtmf`](super::match_dtmf)).
    pub fn active(&self) -> super::matcher::ActiveGrammar<'_> {
        super::matcher::ActiveGrammar {
            id: &self.id,
            grammar: &self.grammar,
            weight: self.weight,
        }
    }
}

/// Answer of [`GrammarStore::resolve`].
#[derive(Debug, Clone)]
pub enum Resolution {
    /// All grammars are available.
    Ready(Vec<ResolvedGrammar>),
    /// These absolute URIs must be fetched first.
    NeedFetch(Vec<String>),
}

/// Answer of [`GrammarStore::define`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefineOutcome {
    /// The grammar is parsed, compiled and stored.
    Defined,
    /// The grammar is stored but references URIs that must be fetched; call
    /// [`GrammarStore::retry_define`] once they are handed over.
    NeedFetch(Vec<String>),
    /// An empty body removed the grammar.
    Unloaded,
    /// An empty body named no grammar (still a success for the client).
    NotDefined,
}

/// Why a grammar could not be made available.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// `session:` names no grammar of this session.
    #[error("session grammar {id} is not defined")]
    UnknownSession {
        /// The Content-ID.
        id: String,
    },
    /// The grammar text or its compilation failed.
    #[error("{0}")]
    Grammar(#[from] GrammarError),
    /// Fetching the URI failed.
    #[error("fetching {uri} failed: {reason}")]
    FetchFailed {
        /// The URI.
        uri: String,
        /// The caller's description (status, timeout).
        reason: String,
    },
    /// Too many grammars in this session.
    #[error("session grammar count {count} exceeds limit {limit}")]
    TooManyGrammars {
        /// Count with the new grammar.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A URI scheme the server does not fetch.
    #[error("unsupported grammar uri {uri}")]
    UnsupportedUri {
        /// The URI.
        uri: String,
    },
}

impl StoreError {
    /// The RFC 6787 §9.4.11 completion cause code for a RECOGNIZE that failed this way: 004
    /// grammar-load-failure, 005 grammar-compilation-failure, 009 uri-failure.
    pub fn completion_cause(&self) -> u16 {
        match self {
            StoreError::UnknownSession { .. } | StoreError::TooManyGrammars { .. } => 4,
            StoreError::Grammar(e) => match e.kind {
                GrammarErrorKind::UnknownBuiltin { .. }
                | GrammarErrorKind::UnresolvedExternal { .. } => 4,
                _ => 5,
            },
            StoreError::FetchFailed { .. } | StoreError::UnsupportedUri { .. } => 9,
        }
    }
}

/// A fetched grammar handed to the store.
#[derive(Debug, Clone)]
pub struct Fetched<'a> {
    /// The URI as listed in [`Resolution::NeedFetch`].
    pub uri: &'a str,
    /// The response Content-Type (sniffed from the body when absent or generic).
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
    /// The `Cache-Control` response header.
    pub cache_control: Option<&'a str>,
    /// The `Expires` response header (IMF-fixdate).
    pub expires: Option<&'a str>,
    /// The `Date` response header (IMF-fixdate), to compute the freshness lifetime from `Expires`.
    pub date: Option<&'a str>,
}

#[derive(Debug, Clone)]
enum Fetch {
    Ok {
        grammar: Box<Grammar>,
        fresh_until: Instant,
        unused: bool,
    },
    Failed {
        reason: String,
        unused: bool,
    },
}

#[derive(Debug, Clone)]
struct SessionGrammar {
    grammar: Box<Grammar>,
    compiled: Option<Arc<CompiledGrammar>>,
}

/// The grammars of one session. Owned by the session; no locks.
#[derive(Debug, Default)]
pub struct GrammarStore {
    limits: GrammarLimits,
    session: HashMap<String, SessionGrammar>,
    fetched: HashMap<String, Fetch>,
    builtins: HashMap<String, Arc<CompiledGrammar>>,
}

fn strip_content_id(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

impl GrammarStore {
    /// A store with the given limits.
    pub fn new(limits: GrammarLimits) -> Self {
        GrammarStore {
            limits,
            ..Default::default()
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &GrammarLimits {
        &self.limits
    }

    /// DEFINE-GRAMMAR (RFC 6787 §9.8): parse and store a grammar under its Content-ID, replacing a previous one;
    /// an empty (or all-whitespace) body unloads it. An inline grammar in a RECOGNIZE body (RFC 6787 §9.4.13)
    /// is handled the same way: define it under its Content-ID (or a generated one) and resolve
    /// `session:<id>`.
    pub fn define(
        &mut self,
        content_id: &str,
        content_type: &str,
        body: &[u8],
        now: Instant,
    ) -> Result<DefineOutcome, StoreError> {
        let id = strip_content_id(content_id).to_owned();
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(if self.session.remove(&id).is_some() {
                DefineOutcome::Unloaded
            } else {
                DefineOutcome::NotDefined
            });
        }
        if !self.session.contains_key(&id) && self.session.len() >= MAX_SESSION_GRAMMARS {
            return Err(StoreError::TooManyGrammars {
                count: self.session.len() + 1,
                limit: MAX_SESSION_GRAMMARS,
            });
        }
        let grammar = if content_type.trim().eq_ignore_ascii_case("text/uri-list") {
            // FreeSWITCH `define-grammar=true`: the body names the grammar by URI.
            let refs = parse_uri_list(&String::from_utf8_lossy(body));
            let Some(first) = refs.first() else {
                return Ok(DefineOutcome::NotDefined);
            };
            Grammar {
                root: Some("ref".to_owned()),
                rules: vec![super::model::Rule {
                    name: "ref".to_owned(),
                    scope: super::model::Scope::Public,
                    body: super::model::Expansion::RuleRef(super::model::RuleRef::External {
                        uri: first.uri.clone(),
                        rule: None,
                    }),
                }],
                ..Grammar::default()
            }
        } else {
            parse_grammar(Some(content_type), body, &id, &self.limits)?
        };
        self.session.insert(
            id.clone(),
            SessionGrammar {
                grammar: Box::new(grammar),
                compiled: None,
            },
        );
        self.retry_define(&id, now)
    }

    /// Try again to compile a session grammar whose external references have been fetched.
    pub fn retry_define(
        &mut self,
        content_id: &str,
        now: Instant,
    ) -> Result<DefineOutcome, StoreError> {
        let id = strip_content_id(content_id);
        let Some(entry) = self.session.get(id) else {
            return Err(StoreError::UnknownSession { id: id.to_owned() });
        };
        let grammar = entry.grammar.clone();
        match self.compile(&grammar, id, None, now)? {
            Ok(compiled) => {
                if let Some(e) = self.session.get_mut(id) {
                    e.compiled = Some(Arc::new(compiled));
                }
                Ok(DefineOutcome::Defined)
            }
            Err(uris) => Ok(DefineOutcome::NeedFetch(uris)),
        }
    }

    /// Whether a session grammar with this Content-ID is defined.
    pub fn is_defined(&self, content_id: &str) -> bool {
        self.session.contains_key(strip_content_id(content_id))
    }

    /// Remove every session grammar (end of session).
    pub fn clear(&mut self) {
        self.session.clear();
    }

    /// Make the referenced grammars available: compiled grammars, or the URIs to fetch first.
    pub fn resolve(&mut self, refs: &[GrammarRef], now: Instant) -> Result<Resolution, StoreError> {
        let mut ready = Vec::with_capacity(refs.len());
        let mut need: Vec<String> = Vec::new();
        for r in refs {
            let uri = r.uri.trim();
            let compiled = if let Some(id) = uri.strip_prefix("session:") {
                let id = strip_content_id(id);
                let Some(entry) = self.session.get(id) else {
                    return Err(StoreError::UnknownSession { id: id.to_owned() });
                };
                match &entry.compiled {
                    Some(c) => Arc::clone(c),
                    None => {
                        let g = entry.grammar.clone();
                        match self.compile(&g, id, None, now)? {
                            Ok(c) => {
                                let c = Arc::new(c);
                                if let Some(e) = self.session.get_mut(id) {
                                    e.compiled = Some(Arc::clone(&c));
                                }
                                c
                            }
                            Err(uris) => {
                                need.extend(
                                    uris.into_iter()
                                        .filter(|u| !need.contains(u))
                                        .collect::<Vec<_>>(),
                                );
                                continue;
                            }
                        }
                    }
                }
            } else if builtin::is_builtin(uri) {
                if let Some(c) = self.builtins.get(uri) {
                    Arc::clone(c)
                } else {
                    let c = Arc::new(builtin::compile_builtin(uri, &self.limits)?);
                    if self.builtins.len() < 64 {
                        self.builtins.insert(uri.to_owned(), Arc::clone(&c));
                    }
                    c
                }
            } else {
                if !is_fetchable(uri) {
                    return Err(StoreError::UnsupportedUri {
                        uri: uri.to_owned(),
                    });
                }
                // A top-level URI grammar: a one-rule grammar referencing it, compiled like any other.
                let wrapper = Grammar {
                    root: Some("ref".to_owned()),
                    rules: vec![super::model::Rule {
                        name: "ref".to_owned(),
                        scope: super::model::Scope::Public,
                        body: super::model::Expansion::RuleRef(super::model::RuleRef::External {
                            uri: uri.to_owned(),
                            rule: None,
                        }),
                    }],
                    ..self
                        .fetched_grammar(uri)
                        .map(|g| Grammar {
                            mode: g.mode,
                            language: g.language.clone(),
                            ..Grammar::default()
                        })
                        .unwrap_or_default()
                };
                match self.compile(&wrapper, uri, None, now)? {
                    Ok(c) => Arc::new(c),
                    Err(uris) => {
                        need.extend(
                            uris.into_iter()
                                .filter(|u| !need.contains(u))
                                .collect::<Vec<_>>(),
                        );
                        continue;
                    }
                }
            };
            ready.push(ResolvedGrammar {
                id: uri.to_owned(),
                weight: r.weight,
                grammar: compiled,
            });
        }
        if !need.is_empty() {
            return Ok(Resolution::NeedFetch(need));
        }
        // Entries fetched for this resolution have now been used once; stale ones go.
        self.fetched.retain(|_, f| match f {
            Fetch::Ok {
                fresh_until,
                unused,
                ..
            } => {
                *unused = false;
                *fresh_until > now
            }
            Fetch::Failed { .. } => false,
        });
        Ok(Resolution::Ready(ready))
    }

    fn fetched_grammar(&self, uri: &str) -> Option<&Grammar> {
        match self.fetched.get(uri) {
            Some(Fetch::Ok { grammar, .. }) => Some(grammar),
            _ => None,
        }
    }

    /// Compile `g`; `Ok(Err(uris))` when external grammars must be fetched first.
    fn compile(
        &self,
        g: &Grammar,
        source: &str,
        base: Option<&str>,
        now: Instant,
    ) -> Result<Result<CompiledGrammar, Vec<String>>, StoreError> {
        // Collect every external URI reachable, resolving relative references against the referencing grammar.
        let mut missing = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut queue: Vec<(Grammar, Option<String>)> = vec![(g.clone(), base.map(str::to_owned))];
        while let Some((gram, gbase)) = queue.pop() {
            for rel in external_uris(&gram) {
                let abs = join_uri(gram.base.as_deref().or(gbase.as_deref()), &rel);
                if seen.contains(&abs) {
                    continue;
                }
                if seen.len() >= 64 {
                    return Err(StoreError::Grammar(GrammarError::whole(
                        source,
                        GrammarErrorKind::Limit {
                            what: "external grammar count",
                            value: 65,
                            limit: 64,
                        },
                    )));
                }
                seen.push(abs.clone());
                match self.fetched.get(&abs) {
                    Some(Fetch::Ok {
                        grammar,
                        fresh_until,
                        unused,
                    }) if *unused || *fresh_until > now => {
                        queue.push(((**grammar).clone(), Some(abs)));
                    }
                    Some(Fetch::Failed {
                        reason,
                        unused: true,
                    }) => {
                        return Err(StoreError::FetchFailed {
                            uri: abs,
                            reason: reason.clone(),
                        });
                    }
                    _ if builtin::is_builtin(&abs) => {}
                    _ if !is_fetchable(&abs) => {
                        return Err(StoreError::UnsupportedUri { uri: abs });
                    }
                    _ => missing.push(abs),
                }
            }
        }
        if !missing.is_empty() {
            return Ok(Err(missing));
        }
        // A one-reference wrapper (URI grammar, `text/uri-list` DEFINE-GRAMMAR) takes the referenced grammar's mode.
        let mut adopted;
        let mut g = g;
        if let [rule] = g.rules.as_slice()
            && let super::model::Expansion::RuleRef(super::model::RuleRef::External { uri, .. }) =
                &rule.body
            && let Some(mode) = {
                let abs = join_uri(g.base.as_deref().or(base), uri);
                if builtin::is_builtin(&abs) {
                    builtin::builtin_grammar(&abs).ok().map(|t| t.mode)
                } else {
                    self.fetched_grammar(&abs).map(|t| t.mode)
                }
            }
        {
            adopted = g.clone();
            adopted.mode = mode;
            g = &adopted;
        }
        let top_base = g.base.clone().or_else(|| base.map(str::to_owned));
        let resolver = |from: Option<&str>, rel: &str| -> Option<(String, Grammar)> {
            let abs = join_uri(from.or(top_base.as_deref()), rel);
            if builtin::is_builtin(&abs) {
                return builtin::builtin_grammar(&abs).ok().map(|g| (abs, g));
            }
            self.fetched_grammar(&abs).cloned().map(|g| (abs, g))
        };
        Ok(Ok(CompiledGrammar::compile_with(
            g,
            source,
            &self.limits,
            &resolver,
        )?))
    }

    /// Hand over a fetched grammar. Parse errors are returned (and the URI is remembered as failed for the
    /// next resolution).
    pub fn handle_fetched(
        &mut self,
        fetched: &Fetched<'_>,
        now: Instant,
    ) -> Result<(), StoreError> {
        let uri = fetched.uri.trim().to_owned();
        match parse_grammar(fetched.content_type, fetched.body, &uri, &self.limits) {
            Ok(grammar) => {
                let lifetime =
                    freshness_lifetime(fetched.cache_control, fetched.expires, fetched.date);
                let fresh_until = now.checked_add(lifetime).unwrap_or(now);
                self.insert_fetch(
                    uri,
                    Fetch::Ok {
                        grammar: Box::new(grammar),
                        fresh_until,
                        unused: true,
                    },
                );
                Ok(())
            }
            Err(e) => {
                self.insert_fetch(
                    uri,
                    Fetch::Failed {
                        reason: e.to_string(),
                        unused: true,
                    },
                );
                Err(StoreError::Grammar(e))
            }
        }
    }

    /// Record that fetching a URI failed (status, timeout); the next resolution needing it fails with 009.
    pub fn handle_fetch_failed(&mut self, uri: &str, reason: &str) {
        self.insert_fetch(
            uri.trim().to_owned(),
            Fetch::Failed {
                reason: reason.to_owned(),
                unused: true,
            },
        );
    }

    fn insert_fetch(&mut self, uri: String, f: Fetch) {
        if self.fetched.len() >= MAX_CACHED_FETCHES && !self.fetched.contains_key(&uri) {
            // Evict a used entry (any) to make room; unused ones are needed by a pending resolution.
            let victim = self
                .fetched
                .iter()
                .find(|(_, f)| {
                    !matches!(
                        f,
                        Fetch::Ok { unused: true, .. } | Fetch::Failed { unused: true, .. }
                    )
                })
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    self.fetched.remove(&k);
                }
                None => return,
            }
        }
        self.fetched.insert(uri, f);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn uri_lists() {
        let refs = parse_uri_list("session:g1\r\nsession:g2\r\n");
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].uri, "session:g2");
        let refs = parse_uri_list(
            "builtin:dtmf/digits?minlength=3;maxlength=5\nhttp://x/a.grxml;weight=0.5",
        );
        assert_eq!(refs[0].uri, "builtin:dtmf/digits?minlength=3;maxlength=5");
        assert_eq!(
            refs[1],
            GrammarRef {
                uri: "http://x/a.grxml".into(),
                weight: 0.5
            }
        );
    }

    #[test]
    fn joins() {
        assert_eq!(
            join_uri(Some("http://h/a/b/g.grxml"), "c.grxml"),
            "http://h/a/b/c.grxml"
        );
        assert_eq!(
            join_uri(Some("http://h/a/b/g.grxml"), "../c.grxml"),
            "http://h/a/c.grxml"
        );
        assert_eq!(
            join_uri(Some("http://h/a/b/g.grxml"), "/c.grxml"),
            "http://h/c.grxml"
        );
        assert_eq!(
            join_uri(Some("http://h/a/g.grxml"), "https://x/y"),
            "https://x/y"
        );
        assert_eq!(join_uri(None, "c.grxml"), "c.grxml");
        assert_eq!(
            join_uri(Some("file:///srv/g/main.grxml"), "sub.grxml"),
            "file:///srv/g/sub.grxml"
        );
    }

    #[test]
    fn cache_lifetimes() {
        assert_eq!(
            freshness_lifetime(Some("public, max-age=60"), None, None),
            Duration::from_secs(60)
        );
        assert_eq!(
            freshness_lifetime(Some("no-cache"), None, None),
            Duration::ZERO
        );
        assert_eq!(
            freshness_lifetime(
                None,
                Some("Sun, 06 Nov 1994 08:50:37 GMT"),
                Some("Sun, 06 Nov 1994 08:49:37 GMT")
            ),
            Duration::from_secs(60)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("garbage"), None);
    }
}
