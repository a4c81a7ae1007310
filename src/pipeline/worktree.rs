//! The working tree behind a narrow seam: which files under a directory differ from the last
//! commit. `git` is the only implementation.

use std::path::{Path, PathBuf};
use std::process::Command;

pub trait WorkTree {
    /// Files under `dir` (relative to it) changed since the last commit, staged or not, and
    /// files not tracked (ignored ones left out). None: `dir` is not in a git working tree.
    fn changed_files(&self, dir: &Path) -> Result<Option<Vec<PathBuf>>, WorkTreeError>;
}

/// Why the working tree could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WorkTreeError {
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Git { args: String, stderr: String },
}

/// The `git` on PATH.
pub struct Git;

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, WorkTreeError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(WorkTreeError::Spawn)
}

/// `git args` that must succeed: its output.
fn git_ok(dir: &Path, args: &[&str]) -> Result<std::process::Output, WorkTreeError> {
    let out = git(dir, args)?;
    if !out.status.success() {
        return Err(WorkTreeError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}

fn paths(out: &[u8]) -> Vec<PathBuf> {
    out.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .collect()
}

impl WorkTree for Git {
    fn changed_files(&self, dir: &Path) -> Result<Option<Vec<PathBuf>>, WorkTreeError> {
        let inside = match git(dir, &["rev-parse", "--is-inside-work-tree"]) {
            Ok(o) => o.status.success(),
            // No git at all: there is no working tree to protect.
            Err(_) => return Ok(None),
        };
        if !inside {
            return Ok(None);
        }
        let mut changed = Vec::new();
        let has_head = git(dir, &["rev-parse", "--verify", "-q", "HEAD"])?
            .status
            .success();
        if has_head {
            let diff = git_ok(dir, &["diff", "HEAD", "--name-only", "--relative", "-z"])?;
            changed.extend(paths(&diff.stdout));
        }
        let others = git_ok(dir, &["ls-files", "--others", "--exclude-standard", "-z"])?;
        changed.extend(paths(&others.stdout));
        changed.sort();
        changed.dedup();
        Ok(Some(changed))
    }
}
