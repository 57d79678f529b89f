//! `ipagate sandbox`: being written (issue 3).

/// Arguments of `ipagate sandbox`.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {}

/// Runs the sandbox.
pub fn run(_args: SandboxArgs) -> anyhow::Result<u8> {
    anyhow::bail!("sandbox is not implemented yet")
}
