//! One module per subcommand. Each exposes its clap arguments and `run`, which returns an exit code
//! from [`crate::exit`] or an error (printed as one line, exit code 2).

pub mod build_number;
pub mod inspect;
pub mod lint;
pub mod preflight;
pub mod rules_cmd;
pub mod sandbox;

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
