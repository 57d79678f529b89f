//! Finding the API key: flags, environment, a fastlane API key JSON file, or `AuthKey_<KEYID>.p8` in the usual
//! directories (reference §1.1).
//!
//! Each of issuer id, key id and private key is taken from the first source that has it, in this order:
//! 1. flags (`--issuer-id`, `--key-id`, `--private-key`, `--private-key-path`);
//! 2. codemagic-cli-tools' environment: `APP_STORE_CONNECT_ISSUER_ID` / `APP_STORE_CONNECT_KEY_IDENTIFIER` /
//!    `APP_STORE_CONNECT_PRIVATE_KEY` (values may be `@env:NAME` or `@file:PATH`);
//! 3. the Go `asc` CLI's environment: `ASC_ISSUER_ID` / `ASC_KEY_ID` / `ASC_PRIVATE_KEY` (PEM text), then
//!    `ASC_PRIVATE_KEY_B64` (base64 of the PEM), then `ASC_PRIVATE_KEY_PATH`;
//! 4. fastlane's environment: `APP_STORE_CONNECT_API_KEY_ISSUER_ID` / `APP_STORE_CONNECT_API_KEY_KEY_ID` /
//!    `APP_STORE_CONNECT_API_KEY_KEY` (PEM text, or base64 of it when `APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64`
//!    is true), then `APP_STORE_CONNECT_API_KEY_KEY_FILEPATH`; `APP_STORE_CONNECT_API_KEY_IN_HOUSE` selects the
//!    Enterprise audience, and a key id from fastlane's variables with no issuer anywhere is an individual key, as in
//!    fastlane;
//! 5. a fastlane API key JSON (`--api-key-path`): `{"key_id", "issuer_id", "key", "in_house"?, "is_key_content_base64"?}`;
//! 6. `AuthKey_<KEYID>.p8` in `$API_PRIVATE_KEYS_DIR`, `./private_keys`, `~/private_keys`, `~/.private_keys`,
//!    `~/.appstoreconnect/private_keys`.
//!
//! A private key may also be given as its bare base64 body (the `.p8` without its BEGIN/END lines). Key files must be
//! regular files of at most 64 KiB: a FIFO or a device is refused, never read.
//!
//! No error or warning ever contains key material: only names of variables and paths, and a path that looks like key
//! material is shown by its shape only. [`resolve_with`] tells a [`Redactor`] every key text the moment it is read,
//! so output that quotes it anyway is redacted.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::auth::{
    ApiKey, Audience, Issuer, KeyError, PrivateKey, check_issuer_id, check_key_id, describe_value,
    looks_like_key_body,
};
use crate::redact::Redactor;

/// What the user passed on the command line.
#[derive(Clone, Default)]
pub struct CredentialFlags {
    /// `--issuer-id`.
    pub issuer_id: Option<String>,
    /// `--key-id`.
    pub key_id: Option<String>,
    /// `--private-key`: PEM text, `@env:NAME` or `@file:PATH`.
    pub private_key: Option<String>,
    /// `--private-key-path`.
    pub private_key_path: Option<PathBuf>,
    /// `--api-key-path`: fastlane API key JSON.
    pub api_key_path: Option<PathBuf>,
    /// `--individual-key`: the key is an individual key (`sub: "user"`, no issuer).
    pub individual: bool,
}

impl fmt::Debug for CredentialFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids are not secret, but one passed by mistake may be the key itself: show only well-formed ones.
        let id = |value: &Option<String>, check: fn(&str) -> Result<&str, KeyError>| {
            value.as_deref().map(|v| match check(v) {
                Ok(id) => id.to_owned(),
                Err(_) => format!("<{}>", describe_value(v)),
            })
        };
        f.debug_struct("CredentialFlags")
            .field("issuer_id", &id(&self.issuer_id, check_issuer_id))
            .field("key_id", &id(&self.key_id, check_key_id))
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .field("private_key_path", &self.private_key_path)
            .field("api_key_path", &self.api_key_path)
            .field("individual", &self.individual)
            .finish()
    }
}

/// A path for a message, unless it looks like key material (a PEM or token passed where a path belongs): then only
/// its shape, from [`describe_value`].
pub fn show_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let secret = text.contains('\n')
        || text.contains("-----BEGIN")
        || text.contains("PRIVATE KEY")
        || looks_like_key_body(&text)
        || text
            .split(['/', '\\'])
            .any(|segment| looks_like_key_body(segment) && segment.len() >= 40);
    if secret {
        format!("<a path that is {}>", describe_value(&text))
    } else {
        crate::redact::one_line(&text, 1024)
    }
}

/// The process environment, abstracted so tests control it.
pub trait Environment {
    /// An environment variable.
    fn var(&self, name: &str) -> Option<String>;
    /// The home directory.
    fn home_dir(&self) -> Option<PathBuf>;
    /// The working directory.
    fn current_dir(&self) -> Option<PathBuf>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn home_dir(&self) -> Option<PathBuf> {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    }
    fn current_dir(&self) -> Option<PathBuf> {
        std::env::current_dir().ok()
    }
}

/// Where a value came from (shown to users; never the value of a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag(&'static str),
    /// An environment variable.
    Env(String),
    /// A file (a `.p8`, `@file:` target or API key JSON).
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "{flag}"),
            Origin::Env(name) => write!(f, "${name}"),
            Origin::File(path) => f.write_str(&show_path(path)),
        }
    }
}

/// Something worth telling the user that does not stop the command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialWarning {
    /// The key file can be read by the group or others.
    KeyFileReadableByOthers {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl fmt::Display for CredentialWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialWarning::KeyFileReadableByOthers { path, mode } => write!(
                f,
                "private key file {} is readable by other users (mode {:03o}); run `chmod 600 {}`",
                show_path(path),
                mode & 0o777,
                show_path(path)
            ),
        }
    }
}

/// The key and where its parts came from.
#[derive(Debug)]
pub struct ResolvedCredentials {
    /// The key, ready to mint tokens.
    pub key: ApiKey,
    /// Where the key id came from.
    pub key_id_origin: Origin,
    /// Where the issuer id came from (`None` for an individual key).
    pub issuer_origin: Option<Origin>,
    /// Where the private key came from.
    pub private_key_origin: Origin,
    /// Warnings for the user.
    pub warnings: Vec<CredentialWarning>,
}

/// Why credentials could not be put together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// No key id anywhere.
    #[error(
        "no App Store Connect key id: pass --key-id, set APP_STORE_CONNECT_KEY_IDENTIFIER, ASC_KEY_ID or APP_STORE_CONNECT_API_KEY_KEY_ID, or use --api-key-path"
    )]
    MissingKeyId,
    /// No issuer id and not an individual key.
    #[error(
        "no App Store Connect issuer id: pass --issuer-id, set APP_STORE_CONNECT_ISSUER_ID, ASC_ISSUER_ID or APP_STORE_CONNECT_API_KEY_ISSUER_ID, or pass --individual-key for an individual API key"
    )]
    MissingIssuer,
    /// No private key anywhere.
    #[error(
        "no private key for key id {key_id}: pass --private-key or --private-key-path, set APP_STORE_CONNECT_PRIVATE_KEY, ASC_PRIVATE_KEY, ASC_PRIVATE_KEY_B64, ASC_PRIVATE_KEY_PATH, APP_STORE_CONNECT_API_KEY_KEY or APP_STORE_CONNECT_API_KEY_KEY_FILEPATH, or put AuthKey_{key_id}.p8 in ./private_keys, ~/private_keys, ~/.private_keys or ~/.appstoreconnect/private_keys"
    )]
    MissingPrivateKey {
        /// The key id (checked to be letters and digits before this is built, so never key material).
        key_id: String,
    },
    /// `@env:NAME` names an unset variable.
    #[error("{origin} refers to environment variable {name}, which is not set")]
    UnsetIndirection {
        /// Where the reference was.
        origin: Origin,
        /// The variable.
        name: String,
    },
    /// A file could not be read.
    #[error("cannot read {}", show_path(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The API key JSON is malformed.
    #[error("{} is not a fastlane API key JSON ({reason})", show_path(path))]
    BadApiKeyJson {
        /// The file.
        path: PathBuf,
        /// What is wrong (never file content).
        reason: String,
    },
    /// The key id has not the shape of one (the value is never shown: it may be key material).
    #[error("invalid key id from {origin}")]
    BadKeyId {
        /// Where it came from.
        origin: Origin,
        /// What is wrong (its shape, never the value).
        #[source]
        source: KeyError,
    },
    /// The issuer id has not the shape of one (the value is never shown).
    #[error("invalid issuer id from {origin}")]
    BadIssuerId {
        /// Where it came from.
        origin: Origin,
        /// What is wrong (its shape, never the value).
        #[source]
        source: KeyError,
    },
    /// A base64 variable does not hold base64 text.
    #[error("{origin} is not valid base64 text ({reason})")]
    BadBase64 {
        /// Where it came from.
        origin: Origin,
        /// What is wrong (never the content).
        reason: &'static str,
    },
    /// The key itself is unusable.
    #[error("private key from {origin} is unusable")]
    Key {
        /// Where it came from.
        origin: Origin,
        /// Cause.
        #[source]
        source: KeyError,
    },
}

#[derive(serde::Deserialize)]
struct FastlaneKey {
    key_id: Option<String>,
    issuer_id: Option<String>,
    key: Option<String>,
    #[serde(default)]
    in_house: Option<bool>,
    #[serde(default)]
    is_key_content_base64: Option<bool>,
}

/// Puts credentials together from `flags` and `env`.
pub fn resolve(
    flags: &CredentialFlags,
    env: &dyn Environment,
) -> Result<ResolvedCredentials, CredentialError> {
    resolve_with(flags, env, &Redactor::new())
}

/// [`resolve`], telling `redactor` each private key text as soon as it is read (also when it then turns out to be
/// unusable), so that output quoting it anyway is redacted.
pub fn resolve_with(
    flags: &CredentialFlags,
    env: &dyn Environment,
    redactor: &Redactor,
) -> Result<ResolvedCredentials, CredentialError> {
    let mut warnings = Vec::new();
    let fastlane = match &flags.api_key_path {
        Some(path) => Some((path.clone(), read_fastlane(path, &mut warnings)?)),
        None => None,
    };

    // Key id.
    let key_id = first_value(
        env,
        [
            (flags.key_id.clone(), Origin::Flag("--key-id")),
            (
                env.var("APP_STORE_CONNECT_KEY_IDENTIFIER"),
                Origin::Env("APP_STORE_CONNECT_KEY_IDENTIFIER".into()),
            ),
            (env.var("ASC_KEY_ID"), Origin::Env("ASC_KEY_ID".into())),
            (
                env.var(FASTLANE_KEY_ID),
                Origin::Env(FASTLANE_KEY_ID.into()),
            ),
            (
                fastlane.as_ref().and_then(|(_, f)| f.key_id.clone()),
                Origin::File(
                    fastlane
                        .as_ref()
                        .map(|(p, _)| p.clone())
                        .unwrap_or_default(),
                ),
            ),
        ],
        &mut warnings,
    )?;
    let (key_id, key_id_origin) = key_id.ok_or(CredentialError::MissingKeyId)?;
    // Checked before anything quotes it (e.g. the `AuthKey_<ID>.p8` hint): a key id read from the wrong variable
    // or `@file:` may be the private key.
    let key_id = match check_key_id(&key_id) {
        Ok(id) => id.to_owned(),
        Err(source) => {
            return Err(CredentialError::BadKeyId {
                origin: key_id_origin,
                source,
            });
        }
    };

    // Issuer.
    let individual = flags.individual;
    let issuer = if individual {
        None
    } else {
        first_value(
            env,
            [
                (flags.issuer_id.clone(), Origin::Flag("--issuer-id")),
                (
                    env.var("APP_STORE_CONNECT_ISSUER_ID"),
                    Origin::Env("APP_STORE_CONNECT_ISSUER_ID".into()),
                ),
                (
                    env.var("ASC_ISSUER_ID"),
                    Origin::Env("ASC_ISSUER_ID".into()),
                ),
                (
                    env.var(FASTLANE_ISSUER_ID),
                    Origin::Env(FASTLANE_ISSUER_ID.into()),
                ),
                (
                    fastlane.as_ref().and_then(|(_, f)| f.issuer_id.clone()),
                    Origin::File(
                        fastlane
                            .as_ref()
                            .map(|(p, _)| p.clone())
                            .unwrap_or_default(),
                    ),
                ),
            ],
            &mut warnings,
        )?
    };
    // A fastlane JSON without issuer_id is an individual key (fastlane: `sub = 'user'` when no issuer).
    let fastlane_individual = (fastlane
        .as_ref()
        .is_some_and(|(_, f)| f.issuer_id.is_none())
        || key_id_origin == Origin::Env(FASTLANE_KEY_ID.into()))
        && issuer.is_none();
    let (issuer, issuer_origin) = match issuer {
        Some((id, origin)) => match check_issuer_id(&id) {
            Ok(id) => (Issuer::Team(id.to_owned()), Some(origin)),
            Err(source) => return Err(CredentialError::BadIssuerId { origin, source }),
        },
        None if individual || fastlane_individual => (Issuer::Individual, None),
        None => return Err(CredentialError::MissingIssuer),
    };

    // Private key text.
    let (pem, private_key_origin) = private_key_text(
        flags,
        env,
        fastlane.as_ref(),
        &key_id,
        redactor,
        &mut warnings,
    )?;
    let pem = normalise_pem(&pem);
    redactor.add_secret(&pem);
    let private = PrivateKey::from_pem(&pem).map_err(|source| CredentialError::Key {
        origin: private_key_origin.clone(),
        source,
    })?;
    let in_house_env = env.var(FASTLANE_IN_HOUSE).is_some_and(|v| is_true(&v));
    let audience = if in_house_env
        || fastlane
            .as_ref()
            .is_some_and(|(_, f)| f.in_house == Some(true))
    {
        Audience::Enterprise
    } else {
        Audience::AppStoreConnect
    };
    // Key id and issuer were checked above, so this cannot fail on them; blame the key id if it does anyway.
    let key = ApiKey::new(&key_id, issuer, private)
        .map_err(|source| CredentialError::BadKeyId {
            origin: key_id_origin.clone(),
            source,
        })?
        .with_audience(audience);
    Ok(ResolvedCredentials {
        key,
        key_id_origin,
        issuer_origin,
        private_key_origin,
        warnings,
    })
}

/// The first non-empty candidate, with `@env:`/`@file:` indirection applied.
fn first_value<const N: usize>(
    env: &dyn Environment,
    candidates: [(Option<String>, Origin); N],
    warnings: &mut Vec<CredentialWarning>,
) -> Result<Option<(String, Origin)>, CredentialError> {
    for (value, origin) in candidates {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        return indirect(env, value, origin, warnings).map(Some);
    }
    Ok(None)
}

/// codemagic's `@env:NAME` / `@file:PATH` indirection.
fn indirect(
    env: &dyn Environment,
    value: String,
    origin: Origin,
    warnings: &mut Vec<CredentialWarning>,
) -> Result<(String, Origin), CredentialError> {
    if let Some(name) = value.strip_prefix("@env:") {
        let name = name.trim();
        // The name is echoed in errors; something that is not a variable name may be a pasted secret.
        let name = if !name.is_empty()
            && name.len() <= 128
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            name.to_owned()
        } else {
            format!("<{}>", describe_value(name))
        };
        let resolved = env
            .var(&name)
            .ok_or_else(|| CredentialError::UnsetIndirection {
                origin: origin.clone(),
                name: name.clone(),
            })?;
        return Ok((resolved, Origin::Env(name)));
    }
    if let Some(path) = value.strip_prefix("@file:") {
        let path = expand_home(env, path.trim());
        let text = read_key_file(&path, warnings)?;
        return Ok((text, Origin::File(path)));
    }
    Ok((value, origin))
}

const FASTLANE_KEY_ID: &str = "APP_STORE_CONNECT_API_KEY_KEY_ID";
const FASTLANE_ISSUER_ID: &str = "APP_STORE_CONNECT_API_KEY_ISSUER_ID";
const FASTLANE_KEY: &str = "APP_STORE_CONNECT_API_KEY_KEY";
const FASTLANE_KEY_BASE64: &str = "APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64";
const FASTLANE_KEY_FILEPATH: &str = "APP_STORE_CONNECT_API_KEY_KEY_FILEPATH";
const FASTLANE_IN_HOUSE: &str = "APP_STORE_CONNECT_API_KEY_IN_HOUSE";

/// fastlane's boolean environment values.
fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// Decodes a base64-of-PEM value (told to `redactor` before anything can fail).
fn decode_base64_key(text: &str, origin: &Origin) -> Result<String, CredentialError> {
    let compact: String = text.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.trim_matches('"'))
        .map_err(|_| CredentialError::BadBase64 {
            origin: origin.clone(),
            reason: "not base64",
        })?;
    String::from_utf8(bytes).map_err(|_| CredentialError::BadBase64 {
        origin: origin.clone(),
        reason: "does not decode to text",
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn private_key_text(
    flags: &CredentialFlags,
    env: &dyn Environment,
    fastlane: Option<&(PathBuf, FastlaneKey)>,
    key_id: &str,
    redactor: &Redactor,
    warnings: &mut Vec<CredentialWarning>,
) -> Result<(String, Origin), CredentialError> {
    let read = |path: &Path, warnings: &mut Vec<CredentialWarning>| {
        let text = read_key_file(path, warnings)?;
        redactor.add_secret(&text);
        Ok::<_, CredentialError>((text, Origin::File(path.to_owned())))
    };
    let inline = |value: String, origin: Origin, warnings: &mut Vec<CredentialWarning>| {
        redactor.add_secret(&value);
        let (text, origin) = indirect(env, value, origin, warnings)?;
        redactor.add_secret(&text);
        Ok::<_, CredentialError>((text, origin))
    };
    if let Some(value) = non_empty(flags.private_key.clone()) {
        return inline(value, Origin::Flag("--private-key"), warnings);
    }
    if let Some(path) = &flags.private_key_path {
        return read(path, warnings);
    }
    for name in ["APP_STORE_CONNECT_PRIVATE_KEY", "ASC_PRIVATE_KEY"] {
        if let Some(value) = non_empty(env.var(name)) {
            return inline(value, Origin::Env(name.into()), warnings);
        }
    }
    if let Some(value) = non_empty(env.var("ASC_PRIVATE_KEY_B64")) {
        redactor.add_secret(&value);
        let origin = Origin::Env("ASC_PRIVATE_KEY_B64".into());
        let text = decode_base64_key(&value, &origin)?;
        redactor.add_secret(&text);
        return Ok((text, origin));
    }
    if let Some(path) = non_empty(env.var("ASC_PRIVATE_KEY_PATH")) {
        return read(&expand_home(env, path.trim()), warnings);
    }
    if let Some(value) = non_empty(env.var(FASTLANE_KEY)) {
        redactor.add_secret(&value);
        let origin = Origin::Env(FASTLANE_KEY.into());
        if env.var(FASTLANE_KEY_BASE64).is_some_and(|v| is_true(&v)) {
            let text = decode_base64_key(&value, &origin)?;
            redactor.add_secret(&text);
            return Ok((text, origin));
        }
        return Ok((value, origin));
    }
    if let Some(path) = non_empty(env.var(FASTLANE_KEY_FILEPATH)) {
        return read(&expand_home(env, path.trim()), warnings);
    }
    if let Some((path, key)) = fastlane
        && let Some(text) = &key.key
    {
        redactor.add_secret(text);
        let text = if key.is_key_content_base64 == Some(true) {
            let text = decode_base64_key(text, &Origin::File(path.clone())).map_err(|_| {
                CredentialError::BadApiKeyJson {
                    path: path.clone(),
                    reason: "`key` is not base64 of a text".to_owned(),
                }
            })?;
            redactor.add_secret(&text);
            text
        } else {
            text.clone()
        };
        return Ok((text, Origin::File(path.clone())));
    }
    for dir in key_dirs(env) {
        let path = dir.join(format!("AuthKey_{key_id}.p8"));
        if path.is_file() {
            return read(&path, warnings);
        }
    }
    Err(CredentialError::MissingPrivateKey {
        key_id: key_id.to_owned(),
    })
}

/// The directories searched for `AuthKey_<KEYID>.p8`, in order.
pub fn key_dirs(env: &dyn Environment) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = env.var("API_PRIVATE_KEYS_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(cwd) = env.current_dir() {
        dirs.push(cwd.join("private_keys"));
    }
    if let Some(home) = env.home_dir() {
        dirs.push(home.join("private_keys"));
        dirs.push(home.join(".private_keys"));
        dirs.push(home.join(".appstoreconnect").join("private_keys"));
    }
    dirs
}

fn expand_home(env: &dyn Environment, path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), env.home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Largest key or key JSON file read (a .p8 is ~250 bytes).
const MAX_KEY_FILE: u64 = 64 * 1024;

fn read_key_file(
    path: &Path,
    warnings: &mut Vec<CredentialWarning>,
) -> Result<String, CredentialError> {
    use std::io::Read as _;
    let fail = |source: std::io::Error| CredentialError::Read {
        path: path.to_owned(),
        source,
    };
    let invalid = |what: &str| fail(std::io::Error::new(std::io::ErrorKind::InvalidData, what));
    let meta = std::fs::metadata(path).map_err(fail)?;
    // Opening a FIFO blocks until a writer comes, and a device never ends: only regular files are opened.
    if !meta.is_file() {
        return Err(invalid(if meta.is_dir() {
            "a directory, not a key file"
        } else {
            "not a regular file (a FIFO, socket or device); pass the key's text with @env:NAME instead"
        }));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(invalid("file too large for a key"));
    }
    check_permissions(path, &meta, warnings);
    let file = std::fs::File::open(path).map_err(fail)?;
    // The cap holds even if the file grew since it was measured.
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(invalid("file too large for a key"));
    }
    String::from_utf8(bytes).map_err(|_| invalid("not a text file"))
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &std::fs::Metadata, warnings: &mut Vec<CredentialWarning>) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        warnings.push(CredentialWarning::KeyFileReadableByOthers {
            path: path.to_owned(),
            mode,
        });
    }
}

#[cfg(not(unix))]
fn check_permissions(
    _path: &Path,
    _meta: &std::fs::Metadata,
    _warnings: &mut Vec<CredentialWarning>,
) {
}

fn read_fastlane(
    path: &Path,
    warnings: &mut Vec<CredentialWarning>,
) -> Result<FastlaneKey, CredentialError> {
    let text = read_key_file(path, warnings)?;
    serde_json::from_str::<FastlaneKey>(&text).map_err(|e| CredentialError::BadApiKeyJson {
        path: path.to_owned(),
        // serde_json's message names the position and expectation, not the content.
        reason: format!("invalid JSON at line {} column {}", e.line(), e.column()),
    })
}

/// CI secrets often hold a PEM with literal `\n` sequences, or surrounding quotes.
fn normalise_pem(text: &str) -> String {
    let text = text.trim().trim_matches('"');
    if !text.contains('\n') && text.contains("\\n") {
        text.replace("\\n", "\n")
    } else {
        text.to_owned()
    }
}
