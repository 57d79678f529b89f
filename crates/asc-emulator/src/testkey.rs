//! P-256 key pairs for tests and `ipagate sandbox --generate-key`: the private key as Apple
//! ships it (`AuthKey_<KEYID>.p8`, unencrypted PKCS#8 PEM) and the public key the emulator
//! verifies with (SubjectPublicKeyInfo PEM). Made with aws-lc-rs, the backend jsonwebtoken uses.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A fresh key pair. `Debug` shows the key id only.
#[derive(Clone)]
pub struct KeyPair {
    /// The key id (`kid`).
    pub key_id: String,
    /// `-----BEGIN PRIVATE KEY-----` PKCS#8, as in an `AuthKey_<KEYID>.p8`.
    pub private_pkcs8_pem: String,
    /// `-----BEGIN PUBLIC KEY-----` SubjectPublicKeyInfo.
    pub public_pem: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Key generation failed (the system random source or the crypto library refused).
#[derive(Debug, thiserror::Error)]
#[error("cannot generate a P-256 key pair")]
pub struct GenerateError;

/// Generates a P-256 key pair.
pub fn try_generate(key_id: &str) -> Result<KeyPair, GenerateError> {
    let pair =
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| GenerateError)?;
    let pkcs8 = pair.to_pkcs8v1().map_err(|_| GenerateError)?;
    let public = pair.public_key().as_der().map_err(|_| GenerateError)?;
    Ok(KeyPair {
        key_id: key_id.to_string(),
        private_pkcs8_pem: pem("PRIVATE KEY", pkcs8.as_ref()),
        public_pem: pem("PUBLIC KEY", public.as_ref()),
    })
}

/// Generates a P-256 key pair; panics only if the system cannot make one. For tests only (feature `testkey`, enabled
/// by dev-dependencies): programs use [`try_generate`].
#[cfg(feature = "testkey")]
#[allow(clippy::expect_used)]
pub fn generate(key_id: &str) -> KeyPair {
    try_generate(key_id).expect("P-256 key generation")
}

/// A random key id of 10 characters from `A-Z0-9`, like Apple's.
pub fn random_key_id() -> Result<String, GenerateError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 10];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| GenerateError)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// A random version-4 UUID, for issuer ids.
pub fn random_uuid() -> Result<String, GenerateError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| GenerateError)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A token could not be signed (the key is not a P-256 PKCS#8 PEM).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign a token with key {key_id}")]
pub struct SignError {
    key_id: String,
    #[source]
    source: jsonwebtoken::errors::Error,
}

/// Signs an App Store Connect token for tests and scripts: ES256, `kid`, `aud:
/// appstoreconnect-v1`, `iat` = now − 60 s, `exp` = now + `lifetime_secs`, and `iss` = the issuer
/// (team key) or `sub: "user"` when `issuer_id` is `None` (individual key).
pub fn sign_token(
    private_pkcs8_pem: &str,
    key_id: &str,
    issuer_id: Option<&str>,
    lifetime_secs: i64,
) -> Result<String, SignError> {
    let fail = |source| SignError {
        key_id: key_id.to_string(),
        source,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut claims = serde_json::json!({
        "aud": "appstoreconnect-v1",
        "iat": now - 60,
        "exp": now + lifetime_secs,
    });
    if let Some(map) = claims.as_object_mut() {
        match issuer_id {
            Some(iss) => map.insert("iss".into(), iss.into()),
            None => map.insert("sub".into(), "user".into()),
        };
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key_id.to_string());
    header.typ = Some("JWT".into());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(private_pkcs8_pem.as_bytes()).map_err(fail)?;
    jsonwebtoken::encode(&header, &claims, &key).map_err(fail)
}
