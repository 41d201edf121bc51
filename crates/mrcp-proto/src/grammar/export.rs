//! Export of a compiled grammar for engines: JSGF 1.0 (PocketSphinx compiles JSGF), word lists and phrase
//! lists (cloud engines take phrase hints / boost lists), and random sentences (tests, and engines that want
//! examples).
//!
//! Export works on the compiled form, so external references are already inlined and words are normalized the
//! way the matcher expects them (lowercase, numerals as words), which is also what a pronunciation dictionary
//! holds. Tags are not exported (the server evaluates semantics on the transcript). `GARBAGE` has no JSGF
//! equivalent and is left out of sequences (alone it is `<NULL>`); a PocketSphinx grammar therefore cannot
//! absorb extra words.

use std::fmt::Write as _;

use super::compile::{CompiledGrammar, Node, NodeId};
use super::model::Mode;

/// Maximum copies of a repeated expansion written out when a JSGF repeat needs unrolling (`2-5`).
const MAX_UNROLL: u32 = 16;

fn rule_name(g: &CompiledGrammar, idx: usize) -> String {
    let base: String = g
        .rules
        .get(idx)
        .map(|r| {
            r.name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if idx == 0 {
        base
    } else {
        format!("{base}_{idx}")
    }
}

fn quote_word(w: &str) -> String {
    if w.chars()
        .all(|c| c.is_alphanumeric() || c == '\'' || c == '_' || c == '-' || c == '.')
    {
        w.to_owned()
    } else {
        format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Export as a JSGF 1.0 grammar named `name`; the root rule is the only public rule.
pub fn to_jsgf(g: &CompiledGrammar, name: &str) -> String {
    let gname: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut s = String::from("#JSGF V1.0 UTF-8;\n");
    let _ = writeln!(
        s,
        "grammar {};\n",
        if gname.is_empty() { "grammar" } else { &gname }
    );
    if g.dictation {
        let _ = writeln!(s, "public <{}> = <NULL>;", rule_name(g, 0));
        return s;
    }
    for (i, r) in g.rules.iter().enumerate() {
        let public = if i as u32 == g.root { "public " } else { "" };
        let mut body = String::new();
        jsgf_node(g, r.body, &mut body);
        let _ = writeln!(s, "{public}<{}> = {};", rule_name(g, i), body);
    }
    s
}

fn jsgf_node(g: &CompiledGrammar, id: NodeId, s: &mut String) {
    let Some(node) = g.nodes.get(id as usize) else {
        return;
    };
    match node {
        Node::Words(syms) => {
            if syms.is_empty() {
                s.push_str("<NULL>");
            }
            let words: Vec<String> = syms
                .iter()
                .filter_map(|&x| g.words.get(x as usize))
                .map(|w| quote_word(w))
                .collect();
            s.push_str(&words.join(" "));
        }
        Node::Seq(items) => {
            // Tags, NULL and GARBAGE match no words and are left out of the sequence (PocketSphinx cannot
            // decode `<NULL>` inside a sequence); a sequence of only those is `<NULL>`.
            let kept: Vec<NodeId> = items
                .iter()
                .copied()
                .filter(|&i| {
                    !matches!(
                        g.nodes.get(i as usize),
                        Some(Node::Tag(_) | Node::Null | Node::Garbage)
                    )
                })
                .collect();
            if kept.is_empty() {
                s.push_str("<NULL>");
                return;
            }
            s.push('(');
            for (k, &i) in kept.iter().enumerate() {
                if k > 0 {
                    s.push(' ');
                }
                jsgf_node(g, i, s);
            }
            s.push(')');
        }
        Node::Alt(a) => {
            s.push('(');
            let uniform = a.alts.windows(2).all(|w| (w[0].1 - w[1].1).abs() < 1e-6);
            for (k, &(i, logw)) in a.alts.iter().enumerate() {
                if k > 0 {
                    s.push_str(" | ");
                }
                if !uniform {
                    let _ = write!(s, "/{:.4}/ ", logw.exp());
                }
                jsgf_node(g, i, s);
            }
            s.push(')');
        }
        Node::Repeat { body, min, max } => {
            let mut one = String::new();
            jsgf_node(g, *body, &mut one);
            let one = format!("({one})");
            match (*min, *max) {
                (0, None) => {
                    let _ = write!(s, "{one}*");
                }
                (m, None) => {
                    s.push('(');
                    for _ in 1..m.min(MAX_UNROLL) {
                        let _ = write!(s, "{one} ");
                    }
                    let _ = write!(s, "{one}+)");
                }
                (m, Some(x)) => {
                    let m = m.min(MAX_UNROLL);
                    let x = x.min(MAX_UNROLL).max(m);
                    s.push('(');
                    if m == 0 && x == 0 {
                        s.push_str("<NULL>");
                    }
                    for k in 0..m {
                        if k > 0 {
                            s.push(' ');
                        }
                        s.push_str(&one);
                    }
                    let optional = x - m;
                    for k in 0..optional {
                        if m > 0 || k > 0 {
                            s.push(' ');
                        }
                        let _ = write!(s, "[{one}");
                    }
                    for _ in 0..optional {
                        s.push(']');
                    }
                    s.push(')');
                }
            }
        }
        Node::Rule(r) => {
            let _ = write!(s, "<{}>", rule_name(g, *r as usize));
        }
        Node::Null | Node::Tag(_) | Node::Garbage => s.push_str("<NULL>"),
        Node::Void => s.push_str("<VOID>"),
    }
}

/// The distinct words of a grammar (DTMF keys for DTMF grammars), for engines that take a vocabulary.
pub fn word_list(g: &CompiledGrammar) -> Vec<String> {
    g.words.clone()
}

/// Up to `max` sentences of the grammar, shortest repeats first, for phrase hints. Recursive rules are
/// explored to a small depth; the work is bounded by `max` and the grammar size. Empty for dictation.
pub fn phrase_list(g: &CompiledGrammar, max: usize) -> Vec<String> {
    if g.dictation || max == 0 {
        return Vec::new();
    }
    let mut budget = 200_000_u64;
    let root = g.rules.get(g.root as usize).map(|r| r.body).unwrap_or(0);
    let sentences = enumerate(g, root, max, 0, &mut budget);
    let sep = if g.mode == Mode::Dtmf { "" } else { " " };
    let mut out: Vec<String> = Vec::new();
    for s in sentences {
        let text = s
            .iter()
            .filter_map(|&x| g.words.get(x as usize))
            .cloned()
            .collect::<Vec<_>>()
            .join(sep);
        if !text.is_empty() && !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

fn enumerate(
    g: &CompiledGrammar,
    id: NodeId,
    max: usize,
    depth: usize,
    budget: &mut u64,
) -> Vec<Vec<u32>> {
    *budget = budget.saturating_sub(1);
    if *budget == 0 || depth > 24 {
        return Vec::new();
    }
    let Some(node) = g.nodes.get(id as usize) else {
        return Vec::new();
    };
    match node {
        Node::Words(syms) => vec![syms.clone()],
        Node::Seq(items) => {
            let mut acc = vec![Vec::new()];
            for &i in items {
                let next = enumerate(g, i, max, depth + 1, budget);
                acc = product(&acc, &next, max, budget);
                if acc.is_empty() {
                    break;
                }
            }
            acc
        }
        Node::Alt(a) => {
            let mut out = Vec::new();
            for &(i, _) in &a.alts {
                if out.len() >= max {
                    break;
                }
                out.extend(enumerate(g, i, max - out.len(), depth + 1, budget));
            }
            out.truncate(max);
            out
        }
        Node::Repeat {
            body,
            min,
            max: rmax,
        } => {
            let one = enumerate(g, *body, max, depth + 1, budget);
            let mut out = Vec::new();
            let hi = rmax.unwrap_or(min + 1).min(min + 1);
            for k in *min..=hi {
                let mut acc = vec![Vec::new()];
                for _ in 0..k.min(MAX_UNROLL) {
                    acc = product(&acc, &one, max, budget);
                }
                out.extend(acc);
                if out.len() >= max {
                    break;
                }
            }
            out.truncate(max);
            out
        }
        Node::Rule(r) => g.rules.get(*r as usize).map_or(Vec::new(), |rule| {
            enumerate(g, rule.body, max, depth + 1, budget)
        }),
        Node::Null | Node::Tag(_) | Node::Garbage => vec![Vec::new()],
        Node::Void => Vec::new(),
    }
}

fn product(a: &[Vec<u32>], b: &[Vec<u32>], max: usize, budget: &mut u64) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    'outer: for x in a {
        for y in b {
            *budget = budget.saturating_sub(1);
            if out.len() >= max || *budget == 0 {
                break 'outer;
            }
            let mut v = x.clone();
            v.extend_from_slice(y);
            out.push(v);
        }
    }
    out
}

/// A random sentence of the grammar: `choose(n)` picks one of `n` options (it must return a value below `n`);
/// repeats take between their minimum and minimum + 3 occurrences. `None` when the chosen path hits VOID, runs
/// deeper than 64 rule references, or exceeds `max_words`. GARBAGE produces no words.
pub fn sample_sentence(
    g: &CompiledGrammar,
    choose: &mut dyn FnMut(usize) -> usize,
    max_words: usize,
) -> Option<Vec<String>> {
    if g.dictation {
        return None;
    }
    let root = g.rules.get(g.root as usize)?.body;
    let mut out = Vec::new();
    sample(g, root, choose, &mut out, 0, max_words)?;
    Some(
        out.into_iter()
            .filter_map(|x| g.words.get(x as usize).cloned())
            .collect(),
    )
}

fn sample(
    g: &CompiledGrammar,
    id: NodeId,
    choose: &mut dyn FnMut(usize) -> usize,
    out: &mut Vec<u32>,
    depth: usize,
    max_words: usize,
) -> Option<()> {
    if depth > 64 || out.len() > max_words {
        return None;
    }
    match g.nodes.get(id as usize)? {
        Node::Words(syms) => out.extend_from_slice(syms),
        Node::Seq(items) => {
            for &i in items {
                sample(g, i, choose, out, depth + 1, max_words)?;
            }
        }
        Node::Alt(a) => {
            let k = choose(a.alts.len()).min(a.alts.len().saturating_sub(1));
            let &(i, _) = a.alts.get(k)?;
            sample(g, i, choose, out, depth + 1, max_words)?;
        }
        Node::Repeat { body, min, max } => {
            let extra = max.map_or(3, |m| m.saturating_sub(*min).min(3));
            let n = min
                + u32::try_from(choose(extra as usize + 1))
                    .unwrap_or(0)
                    .min(extra);
            for _ in 0..n {
                sample(g, *body, choose, out, depth + 1, max_words)?;
            }
        }
        Node::Rule(r) => sample(
            g,
            g.rules.get(*r as usize)?.body,
            choose,
            out,
            depth + 1,
            max_words,
        )?,
        Node::Null | Node::Tag(_) | Node::Garbage => {}
        Node::Void => return None,
    }
    (out.len() <= max_words).then_some(())
}
