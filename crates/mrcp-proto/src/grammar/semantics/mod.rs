//! Semantic interpretation of tags: the supported subset of W3C SISR 1.0 (`semantics/1.0`) and
//! `semantics/1.0-literals` (SISR 1.0 §3, §6, §7).
//!
//! # Supported subset of `semantics/1.0`
//! A tag is a sequence of statements separated by `;`:
//! - `out = EXPR`, `out += EXPR`, `out.a.b = EXPR`, `out["a"] = EXPR` (assignment to the rule variable and to
//!   properties of it; intermediate objects are created);
//! - `var NAME = EXPR` is **not** supported, nor are functions, conditionals, loops or other statements.
//!
//! Expressions: string literals (`'…'` or `"…"` with `\\`, `\'`, `\"`, `\n`, `\t` escapes), number literals,
//! `true`, `false`, `null`, object literals `{a: EXPR, "b": EXPR}`, array literals `[EXPR, …]`,
//! `out` and its properties, `rules.NAME` / `rules["NAME"]` / `rules.latest()` and their properties,
//! `meta.current().text`, `meta.NAME.text`, `meta.latest().text`, parentheses, unary `-`, and binary `+`
//! (ECMAScript rules: concatenation when either side is a string, addition otherwise), `-`, `*`, `/` on
//! numbers. Anything else is rejected when the grammar is compiled, with the tag text and what is wrong.
//!
//! Values are `serde_json::Value`s; ECMAScript `undefined` is represented by `Null`, and properties that end up
//! `undefined` are kept as `null`.
//!
//! # Rule variables (SISR 1.0 §6.3, default assignment)
//! Each rule starts with `out` as an empty object. When a matched rule executed no tag, its value is the value
//! of the last rule it referenced (`rules.latest()`), or, if it referenced none, the text it matched.
//!
//! # `semantics/1.0-literals`
//! The tag's text (trimmed) becomes the rule's value, as if `out = "text"` had been written.

mod parse;

pub use parse::parse_script;

use serde_json::{Map, Number, Value};

/// Which rule a `rules.` / `meta.` expression designates.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleSel {
    /// `rules.NAME`, `meta.NAME`.
    Named(String),
    /// `rules.latest()`, `meta.latest()`.
    Latest,
}

/// An expression of the supported subset.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal value.
    Lit(Value),
    /// `out` followed by property names.
    Out(Vec<String>),
    /// The value of a referenced rule followed by property names.
    Rule(RuleSel, Vec<String>),
    /// `meta.current().text`.
    CurrentText,
    /// `meta.NAME.text` / `meta.latest().text`.
    RuleText(RuleSel),
    /// An object literal.
    Object(Vec<(String, Expr)>),
    /// An array literal.
    Array(Vec<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// A binary operation.
    Bin(BinOp, Box<Expr>, Box<Expr>),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A statement: `out[.path] = expr` or `out[.path] += expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assign {
    /// Property path below `out` (empty for `out` itself).
    pub path: Vec<String>,
    /// `+=` rather than `=`.
    pub append: bool,
    /// The value.
    pub expr: Expr,
}

/// A compiled tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Tag {
    /// A `semantics/1.0` script.
    Script(Vec<Assign>),
    /// A `semantics/1.0-literals` value.
    Literal(String),
}

/// How tags of a grammar are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagFormat {
    /// `semantics/1.0` (and `semantics/1.0.2006`, `semantics/1.0-script`).
    Script,
    /// `semantics/1.0-literals`.
    Literals,
    /// No tag-format declared: a tag that mentions `out` or `=` is a script, any other a literal.
    Guess,
}

impl TagFormat {
    /// The tag format named by a grammar's `tag-format`, or `None` when unsupported.
    pub fn from_declared(declared: Option<&str>) -> Option<TagFormat> {
        match declared.map(str::trim) {
            None | Some("") => Some(TagFormat::Guess),
            Some("semantics/1.0" | "semantics/1.0.2006" | "semantics/1.0-script") => {
                Some(TagFormat::Script)
            }
            Some("semantics/1.0-literals" | "semantics/1.0.2006-literals") => {
                Some(TagFormat::Literals)
            }
            Some(_) => None,
        }
    }
}

/// Compile a tag's text under a format. `Err` carries a lowercase description of what is wrong.
pub fn compile_tag(text: &str, format: TagFormat) -> Result<Tag, String> {
    match format {
        TagFormat::Literals => Ok(Tag::Literal(text.trim().to_owned())),
        TagFormat::Script => parse_script(text).map(Tag::Script),
        TagFormat::Guess => {
            let t = text.trim();
            if t.contains("out") || t.contains('=') {
                parse_script(t).map(Tag::Script)
            } else {
                Ok(Tag::Literal(t.to_owned()))
            }
        }
    }
}

/// Names of rules a tag refers to through `rules.NAME` or `meta.NAME` (for checking at compile time).
pub fn referenced_rules(tag: &Tag) -> Vec<&str> {
    fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
        match e {
            Expr::Rule(RuleSel::Named(n), _) | Expr::RuleText(RuleSel::Named(n)) => out.push(n),
            Expr::Object(fields) => fields.iter().for_each(|(_, e)| walk(e, out)),
            Expr::Array(items) => items.iter().for_each(|e| walk(e, out)),
            Expr::Neg(e) => walk(e, out),
            Expr::Bin(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Tag::Script(stmts) = tag {
        stmts.iter().for_each(|s| walk(&s.expr, &mut out));
    }
    out
}

/// What an executing tag can see of the matched rule.
pub trait Scope {
    /// The value of the named rule, as last referenced in the current rule.
    fn rule_value(&self, name: &str) -> Option<&Value>;
    /// The value of the last rule referenced in the current rule.
    fn latest_value(&self) -> Option<&Value>;
    /// The text matched by the named rule (last reference).
    fn rule_text(&self, name: &str) -> Option<String>;
    /// The text matched by the last referenced rule.
    fn latest_text(&self) -> Option<String>;
    /// The text matched so far by the current rule.
    fn current_text(&self) -> String;
}

/// Maximum nesting of values built by tags (objects in objects), against hostile tags.
pub(crate) const MAX_VALUE_DEPTH: usize = 32;
/// Maximum length of a string built by tags.
const MAX_STRING_LEN: usize = 64 * 1024;

/// Run a tag against the rule variable `out`.
pub fn execute(tag: &Tag, out: &mut Value, scope: &dyn Scope) {
    match tag {
        Tag::Literal(text) => *out = Value::String(text.clone()),
        Tag::Script(stmts) => {
            for stmt in stmts {
                let value = eval(&stmt.expr, out, scope);
                assign(out, &stmt.path, value, stmt.append);
            }
        }
    }
}

fn assign(out: &mut Value, path: &[String], value: Value, append: bool) {
    let mut slot = out;
    for (depth, key) in path.iter().enumerate() {
        if depth >= MAX_VALUE_DEPTH {
            return;
        }
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(map) = slot else { return };
        slot = map.entry(key.clone()).or_insert(Value::Null);
    }
    let value = if append { add(slot, &value) } else { value };
    *slot = value;
}

fn eval(expr: &Expr, out: &Value, scope: &dyn Scope) -> Value {
    match expr {
        Expr::Lit(v) => v.clone(),
        Expr::Out(path) => get_path(out, path),
        Expr::Rule(RuleSel::Named(n), path) => scope
            .rule_value(n)
            .map_or(Value::Null, |v| get_path(v, path)),
        Expr::Rule(RuleSel::Latest, path) => scope
            .latest_value()
            .map_or(Value::Null, |v| get_path(v, path)),
        Expr::CurrentText => Value::String(scope.current_text()),
        Expr::RuleText(RuleSel::Named(n)) => scope.rule_text(n).map_or(Value::Null, Value::String),
        Expr::RuleText(RuleSel::Latest) => scope.latest_text().map_or(Value::Null, Value::String),
        Expr::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, e)| (k.clone(), eval(e, out, scope)))
                .collect(),
        ),
        Expr::Array(items) => Value::Array(items.iter().map(|e| eval(e, out, scope)).collect()),
        Expr::Neg(e) => number(-to_number(&eval(e, out, scope))),
        Expr::Bin(op, a, b) => {
            let a = eval(a, out, scope);
            let b = eval(b, out, scope);
            match op {
                BinOp::Add => add(&a, &b),
                BinOp::Sub => number(to_number(&a) - to_number(&b)),
                BinOp::Mul => number(to_number(&a) * to_number(&b)),
                BinOp::Div => number(to_number(&a) / to_number(&b)),
            }
        }
    }
}

fn get_path(v: &Value, path: &[String]) -> Value {
    let mut cur = v;
    for key in path {
        match cur {
            Value::Object(m) => match m.get(key) {
                Some(next) => cur = next,
                None => return Value::Null,
            },
            Value::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(next) => cur = next,
                None => return Value::Null,
            },
            Value::String(s) if key == "length" => return Value::from(s.chars().count()),
            _ => return Value::Null,
        }
    }
    cur.clone()
}

/// ECMAScript `+`: string concatenation when either operand is a string, numeric addition otherwise.
fn add(a: &Value, b: &Value) -> Value {
    if a.is_string()
        || b.is_string()
        || a.is_object()
        || b.is_object()
        || a.is_array()
        || b.is_array()
    {
        let mut s = to_js_string(a);
        s.push_str(&to_js_string(b));
        if s.len() > MAX_STRING_LEN {
            let mut cut = MAX_STRING_LEN;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        Value::String(s)
    } else {
        number(to_number(a) + to_number(b))
    }
}

/// ECMAScript ToString for the values tags build.
pub fn to_js_string(v: &Value) -> String {
    match v {
        Value::Null => "undefined".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(to_js_string).collect::<Vec<_>>().join(","),
        Value::Object(_) => "[object Object]".to_owned(),
    }
}

fn to_number(v: &Value) -> f64 {
    match v {
        Value::Null => f64::NAN,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                0.0
            } else {
                t.parse().unwrap_or(f64::NAN)
            }
        }
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

/// A number value; integral values are stored as integers so that JSON prints `5`, not `5.0`.
/// NaN and infinities (which JSON lacks) become `null`.
pub fn number(x: f64) -> Value {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15 {
        // In range: |x| < 2^53, integral, so the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(x as i64);
    }
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S;
    impl Scope for S {
        fn rule_value(&self, name: &str) -> Option<&Value> {
            static V: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
            (name == "digit").then(|| V.get_or_init(|| Value::from("7")))
        }
        fn latest_value(&self) -> Option<&Value> {
            self.rule_value("digit")
        }
        fn rule_text(&self, _: &str) -> Option<String> {
            Some("seven".into())
        }
        fn latest_text(&self) -> Option<String> {
            Some("seven".into())
        }
        fn current_text(&self) -> String {
            "press seven".into()
        }
    }

    fn run(script: &str) -> Value {
        let tag = compile_tag(script, TagFormat::Script).expect("compiles");
        let mut out = Value::Object(Map::new());
        execute(&tag, &mut out, &S);
        out
    }

    #[test]
    fn assignments() {
        assert_eq!(run("out = 'yes'"), Value::from("yes"));
        assert_eq!(
            run("out.action = \"balance\"; out.n = 3"),
            serde_json::json!({"action":"balance","n":3})
        );
        assert_eq!(
            run("out.a.b = rules.digit + '0'"),
            serde_json::json!({"a":{"b":"70"}})
        );
        assert_eq!(run("out = 2 * 10 + 1"), Value::from(21));
        assert_eq!(
            run("out = ''; out += rules.latest(); out += rules['digit']"),
            Value::from("77")
        );
        assert_eq!(run("out = meta.current().text"), Value::from("press seven"));
        assert_eq!(
            run("out = {x: meta.digit.text, y: [1, 'a']}"),
            serde_json::json!({"x":"seven","y":[1,"a"]})
        );
        assert_eq!(run("out = 1 / 4"), serde_json::json!(0.25));
    }

    #[test]
    fn rejects_outside_subset() {
        for bad in [
            "var x = 1",
            "out = f(1)",
            "out = a",
            "if (x) out = 1",
            "out == 1",
            "out = rules.x.y(",
            "x = 1",
        ] {
            assert!(compile_tag(bad, TagFormat::Script).is_err(), "{bad}");
        }
    }

    #[test]
    fn literal_and_guess() {
        assert_eq!(
            compile_tag(" yes ", TagFormat::Literals),
            Ok(Tag::Literal("yes".into()))
        );
        assert_eq!(
            compile_tag("yes", TagFormat::Guess),
            Ok(Tag::Literal("yes".into()))
        );
        assert!(matches!(
            compile_tag("out='yes'", TagFormat::Guess),
            Ok(Tag::Script(_))
        ));
    }
}
