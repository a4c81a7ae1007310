//! Typed errors for what operators hit when driving Terraform, each with the next step.

use std::path::PathBuf;

use super::version::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub id: String,
    pub who: String,
    pub operation: String,
    pub created: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TfError {
    #[error("`terraform {command}` was stopped by {}: it was asked to stop and to release the state lock", crate::interrupt::name(*signal))]
    Interrupted { command: String, signal: i32 },

    #[error("Terraform binary {name:?} was not found ({why})\n  hint: install Terraform >= {min} or OpenTofu, set `binary` in the terraform block of the config, or run `make setup` for the project's own", min = super::version::MINIMUM)]
    BinaryNotFound { name: String, why: String },

    #[error("{binary} is Terraform {found}, older than {min}, the oldest efs-dr supports\n  hint: install a newer Terraform or OpenTofu and point `terraform.binary` at it", min = super::version::MINIMUM)]
    TooOld { binary: PathBuf, found: Version },

    #[error("the Terraform working directory {dir} is not initialised: {detail}\n  hint: run `efs-dr init` (it runs terraform init)")]
    NotInitialised { dir: PathBuf, detail: String },

    #[error("the Terraform state is locked by {} (lock ID {}, operation {}, since {})\n  hint: wait for that run to finish; if it died, and only then, run `terraform force-unlock {}` in {dir}", lock.who, lock.id, lock.operation, lock.created, lock.id)]
    StateLocked { dir: PathBuf, lock: LockInfo },

    #[error("Terraform cannot find the hashicorp/aws provider: {detail}\n  hint: check the network or the CLI configuration's provider_installation (TF_CLI_CONFIG_FILE); offline, run `make setup` and source .tools/env.sh")]
    ProviderMissing { detail: String },

    #[error("terraform plan failed in {dir}:\n{}", indent(diagnostics))]
    PlanFailed {
        dir: PathBuf,
        diagnostics: Vec<String>,
    },

    #[error(
        "`terraform {command}` failed in {dir} (exit {code}):\n{}",
        indent(diagnostics)
    )]
    CommandFailed {
        dir: PathBuf,
        command: String,
        code: i32,
        diagnostics: Vec<String>,
    },

    #[error("cannot run {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },

    #[error("`terraform {command}` printed JSON efs-dr does not understand: {reason}")]
    BadJson { command: String, reason: String },
}

fn indent(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  {}", l.replace('\n', "\n  ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A line of a Rust backtrace ("  12: some::function", "at ./src/x.rs:3:5"): a provider
/// written in Rust may append one to its diagnostics when RUST_BACKTRACE is set. Operators
/// read the message, never the frames.
fn is_backtrace_line(line: &str) -> bool {
    let t = line.trim_start_matches(['│', '╷', '╵', ' ']).trim();
    let numbered = t
        .split_once(": ")
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let numbered_alone =
        t.ends_with(':') && t.len() > 1 && t[..t.len() - 1].bytes().all(|b| b.is_ascii_digit());
    numbered
        || numbered_alone
        || (t.starts_with("at ") && t.contains(".rs:"))
        || t.eq_ignore_ascii_case("stack backtrace:")
        || t.starts_with("note: Some details are omitted")
}

/// The `Error: ...` diagnostics of Terraform's human output (`-no-color`), each with its detail
/// (backtrace frames left out).
pub fn diagnostics(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in stderr.lines().filter(|l| !is_backtrace_line(l)) {
        let line = line.trim_start_matches(['│', '╷', '╵', ' ']).trim_end();
        if let Some(rest) = line.strip_prefix("Error: ") {
            if let Some(block) = current.take() {
                out.push(block.join("\n").trim().to_string());
            }
            current = Some(vec![rest]);
        } else if let Some(block) = current.as_mut() {
            block.push(line);
        }
    }
    if let Some(block) = current {
        out.push(block.join("\n").trim().to_string());
    }
    if out.is_empty() {
        let tail: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !is_backtrace_line(l))
            .collect();
        let start = tail.len().saturating_sub(10);
        if !tail.is_empty() {
            out.push(tail[start..].join("\n"));
        }
    }
    out
}

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// Recognises the failures operators can act on; anything else is `CommandFailed`.
pub fn classify(dir: &std::path::Path, command: &str, code: i32, stderr: &str) -> TfError {
    let dir = dir.to_path_buf();
    if stderr.contains("Error acquiring the state lock") {
        return TfError::StateLocked {
            dir,
            lock: LockInfo {
                id: field(stderr, "ID:"),
                who: field(stderr, "Who:"),
                operation: field(stderr, "Operation:"),
                created: field(stderr, "Created:"),
            },
        };
    }
    let not_init = [
        "terraform init",
        "Backend initialization required",
        "Module not installed",
        "Inconsistent dependency lock file",
        "Required plugins are not installed",
        "missing or corrupted provider plugins",
    ];
    if command != "init" && not_init.iter().any(|m| stderr.contains(m)) {
        return TfError::NotInitialised {
            dir,
            detail: diagnostics(stderr).join("; "),
        };
    }
    let provider_missing = [
        "Failed to query available provider packages",
        "Failed to install provider",
        "could not connect to registry.terraform.io",
    ];
    if provider_missing.iter().any(|m| stderr.contains(m)) {
        return TfError::ProviderMissing {
            detail: diagnostics(stderr).join("; "),
        };
    }
    if command == "plan" {
        return TfError::PlanFailed {
            dir,
            diagnostics: diagnostics(stderr),
        };
    }
    TfError::CommandFailed {
        dir,
        command: command.to_string(),
        code,
        diagnostics: diagnostics(stderr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const LOCKED: &str = "\nError: Error acquiring the state lock\n\nError message: resource temporarily unavailable\nLock Info:\n  ID:        4b2c9a1e-0000-1111-2222-333344445555\n  Path:      terraform.tfstate\n  Operation: OperationTypeApply\n  Who:       ops@runner-7\n  Version:   1.15.5\n  Created:   2026-11-21 17:00:00.000000001 +0000 UTC\n  Info:      \n\nTerraform acquires a state lock to protect the state from being written\nby multiple users at the same time.\n";

    #[test]
    fn a_locked_state_names_the_lock() {
        match classify(Path::new("tf"), "plan", 1, LOCKED) {
            TfError::StateLocked { lock, .. } => {
                assert_eq!(lock.id, "4b2c9a1e-0000-1111-2222-333344445555");
                assert_eq!(lock.who, "ops@runner-7");
                assert_eq!(lock.operation, "OperationTypeApply");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_initialised_and_plan_failures_are_told_apart() {
        let e = classify(
            Path::new("tf"),
            "plan",
            1,
            "\nError: Module not installed\n\n  on main.tf line 1:\n",
        );
        assert!(matches!(e, TfError::NotInitialised { .. }), "{e:?}");
        let e = classify(
            Path::new("tf"),
            "plan",
            1,
            "\nError: Invalid value for variable\n\n  on variables.tf line 3\n\nbad direction\n",
        );
        match e {
            TfError::PlanFailed { diagnostics, .. } => {
                assert_eq!(diagnostics.len(), 1);
                assert!(diagnostics[0].starts_with("Invalid value for variable"));
                assert!(diagnostics[0].contains("bad direction"));
            }
            other => panic!("{other:?}"),
        }
        let e = classify(Path::new("tf"), "init", 1, "\nError: Failed to query available provider packages\n\nCould not retrieve the list of available versions for provider hashicorp/aws\n");
        assert!(matches!(e, TfError::ProviderMissing { .. }), "{e:?}");
    }

    #[test]
    fn boxed_diagnostics_are_read_too() {
        let d = diagnostics("╷\n│ Error: Unsupported argument\n│ \n│   on main.tf line 3\n╵\n");
        assert_eq!(
            d,
            vec!["Unsupported argument\n\non main.tf line 3".to_string()]
        );
    }

    #[test]
    fn backtrace_frames_are_left_out_of_diagnostics() {
        let stderr = "\n│ Error: creating EFS Replication Configuration\n│ \n│   with module.m.aws_efs_replication_configuration.reverse[\"app\"],\n│ \n│ The destination Region us-east-1 cannot be reached\n│    0: tf_provider::diagnostics::Diagnostic::new\n│              at /root/.cargo/registry/src/tf-provider-0.2.2/src/diagnostics.rs:207:25\n│    1: tf_provider::diagnostics::Diagnostics::root_error\n│   12:\n│ stack backtrace:\n│ note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n╵\n";
        let d = diagnostics(stderr);
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("cannot be reached"), "{}", d[0]);
        assert!(!d[0].contains("tf_provider::"), "{}", d[0]);
        assert!(!d[0].contains(".rs:"), "{}", d[0]);
        assert!(!d[0].contains("backtrace"), "{}", d[0]);
    }
}
