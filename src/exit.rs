//! Exit codes of the `ipagate` binary, in one place (listed in the README and `--help`).

/// The command did what was asked; for `preflight`, the gate passed.
pub const SUCCESS: u8 = 0;
/// `preflight` found errors (or warnings with `--deny-warnings`).
pub const GATE_FAILED: u8 = 1;
/// The input could not be read, a remote service refused, or the command was misused.
pub const FAILURE: u8 = 2;

/// Text for `--help`.
pub const HELP: &str = "Exit codes: 0 passed / done; 1 the gate found errors (or warnings with --deny-warnings); \
2 the input could not be read, the service failed, or the command was misused.";
