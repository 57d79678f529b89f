//! Credentials and server flags shared by the commands that talk to App Store Connect (`build-number`, `upload`).

use std::path::PathBuf;

use clap::Args;
use ipagate_asc::credentials::{self, CredentialFlags, ProcessEnvironment, ResolvedCredentials};
use ipagate_asc::{ApiKey, Client, ClientBuilder};

/// A command-line value that is a secret: `Debug` never shows it.
#[derive(Clone)]
pub struct SecretArg(String);

impl std::str::FromStr for SecretArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretArg(s.to_owned()))
    }
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Credentials and server. The value-taking credential flags accept values starting with `-`: a PEM starts with
/// `-----`, and clap would otherwise reject it as an unexpected argument, quoting the whole key in its error.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// API issuer id (team keys). Else $APP_STORE_CONNECT_ISSUER_ID, $ASC_ISSUER_ID,
    /// $APP_STORE_CONNECT_API_KEY_ISSUER_ID, --api-key-path.
    #[arg(long, allow_hyphen_values = true, value_name = "UUID")]
    pub issuer_id: Option<String>,
    /// API key id. Else $APP_STORE_CONNECT_KEY_IDENTIFIER, $ASC_KEY_ID, $APP_STORE_CONNECT_API_KEY_KEY_ID,
    /// --api-key-path.
    #[arg(long, allow_hyphen_values = true, value_name = "ID")]
    pub key_id: Option<String>,
    /// Private key: PEM text, its base64 body, @env:NAME or @file:PATH. Else --private-key-path,
    /// $APP_STORE_CONNECT_PRIVATE_KEY, $ASC_PRIVATE_KEY, $ASC_PRIVATE_KEY_B64, $ASC_PRIVATE_KEY_PATH, fastlane's
    /// $APP_STORE_CONNECT_API_KEY_KEY(_FILEPATH), --api-key-path, AuthKey_<ID>.p8 in $API_PRIVATE_KEYS_DIR,
    /// ./private_keys, ~/private_keys, ~/.private_keys, ~/.appstoreconnect/private_keys.
    #[arg(long, allow_hyphen_values = true, value_name = "KEY")]
    pub private_key: Option<SecretArg>,
    /// Path of the .p8 private key.
    #[arg(long, allow_hyphen_values = true, value_name = "FILE")]
    pub private_key_path: Option<PathBuf>,
    /// fastlane API key JSON: {"key_id", "issuer_id", "key", "in_house"}.
    #[arg(long, allow_hyphen_values = true, value_name = "FILE")]
    pub api_key_path: Option<PathBuf>,
    /// The key is an individual API key (no issuer id; the token says sub "user").
    #[arg(long)]
    pub individual_key: bool,
    /// Server root (paths add /v1/...), e.g. the URL printed by `ipagate sandbox`.
    #[arg(long, env = "ASC_BASE_URL", value_name = "URL", default_value = ipagate_asc::DEFAULT_BASE_URL)]
    pub api_base_url: String,
    /// Give up after this many seconds in all: every request, page, retry and wait included (a slow or stuck server
    /// cannot hold a CI step longer).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub timeout: u64,
}

impl AuthArgs {
    /// The credential flags as the resolver takes them.
    pub fn flags(&self) -> CredentialFlags {
        CredentialFlags {
            issuer_id: self.issuer_id.clone(),
            key_id: self.key_id.clone(),
            private_key: self.private_key.as_ref().map(|s| s.0.clone()),
            private_key_path: self.private_key_path.clone(),
            api_key_path: self.api_key_path.clone(),
            individual: self.individual_key,
        }
    }

    /// Resolves the key from the flags and the environment; every key found is registered with the output
    /// redactor, so nothing printed afterwards can quote it.
    pub fn resolve(&self) -> Result<ResolvedCredentials, credentials::CredentialError> {
        credentials::resolve_with(
            &self.flags(),
            &ProcessEnvironment,
            crate::output::redactor(),
        )
    }

    /// A client builder for `key` with `--api-base-url`, the output redactor, `--timeout` as the deadline of one
    /// request (retries and waits included) and at most 60 s per attempt.
    pub fn client_builder(&self, key: ApiKey) -> ClientBuilder {
        let timeout = std::time::Duration::from_secs(self.timeout.max(1));
        Client::builder(key)
            .base_url(&self.api_base_url)
            .redactor(crate::output::redactor().clone())
            .deadline(Some(timeout))
            .timeout(timeout.min(std::time::Duration::from_secs(60)))
    }
}
