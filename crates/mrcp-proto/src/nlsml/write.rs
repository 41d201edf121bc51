//! Writing NLSML (RFC 6787 §9.6) in UniMRCP's layout: optional `<?xml version="1.0"?>`, two-space indentation,
//! text instances and inputs on one line.
//!
//! The text is assembled here with quick-xml's escaping rather than its `Writer`, because the layout must match
//! what UniMRCP consumers were tested with, and because a lossless round trip needs two escapes quick-xml does not
//! apply: `\t`, `\n`, `\r` in attributes (XML 1.0 §3.3.3 turns them into spaces when read) and `\r` in text
//! (§2.11 turns it into `\n`) are written as character references.

use std::fmt::Write as _;

use quick_xml::escape::escape;
use serde_json::Value;

use super::{Input, InputContent, Interpretation, NAMESPACE, Nlsml, NlsmlError};

/// How to write a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Start with `<?xml version="1.0"?>` (UniMRCP does).
    pub declaration: bool,
    /// Put `xmlns="urn:ietf:params:xml:ns:mrcpv2"` on `<result>` (RFC 6787 §9.6 examples do; UniMRCP's demo
    /// plugin does not).
    pub namespace: bool,
}

impl Default for WriteOptions {
    /// Declaration on, namespace off: what UniMRCP writes and every client accepts.
    fn default() -> Self {
        Self {
            declaration: true,
            namespace: false,
        }
    }
}

/// XML 1.0 §2.2 `Char`.
fn check_chars(s: &str) -> Result<(), NlsmlError> {
    match s
        .chars()
        .find(|c| matches!(*c as u32, 0..=0x8 | 0xB | 0xC | 0xE..=0x1F | 0xFFFE | 0xFFFF))
    {
        Some(c) => Err(NlsmlError::BadCharacter(c as u32)),
        None => Ok(()),
    }
}

fn text(out: &mut String, s: &str) -> Result<(), NlsmlError> {
    check_chars(s)?;
    out.push_str(&escape(s).replace('\r', "&#13;"));
    Ok(())
}

fn attribute(out: &mut String, name: &str, value: &str) -> Result<(), NlsmlError> {
    check_chars(value)?;
    let escaped = escape(value)
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;");
    let _ = write!(out, " {name}=\"{escaped}\"");
    Ok(())
}

/// An XML `Name` without a colon (namespaces are not used in instances).
fn check_name(name: &str) -> Result<(), NlsmlError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("xml"));
    if ok {
        Ok(())
    } else {
        Err(NlsmlError::BadElementName(name.to_owned()))
    }
}

fn confidence(c: f32) -> String {
    // Rust prints the shortest decimal that reads back as the same f32.
    format!("{}", c.clamp(0.0, 1.0))
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// Writes `<name attrs>content</name>` for a JSON value.
fn element(out: &mut String, name: &str, v: &Value, level: usize) -> Result<(), NlsmlError> {
    check_name(name)?;
    if let Value::Array(items) = v {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                indent(out, level);
            }
            match item {
                // An array inside an array has no name of its own.
                Value::Array(_) => element(out, name, &Value::Object(wrap_items(item)), level)?,
                _ => element(out, name, item, level)?,
            }
        }
        return Ok(());
    }
    let _ = write!(out, "<{name}");
    content(out, name, v, level)
}

fn wrap_items(v: &Value) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("item".to_owned(), v.clone());
    m
}

/// Writes the attributes (already opened tag `<name`), content and end tag.
fn content(out: &mut String, name: &str, v: &Value, level: usize) -> Result<(), NlsmlError> {
    match v {
        Value::Null => {
            let _ = write!(out, "></{name}>");
        }
        Value::Bool(b) => {
            let _ = write!(out, ">{b}</{name}>");
        }
        Value::Number(n) => {
            let _ = write!(out, ">{n}</{name}>");
        }
        Value::String(s) => {
            out.push('>');
            text(out, s)?;
            let _ = write!(out, "</{name}>");
        }
        Value::Array(_) => {
            out.push('>');
            indent(out, level + 1);
            element(out, "item", v, level + 1)?;
            indent(out, level);
            let _ = write!(out, "</{name}>");
        }
        Value::Object(map) => {
            for (k, val) in map {
                if let Some(attr) = k.strip_prefix('@') {
                    check_name(attr)?;
                    let s = match val {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    attribute(out, attr, &s)?;
                }
            }
            out.push('>');
            let mut children = false;
            for (k, val) in map {
                if k == "#text" {
                    match val {
                        Value::String(s) => text(out, s)?,
                        other => text(out, &other.to_string())?,
                    }
                } else if !k.starts_with('@') {
                    indent(out, level + 1);
                    element(out, k, val, level + 1)?;
                    children = true;
                }
            }
            if children {
                indent(out, level);
            }
            let _ = write!(out, "</{name}>");
        }
    }
    Ok(())
}

fn write_input(out: &mut String, input: &Input) -> Result<(), NlsmlError> {
    out.push_str("<input");
    if let Some(mode) = input.mode {
        attribute(out, "mode", mode.as_str())?;
    }
    if let Some(c) = input.confidence {
        attribute(out, "confidence", &confidence(c))?;
    }
    match &input.content {
        InputContent::Text(s) => {
            out.push('>');
            text(out, s)?;
            out.push_str("</input>");
        }
        InputContent::NoMatch => out.push_str("><nomatch/></input>"),
        InputContent::NoInput => out.push_str("><noinput/></input>"),
    }
    Ok(())
}

fn write_interpretation(out: &mut String, i: &Interpretation) -> Result<(), NlsmlError> {
    indent(out, 1);
    out.push_str("<interpretation");
    if let Some(g) = &i.grammar {
        attribute(out, "grammar", g)?;
    }
    if let Some(c) = i.confidence {
        attribute(out, "confidence", &confidence(c))?;
    }
    out.push('>');
    if let Some(instance) = &i.instance {
        indent(out, 2);
        out.push_str("<instance");
        content(out, "instance", instance, 2)?;
    }
    if let Some(input) = &i.input {
        indent(out, 2);
        write_input(out, input)?;
    }
    indent(out, 1);
    out.push_str("</interpretation>");
    Ok(())
}

impl Nlsml {
    /// Writes the document. Fails only on an instance key that is not an XML name or on a character XML 1.0
    /// cannot carry.
    pub fn to_xml(&self, options: &WriteOptions) -> Result<String, NlsmlError> {
        let mut out = String::with_capacity(256);
        if options.declaration {
            out.push_str("<?xml version=\"1.0\"?>\n");
        }
        out.push_str("<result");
        if options.namespace {
            attribute(&mut out, "xmlns", NAMESPACE)?;
        }
        if let Some(g) = &self.grammar {
            attribute(&mut out, "grammar", g)?;
        }
        out.push('>');
        for i in &self.interpretations {
            write_interpretation(&mut out, i)?;
        }
        out.push_str("\n</result>\n");
        Ok(out)
    }
}
