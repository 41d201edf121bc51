//! Compiling a [`Grammar`] into a [`CompiledGrammar`]: rules resolved to indices, tokens normalized and interned,
//! tags compiled to the SISR subset ([`super::semantics`]), external rule references imported, and every size
//! checked against [`GrammarLimits`] (SRGS 1.0 §2.2, §2.5, §3; SISR 1.0).

use std::collections::HashMap;

use super::error::{GrammarError, GrammarErrorKind, excerpt};
use super::limits::GrammarLimits;
use super::model::{Expansion, Grammar, Mode, RuleRef, Scope, SpecialRule};
use super::normalize;
use super::semantics::{self, Tag, TagFormat};

/// An interned word (or DTMF key) of a compiled grammar.
pub type Sym = u32;
/// Index of a node in a compiled grammar.
pub(crate) type NodeId = u32;

/// Resolves an external reference: `(base of the referencing grammar, reference)` → `(absolute URI, grammar)`.
pub type ExternalResolver<'r> = dyn Fn(Option<&str>, &str) -> Option<(String, Grammar)> + 'r;

/// Upper bound of a first set before it is treated as "any word".
const MAX_FIRST: usize = 256;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Words(Vec<Sym>),
    Seq(Vec<NodeId>),
    Alt(AltNode),
    Repeat {
        body: NodeId,
        min: u32,
        max: Option<u32>,
    },
    Rule(u32),
    Null,
    Void,
    Garbage,
    Tag(u32),
}

#[derive(Debug, Clone)]
pub(crate) struct AltNode {
    /// Alternatives with the natural log of their normalized weight.
    pub alts: Vec<(NodeId, f32)>,
    /// Alternatives that can start with a given word.
    pub index: HashMap<Sym, Vec<u32>>,
    /// Alternatives to try whatever the next word (nullable, or starting with GARBAGE or unknown).
    pub always: Vec<u32>,
    /// Whether some alternative consumes input (for DTMF "could take more" answers).
    pub consumes: bool,
    /// The fixed words each alternative starts with (possibly none), checked before walking it.
    pub prefix: Vec<Vec<Sym>>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub name: String,
    pub body: NodeId,
}

/// A grammar checked and prepared for matching. Cheap to share behind an `Arc`; matching takes `&self`.
#[derive(Debug, Clone)]
pub struct CompiledGrammar {
    pub(crate) source: String,
    pub(crate) mode: Mode,
    pub(crate) language: Option<String>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) root: u32,
    pub(crate) tags: Vec<Tag>,
    pub(crate) vocab: HashMap<String, Sym>,
    pub(crate) words: Vec<String>,
    pub(crate) uses_semantics: bool,
    pub(crate) dictation: bool,
    pub(crate) grammar: Grammar,
}

impl CompiledGrammar {
    /// Compile a grammar that references no external grammar, with the default limits.
    pub fn compile(grammar: &Grammar, source: &str) -> Result<CompiledGrammar, GrammarError> {
        Self::compile_with(grammar, source, &GrammarLimits::default(), &|_, _| None)
    }

    /// Compile a grammar; `resolve(base, uri)` returns the absolute URI and the grammar behind an external
    /// reference `uri` made by a grammar whose base (its `xml:base`, or the URI it was fetched from) is `base`
    /// (`None` for the grammar being compiled, unless it declares `xml:base`), or `None`, which makes the
    /// compilation fail with [`GrammarErrorKind::UnresolvedExternal`].
    pub fn compile_with(
        grammar: &Grammar,
        source: &str,
        limits: &GrammarLimits,
        resolve: &ExternalResolver<'_>,
    ) -> Result<CompiledGrammar, GrammarError> {
        let format = TagFormat::from_declared(grammar.tag_format.as_deref());
        let mut b = Builder {
            source,
            limits,
            resolve,
            nodes: Vec::new(),
            rules: Vec::new(),
            tags: Vec::new(),
            vocab: HashMap::new(),
            words: Vec::new(),
            mode: grammar.mode,
            pending: Vec::new(),
            imported: HashMap::new(),
            grammars: vec![grammar.clone()],
            formats: vec![format],
            uris: vec![String::new()],
        };
        let root_name = grammar
            .effective_root()
            .ok_or_else(|| GrammarError::whole(source, GrammarErrorKind::NoRoot))?;
        if !grammar.header_tags.iter().all(|t| t.trim().is_empty()) {
            return Err(GrammarError::whole(
                source,
                GrammarErrorKind::Semantics {
                    tag: excerpt(grammar.header_tags.first().map_or("", String::as_str), 80),
                    message: "grammar-level tags are outside the supported SISR subset".to_owned(),
                },
            ));
        }
        let root = b.rule_index(0, root_name, false)?;
        b.drain()?;
        let mut g = CompiledGrammar {
            source: source.to_owned(),
            mode: grammar.mode,
            language: grammar.language.clone(),
            uses_semantics: !b.tags.is_empty(),
            nodes: b.nodes,
            rules: b.rules,
            root,
            tags: b.tags,
            vocab: b.vocab,
            words: b.words,
            dictation: false,
            grammar: grammar.clone(),
        };
        g.index_alternatives();
        Ok(g)
    }

    /// A grammar that accepts any non-empty transcript as is (`builtin:speech/transcribe`).
    pub(crate) fn dictation(source: &str, grammar: Grammar) -> CompiledGrammar {
        CompiledGrammar {
            source: source.to_owned(),
            mode: Mode::Voice,
            language: grammar.language.clone(),
            nodes: vec![Node::Garbage],
            rules: vec![CompiledRule {
                name: "transcribe".to_owned(),
                body: 0,
            }],
            root: 0,
            tags: Vec::new(),
            vocab: HashMap::new(),
            words: Vec::new(),
            uses_semantics: false,
            dictation: true,
            grammar,
        }
    }

    /// The name the grammar was compiled under (Content-ID, URI or builtin name).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Input mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Declared language, if any.
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }

    /// Whether this is free dictation (`builtin:speech/transcribe`): any transcript matches as is.
    pub fn is_dictation(&self) -> bool {
        self.dictation
    }

    /// The source model (for export).
    pub fn grammar(&self) -> &Grammar {
        &self.grammar
    }

    /// The distinct words (or DTMF keys) of the grammar, normalized, in first-use order.
    pub fn vocabulary(&self) -> &[String] {
        &self.words
    }

    /// Number of expansion nodes (a measure of size).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn sym(&self, word: &str) -> Option<Sym> {
        self.vocab.get(word).copied()
    }

    /// The words a node necessarily starts with: a token, or the leading tokens of a sequence.
    fn leading_words(&self, id: NodeId) -> Vec<Sym> {
        let mut out = Vec::new();
        match self.nodes.get(id as usize) {
            Some(Node::Words(w)) => out.extend_from_slice(w),
            Some(Node::Seq(items)) => {
                for &c in items {
                    match self.nodes.get(c as usize) {
                        Some(Node::Words(w)) => out.extend_from_slice(w),
                        _ => break,
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// First sets by fixed point, then the per-alternative index. Falls back to "try always" when the fixed
    /// point is not reached quickly (deeply recursive grammars): correct, only slower.
    fn index_alternatives(&mut self) {
        #[derive(Clone, PartialEq)]
        enum First {
            Set(Vec<Sym>),
            Any,
        }
        fn union(a: &mut First, b: &First) {
            match (&mut *a, b) {
                (First::Any, _) => {}
                (_, First::Any) => *a = First::Any,
                (First::Set(x), First::Set(y)) => {
                    for s in y {
                        if !x.contains(s) {
                            x.push(*s);
                        }
                    }
                    if x.len() > MAX_FIRST {
                        *a = First::Any;
                    }
                }
            }
        }
        let n = self.nodes.len();
        let mut first = vec![First::Set(Vec::new()); n];
        let mut nullable = vec![false; n];
        let mut rule_first = vec![First::Set(Vec::new()); self.rules.len()];
        let mut rule_nullable = vec![false; self.rules.len()];
        let mut converged = false;
        for _ in 0..12 {
            for i in 0..n {
                let (f, nl) = match &self.nodes[i] {
                    Node::Words(w) => (
                        First::Set(w.first().copied().into_iter().collect()),
                        w.is_empty(),
                    ),
                    Node::Seq(items) => {
                        let mut f = First::Set(Vec::new());
                        let mut nl = true;
                        for &c in items {
                            let c = c as usize;
                            union(&mut f, &first[c]);
                            if !nullable[c] {
                                nl = false;
                                break;
                            }
                        }
                        (f, nl)
                    }
                    Node::Alt(a) => {
                        let mut f = First::Set(Vec::new());
                        let mut nl = false;
                        for &(c, _) in &a.alts {
                            union(&mut f, &first[c as usize]);
                            nl |= nullable[c as usize];
                        }
                        (f, nl)
                    }
                    Node::Repeat { body, min, .. } => (
                        first[*body as usize].clone(),
                        *min == 0 || nullable[*body as usize],
                    ),
                    Node::Rule(r) => (rule_first[*r as usize].clone(), rule_nullable[*r as usize]),
                    Node::Null | Node::Tag(_) => (First::Set(Vec::new()), true),
                    Node::Void => (First::Set(Vec::new()), false),
                    Node::Garbage => (First::Any, true),
                };
                first[i] = f;
                nullable[i] = nl;
            }
            let mut changed = false;
            for (r, rule) in self.rules.iter().enumerate() {
                let b = rule.body as usize;
                if rule_first[r] != first[b] || rule_nullable[r] != nullable[b] {
                    changed = true;
                    rule_first[r] = first[b].clone();
                    rule_nullable[r] = nullable[b];
                }
            }
            if !changed {
                converged = true;
                break;
            }
        }
        for i in 0..n {
            let prefixes: Vec<Vec<Sym>> = match &self.nodes[i] {
                Node::Alt(a) => a.alts.iter().map(|&(c, _)| self.leading_words(c)).collect(),
                _ => continue,
            };
            let Node::Alt(a) = &mut self.nodes[i] else {
                continue;
            };
            a.prefix = prefixes;
            a.index.clear();
            a.always.clear();
            a.consumes = false;
            for (k, &(c, _)) in a.alts.iter().enumerate() {
                let c = c as usize;
                let k = u32::try_from(k).unwrap_or(u32::MAX);
                match &first[c] {
                    First::Set(s) if converged && !nullable[c] => {
                        for sym in s {
                            a.index.entry(*sym).or_default().push(k);
                        }
                        a.consumes |= !s.is_empty();
                    }
                    First::Set(s) => {
                        a.always.push(k);
                        a.consumes |= !s.is_empty() || !converged;
                    }
                    First::Any => {
                        a.always.push(k);
                        a.consumes = true;
                    }
                }
            }
        }
    }
}

struct Builder<'a> {
    source: &'a str,
    limits: &'a GrammarLimits,
    resolve: &'a ExternalResolver<'a>,
    nodes: Vec<Node>,
    rules: Vec<CompiledRule>,
    tags: Vec<Tag>,
    vocab: HashMap<String, Sym>,
    words: Vec<String>,
    mode: Mode,
    /// Rules allocated but not yet built: (grammar index, rule name, rule index).
    pending: Vec<(usize, String, u32)>,
    /// (grammar index, rule name) → rule index.
    imported: HashMap<(usize, String), u32>,
    grammars: Vec<Grammar>,
    formats: Vec<Option<TagFormat>>,
    /// URIs of `grammars` (index 0, the grammar being compiled, has none).
    uris: Vec<String>,
}

impl Builder<'_> {
    fn err(&self, kind: GrammarErrorKind) -> GrammarError {
        GrammarError::whole(self.source, kind)
    }

    fn limit(&self, what: &'static str, value: usize, limit: usize) -> Result<(), GrammarError> {
        if value > limit {
            Err(self.err(GrammarErrorKind::Limit {
                what,
                value: value as u64,
                limit: limit as u64,
            }))
        } else {
            Ok(())
        }
    }

    fn rule_index(
        &mut self,
        grammar: usize,
        name: &str,
        from_outside: bool,
    ) -> Result<u32, GrammarError> {
        if let Some(&r) = self.imported.get(&(grammar, name.to_owned())) {
            return Ok(r);
        }
        let g = self
            .grammars
            .get(grammar)
            .ok_or_else(|| self.err(GrammarErrorKind::NoRoot))?;
        let rule = g.rule(name).ok_or_else(|| {
            self.err(GrammarErrorKind::UndefinedRule {
                name: name.to_owned(),
            })
        })?;
        if from_outside && rule.scope != Scope::Public && g.root.as_deref() != Some(name) {
            return Err(self.err(GrammarErrorKind::UndefinedRule {
                name: format!("{name} (private in external grammar)"),
            }));
        }
        self.limit("rule count", self.rules.len() + 1, self.limits.max_rules)?;
        let idx = u32::try_from(self.rules.len()).unwrap_or(u32::MAX);
        self.rules.push(CompiledRule {
            name: name.to_owned(),
            body: 0,
        });
        self.imported.insert((grammar, name.to_owned()), idx);
        self.pending.push((grammar, name.to_owned(), idx));
        Ok(idx)
    }

    fn drain(&mut self) -> Result<(), GrammarError> {
        while let Some((grammar, name, idx)) = self.pending.pop() {
            let body = self
                .grammars
                .get(grammar)
                .and_then(|g| g.rule(&name))
                .map(|r| r.body.clone());
            let Some(body) = body else {
                return Err(self.err(GrammarErrorKind::UndefinedRule { name }));
            };
            let node = self.expansion(grammar, &body, 0)?;
            if let Some(r) = self.rules.get_mut(idx as usize) {
                r.body = node;
            }
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> Result<NodeId, GrammarError> {
        self.limit(
            "expansion node count",
            self.nodes.len() + 1,
            self.limits.max_nodes,
        )?;
        self.nodes.push(node);
        Ok(u32::try_from(self.nodes.len() - 1).unwrap_or(u32::MAX))
    }

    fn intern(&mut self, word: String) -> Sym {
        if let Some(&s) = self.vocab.get(&word) {
            return s;
        }
        let s = u32::try_from(self.words.len()).unwrap_or(u32::MAX);
        self.words.push(word.clone());
        self.vocab.insert(word, s);
        s
    }

    fn expansion(
        &mut self,
        grammar: usize,
        e: &Expansion,
        depth: usize,
    ) -> Result<NodeId, GrammarError> {
        self.limit("expansion nesting", depth, self.limits.max_nesting)?;
        match e {
            Expansion::Token(t) => {
                let words = match self.mode {
                    Mode::Voice => normalize::grammar_words(t),
                    Mode::Dtmf => normalize::dtmf_keys(t),
                };
                if self.mode == Mode::Dtmf
                    && let Some(bad) = words
                        .iter()
                        .find(|k| !k.chars().all(normalize::is_dtmf_key))
                {
                    return Err(self.err(GrammarErrorKind::Syntax {
                        expected: "a DTMF key (0-9, *, #, A-D)",
                        found: bad.clone(),
                    }));
                }
                let syms = words.into_iter().map(|w| self.intern(w)).collect();
                self.push(Node::Words(syms))
            }
            Expansion::Sequence(items) => {
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    ids.push(self.expansion(grammar, item, depth + 1)?);
                }
                if ids.is_empty() {
                    self.push(Node::Null)
                } else {
                    self.push(Node::Seq(ids))
                }
            }
            Expansion::OneOf(alts) => {
                let total: f32 = alts.iter().map(|a| a.weight.max(0.0)).sum();
                let mut out = Vec::with_capacity(alts.len());
                for a in alts {
                    let id = self.expansion(grammar, &a.body, depth + 1)?;
                    let p = if total > 0.0 {
                        a.weight.max(0.0) / total
                    } else {
                        1.0 / alts.len().max(1) as f32
                    };
                    out.push((id, if p > 0.0 { p.ln() } else { -30.0 }));
                }
                self.push(Node::Alt(AltNode {
                    alts: out,
                    index: HashMap::new(),
                    always: Vec::new(),
                    consumes: true,
                    prefix: Vec::new(),
                }))
            }
            Expansion::Repeat { body, min, max } => {
                let bound = max.unwrap_or(*min).max(*min);
                if bound > self.limits.max_repeat {
                    return Err(self.err(GrammarErrorKind::Limit {
                        what: "repeat count",
                        value: u64::from(bound),
                        limit: u64::from(self.limits.max_repeat),
                    }));
                }
                let b = self.expansion(grammar, body, depth + 1)?;
                if *max == Some(0) {
                    return self.push(Node::Null);
                }
                self.push(Node::Repeat {
                    body: b,
                    min: *min,
                    max: *max,
                })
            }
            Expansion::RuleRef(RuleRef::Special(s)) => self.push(match s {
                SpecialRule::Null => Node::Null,
                SpecialRule::Void => Node::Void,
                SpecialRule::Garbage => Node::Garbage,
            }),
            Expansion::RuleRef(RuleRef::Local(name)) => {
                let r = self.rule_index(grammar, name, false)?;
                self.push(Node::Rule(r))
            }
            Expansion::RuleRef(RuleRef::External { uri, rule }) => {
                let g = self.external(grammar, uri)?;
                let name = match rule {
                    Some(r) => r.clone(),
                    None => self
                        .grammars
                        .get(g)
                        .and_then(|x| x.effective_root().map(str::to_owned))
                        .ok_or_else(|| self.err(GrammarErrorKind::NoRoot))?,
                };
                let r = self.rule_index(g, &name, true)?;
                self.push(Node::Rule(r))
            }
            Expansion::Tag(text) => {
                let format = self
                    .formats
                    .get(grammar)
                    .copied()
                    .flatten()
                    .ok_or_else(|| {
                        let declared = self
                            .grammars
                            .get(grammar)
                            .and_then(|g| g.tag_format.clone())
                            .unwrap_or_default();
                        self.err(GrammarErrorKind::UnsupportedTagFormat { format: declared })
                    })?;
                let tag = semantics::compile_tag(text, format).map_err(|message| {
                    self.err(GrammarErrorKind::Semantics {
                        tag: excerpt(text.trim(), 80),
                        message,
                    })
                })?;
                for name in semantics::referenced_rules(&tag) {
                    let known = self.grammars.get(grammar).is_some_and(|g| {
                        g.rule(name).is_some() || references_external_rule(g, name)
                    });
                    if !known {
                        return Err(self.err(GrammarErrorKind::Semantics {
                            tag: excerpt(text.trim(), 80),
                            message: format!("rules.{name} names no rule of the grammar"),
                        }));
                    }
                }
                self.tags.push(tag);
                let t = u32::try_from(self.tags.len() - 1).unwrap_or(u32::MAX);
                self.push(Node::Tag(t))
            }
        }
    }

    fn external(&mut self, from: usize, uri: &str) -> Result<usize, GrammarError> {
        let base = self
            .grammars
            .get(from)
            .and_then(|g| g.base.clone())
            .or_else(|| self.uris.get(from).filter(|u| !u.is_empty()).cloned());
        let (abs, g) = (self.resolve)(base.as_deref(), uri).ok_or_else(|| {
            self.err(GrammarErrorKind::UnresolvedExternal {
                uri: uri.to_owned(),
            })
        })?;
        if let Some(i) = self
            .uris
            .iter()
            .skip(1)
            .position(|u| *u == abs)
            .map(|i| i + 1)
        {
            return Ok(i);
        }
        self.limit("external grammar count", self.grammars.len(), 64)?;
        if g.mode != self.mode {
            return Err(self.err(GrammarErrorKind::InvalidAttribute {
                element: "grammar",
                attribute: "mode",
                value: format!("{} in {abs}", g.mode.as_str()),
            }));
        }
        self.formats
            .push(TagFormat::from_declared(g.tag_format.as_deref()));
        self.grammars.push(g);
        self.uris.push(abs);
        Ok(self.grammars.len() - 1)
    }
}

/// Whether a grammar references an external rule with this name (by fragment).
fn references_external_rule(g: &Grammar, name: &str) -> bool {
    fn walk(e: &Expansion, name: &str) -> bool {
        match e {
            Expansion::RuleRef(RuleRef::External { rule, uri }) => {
                rule.as_deref() == Some(name) || rule.is_none() && uri.contains(name)
            }
            Expansion::Sequence(items) => items.iter().any(|i| walk(i, name)),
            Expansion::OneOf(alts) => alts.iter().any(|a| walk(&a.body, name)),
            Expansion::Repeat { body, .. } => walk(body, name),
            _ => false,
        }
    }
    g.rules.iter().any(|r| walk(&r.body, name))
}

/// The external grammar URIs a grammar references, without fragment, in first-use order.
pub fn external_uris(g: &Grammar) -> Vec<String> {
    fn walk(e: &Expansion, out: &mut Vec<String>) {
        match e {
            Expansion::RuleRef(RuleRef::External { uri, .. }) if !out.contains(uri) => {
                out.push(uri.clone())
            }
            Expansion::Sequence(items) => items.iter().for_each(|i| walk(i, out)),
            Expansion::OneOf(alts) => alts.iter().for_each(|a| walk(&a.body, out)),
            Expansion::Repeat { body, .. } => walk(body, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    g.rules.iter().for_each(|r| walk(&r.body, &mut out));
    out
}
