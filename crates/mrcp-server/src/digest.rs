//! SIP digest authentication of INVITEs (RFC 3261 §22.4 with the RFC 7616 algorithms MD5 and SHA-256).
//!
//! An INVITE without valid credentials gets 401 with one `WWW-Authenticate` per configured algorithm, the
//! preferred first (RFC 7616 §3.7; RFC 8760 §2.4 for SIP), each with `qop="auth"`, a fresh nonce and the
//! server's opaque. The client repeats the INVITE with `Authorization`. The nonce is accepted while it is
//! younger than `nonce_lifetime_s`, and each nonce-count (`nc`) at most once and increasing, so a captured
//! request cannot be replayed (RFC 7616 §3.3, §5.3). A valid response on an expired or unknown nonce gets a new
//! challenge with `stale=true`, so the client retries without asking its user (§3.3).
//!
//! Digests: the RustCrypto `md-5` and `sha2` crates. The `Authorization` parameter list is parsed here: it
//! is a dozen lines of `name=value` / `name="quoted"` (RFC 7616 §3.4, RFC 3261 §25.1), and rsip's typed
//! header would not accept SHA-256.
//!
//! The type is sans-IO: time is passed in, and the SIP loop owns it.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use md5::Md5;
use mrcp_proto::engine::{Secret, SecretError, SecretSource};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::ConfigError;

#[doc(hidden)]
pub mod fuzzing;

/// Nonces remembered at once; past it the oldest are forgotten (a client holding one gets `stale=true`).
pub const MAX_NONCES: usize = 65_536;

/// A digest algorithm (RFC 7616 §3.2; the `-sess` variants are not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), what most SIP clients still send.
    #[serde(rename = "MD5")]
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl Algorithm {
    /// The token on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn parse(token: &str) -> Option<Algorithm> {
        if token.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// `H(data)` as lowercase hex.
    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex(&Sha256::digest(data.as_bytes())),
        }
    }
}

/// The `response` of a qop=auth request (RFC 7616 §3.4.1): `KD(H(A1), nonce:nc:cnonce:auth:H(A2))` with
/// `A1 = user:realm:password` and `A2 = method:uri`. What the client sends and what the server expects.
fn expected_response(
    algorithm: Algorithm,
    (user, realm, password): (&str, &str, &str),
    (method, uri): (&str, &str),
    (nonce, nc, cnonce): (&str, &str, &str),
) -> String {
    let ha1 = algorithm.hash(&format!("{user}:{realm}:{password}"));
    let ha2 = algorithm.hash(&format!("{method}:{uri}"));
    algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `[access.digest]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// `realm`: shown to clients. Default `"open-mrcp"`.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// `algorithms`: offered in this order of preference. Default `["SHA-256", "MD5"]`.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// `nonce_lifetime_s`: how long a nonce is accepted. Default 300.
    #[serde(default = "default_nonce_lifetime")]
    pub nonce_lifetime_s: u64,
    /// `[[access.digest.users]]`: `user = "freeswitch"`, `password = { env = "VAR" }` or `{ file = "PATH" }`.
    pub users: Vec<DigestUser>,
}

/// One user of `[[access.digest.users]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestUser {
    /// `user`: the digest username.
    pub user: String,
    /// `password`: where the password is read from, at start.
    pub password: SecretSource,
}

fn default_realm() -> String {
    "open-mrcp".to_owned()
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::Sha256, Algorithm::Md5]
}

fn default_nonce_lifetime() -> u64 {
    300
}

impl DigestConfig {
    /// Checks the section; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, problem: &str| ConfigError::Invalid {
            key: format!("access.digest.{key}"),
            problem: problem.to_owned(),
        };
        if self.realm.is_empty() || self.realm.contains(['"', '\\', '\r', '\n']) {
            return Err(invalid(
                "realm",
                "must be non-empty text without quotes, backslashes or line ends",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(invalid(
                "algorithms",
                "name at least one of \"SHA-256\", \"MD5\"",
            ));
        }
        if !(10..=86_400).contains(&self.nonce_lifetime_s) {
            return Err(invalid(
                "nonce_lifetime_s",
                "must be from 10 to 86400 seconds",
            ));
        }
        if self.users.is_empty() {
            return Err(invalid("users", "name at least one user"));
        }
        for (i, u) in self.users.iter().enumerate() {
            if u.user.is_empty() || u.user.contains(['"', '\\', ':']) {
                return Err(ConfigError::Invalid {
                    key: format!("access.digest.users[{i}].user"),
                    problem: "must be non-empty without quotes, backslashes or colons".to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// A password could not be read at start.
#[derive(Debug, thiserror::Error)]
#[error("access.digest.users: the password of {user:?}: {source}")]
pub struct CredentialError {
    /// The user.
    pub user: String,
    /// Why.
    pub source: SecretError,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials are valid.
    Authorized {
        /// The authenticated user.
        user: String,
    },
    /// Answer 401 with these `WWW-Authenticate` values.
    Challenge {
        /// One value per algorithm, preferred first.
        www_authenticate: Vec<String>,
        /// Why the request was not authorized, for the log.
        reason: RefusalReason,
    },
}

/// Why credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// No `Authorization` for our realm.
    Missing,
    /// Unparsable, or an algorithm or qop not offered.
    Malformed,
    /// Unknown user or wrong response.
    Wrong,
    /// Right credentials on an expired or unknown nonce (`stale=true`).
    Stale,
    /// A nonce-count already used: a replay.
    Replayed,
}

impl RefusalReason {
    /// For logs and the `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Missing => "missing",
            RefusalReason::Malformed => "malformed",
            RefusalReason::Wrong => "wrong",
            RefusalReason::Stale => "stale",
            RefusalReason::Replayed => "replayed",
        }
    }
}

#[derive(Debug)]
struct NonceState {
    issued: Instant,
    /// The highest nonce-count accepted, 0 before the first.
    last_nc: u32,
}

/// The digest authenticator: users, issued nonces and their counts.
pub struct DigestAuth {
    realm: String,
    algorithms: Vec<Algorithm>,
    lifetime: Duration,
    users: HashMap<String, Secret>,
    opaque: String,
    nonces: HashMap<String, NonceState>,
    /// Issue order, for expiry and the [`MAX_NONCES`] bound.
    order: VecDeque<(Instant, String)>,
}

impl std::fmt::Debug for DigestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestAuth")
            .field("realm", &self.realm)
            .field("users", &self.users.len())
            .field("nonces", &self.nonces.len())
            .finish_non_exhaustive()
    }
}

impl DigestAuth {
    /// Reads every password now, so a missing one stops the server at start rather than at the first call.
    pub fn from_config(config: &DigestConfig) -> Result<DigestAuth, CredentialError> {
        let mut users = HashMap::new();
        for u in &config.users {
            let secret = u.password.load().map_err(|source| CredentialError {
                user: u.user.clone(),
                source,
            })?;
            users.insert(u.user.clone(), secret);
        }
        Ok(DigestAuth {
            realm: config.realm.clone(),
            algorithms: config.algorithms.clone(),
            lifetime: Duration::from_secs(config.nonce_lifetime_s),
            users,
            opaque: random_token(),
            nonces: HashMap::new(),
            order: VecDeque::new(),
        })
    }

    /// Nonces remembered now.
    pub fn nonces(&self) -> usize {
        self.nonces.len()
    }

    /// Checks the `Authorization` values of a request (`method` and its Request-URI as sent).
    pub fn check<'a>(
        &mut self,
        now: Instant,
        method: &str,
        authorizations: impl IntoIterator<Item = &'a str>,
    ) -> AuthOutcome {
        self.expire(now);
        let mut reason = RefusalReason::Missing;
        for value in authorizations {
            let Some(params) = parse_credentials(value) else {
                reason = reason.max_with(RefusalReason::Malformed);
                continue;
            };
            if params.get("realm").map(String::as_str) != Some(self.realm.as_str()) {
                continue;
            }
            match self.verify(now, method, &params) {
                Ok(user) => return AuthOutcome::Authorized { user },
                Err(r) => reason = reason.max_with(r),
            }
        }
        self.challenge(now, reason)
    }

    fn verify(
        &mut self,
        now: Instant,
        method: &str,
        p: &HashMap<String, String>,
    ) -> Result<String, RefusalReason> {
        let get = |name: &str| p.get(name).map(String::as_str);
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(token) => Algorithm::parse(token).ok_or(RefusalReason::Malformed)?,
        };
        if !self.algorithms.contains(&algorithm) {
            return Err(RefusalReason::Malformed);
        }
        let (Some(user), Some(nonce), Some(uri), Some(response)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return Err(RefusalReason::Malformed);
        };
        // qop=auth is required: without it there is no nonce-count and no replay protection.
        let (Some("auth"), Some(cnonce), Some(nc)) = (get("qop"), get("cnonce"), get("nc")) else {
            return Err(RefusalReason::Malformed);
        };
        let count = u32::from_str_radix(nc, 16).map_err(|_| RefusalReason::Malformed)?;
        if nc.len() != 8 || count == 0 {
            return Err(RefusalReason::Malformed);
        }
        let password = self.users.get(user).ok_or(RefusalReason::Wrong)?;
        let expected = expected_response(
            algorithm,
            (user, &self.realm, password.expose()),
            (method, uri),
            (nonce, nc, cnonce),
        );
        if !constant_time_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(RefusalReason::Wrong);
        }
        let state = self.nonces.get_mut(nonce).ok_or(RefusalReason::Stale)?;
        if now.saturating_duration_since(state.issued) > self.lifetime {
            return Err(RefusalReason::Stale);
        }
        if count <= state.last_nc {
            return Err(RefusalReason::Replayed);
        }
        state.last_nc = count;
        Ok(user.to_owned())
    }

    fn challenge(&mut self, now: Instant, reason: RefusalReason) -> AuthOutcome {
        let stale = if reason == RefusalReason::Stale {
            ", stale=true"
        } else {
            ""
        };
        let www_authenticate = self
            .algorithms
            .clone()
            .into_iter()
            .map(|algorithm| {
                let nonce = self.issue(now);
                format!(
                    "Digest realm=\"{}\", qop=\"auth\", algorithm={}, nonce=\"{nonce}\", opaque=\"{}\"{stale}",
                    self.realm,
                    algorithm.as_str(),
                    self.opaque
                )
            })
            .collect();
        AuthOutcome::Challenge {
            www_authenticate,
            reason,
        }
    }

    fn issue(&mut self, now: Instant) -> String {
        while self.order.len() >= MAX_NONCES {
            if let Some((_, old)) = self.order.pop_front() {
                self.nonces.remove(&old);
            }
        }
        let nonce = random_token();
        self.nonces.insert(
            nonce.clone(),
            NonceState {
                issued: now,
                last_nc: 0,
            },
        );
        self.order.push_back((now, nonce.clone()));
        nonce
    }

    fn expire(&mut self, now: Instant) {
        while let Some((issued, _)) = self.order.front() {
            if now.saturating_duration_since(*issued) <= self.lifetime {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.nonces.remove(&old);
            }
        }
    }
}

impl RefusalReason {
    /// The more telling of two reasons (a wrong password says more than a missing header).
    fn max_with(self, other: RefusalReason) -> RefusalReason {
        let rank = |r: RefusalReason| match r {
            RefusalReason::Missing => 0,
            RefusalReason::Malformed => 1,
            RefusalReason::Wrong => 2,
            RefusalReason::Replayed => 3,
            RefusalReason::Stale => 4,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// 128 random bits as hex.
fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The parameters of `Digest k=v, k="v", ...` (names lowercased), or `None` for another scheme or bad syntax.
fn parse_credentials(value: &str) -> Option<HashMap<String, String>> {
    let value = value.trim();
    let (scheme, mut rest) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return None;
    }
    let mut params = HashMap::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            return Some(params);
        }
        let (name, after) = rest.split_once('=')?;
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => out.push(chars.next()?.1),
                    (_, c) => out.push(c),
                }
            };
            (out, quoted.get(end + 1..)?)
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after.get(..end)?.trim().to_owned(), after.get(end..)?)
        };
        if params.len() >= 32 {
            return None;
        }
        params.insert(name, val);
        rest = next;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn auth(algorithms: Vec<Algorithm>, realm: &str, user: &str, password: &str) -> DigestAuth {
        let mut a = DigestAuth::from_config(&DigestConfig {
            realm: realm.to_owned(),
            algorithms,
            nonce_lifetime_s: 300,
            users: Vec::new(),
        })
        .unwrap();
        a.users.insert(user.to_owned(), Secret::new(password));
        a
    }

    #[test]
    fn rfc7616_example_responses() {
        // RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
        let who = ("Mufasa", "http-auth@example.org", "Circle of Life");
        let req = ("GET", "/dir/index.html");
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        assert_eq!(
            expected_response(Algorithm::Md5, who, req, (nonce, "00000001", cnonce)),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        assert_eq!(
            expected_response(Algorithm::Sha256, who, req, (nonce, "00000001", cnonce)),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    fn nonce_of(outcome: &AuthOutcome, algorithm: &str) -> String {
        let AuthOutcome::Challenge {
            www_authenticate, ..
        } = outcome
        else {
            panic!("expected a challenge, got {outcome:?}");
        };
        let value = www_authenticate
            .iter()
            .find(|v| v.contains(&format!("algorithm={algorithm},")))
            .unwrap();
        parse_credentials(value).unwrap()["nonce"].clone()
    }

    fn authorization(algorithm: Algorithm, nonce: &str, nc: &str, password: &str) -> String {
        let uri = "sip:mrcpserver@127.0.0.1:8060";
        let response = expected_response(
            algorithm,
            ("fs", "open-mrcp", password),
            ("INVITE", uri),
            (nonce, nc, "abc"),
        );
        format!(
            "Digest username=\"fs\", realm=\"open-mrcp\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm={}, cnonce=\"abc\", qop=auth, nc={nc}",
            algorithm.as_str()
        )
    }

    #[test]
    fn challenge_then_accept_with_either_algorithm_and_refuse_a_replay() {
        let t0 = Instant::now();
        let mut a = auth(
            vec![Algorithm::Sha256, Algorithm::Md5],
            "open-mrcp",
            "fs",
            "pw",
        );
        let first = a.check(t0, "INVITE", None);
        let AuthOutcome::Challenge {
            www_authenticate,
            reason,
        } = &first
        else {
            panic!("{first:?}")
        };
        assert_eq!(*reason, RefusalReason::Missing);
        assert_eq!(www_authenticate.len(), 2);
        assert!(www_authenticate[0].contains("algorithm=SHA-256"));
        assert!(www_authenticate[0].contains("qop=\"auth\""));
        for (algorithm, name) in [(Algorithm::Sha256, "SHA-256"), (Algorithm::Md5, "MD5")] {
            let nonce = nonce_of(&first, name);
            let h = authorization(algorithm, &nonce, "00000001", "pw");
            assert_eq!(
                a.check(t0, "INVITE", [h.as_str()]),
                AuthOutcome::Authorized { user: "fs".into() }
            );
            // The same nonce-count again is a replay.
            let AuthOutcome::Challenge { reason, .. } = a.check(t0, "INVITE", [h.as_str()]) else {
                panic!("replay accepted")
            };
            assert_eq!(reason, RefusalReason::Replayed);
            // The next count is fine.
            let h2 = authorization(algorithm, &nonce, "00000002", "pw");
            assert!(matches!(
                a.check(t0, "INVITE", [h2.as_str()]),
                AuthOutcome::Authorized { .. }
            ));
        }
    }

    #[test]
    fn wrong_password_and_expired_nonce() {
        let t0 = Instant::now();
        let mut a = auth(vec![Algorithm::Md5], "open-mrcp", "fs", "pw");
        let nonce = nonce_of(&a.check(t0, "INVITE", None), "MD5");
        let bad = authorization(Algorithm::Md5, &nonce, "00000001", "nope");
        let AuthOutcome::Challenge { reason, .. } = a.check(t0, "INVITE", [bad.as_str()]) else {
            panic!()
        };
        assert_eq!(reason, RefusalReason::Wrong);
        // Past the lifetime the right answer gets a new challenge with stale=true.
        let later = t0 + Duration::from_secs(301);
        let good = authorization(Algorithm::Md5, &nonce, "00000001", "pw");
        let AuthOutcome::Challenge {
            reason,
            www_authenticate,
        } = a.check(later, "INVITE", [good.as_str()])
        else {
            panic!()
        };
        assert_eq!(reason, RefusalReason::Stale);
        assert!(www_authenticate[0].ends_with("stale=true"));
        // A SHA-256 answer when only MD5 is offered is refused.
        let sha = authorization(Algorithm::Sha256, &nonce, "00000001", "pw");
        assert!(matches!(
            a.check(later, "INVITE", [sha.as_str()]),
            AuthOutcome::Challenge { .. }
        ));
    }

    #[test]
    fn nonces_are_bounded_and_expire() {
        let t0 = Instant::now();
        let mut a = auth(vec![Algorithm::Md5], "open-mrcp", "fs", "pw");
        for _ in 0..10 {
            a.check(t0, "INVITE", None);
        }
        assert_eq!(a.nonces(), 10);
        a.check(t0 + Duration::from_secs(400), "INVITE", None);
        assert_eq!(a.nonces(), 1);
    }

    #[test]
    fn credentials_parse_quoted_and_bare_values() {
        let p = parse_credentials(
            "Digest username=\"a\\\"b\", realm=\"r, x\",nc=00000001 , qop=auth, uri=\"sip:x\"",
        )
        .unwrap();
        assert_eq!(p["username"], "a\"b");
        assert_eq!(p["realm"], "r, x");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["qop"], "auth");
        assert!(parse_credentials("Basic dXNlcjpwdw==").is_none());
        assert!(parse_credentials("Digest username=\"unterminated").is_none());
        assert!(parse_credentials("Digest").is_none());
    }

    #[test]
    fn config_validation_names_the_key() {
        let c = DigestConfig {
            realm: "r".into(),
            algorithms: vec![],
            nonce_lifetime_s: 300,
            users: vec![DigestUser {
                user: "fs".into(),
                password: SecretSource::Env("X".into()),
            }],
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("access.digest.algorithms"), "{e}");
    }
}
