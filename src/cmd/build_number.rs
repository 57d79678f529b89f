//! `ipagate build-number`: being written (issue 3).

/// Subcommands of `ipagate build-number`.
#[derive(Debug, clap::Subcommand)]
pub enum BuildNumberCommand {
    /// Print the latest build number.
    Latest,
}

/// Runs `build-number`.
pub fn run(_args: BuildNumberCommand) -> anyhow::Result<u8> {
    anyhow::bail!("build-number is not implemented yet")
}
