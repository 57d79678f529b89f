//! JWT checks as App Store Connect makes them (`app-store-connect.md` §1).
//!
//! A token passes when: the header says `alg: ES256` and names a configured `kid`; the signature
//! verifies against that key's public key; `aud` is `appstoreconnect-v1`; a team key carries
//! `iss` = the configured issuer id, an individual key carries `sub: "user"` and no `iss`; `exp`
//! is in the future and at most 20 minutes ahead; `iat`, when present, is not in the future. Times outside
//! 2001..2286 (negative, `i64::MIN`/`MAX`) are refused before any arithmetic, which is checked anyway.
//! "Now" is the server clock plus the fault plan's clock skew.
//!
//! Where Apple's documentation (§1) is silent, the emulator takes the strict reading, so a client that passes here
//! does not depend on leniency Apple never promised:
//!
//! - `aud` must be the string `appstoreconnect-v1`. §1 gives the value as one string; an array holding it (which
//!   RFC 7519 would allow) is refused.
//! - A `crit` header is refused: Apple names no JWS extension it understands, and RFC 7515 §4.1.11 requires refusing
//!   a token whose critical extensions are not understood.
//! - `nbf` in the future is refused (RFC 7519 §4.1.5); §1 does not mention `nbf`.
//! - A team token must not carry `sub`: §1 lists `sub: "user"` only for individual keys, "instead of" `iss`.
//! - `scope` (§1: "optional allowed operations", e.g. `["GET /v1/apps?filter[platform]=IOS"]`) restricts the token:
//!   the request must match one entry — same method, same path (the entry may omit the `/v1` prefix, as Apple forum
//!   thread 707271 reports was needed), and every query parameter the entry names, with the same value. A `scope`
//!   that is not a list of strings, or an empty list, allows nothing. Apple's exact matching is not documented.

use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The longest lifetime Apple accepts: "tokens that expire more than 20 minutes into the future
/// are not valid".
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 20 * 60;

/// An API key the emulator accepts.
#[derive(Clone)]
pub struct ApiKey {
    /// The key id (`kid`), e.g. `2X9R4HXF34`.
    pub key_id: String,
    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo, P-256).
    pub public_key_pem: String,
    /// An individual key: tokens carry `sub: "user"` instead of `iss`.
    pub individual: bool,
    /// A key whose role may read but not change anything (Developer, Marketing, Sales…): every POST, PATCH and
    /// DELETE under `/v1` is a 403 `FORBIDDEN_ERROR`, as for a key without the App Manager or Admin role.
    pub read_only: bool,
}

impl ApiKey {
    /// A team key (tokens carry `iss`).
    pub fn team(key_id: &str, public_key_pem: &str) -> ApiKey {
        ApiKey {
            key_id: key_id.to_string(),
            public_key_pem: public_key_pem.to_string(),
            individual: false,
            read_only: false,
        }
    }

    /// The same key with a role that cannot change anything.
    pub fn read_only(self) -> ApiKey {
        ApiKey {
            read_only: true,
            ..self
        }
    }

    /// An individual key (tokens carry `sub: "user"`).
    pub fn individual(key_id: &str, public_key_pem: &str) -> ApiKey {
        ApiKey {
            individual: true,
            ..ApiKey::team(key_id, public_key_pem)
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("key_id", &self.key_id)
            .field("individual", &self.individual)
            .finish_non_exhaustive()
    }
}

/// A key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("public key of {key_id} is not a P-256 public key in PEM ({reason})")]
pub struct KeyError {
    /// The key id.
    pub key_id: String,
    /// What the file holds instead, in words (the crypto library's error names are not for users).
    pub reason: &'static str,
}

/// Words for why a public key PEM was refused.
fn public_key_problem(pem: &str) -> &'static str {
    if pem.contains("PRIVATE KEY-----") {
        "this is a private key: pass the public half, e.g. `openssl pkey -in AuthKey.p8 -pubout`"
    } else if !pem.contains("-----BEGIN") {
        "no PEM block found"
    } else {
        "the PEM block does not hold an EC public key"
    }
}

/// Keys ready for verification.
pub(crate) struct Verifier {
    keys: Vec<(ApiKey, DecodingKey)>,
    issuer_id: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    scope: Option<serde_json::Value>,
}

/// The request a token is checked for (its `scope` must allow it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path, without the query.
    pub path: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
}

/// The verified caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub key_id: String,
    /// See [`ApiKey::read_only`].
    pub read_only: bool,
}

impl Verifier {
    pub fn new(keys: &[ApiKey], issuer_id: &str) -> Result<Verifier, KeyError> {
        let mut ready = Vec::new();
        for key in keys {
            let decoding =
                DecodingKey::from_ec_pem(key.public_key_pem.as_bytes()).map_err(|_| KeyError {
                    key_id: key.key_id.clone(),
                    reason: public_key_problem(&key.public_key_pem),
                })?;
            ready.push((key.clone(), decoding));
        }
        Ok(Verifier {
            keys: ready,
            issuer_id: issuer_id.to_string(),
        })
    }

    /// Checks an `Authorization` header value; `Err` says why (for the request log, never the token).
    pub fn verify(
        &self,
        authorization: Option<&str>,
        now: i64,
        target: Target<'_>,
    ) -> Result<Caller, String> {
        let header = authorization.ok_or("no Authorization header")?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or("Authorization is not a Bearer token")?
            .trim();
        if token.len() > 8192 {
            return Err("token too long".into());
        }
        let head = jsonwebtoken::decode_header(token).map_err(|_| "token header unreadable")?;
        if raw_header(token).is_some_and(|h| h.get("crit").is_some()) {
            return Err("crit header names extensions this server does not understand".into());
        }
        if head.alg != Algorithm::ES256 {
            return Err(format!("alg is {:?}, not ES256", head.alg));
        }
        let kid = head.kid.ok_or("no kid in the token header")?;
        let (key, decoding) = self
            .keys
            .iter()
            .find(|(k, _)| k.key_id == kid)
            .ok_or_else(|| format!("unknown kid {:?}", truncate(&kid)))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, decoding, &validation)
            .map_err(|e| format!("signature or claims invalid: {e}"))?;
        let claims = data.claims;
        if !matches!(&claims.aud, Some(serde_json::Value::String(a)) if a == "appstoreconnect-v1") {
            return Err("aud is not the string appstoreconnect-v1".into());
        }
        if key.individual {
            if claims.iss.is_some() || claims.sub.as_deref() != Some("user") {
                return Err("individual key: token needs sub \"user\" and no iss".into());
            }
        } else if claims.iss.as_deref() != Some(self.issuer_id.as_str()) {
            return Err("iss is not the issuer id".into());
        } else if claims.sub.is_some() {
            return Err("team key: token carries sub".into());
        }
        check_times(claims.exp, claims.iat, now)?;
        if let Some(nbf) = claims.nbf {
            let ahead = nbf.checked_sub(now).ok_or("nbf is not a plausible time")?;
            if !(MIN_PLAUSIBLE_TIME..=MAX_PLAUSIBLE_TIME).contains(&nbf) || ahead > 0 {
                return Err("nbf is in the future".into());
            }
        }
        if let Some(scope) = &claims.scope
            && !scope_allows(scope, target)
        {
            return Err(format!(
                "scope does not allow {} {}",
                target.method,
                truncate(target.path)
            ));
        }
        Ok(Caller {
            key_id: key.key_id.clone(),
            read_only: key.read_only,
        })
    }
}

/// The token's header as JSON (for the members `jsonwebtoken` does not expose).
fn raw_header(token: &str) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let head = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether a `scope` claim allows the request (see the module docs).
fn scope_allows(scope: &serde_json::Value, target: Target<'_>) -> bool {
    let Some(entries) = scope.as_array() else {
        return false;
    };
    let asked: Vec<(String, String)> = target
        .query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    entries.iter().any(|entry| {
        let Some((method, rest)) = entry.as_str().and_then(|e| e.trim().split_once(' ')) else {
            return false;
        };
        let (path, query) = rest.trim().split_once('?').unwrap_or((rest.trim(), ""));
        let path_ok = path == target.path
            || (!path.starts_with("/v1/") && format!("/v1{path}") == target.path);
        method == target.method
            && path_ok
            && url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .all(|pair| asked.contains(&pair))
    })
}

fn truncate(text: &str) -> String {
    text.chars().take(32).collect()
}

/// Earliest `exp`/`iat` taken seriously (2001-09-09): anything before is a forged or broken token, not a clock.
const MIN_PLAUSIBLE_TIME: i64 = 1_000_000_000;
/// Latest `exp`/`iat` taken seriously (2286-11-20).
const MAX_PLAUSIBLE_TIME: i64 = 10_000_000_000;

/// The time claims, checked without arithmetic that can overflow: the numbers come from the request, so `i64::MIN`
/// or `i64::MAX` must end in a 401 like any other bad token.
fn check_times(exp: Option<i64>, iat: Option<i64>, now: i64) -> Result<(), String> {
    let plausible = |t: i64| (MIN_PLAUSIBLE_TIME..=MAX_PLAUSIBLE_TIME).contains(&t);
    let exp = exp.ok_or("no exp")?;
    if !plausible(exp) {
        return Err("exp is not a plausible time".into());
    }
    if let Some(iat) = iat
        && !plausible(iat)
    {
        return Err("iat is not a plausible time".into());
    }
    // Both are in range now, but `now` includes the fault plan's skew: stay checked.
    let ahead = exp.checked_sub(now).ok_or("exp is not a plausible time")?;
    if ahead <= 0 {
        return Err(format!("token expired {} s ago", ahead.unsigned_abs()));
    }
    if ahead > MAX_TOKEN_LIFETIME_SECS {
        return Err(format!("exp is {ahead} s ahead, more than 20 minutes"));
    }
    if let Some(iat) = iat {
        let future = iat.checked_sub(now).ok_or("iat is not a plausible time")?;
        if future > 0 {
            return Err(format!("iat is {future} s in the future"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_times_are_refused_without_overflow() {
        let now = 1_800_000_000;
        for (exp, iat) in [
            (Some(i64::MIN), None),
            (Some(i64::MAX), None),
            (Some(now + 600), Some(i64::MAX)),
            (Some(now + 600), Some(i64::MIN)),
            (Some(now + 600), Some(-1)),
            (Some(-5), Some(now)),
            (Some(0), None),
        ] {
            assert!(check_times(exp, iat, now).is_err(), "{exp:?} {iat:?}");
            assert!(check_times(exp, iat, i64::MIN).is_err());
            assert!(check_times(exp, iat, i64::MAX).is_err());
        }
        assert!(check_times(Some(now + 600), Some(now - 60), now).is_ok());
        assert!(check_times(Some(now + 600), None, i64::MIN).is_err());
        assert!(check_times(Some(now + 600), None, i64::MAX).is_err());
    }
}
