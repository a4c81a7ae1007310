//! The efs-dr binary: parse arguments, set up logging, run the command, exit with its code.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::Cli;
use efs_dr::dr::DrError;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
        .with_target(false)
        .init();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
