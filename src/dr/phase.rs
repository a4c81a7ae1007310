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
    StopWritesOnA,
    CheckRpo,
    RemoveForward,
    DeleteForwardFromB,
    ForgetForward,
    EnableProtectionB,
    ServeFromB,
    CleanupStaleOnA,
    DisableProtectionA,
    BackupA,
    CreateReverse,
    StopWritesOnB,
    Quiesce,
    DisableProtectionB,
    RemoveReverse,
    ServeFromA,
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
    /// The operator's hook at this point ran and exited 0 (recorded beside the state).
    Hook(crate::hooks::HookPoint),
}

/// What the operator is asked before the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Nothing changes: nothing to ask.
    None,
    /// A change: asked unless `--yes`.
    Change,
    /// The operator must stop the application on B: asked (this question) unless
    /// `--writes-stopped`, which a pipeline's gate command then needs.
    StopWritesOnB(&'static str),
}

/// What passing the phase's gate records, beyond the pass itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPass {
    Nothing,
    /// The completed backup job's recovery point.
    RecoveryPoint,
    /// What a failover may lose, from the view the gate passed on.
    DataAtRisk,
    /// The cut-over was safe: writes on B stopped and reached A (nothing at risk).
    CutOverSafe,
}

/// What the operator is told to do when the gate times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// Find out why, then run again: the run continues from this phase.
    RunAgain,
    /// Nothing was cut over: stop the application on B, then run again with writes stopped.
    StopWritesFirst,
}

/// Where the phase stands in the write outage of a failback (writes stopped -> A writable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    Outside,
    /// The outage starts when this phase starts (the operator stops writes on B).
    Starts,
    /// The outage ends when this phase's gate passes (A writable).
    Ends,
}

/// How the README's phase table shows a phase (the table is rendered from `PHASES`).
#[derive(Debug)]
pub struct Described {
    /// The operations that run it.
    pub operation: &'static str,
    /// How the change is made.
    pub how: &'static str,
    /// What AWS must say for its gate to pass.
    pub gate: &'static str,
}

/// One row of the table.
#[derive(Debug)]
pub struct PhaseSpec {
    pub step: Step,
    pub title: &'static str,
    pub terraform: Option<TfWork>,
    pub sdk: Option<SdkWork>,
    pub gate: GateWork,
    /// How long AWS takes, roughly (AWS time): where the gate polls fastest.
    pub expected: Duration,
    pub confirm: Confirmation,
    /// Shown with the phase and in its question: why it is there, what is special.
    pub note: Option<&'static str>,
    /// The side whose content the phase's change lets the other side's replace: its question
    /// says what that side alone holds.
    pub overwrites: Option<Role>,
    pub on_pass: OnPass,
    pub on_timeout: OnTimeout,
    /// Said after its SDK deletion was made in one region only (`{a_region}`: A's region).
    pub local_only_note: Option<&'static str>,
    pub outage: Outage,
    pub described: Described,
}

impl PhaseSpec {
    /// The pair's direction variable after the phase (None: unchanged): the phase's Terraform
    /// work says it.
    pub fn direction(&self) -> Option<Direction> {
        match self.terraform? {
            TfWork::Import(d) | TfWork::Create(d) => Some(d),
            TfWork::Remove(_) | TfWork::Forget(_) => Some(Direction::None),
        }
    }
}

const MIN: u64 = 60;
const DELETION: Duration = Duration::from_secs(8 * MIN);
const CREATION: Duration = Duration::from_secs(16 * MIN);
const BACKUP: Duration = Duration::from_secs(6 * MIN);
const BOTH: &[Role] = &[Role::A, Role::B];
const ONLY_A: &[Role] = &[Role::A];
const ONLY_B: &[Role] = &[Role::B];

/// Every phase, in run order (`Step as usize` indexes it).
pub const PHASES: [PhaseSpec; 19] = [
    PhaseSpec {
        step: Step::ImportForward,
        title: "import the existing A -> B replication into the state",
        terraform: Some(TfWork::Import(Direction::Forward)),
        sdk: None,
        gate: GateWork::InState(Direction::Forward),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "init",
            how: "Terraform `import` (direction `forward`): AWS has A → B, the state does not",
            gate: "A → B is in the state",
        },
    },
    PhaseSpec {
        step: Step::ImportReverse,
        title: "import the existing B -> A replication into the state",
        terraform: Some(TfWork::Import(Direction::Reverse)),
        sdk: None,
        gate: GateWork::InState(Direction::Reverse),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "init (a failback in progress)",
            how: "Terraform `import` (direction `reverse`)",
            gate: "B → A is in the state",
        },
    },
    PhaseSpec {
        step: Step::StopWritesOnA,
        title: "hook stop_writes_on_a: stop the application on A",
        terraform: None,
        sdk: None,
        gate: GateWork::Hook(crate::hooks::HookPoint::StopWritesOnA),
        expected: Duration::ZERO,
        confirm: Confirmation::None,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failover (planned, with a hook)",
            how: "the `hooks` block's `stop_writes_on_a` command",
            gate: "the hook exited 0 (recorded beside the state: not run again)",
        },
    },
    PhaseSpec {
        step: Step::CheckRpo,
        title: "check the last sync (RPO)",
        terraform: None,
        sdk: None,
        gate: GateWork::Rpo,
        expected: Duration::ZERO,
        confirm: Confirmation::None,
        note: None,
        overwrites: None,
        on_pass: OnPass::DataAtRisk,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failover",
            how: "—",
            gate: "A → B synced within `max_lag` (else refuse, exit 2, unless `--force`); with `--writes-stopped` also later than the last write on A (CloudWatch `DataWriteIOBytes`) and than the moment the run started (so a write CloudWatch has not shown yet is covered too); ERROR/PAUSED refused unless `--force`",
        },
    },
    PhaseSpec {
        step: Step::RemoveForward,
        title: "remove A -> B through Terraform",
        terraform: Some(TfWork::Remove(Direction::Forward)),
        sdk: None,
        gate: GateWork::NoReplication {
            roles: BOTH,
            writable: Role::B,
        },
        expected: DELETION,
        confirm: Confirmation::Change,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failover",
            how: "Terraform (direction `none`)",
            gate: "no replication in either region, B's protection `ENABLED` (writable)",
        },
    },
    PhaseSpec {
        step: Step::DeleteForwardFromB,
        title: "delete A -> B from B's region (SDK)",
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
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: Some("A's region {a_region} did not answer: the replication was deleted in B's region only (LOCAL_CONFIGURATION_ONLY). A still holds a stale configuration; `efs-dr failback` removes it"),
        outage: Outage::Outside,
        described: Described {
            operation: "failover `--unplanned`",
            how: "SDK (`LOCAL_CONFIGURATION_ONLY` when A's region does not answer)",
            gate: "no replication in B's region, B writable",
        },
    },
    PhaseSpec {
        step: Step::ForgetForward,
        title: "forget A -> B in the Terraform state",
        terraform: Some(TfWork::Forget(Direction::Forward)),
        sdk: None,
        gate: GateWork::NoReplication {
            roles: ONLY_B,
            writable: Role::B,
        },
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: Some("terraform state rm; A is not touched"),
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failover `--unplanned`",
            how: "`terraform state rm`, direction `none`, plan without refresh (A is never read)",
            gate: "as above",
        },
    },
    PhaseSpec {
        step: Step::EnableProtectionB,
        title: "set B's overwrite protection to ENABLED (SDK)",
        terraform: None,
        sdk: Some(SdkWork::Protection(Role::B, Protection::Enabled)),
        gate: GateWork::Protection(Role::B, Protection::Enabled),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failover (B left fenced)",
            how: "SDK",
            gate: "B's protection is `ENABLED` (writable)",
        },
    },
    PhaseSpec {
        step: Step::ServeFromB,
        title: "hook serve_from_b: serve from B",
        terraform: None,
        sdk: None,
        gate: GateWork::Hook(crate::hooks::HookPoint::ServeFromB),
        expected: Duration::ZERO,
        confirm: Confirmation::None,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failover (with a hook)",
            how: "the `hooks` block's `serve_from_b` command (B is writable)",
            gate: "the hook exited 0 (recorded beside the state: not run again)",
        },
    },
    PhaseSpec {
        step: Step::CleanupStaleOnA,
        title: "delete the stale configuration left on A (SDK)",
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
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failback",
            how: "SDK (only after an unplanned failover)",
            gate: "no replication in A's region",
        },
    },
    PhaseSpec {
        step: Step::DisableProtectionA,
        title: "set A's overwrite protection to DISABLED (SDK)",
        terraform: None,
        sdk: Some(SdkWork::Protection(Role::A, Protection::Disabled)),
        gate: GateWork::Protection(Role::A, Protection::Disabled),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: Some("made outside Terraform: the module does not manage protection; A becomes a replication destination"),
        overwrites: Some(Role::A),
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failback",
            how: "SDK (in the report)",
            gate: "A's protection is `DISABLED`",
        },
    },
    PhaseSpec {
        step: Step::BackupA,
        title: "keep a recovery point of A (AWS Backup) before B's content replaces it",
        terraform: None,
        sdk: Some(SdkWork::BackupA),
        gate: GateWork::RecoveryPoint,
        expected: BACKUP,
        confirm: Confirmation::Change,
        note: Some("A has writes B does not have, or nobody can tell; A is fenced (read-only) first, so the recovery point holds all of them"),
        overwrites: None,
        on_pass: OnPass::RecoveryPoint,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failback",
            how: "AWS Backup `StartBackupJob` (only when A has writes B does not, or nobody can tell, and a `backup` block names a vault)",
            gate: "the job `COMPLETED`",
        },
    },
    PhaseSpec {
        step: Step::CreateReverse,
        title: "create B -> A into the existing A through Terraform",
        terraform: Some(TfWork::Create(Direction::Reverse)),
        sdk: None,
        gate: GateWork::Replicating(Direction::Reverse),
        expected: CREATION,
        confirm: Confirmation::Change,
        note: None,
        overwrites: Some(Role::A),
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failback",
            how: "Terraform (direction `reverse`)",
            gate: "`ENABLED` and a first sync completed",
        },
    },
    PhaseSpec {
        step: Step::StopWritesOnB,
        title: "hook stop_writes_on_b: stop the application on B",
        terraform: None,
        sdk: None,
        gate: GateWork::Hook(crate::hooks::HookPoint::StopWritesOnB),
        expected: Duration::ZERO,
        confirm: Confirmation::None,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failback (with a hook)",
            how: "the `hooks` block's `stop_writes_on_b` command",
            gate: "the hook exited 0 (recorded beside the state: not run again)",
        },
    },
    PhaseSpec {
        step: Step::Quiesce,
        title: "wait until writes on B stopped and reached A",
        terraform: None,
        sdk: None,
        gate: GateWork::Quiesced,
        expected: Duration::ZERO,
        confirm: Confirmation::StopWritesOnB(
            "stop the application writing to B now. The gate then checks that writes stopped and reached A",
        ),
        note: None,
        overwrites: None,
        on_pass: OnPass::CutOverSafe,
        on_timeout: OnTimeout::StopWritesFirst,
        local_only_note: None,
        outage: Outage::Starts,
        described: Described {
            operation: "failback",
            how: "the operator stops the application on B (`--writes-stopped` or the terminal question)",
            gate: "`DataWriteIOBytes` on B zero for `quiesce_window`, and B → A `LastReplicatedTimestamp` later than B's last write",
        },
    },
    PhaseSpec {
        step: Step::DisableProtectionB,
        title: "set B's overwrite protection to DISABLED (SDK)",
        terraform: None,
        sdk: Some(SdkWork::Protection(Role::B, Protection::Disabled)),
        gate: GateWork::Protection(Role::B, Protection::Disabled),
        expected: Duration::ZERO,
        confirm: Confirmation::Change,
        note: Some("fences B before the cut-over: with DISABLED protection no write can land on B after the quiesce, and B may become the destination again; B's content will be replaced by A's"),
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "init, failback",
            how: "SDK",
            gate: "B's protection is `DISABLED`",
        },
    },
    PhaseSpec {
        step: Step::RemoveReverse,
        title: "remove B -> A through Terraform",
        terraform: Some(TfWork::Remove(Direction::Reverse)),
        sdk: None,
        gate: GateWork::NoReplication {
            roles: BOTH,
            writable: Role::A,
        },
        expected: DELETION,
        confirm: Confirmation::Change,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Ends,
        described: Described {
            operation: "failback",
            how: "Terraform (direction `none`)",
            gate: "no replication, A writable",
        },
    },
    PhaseSpec {
        step: Step::ServeFromA,
        title: "hook serve_from_a: serve from A",
        terraform: None,
        sdk: None,
        gate: GateWork::Hook(crate::hooks::HookPoint::ServeFromA),
        expected: Duration::ZERO,
        confirm: Confirmation::None,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "failback (with a hook)",
            how: "the `hooks` block's `serve_from_a` command (A is writable)",
            gate: "the hook exited 0 (recorded beside the state: not run again)",
        },
    },
    PhaseSpec {
        step: Step::CreateForward,
        title: "create A -> B into the existing B through Terraform",
        terraform: Some(TfWork::Create(Direction::Forward)),
        sdk: None,
        gate: GateWork::Replicating(Direction::Forward),
        expected: CREATION,
        confirm: Confirmation::Change,
        note: None,
        overwrites: None,
        on_pass: OnPass::Nothing,
        on_timeout: OnTimeout::RunAgain,
        local_only_note: None,
        outage: Outage::Outside,
        described: Described {
            operation: "init, failback",
            how: "Terraform (direction `forward`)",
            gate: "`ENABLED` and synced",
        },
    },
];

impl Step {
    /// The step as events and the report name it (`remove_forward`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// A step a pipeline's gate stage carries after an apply: an SDK change, or a hook that
    /// serves from the side the apply made writable. A hook that stops writes waits for the
    /// next pull request's stage before its apply: the application is not stopped for the
    /// time a review takes.
    pub fn follows_an_apply(self) -> bool {
        use crate::hooks::HookPoint;
        let spec = self.spec();
        spec.terraform.is_none()
            && (spec.sdk.is_some()
                || matches!(
                    spec.gate,
                    GateWork::Hook(HookPoint::ServeFromB | HookPoint::ServeFromA)
                ))
    }

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
    /// The operator's hook ran and exited 0.
    HookSucceeded { hook: crate::hooks::HookPoint },
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
            Gate::HookSucceeded { hook } => format!("the {hook} hook exited 0"),
        }
    }

    /// The sides whose regions the gate reads: a gate on B alone does not wait for A's region.
    pub fn roles(&self) -> Vec<Role> {
        match self {
            Gate::InState { .. } | Gate::HookSucceeded { .. } => vec![],
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

/// The README's phase table, rendered from `PHASES` (a test keeps the README in step).
pub fn readme_table() -> String {
    let mut out =
        String::from("| operation | phase | how | gate (what AWS must say) |\n|---|---|---|---|\n");
    for p in &PHASES {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            p.described.operation,
            p.title.replace("->", "→"),
            p.described.how,
            p.described.gate
        ));
    }
    out
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

    /// The README's phase table is `PHASES`: run with `EFS_DR_UPDATE_README=1` to rewrite it.
    #[test]
    fn the_readme_phase_table_is_rendered_from_the_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = ("<!-- phases:begin -->\n", "<!-- phases:end -->");
        let a = readme
            .find(begin)
            .expect("the README marks its phase table")
            + begin.len();
        let b = readme[a..].find(end).expect("the phase table's end marker") + a;
        let table = readme_table();
        if std::env::var_os("EFS_DR_UPDATE_README").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &readme[..a], &readme[b..])).unwrap();
            return;
        }
        assert_eq!(
            readme[a..b],
            table,
            "the README's phase table differs from PHASES: run `EFS_DR_UPDATE_README=1 cargo test --lib readme`"
        );
    }
}
