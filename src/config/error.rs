//! Errors of the configuration file: each names the place, the field, what is wrong and what a
//! right value looks like.

use std::fmt;
use std::path::PathBuf;

/// One problem found in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// 1-based line and column, when the parser knows them.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The field, as a path: `pair "shared-home" > primary > file_system_id`.
    pub field: String,
    pub problem: String,
    /// An example of what is right, as it would be written in the file.
    pub example: Option<String>,
}

/// Everything wrong with one configuration file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        writeln!(
            f,
            "{} has {} problem{}:",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for (i, issue) in self.issues.iter().enumerate() {
            let place = match (issue.line, issue.column) {
                (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file.display()),
                (Some(l), None) => format!("{}:{l}", self.file.display()),
                _ => self.file.display().to_string(),
            };
            if issue.field.is_empty() {
                write!(f, "  {place}: {}", issue.problem)?;
            } else {
                write!(f, "  {place}: {}: {}", issue.field, issue.problem)?;
            }
            if let Some(example) = &issue.example {
                if example.contains('\n') {
                    write!(f, "\n      for example:")?;
                    for line in example.lines() {
                        write!(f, "\n        {line}")?;
                    }
                } else {
                    write!(f, "\n      for example: {example}")?;
                }
            }
            if i + 1 < n {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "cannot read the configuration file {path}: {source}\n  hint: {}",
        read_hint(source)
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(#[from] ConfigError),
}

/// What to do about a configuration file that cannot be read: create it only when it is not
/// there.
fn read_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            "create it (see README.md, \"Configuration\") or pass --config PATH"
        }
        std::io::ErrorKind::PermissionDenied => {
            "this user may not read it: check its permissions, or run as its owner"
        }
        _ => "check that --config names a readable file (see README.md, \"Configuration\")",
    }
}
