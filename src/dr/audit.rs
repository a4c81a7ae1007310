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
        provider_version: provider_version(&ctx.tf.dir),
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

/// The hashicorp/aws version the root's `.terraform.lock.hcl` selects: what `terraform init`
/// installed and every plan of the run used.
pub fn provider_version(dir: &Path) -> String {
    let path = dir.join(".terraform.lock.hcl");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => return format!("unknown ({}: {e})", path.display()),
    };
    locked_aws_version(&text)
        .unwrap_or_else(|| format!("unknown (no hashicorp/aws in {})", path.display()))
}

fn locked_aws_version(lock_file: &str) -> Option<String> {
    let body: hcl::Body = hcl::from_str(lock_file).ok()?;
    body.blocks()
        .filter(|b| b.identifier() == "provider")
        .find(|b| {
            b.labels()
                .first()
                .is_some_and(|l| l.as_str().ends_with("hashicorp/aws"))
        })?
        .body()
        .attributes()
        .find(|a| a.key() == "version")
        .and_then(|a| match a.expr() {
            hcl::Expression::String(v) => Some(v.clone()),
            _ => None,
        })
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
    fn the_provider_version_is_the_lock_files() {
        let lock = r#"
# This file is maintained automatically by "terraform init".
provider "registry.terraform.io/hashicorp/random" {
  version = "3.6.0"
}

provider "registry.terraform.io/hashicorp/aws" {
  version     = "6.2.0"
  constraints = ">= 5.0.0"
  hashes = [
    "h1:abc=",
  ]
}
"#;
        assert_eq!(super::locked_aws_version(lock).as_deref(), Some("6.2.0"));
        assert_eq!(super::locked_aws_version("not hcl {"), None);
    }

    #[test]
    fn the_configurations_hash_is_sha256() {
        assert_eq!(
            super::sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
