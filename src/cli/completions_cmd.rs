//! `efs-dr completions SHELL` and `efs-dr man`: generated from the CLI's own definition
//! (clap_complete, clap_mangen), so they never drift from it.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use efs_dr::dr::DrError;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn completions(args: CompletionsArgs) -> Result<(), DrError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "efs-dr", &mut out);
    super::write_stdout(&out)
}

pub fn man() -> Result<(), DrError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| DrError::Failed(format!("the man page failed to render: {e}")))?;
    super::write_stdout(&out)
}
