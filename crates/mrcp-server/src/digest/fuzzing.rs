//! Fuzz support for the digest authenticator: the `sip_digest` target (`fuzz/fuzz_targets/sip_digest.rs`) and
//! its corpus replay (`tests/digest_corpus.rs`) run [`run`].

use std::time::{Duration, Instant};

use mrcp_proto::engine::Secret;

use super::{AuthOutcome, DigestAuth, DigestConfig, MAX_NONCES, parse_credentials};

const USER: &str = "fs";
const PASSWORD: &str = "fuzz-password";
const METHOD: &str = "INVITE";

/// Runs one input through an authenticator with one user and both algorithms. Each line is one request:
/// its `Authorization` values separated by `|`; a line `+N` lets N seconds pass instead. In a value,
/// `{nonce}` stands for the nonce of the latest challenge (a fuzzer cannot guess 128 random bits) and
/// `{response}` for the right response to the value's other parameters, as a client knowing the password
/// would compute it (RFC 7616 §3.4.1).
///
/// Checks:
/// - only a value with `{response}` is ever accepted (no guessed or malformed value gets in);
/// - a request accepted once is refused when sent again (nonce-count replay, RFC 7616 §3.3);
/// - every challenge offers each algorithm once with `qop="auth"`, a nonce and the realm, and re-parses;
/// - the nonce table stays within [`MAX_NONCES`].
///
/// Returns how many requests were accepted.
pub fn run(data: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    let config = DigestConfig {
        realm: "open-mrcp".to_owned(),
        algorithms: vec![super::Algorithm::Sha256, super::Algorithm::Md5],
        nonce_lifetime_s: 30,
        users: Vec::new(),
    };
    let Ok(mut auth) = DigestAuth::from_config(&config) else {
        return 0;
    };
    auth.users.insert(USER.to_owned(), Secret::new(PASSWORD));
    let mut now = Instant::now();
    let mut nonce = String::new();
    let mut accepted = 0;
    for line in text.lines() {
        if let Some(seconds) = line.strip_prefix('+') {
            now += Duration::from_secs(seconds.trim().parse::<u64>().unwrap_or(1).min(3600));
            continue;
        }
        let values: Vec<String> = line
            .split('|')
            .map(|value| with_response(&value.replace("{nonce}", &nonce)))
            .collect();
        let knows_password = line.contains("{response}");
        match auth.check(now, METHOD, values.iter().map(String::as_str)) {
            AuthOutcome::Authorized { user } => {
                assert!(knows_password, "accepted without the password: {line:?}");
                assert_eq!(user, USER);
                accepted += 1;
                let again = auth.check(now, METHOD, values.iter().map(String::as_str));
                assert!(
                    matches!(again, AuthOutcome::Challenge { .. }),
                    "a replayed request was accepted: {line:?}"
                );
            }
            AuthOutcome::Challenge {
                www_authenticate, ..
            } => {
                assert_eq!(www_authenticate.len(), config.algorithms.len());
                for (challenge, algorithm) in www_authenticate.iter().zip(&config.algorithms) {
                    let params = parse_credentials(challenge).expect("a challenge re-parses");
                    assert_eq!(params.get("realm").map(String::as_str), Some("open-mrcp"));
                    assert_eq!(params.get("qop").map(String::as_str), Some("auth"));
                    assert_eq!(
                        params.get("algorithm").map(String::as_str),
                        Some(algorithm.as_str())
                    );
                    if let Some(issued) = params.get("nonce") {
                        nonce.clone_from(issued);
                    }
                }
            }
        }
        assert!(auth.nonces() <= MAX_NONCES);
    }
    accepted
}

/// `value` with `{response}` replaced by the response its parameters call for.
fn with_response(value: &str) -> String {
    if !value.contains("{response}") {
        return value.to_owned();
    }
    let params = parse_credentials(value).unwrap_or_default();
    let get = |name: &str| params.get(name).map_or("", String::as_str);
    let algorithm = super::Algorithm::parse(get("algorithm")).unwrap_or(super::Algorithm::Md5);
    let response = super::expected_response(
        algorithm,
        (get("username"), get("realm"), PASSWORD),
        (METHOD, get("uri")),
        (get("nonce"), get("nc"), get("cnonce")),
    );
    value.replace("{response}", &response)
}
