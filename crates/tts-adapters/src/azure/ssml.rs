//! The SSML body of one Azure TTS request, and the cutting of a prompt into requests at its marks.
//!
//! Azure's REST TTS takes SSML with every piece of text inside a `<voice name="…">` (Microsoft's
//! "Speech Synthesis Markup Language" reference: `speak` needs `version`, `xmlns` and `xml:lang`; `voice`,
//! `prosody` and `break` are supported). It reports no bookmarks over REST, so a prompt with `<mark>`s is
//! cut there: each part is one request, and the mark is reported between their audio.

use std::fmt::Write as _;

use mrcp_proto::ssml::{Segment, Speech};

/// One part of a prompt, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Speech and pauses for one request.
    Request(Vec<Segment>),
    /// A mark between requests.
    Mark(String),
}

/// Cuts segments at their marks; recordings (`<audio>`) are spoken as their fallback text.
pub fn parts(segments: Vec<Segment>) -> Vec<Part> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut flat = Vec::new();
    flatten(segments, &mut flat);
    for segment in flat {
        match segment {
            Segment::Mark(name) => {
                if !current.is_empty() {
                    out.push(Part::Request(std::mem::take(&mut current)));
                }
                out.push(Part::Mark(name));
            }
            other => current.push(other),
        }
    }
    if !current.is_empty() {
        out.push(Part::Request(current));
    }
    out
}

fn flatten(segments: Vec<Segment>, out: &mut Vec<Segment>) {
    for s in segments {
        match s {
            Segment::Audio { fallback, .. } => flatten(fallback, out),
            other => out.push(other),
        }
    }
}

/// Escapes text for XML content and attribute values.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// The voice to use for a piece of speech: the first name asked for, else the configured default.
fn voice_of<'a>(speech: &'a Speech, default: &'a str) -> &'a str {
    speech
        .voice
        .name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .unwrap_or(default)
}

/// The SSML of one request. `default_voice` and `default_language` apply where the segments name none.
pub fn request_body(segments: &[Segment], default_voice: &str, default_language: &str) -> String {
    let lang = segments
        .iter()
        .find_map(|s| match s {
            Segment::Speech(sp) => sp.lang.as_deref(),
            _ => None,
        })
        .unwrap_or(default_language);
    let mut out = String::with_capacity(256);
    out.push_str(
        "<speak version=\"1.0\" xmlns=\"http://www.w3.org/2001/10/synthesis\" xml:lang=\"",
    );
    escape(&mut out, lang);
    out.push_str("\">");
    let mut voice = default_voice;
    for segment in segments {
        match segment {
            Segment::Speech(sp) => {
                voice = voice_of(sp, default_voice);
                out.push_str("<voice name=\"");
                escape(&mut out, voice);
                out.push_str("\">");
                let p = sp.prosody;
                let prosody = (p.rate - 1.0).abs() > 0.01 || (p.volume - 1.0).abs() > 0.01;
                if prosody {
                    // Relative changes in percent, as Azure reads them.
                    let _ = write!(
                        out,
                        "<prosody rate=\"{:+.0}%\" volume=\"{:+.0}%\">",
                        (p.rate - 1.0) * 100.0,
                        (p.volume.min(2.0) - 1.0) * 100.0
                    );
                }
                escape(&mut out, &sp.text);
                if prosody {
                    out.push_str("</prosody>");
                }
                out.push_str("</voice>");
            }
            Segment::Break(d) => {
                out.push_str("<voice name=\"");
                escape(&mut out, voice);
                // Azure caps a break at 5000 ms; longer ones are clipped by the service.
                let _ = write!(out, "\"><break time=\"{}ms\"/></voice>", d.as_millis());
            }
            Segment::Mark(_) | Segment::Audio { .. } => {}
        }
    }
    out.push_str("</speak>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mrcp_proto::ssml::{self, Context, Limits};

    fn segments(xml: &str) -> Vec<Segment> {
        let doc = ssml::parse(xml).expect("ssml");
        ssml::segments(&doc, &Context::default(), &Limits::default()).expect("segments")
    }

    #[test]
    fn marks_cut_the_prompt_into_requests() {
        let p = parts(segments(
            r#"<speak xml:lang="en-US">Hello <mark name="m1"/> world</speak>"#,
        ));
        assert_eq!(p.len(), 3);
        assert!(matches!(&p[1], Part::Mark(m) if m == "m1"));
        let Part::Request(first) = &p[0] else {
            panic!("not a request")
        };
        let body = request_body(first, "en-US-AvaMultilingualNeural", "en-US");
        assert!(body.starts_with("<speak version=\"1.0\" xmlns=\"http://www.w3.org/2001/10/synthesis\" xml:lang=\"en-US\">"));
        assert!(body.contains("<voice name=\"en-US-AvaMultilingualNeural\">Hello</voice>"));
    }

    #[test]
    fn voices_prosody_and_breaks_are_written_and_text_escaped() {
        let s = segments(
            r#"<speak xml:lang="en-GB"><voice name="en-GB-SoniaNeural"><prosody rate="fast">Fish &amp; chips</prosody></voice><break time="300ms"/></speak>"#,
        );
        let body = request_body(&s, "dflt", "en-US");
        assert!(body.contains("xml:lang=\"en-GB\""), "{body}");
        assert!(
            body.contains("<voice name=\"en-GB-SoniaNeural\"><prosody rate=\"+"),
            "{body}"
        );
        assert!(body.contains("Fish &amp; chips"), "{body}");
        assert!(body.contains("<break time=\"300ms\"/>"), "{body}");
    }
}
