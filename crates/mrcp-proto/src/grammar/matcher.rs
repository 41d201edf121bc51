//! Matching an engine's n-best transcripts against the active grammars (RFC 6787 §9.4.13 Recognize: the
//! recognizer returns the best match of the active grammars; the result becomes the NLSML interpretation,
//! RFC 6787 §9.6).
//!
//! The parser is a memoized chart over (rule, start position) with, inside a rule, a Viterbi search that keeps
//! the best partial parse per input position. Every step counts against
//! [`GrammarLimits::max_match_steps`], so the work per input is bounded whatever the grammar (left recursion is
//! cut, repeats stop when they no longer advance).
//!
//! Score of a parse: how well the text fits (words matched against words skipped as GARBAGE, explicit or
//! around the match), then the product of the one-of weights. Confidence reported =
//! engine confidence × fit, where fit = matched / (matched + skipped + ½ × explicit GARBAGE words).

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::compile::{CompiledGrammar, Node, NodeId, Sym};
use super::limits::GrammarLimits;
use super::model::Mode;
use super::normalize;
use super::semantics::{self, Scope};

/// Symbol for an input word the grammar does not know.
pub(crate) const UNKNOWN: Sym = Sym::MAX;

/// A grammar active for a recognition, with its RECOGNIZE weight (RFC 6787 §9.4.13, `text/uri-list` weights).
#[derive(Debug, Clone, Copy)]
pub struct ActiveGrammar<'a> {
    /// The identifier reported in NLSML `grammar=` (e.g. `session:yesno`, `builtin:dtmf/digits`).
    pub id: &'a str,
    /// The compiled grammar.
    pub grammar: &'a CompiledGrammar,
    /// Relative weight (1.0 by default).
    pub weight: f32,
}

/// One alternative of an engine's n-best list.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The text as the engine returned it.
    pub text: String,
    /// The engine's confidence, 0.0–1.0.
    pub confidence: f32,
}

/// A successful match: the contract with the NLSML writer (one `<interpretation>`).
#[derive(Debug, Clone, PartialEq)]
pub struct GrammarMatch {
    /// Index of the grammar in the active list.
    pub grammar_index: usize,
    /// The grammar identifier (`grammar=` attribute).
    pub grammar_id: String,
    /// What was heard or keyed (`<input>`): the transcript as the engine returned it, or the DTMF keys.
    pub input: String,
    /// The normalized words the grammar matched (without surrounding garbage).
    pub matched_text: String,
    /// Input mode of the match.
    pub mode: Mode,
    /// Confidence 0.0–1.0: the engine's confidence times how well the text fits the grammar.
    pub confidence: f32,
    /// The semantic result (`<instance>`): the SISR result, or the matched text when the grammar has no tags.
    pub instance: Value,
    /// Index of the transcript in the n-best list this match came from.
    pub transcript_index: usize,
}

/// Options of a transcript match.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchOptions {
    /// Accept words before and after the grammar's sentence (they lower the confidence).
    pub allow_surrounding_garbage: bool,
    /// Drop filler words the grammar does not use (see [`normalize::FILLERS`]).
    pub drop_fillers: bool,
    /// Maximum number of matches returned (best first, one per distinct grammar/instance).
    pub max_results: usize,
    /// Limits (input length, work budget).
    pub limits: GrammarLimits,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            allow_surrounding_garbage: true,
            drop_fillers: true,
            max_results: 5,
            limits: GrammarLimits::default(),
        }
    }
}

/// Result of matching transcripts.
#[derive(Debug, Clone, PartialEq)]
pub enum MatchOutcome {
    /// Matches, best first.
    Match(Vec<GrammarMatch>),
    /// Nothing matched (`budget_exhausted` when a match was abandoned because of the work limit).
    NoMatch {
        /// A grammar needed more work than [`GrammarLimits::max_match_steps`].
        budget_exhausted: bool,
    },
}

impl MatchOutcome {
    /// The best match, if any.
    pub fn best(&self) -> Option<&GrammarMatch> {
        match self {
            MatchOutcome::Match(m) => m.first(),
            MatchOutcome::NoMatch { .. } => None,
        }
    }
}

/// Match an n-best list against the active voice grammars.
pub fn match_transcripts(
    grammars: &[ActiveGrammar<'_>],
    transcripts: &[Transcript],
    opts: &MatchOptions,
) -> MatchOutcome {
    let max_weight = grammars.iter().map(|g| g.weight).fold(0.0_f32, f32::max);
    let mut found: Vec<(f32, f32, GrammarMatch)> = Vec::new();
    let mut exhausted = false;
    for (ti, t) in transcripts.iter().enumerate() {
        let conf = if t.confidence.is_finite() {
            t.confidence.clamp(0.0, 1.0)
        } else {
            0.0
        };
        for (gi, active) in grammars.iter().enumerate() {
            let g = active.grammar;
            if g.mode != Mode::Voice {
                continue;
            }
            let wfactor = if max_weight > 0.0 && active.weight.is_finite() {
                (active.weight / max_weight).clamp(0.0, 1.0)
            } else {
                1.0
            };
            if g.dictation {
                let text = t.text.split_whitespace().collect::<Vec<_>>().join(" ");
                if !text.is_empty() {
                    let m = GrammarMatch {
                        grammar_index: gi,
                        grammar_id: active.id.to_owned(),
                        input: t.text.trim().to_owned(),
                        matched_text: text.clone(),
                        mode: Mode::Voice,
                        confidence: conf,
                        instance: Value::String(text),
                        transcript_index: ti,
                    };
                    // Dictation ranks below any grammar that really matched.
                    found.push((conf * wfactor * 0.5, 0.0, m));
                }
                continue;
            }
            for variant in normalize::transcript_variants(&t.text) {
                let words = prepare_words(g, variant, opts.drop_fillers);
                if words.is_empty() || words.len() > opts.limits.max_input_tokens {
                    continue;
                }
                let syms: Vec<Sym> = words.iter().map(|w| g.sym(w).unwrap_or(UNKNOWN)).collect();
                let mut ctx = Ctx::new(g, &syms, &words, &opts.limits, false);
                let best = ctx.best_parse(opts.allow_surrounding_garbage);
                exhausted |= ctx.exhausted;
                if let Some(p) = best {
                    let fit = p.fit();
                    let m = GrammarMatch {
                        grammar_index: gi,
                        grammar_id: active.id.to_owned(),
                        input: t.text.trim().to_owned(),
                        matched_text: p.text.clone(),
                        mode: Mode::Voice,
                        confidence: conf * fit,
                        instance: p.value,
                        transcript_index: ti,
                    };
                    found.push((conf * fit * wfactor, p.logp, m));
                }
            }
        }
    }
    if found.is_empty() {
        return MatchOutcome::NoMatch {
            budget_exhausted: exhausted,
        };
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    let mut out: Vec<GrammarMatch> = Vec::new();
    for (_, _, m) in found {
        if out.len() >= opts.max_results.max(1) {
            break;
        }
        if !out
            .iter()
            .any(|o| o.grammar_index == m.grammar_index && o.instance == m.instance)
        {
            out.push(m);
        }
    }
    MatchOutcome::Match(out)
}

/// Apply the grammar-dependent normalizations: fillers dropped, `oh` read as `zero`.
fn prepare_words(g: &CompiledGrammar, words: Vec<String>, drop_fillers: bool) -> Vec<String> {
    let zero_alias = g.sym("zero").is_some() && g.sym("oh").is_none();
    words
        .into_iter()
        .filter(|w| {
            !(drop_fillers && normalize::FILLERS.contains(&w.as_str()) && g.sym(w).is_none())
        })
        .map(|w| {
            if zero_alias && w == "oh" {
                "zero".to_owned()
            } else {
                w
            }
        })
        .collect()
}

/// A complete parse of the root rule over part of the input.
#[derive(Debug, Clone)]
pub(crate) struct Parse {
    pub start: usize,
    pub end: usize,
    pub total: usize,
    pub garbage: u32,
    pub logp: f32,
    pub value: Value,
    pub text: String,
}

impl Parse {
    /// How well the input fits: matched words over all words, explicit GARBAGE counting half.
    pub fn fit(&self) -> f32 {
        let span = self.end.saturating_sub(self.start) as f32;
        let garbage = self.garbage as f32;
        let matched = (span - garbage).max(0.0);
        let outside = (self.total as f32 - span).max(0.0);
        let denom = matched + outside + 0.5 * garbage;
        if denom <= 0.0 { 0.0 } else { matched / denom }
    }
}

#[derive(Debug, Clone, Default)]
struct Env {
    /// `out`; `None` until a tag touched it (then it started as `{}`).
    out: Option<Value>,
    /// Last value and span of each referenced rule: (rule index, value, start, end); the last entry is the
    /// latest reference.
    refs: Vec<(u32, Value, u32, u32)>,
}

#[derive(Debug, Clone)]
struct State {
    pos: u32,
    garbage: u32,
    logp: f32,
    env: Env,
}

impl State {
    fn better_than(&self, other: &State) -> bool {
        self.garbage < other.garbage || self.garbage == other.garbage && self.logp > other.logp
    }
}

#[derive(Debug, Clone)]
struct RuleEnd {
    end: u32,
    garbage: u32,
    logp: f32,
    value: Value,
}

/// The chart parser for one input against one grammar.
pub(crate) struct Ctx<'a> {
    g: &'a CompiledGrammar,
    input: &'a [Sym],
    words: &'a [String],
    limits: &'a GrammarLimits,
    memo: HashMap<(u32, u32), Rc<Vec<RuleEnd>>>,
    in_progress: Vec<(u32, u32)>,
    steps: u64,
    /// Set when the step budget ran out; results are then incomplete and discarded.
    pub exhausted: bool,
    /// Track whether some parse reached the end of the input wanting more (DTMF).
    track_end: bool,
    /// Some parse consumed the whole input and could take more.
    pub wants_more: bool,
    /// Current nesting of `walk` calls.
    frames: usize,
}

/// Maximum nesting of expansion walks (rule references times expansion nesting), which bounds stack use:
/// about 6.5 KiB per level in debug builds, so 160 levels stay within a 2 MiB thread stack.
const MAX_FRAMES: usize = 160;

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        g: &'a CompiledGrammar,
        input: &'a [Sym],
        words: &'a [String],
        limits: &'a GrammarLimits,
        track_end: bool,
    ) -> Self {
        Ctx {
            g,
            input,
            words,
            limits,
            memo: HashMap::new(),
            in_progress: Vec::new(),
            steps: 0,
            exhausted: false,
            track_end,
            wants_more: false,
            frames: 0,
        }
    }

    fn n(&self) -> u32 {
        u32::try_from(self.input.len()).unwrap_or(u32::MAX)
    }

    fn text(&self, start: u32, end: u32) -> String {
        let sep = if self.g.mode == Mode::Dtmf { "" } else { " " };
        self.words
            .get(start as usize..end as usize)
            .map(|w| w.join(sep))
            .unwrap_or_default()
    }

    fn tick(&mut self, n: usize) -> bool {
        self.steps = self.steps.saturating_add(n as u64 + 1);
        if self.steps > self.limits.max_match_steps {
            self.exhausted = true;
        }
        !self.exhausted
    }

    /// The best parse of the root rule. With `garbage_around`, it may start after and end before the input's
    /// ends; otherwise it covers the whole input.
    pub(crate) fn best_parse(&mut self, garbage_around: bool) -> Option<Parse> {
        let n = self.n();
        let starts = if garbage_around { n } else { 0 };
        let mut best: Option<Parse> = None;
        for start in 0..=starts {
            let ends = self.rule_ends(self.g.root, start, 0);
            if self.exhausted {
                return None;
            }
            for e in ends.iter() {
                if !garbage_around && e.end != n || e.end == start {
                    continue;
                }
                let value = if self.g.uses_semantics {
                    e.value.clone()
                } else {
                    Value::String(self.text(start, e.end))
                };
                let cand = Parse {
                    start: start as usize,
                    end: e.end as usize,
                    total: n as usize,
                    garbage: e.garbage,
                    logp: e.logp,
                    value,
                    text: self.text(start, e.end),
                };
                let better = match &best {
                    None => true,
                    Some(b) => cand.fit() > b.fit() || cand.fit() == b.fit() && cand.logp > b.logp,
                };
                if better {
                    best = Some(cand);
                }
            }
        }
        best
    }

    /// All ways the rule can match from `start`: best parse per end position.
    fn rule_ends(&mut self, rule: u32, start: u32, depth: usize) -> Rc<Vec<RuleEnd>> {
        if let Some(r) = self.memo.get(&(rule, start)) {
            return Rc::clone(r);
        }
        if self.in_progress.contains(&(rule, start))
            || depth > self.limits.max_rule_depth
            || !self.tick(0)
        {
            // Left recursion (or runaway nesting): this path contributes nothing.
            return Rc::new(Vec::new());
        }
        self.in_progress.push((rule, start));
        let Some(body) = self.g.rules.get(rule as usize).map(|r| r.body) else {
            return Rc::new(Vec::new());
        };
        let init = State {
            pos: start,
            garbage: 0,
            logp: 0.0,
            env: Env::default(),
        };
        let states = self.walk(body, vec![init], start, depth);
        self.in_progress.retain(|&k| k != (rule, start));
        let ends: Vec<RuleEnd> = states
            .into_iter()
            .map(|s| {
                let value = if !self.g.uses_semantics {
                    Value::Null
                } else if let Some(out) = s.env.out {
                    out
                } else if let Some((_, v, _, _)) = s.env.refs.last() {
                    v.clone()
                } else {
                    Value::String(self.text(start, s.pos))
                };
                RuleEnd {
                    end: s.pos,
                    garbage: s.garbage,
                    logp: s.logp,
                    value,
                }
            })
            .collect();
        let ends = Rc::new(ends);
        if !self.exhausted {
            self.memo.insert((rule, start), Rc::clone(&ends));
        }
        ends
    }

    fn merge(into: &mut Vec<State>, s: State) {
        if let Some(existing) = into.iter_mut().find(|e| e.pos == s.pos) {
            if s.better_than(existing) {
                *existing = s;
            }
        } else {
            into.push(s);
        }
    }

    fn walk(
        &mut self,
        node: NodeId,
        states: Vec<State>,
        rule_start: u32,
        depth: usize,
    ) -> Vec<State> {
        if states.is_empty() || !self.tick(states.len()) {
            return Vec::new();
        }
        if self.frames >= MAX_FRAMES {
            // Rules nested in nested expansions deeper than the stack allows: give up on this input.
            self.exhausted = true;
            return Vec::new();
        }
        self.frames += 1;
        let out = self.walk_node(node, states, rule_start, depth);
        self.frames -= 1;
        out
    }

    fn walk_node(
        &mut self,
        node: NodeId,
        states: Vec<State>,
        rule_start: u32,
        depth: usize,
    ) -> Vec<State> {
        let g = self.g;
        let n = self.n();
        let Some(node_ref) = g.nodes.get(node as usize) else {
            return Vec::new();
        };
        match node_ref {
            Node::Words(syms) => {
                let mut out = Vec::new();
                for mut s in states {
                    let p = s.pos as usize;
                    let len = syms.len();
                    match self.input.get(p..p + len) {
                        Some(slice) if slice == syms.as_slice() => {
                            s.pos += u32::try_from(len).unwrap_or(0);
                            Self::merge(&mut out, s);
                        }
                        _ => {
                            if self.track_end && len > 0 {
                                let rest = self.input.get(p..).unwrap_or(&[]);
                                if rest.len() < len && syms.get(..rest.len()) == Some(rest) {
                                    self.wants_more = true;
                                }
                            }
                        }
                    }
                }
                out
            }
            Node::Seq(items) => {
                let mut cur = states;
                for &item in items {
                    cur = self.walk(item, cur, rule_start, depth);
                    if cur.is_empty() {
                        break;
                    }
                }
                cur
            }
            Node::Alt(alt) => {
                let mut out = Vec::new();
                for s in states {
                    let next = self.input.get(s.pos as usize).copied();
                    if self.track_end && next.is_none() && alt.consumes {
                        self.wants_more = true;
                    }
                    let indexed = next
                        .and_then(|sym| alt.index.get(&sym))
                        .map_or(&[][..], Vec::as_slice);
                    let mut candidates: Vec<u32> =
                        Vec::with_capacity(indexed.len() + alt.always.len());
                    candidates.extend_from_slice(indexed);
                    candidates.extend_from_slice(&alt.always);
                    if !alt.always.is_empty() && !indexed.is_empty() {
                        // Keep document order so that ties go to the first alternative.
                        candidates.sort_unstable();
                    }
                    for k in candidates {
                        let Some(&(child, logw)) = alt.alts.get(k as usize) else {
                            continue;
                        };
                        if let Some(prefix) = alt.prefix.get(k as usize).filter(|p| !p.is_empty()) {
                            // Cheap check of the alternative's leading words before walking it.
                            let rest = self.input.get(s.pos as usize..).unwrap_or(&[]);
                            if rest.len() < prefix.len() {
                                if self.track_end && prefix.get(..rest.len()) == Some(rest) {
                                    self.wants_more = true;
                                }
                                continue;
                            }
                            if rest.get(..prefix.len()) != Some(prefix.as_slice()) {
                                continue;
                            }
                        }
                        let mut start = s.clone();
                        start.logp += logw;
                        for r in self.walk(child, vec![start], rule_start, depth) {
                            Self::merge(&mut out, r);
                        }
                    }
                }
                out
            }
            Node::Repeat { body, min, max } => {
                self.repeat(*body, *min, *max, states, rule_start, depth)
            }
            Node::Rule(r) => {
                let r = *r;
                let mut out = Vec::new();
                for s in states {
                    let ends = self.rule_ends(r, s.pos, depth + 1);
                    for e in ends.iter() {
                        let mut t = s.clone();
                        t.garbage += e.garbage;
                        t.logp += e.logp;
                        if self.g.uses_semantics {
                            t.env.refs.retain(|(x, ..)| *x != r);
                            t.env.refs.push((r, e.value.clone(), s.pos, e.end));
                        }
                        t.pos = e.end;
                        Self::merge(&mut out, t);
                    }
                }
                out
            }
            Node::Null => states,
            Node::Void => Vec::new(),
            Node::Garbage => {
                let mut out = Vec::new();
                for s in states {
                    for end in s.pos..=n {
                        let mut t = s.clone();
                        t.garbage += end - s.pos;
                        t.pos = end;
                        Self::merge(&mut out, t);
                    }
                }
                out
            }
            Node::Tag(t) => {
                let Some(tag) = g.tags.get(*t as usize) else {
                    return states;
                };
                let mut out = states;
                for s in &mut out {
                    let mut value = s
                        .env
                        .out
                        .take()
                        .unwrap_or_else(|| Value::Object(Map::new()));
                    let scope = TagScope {
                        ctx: self,
                        env: &s.env,
                        rule_start,
                        pos: s.pos,
                    };
                    semantics::execute(tag, &mut value, &scope);
                    s.env.out = Some(value);
                }
                out
            }
        }
    }

    fn repeat(
        &mut self,
        body: NodeId,
        min: u32,
        max: Option<u32>,
        states: Vec<State>,
        rule_start: u32,
        depth: usize,
    ) -> Vec<State> {
        let mut acc: Vec<State> = Vec::new();
        if min == 0 {
            acc.extend(states.iter().cloned());
        }
        let mut frontier = states;
        let mut k: u32 = 0;
        while !frontier.is_empty() && max.is_none_or(|m| k < m) && !self.exhausted {
            let before: Vec<u32> = frontier.iter().map(|s| s.pos).collect();
            let next = self.walk(body, frontier, rule_start, depth);
            k += 1;
            if k < min {
                let positions: Vec<u32> = next.iter().map(|s| s.pos).collect();
                if positions.len() == before.len()
                    && positions.iter().all(|p| before.contains(p))
                    && !next.is_empty()
                {
                    // A nullable body that no longer advances: the remaining required iterations match empty.
                    k = min;
                    for s in next.iter().cloned() {
                        Self::merge(&mut acc, s);
                    }
                    frontier = next;
                    continue;
                }
                frontier = next;
                continue;
            }
            let mut fresh = Vec::new();
            for s in next {
                let known = acc.iter().any(|a| a.pos == s.pos);
                Self::merge(&mut acc, s.clone());
                if !known {
                    fresh.push(s);
                }
            }
            frontier = fresh;
        }
        acc
    }
}

struct TagScope<'c, 'a> {
    ctx: &'c Ctx<'a>,
    env: &'c Env,
    rule_start: u32,
    pos: u32,
}

impl TagScope<'_, '_> {
    fn find(&self, name: &str) -> Option<&(u32, Value, u32, u32)> {
        self.env.refs.iter().rev().find(|(r, ..)| {
            self.ctx
                .g
                .rules
                .get(*r as usize)
                .is_some_and(|x| x.name == name)
        })
    }
}

impl Scope for TagScope<'_, '_> {
    fn rule_value(&self, name: &str) -> Option<&Value> {
        self.find(name).map(|(_, v, ..)| v)
    }
    fn latest_value(&self) -> Option<&Value> {
        self.env.refs.last().map(|(_, v, ..)| v)
    }
    fn rule_text(&self, name: &str) -> Option<String> {
        self.find(name).map(|&(_, _, s, e)| self.ctx.text(s, e))
    }
    fn latest_text(&self) -> Option<String> {
        self.env
            .refs
            .last()
            .map(|&(_, _, s, e)| self.ctx.text(s, e))
    }
    fn current_text(&self) -> String {
        self.ctx.text(self.rule_start, self.pos)
    }
}
