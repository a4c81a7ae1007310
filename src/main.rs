//! The efs-dr binary: parse arguments, set up logging, run the command, exit with its code.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::Cli;
use efs_dr::dr::error::Outcome;
use efs_dr::dr::DrError;

/// A pipeline leaves a variable empty when it is not set (GitHub Actions passes `""` for an
/// unset repository variable: `EFS_DR_WRITES_STOPPED: ${{ vars.EFS_DR_WRITES_STOPPED }}`):
/// an empty `EFS_DR_*` variable reads as unset, not as a flag without its value. Done before
/// any other thread exists, since the environment is process-wide.
fn unset_empty_efs_dr_variables() {
    let empty: Vec<std::ffi::OsString> = std::env::vars_os()
        .filter(|(k, v)| k.to_string_lossy().starts_with("EFS_DR_") && v.is_empty())
        .map(|(k, _)| k)
        .collect();
    for k in empty {
        std::env::remove_var(k);
    }
}

fn main() -> ExitCode {
    unset_empty_efs_dr_variables();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    // `efs-dr help --help` is the top-level help, as `efs-dr --help`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 3 && args[1] == "help" && (args[2] == "--help" || args[2] == "-h") {
        args.truncate(1);
        args.push("--help".into());
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; a usage error is an error (2 means
            // "refused as unsafe").
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(DrError::Failed(String::new()).exit_code())
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(cli.log_filter()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(cli.color())
        .with_target(false)
        .init();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match &e {
                // --detailed-exitcode's "there is something to do": not an error.
                DrError::Pending(m) => cli::output::warn(&format!("{m}\n")),
                _ if e.outcome() == Outcome::Refused => {
                    cli::output::error(&format!("refused: {}\n", with_causes(&e)))
                }
                _ => cli::output::error(&format!("error: {}\n", with_causes(&e))),
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// An error with the chain of its causes, each on its own line unless its parent's message
/// already says it (Terraform's and the configuration's errors quote their cause).
fn with_causes(e: &DrError) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(&format!("\n  caused by: {said}"));
        }
        cause = c.source();
    }
    text
}
