//! The one way out of the process: every line `ipagate` prints (errors, warnings, notes, human and JSON output on
//! stdout, argument-parser messages, future progress lines) passes through [`redact`], which knows the live secrets
//! of this run.
//!
//! What it knows: whatever [`redactor`] has been told — the private key as each credential source gave it (registered
//! by `ipagate_asc::credentials::resolve_with`), every token the client mints (registered by the client's
//! [`ipagate_asc::ClientBuilder::redactor`]), and, before the arguments are even parsed, the key texts found in the
//! credential environment variables and in `--private-key` ([`register_early_secrets`]). Besides those it removes
//! everything secret-shaped (PEM blocks, JWTs, bare base64 DER keys): see `ipagate_asc::redact`.
//!
//! Writers from [`stdout`] and [`stderr`] buffer what is written and redact it as a whole when flushed (or dropped),
//! so a secret split across several `write!` calls is still seen whole. Call `flush()` after each progress line.

use std::io::{self, Write};
use std::sync::OnceLock;

use ipagate_asc::redact::Redactor;

/// The process's redactor: give it to the credential resolver and the client, and it will know their secrets.
pub fn redactor() -> &'static Redactor {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    REDACTOR.get_or_init(Redactor::new)
}

/// `text` without live secrets and secret shapes.
pub fn redact(text: &str) -> String {
    redactor().redact(text)
}

/// A value from a server (or any untrusted source) for output: redacted, one line, printable, at most `max_chars`.
pub fn untrusted(text: &str, max_chars: usize) -> String {
    redactor().one_line(text, max_chars)
}

/// Credential variables whose value may be the key itself.
const KEY_VARIABLES: [&str; 4] = [
    "APP_STORE_CONNECT_PRIVATE_KEY",
    "ASC_PRIVATE_KEY",
    "ASC_PRIVATE_KEY_B64",
    "APP_STORE_CONNECT_API_KEY_KEY",
];

/// Credential variables that name a key file.
const KEY_FILE_VARIABLES: [&str; 2] = [
    "ASC_PRIVATE_KEY_PATH",
    "APP_STORE_CONNECT_API_KEY_KEY_FILEPATH",
];

/// Options whose value names a key file (or, with `@file:`, holds one).
const KEY_FILE_OPTIONS: [&str; 3] = ["--private-key-path", "--api-key-path", "--private-key"];

/// Largest key file read early (as the credential code's cap).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Tells the redactor, before the command line is parsed, the key texts it can find: the credential environment
/// variables that hold a key inline, `--private-key`'s value, the key files named by flags and variables (regular
/// files of at most 64 KiB only), and any argument or `IPAGATE_NOW` value that looks like a piece of base64 key
/// material and is not an existing path. An argument-parser error quoting one of them (or a piece of one) is then
/// redacted even though the credentials were never resolved.
pub fn register_early_secrets() {
    let redactor = redactor();
    for name in KEY_VARIABLES {
        if let Ok(value) = std::env::var(name) {
            match value.strip_prefix("@file:") {
                Some(path) => register_path(path.trim()),
                None if value.starts_with("@env:") => {}
                None => redactor.add_secret(&value),
            }
        }
    }
    for name in KEY_FILE_VARIABLES {
        if let Ok(path) = std::env::var(name) {
            register_path(path.trim());
        }
    }
    // Ids and the hidden clock are echoed in messages; one that is a piece of the key is a secret.
    for name in [
        "IPAGATE_NOW",
        "APP_STORE_CONNECT_KEY_IDENTIFIER",
        "APP_STORE_CONNECT_ISSUER_ID",
        "ASC_KEY_ID",
        "ASC_ISSUER_ID",
        "APP_STORE_CONNECT_API_KEY_KEY_ID",
        "APP_STORE_CONNECT_API_KEY_ISSUER_ID",
        "ASC_BASE_URL",
    ] {
        if let Ok(value) = std::env::var(name)
            && looks_like_a_key_piece(&value)
        {
            redactor.add_secret(&value);
        }
    }
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (i, arg) in args.iter().enumerate() {
        for option in KEY_FILE_OPTIONS {
            let value = match arg.strip_prefix(option) {
                Some(rest) => match rest.strip_prefix('=') {
                    Some(inline) => Some(inline),
                    None if rest.is_empty() => args.get(i + 1).map(String::as_str),
                    None => None,
                },
                None => None,
            };
            let Some(value) = value else { continue };
            match value.strip_prefix("@file:") {
                Some(path) => register_path(path.trim()),
                None if option == "--private-key" => {
                    if !value.starts_with("@env:") {
                        redactor.add_secret(value);
                    }
                }
                None => register_path(value),
            }
        }
        let bare = arg.split_once('=').map_or(arg.as_str(), |(_, v)| v);
        if looks_like_a_key_piece(bare) {
            redactor.add_secret(bare);
        }
    }
}

/// A piece of base64 key material rather than an option value, name or path: at least 16 characters, all of the
/// base64 alphabet, capitals and small letters mixed, and not an existing path. (A false positive only redacts that
/// value where it is echoed.)
fn looks_like_a_key_piece(text: &str) -> bool {
    let text = text.trim();
    ipagate_asc::auth::looks_like_key_body(text)
        || (text.len() >= ipagate_asc::redact::MIN_SECRET_RUN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            && text.bytes().any(|b| b.is_ascii_uppercase())
            && text.bytes().any(|b| b.is_ascii_lowercase())
            && !std::path::Path::new(text).exists())
}

/// Registers what a path-valued source holds: a piece of key material given as the path itself (the "path" is then
/// echoed in "cannot read …"), or the key in the file it names.
fn register_path(path: &str) {
    if looks_like_a_key_piece(path) {
        redactor().add_secret(path);
    }
    register_file(path);
}

/// Registers the key in a file, when it is a small regular file that holds one (a PEM, or a JSON with a `key`).
fn register_file(path: &str) {
    use std::io::Read as _;
    let path = match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => std::path::PathBuf::from(path),
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return;
    };
    if !meta.is_file() || meta.len() > MAX_KEY_FILE {
        return;
    }
    let mut text = String::new();
    let Ok(file) = std::fs::File::open(&path) else {
        return;
    };
    if file.take(MAX_KEY_FILE).read_to_string(&mut text).is_err() {
        return;
    }
    if text.contains("PRIVATE KEY") {
        redactor().add_secret(&text);
    } else if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(key) = json.get("key").and_then(serde_json::Value::as_str)
    {
        redactor().add_secret(key);
    }
}

/// Where a [`Guarded`] writer ends up.
#[derive(Clone, Copy)]
enum Target {
    Stdout,
    Stderr,
}

/// A writer that redacts what it buffered when flushed or dropped. (No `Debug`: the buffer is not redacted yet.)
pub struct Guarded {
    target: Target,
    buffer: Vec<u8>,
}

/// A redacting writer for stdout.
pub fn stdout() -> Guarded {
    Guarded {
        target: Target::Stdout,
        buffer: Vec::new(),
    }
}

/// A redacting writer for stderr.
pub fn stderr() -> Guarded {
    Guarded {
        target: Target::Stderr,
        buffer: Vec::new(),
    }
}

impl Write for Guarded {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let clean = redact(&text);
        self.buffer.clear();
        match self.target {
            Target::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(clean.as_bytes())?;
                out.flush()
            }
            Target::Stderr => {
                let mut out = io::stderr().lock();
                out.write_all(clean.as_bytes())?;
                out.flush()
            }
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // Errors here have nowhere to go; a caller who cares flushes first.
        let _ = self.flush();
    }
}

/// Writes one line to stderr through the redactor (`ipagate: warning: …` and the like).
pub fn eprint_line(text: &str) {
    let mut err = stderr();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}
