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

/// Tells the redactor, before the command line is parsed, the key texts it can find without reading files: the
/// credential environment variables that hold a key inline, `--private-key`'s value, and any argument or
/// `IPAGATE_NOW` value that looks like key material and is not an existing path. An argument-parser error quoting
/// one of them (or a piece of one) is then redacted even though the credentials were never resolved.
pub fn register_early_secrets() {
    let redactor = redactor();
    for name in KEY_VARIABLES {
        if let Ok(value) = std::env::var(name)
            && !value.starts_with("@env:")
            && !value.starts_with("@file:")
        {
            redactor.add_secret(&value);
        }
    }
    if let Ok(value) = std::env::var("IPAGATE_NOW")
        && ipagate_asc::auth::looks_like_key_body(&value)
    {
        redactor.add_secret(&value);
    }
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (i, arg) in args.iter().enumerate() {
        let inline = arg.strip_prefix("--private-key=");
        let value = match inline {
            Some(value) => Some(value),
            None if arg == "--private-key" => args.get(i + 1).map(String::as_str),
            None => None,
        };
        if let Some(value) = value
            && !value.starts_with("@env:")
            && !value.starts_with("@file:")
        {
            redactor.add_secret(value);
        }
        let bare = arg.split_once('=').map_or(arg.as_str(), |(_, v)| v);
        if ipagate_asc::auth::looks_like_key_body(bare) && !std::path::Path::new(bare).exists() {
            redactor.add_secret(bare);
        }
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
