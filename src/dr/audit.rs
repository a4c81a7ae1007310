//! Who runs a command, and with what: the versions, the command line, the user and machine,
//! the configuration's hash and the root's git commit. Said at a run's start, so that the
//! report an auditor files names all of it.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::context::Context;
use super::events::Audit;

/// What the run's context says of it; `command_line` is the arguments after the program.
/// The caller is asked of STS in a secondary region (one that outlives A's outage), with a
/// short deadline: the report says why when it cannot tell.
pub async fn gather(ctx: &Context, command_line: Vec<String>) -> Audit {
    let caller = match ctx.config.pairs.first() {
        Some(pair) => {
            let ask = ctx.aws.region(&pair.secondary.region).caller_identity();
            match tokio::time::timeout(std::time::Duration::from_secs(10), ask).await {
                Ok(Ok((account, arn))) => format!("{arn} (account {account})"),
                Ok(Err(e)) => format!("unknown ({e})"),
                Err(_) => "unknown (STS did not answer within 10 s)".into(),
            }
        }
        None => "unknown (no pair)".into(),
    };
    Audit {
        aws_caller: caller,
        efs_dr_version: env!("CARGO_PKG_VERSION").to_string(),
        terraform_version: ctx.tf.version.to_string(),
        command_line,
        user: ["USER", "USERNAME", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "unknown".into()),
        host: crate::lease::host(),
        config_sha256: std::fs::read(&ctx.config.file)
            .map(|bytes| sha256(&bytes))
            .unwrap_or_else(|e| format!("unreadable ({e})")),
        root_commit: head_commit(&ctx.tf.dir),
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The commit checked out where `dir` is, when it is in a git working tree.
fn head_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_configurations_hash_is_sha256() {
        assert_eq!(
            super::sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
