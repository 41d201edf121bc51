//! Limits against hostile or runaway grammars and inputs.
//!
//! A grammar comes from the network (DEFINE-GRAMMAR bodies, fetched URIs), so every dimension that costs memory
//! or time is bounded: text size, element nesting, rule count, expansion size, repeat counts, rule-reference
//! depth, and the work one match may do. Exceeding a limit while parsing or compiling is a
//! [`GrammarErrorKind::Limit`](crate::grammar::GrammarErrorKind::Limit) error; exceeding the work budget while
//! matching ends that match with no result and `budget_exhausted` set.

/// The limits applied when parsing, compiling and matching grammars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrammarLimits {
    /// Maximum size of a grammar text in bytes.
    pub max_bytes: usize,
    /// Maximum nesting of elements (XML) or groups (ABNF, JSGF).
    pub max_nesting: usize,
    /// Maximum number of rules in one grammar.
    pub max_rules: usize,
    /// Maximum number of expansion nodes (tokens, items, refs, tags) in one compiled grammar, builtins and
    /// resolved external rules included.
    pub max_nodes: usize,
    /// Maximum bound in a `repeat` (minimum, and maximum when given).
    pub max_repeat: u32,
    /// Maximum depth of nested rule references explored while matching.
    pub max_rule_depth: usize,
    /// Maximum number of words (or DTMF keys) of one input considered by a match.
    pub max_input_tokens: usize,
    /// Work budget of one match of one input against one grammar (elementary steps).
    pub max_match_steps: u64,
}

impl Default for GrammarLimits {
    fn default() -> Self {
        GrammarLimits {
            max_bytes: 1024 * 1024,
            max_nesting: 64,
            max_rules: 2_000,
            max_nodes: 200_000,
            max_repeat: 1_000,
            max_rule_depth: 100,
            max_input_tokens: 64,
            max_match_steps: 500_000,
        }
    }
}
