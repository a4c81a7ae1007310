//! SIGINT and SIGTERM during a run: the first asks the run to stop at a safe point (Terraform
//! is asked to stop once and releases the state lock; the report says "interrupted"); a second
//! SIGINT quits at once.

use tokio::signal::unix::{signal, SignalKind};

use super::output::warn_line;
use efs_dr::interrupt::{self, Interrupt};

/// Listens for SIGINT and SIGTERM for the rest of the process; the run reads the returned
/// interrupt.
pub fn listen() -> Interrupt {
    let (trigger, interrupt) = interrupt::pair();
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("signal handlers could not be installed: Ctrl-C stops efs-dr at once");
        return interrupt;
    };
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
        };
        warn_line!(
            "\nefs-dr: {} received: stopping at a safe point (Terraform, if running, is asked to stop and release the state lock); press Ctrl-C again to quit at once",
            interrupt::name(first)
        );
        trigger.fire(first);
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        warn_line!("efs-dr: quitting now; run the same command again to continue");
        std::process::exit(128 + first);
    });
    interrupt
}
