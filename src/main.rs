//! `ipagate`: offline App Store Connect preflight gate, build-number bumper and App Store Connect tooling.

mod cmd;
mod exit;
mod output;
mod style;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The system allocator, with transparent huge pages for allocations of 2 MiB and more (the index
/// of a big archive): see the crate's documentation for why.
#[global_allocator]
static ALLOCATOR: ipagate_alloc::HugeForLarge = ipagate_alloc::HugeForLarge;

#[derive(Debug, Parser)]
#[command(name = "ipagate", version, about, after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process; boxing the larger argument structs would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Print what an .ipa (or .app / .xcarchive) contains: bundles, Info.plist values, archive facts.
    Inspect(cmd::inspect::InspectArgs),
    /// Check an .ipa offline against App Store Connect's validation rules (the gate).
    Preflight(cmd::preflight::PreflightArgs),
    /// Check a source tree before building: icon sets, Info.plist, entitlements, privacy manifests (pre-commit).
    Lint(cmd::lint::LintArgs),
    /// List every rule with its code, name, severity and what it checks.
    Rules(cmd::rules_cmd::RulesArgs),
    /// Explain one rule: what it checks, why Apple rejects it, how to fix it.
    Explain(cmd::rules_cmd::ExplainArgs),
    /// Run a local App Store Connect emulator (for rehearsing pipelines offline).
    Sandbox(cmd::sandbox::SandboxArgs),
    /// Ask App Store Connect for the latest / next build number, or write one into a project.
    #[command(name = "build-number", subcommand)]
    BuildNumber(cmd::build_number::BuildNumberCommand),
    /// Upload an .ipa through App Store Connect's Build Upload API: parallel, streamed, resumable parts, then wait
    /// for processing (no gate: see `preflight`).
    Upload(cmd::upload::UploadArgs),
    /// Gate, upload, wait for processing, then TestFlight (What to Test, groups, beta review) and the App Store
    /// (version, review submission): nothing is sent unless the gate passes.
    Publish(cmd::publish::PublishArgs),
}

impl Command {
    /// Whether the command was asked for JSON: then a fatal error is a JSON document on stdout too.
    fn prints_json(&self) -> bool {
        use cmd::build_number::{BuildNumberCommand as B, Format as F};
        match self {
            Command::Inspect(a) => a.format == cmd::inspect::Format::Json,
            Command::Preflight(a) => a.format == cmd::inspect::Format::Json,
            Command::Rules(a) => a.format == cmd::rules_cmd::RulesFormat::Json,
            Command::BuildNumber(B::Latest(q)) => q.format == F::Json,
            Command::BuildNumber(B::Next(n)) => n.query.format == F::Json,
            Command::BuildNumber(B::Apply(a)) => a.format == F::Json,
            Command::BuildNumber(B::Show(a)) => a.format == F::Json,
            Command::Lint(a) => a.format == cmd::inspect::Format::Json,
            Command::Upload(a) => a.prints_json(),
            Command::Publish(a) => a.prints_json(),
            Command::Explain(_) | Command::Sandbox(_) => false,
        }
    }
}

/// The arguments. `inspect`, `preflight` and `lint` run on every build and every commit: their
/// arguments are parsed by a command holding that subcommand alone, since building all nine
/// subcommands' arguments costs 0.6 M instructions, a sixth of a small `inspect`. Help, version,
/// every error and the other subcommands go through the whole command, so what a user reads is
/// the same either way (a test holds the two parses to the same result).
fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os().collect())
}

fn parse_from(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    use clap::{Args, FromArgMatches};
    let asks_for_text = args
        .get(1..)
        .unwrap_or_default()
        .iter()
        .any(|a| a == "-h" || a == "--help" || a == "-V" || a == "--version");
    let alone = match args.get(1).and_then(|a| a.to_str()) {
        _ if asks_for_text => None,
        Some("inspect") => Some(cmd::inspect::InspectArgs::augment_args(clap::Command::new(
            "inspect",
        ))),
        Some("preflight") => Some(cmd::preflight::PreflightArgs::augment_args(
            clap::Command::new("preflight"),
        )),
        Some("lint") => Some(cmd::lint::LintArgs::augment_args(clap::Command::new(
            "lint",
        ))),
        _ => None,
    };
    if let Some(sub) = alone
        && let Ok(matches) = clap::Command::new("ipagate")
            .subcommand(sub)
            .try_get_matches_from(&args)
        && let Ok(cli) = Cli::from_arg_matches(&matches)
    {
        return Ok(cli);
    }
    Cli::try_parse_from(args)
}

fn main() -> ExitCode {
    output::register_early_secrets();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::FAILURE
            } else {
                exit::SUCCESS
            };
            // clap quotes the offending argument, whatever the option, which may be a private key (or a piece of
            // one) pasted in the wrong place: it goes out through the redactor like everything else. A closed pipe
            // for help/version is not worth reporting.
            let mut out = if err.use_stderr() {
                output::stderr()
            } else {
                output::stdout()
            };
            let _ = write!(out, "{}", err.render());
            let _ = out.flush();
            return ExitCode::from(code);
        }
    };
    let json_errors = cli.command.prints_json();
    let result = match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Preflight(args) => cmd::preflight::run(args),
        Command::Lint(args) => cmd::lint::run(args),
        Command::Rules(args) => cmd::rules_cmd::run_rules(args),
        Command::Explain(args) => cmd::rules_cmd::run_explain(args),
        Command::Sandbox(args) => cmd::sandbox::run(args),
        Command::BuildNumber(args) => cmd::build_number::run(args),
        Command::Upload(args) => cmd::upload::run(args),
        Command::Publish(args) => cmd::publish::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(exit::SUCCESS);
            }
            // Messages can carry archive-derived text (entry names): make control characters visible. Redacted
            // first: the terminal sanitiser must not break a secret into pieces the redactor no longer sees.
            let message = style::clean(&output::redact(&cmd::error_chain(&err)));
            if json_errors {
                let doc = cmd::ErrorDocument {
                    schema_version: 1,
                    error: cmd::ErrorBody {
                        kind: cmd::error_kind(&err),
                        message: &message,
                    },
                };
                if let Ok(text) = serde_json::to_string(&doc) {
                    let mut out = output::stdout();
                    let _ = writeln!(out, "{text}");
                    let _ = out.flush();
                }
            }
            output::eprint_line(&format!("ipagate: error: {message}"));
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// A reader that closed our stdout (e.g. `ipagate rules | head`) ends the program quietly.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_subcommand_parse_agrees_with_the_whole_command() {
        let cases: &[&[&str]] = &[
            &["inspect", "a.ipa"],
            &[
                "inspect",
                "a.ipa",
                "--format",
                "json",
                "--binaries",
                "--symbols",
                "--deep",
            ],
            &["inspect", "--color", "never", "--data", "d", "a.ipa"],
            &["preflight", "a.ipa", "--format", "json", "--no-input-hash"],
            &[
                "preflight",
                "a.ipa",
                "--as-of",
                "2026-11-25",
                "--distribution",
                "app-store",
                "--deny-warnings",
                "--config",
                "c.toml",
                "--deep",
            ],
            &[
                "lint",
                "a",
                "b",
                "--format",
                "json",
                "--as-of",
                "2026-01-02",
            ],
            &["lint"],
            // Errors: the quick parse fails and the whole command says why, as before.
            &["inspect"],
            &["inspect", "a.ipa", "--bogus"],
            &["preflight", "a.ipa", "--as-of", "yesterday"],
            &["preflight", "a.ipa", "--format", "xml"],
            &["inspect", "--help"],
            &["preflight", "-h"],
            &["--version"],
            &["rules"],
        ];
        for case in cases {
            let args: Vec<std::ffi::OsString> = std::iter::once("ipagate")
                .chain(case.iter().copied())
                .map(Into::into)
                .collect();
            let quick = parse_from(args.clone());
            let whole = Cli::try_parse_from(args);
            match (quick, whole) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{case:?}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{case:?}");
                    assert_eq!(a.render().to_string(), b.render().to_string(), "{case:?}");
                }
                (a, b) => panic!("{case:?}: {a:?} vs {b:?}"),
            }
        }
    }
}
