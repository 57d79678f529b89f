//! ES256 JSON Web Tokens for the App Store Connect API (reference §1, Apple's "Generating Tokens for API Requests").
//!
//! A team key signs `{iss, iat, exp, aud}`; an individual key signs `{sub: "user", iat, exp, aud}`. The header carries
//! `alg: ES256`, `kid` and `typ: JWT`. Apple rejects tokens that expire more than 20 minutes ahead, so tokens live
//! [`DEFAULT_TOKEN_LIFETIME`] (15 min) and are backdated 60 s against clock skew; the cached token is re-minted once
//! less than [`REFRESH_MARGIN`] is left. Private keys and tokens are never shown by `Debug` or `Display`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::retry::{Clock, SystemClock};

/// How long a minted token is valid. Well under Apple's 20-minute cap even with a minute of skew.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// `iat` is set this far in the past so a client clock slightly ahead of Apple's is not rejected.
pub const IAT_BACKDATE: Duration = Duration::from_secs(60);
/// A cached token with less than this left is replaced before use.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Apple's hard cap on `exp - now`.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(20 * 60);

/// A `.p8` private key (PKCS#8 PEM wrapping an EC P-256 key). `Debug` never shows the key.
#[derive(Clone)]
pub struct PrivateKey {
    encoding: EncodingKey,
}

/// Why a private key or API key cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text has no PEM block at all.
    #[error(
        "private key is not PEM text (expected a `-----BEGIN PRIVATE KEY-----` block as in an AuthKey_<KEYID>.p8 file)"
    )]
    NotPem,
    /// A PEM block of another kind (RSA, certificate, encrypted key...).
    #[error(
        "private key is a `{label}` PEM block; App Store Connect keys are unencrypted PKCS#8 `PRIVATE KEY` blocks{hint}"
    )]
    WrongPemLabel {
        /// The label found after `-----BEGIN `.
        label: String,
        /// Extra advice for a known mistake.
        hint: &'static str,
    },
    /// PKCS#8 but not an EC P-256 key, or corrupt.
    #[error(
        "private key is not a usable ES256 key (PKCS#8 EC P-256 expected; is the .p8 file damaged or of another key type?)"
    )]
    NotEs256,
    /// The key id is not the 10 characters Apple issues. The value itself is never kept: a key id read from the
    /// wrong place may be the private key, so only its [`describe_value`] shape is.
    #[error(
        "key id is {shape}, not an App Store Connect key id (10 letters or digits, e.g. 2X9R4HXF34)"
    )]
    BadKeyId {
        /// What the value looks like (length, "looks like a PEM key"), never the value.
        shape: String,
    },
    /// The issuer id is empty.
    #[error("issuer id is empty")]
    EmptyIssuer,
    /// The issuer id is not a UUID-like identifier. As for key ids, only its shape is kept.
    #[error(
        "issuer id is {shape}, not an App Store Connect issuer id (a UUID, e.g. 57246542-96fe-1a63-e053-0824d011072a)"
    )]
    BadIssuerId {
        /// What the value looks like, never the value.
        shape: String,
    },
}

/// Longest key id accepted (Apple's are 10 characters; some tools pad or prefix them).
const MAX_KEY_ID_LEN: usize = 32;
/// Longest issuer id accepted (Apple's are 36-character UUIDs).
const MAX_ISSUER_ID_LEN: usize = 64;

/// Checks a key id (trimmed), returning it when it has the shape of one.
pub fn check_key_id(key_id: &str) -> Result<&str, KeyError> {
    let trimmed = key_id.trim();
    if trimmed.is_empty()
        || trimmed.len() > MAX_KEY_ID_LEN
        || !trimmed.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(KeyError::BadKeyId {
            shape: describe_value(key_id),
        });
    }
    Ok(trimmed)
}

/// Checks an issuer id (trimmed): letters, digits, `-` and `_`, at most 64 characters (Apple's are UUIDs).
pub fn check_issuer_id(issuer_id: &str) -> Result<&str, KeyError> {
    let trimmed = issuer_id.trim();
    if trimmed.is_empty() {
        return Err(KeyError::EmptyIssuer);
    }
    if trimmed.len() > MAX_ISSUER_ID_LEN
        || !trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(KeyError::BadIssuerId {
            shape: describe_value(issuer_id),
        });
    }
    Ok(trimmed)
}

/// Describes a rejected credential value without showing any of it: its length and, when recognisable, what it
/// seems to be (a PEM key, a JWT, several lines), so a user sees that e.g. the key id variable holds the `.p8`.
pub fn describe_value(value: &str) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return "empty".to_owned();
    }
    let chars = trimmed.chars().count();
    let lines = trimmed.lines().count();
    let what = if trimmed.contains("-----BEGIN") || trimmed.contains("PRIVATE KEY") {
        " that looks like a PEM key (is a private key in the wrong variable or file?)".to_owned()
    } else if trimmed.starts_with("eyJ") && trimmed.matches('.').count() == 2 {
        " that looks like a JSON web token".to_owned()
    } else if looks_like_key_body(trimmed) {
        " that looks like a private key's base64 body (is a private key in the wrong variable or file?)".to_owned()
    } else if lines > 1 {
        format!(" of {lines} lines")
    } else if trimmed.chars().any(char::is_whitespace) {
        " with spaces".to_owned()
    } else if trimmed
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        String::new()
    } else {
        " with characters other than letters, digits and dashes".to_owned()
    };
    format!("a {chars}-character value{what}")
}

/// Whether `text` looks like base64 key material rather than a name, id or path: a bare DER key (`MIG…`), or a long
/// run of base64 characters mixing capitals, small letters and digits with no dot, dash or underscore.
pub fn looks_like_key_body(text: &str) -> bool {
    if text.contains("PRIVATE KEY") || crate::redact::redact_secrets(text) != text {
        return true;
    }
    let body: String = text.split("\\n").flat_map(str::split_whitespace).collect();
    body.len() >= 24
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        && body.bytes().any(|b| b.is_ascii_uppercase())
        && body.bytes().any(|b| b.is_ascii_lowercase())
        && body.bytes().any(|b| b.is_ascii_digit())
}

impl PrivateKey {
    /// Parses a `.p8` key and proves it can sign ES256.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let wrapped;
        let text = match pem_label(text) {
            Some(_) => text,
            None => {
                wrapped = pem_from_bare_der(text).ok_or(KeyError::NotPem)?;
                wrapped.as_str()
            }
        };
        let label = pem_label(text).ok_or(KeyError::NotPem)?;
        if label != "PRIVATE KEY" {
            let hint = match label.as_str() {
                "EC PRIVATE KEY" => {
                    " (convert with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out AuthKey_KEYID.p8`)"
                }
                "ENCRYPTED PRIVATE KEY" => " (this one is encrypted)",
                _ => "",
            };
            return Err(KeyError::WrongPemLabel { label, hint });
        }
        let encoding = EncodingKey::from_ec_pem(text.as_bytes()).map_err(|_| KeyError::NotEs256)?;
        let key = PrivateKey { encoding };
        // Signing once up front turns a wrong curve or a corrupt key into a load-time error instead of a 401 later.
        let header = Header::new(Algorithm::ES256);
        jsonwebtoken::encode(&header, &serde_json::json!({"probe": true}), &key.encoding)
            .map_err(|_| KeyError::NotEs256)?;
        Ok(key)
    }
}

/// The label of the first PEM block: the rest of the `-----BEGIN ` line without its closing dashes. Only that line is
/// read (a BEGIN line missing its dashes must not pull the key body in), and a label that is not a few capital words
/// is not quoted: it is shown as `<unreadable label>`.
fn pem_label(text: &str) -> Option<String> {
    let start = text.find("-----BEGIN")? + "-----BEGIN".len();
    let line = text[start..]
        .split(['\n', '\r'])
        .next()
        .unwrap_or_default()
        .split("\\n")
        .next()
        .unwrap_or_default();
    let label = line.trim().trim_end_matches('-').trim();
    let plain = !label.is_empty()
        && label.len() <= 40
        && label
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ');
    Some(if plain {
        label.to_owned()
    } else {
        "<unreadable label>".to_owned()
    })
}

/// A bare base64 DER key (a `.p8` without its BEGIN/END lines, as some tools store it) wrapped into a PEM.
pub(crate) fn pem_from_bare_der(text: &str) -> Option<String> {
    let body: String = text.split("\\n").flat_map(str::split_whitespace).collect();
    if body.len() < 64
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        || crate::redact::redact_secrets(&body) == body
    {
        return None;
    }
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).ok()?);
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Some(pem)
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// Who the key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// A team key: the issuer id (a UUID) goes into `iss`.
    Team(String),
    /// An individual key: `sub: "user"` instead of `iss`.
    Individual,
}

/// The `aud` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Audience {
    /// `appstoreconnect-v1`.
    #[default]
    AppStoreConnect,
    /// `apple-developer-enterprise-v1` (Enterprise program, fastlane's `in_house`).
    Enterprise,
}

impl Audience {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::AppStoreConnect => "appstoreconnect-v1",
            Audience::Enterprise => "apple-developer-enterprise-v1",
        }
    }
}

/// Everything needed to mint tokens.
#[derive(Debug, Clone)]
pub struct ApiKey {
    key_id: String,
    issuer: Issuer,
    audience: Audience,
    key: PrivateKey,
}

impl ApiKey {
    /// A key for the App Store Connect audience.
    pub fn new(key_id: &str, issuer: Issuer, key: PrivateKey) -> Result<Self, KeyError> {
        let key_id = check_key_id(key_id)?;
        let issuer = match issuer {
            Issuer::Team(id) => Issuer::Team(check_issuer_id(&id)?.to_owned()),
            Issuer::Individual => Issuer::Individual,
        };
        Ok(ApiKey {
            key_id: key_id.to_owned(),
            issuer,
            audience: Audience::default(),
            key,
        })
    }

    /// Changes the audience.
    pub fn with_audience(mut self, audience: Audience) -> Self {
        self.audience = audience;
        self
    }

    /// The key id (`kid`), not a secret.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'static str>,
    iat: u64,
    exp: u64,
    aud: &'static str,
}

/// A bearer token. `Debug` is redacted; read it with [`Token::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    value: Arc<str>,
    expires_at: SystemTime,
}

impl Token {
    /// The JWT text, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// When the token stops being valid (`exp`).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Minting failed (the clock is before 1970, or signing failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot mint an App Store Connect token: {reason}")]
pub struct MintError {
    reason: &'static str,
}

/// Mints tokens and caches the current one until it is about to expire.
pub struct TokenProvider {
    key: ApiKey,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
    cache: Mutex<Option<Token>>,
    minted: AtomicU64,
    redactor: crate::redact::Redactor,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("key", &self.key)
            .field("lifetime", &self.lifetime)
            .field("minted", &self.minted.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider using the system clock and [`DEFAULT_TOKEN_LIFETIME`].
    pub fn new(key: ApiKey) -> Self {
        Self::with_clock(key, Arc::new(SystemClock))
    }

    /// A provider reading time from `clock` (tests inject one).
    pub fn with_clock(key: ApiKey, clock: Arc<dyn Clock>) -> Self {
        TokenProvider {
            key,
            lifetime: DEFAULT_TOKEN_LIFETIME,
            clock,
            cache: Mutex::new(None),
            minted: AtomicU64::new(0),
            redactor: crate::redact::Redactor::new(),
        }
    }

    /// Registers every token minted from now on with `redactor`.
    pub fn with_redactor(mut self, redactor: crate::redact::Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Sets the token lifetime, clamped to leave a minute of headroom under Apple's 20-minute cap.
    pub fn set_lifetime(&mut self, lifetime: Duration) {
        let cap = MAX_TOKEN_LIFETIME - IAT_BACKDATE;
        self.lifetime = lifetime.clamp(REFRESH_MARGIN * 2, cap);
    }

    /// The key this provider signs with.
    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    /// How many tokens were minted so far.
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::Relaxed)
    }

    /// The cached token, or a fresh one if none is cached or it expires within [`REFRESH_MARGIN`].
    pub fn token(&self) -> Result<Token, MintError> {
        let now = self.clock.now();
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(token) = cache.as_ref()
            && token.expires_at > now + REFRESH_MARGIN
        {
            return Ok(token.clone());
        }
        let token = self.mint(now)?;
        *cache = Some(token.clone());
        Ok(token)
    }

    /// Drops `rejected` from the cache (after a 401) so the next [`TokenProvider::token`] mints a new one.
    pub fn invalidate(&self, rejected: &Token) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if cache.as_ref() == Some(rejected) {
            *cache = None;
        }
    }

    fn mint(&self, now: SystemTime) -> Result<Token, MintError> {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| MintError {
                reason: "the system clock is before 1970",
            })?
            .as_secs();
        let exp = secs + self.lifetime.as_secs();
        let claims = Claims {
            iss: match &self.key.issuer {
                Issuer::Team(id) => Some(id.as_str()),
                Issuer::Individual => None,
            },
            sub: match &self.key.issuer {
                Issuer::Team(_) => None,
                Issuer::Individual => Some("user"),
            },
            iat: secs.saturating_sub(IAT_BACKDATE.as_secs()),
            exp,
            aud: self.key.audience.as_str(),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key.key_id.clone());
        header.typ = Some("JWT".to_owned());
        let value =
            jsonwebtoken::encode(&header, &claims, &self.key.key.encoding).map_err(|_| {
                MintError {
                    reason: "ES256 signing failed",
                }
            })?;
        self.minted.fetch_add(1, Ordering::Relaxed);
        self.redactor.add_token(&value);
        Ok(Token {
            value: value.into(),
            expires_at: UNIX_EPOCH + Duration::from_secs(exp),
        })
    }
}
