//! Parser of the supported `semantics/1.0` script subset (W3C SISR 1.0 §3); see the parent module for the
//! subset.

use serde_json::Value;

use super::{Assign, BinOp, Expr, MAX_VALUE_DEPTH, RuleSel, number};

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
