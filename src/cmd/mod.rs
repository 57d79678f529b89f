//! One module per subcommand. Each exposes its clap arguments and `run`, which returns an exit code
//! from [`crate::exit`] or an error (printed as one line, exit code 2).

pub mod auth;
pub mod build_number;
pub mod inspect;
pub mod lint;
pub mod preflight;
pub mod publish;
pub mod rules_cmd;
pub mod sandbox;
pub mod upload;

/// `outer: cause: root cause`, each message once (library errors never repeat their source).
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Writes `value` as pretty JSON and a newline. Serialised first, then written with plain I/O, so
/// a closed pipe surfaces as an `io::Error` (which `main` turns into a quiet exit), not as a
/// serde error that hides it.
pub fn write_json(out: &mut impl std::io::Write, value: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    out.write_all(&text)?;
    Ok(())
}

/// A short, stable name for what kind of error ended the command (the `kind` of the JSON error document).
pub fn error_kind(err: &anyhow::Error) -> &'static str {
    use ipagate_bumper::ApplyError;
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ApplyError>() {
            return match e {
                ApplyError::InvalidNumber { .. } => "invalid_number",
                ApplyError::Lower { .. } => "lower_number",
                ApplyError::UnknownTarget { .. } => "unknown_target",
                ApplyError::NoShippingTarget(..) => "no_shipping_target",
                ApplyError::Unresolved { .. } => "unresolved_build_number",
                ApplyError::Unverified { .. } => "unverified_build_number",
                ApplyError::Write { .. } | ApplyError::RollbackFailed { .. } => "write",
                _ => "project",
            };
        }
        if let Some(e) = cause.downcast_ref::<ipagate_uploader::UploadError>() {
            return match e {
                ipagate_uploader::UploadError::Identity(_) => "invalid_ipa",
                ipagate_uploader::UploadError::Journal(_) => "journal",
                ipagate_uploader::UploadError::BadOperations(_)
                | ipagate_uploader::UploadError::MissingField { .. } => "bad_response",
                _ => "upload",
            };
        }
        if cause.is::<ipagate_uploader::IdentityError>() {
            return "invalid_ipa";
        }
        if cause.is::<ipagate_bumper::ParseError>() {
            return "invalid_number";
        }
        if cause.is::<ipagate_asc::RequestError>() {
            return "app_store_connect";
        }
        if cause.is::<std::io::Error>() {
            return "io";
        }
    }
    "error"
}

/// The JSON document printed on stdout when a command run with `--format json` fails, so a CI step that parses
/// stdout sees why (`{"schema_version": 1, "error": {"kind", "message"}}`).
#[derive(serde::Serialize)]
pub struct ErrorDocument<'a> {
    /// Always 1.
    pub schema_version: u32,
    /// The error.
    pub error: ErrorBody<'a>,
}

/// The `error` object of [`ErrorDocument`].
#[derive(serde::Serialize)]
pub struct ErrorBody<'a> {
    /// See [`error_kind`].
    pub kind: &'static str,
    /// The same one-line message as on stderr.
    pub message: &'a str,
}
