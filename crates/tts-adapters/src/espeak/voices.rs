//! espeak-ng's voices (`espeak-ng --voices`, `--voices=variant`) and how a request's voice, language and
//! prosody become command-line options (`man espeak-ng`: `-v voice+variant`, `-s`, `-a`, `-p`).

use mrcp_proto::ssml::{EffectiveProsody, Gender, Speech, VoiceSelection};

use crate::VoiceInfo;

/// One language voice of `espeak-ng --voices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspeakVoice {
    /// Selection priority (lower is preferred).
    pub priority: u32,
    /// The language identifier, lower case (`en-us`), which `-v` takes.
    pub id: String,
    /// The voice name (`English_(America)`).
    pub name: String,
    /// The voice file (`gmw/en-US`).
    pub file: String,
    /// Other languages it speaks, lower case, with their priority.
    pub other_languages: Vec<(String, u32)>,
    /// Gender, when listed.
    pub gender: Option<Gender>,
    /// Age, when listed.
    pub age: Option<u32>,
}

/// One variant of `espeak-ng --voices=variant` (`female3`, file `!v/f3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspeakVariant {
    /// The variant name.
    pub name: String,
    /// What follows `+` in `-v` (`f3`).
    pub id: String,
    /// Gender, when listed.
    pub gender: Option<Gender>,
    /// Age, when listed.
    pub age: Option<u32>,
}

/// What a resolution failed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// No voice speaks the language.
    Language(String),
    /// No voice or variant has any of the names.
    Name(String),
}

/// The voices installed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// Language voices, MBROLA ones left out (they need the separate, non-free mbrola program).
    pub voices: Vec<EspeakVoice>,
    /// Variants.
    pub variants: Vec<EspeakVariant>,
}

fn age_gender(field: &str) -> (Option<u32>, Option<Gender>) {
    let (age, gender) = field.split_once('/').unwrap_or(("--", field));
    let gender = match gender {
        "M" => Some(Gender::Male),
        "F" => Some(Gender::Female),
        _ => None,
    };
    (age.parse().ok(), gender)
}

impl Catalog {
    /// Reads the two listings.
    pub fn parse(voices: &str, variants: &str) -> Self {
        let rows = |text: &str| -> Vec<Vec<String>> {
            text.lines()
                .skip(1)
                .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                .filter(|f| f.len() >= 5)
                .collect()
        };
        let voices = rows(voices)
            .into_iter()
            .filter(|f| !f[4].starts_with("mb/"))
            .map(|f| {
                let (age, gender) = age_gender(&f[2]);
                let rest = f[5..].join(" ");
                let other_languages = rest
                    .split('(')
                    .filter_map(|p| {
                        let (lang, pty) = p.trim_end_matches([')', ' ']).split_once(' ')?;
                        Some((lang.to_lowercase(), pty.trim().parse().ok()?))
                    })
                    .collect();
                EspeakVoice {
                    priority: f[0].parse().unwrap_or(u32::MAX),
                    id: f[1].to_lowercase(),
                    name: f[3].clone(),
                    file: f[4].clone(),
                    other_languages,
                    gender,
                    age,
                }
            })
            .collect();
        let variants = rows(variants)
            .into_iter()
            .filter_map(|f| {
                let (age, gender) = age_gender(&f[2]);
                Some(EspeakVariant {
                    name: f[3].clone(),
                    id: f[4].strip_prefix("!v/")?.to_owned(),
                    gender,
                    age,
                })
            })
            .collect();
        Self { voices, variants }
    }

    /// Every language a voice speaks, lower case, sorted.
    pub fn languages(&self) -> Vec<String> {
        let mut langs: Vec<String> = self.voices.iter().map(|v| v.id.clone()).collect();
        langs.sort();
        langs.dedup();
        langs
    }

    /// The voices for `--list-voices` and the capabilities.
    pub fn voice_infos(&self) -> Vec<VoiceInfo> {
        let voices = self.voices.iter().map(|v| VoiceInfo {
            name: v.id.clone(),
            languages: std::iter::once(v.id.clone())
                .chain(v.other_languages.iter().map(|(l, _)| l.clone()))
                .collect(),
            gender: v.gender,
            age: v.age,
            description: v.name.replace('_', " "),
        });
        let variants = self.variants.iter().map(|v| VoiceInfo {
            name: v.name.clone(),
            languages: Vec::new(),
            gender: v.gender,
            age: v.age,
            description: format!("variant {} of any language voice", v.id),
        });
        voices.chain(variants).collect()
    }

    /// The language voice for a BCP 47 tag: the exact language, then voices listing it among their other
    /// languages, then the primary subtag; the lowest priority wins each step.
    fn for_language(&self, tag: &str) -> Option<&EspeakVoice> {
        let tag = tag.to_lowercase().replace('_', "-");
        let primary = tag.split('-').next().unwrap_or_default().to_owned();
        let by = |lang: &str| {
            self.voices
                .iter()
                .filter_map(|v| {
                    if v.id == lang {
                        Some((v.priority, v))
                    } else {
                        v.other_languages
                            .iter()
                            .find(|(l, _)| l == lang)
                            .map(|(_, p)| (*p, v))
                    }
                })
                .min_by_key(|(p, _)| *p)
                .map(|(_, v)| v)
        };
        by(&tag).or_else(|| by(&primary))
    }

    /// The `-v` argument for a piece of speech.
    pub fn resolve(
        &self,
        speech: &Speech,
        default_language: &str,
        strict_names: bool,
    ) -> Result<String, ResolveError> {
        let language = speech.lang.as_deref().or_else(|| {
            speech
                .voice
                .languages
                .as_deref()
                .and_then(|l| l.split_whitespace().next())
        });
        let (mut base, mut variant) = (None, None);
        if let Some(names) = &speech.voice.name {
            let found = names.split_whitespace().find_map(|n| self.by_name(n));
            match found {
                Some(Named::Voice(v)) => base = Some(v),
                Some(Named::Variant(v)) => variant = Some(v.id.clone()),
                None if strict_names => return Err(ResolveError::Name(names.clone())),
                None => {}
            }
        }
        let base = match (base, language) {
            (Some(v), _) => v,
            (None, Some(lang)) => self
                .for_language(lang)
                .ok_or_else(|| ResolveError::Language(lang.to_owned()))?,
            (None, None) => self
                .for_language(default_language)
                .ok_or_else(|| ResolveError::Language(default_language.to_owned()))?,
        };
        let variant = variant.or_else(|| gendered_variant(&speech.voice));
        Ok(match variant {
            Some(v) => format!("{}+{v}", base.id),
            None => base.id.clone(),
        })
    }

    fn by_name(&self, name: &str) -> Option<Named<'_>> {
        let eq = |a: &str| a.eq_ignore_ascii_case(name);
        self.voices
            .iter()
            .filter(|v| eq(&v.id) || eq(&v.name) || eq(&v.file) || eq(&v.name.replace('_', " ")))
            .min_by_key(|v| v.priority)
            .map(Named::Voice)
            .or_else(|| {
                self.variants
                    .iter()
                    .find(|v| eq(&v.name) || eq(&v.id))
                    .map(Named::Variant)
            })
    }
}

enum Named<'a> {
    Voice(&'a EspeakVoice),
    Variant(&'a EspeakVariant),
}

/// espeak-ng's language voices are male; Voice-Gender and Voice-Variant pick one of its numbered variants
/// (`f1`–`f5`, `m1`–`m8`), wrapping a larger Voice-Variant around.
fn gendered_variant(voice: &VoiceSelection) -> Option<String> {
    let pick = |prefix: &str, count: u32, default: u32| {
        let n = voice
            .variant
            .map_or(default, |v| (v.saturating_sub(1) % count) + 1);
        format!("{prefix}{n}")
    };
    match (voice.gender, voice.variant) {
        (Some(Gender::Female), _) => Some(pick("f", 5, 3)),
        (Some(Gender::Male), Some(_)) | (None, Some(_)) => Some(pick("m", 8, 1)),
        _ => None,
    }
}

/// The rate, amplitude and pitch options for a prosody (`-s` words per minute around 175, `-a` 0–200
/// around 100, `-p` 0–99 around 50).
pub fn prosody_args(prosody: &EffectiveProsody) -> [String; 6] {
    // The clamps bound the floats before the conversions, so `as` cannot wrap.
    let wpm = (175.0 * prosody.rate).round().clamp(80.0, 450.0) as u32;
    let amplitude = (100.0 * prosody.volume).round().clamp(0.0, 200.0) as u32;
    let pitch = (50.0 * prosody.pitch).round().clamp(0.0, 99.0) as u32;
    [
        "-s".to_owned(),
        wpm.to_string(),
        "-a".to_owned(),
        amplitude.to_string(),
        "-p".to_owned(),
        pitch.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOICES: &str = "Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 5  cmn             --/M      Chinese_(Mandarin,_latin_as_English) sit/cmn              (zh-cmn 5)(zh 5)
 2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
 5  en-us           --/F      us-mbrola-1        mb/mb-us1            (en 8)
 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)
";
    const VARIANTS: &str =
        "Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  variant         --/F      Alicia             !v/Alicia
 5  variant         --/F      female3            !v/f3
 5  variant         70/M      male1              !v/m1
";

    fn speech(lang: Option<&str>, voice: VoiceSelection) -> Speech {
        Speech {
            text: "x".to_owned(),
            voice,
            lang: lang.map(str::to_owned),
            prosody: EffectiveProsody::default(),
        }
    }

    #[test]
    fn parses_listings_without_mbrola() {
        let c = Catalog::parse(VOICES, VARIANTS);
        assert_eq!(c.voices.len(), 5);
        assert_eq!(
            c.voices[1].other_languages,
            vec![("zh-cmn".to_owned(), 5), ("zh".to_owned(), 5)]
        );
        assert_eq!(c.variants[2].id, "m1");
        assert_eq!(c.variants[2].age, Some(70));
        assert_eq!(c.languages(), vec!["af", "cmn", "en-gb", "en-us", "fr-fr"]);
    }

    #[test]
    fn resolves_language_name_gender_variant() {
        let c = Catalog::parse(VOICES, VARIANTS);
        let v = VoiceSelection::default();
        let r = |lang: Option<&str>, voice: &VoiceSelection| {
            c.resolve(&speech(lang, voice.clone()), "en-us", true)
        };
        assert_eq!(r(Some("en-US"), &v).unwrap(), "en-us");
        assert_eq!(r(Some("en"), &v).unwrap(), "en-gb");
        assert_eq!(r(Some("en-AU"), &v).unwrap(), "en-gb");
        assert_eq!(r(Some("fr-CA"), &v).unwrap(), "fr-fr");
        assert_eq!(r(Some("zh-CN"), &v).unwrap(), "cmn");
        assert_eq!(r(None, &v).unwrap(), "en-us");
        assert_eq!(
            r(Some("xx-YY"), &v),
            Err(ResolveError::Language("xx-YY".to_owned()))
        );
        let female = VoiceSelection {
            gender: Some(Gender::Female),
            ..VoiceSelection::default()
        };
        assert_eq!(r(Some("fr-FR"), &female).unwrap(), "fr-fr+f3");
        let seventh = VoiceSelection {
            gender: Some(Gender::Female),
            variant: Some(7),
            ..VoiceSelection::default()
        };
        assert_eq!(r(None, &seventh).unwrap(), "en-us+f2");
        let named = |n: &str| VoiceSelection {
            name: Some(n.to_owned()),
            ..VoiceSelection::default()
        };
        assert_eq!(r(Some("fr"), &named("alicia")).unwrap(), "fr-fr+Alicia");
        assert_eq!(r(None, &named("English_(Great_Britain)")).unwrap(), "en-gb");
        assert_eq!(r(None, &named("Joanna en-us")).unwrap(), "en-us");
        assert_eq!(
            r(None, &named("Joanna")),
            Err(ResolveError::Name("Joanna".to_owned()))
        );
        assert_eq!(
            c.resolve(&speech(None, named("Joanna")), "en-us", false)
                .unwrap(),
            "en-us"
        );
    }

    #[test]
    fn prosody_maps_to_options() {
        let p = EffectiveProsody {
            rate: 2.0,
            volume: 0.0,
            pitch: 4.0,
        };
        assert_eq!(prosody_args(&p), ["-s", "350", "-a", "0", "-p", "99"]);
        assert_eq!(
            prosody_args(&EffectiveProsody::default()),
            ["-s", "175", "-a", "100", "-p", "50"]
        );
    }
}
