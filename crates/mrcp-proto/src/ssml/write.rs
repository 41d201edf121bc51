//! The SSML writer: a [`Document`] back to `application/ssml+xml` that [`super::parse`] reads as the same
//! document (W3C SSML 1.1 §2.1).

use std::fmt::Write as _;

use super::{Document, Node, ProsodyValue, SSML_NAMESPACE, Sign};

impl Document {
    /// Writes the document as SSML, with the SSML namespace on `<speak>`.
    ///
    /// ```
    /// use mrcp_proto::ssml;
    /// let doc = ssml::parse("<speak version=\"1.0\">Fish &amp; chips<mark name=\"m1\"/></speak>")?;
    /// assert_eq!(ssml::parse(&doc.to_xml())?, doc);
    /// # Ok::<(), ssml::SsmlError>(())
    /// ```
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("<speak");
        attr(&mut out, "version", self.version.as_deref());
        attr(&mut out, "xmlns", Some(SSML_NAMESPACE));
        attr(&mut out, "xml:lang", self.lang.as_deref());
        attr(&mut out, "xml:base", self.base.as_deref());
        out.push('>');
        for uri in &self.lexicons {
            out.push_str("<lexicon");
            attr(&mut out, "uri", Some(uri));
            out.push_str("/>");
        }
        write_nodes(&mut out, &self.children);
        out.push_str("</speak>");
        out
    }
}

fn write_nodes(out: &mut String, nodes: &[Node]) {
    for node in nodes {
        write_node(out, node);
    }
}

fn write_node(out: &mut String, node: &Node) {
    match node {
        Node::Text(text) => escape(out, text, false),
        Node::Voice(v) => {
            out.push_str("<voice");
            attr(out, "name", v.name.as_deref());
            attr(out, "gender", v.gender.map(|g| g.as_str()));
            attr(out, "age", v.age.map(|a| a.to_string()).as_deref());
            attr(out, "variant", v.variant.map(|a| a.to_string()).as_deref());
            attr(out, "languages", v.languages.as_deref());
            attr(out, "xml:lang", v.lang.as_deref());
            container(out, "voice", &v.children);
        }
        Node::Prosody(p) => {
            out.push_str("<prosody");
            attr(out, "rate", p.rate.map(prosody).as_deref());
            attr(out, "volume", p.volume.map(prosody).as_deref());
            attr(out, "pitch", p.pitch.map(prosody).as_deref());
            container(out, "prosody", &p.children);
        }
        Node::Break(b) => {
            out.push_str("<break");
            let time = b.time.map(|t| format!("{}ms", t.as_millis()));
            attr(out, "time", time.as_deref());
            attr(out, "strength", b.strength.map(|s| s.as_str()));
            out.push_str("/>");
        }
        Node::Mark(name) => {
            out.push_str("<mark");
            attr(out, "name", Some(name));
            out.push_str("/>");
        }
        Node::SayAs(s) => {
            out.push_str("<say-as");
            attr(out, "interpret-as", Some(&s.interpret_as));
            attr(out, "format", s.format.as_deref());
            attr(out, "detail", s.detail.as_deref());
            text_element(out, "say-as", &s.text);
        }
        Node::Sub(s) => {
            out.push_str("<sub");
            attr(out, "alias", Some(&s.alias));
            text_element(out, "sub", &s.text);
        }
        Node::Phoneme(p) => {
            out.push_str("<phoneme");
            attr(out, "alphabet", p.alphabet.as_deref());
            attr(out, "ph", Some(&p.ph));
            text_element(out, "phoneme", &p.text);
        }
        Node::Emphasis(e) => {
            out.push_str("<emphasis");
            attr(out, "level", e.level.map(|l| l.as_str()));
            container(out, "emphasis", &e.children);
        }
        Node::Paragraph(b) | Node::Sentence(b) => {
            let name = if matches!(node, Node::Paragraph(_)) {
                "p"
            } else {
                "s"
            };
            out.push('<');
            out.push_str(name);
            attr(out, "xml:lang", b.lang.as_deref());
            container(out, name, &b.children);
        }
        Node::Audio(a) => {
            out.push_str("<audio");
            attr(out, "src", Some(&a.src));
            container(out, "audio", &a.children);
        }
        Node::Lang(l) => {
            out.push_str("<lang");
            attr(out, "xml:lang", Some(&l.lang));
            container(out, "lang", &l.children);
        }
    }
}

/// Closes the start tag, writes the children and the end tag.
fn container(out: &mut String, name: &str, children: &[Node]) {
    out.push('>');
    write_nodes(out, children);
    let _ = write!(out, "</{name}>");
}

fn text_element(out: &mut String, name: &str, text: &str) {
    out.push('>');
    escape(out, text, false);
    let _ = write!(out, "</{name}>");
}

fn attr(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        let _ = write!(out, " {name}=\"");
        escape(out, value, true);
        out.push('"');
    }
}

fn prosody(value: ProsodyValue) -> String {
    match value {
        ProsodyValue::Label(l) => l.as_str().to_owned(),
        ProsodyValue::Number(n) => {
            let sign = match n.sign {
                Some(Sign::Plus) => "+",
                Some(Sign::Minus) => "-",
                None => "",
            };
            // f32's Display is the shortest decimal that reads back as the same value, never an exponent.
            format!("{sign}{}{}", n.value, n.unit.as_str())
        }
    }
}

/// Escapes markup characters, and, as character references, the whitespace XML would otherwise normalize:
/// CR in text (XML 1.0 §2.11) and TAB, LF, CR in attribute values (§3.3.3). quick-xml's `escape` leaves
/// whitespace alone, so the round trip needs this.
fn escape(out: &mut String, text: &str, in_attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
}
