//! Reading NLSML (RFC 6787 §9.6): quick-xml events → a small element tree → [`Nlsml`].

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde_json::{Map, Value};

use super::{
    Input, InputContent, InputMode, Interpretation, MAX_DEPTH, MAX_NLSML_LEN, Nlsml, NlsmlError,
};

/// A parsed element: local name, attributes (local names, normalized values), children in order.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

fn xml_error(reader: &Reader<&[u8]>, detail: impl ToString) -> NlsmlError {
    NlsmlError::Xml {
        position: reader.error_position(),
        detail: detail.to_string(),
    }
}

fn start(reader: &Reader<&[u8]>, e: &BytesStart<'_>) -> Result<Element, NlsmlError> {
    let mut el = Element {
        name: local(e.name().as_ref()).to_owned(),
        ..Element::default()
    };
    for attr in e.attributes() {
        let attr = attr.map_err(|err| xml_error(reader, err))?;
        let key = local(attr.key.as_ref()).to_owned();
        if attr.key.as_ref() == "xmlns" || attr.key.as_ref().starts_with("xmlns:") {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| xml_error(reader, err))?;
        el.attributes.push((key, value.into_owned()));
    }
    Ok(el)
}

/// Builds the element tree of the document's root.
fn tree(text: &str) -> Result<Element, NlsmlError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| xml_error(&reader, e))?;
        let text_into = |stack: &mut Vec<Element>, s: String| {
            if let Some(top) = stack.last_mut() {
                match top.children.last_mut() {
                    Some(Node::Text(t)) => t.push_str(&s),
                    _ => top.children.push(Node::Text(s)),
                }
            }
        };
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(xml_error(&reader, "content after the root element"));
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(NlsmlError::TooDeep { limit: MAX_DEPTH });
                }
                stack.push(start(&reader, &e)?);
            }
            Event::Empty(e) => {
                let el = start(&reader, &e)?;
                match stack.last_mut() {
                    Some(top) => top.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                // quick-xml checks that the end name matches the start (check_end_names is on by default).
                let Some(el) = stack.pop() else {
                    return Err(xml_error(&reader, "end tag without start"));
                };
                match stack.last_mut() {
                    Some(top) => top.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content().into_owned();
                if stack.is_empty() {
                    if !s.trim().is_empty() {
                        return Err(xml_error(&reader, "text outside the root element"));
                    }
                } else {
                    text_into(&mut stack, s);
                }
            }
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err(xml_error(&reader, "cdata outside the root element"));
                }
                text_into(&mut stack, c.xml10_content().into_owned());
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| xml_error(&reader, e))? {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&r)
                        .ok_or_else(|| xml_error(&reader, format!("unknown entity &{};", &*r)))?
                        .to_owned(),
                };
                if stack.is_empty() {
                    return Err(xml_error(&reader, "reference outside the root element"));
                }
                text_into(&mut stack, resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(xml_error(&reader, "document ends inside an element"));
    }
    root.ok_or_else(|| xml_error(&reader, "no root element"))
}

fn confidence(value: Option<&str>) -> Result<Option<f32>, NlsmlError> {
    let Some(raw) = value else {
        return Ok(None);
    };
    let v: f32 = raw
        .trim()
        .parse()
        .map_err(|_| NlsmlError::BadConfidence(raw.to_owned()))?;
    if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
        return Err(NlsmlError::BadConfidence(raw.to_owned()));
    }
    // RFC 6787 §9.6 writes 0.0-1.0; UniMRCP, FreeSWITCH and Asterisk also accept 0-100 and divide by 100.
    Ok(Some(if v > 1.0 { v / 100.0 } else { v }))
}

/// An element as a JSON value (module docs give the mapping).
fn value(el: &Element) -> Value {
    let has_elements = el.elements().next().is_some();
    if !has_elements && el.attributes.is_empty() {
        return Value::String(el.text().trim().to_owned());
    }
    let mut map = Map::new();
    for (k, v) in &el.attributes {
        map.insert(format!("@{k}"), Value::String(v.clone()));
    }
    let text = el.text();
    if !text.trim().is_empty() {
        map.insert("#text".to_owned(), Value::String(text.trim().to_owned()));
    }
    for child in el.elements() {
        let v = value(child);
        match map.get_mut(&child.name) {
            None => {
                map.insert(child.name.clone(), v);
            }
            Some(Value::Array(items)) if !child.name.starts_with(['@', '#']) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    Value::Object(map)
}

fn input(el: &Element) -> Result<Input, NlsmlError> {
    let mode = match el.attribute("mode") {
        None => None,
        Some(m) if m.eq_ignore_ascii_case("speech") => Some(InputMode::Speech),
        Some(m) if m.eq_ignore_ascii_case("dtmf") => Some(InputMode::Dtmf),
        Some(m) => return Err(NlsmlError::BadMode(m.to_owned())),
    };
    let content = if el.elements().any(|e| e.name == "nomatch") {
        InputContent::NoMatch
    } else if el.elements().any(|e| e.name == "noinput") {
        InputContent::NoInput
    } else {
        InputContent::Text(el.text().trim().to_owned())
    };
    Ok(Input {
        mode,
        confidence: confidence(el.attribute("confidence"))?,
        content,
    })
}

impl Nlsml {
    /// Parses a `<result>` document. Unknown elements and attributes are skipped; only the first `<instance>` and
    /// `<input>` of an interpretation are kept.
    pub fn parse(text: &str) -> Result<Self, NlsmlError> {
        if text.len() > MAX_NLSML_LEN {
            return Err(NlsmlError::TooLarge {
                len: text.len(),
                limit: MAX_NLSML_LEN,
            });
        }
        let root = tree(text)?;
        if root.name != "result" {
            return Err(NlsmlError::NotResult(root.name));
        }
        let mut interpretations = Vec::new();
        for el in root.elements().filter(|e| e.name == "interpretation") {
            interpretations.push(Interpretation {
                grammar: el.attribute("grammar").map(str::to_owned),
                confidence: confidence(el.attribute("confidence"))?,
                instance: el.elements().find(|e| e.name == "instance").map(value),
                input: el
                    .elements()
                    .find(|e| e.name == "input")
                    .map(input)
                    .transpose()?,
            });
        }
        Ok(Nlsml {
            grammar: root.attribute("grammar").map(str::to_owned),
            interpretations,
        })
    }
}
