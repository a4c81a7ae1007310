//! Phase hooks: the operator's commands at named points of a failover and a failback (stop the
//! application on A, serve from B, ...), each a phase of its own. What a hook gets (its
//! environment), how it runs (a shell, a timeout, its output kept), and where its success is
//! recorded so that a run resumed anywhere does not repeat it (`ledger`).

pub mod ledger;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::Pair;

/// Where a hook runs. The names say what the command is for; the README's phase table says
/// where each one runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPoint {
    /// A planned failover, before its RPO check and the cut-over: stop the application on A.
    StopWritesOnA,
    /// A failover, once B is writable: mount B, switch the DNS name, start the application.
    ServeFromB,
    /// A failback, before the quiesce: stop the application on B.
    StopWritesOnB,
    /// A failback, once A is writable again (before A -> B is created): serve from A.
    ServeFromA,
}

pub const HOOK_POINTS: [HookPoint; 4] = [
    HookPoint::StopWritesOnA,
    HookPoint::ServeFromB,
    HookPoint::StopWritesOnB,
    HookPoint::ServeFromA,
];

impl HookPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::StopWritesOnA => "stop_writes_on_a",
            HookPoint::ServeFromB => "serve_from_b",
            HookPoint::StopWritesOnB => "stop_writes_on_b",
            HookPoint::ServeFromA => "serve_from_a",
        }
    }

    /// The operation whose run records it: "failover" or "failback".
    pub fn operation(self) -> &'static str {
        match self {
            HookPoint::StopWritesOnA | HookPoint::ServeFromB => "failover",
            HookPoint::StopWritesOnB | HookPoint::ServeFromA => "failback",
        }
    }

    /// A hook that stops the application writing (on A before a failover, on B before a
    /// failback's cut-over).
    pub fn stops_writes(self) -> bool {
        matches!(self, HookPoint::StopWritesOnA | HookPoint::StopWritesOnB)
    }

    /// The side that serves writes once the hook has run.
    pub fn active_after(self) -> &'static str {
        match self {
            HookPoint::StopWritesOnA | HookPoint::ServeFromA => "primary",
            HookPoint::ServeFromB | HookPoint::StopWritesOnB => "secondary",
        }
    }
}

impl std::fmt::Display for HookPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pair's hooks: the pair's own `hooks` block over the top-level one, point by point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookSettings {
    /// The shell command of each point that has one (run with `sh -c`).
    pub commands: BTreeMap<HookPoint, String>,
    /// How long a hook may run (wall time) before it is killed and counts as failed.
    #[serde(with = "humantime_secs")]
    pub timeout: Duration,
    /// How many pairs' hooks of one phase run at once (the top-level block's; a fleet's 100
    /// stop hooks are not 100 in a row on a bad day).
    pub max_parallel: u32,
}

/// Pairs' hooks of one phase run at once, unless the top-level block says otherwise.
pub const DEFAULT_MAX_PARALLEL: u32 = 10;

mod humantime_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// What a hook is told: the variables of its environment.
pub fn environment(
    pair: &Pair,
    hook: HookPoint,
    operation: &str,
    phase: &str,
    unplanned: bool,
    rehearsal: bool,
) -> Vec<(String, String)> {
    let dns = |side: &crate::config::Side| {
        format!("{}.efs.{}.amazonaws.com", side.file_system_id, side.region)
    };
    let active = match hook.active_after() {
        "primary" => &pair.primary,
        _ => &pair.secondary,
    };
    [
        ("EFS_DR_HOOK", hook.as_str().to_string()),
        ("EFS_DR_OPERATION", operation.to_string()),
        ("EFS_DR_PHASE", phase.to_string()),
        ("EFS_DR_PAIR", pair.name.clone()),
        ("EFS_DR_UNPLANNED", unplanned.to_string()),
        ("EFS_DR_REHEARSAL", rehearsal.to_string()),
        ("EFS_DR_PRIMARY_REGION", pair.primary.region.to_string()),
        (
            "EFS_DR_PRIMARY_FILE_SYSTEM_ID",
            pair.primary.file_system_id.to_string(),
        ),
        ("EFS_DR_PRIMARY_DNS_NAME", dns(&pair.primary)),
        ("EFS_DR_SECONDARY_REGION", pair.secondary.region.to_string()),
        (
            "EFS_DR_SECONDARY_FILE_SYSTEM_ID",
            pair.secondary.file_system_id.to_string(),
        ),
        ("EFS_DR_SECONDARY_DNS_NAME", dns(&pair.secondary)),
        ("EFS_DR_ACTIVE", hook.active_after().to_string()),
        ("EFS_DR_ACTIVE_REGION", active.region.to_string()),
        (
            "EFS_DR_ACTIVE_FILE_SYSTEM_ID",
            active.file_system_id.to_string(),
        ),
        ("EFS_DR_ACTIVE_DNS_NAME", dns(active)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// How a hook ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookOutcome {
    /// The exit code; None when it was killed (timeout) or could not start.
    pub exit_code: Option<i32>,
    /// stdout and stderr together, the last 4 KiB.
    pub output: String,
    pub wall_seconds: u64,
    /// Why it did not run to an exit (timeout, could not start).
    pub failure: Option<String>,
}

impl HookOutcome {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }
}

const OUTPUT_KEPT: usize = 4096;

/// Runs `command` with `sh -c` in `dir`, with `env` added, for at most `timeout`.
pub async fn run(
    command: &str,
    dir: &std::path::Path,
    env: &[(String, String)],
    timeout: Duration,
) -> HookOutcome {
    let started = Instant::now();
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            return HookOutcome {
                exit_code: None,
                output: String::new(),
                wall_seconds: 0,
                failure: Some(format!("could not start `sh -c`: {e}")),
            }
        }
    };
    let waited = tokio::time::timeout(timeout, child.wait_with_output()).await;
    let wall_seconds = started.elapsed().as_secs();
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).to_string();
        match text.char_indices().rev().nth(OUTPUT_KEPT) {
            Some((i, _)) => format!("...{}", &text[i..]),
            None => text,
        }
    };
    match waited {
        Ok(Ok(out)) => {
            let mut all = out.stdout.clone();
            all.extend_from_slice(&out.stderr);
            HookOutcome {
                exit_code: out.status.code(),
                output: tail(&all),
                wall_seconds,
                failure: out
                    .status
                    .code()
                    .is_none()
                    .then(|| "ended by a signal".to_string()),
            }
        }
        Ok(Err(e)) => HookOutcome {
            exit_code: None,
            output: String::new(),
            wall_seconds,
            failure: Some(format!("could not wait for it: {e}")),
        },
        Err(_) => HookOutcome {
            exit_code: None,
            output: String::new(),
            wall_seconds,
            failure: Some(format!(
                "timed out after {} and was killed",
                humantime::format_duration(timeout)
            )),
        },
    }
}
