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
const MAX_VALUE_DEPTH: usize = 32;
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

// ---------------------------------------------------------------------------------------------------------
// Parsing the script subset.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Punct(char),
    PlusEq,
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                    s.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            toks.push(Tok::Ident(s));
        } else if c.is_ascii_digit() {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' {
                    s.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            toks.push(Tok::Num(
                s.parse().map_err(|_| format!("invalid number {s}"))?,
            ));
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string literal".to_owned()),
                    Some(q) if q == c => break,
                    Some('\\') => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(e @ ('\\' | '\'' | '"' | '/')) => s.push(e),
                        Some(e) => return Err(format!("unsupported escape \\{e}")),
                        None => return Err("unterminated string literal".to_owned()),
                    },
                    Some(ch) => s.push(ch),
                }
            }
            toks.push(Tok::Str(s));
        } else if c == '+' {
            chars.next();
            if chars.peek() == Some(&'=') {
                chars.next();
                toks.push(Tok::PlusEq);
            } else {
                toks.push(Tok::Punct('+'));
            }
        } else if "=;.,:()[]{}-*/".contains(c) {
            chars.next();
            if c == '=' && chars.peek() == Some(&'=') {
                return Err("comparison operators are not supported".to_owned());
            }
            toks.push(Tok::Punct(c));
        } else {
            return Err(format!("unsupported character '{c}'"));
        }
        if toks.len() > 4096 {
            return Err("tag is too long (more than 4096 tokens)".to_owned());
        }
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Parse a `semantics/1.0` script of the supported subset.
pub fn parse_script(text: &str) -> Result<Vec<Assign>, String> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
        depth: 0,
    };
    let mut stmts = Vec::new();
    loop {
        while p.eat_punct(';') {}
        if p.pos >= p.toks.len() {
            break;
        }
        stmts.push(p.statement()?);
        if p.pos < p.toks.len() && !p.eat_punct(';') {
            return Err(format!(
                "expected ';' after a statement, found {}",
                p.describe()
            ));
        }
    }
    Ok(stmts)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of tag".to_owned(),
            Some(Tok::Ident(s)) => format!("'{s}'"),
            Some(Tok::Str(s)) => format!("string \"{s}\""),
            Some(Tok::Num(n)) => format!("number {n}"),
            Some(Tok::Punct(c)) => format!("'{c}'"),
            Some(Tok::PlusEq) => "'+='".to_owned(),
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<(), String> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(format!("expected '{c}', found {}", self.describe()))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(format!("expected a name, found {}", self.describe())),
        }
    }

    fn statement(&mut self) -> Result<Assign, String> {
        let head = self.ident()?;
        if head != "out" {
            return Err(match head.as_str() {
                "var" | "if" | "for" | "while" | "function" | "return" => {
                    format!(
                        "'{head}' statements are outside the supported SISR subset (assignments to out only)"
                    )
                }
                _ => {
                    format!("assignment to '{head}' is not supported (only out and its properties)")
                }
            });
        }
        let path = self.properties()?;
        let append = match self.peek() {
            Some(Tok::Punct('=')) => false,
            Some(Tok::PlusEq) => true,
            _ => {
                return Err(format!(
                    "expected '=' or '+=' after out, found {}",
                    self.describe()
                ));
            }
        };
        self.pos += 1;
        let expr = self.expr()?;
        Ok(Assign { path, append, expr })
    }

    fn properties(&mut self) -> Result<Vec<String>, String> {
        let mut path = Vec::new();
        loop {
            if self.eat_punct('.') {
                path.push(self.ident()?);
            } else if self.eat_punct('[') {
                match self.peek().cloned() {
                    Some(Tok::Str(s)) => path.push(s),
                    Some(Tok::Num(n)) if n >= 0.0 && n.fract() == 0.0 => path.push(format!("{n}")),
                    _ => {
                        return Err(format!(
                            "expected a literal property name, found {}",
                            self.describe()
                        ));
                    }
                }
                self.pos += 1;
                self.expect_punct(']')?;
            } else {
                return Ok(path);
            }
            if path.len() > MAX_VALUE_DEPTH {
                return Err("property path is too deep".to_owned());
            }
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("expression is nested too deeply".to_owned());
        }
        let mut lhs = self.term()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Punct('+')) => BinOp::Add,
                Some(Tok::Punct('-')) => BinOp::Sub,
                _ => break,
            };
            self.pos += 1;
            let rhs = self.term()?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Punct('*')) => BinOp::Mul,
                Some(Tok::Punct('/')) => BinOp::Div,
                _ => break,
            };
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat_punct('-') {
            self.depth += 1;
            if self.depth > 64 {
                return Err("expression is nested too deeply".to_owned());
            }
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Neg(Box::new(e)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Expr::Lit(Value::String(s)))
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Expr::Lit(number(n)))
            }
            Some(Tok::Punct('(')) => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect_punct(')')?;
                Ok(e)
            }
            Some(Tok::Punct('{')) => {
                self.pos += 1;
                let mut fields = Vec::new();
                if !self.eat_punct('}') {
                    loop {
                        let key = match self.peek().cloned() {
                            Some(Tok::Ident(s) | Tok::Str(s)) => s,
                            _ => {
                                return Err(format!(
                                    "expected a property name, found {}",
                                    self.describe()
                                ));
                            }
                        };
                        self.pos += 1;
                        self.expect_punct(':')?;
                        fields.push((key, self.expr()?));
                        if self.eat_punct('}') {
                            break;
                        }
                        self.expect_punct(',')?;
                    }
                }
                Ok(Expr::Object(fields))
            }
            Some(Tok::Punct('[')) => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat_punct(']') {
                    loop {
                        items.push(self.expr()?);
                        if self.eat_punct(']') {
                            break;
                        }
                        self.expect_punct(',')?;
                    }
                }
                Ok(Expr::Array(items))
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                match name.as_str() {
                    "true" => Ok(Expr::Lit(Value::Bool(true))),
                    "false" => Ok(Expr::Lit(Value::Bool(false))),
                    "null" | "undefined" => Ok(Expr::Lit(Value::Null)),
                    "out" => Ok(Expr::Out(self.properties()?)),
                    "rules" => {
                        let sel = self.rule_sel()?;
                        Ok(Expr::Rule(sel, self.properties()?))
                    }
                    "meta" => {
                        if self.peek() == Some(&Tok::Punct('.'))
                            && self.toks.get(self.pos + 1)
                                == Some(&Tok::Ident("current".to_owned()))
                        {
                            self.pos += 2;
                            self.expect_punct('(')?;
                            self.expect_punct(')')?;
                            self.expect_text()?;
                            return Ok(Expr::CurrentText);
                        }
                        let sel = self.rule_sel()?;
                        self.expect_text()?;
                        Ok(Expr::RuleText(sel))
                    }
                    other => Err(format!(
                        "'{other}' is outside the supported SISR subset (out, rules, meta and literals)"
                    )),
                }
            }
            _ => Err(format!("expected a value, found {}", self.describe())),
        }
    }

    fn rule_sel(&mut self) -> Result<RuleSel, String> {
        if self.eat_punct('[') {
            let name = match self.peek().cloned() {
                Some(Tok::Str(s)) => s,
                _ => {
                    return Err(format!(
                        "expected a rule name string, found {}",
                        self.describe()
                    ));
                }
            };
            self.pos += 1;
            self.expect_punct(']')?;
            return Ok(RuleSel::Named(name));
        }
        self.expect_punct('.')?;
        let name = self.ident()?;
        if name == "latest" && self.eat_punct('(') {
            self.expect_punct(')')?;
            return Ok(RuleSel::Latest);
        }
        if self.peek() == Some(&Tok::Punct('(')) {
            return Err(format!(
                "function {name}() is outside the supported SISR subset"
            ));
        }
        Ok(RuleSel::Named(name))
    }

    fn expect_text(&mut self) -> Result<(), String> {
        self.expect_punct('.')?;
        let prop = self.ident()?;
        if prop == "text" {
            Ok(())
        } else {
            Err(format!(
                "meta property '{prop}' is not supported (only text)"
            ))
        }
    }
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
