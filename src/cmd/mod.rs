//! One module per subcommand. Each exposes its clap arguments and `run`, which returns an exit code
//! from [`crate::exit`] or an error (printed as one line, exit code 2).

pub mod build_number;
pub mod inspect;
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
