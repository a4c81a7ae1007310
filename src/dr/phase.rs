//! A phase as data: the variable change, the Terraform changes it allows, the change made through
//! the SDK (if any) and the gate that must hold before the next phase. The planner makes them,
//! the runner executes them, and the same data is what `plan` prints and what a pull request or
//! a pipeline stage would carry.

use std::time::Duration;

use serde::Serialize;

use super::view::Role;
use crate::config::{GateSettings, Pair};
use crate::render::{replication_address, Direction};
use crate::terraform::{AllowedChange, ChangeKind};

/// What a phase does. The order of the variants is the order phases run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// init: an existing A -> B replication is imported into the state.
    ImportForward,
    /// init: an existing B -> A replication is imported into the state.
    ImportReverse,
    /// failover: the last sync is recent enough (and past the last write, when writes stopped).
    CheckRpo,
    /// failover (planned): remove A -> B through Terraform.
    RemoveForward,
    /// failover (unplanned): delete A -> B from B's region through the SDK.
    DeleteForwardFromB,
    /// failover (unplanned): forget A -> B in the state without touching A.
    ForgetForward,
    /// failover: B's protection back to ENABLED (an interrupted failback left it DISABLED).
    EnableProtectionB,
    /// failback: delete the configuration an unplanned failover left in A's region.
    CleanupStaleOnA,
    /// failback: A's protection DISABLED so that A can be a destination.
    DisableProtectionA,
    /// failback: create B -> A into the existing A through Terraform.
    CreateReverse,
    /// failback: writes on B stopped and synced to A.
    Quiesce,
    /// failback: remove B -> A through Terraform.
    RemoveReverse,
    /// failback and init: B's protection DISABLED so that B can be a destination.
    DisableProtectionB,
    /// failback and init: create A -> B into the existing B through Terraform.
    CreateForward,
}

impl Step {
    pub fn title(self) -> &'static str {
        match self {
            Step::ImportForward => "import the existing A -> B replication into the state",
            Step::ImportReverse => "import the existing B -> A replication into the state",
            Step::CheckRpo => "check the last sync (RPO)",
            Step::RemoveForward => "remove A -> B through Terraform",
            Step::DeleteForwardFromB => "delete A -> B from B's region (SDK)",
            Step::ForgetForward => "forget A -> B in the Terraform state",
            Step::EnableProtectionB => "set B's overwrite protection to ENABLED (SDK)",
            Step::CleanupStaleOnA => "delete the stale configuration left on A (SDK)",
            Step::DisableProtectionA => "set A's overwrite protection to DISABLED (SDK)",
            Step::CreateReverse => "create B -> A into the existing A through Terraform",
            Step::Quiesce => "wait until writes on B stopped and reached A",
            Step::RemoveReverse => "remove B -> A through Terraform",
            Step::DisableProtectionB => "set B's overwrite protection to DISABLED (SDK)",
            Step::CreateForward => "create A -> B into the existing B through Terraform",
        }
    }

    /// Whether the phase changes anything (and so needs a confirmation).
    pub fn changes_something(self) -> bool {
        !matches!(self, Step::CheckRpo | Step::Quiesce)
    }

    /// How long the phase takes in AWS, roughly (AWS time): where the gate polls fastest.
    pub fn expected(self) -> Duration {
        match self {
            Step::RemoveForward
            | Step::DeleteForwardFromB
            | Step::RemoveReverse
            | Step::CleanupStaleOnA => Duration::from_secs(8 * 60),
            Step::CreateReverse | Step::CreateForward => Duration::from_secs(16 * 60),
            _ => Duration::ZERO,
        }
    }
}

/// A change made through the SDK, outside Terraform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SdkChange {
    SetProtection {
        region: String,
        file_system_id: String,
        status: String,
    },
    DeleteReplication {
        region: String,
        source_file_system_id: String,
        /// None: decided when it runs (LOCAL_CONFIGURATION_ONLY when the other region does not
        /// answer).
        local_only: Option<bool>,
    },
}

impl SdkChange {
    /// The API call, in words.
    pub fn describe(&self) -> String {
        match self {
            SdkChange::SetProtection {
                region,
                file_system_id,
                status,
            } => format!("UpdateFileSystemProtection {file_system_id} ({region}) -> {status}"),
            SdkChange::DeleteReplication {
                region,
                source_file_system_id,
                local_only,
            } => format!(
                "DeleteReplicationConfiguration of source {source_file_system_id}, asked in {region} ({})",
                match local_only {
                    Some(true) => "LOCAL_CONFIGURATION_ONLY",
                    Some(false) => "ALL_CONFIGURATIONS",
                    None => "LOCAL_CONFIGURATION_ONLY if the other region does not answer",
                }
            ),
        }
    }
}

/// What must be true, as AWS says, before the next phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum Gate {
    /// The import is in the state (checked by Terraform itself).
    InState { address: String },
    /// The last sync of A -> B is within `max_lag` (unless forced); with `writes_stopped`, it is
    /// also later than the last write on A.
    Rpo {
        #[serde(with = "secs")]
        max_lag: Duration,
        force: bool,
        writes_stopped: bool,
        /// AWS time when the run started with `--writes-stopped`: the last sync must be later
        /// (a sync that began after writes stopped holds them all, whatever CloudWatch's delay).
        #[serde(serialize_with = "opt_time")]
        writes_stopped_at: Option<std::time::SystemTime>,
    },
    /// No replication of the pair in the regions of `roles`, and `writable` writable.
    NoReplication { roles: Vec<Role>, writable: Role },
    /// A side's protection has this value.
    Protection { role: Role, status: String },
    /// The replication in `direction` is ENABLED and has completed a sync.
    Replicating { direction: Direction },
    /// No write on B for `window`, and B -> A synced past B's last write.
    Quiesced {
        #[serde(with = "secs")]
        window: Duration,
    },
}

fn opt_time<S: serde::Serializer>(
    t: &Option<std::time::SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&crate::aws::rfc3339(*t)),
        None => s.serialize_none(),
    }
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

impl Gate {
    /// What the gate waits for, in words.
    pub fn describe(&self) -> String {
        match self {
            Gate::InState { address } => format!("{address} is in the Terraform state"),
            Gate::Rpo {
                max_lag,
                force,
                writes_stopped,
                ..
            } => {
                let mut s = format!(
                    "last sync of A -> B within {}",
                    humantime::format_duration(*max_lag)
                );
                if *force {
                    s.push_str(" (--force: not enforced)");
                }
                if *writes_stopped {
                    s.push_str(
                        ", and later than the last write on A and the moment writes stopped",
                    );
                }
                s
            }
            Gate::NoReplication { roles, writable } => format!(
                "no replication in {} and {writable} writable (protection ENABLED)",
                roles
                    .iter()
                    .map(|r| format!("{r}'s region"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            Gate::Protection { role, status } => format!("{role}'s protection is {status}"),
            Gate::Replicating { direction } => {
                format!("{} ENABLED and a first sync completed", arrow(*direction))
            }
            Gate::Quiesced { window } => format!(
                "no write on B for {} and B -> A synced past the last write",
                humantime::format_duration(*window)
            ),
        }
    }
}

pub fn arrow(d: Direction) -> &'static str {
    match d {
        Direction::Forward => "A -> B",
        Direction::Reverse => "B -> A",
        Direction::None => "no replication",
    }
}

/// One phase of one pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub pair: String,
    pub step: Step,
    pub title: &'static str,
    /// The pair's direction variable after this phase (None: unchanged).
    pub direction: Option<Direction>,
    /// The Terraform changes the phase allows (the plan is refused if it has anything else).
    pub allowed: Vec<AllowedChange>,
    pub sdk: Option<SdkChange>,
    pub gate: Gate,
    /// Shown with the phase (why it is there, what is special).
    pub note: Option<String>,
}

/// Options of a run that shape its phases.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFlags {
    pub unplanned: bool,
    pub force: bool,
    pub writes_stopped: bool,
    /// Set by the runner: AWS time at the start of a run with `writes_stopped`.
    pub writes_stopped_at: Option<std::time::SystemTime>,
}

impl Phase {
    /// The phase `step` of `pair`, fully described.
    pub fn new(pair: &Pair, step: Step, gates: &GateSettings, flags: RunFlags) -> Phase {
        let a = &pair.primary;
        let b = &pair.secondary;
        let addr = |d| replication_address(pair, d).expect("forward and reverse have addresses");
        let allow = |d, kind| {
            vec![AllowedChange {
                address: addr(d),
                kind,
            }]
        };
        let protection = |side: &crate::config::Side, status: &str| {
            Some(SdkChange::SetProtection {
                region: side.region.to_string(),
                file_system_id: side.file_system_id.to_string(),
                status: status.into(),
            })
        };
        let (direction, allowed, sdk, gate) = match step {
            Step::ImportForward => (
                Some(Direction::Forward),
                vec![],
                None,
                Gate::InState {
                    address: addr(Direction::Forward),
                },
            ),
            Step::ImportReverse => (
                Some(Direction::Reverse),
                vec![],
                None,
                Gate::InState {
                    address: addr(Direction::Reverse),
                },
            ),
            Step::CheckRpo => (
                None,
                vec![],
                None,
                Gate::Rpo {
                    max_lag: gates.max_lag,
                    force: flags.force,
                    writes_stopped: flags.writes_stopped,
                    writes_stopped_at: flags.writes_stopped_at,
                },
            ),
            Step::RemoveForward => (
                Some(Direction::None),
                allow(Direction::Forward, ChangeKind::Delete),
                None,
                Gate::NoReplication {
                    roles: vec![Role::A, Role::B],
                    writable: Role::B,
                },
            ),
            Step::DeleteForwardFromB => (
                None,
                vec![],
                Some(SdkChange::DeleteReplication {
                    region: b.region.to_string(),
                    source_file_system_id: a.file_system_id.to_string(),
                    local_only: None,
                }),
                Gate::NoReplication {
                    roles: vec![Role::B],
                    writable: Role::B,
                },
            ),
            Step::ForgetForward => (
                Some(Direction::None),
                vec![],
                None,
                Gate::NoReplication {
                    roles: vec![Role::B],
                    writable: Role::B,
                },
            ),
            Step::EnableProtectionB => (
                None,
                vec![],
                protection(b, "ENABLED"),
                Gate::Protection {
                    role: Role::B,
                    status: "ENABLED".into(),
                },
            ),
            Step::CleanupStaleOnA => (
                None,
                vec![],
                Some(SdkChange::DeleteReplication {
                    region: a.region.to_string(),
                    source_file_system_id: a.file_system_id.to_string(),
                    local_only: Some(true),
                }),
                Gate::NoReplication {
                    roles: vec![Role::A],
                    writable: Role::A,
                },
            ),
            Step::DisableProtectionA => (
                None,
                vec![],
                protection(a, "DISABLED"),
                Gate::Protection {
                    role: Role::A,
                    status: "DISABLED".into(),
                },
            ),
            Step::CreateReverse => (
                Some(Direction::Reverse),
                allow(Direction::Reverse, ChangeKind::Create),
                None,
                Gate::Replicating {
                    direction: Direction::Reverse,
                },
            ),
            Step::Quiesce => (
                None,
                vec![],
                None,
                Gate::Quiesced {
                    window: gates.quiesce_window,
                },
            ),
            Step::RemoveReverse => (
                Some(Direction::None),
                allow(Direction::Reverse, ChangeKind::Delete),
                None,
                Gate::NoReplication {
                    roles: vec![Role::A, Role::B],
                    writable: Role::A,
                },
            ),
            Step::DisableProtectionB => (
                None,
                vec![],
                protection(b, "DISABLED"),
                Gate::Protection {
                    role: Role::B,
                    status: "DISABLED".into(),
                },
            ),
            Step::CreateForward => (
                Some(Direction::Forward),
                allow(Direction::Forward, ChangeKind::Create),
                None,
                Gate::Replicating {
                    direction: Direction::Forward,
                },
            ),
        };
        let note = match step {
            Step::DisableProtectionA => Some(
                "the one change made outside Terraform: the module does not manage protection".into(),
            ),
            Step::DisableProtectionB => {
                Some("B's content will be replaced by A's (B is read-only until failover)".into())
            }
            Step::DeleteForwardFromB => Some(
                "LOCAL_CONFIGURATION_ONLY when A's region does not answer; A keeps a stale configuration until failback".into(),
            ),
            Step::ForgetForward => Some("terraform state rm; A is not touched".into()),
            _ => None,
        };
        Phase {
            pair: pair.name.clone(),
            step,
            title: step.title(),
            direction,
            allowed,
            sdk,
            gate,
            note,
        }
    }

    /// Whether the phase runs Terraform.
    pub fn uses_terraform(&self) -> bool {
        matches!(
            self.step,
            Step::RemoveForward
                | Step::ForgetForward
                | Step::CreateReverse
                | Step::RemoveReverse
                | Step::CreateForward
                | Step::ImportForward
                | Step::ImportReverse
        )
    }
}
