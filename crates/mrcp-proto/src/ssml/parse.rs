//! The SSML reader (W3C SSML 1.0 §3, SSML 1.1 §3) on quick-xml events, with the limits of [`Limits`].

use std::time::Duration;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use super::value::{Attr, prosody_value, time_millis};
use super::{
    Audio, Block, Break, BreakStrength, Document, Emphasis, EmphasisLevel, Gender, Lang, Limits,
    Node, Phoneme, Prosody, SayAs, SsmlError, SsmlErrorKind, Sub, Voice,
};

/// Parses an SSML document with the default [`Limits`].
///
/// ```
/// use mrcp_proto::ssml::{self, Node};
/// let doc = ssml::parse(r#"<speak version="1.0" xml:lang="en-US">Hello <break time="300ms"/> world</speak>"#)?;
/// assert_eq!(doc.lang.as_deref(), Some("en-US"));
/// assert!(matches!(doc.children[1], Node::Break(_)));
/// # Ok::<(), ssml::SsmlError>(())
/// ```
pub fn parse(input: &str) -> Result<Document, SsmlError> {
    parse_with(input, &Limits::default())
}

/// Parses an SSML document within `limits`.
pub fn parse_with(input: &str, limits: &Limits) -> Result<Document, SsmlError> {
    if input.len() > limits.max_bytes {
        return Err(SsmlError::whole(SsmlErrorKind::TooLarge {
            len: input.len(),
            limit: limits.max_bytes,
        }));
    }
    Parser {
        input,
        limits,
        reader: Reader::from_str(input),
        stack: Vec::new(),
        nodes: 0,
        root: None,
    }
    .run()
}

/// An element being read, and what it holds so far.
enum Open {
    Speak(Document),
    Voice(Voice),
    Prosody(Prosody),
    Emphasis(Emphasis),
    Paragraph(Block),
    Sentence(Block),
    Audio(Audio),
    Lang(Lang),
    SayAs(SayAs),
    Sub(Sub),
    Phoneme(Phoneme),
    /// `<break>` or `<mark>` written with an end tag: nothing may come before it.
    Empty(Node),
    /// `<lexicon uri>` (empty, a child of `<speak>`).
    Lexicon(String),
    /// A vendor element in another namespace: dropped, its content kept.
    Transparent,
    /// `<meta>`, `<metadata>`, `<desc>` and everything inside: skipped.
    Skip,
}

struct Frame {
    open: Open,
    name: &'static str,
    children: Vec<Node>,
}

struct Parser<'a> {
    input: &'a str,
    limits: &'a Limits,
    reader: Reader<&'a [u8]>,
    stack: Vec<Frame>,
    nodes: usize,
    root: Option<Document>,
}

impl<'a> Parser<'a> {
    fn run(mut self) -> Result<Document, SsmlError> {
        loop {
            let before = self.position();
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = usize::try_from(self.reader.error_position()).unwrap_or(usize::MAX);
                    return Err(SsmlError::at(
                        SsmlErrorKind::Xml {
                            reason: e.to_string(),
                        },
                        self.input,
                        at,
                    ));
                }
            };
            match event {
                Event::Start(e) => self.start(&e, before, false)?,
                Event::Empty(e) => self.start(&e, before, true)?,
                Event::End(_) => self.end(before)?,
                Event::Text(t) => self.text(&t.xml_content(XmlVersion::Implicit1_0), before)?,
                Event::CData(t) => self.text(&t.xml_content(XmlVersion::Implicit1_0), before)?,
                Event::GeneralRef(r) => {
                    let resolved = self.reference(&r, before)?;
                    self.text(resolved.encode_utf8(&mut [0; 4]), before)?;
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(frame) = self.stack.last() {
            let kind = SsmlErrorKind::Xml {
                reason: format!("missing </{}>", frame.name),
            };
            return Err(SsmlError::at(kind, self.input, self.input.len()));
        }
        self.root
            .ok_or_else(|| SsmlError::whole(SsmlErrorKind::NoRoot))
    }

    fn position(&self) -> usize {
        usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX)
    }

    fn error(&self, kind: SsmlErrorKind, at: usize) -> SsmlError {
        SsmlError::at(kind, self.input, at)
    }

    fn count_node(&mut self, at: usize) -> Result<(), SsmlError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(self.error(
                SsmlErrorKind::TooManyNodes {
                    limit: self.limits.max_nodes,
                },
                at,
            ));
        }
        Ok(())
    }

    /// A character or predefined entity reference; DTD entities are refused, never expanded.
    fn reference(&self, r: &BytesRef<'_>, at: usize) -> Result<char, SsmlError> {
        if r.is_char_ref() {
            return match r.resolve_char_ref() {
                Ok(Some(c)) if is_xml_char(c) => Ok(c),
                _ => Err(self.error(
                    SsmlErrorKind::InvalidCharRef {
                        reference: r.to_string(),
                    },
                    at,
                )),
            };
        }
        match &**r {
            "lt" => Ok('<'),
            "gt" => Ok('>'),
            "amp" => Ok('&'),
            "apos" => Ok('\''),
            "quot" => Ok('"'),
            other => Err(self.error(
                SsmlErrorKind::UnknownEntity {
                    name: other.to_owned(),
                },
                at,
            )),
        }
    }

    fn text(&mut self, text: &str, at: usize) -> Result<(), SsmlError> {
        // An empty run (`<![CDATA[]]>`) says nothing; as a node it would not survive writing and reading back.
        if text.is_empty() {
            return Ok(());
        }
        let Some(frame) = self.stack.last_mut() else {
            if text.trim().is_empty() {
                return Ok(());
            }
            let kind = if self.root.is_some() {
                SsmlErrorKind::AfterRoot
            } else {
                SsmlErrorKind::NoRoot
            };
            return Err(self.error(kind, at));
        };
        match frame.open {
            Open::Skip => return Ok(()),
            Open::Empty(_) | Open::Lexicon(_) if text.trim().is_empty() => return Ok(()),
            Open::Empty(_) | Open::Lexicon(_) => {
                let kind = SsmlErrorKind::Misplaced {
                    element: "text".to_owned(),
                    parent: frame.name,
                };
                return Err(self.error(kind, at));
            }
            _ => {}
        }
        if let Some(Node::Text(last)) = frame.children.last_mut() {
            last.push_str(text);
            return Ok(());
        }
        frame.children.push(Node::Text(text.to_owned()));
        self.count_node(at)
    }

    fn start(&mut self, e: &BytesStart<'_>, at: usize, empty: bool) -> Result<(), SsmlError> {
        let qname = e.name();
        let full = qname.as_ref();
        let parent = self
            .stack
            .last()
            .map(|f| (f.name, matches!(f.open, Open::Skip)));
        if self.stack.is_empty() && self.root.is_some() {
            return Err(self.error(SsmlErrorKind::AfterRoot, at));
        }
        if self.stack.len() >= self.limits.max_depth {
            let kind = SsmlErrorKind::TooDeep {
                limit: self.limits.max_depth,
            };
            return Err(self.error(kind, at));
        }
        self.count_node(at)?;
        let open = match parent {
            None if full == "speak" => Open::Speak(self.speak(e, at)?),
            None => {
                let kind = SsmlErrorKind::NotSpeak {
                    found: full.to_owned(),
                };
                return Err(self.error(kind, at));
            }
            Some((_, true)) => Open::Skip,
            Some((parent, false)) => self.element(e, full, parent, at)?,
        };
        let frame = Frame {
            name: static_name(full),
            open,
            children: Vec::new(),
        };
        if let Some(top) = self.stack.last()
            && matches!(top.open, Open::Empty(_) | Open::Lexicon(_))
        {
            let kind = SsmlErrorKind::Misplaced {
                element: full.to_owned(),
                parent: top.name,
            };
            return Err(self.error(kind, at));
        }
        self.stack.push(frame);
        if empty { self.end(at) } else { Ok(()) }
    }

    fn element(
        &self,
        e: &BytesStart<'_>,
        full: &str,
        parent: &'static str,
        at: usize,
    ) -> Result<Open, SsmlError> {
        let text_only = matches!(parent, "say-as" | "sub" | "phoneme");
        let open = match full {
            _ if full.contains(':') => return Ok(Open::Transparent),
            "meta" | "metadata" | "desc" => Open::Skip,
            _ if text_only => {
                let kind = SsmlErrorKind::Misplaced {
                    element: full.to_owned(),
                    parent,
                };
                return Err(self.error(kind, at));
            }
            // SSML 1.1 §3.1.7, §3.1.5.2: tokens and lexicon lookups only guide pronunciation.
            "token" | "w" | "lookup" => Open::Transparent,
            "lexicon" if parent == "speak" => {
                Open::Lexicon(self.required(e, "lexicon", "uri", at)?)
            }
            "voice" => Open::Voice(self.voice(e, at)?),
            "prosody" => Open::Prosody(self.prosody(e, at)?),
            "break" => Open::Empty(Node::Break(self.break_(e, at)?)),
            "mark" => Open::Empty(Node::Mark(self.required(e, "mark", "name", at)?)),
            "say-as" => Open::SayAs(self.say_as(e, at)?),
            "sub" => Open::Sub(Sub {
                alias: self.required(e, "sub", "alias", at)?,
                text: String::new(),
            }),
            "phoneme" => Open::Phoneme(self.phoneme(e, at)?),
            "emphasis" => Open::Emphasis(self.emphasis(e, at)?),
            "p" | "s" => {
                let mut block = Block::default();
                for (key, value) in self.attributes(e, at)? {
                    if key == "xml:lang" {
                        block.lang = Some(value);
                    }
                }
                if full == "p" {
                    Open::Paragraph(block)
                } else {
                    Open::Sentence(block)
                }
            }
            "audio" => Open::Audio(Audio {
                src: self.required(e, "audio", "src", at)?,
                children: Vec::new(),
            }),
            "lang" => Open::Lang(Lang {
                lang: self.required(e, "lang", "xml:lang", at)?,
                children: Vec::new(),
            }),
            "speak" | "lexicon" => {
                let kind = SsmlErrorKind::Misplaced {
                    element: full.to_owned(),
                    parent,
                };
                return Err(self.error(kind, at));
            }
            other => {
                let kind = SsmlErrorKind::UnknownElement {
                    name: other.to_owned(),
                };
                return Err(self.error(kind, at));
            }
        };
        Ok(open)
    }

    fn end(&mut self, at: usize) -> Result<(), SsmlError> {
        let Some(frame) = self.stack.pop() else {
            // quick-xml checks end names, so an unmatched end tag never reaches here.
            return Err(self.error(SsmlErrorKind::AfterRoot, at));
        };
        let children = frame.children;
        let node = match frame.open {
            Open::Speak(mut doc) => {
                doc.children = children;
                self.root = Some(doc);
                return Ok(());
            }
            Open::Skip => return Ok(()),
            Open::Lexicon(uri) => {
                if let Some(Frame {
                    open: Open::Speak(doc),
                    ..
                }) = self.stack.last_mut()
                {
                    doc.lexicons.push(uri);
                }
                return Ok(());
            }
            Open::Transparent => {
                for child in children {
                    self.push_child(child);
                }
                return Ok(());
            }
            Open::Empty(node) => node,
            Open::Voice(mut v) => {
                v.children = children;
                Node::Voice(v)
            }
            Open::Prosody(mut p) => {
                p.children = children;
                Node::Prosody(p)
            }
            Open::Emphasis(mut e) => {
                e.children = children;
                Node::Emphasis(e)
            }
            Open::Paragraph(mut b) => {
                b.children = children;
                Node::Paragraph(b)
            }
            Open::Sentence(mut b) => {
                b.children = children;
                Node::Sentence(b)
            }
            Open::Audio(mut a) => {
                a.children = children;
                Node::Audio(a)
            }
            Open::Lang(mut l) => {
                l.children = children;
                Node::Lang(l)
            }
            Open::SayAs(mut s) => {
                s.text = text_of(children);
                Node::SayAs(s)
            }
            Open::Sub(mut s) => {
                s.text = text_of(children);
                Node::Sub(s)
            }
            Open::Phoneme(mut p) => {
                p.text = text_of(children);
                Node::Phoneme(p)
            }
        };
        self.push_child(node);
        Ok(())
    }

    /// Adds a finished node to the open element, merging text runs that a dropped element separated.
    fn push_child(&mut self, node: Node) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        match (frame.children.last_mut(), node) {
            (Some(Node::Text(last)), Node::Text(more)) => last.push_str(&more),
            (_, node) => frame.children.push(node),
        }
    }

    /// The element's attributes in no namespace plus `xml:*`, values normalized (XML 1.0 §3.3.3);
    /// `xmlns` declarations and attributes of other namespaces are left out.
    fn attributes(
        &self,
        e: &BytesStart<'_>,
        at: usize,
    ) -> Result<Vec<(String, String)>, SsmlError> {
        let mut out = Vec::new();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| {
                self.error(
                    SsmlErrorKind::Xml {
                        reason: err.to_string(),
                    },
                    at,
                )
            })?;
            let key = attr.key.as_ref();
            if key == "xmlns" || (key.contains(':') && !key.starts_with("xml:")) {
                continue;
            }
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| {
                    self.error(
                        SsmlErrorKind::Xml {
                            reason: err.to_string(),
                        },
                        at,
                    )
                })?;
            out.push((key.to_owned(), value.into_owned()));
        }
        Ok(out)
    }

    fn required(
        &self,
        e: &BytesStart<'_>,
        element: &'static str,
        attribute: &'static str,
        at: usize,
    ) -> Result<String, SsmlError> {
        self.attributes(e, at)?
            .into_iter()
            .find(|(k, _)| k == attribute)
            .map(|(_, v)| v)
            .ok_or_else(|| self.error(SsmlErrorKind::MissingAttribute { element, attribute }, at))
    }

    fn speak(&self, e: &BytesStart<'_>, at: usize) -> Result<Document, SsmlError> {
        let mut doc = Document::default();
        for (key, value) in self.attributes(e, at)? {
            match key.as_str() {
                "version" => doc.version = Some(value),
                "xml:lang" => doc.lang = Some(value),
                "xml:base" => doc.base = Some(value),
                _ => {}
            }
        }
        Ok(doc)
    }

    fn voice(&self, e: &BytesStart<'_>, at: usize) -> Result<Voice, SsmlError> {
        let mut voice = Voice::default();
        for (key, value) in self.attributes(e, at)? {
            match key.as_str() {
                "name" => voice.name = Some(value),
                "gender" => {
                    voice.gender = Some(match value.as_str() {
                        "male" => Gender::Male,
                        "female" => Gender::Female,
                        "neutral" => Gender::Neutral,
                        _ => {
                            return Err(self.invalid(
                                "voice",
                                "gender",
                                value,
                                "male, female or neutral",
                                at,
                            ));
                        }
                    })
                }
                "age" => voice.age = Some(self.number("voice", "age", value, at)?),
                "variant" => voice.variant = Some(self.number("voice", "variant", value, at)?),
                "languages" => voice.languages = Some(value),
                "xml:lang" => voice.lang = Some(value),
                _ => {}
            }
        }
        Ok(voice)
    }

    fn prosody(&self, e: &BytesStart<'_>, at: usize) -> Result<Prosody, SsmlError> {
        let mut prosody = Prosody::default();
        for (key, value) in self.attributes(e, at)? {
            match key.as_str() {
                "rate" => {
                    prosody.rate = Some(prosody_value(&value, Attr::Rate).ok_or_else(|| {
                        self.invalid("prosody", "rate", value, Attr::Rate.expected(), at)
                    })?)
                }
                "volume" => {
                    prosody.volume = Some(prosody_value(&value, Attr::Volume).ok_or_else(|| {
                        self.invalid("prosody", "volume", value, Attr::Volume.expected(), at)
                    })?)
                }
                "pitch" => {
                    prosody.pitch = Some(prosody_value(&value, Attr::Pitch).ok_or_else(|| {
                        self.invalid("prosody", "pitch", value, Attr::Pitch.expected(), at)
                    })?)
                }
                _ => {}
            }
        }
        Ok(prosody)
    }

    fn break_(&self, e: &BytesStart<'_>, at: usize) -> Result<Break, SsmlError> {
        let mut brk = Break::default();
        for (key, value) in self.attributes(e, at)? {
            match key.as_str() {
                "time" => {
                    let Some(millis) = time_millis(&value) else {
                        return Err(self.invalid(
                            "break",
                            "time",
                            value,
                            "a time such as 500ms or 1.5s",
                            at,
                        ));
                    };
                    let limit_millis = self.limits.max_break.as_millis();
                    if millis > limit_millis {
                        return Err(self.error(
                            SsmlErrorKind::BreakTooLong {
                                millis,
                                limit_millis,
                            },
                            at,
                        ));
                    }
                    // Bounded by max_break above, which is a Duration: the conversion cannot fail.
                    brk.time = Some(Duration::from_millis(
                        u64::try_from(millis).unwrap_or(u64::MAX),
                    ));
                }
                "strength" => {
                    brk.strength = Some(
                        BreakStrength::ALL
                            .into_iter()
                            .find(|s| s.as_str() == value)
                            .ok_or_else(|| {
                                self.invalid(
                                    "break",
                                    "strength",
                                    value,
                                    "none, x-weak, weak, medium, strong or x-strong",
                                    at,
                                )
                            })?,
                    )
                }
                _ => {}
            }
        }
        Ok(brk)
    }

    fn say_as(&self, e: &BytesStart<'_>, at: usize) -> Result<SayAs, SsmlError> {
        let mut say_as = SayAs::default();
        let mut interpret_as = None;
        for (key, value) in self.attributes(e, at)? {
            match key.as_str() {
                "interpret-as" => interpret_as = Some(value),
                "format" => say_as.format = Some(value),
                "detail" => say_as.detail = Some(value),
                _ => {}
            }
        }
        say_as.interpret_as = interpret_as.ok_or_else(|| {
            self.error(
                SsmlErrorKind::MissingAttribute {
                    element: "say-as",
                    attribute: "interpret-as",
                },
                at,
            )
        })?;
        Ok(say_as)
    }

    fn phoneme(&self, e: &BytesStart<'_>, at: usize) -> Result<Phoneme, SsmlError> {
        let mut phoneme = Phoneme::default();
        let mut ph = None;
        for (key, value) in self.attributes(e, at)? {
            match key.as_str() {
                "ph" => ph = Some(value),
                "alphabet" => phoneme.alphabet = Some(value),
                _ => {}
            }
        }
        phoneme.ph = ph.ok_or_else(|| {
            self.error(
                SsmlErrorKind::MissingAttribute {
                    element: "phoneme",
                    attribute: "ph",
                },
                at,
            )
        })?;
        Ok(phoneme)
    }

    fn emphasis(&self, e: &BytesStart<'_>, at: usize) -> Result<Emphasis, SsmlError> {
        let mut emphasis = Emphasis::default();
        for (key, value) in self.attributes(e, at)? {
            if key == "level" {
                emphasis.level = Some(
                    EmphasisLevel::ALL
                        .into_iter()
                        .find(|l| l.as_str() == value)
                        .ok_or_else(|| {
                            self.invalid(
                                "emphasis",
                                "level",
                                value,
                                "strong, moderate, none or reduced",
                                at,
                            )
                        })?,
                );
            }
        }
        Ok(emphasis)
    }

    fn number(
        &self,
        element: &'static str,
        attribute: &'static str,
        value: String,
        at: usize,
    ) -> Result<u32, SsmlError> {
        match value.parse::<u32>() {
            Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(self.invalid(element, attribute, value, "a non-negative integer", at)),
        }
    }

    fn invalid(
        &self,
        element: &'static str,
        attribute: &'static str,
        value: String,
        expected: &'static str,
        at: usize,
    ) -> SsmlError {
        self.error(
            SsmlErrorKind::InvalidAttribute {
                element,
                attribute,
                value,
                expected,
            },
            at,
        )
    }
}

/// Element names for frames and errors; only SSML's own names reach `Misplaced::parent`.
fn static_name(name: &str) -> &'static str {
    const NAMES: [&str; 17] = [
        "speak", "voice", "prosody", "break", "mark", "say-as", "sub", "phoneme", "emphasis", "p",
        "s", "audio", "lang", "meta", "metadata", "desc", "lexicon",
    ];
    NAMES.into_iter().find(|n| *n == name).unwrap_or("element")
}

fn text_of(children: Vec<Node>) -> String {
    children
        .into_iter()
        .filter_map(|n| match n {
            Node::Text(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// XML 1.0 §2.2 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}
