//! The phases, as one table: a row per phase holds everything about it (title, the direction
//! variable after it, its Terraform work, its SDK change, its gate, its expected duration in AWS,
//! its confirmation and its note). The planner picks rows; `decide` turns a row and a live view
//! into actions; nothing else knows what a phase is.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::view::Role;
use crate::aws::{rfc3339, Protection};
use crate::ids::{FileSystemId, Region};
use crate::render::Direction;

/// What a phase does. The order of the variants is the order phases run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    ImportForward,
    ImportReverse,
    CheckRpo,
    RemoveForward,
    DeleteForwardFromB,
    ForgetForward,
    EnableProtectionB,
    CleanupStaleOnA,
    DisableProtectionA,
    BackupA,
    CreateReverse,
    Quiesce,
    DisableProtectionB,
    RemoveReverse,
    CreateForward,
}

/// A phase's Terraform work on the pair's replication in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfWork {
    /// Bring an existing replication into the state (import it when AWS has it and the state
    /// does not); the plan may change nothing.
    Import(Direction),
    /// Create it (import instead when AWS already has it: never created twice).
    Create(Direction),
    /// Delete it through Terraform.
    Remove(Direction),
    /// `terraform state rm` without reading AWS (its source region may be down).
    Forget(Direction),
}

/// How a deletion through the SDK treats the other region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// LOCAL_CONFIGURATION_ONLY.
    LocalOnly,
    /// LOCAL_CONFIGURATION_ONLY when A's region does not answer, ALL_CONFIGURATIONS otherwise.
    LocalOnlyWhenADown,
}

/// A phase's change made through the SDK, outside Terraform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkWork {
    /// UpdateFileSystemProtection of a side.
    Protection(Role, Protection),
    /// DeleteReplicationConfiguration of A -> B, asked in a side's region.
    DeleteForward { asked_in: Role, mode: DeleteMode },
    /// StartBackupJob of A into the pair's backup vault.
    BackupA,
}

/// What must hold, as AWS says, before the next phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateWork {
    InState(Direction),
    Rpo,
    NoReplication {
        roles: &'static [Role],
        writable: Role,
    },
    Protection(Role, Protection),
    Replicating(Direction),
    Quiesced,
    RecoveryPoint,
}

/// What the operator is asked before the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Nothing changes: nothing to ask.
    None,
    /// A change: asked unless `--yes`.
    Change,
    /// The operator must stop the application on B: asked unless `--writes-stopped`.
    StopWritesOnB,
}

/// One row of the table.
#[derive(Debug)]
pub struct PhaseSpec {
    pub step: Step,
    pub title: &'static str,
    /// The pair's direction variable after the phase (None: unchanged).
    pub direction: Option<Direction>,
    pub terraform: Option<TfWork>,
    pub sdk: Option<SdkWork>,
    pub gate: GateWork,
    /// How long AWS takes, roughly (AWS time): where the gate polls fastest.
    pub expected: Duration,
    pub confirm: Confirmation,
    /// Shown with the phase and in its question: why it is there, what is special.
    pub note: Option<&'static str>,
}

const MIN: u64 = 60;
const DELETION: Duration = Duration::from_secs(8 * MIN);
const CREATION: Duration = Duration::from_secs(16 * MIN);
const BACKUP: Duration = Duration::from_secs(6 * MIN);
const BOTH: &[Role] = &[Role::A, Role::B];
const ONLY_A: &[Role] = &[Role::A];
const ONLY_B: &[Role] = &[Role::B];

/// Every phase, in run order (`Step as usize` indexes it).
pub const PHASES: [PhaseSpec; 15] = [
    PhaseSpec {
        step: Step::ImportForward,
        title: "import the existing A -> B replication into the state",
        direction: Some(Direction::Forward),
        terraform: Some(TfWork::Import(Direction::Forward)),
        sdk: None,
        gate: GateWork::InState(Direction::Forward),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: None,
    },
    PhaseSpec {
        step: Step::ImportReverse,
        title: "import the existing B -> A replication into the state",
        direction: Some(Direction::Reverse),
        terraform: Some(TfWork::Import(Direction::Reverse)),
        sdk: None,
        gate: GateWork::InState(Direction::Reverse),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: None,
    },
    PhaseSpec {
        step: Step::CheckRpo,
        title: "check the last sync (RPO)",
        direction: None,
        terraform: None,
        sdk: None,
        gate: GateWork::Rpo,
        expected: Duration::ZERO,
        confirm: Confirmation::None,
        note: None,
    },
    PhaseSpec {
        step: Step::RemoveForward,
        title: "remove A -> B through Terraform",
        direction: Some(Direction::None),
        terraform: Some(TfWork::Remove(Direction::Forward)),
        sdk: None,
        gate: GateWork::NoReplication {
            roles: BOTH,
            writable: Role::B,
        },
        expected: DELETION,
        confirm: Confirmation::Change,
        note: None,
    },
    PhaseSpec {
        step: Step::DeleteForwardFromB,
        title: "delete A -> B from B's region (SDK)",
        direction: None,
        terraform: None,
        sdk: Some(SdkWork::DeleteForward {
            asked_in: Role::B,
            mode: DeleteMode::LocalOnlyWhenADown,
        }),
        gate: GateWork::NoReplication {
            roles: ONLY_B,
            writable: Role::B,
        },
        expected: DELETION,
        confirm: Confirmation::Change,
        note: Some("LOCAL_CONFIGURATION_ONLY when A's region does not answer; A keeps a stale configuration until failback"),
    },
    PhaseSpec {
        step: Step::ForgetForward,
        title: "forget A -> B in the Terraform state",
        direction: Some(Direction::None),
        terraform: Some(TfWork::Forget(Direction::Forward)),
        sdk: None,
        gate: GateWork::NoReplication {
            roles: ONLY_B,
            writable: Role::B,
        },
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: Some("terraform state rm; A is not touched"),
    },
    PhaseSpec {
        step: Step::EnableProtectionB,
        title: "set B's overwrite protection to ENABLED (SDK)",
        direction: None,
        terraform: None,
        sdk: Some(SdkWork::Protection(Role::B, Protection::Enabled)),
        gate: GateWork::Protection(Role::B, Protection::Enabled),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: None,
    },
    PhaseSpec {
        step: Step::CleanupStaleOnA,
        title: "delete the stale configuration left on A (SDK)",
        direction: None,
        terraform: None,
        sdk: Some(SdkWork::DeleteForward {
            asked_in: Role::A,
            mode: DeleteMode::LocalOnly,
        }),
        gate: GateWork::NoReplication {
            roles: ONLY_A,
            writable: Role::A,
        },
        expected: DELETION,
        confirm: Confirmation::Change,
        note: None,
    },
    PhaseSpec {
        step: Step::DisableProtectionA,
        title: "set A's overwrite protection to DISABLED (SDK)",
        direction: None,
        terraform: None,
        sdk: Some(SdkWork::Protection(Role::A, Protection::Disabled)),
        gate: GateWork::Protection(Role::A, Protection::Disabled),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: Some("the one change made outside Terraform: the module does not manage protection"),
    },
    PhaseSpec {
        step: Step::BackupA,
        title: "keep a recovery point of A (AWS Backup) before B's content replaces it",
        direction: None,
        terraform: None,
        sdk: Some(SdkWork::BackupA),
        gate: GateWork::RecoveryPoint,
        expected: BACKUP,
        confirm: Confirmation::Change,
        note: Some("A has writes B does not have, or nobody can tell; A is fenced (read-only) first, so the recovery point holds all of them"),
    },
    PhaseSpec {
        step: Step::CreateReverse,
        title: "create B -> A into the existing A through Terraform",
        direction: Some(Direction::Reverse),
        terraform: Some(TfWork::Create(Direction::Reverse)),
        sdk: None,
        gate: GateWork::Replicating(Direction::Reverse),
        expected: CREATION,
        confirm: Confirmation::Change,
        note: None,
    },
    PhaseSpec {
        step: Step::Quiesce,
        title: "wait until writes on B stopped and reached A",
        direction: None,
        terraform: None,
        sdk: None,
        gate: GateWork::Quiesced,
        expected: Duration::ZERO,
        confirm: Confirmation::StopWritesOnB,
        note: None,
    },
    PhaseSpec {
        step: Step::DisableProtectionB,
        title: "set B's overwrite protection to DISABLED (SDK)",
        direction: None,
        terraform: None,
        sdk: Some(SdkWork::Protection(Role::B, Protection::Disabled)),
        gate: GateWork::Protection(Role::B, Protection::Disabled),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: Some("fences B before the cut-over: with DISABLED protection no write can land on B after the quiesce, and B may become the destination again; B's content will be replaced by A's"),
    },
    PhaseSpec {
        step: Step::RemoveReverse,
        title: "remove B -> A through Terraform",
        direction: Some(Direction::None),
        terraform: Some(TfWork::Remove(Direction::Reverse)),
        sdk: None,
        gate: GateWork::NoReplication {
            roles: BOTH,
            writable: Role::A,
        },
        expected: DELETION,
        confirm: Confirmation::Change,
        note: None,
    },
    PhaseSpec {
        step: Step::CreateForward,
        title: "create A -> B into the existing B through Terraform",
        direction: Some(Direction::Forward),
        terraform: Some(TfWork::Create(Direction::Forward)),
        sdk: None,
        gate: GateWork::Replicating(Direction::Forward),
        expected: CREATION,
        confirm: Confirmation::Change,
        note: None,
    },
];

impl Step {
    /// The step's row of the table.
    pub fn spec(self) -> &'static PhaseSpec {
        &PHASES[self as usize]
    }

    pub fn title(self) -> &'static str {
        self.spec().title
    }

    /// A failover's step after which B serves (writable): where its RTO ends.
    pub fn makes_b_writable(self) -> bool {
        matches!(
            self.spec().gate,
            GateWork::NoReplication {
                writable: Role::B,
                ..
            }
        )
    }
}

/// A change made through the SDK, resolved for one pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SdkChange {
    SetProtection {
        region: Region,
        file_system_id: FileSystemId,
        status: Protection,
    },
    DeleteReplication {
        region: Region,
        source_file_system_id: FileSystemId,
        local_only: bool,
    },
    /// StartBackupJob (the same token returns the same job).
    StartBackup {
        region: Region,
        file_system_id: FileSystemId,
        resource_arn: String,
        vault: String,
        role_arn: String,
        token: String,
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
                if *local_only {
                    "LOCAL_CONFIGURATION_ONLY"
                } else {
                    "ALL_CONFIGURATIONS"
                }
            ),
            SdkChange::StartBackup {
                region,
                file_system_id,
                vault,
                role_arn,
                ..
            } => format!(
                "StartBackupJob of {file_system_id} ({region}) into vault {vault} as {role_arn}"
            ),
        }
    }
}

impl Gate {
    /// The gate without what the moment and the settings decide (thresholds, times): the
    /// gates that only look at AWS's shape are said whole.
    pub fn essence(&self) -> String {
        match self {
            Gate::Rpo { .. } => "the RPO gate".into(),
            Gate::Quiesced { .. } => "the quiesce gate".into(),
            Gate::RecoveryPoint { .. } => "a recovery point of A".into(),
            other => other.describe(),
        }
    }
}

/// A gate, resolved for one pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum Gate {
    /// The replication in `direction` is in the state (checked by Terraform itself).
    InState { direction: Direction },
    /// The last sync of A -> B is within `max_lag` (unless forced); with `writes_stopped`, it is
    /// also later than the last write on A and than `writes_stopped_at`.
    Rpo {
        #[serde(with = "secs")]
        max_lag: Duration,
        force: bool,
        writes_stopped: bool,
        #[serde(with = "crate::aws::opt_time")]
        writes_stopped_at: Option<SystemTime>,
    },
    /// No replication of the pair in the regions of `roles`, and `writable` writable.
    NoReplication { roles: Vec<Role>, writable: Role },
    /// A side's protection has this value.
    Protection { role: Role, status: Protection },
    /// The replication in `direction` is ENABLED and has completed a sync.
    Replicating { direction: Direction },
    /// No write on B for `window`, and B -> A synced past B's last write.
    Quiesced {
        #[serde(with = "secs")]
        window: Duration,
    },
    /// A backup job of A created after `after` (A's last write only A has) COMPLETED.
    RecoveryPoint {
        #[serde(with = "crate::aws::opt_time")]
        after: Option<SystemTime>,
    },
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

impl Gate {
    /// What the gate waits for, in words.
    pub fn describe(&self) -> String {
        match self {
            Gate::InState { direction } => {
                format!("{} is in the Terraform state", arrow(*direction))
            }
            Gate::Rpo {
                max_lag,
                force,
                writes_stopped,
                writes_stopped_at,
            } => {
                let mut s = format!(
                    "last sync of A -> B within {} (AWS time)",
                    humantime::format_duration(*max_lag)
                );
                if *force {
                    s.push_str(" (--force: not enforced)");
                }
                if *writes_stopped {
                    s.push_str(", and later than the last write on A");
                    if let Some(t) = writes_stopped_at {
                        s.push_str(&format!(" and than {} (writes stopped)", rfc3339(*t)));
                    }
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
                "no write on B for {} (AWS time) and B -> A synced past the last write",
                humantime::format_duration(*window)
            ),
            Gate::RecoveryPoint { after } => format!(
                "a backup job of A{} COMPLETED (its recovery point holds A's writes)",
                after
                    .map(|t| format!(" started after {}", rfc3339(t)))
                    .unwrap_or_default()
            ),
        }
    }

    /// The sides whose regions the gate reads: a gate on B alone does not wait for A's region.
    pub fn roles(&self) -> Vec<Role> {
        match self {
            Gate::InState { .. } => vec![],
            Gate::NoReplication { roles, writable } => {
                let mut r = roles.clone();
                if !r.contains(writable) {
                    r.push(*writable);
                }
                r
            }
            Gate::Protection { role, .. } => vec![*role],
            Gate::RecoveryPoint { .. } => vec![Role::A],
            Gate::Rpo { .. } | Gate::Replicating { .. } | Gate::Quiesced { .. } => {
                vec![Role::A, Role::B]
            }
        }
    }

    /// The side whose writes the gate watches (CloudWatch), if any.
    pub fn watches_writes_on(&self) -> Option<Role> {
        match self {
            Gate::Quiesced { .. } => Some(Role::B),
            // Also without --writes-stopped: the data at risk it reports needs A's last write.
            Gate::Rpo { .. } => Some(Role::A),
            _ => None,
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

/// Options of a run that shape its phases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunFlags {
    pub force: bool,
    pub writes_stopped: bool,
    /// Set by the runner: AWS time at the start of a run with `writes_stopped`.
    pub writes_stopped_at: Option<SystemTime>,
    /// The operator accepts that a failback destroys writes only A has (recorded).
    pub discard_writes_on_a: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_indexed_by_step_in_run_order() {
        for (i, row) in PHASES.iter().enumerate() {
            assert_eq!(row.step as usize, i, "{:?} is not at its index", row.step);
            assert_eq!(row.step.spec().step, row.step);
        }
        for pair in PHASES.windows(2) {
            assert!(pair[0].step < pair[1].step);
        }
    }

    #[test]
    fn a_phase_that_changes_nothing_asks_nothing() {
        for row in &PHASES {
            let changes = row.terraform.is_some() || row.sdk.is_some();
            if !changes {
                assert_ne!(row.confirm, Confirmation::Change, "{:?}", row.step);
            }
        }
        assert!(Step::DeleteForwardFromB.makes_b_writable());
        assert!(Step::RemoveForward.makes_b_writable());
        assert!(!Step::RemoveReverse.makes_b_writable());
    }
}
