//! The CMU pronouncing dictionary shipped with `pocketsphinx-en-us`, read once and queried per grammar.
//!
//! A grammar decoder carries only the words its grammars use (a trimmed dictionary keeps a decoder near 6 MB
//! and its search small), so the full dictionary is parsed once into memory and words are added to decoders
//! with `ps_add_word` as grammars need them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why the dictionary could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "cannot read the pronouncing dictionary {path}: {reason}; install the Debian package pocketsphinx-en-us"
)]
pub struct DictionaryError {
    /// The file that failed.
    pub path: PathBuf,
    /// The I/O error.
    pub reason: String,
}

/// Words to their pronunciations (phones separated by spaces); alternates (`word(2)`) are kept in order.
#[derive(Debug, Default)]
pub struct Dictionary {
    words: HashMap<String, Vec<String>>,
}

impl Dictionary {
    /// Reads a dictionary in CMU format: `word PH ON ES`, alternates written `word(2) …`.
    pub fn load(path: &Path) -> Result<Dictionary, DictionaryError> {
        let text = std::fs::read_to_string(path).map_err(|e| DictionaryError {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Dictionary::parse(&text))
    }

    /// Parses dictionary text; lines that are not `word phones…` are skipped.
    pub fn parse(text: &str) -> Dictionary {
        let mut words: HashMap<String, Vec<String>> = HashMap::new();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(word), Some(first)) = (parts.next(), parts.next()) else {
                continue;
            };
            let base = match word.split_once('(') {
                Some((base, _)) => base,
                None => word,
            };
            let phones = std::iter::once(first)
                .chain(parts)
                .collect::<Vec<_>>()
                .join(" ");
            words.entry(base.to_lowercase()).or_default().push(phones);
        }
        Dictionary { words }
    }

    /// The pronunciations of a word (case-insensitive), best first.
    pub fn pronunciations(&self, word: &str) -> Option<&[String]> {
        self.words.get(&word.to_lowercase()).map(Vec::as_slice)
    }

    /// How many distinct words the dictionary holds.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the dictionary is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_alternates_and_skips_junk() {
        let d = Dictionary::parse("yes Y EH S\nno N OW\nthe DH AH\nthe(2) DH IY\n\nbroken\n");
        assert_eq!(d.len(), 3);
        assert_eq!(d.pronunciations("YES"), Some(&["Y EH S".to_owned()][..]));
        assert_eq!(d.pronunciations("the").map(<[String]>::len), Some(2));
        assert_eq!(d.pronunciations("broken"), None);
    }
}
