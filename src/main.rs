//! `ipagate`: offline App Store Connect preflight gate, build-number bumper and App Store Connect tooling.

mod cmd;
mod exit;
mod style;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::FAILURE
            } else {
                exit::SUCCESS
            };
            // clap quotes the offending argument, which may be a private key pasted in the wrong
            // place: redact before printing. A closed pipe for help/version is not worth reporting.
            let text = ipagate_asc::redact_secrets(&err.render().to_string());
            let _ = if err.use_stderr() {
                write!(std::io::stderr().lock(), "{text}")
            } else {
                write!(std::io::stdout().lock(), "{text}")
            };
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Preflight(args) => cmd::preflight::run(args),
        Command::Lint(args) => cmd::lint::run(args),
        Command::Rules(args) => cmd::rules_cmd::run_rules(args),
        Command::Explain(args) => cmd::rules_cmd::run_explain(args),
        Command::Sandbox(args) => cmd::sandbox::run(args),
        Command::BuildNumber(args) => cmd::build_number::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(exit::SUCCESS);
            }
            let mut stderr = std::io::stderr().lock();
            // Messages can carry archive-derived text (entry names): make control characters visible.
            let _ = writeln!(
                stderr,
                "ipagate: error: {}",
                style::clean(&cmd::error_chain(&err))
            );
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
