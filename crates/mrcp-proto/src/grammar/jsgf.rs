//! JSGF 1.0 (Java Speech Grammar Format; media type `application/x-jsgf`) parser.
use super::error::GrammarError;
use super::limits::GrammarLimits;
use super::model::Grammar;

/// Parse a JSGF grammar with explicit limits.
pub fn parse_jsgf_with(
    _text: &str,
    source: &str,
    _limits: &GrammarLimits,
) -> Result<Grammar, GrammarError> {
    Err(GrammarError::whole(
        source,
        super::error::GrammarErrorKind::UnsupportedContentType {
            content_type: "application/x-jsgf".into(),
        },
    ))
}
