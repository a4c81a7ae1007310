//! The working tree behind a narrow seam: which files under a directory differ from the last
//! commit. `git` is the only implementation; tests of the logic use their own.

use std::path::{Path, PathBuf};
use std::process::Command;

pub trait WorkTree {
    /// Files under `dir` (relative to it) changed since the last commit, staged or not, and
    /// files not tracked (ignored ones left out). None: `dir` is not in a git working tree.
    fn changed_files(&self, dir: &Path) -> Result<Option<Vec<PathBuf>>, String>;
}

/// The `git` on PATH.
pub struct Git;

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, String> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))
}

fn paths(out: &[u8]) -> Vec<PathBuf> {
    out.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .collect()
}

impl WorkTree for Git {
    fn changed_files(&self, dir: &Path) -> Result<Option<Vec<PathBuf>>, String> {
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
            let diff = git(dir, &["diff", "HEAD", "--name-only", "--relative", "-z"])?;
            if !diff.status.success() {
                return Err(String::from_utf8_lossy(&diff.stderr).trim().to_string());
            }
            changed.extend(paths(&diff.stdout));
        }
        let others = git(dir, &["ls-files", "--others", "--exclude-standard", "-z"])?;
        if !others.status.success() {
            return Err(String::from_utf8_lossy(&others.stderr).trim().to_string());
        }
        changed.extend(paths(&others.stdout));
        changed.sort();
        changed.dedup();
        Ok(Some(changed))
    }
}
