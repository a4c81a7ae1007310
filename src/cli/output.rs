//! The one output layer of the CLI: every line any command prints goes through here, at the
//! level `-q`/`-qq` set (uv's `Printer`). Machine output (JSON, rendered files, GitHub
//! annotations) goes to stdout, lines for people to stderr. A reader that went away
//! (`efs-dr status --output json | head -1`) ends the output, told by the writer's
//! `io::ErrorKind` (ripgrep's way); any other failure to write stdout fails the command.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use efs_dr::dr::DrError;

/// How much is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `-qq`: nothing but errors (main prints those).
    Silent = 0,
    /// `-q`: the command's output (stdout, and its result for people on stderr) and
    /// warnings; no progress or information lines.
    Quiet = 1,
    /// Everything.
    Default = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Default as u8);
/// Stdout's reader went away: nothing more is written there.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// The first failure to write stdout (other than a closed pipe): the command's failure.
static STDOUT_FAILED: Mutex<Option<String>> = Mutex::new(None);

static PROGRESS_EVERY_MS: AtomicU64 = AtomicU64::new(30_000);

/// How often a long wait says it is still going, at the least (`--progress-every`).
pub fn progress_every() -> Duration {
    Duration::from_millis(PROGRESS_EVERY_MS.load(Ordering::Relaxed))
}

/// Sets the level from `-q` (counted), and how often a long wait says so.
pub fn init(quiet: u8, progress_every: Duration) {
    PROGRESS_EVERY_MS.store(
        progress_every.as_millis().clamp(1, u64::MAX as u128) as u64,
        Ordering::Relaxed,
    );
    let level = match quiet {
        0 => Level::Default,
        1 => Level::Quiet,
        _ => Level::Silent,
    };
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Silent,
        1 => Level::Quiet,
        _ => Level::Default,
    }
}

/// Machine output: printed unless `-qq`.
pub fn stdout(text: &str) {
    if level() == Level::Silent || STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| format!("cannot write to stdout: {e}"));
        }
    }
}

/// A line for people on stderr: printed at the default level only.
pub fn info(text: &str) {
    if level() >= Level::Default {
        stderr(text);
    }
}

/// A command's result for people on stderr (a status, a plan, what was written): printed
/// unless `-qq`.
pub fn result(text: &str) {
    if level() >= Level::Quiet {
        stderr(text);
    }
}

/// A warning on stderr: printed unless `-qq`.
pub fn warn(text: &str) {
    if level() >= Level::Quiet {
        stderr(text);
    }
}

/// An error on stderr: always printed.
pub fn error(text: &str) {
    stderr(text);
}

fn stderr(text: &str) {
    // A closed stderr has nobody to tell.
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// The command's end, with what stdout's writes made of it.
pub fn finish(result: Result<(), DrError>) -> Result<(), DrError> {
    let failed = STDOUT_FAILED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match (result, failed) {
        (Ok(()), Some(why)) => Err(DrError::Failed(why)),
        (result, _) => result,
    }
}

/// `println!` to stdout through the output layer.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` to stdout through the output layer.
macro_rules! out_raw {
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(&format!($($arg)*))
    };
}

/// A command's result for people (stderr), hidden only by `-qq`.
macro_rules! human {
    ($($arg:tt)*) => {
        $crate::cli::output::result(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// An information line for people (stderr), hidden by `-q`.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::info(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// A warning line (stderr), hidden only by `-qq`.
macro_rules! warn_line {
    ($($arg:tt)*) => {
        $crate::cli::output::warn(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {human, out, out_raw, say, warn_line};
