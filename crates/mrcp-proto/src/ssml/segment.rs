//! Flattening a document into the ordered pieces an engine speaks one after another (the "render to plain
//! text plus pauses" of SSML 1.1 §1.2 for engines that do not take SSML).
//!
//! Each [`Segment::Speech`] carries the voice, language and prosody in effect for its text (SSML 1.1 §3.2:
//! inner elements override outer ones, unspecified properties are inherited). Marks and breaks sit between
//! speech segments, so an engine that speaks segment by segment places marks exactly.

use std::time::Duration;

use super::{
    Document, EmphasisLevel, Gender, Limits, Node, ProsodyLabel, ProsodyUnit, ProsodyValue, SayAs,
    Sign, SsmlError, SsmlErrorKind, Voice,
};

/// The voice properties asked for (SSML 1.1 §3.2.1, or the MRCP Voice-* headers, RFC 6787 §8.4.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VoiceSelection {
    /// Voice names, space-separated, preferred first.
    pub name: Option<String>,
    /// Gender.
    pub gender: Option<Gender>,
    /// Age in years.
    pub age: Option<u32>,
    /// Which of the matching voices, from 1.
    pub variant: Option<u32>,
    /// Languages the voice must speak, space-separated (SSML 1.1).
    pub languages: Option<String>,
}

impl VoiceSelection {
    /// `inner` over `self`: what `inner` specifies wins, the rest is inherited.
    fn merged(&self, inner: &Voice) -> Self {
        Self {
            name: inner.name.clone().or_else(|| self.name.clone()),
            gender: inner.gender.or(self.gender),
            age: inner.age.or(self.age),
            variant: inner.variant.or(self.variant),
            languages: inner.languages.clone().or_else(|| self.languages.clone()),
        }
    }
}

/// Prosody as factors of the voice's defaults (1.0 = the engine's normal rate, volume, pitch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveProsody {
    /// Speaking rate factor, 0.1–10.
    pub rate: f32,
    /// Amplitude factor, 0 (silent) – 4.
    pub volume: f32,
    /// Pitch factor, 0.25–4.
    pub pitch: f32,
}

impl Default for EffectiveProsody {
    fn default() -> Self {
        Self {
            rate: 1.0,
            volume: 1.0,
            pitch: 1.0,
        }
    }
}

/// Hertz taken as a voice's normal pitch to turn absolute and relative hertz into a factor.
const REFERENCE_PITCH_HZ: f32 = 120.0;

impl EffectiveProsody {
    /// Applies a `rate` value: keywords are fixed factors, a bare number multiplies the default rate, an
    /// unsigned percentage is a share of the default, a signed value changes the inherited rate by that
    /// percentage.
    pub fn apply_rate(&mut self, value: ProsodyValue) {
        self.rate = match value {
            ProsodyValue::Label(l) => match l {
                ProsodyLabel::XSlow => 0.5,
                ProsodyLabel::Slow => 0.75,
                ProsodyLabel::Fast => 1.35,
                ProsodyLabel::XFast => 1.75,
                _ => 1.0,
            },
            ProsodyValue::Number(n) => match n.sign {
                None if n.unit == ProsodyUnit::Percent => n.value / 100.0,
                None => n.value,
                Some(sign) => self.rate * (1.0 + signed(sign, n.value) / 100.0),
            },
        }
        .clamp(0.1, 10.0);
    }

    /// Applies a `volume` value: 0–100 absolute (100 = normal), signed numbers on that scale, decibels and
    /// percentages relative to the inherited volume.
    pub fn apply_volume(&mut self, value: ProsodyValue) {
        self.volume = match value {
            ProsodyValue::Label(l) => match l {
                ProsodyLabel::Silent => 0.0,
                ProsodyLabel::XSoft => 0.3,
                ProsodyLabel::Soft => 0.6,
                ProsodyLabel::Loud => 1.4,
                ProsodyLabel::XLoud => 1.8,
                _ => 1.0,
            },
            ProsodyValue::Number(n) => match (n.sign, n.unit) {
                (None, ProsodyUnit::Decibels) => 10f32.powf(n.value / 20.0),
                (None, _) => n.value / 100.0,
                (Some(s), ProsodyUnit::Decibels) => {
                    self.volume * 10f32.powf(signed(s, n.value) / 20.0)
                }
                (Some(s), ProsodyUnit::Percent) => self.volume * (1.0 + signed(s, n.value) / 100.0),
                (Some(s), _) => self.volume + signed(s, n.value) / 100.0,
            },
        }
        .clamp(0.0, 4.0);
    }

    /// Applies a `pitch` value: keywords are fixed factors, hertz are taken against a 120 Hz voice,
    /// semitones and percentages change the inherited pitch.
    pub fn apply_pitch(&mut self, value: ProsodyValue) {
        self.pitch = match value {
            ProsodyValue::Label(l) => match l {
                ProsodyLabel::XLow => 0.7,
                ProsodyLabel::Low => 0.85,
                ProsodyLabel::High => 1.15,
                ProsodyLabel::XHigh => 1.3,
                _ => 1.0,
            },
            ProsodyValue::Number(n) => match (n.sign, n.unit) {
                (None, ProsodyUnit::Percent) => n.value / 100.0,
                (None, _) => n.value / REFERENCE_PITCH_HZ,
                (Some(s), ProsodyUnit::Semitones) => {
                    self.pitch * 2f32.powf(signed(s, n.value) / 12.0)
                }
                (Some(s), ProsodyUnit::Percent) => self.pitch * (1.0 + signed(s, n.value) / 100.0),
                (Some(s), _) => self.pitch * (1.0 + signed(s, n.value) / REFERENCE_PITCH_HZ),
            },
        }
        .clamp(0.25, 4.0);
    }
}

fn signed(sign: Sign, value: f32) -> f32 {
    match sign {
        Sign::Plus => value,
        Sign::Minus => -value,
    }
}

/// What is in effect where a piece of text is: the request's defaults, then each enclosing element.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    /// The voice asked for.
    pub voice: VoiceSelection,
    /// The language (BCP 47), from `xml:lang` or Speech-Language.
    pub lang: Option<String>,
    /// The prosody.
    pub prosody: EffectiveProsody,
}

/// Text to speak, with what is in effect for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// The text, whitespace collapsed, `<sub>` and `<say-as>` already rendered; never empty.
    pub text: String,
    /// The voice asked for.
    pub voice: VoiceSelection,
    /// The language.
    pub lang: Option<String>,
    /// The prosody.
    pub prosody: EffectiveProsody,
}

/// One piece of a prompt, in speaking order.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Speak this.
    Speech(Speech),
    /// Silence (`<break>`).
    Break(Duration),
    /// A `<mark>` reached once everything before it has been heard.
    Mark(String),
    /// Play the recording at `src`; speak `fallback` if it cannot be played.
    Audio {
        /// The URI, as written (relative to [`Document::base`] if relative).
        src: String,
        /// What to speak instead.
        fallback: Vec<Segment>,
    },
}

/// Flattens a document into segments, starting from `ctx` (the request's Voice-*, Speech-Language and
/// Prosody-* headers); the document's own `xml:lang` and elements override it.
pub fn segments(doc: &Document, ctx: &Context, limits: &Limits) -> Result<Vec<Segment>, SsmlError> {
    let mut ctx = ctx.clone();
    if doc.lang.is_some() {
        ctx.lang.clone_from(&doc.lang);
    }
    let mut walker = Walker { limits, count: 0 };
    let mut out = Vec::new();
    walker.nodes(&doc.children, &ctx, &mut out)?;
    Ok(finish(out))
}

/// A `text/plain` body as one segment (none if it is only whitespace).
pub fn plain_text(text: &str, ctx: &Context, limits: &Limits) -> Result<Vec<Segment>, SsmlError> {
    if text.len() > limits.max_bytes {
        return Err(SsmlError::whole(SsmlErrorKind::TooLarge {
            len: text.len(),
            limit: limits.max_bytes,
        }));
    }
    let mut walker = Walker { limits, count: 0 };
    let mut out = Vec::new();
    walker.text(text, ctx, &mut out)?;
    Ok(finish(out))
}

struct Walker<'a> {
    limits: &'a Limits,
    count: usize,
}

impl Walker<'_> {
    fn push(&mut self, out: &mut Vec<Segment>, segment: Segment) -> Result<(), SsmlError> {
        self.count += 1;
        if self.count > self.limits.max_segments {
            return Err(SsmlError::whole(SsmlErrorKind::TooManySegments {
                limit: self.limits.max_segments,
            }));
        }
        out.push(segment);
        Ok(())
    }

    fn nodes(
        &mut self,
        nodes: &[Node],
        ctx: &Context,
        out: &mut Vec<Segment>,
    ) -> Result<(), SsmlError> {
        for node in nodes {
            self.node(node, ctx, out)?;
        }
        Ok(())
    }

    fn node(
        &mut self,
        node: &Node,
        ctx: &Context,
        out: &mut Vec<Segment>,
    ) -> Result<(), SsmlError> {
        match node {
            Node::Text(t) => self.text(t, ctx, out),
            Node::Voice(v) => {
                let mut inner = ctx.clone();
                inner.voice = ctx.voice.merged(v);
                if v.lang.is_some() {
                    inner.lang.clone_from(&v.lang);
                }
                self.nodes(&v.children, &inner, out)
            }
            Node::Prosody(p) => {
                let mut inner = ctx.clone();
                if let Some(r) = p.rate {
                    inner.prosody.apply_rate(r);
                }
                if let Some(v) = p.volume {
                    inner.prosody.apply_volume(v);
                }
                if let Some(v) = p.pitch {
                    inner.prosody.apply_pitch(v);
                }
                self.nodes(&p.children, &inner, out)
            }
            Node::Break(b) => {
                let pause = b
                    .time
                    .or(b.strength.map(|s| s.duration()))
                    .unwrap_or(Duration::from_millis(400));
                if pause.is_zero() {
                    return Ok(());
                }
                if let Some(Segment::Break(last)) = out.last_mut() {
                    *last += pause;
                    return Ok(());
                }
                self.push(out, Segment::Break(pause))
            }
            Node::Mark(name) => self.push(out, Segment::Mark(name.clone())),
            Node::SayAs(s) => self.text(&say_as(s), ctx, out),
            Node::Sub(s) => self.text(&s.alias, ctx, out),
            Node::Phoneme(p) => self.text(&p.text, ctx, out),
            Node::Emphasis(e) => {
                let mut inner = ctx.clone();
                let (rate, volume) = match e.level.unwrap_or(EmphasisLevel::Moderate) {
                    EmphasisLevel::Strong => (0.9, 1.25),
                    EmphasisLevel::Moderate => (0.95, 1.1),
                    EmphasisLevel::None => (1.0, 1.0),
                    EmphasisLevel::Reduced => (1.1, 0.8),
                };
                inner.prosody.rate = (inner.prosody.rate * rate).clamp(0.1, 10.0);
                inner.prosody.volume = (inner.prosody.volume * volume).clamp(0.0, 4.0);
                self.nodes(&e.children, &inner, out)
            }
            Node::Paragraph(b) | Node::Sentence(b) => {
                let mut inner = ctx.clone();
                if b.lang.is_some() {
                    inner.lang.clone_from(&b.lang);
                }
                self.text(" ", ctx, out)?;
                self.nodes(&b.children, &inner, out)?;
                end_sentence(out);
                Ok(())
            }
            Node::Audio(a) => {
                let mut fallback = Vec::new();
                self.nodes(&a.children, ctx, &mut fallback)?;
                let fallback = finish(fallback);
                self.push(
                    out,
                    Segment::Audio {
                        src: a.src.clone(),
                        fallback,
                    },
                )
            }
            Node::Lang(l) => {
                let mut inner = ctx.clone();
                inner.lang = Some(l.lang.clone());
                self.nodes(&l.children, &inner, out)
            }
        }
    }

    /// Adds text in `ctx`, joining it to the previous speech segment when nothing changed in between.
    fn text(&mut self, text: &str, ctx: &Context, out: &mut Vec<Segment>) -> Result<(), SsmlError> {
        let collapsed = collapse_whitespace(text);
        if collapsed.is_empty() {
            return Ok(());
        }
        if let Some(Segment::Speech(last)) = out.last_mut()
            && last.voice == ctx.voice
            && last.lang == ctx.lang
            && last.prosody == ctx.prosody
        {
            if !(last.text.ends_with(' ') && collapsed.starts_with(' ')) {
                last.text.push_str(&collapsed);
            } else {
                last.text.push_str(collapsed.trim_start());
            }
            return Ok(());
        }
        if collapsed == " " {
            // A lone separator between segments says nothing on its own.
            return Ok(());
        }
        self.push(
            out,
            Segment::Speech(Speech {
                text: collapsed,
                voice: ctx.voice.clone(),
                lang: ctx.lang.clone(),
                prosody: ctx.prosody,
            }),
        )
    }
}

/// Runs of whitespace become one space; leading and trailing runs are kept as one space so that words of
/// adjacent runs stay apart.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
    out
}

/// Ends a sentence or paragraph with punctuation, so the engine pauses and intones as for a full stop.
fn end_sentence(out: &mut [Segment]) {
    if let Some(Segment::Speech(last)) = out.last_mut() {
        let trimmed = last.text.trim_end();
        if !trimmed.ends_with(['.', '!', '?', ';', ':', '。', '！', '？']) {
            let len = trimmed.len();
            last.text.truncate(len);
            last.text.push_str(". ");
        }
    }
}

/// Trims speech segments and drops the empty ones.
fn finish(segments: Vec<Segment>) -> Vec<Segment> {
    segments
        .into_iter()
        .filter_map(|s| match s {
            Segment::Speech(mut speech) => {
                let trimmed = speech.text.trim();
                if trimmed.is_empty() {
                    return None;
                }
                speech.text = trimmed.to_owned();
                Some(Segment::Speech(speech))
            }
            other => Some(other),
        })
        .collect()
}

/// Renders `<say-as>` for engines that read plain text (SSML 1.1 §3.1.9; the `interpret-as` values of the
/// W3C say-as note the issue names: characters, digits, telephone, date).
fn say_as(s: &SayAs) -> String {
    let spaced = |text: &str| -> String {
        let mut out = String::new();
        for c in text.chars().filter(|c| !c.is_whitespace()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push(c);
        }
        out
    };
    match s.interpret_as.as_str() {
        "characters" | "spell-out" | "letters" | "digits" => spaced(&s.text),
        "telephone" => {
            // Digits one by one, each group of the written number a phrase of its own.
            let groups: Vec<String> = s
                .text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+'))
                .filter(|g| !g.is_empty())
                .map(|g| match g.strip_prefix('+') {
                    Some(rest) => format!("plus {}", spaced(rest)),
                    None => spaced(g),
                })
                .collect();
            groups.join(", ")
        }
        "date" => date(&s.text, s.format.as_deref()).unwrap_or_else(|| s.text.clone()),
        _ => s.text.clone(),
    }
}

/// A numeric date in the given field order (`ymd`, `mdy`, `dmy`; ISO order when missing) as words an
/// engine reads naturally ("March 5, 2024"); `None` when it does not look like one.
fn date(text: &str, format: Option<&str>) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let fields: Vec<u32> = text
        .split(['-', '/', '.'])
        .map(|f| f.trim().parse().ok())
        .collect::<Option<_>>()?;
    let [a, b, c] = fields.as_slice() else {
        return None;
    };
    let (y, m, d) = match format.unwrap_or("ymd") {
        "ymd" => (*a, *b, *c),
        "mdy" => (*c, *a, *b),
        "dmy" => (*c, *b, *a),
        _ => return None,
    };
    let month = MONTHS.get(usize::try_from(m.checked_sub(1)?).ok()?)?;
    (1..=31).contains(&d).then(|| format!("{month} {d}, {y}"))
}
