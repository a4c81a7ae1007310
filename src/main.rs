//! The efs-dr binary: parse arguments, set up logging, run the command, exit with its code.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::Cli;
use efs_dr::dr::DrError;

/// A closed stdout or stderr (`efs-dr plan failback | head -1`) ends the process quietly
/// instead of a panic: the reader is gone, there is nobody to tell.
fn quiet_on_closed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

#[tokio::main]
async fn main() -> ExitCode {
    quiet_on_closed_output();
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
        .with_ansi(cli.color())
        .with_target(false)
        .init();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = match &e {
                // --detailed-exitcode's "there is something to do": not an error.
                DrError::Pending(m) => writeln!(std::io::stderr(), "{m}"),
                DrError::Refused(m) => writeln!(std::io::stderr(), "refused: {m}"),
                _ => writeln!(std::io::stderr(), "error: {e}"),
            };
            ExitCode::from(e.exit_code())
        }
    }
}
