//! Word normalization shared by grammar compilation and matching.
//!
//! Engines and grammar authors write the same words differently: case, punctuation, `21` vs `twenty one`,
//! `1234` read digit by digit, fillers such as "uh". Both sides are brought to one form:
//! - lowercase; punctuation removed, except apostrophes inside words; hyphens separate words;
//! - numerals in grammars become cardinal words (`21` → `twenty one`);
//! - numerals in transcripts yield up to two variants: digit by digit (`1234` → `one two three four`) and
//!   cardinal words (`one thousand two hundred thirty four`); the matcher tries both;
//! - filler words ([`FILLERS`]) in transcripts are dropped unless the grammar itself uses them; `oh` is read as
//!   `zero` when the grammar knows `zero` but not `oh`.
//!
//! DTMF grammars keep keys as they are (`0`–`9`, `*`, `#`, `A`–`D`), one key per token; the ABNF spellings
//! `dtmf-1`, `dtmf-star`, `dtmf-pound` are accepted.

/// Words dropped from transcripts when the grammar does not use them.
pub const FILLERS: &[&str] = &[
    "uh", "um", "uhm", "umm", "er", "erm", "ah", "hmm", "mm", "mhm", "please", "like", "well",
];

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Split a text into lowercase words without punctuation (numerals kept as they are).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| c.is_whitespace() || c == '-' || c == '/' || c == '_') {
        let mut w = String::with_capacity(raw.len());
        for c in raw.chars() {
            if c.is_alphanumeric() {
                w.extend(c.to_lowercase());
            } else if c == '\'' || c == '’' {
                w.push('\'');
            }
            // Other punctuation (including the thousands separator in "1,234") is dropped.
        }
        let w = w.trim_matches('\'').to_owned();
        if !w.is_empty() {
            out.push(w);
        }
    }
    out
}

fn is_numeral(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit())
}

/// Digits read one by one: `"105"` → `["one", "zero", "five"]`.
pub fn digit_words(numeral: &str) -> Vec<String> {
    numeral
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| ONES[usize::from(b - b'0')].to_owned())
        .collect()
}

/// Cardinal words of a numeral up to 999 999 999 999 (`"21"` → `["twenty", "one"]`); digit by digit beyond,
/// and for numerals with a leading zero.
pub fn cardinal_words(numeral: &str) -> Vec<String> {
    let parsed = if numeral.len() <= 12 && !(numeral.len() > 1 && numeral.starts_with('0')) {
        numeral.parse::<u64>().ok()
    } else {
        None
    };
    let Some(n) = parsed else {
        return digit_words(numeral);
    };
    let mut out = Vec::new();
    if n == 0 {
        out.push("zero".to_owned());
        return out;
    }
    let groups = [
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
        (1, ""),
    ];
    let mut rest = n;
    for (scale, name) in groups {
        let chunk = rest / scale;
        rest %= scale;
        if chunk == 0 {
            continue;
        }
        below_thousand(chunk, &mut out);
        if !name.is_empty() {
            out.push(name.to_owned());
        }
    }
    out
}

fn below_thousand(n: u64, out: &mut Vec<String>) {
    let idx = |x: u64| usize::try_from(x).unwrap_or(0);
    let hundreds = n / 100;
    let rest = n % 100;
    if hundreds > 0 {
        out.push(ONES[idx(hundreds)].to_owned());
        out.push("hundred".to_owned());
    }
    if rest >= 20 {
        out.push(TENS[idx(rest / 10)].to_owned());
        if !rest.is_multiple_of(10) {
            out.push(ONES[idx(rest % 10)].to_owned());
        }
    } else if rest > 0 {
        out.push(ONES[idx(rest)].to_owned());
    }
}

/// Normalize a grammar token of a voice grammar into words (numerals as cardinal words).
pub fn grammar_words(token: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in words(token) {
        if is_numeral(&w) {
            out.extend(cardinal_words(&w))
        } else {
            out.push(w)
        }
    }
    out
}

/// Normalize a DTMF grammar token into keys: `"123"` → `1 2 3`, `dtmf-star` → `*`, `dtmf-pound` → `#`.
pub fn dtmf_keys(token: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in token.split_whitespace() {
        let lower = part.to_ascii_lowercase();
        match lower.strip_prefix("dtmf-") {
            Some("star") => out.push("*".to_owned()),
            Some("pound" | "hash") => out.push("#".to_owned()),
            Some(k) => out.extend(k.chars().map(|c| c.to_ascii_uppercase().to_string())),
            None => out.extend(part.chars().map(|c| c.to_ascii_uppercase().to_string())),
        }
    }
    out
}

/// Whether a character is a DTMF key.
pub fn is_dtmf_key(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d')
}

/// The variants of a transcript to try: words with numerals read digit by digit, and (when the transcript has
/// numerals) with numerals as cardinal words. Each variant is a list of words.
pub fn transcript_variants(text: &str) -> Vec<Vec<String>> {
    let ws = words(text);
    if !ws.iter().any(|w| is_numeral(w)) {
        return vec![ws];
    }
    let mut digitwise = Vec::with_capacity(ws.len() * 2);
    let mut cardinal = Vec::with_capacity(ws.len() * 2);
    for w in ws {
        if is_numeral(&w) {
            digitwise.extend(digit_words(&w));
            cardinal.extend(cardinal_words(&w));
        } else {
            digitwise.push(w.clone());
            cardinal.push(w);
        }
    }
    if digitwise == cardinal {
        vec![digitwise]
    } else {
        vec![digitwise, cardinal]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_numbers() {
        assert_eq!(words("Yes, please!"), ["yes", "please"]);
        assert_eq!(
            words("I don't know... twenty-one"),
            ["i", "don't", "know", "twenty", "one"]
        );
        assert_eq!(cardinal_words("21"), ["twenty", "one"]);
        assert_eq!(
            cardinal_words("1234"),
            ["one", "thousand", "two", "hundred", "thirty", "four"]
        );
        assert_eq!(cardinal_words("0"), ["zero"]);
        assert_eq!(cardinal_words("007"), ["zero", "zero", "seven"]);
        assert_eq!(cardinal_words("1000000"), ["one", "million"]);
        assert_eq!(grammar_words("Press 1"), ["press", "one"]);
        assert_eq!(dtmf_keys("dtmf-1 dtmf-star 2#"), ["1", "*", "2", "#"]);
        let v = transcript_variants("My PIN is 1,234.");
        assert_eq!(v[0], ["my", "pin", "is", "one", "two", "three", "four"]);
        assert_eq!(
            v[1],
            [
                "my", "pin", "is", "one", "thousand", "two", "hundred", "thirty", "four"
            ]
        );
        assert_eq!(transcript_variants("7").len(), 1);
    }
}
