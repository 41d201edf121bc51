//! Which engine serves a request: `[[routes]]` rules from the config, first match wins, then the default
//! engine of the resource.
//!
//! A rule matches on any combination of the resource, `Speech-Language`, the user part of the SIP
//! Request-URI (operators pick services by the number dialled), the SIP `User-Agent`, and one
//! `Vendor-Specific-Parameters` pair (`engine=deepgram`). Omitted fields match anything.

use serde::Deserialize;

use mrcp_proto::mrcp::ResourceType;

/// One `[[routes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// `resource`: `speechrecog`, `speechsynth`, `recorder`…
    #[serde(default, deserialize_with = "resource_opt")]
    pub resource: Option<ResourceType>,
    /// `language`: a language range matched as RFC 4647 §3.3.1 basic filtering: `en` matches `en`, `en-US`,
    /// `en-GB`; `*` matches any.
    pub language: Option<String>,
    /// `request_uri_user`: the Request-URI user part; `*` is a wildcard (`"0800*"`).
    pub request_uri_user: Option<String>,
    /// `user_agent`: the SIP User-Agent; `*` is a wildcard (`"*FreeSWITCH*"`).
    pub user_agent: Option<String>,
    /// `vendor_parameter`: `"name=value"` that must appear in Vendor-Specific-Parameters.
    pub vendor_parameter: Option<String>,
    /// `engine`: the name of an `[engines.<name>]` section.
    pub engine: String,
}

fn resource_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ResourceType>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

/// What is known about a request when its engine is chosen.
#[derive(Debug, Clone, Copy)]
pub struct RouteContext<'a> {
    /// The resource the request is for.
    pub resource: ResourceType,
    /// `Speech-Language`, if any.
    pub language: Option<&'a str>,
    /// The user part of the INVITE's Request-URI, if any.
    pub request_uri_user: Option<&'a str>,
    /// The INVITE's User-Agent, if any.
    pub user_agent: Option<&'a str>,
    /// `Vendor-Specific-Parameters`, in order.
    pub vendor_parameters: &'a [(String, String)],
}

impl RouteRule {
    /// Whether every field the rule sets matches the request.
    pub fn matches(&self, cx: &RouteContext<'_>) -> bool {
        self.resource.is_none_or(|r| r == cx.resource)
            && self
                .language
                .as_deref()
                .is_none_or(|range| cx.language.is_some_and(|tag| language_matches(range, tag)))
            && self
                .request_uri_user
                .as_deref()
                .is_none_or(|p| cx.request_uri_user.is_some_and(|u| glob(p, u)))
            && self
                .user_agent
                .as_deref()
                .is_none_or(|p| cx.user_agent.is_some_and(|ua| glob(p, ua)))
            && self.vendor_parameter.as_deref().is_none_or(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                cx.vendor_parameters
                    .iter()
                    .any(|(n, v)| n.eq_ignore_ascii_case(name.trim()) && v == value.trim())
            })
    }
}

/// The engine for a request: the first matching rule's, else `default`.
pub fn choose<'r>(rules: &'r [RouteRule], cx: &RouteContext<'_>, default: &'r str) -> &'r str {
    rules
        .iter()
        .find(|r| r.matches(cx))
        .map_or(default, |r| r.engine.as_str())
}

/// RFC 4647 §3.3.1 basic filtering: the range equals the tag or is a prefix of it followed by `-`,
/// case-insensitively; `*` matches everything.
fn language_matches(range: &str, tag: &str) -> bool {
    if range == "*" {
        return true;
    }
    let (range, tag) = (range.to_ascii_lowercase(), tag.to_ascii_lowercase());
    tag == range
        || tag
            .strip_prefix(&range)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// A `*` wildcard match (any run of characters). Patterns here are short operator-written strings, so the
/// simple backtracking walk is bounded by their length times the subject's.
fn glob(pattern: &str, subject: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), subject.chars().collect());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(toml_text: &str) -> RouteRule {
        toml::from_str(toml_text).unwrap()
    }

    fn cx<'a>(
        language: Option<&'a str>,
        user: Option<&'a str>,
        vsp: &'a [(String, String)],
    ) -> RouteContext<'a> {
        RouteContext {
            resource: ResourceType::Speechrecog,
            language,
            request_uri_user: user,
            user_agent: Some("FreeSWITCH-mod_sofia/1.10"),
            vendor_parameters: vsp,
        }
    }

    #[test]
    fn first_matching_rule_wins_then_default() {
        let rules = vec![
            rule("engine = \"deepgram\"\nvendor_parameter = \"engine=deepgram\""),
            rule("engine = \"azure\"\nlanguage = \"de\""),
            rule("engine = \"sales\"\nrequest_uri_user = \"0800*\"\nresource = \"speechrecog\""),
        ];
        let vsp = vec![("Engine".to_owned(), "deepgram".to_owned())];
        assert_eq!(
            choose(&rules, &cx(Some("de-DE"), None, &vsp), "ps"),
            "deepgram"
        );
        assert_eq!(choose(&rules, &cx(Some("de-DE"), None, &[]), "ps"), "azure");
        assert_eq!(
            choose(&rules, &cx(Some("en-US"), Some("08001234"), &[]), "ps"),
            "sales"
        );
        assert_eq!(
            choose(&rules, &cx(Some("en-US"), Some("12345"), &[]), "ps"),
            "ps"
        );
        assert_eq!(choose(&rules, &cx(None, None, &[]), "ps"), "ps");
    }

    #[test]
    fn language_ranges_follow_basic_filtering() {
        assert!(language_matches("en", "en-US"));
        assert!(language_matches("en-us", "en-US"));
        assert!(!language_matches("en", "eng"));
        assert!(language_matches("*", "fr-FR"));
    }

    #[test]
    fn globs_match_runs() {
        assert!(glob("*FreeSWITCH*", "FreeSWITCH-mod_sofia/1.10"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }

    #[test]
    fn resource_and_user_agent_restrict() {
        let r = rule("engine = \"x\"\nresource = \"speechsynth\"");
        assert!(!r.matches(&cx(None, None, &[])));
        let r = rule("engine = \"x\"\nuser_agent = \"Asterisk*\"");
        assert!(!r.matches(&cx(None, None, &[])));
        assert!(toml::from_str::<RouteRule>("engine = \"x\"\nresource = \"tts\"").is_err());
    }
}
