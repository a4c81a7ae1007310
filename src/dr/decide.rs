//! Decide, then do: from a pair's live view and the phase it is at, the list of actions to take.
//! Pure. The runner carries the list out; `plan` prints it; a pull request would write it out as
//! files and a pipeline stage would check it. Whether to import, to `state rm`, to refuse, or to
//! delete locally only is decided here and nowhere else.

use serde::{Deserialize, Serialize};

use super::error::DrError;
use super::phase::{
    Confirmation, DeleteMode, Gate, GateWork, RunFlags, SdkChange, SdkWork, Step, TfWork,
};
use super::planner::{plan_pair, Operation};
use super::view::{PairView, Role};
use crate::config::{GateSettings, Pair, Side, BACKUP_EXAMPLE};
use crate::render::{alarm_address, alarm_name, alarm_side, replication_address, Direction};
use crate::terraform::{AllowedChange, ChangeKind};

/// Which flag answers a question without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// `--yes`.
    Yes,
    /// `--writes-stopped`.
    WritesStopped,
}

impl Skip {
    pub fn flag(self) -> &'static str {
        match self {
            Skip::Yes => "--yes",
            Skip::WritesStopped => "--writes-stopped",
        }
    }
}

/// A question for the operator, about every pair at one phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub text: String,
    pub skip: Skip,
}

/// One thing to do for one pair. A pair's list is always in this order: confirm, SDK change,
/// direction variable, import or `state rm`, plan-check-apply, gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Ask before changing anything.
    Confirm { question: Question },
    /// A change through the SDK, outside Terraform.
    Sdk { change: SdkChange },
    /// The pair's direction variable in the rendered root.
    SetDirection { direction: Direction },
    /// `terraform import`: AWS has the replication (id: its source file system) or the lag
    /// alarm (id: its name), the state does not.
    Import { address: String, id: String },
    /// `terraform state rm`: forget without reading AWS.
    StateRm { address: String },
    /// `terraform plan`, refused when it changes anything beyond `allowed`, then `apply`.
    PlanCheckApply {
        allowed: Vec<AllowedChange>,
        refresh: bool,
    },
    /// Run the operator's hook (its command from the config, with the pair's variables).
    Hook {
        hook: crate::hooks::HookPoint,
        command: String,
    },
    /// Wait until AWS says the gate holds.
    Gate { gate: Gate },
}

impl Action {
    /// The action, in words.
    pub fn describe(&self) -> String {
        match self {
            Action::Confirm { question } => {
                format!("ask: {} ({} skips)", question.text, question.skip.flag())
            }
            Action::Sdk { change } => format!("SDK: {}", change.describe()),
            Action::SetDirection { direction } => {
                format!("variable: direction = \"{}\"", direction.as_str())
            }
            Action::Import { address, id } => format!("terraform import {address} {id}"),
            Action::StateRm { address } => format!("terraform state rm {address}"),
            Action::PlanCheckApply { allowed, refresh } => {
                let allows = if allowed.is_empty() {
                    "no change".to_string()
                } else {
                    allowed
                        .iter()
                        .map(|a| format!("{} {}", a.kind.as_str(), a.address))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!(
                    "terraform plan{} -> allows {allows} -> apply",
                    if *refresh { "" } else { " -refresh=false" }
                )
            }
            Action::Hook { hook, command } => format!("hook {hook}: {command}"),
            Action::Gate { gate } => format!("gate: {}", gate.describe()),
        }
    }

    /// What the action does, without what only the moment decides (a question's wording, a
    /// gate's thresholds and times, a backup job's token): what a reviewer approved. None for a
    /// question: asking is not a change, and the flag that answers it may differ per stage.
    pub fn essence(&self) -> Option<String> {
        match self {
            Action::Confirm { .. } => None,
            Action::Sdk {
                change:
                    SdkChange::StartBackup {
                        region,
                        file_system_id,
                        vault,
                        role_arn,
                        ..
                    },
            } => Some(format!(
                "SDK: StartBackupJob of {file_system_id} ({region}) into vault {vault} as {role_arn}"
            )),
            Action::Gate { gate } => Some(format!("gate: {}", gate.essence())),
            other => Some(other.describe()),
        }
    }

    /// Whether the action runs Terraform.
    pub fn is_terraform(&self) -> bool {
        matches!(
            self,
            Action::SetDirection { .. }
                | Action::Import { .. }
                | Action::StateRm { .. }
                | Action::PlanCheckApply { .. }
        )
    }

    /// Whether carrying it out changes AWS or the Terraform state (what the run lease must
    /// cover at that moment).
    pub fn changes_something(&self) -> bool {
        matches!(self, Action::Sdk { .. }) || self.is_terraform()
    }
}

/// One phase of one pair: its step and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPhase {
    pub step: Step,
    pub title: String,
    pub actions: Vec<Action>,
}

/// What the settings and the command line say about gates.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub gates: &'a GateSettings,
    pub flags: RunFlags,
}

fn side(pair: &Pair, role: Role) -> &Side {
    match role {
        Role::A => &pair.primary,
        Role::B => &pair.secondary,
    }
}

/// The lag alarm of `direction` when AWS has it and the state does not (a run stopped between
/// CloudWatch's answer and the state write, or the alarm an unplanned failover left in the
/// source's region): imported, so that the phase updates or deletes it instead of failing to
/// create it twice.
fn import_alarm(view: &PairView, pair: &Pair, direction: Direction) -> Option<Action> {
    let address = alarm_address(pair, direction)?;
    let name = alarm_name(pair, direction)?;
    let in_state = view.state_alarms.as_ref()?.contains(&address);
    let in_aws = view.alarms_in_aws.as_ref()?.contains(&name);
    (in_aws && !in_state).then_some(Action::Import { address, id: name })
}

/// The side a replication in `direction` copies from.
fn source_role(direction: Direction) -> Role {
    match direction {
        Direction::Reverse => Role::B,
        _ => Role::A,
    }
}

fn address(pair: &Pair, direction: Direction) -> String {
    replication_address(pair, direction).expect("forward and reverse have addresses")
}

/// The actions of `step` for `pair`, as its live `view` stands.
pub fn actions(
    pair: &Pair,
    step: Step,
    view: &PairView,
    inputs: Inputs<'_>,
) -> Result<Vec<Action>, DrError> {
    let spec = step.spec();
    let mut out = Vec::new();
    match spec.confirm {
        Confirmation::None => {}
        Confirmation::Change => {
            let mut text = match spec.note {
                Some(note) => format!("{} ({note})", spec.title),
                None => spec.title.to_string(),
            };
            // Before A is overwritten, the question says what A alone holds.
            if spec.overwrites == Some(Role::A) {
                if let Some(w) = &view.a_only_writes {
                    text.push_str(&format!(
                        ". A's content will be replaced by B's; writes only A has: {}",
                        w.describe()
                    ));
                }
            }
            out.push(Action::Confirm {
                question: Question {
                    text,
                    skip: Skip::Yes,
                },
            })
        }
        Confirmation::StopWritesOnB(_) if inputs.flags.writes_stopped => {}
        Confirmation::StopWritesOnB(text) => out.push(Action::Confirm {
            question: Question {
                text: text.into(),
                skip: Skip::WritesStopped,
            },
        }),
    }
    if let Some(sdk) = spec.sdk {
        if sdk == SdkWork::BackupA && pair.backup.is_none() {
            return Err(DrError::Failed(format!(
                "a recovery point of A needs a backup block in the config:\n{BACKUP_EXAMPLE}"
            ))
            .for_pair(&pair.name));
        }
        if let (SdkWork::BackupA, Some(why)) = (sdk, &view.a_backup_jobs_unread) {
            // The job's token counts the jobs that failed: unread, a failed job's token could
            // be asked for again.
            return Err(DrError::Failed(format!("A's backup jobs could not be read ({why}), so this failback's backup job cannot be told from one that failed. Nothing was changed; run the same command again (`efs-dr status` shows whether AWS Backup answers)")).for_pair(&pair.name));
        }
        let change = sdk_change(pair, sdk, view);
        // A deletion AWS is already carrying out is not asked for again: only its gate is
        // left (a run stopped between the deletion and its gate).
        if !already_deleting(&change, view) {
            out.push(Action::Sdk { change });
        }
    }
    if let Some(work) = spec.terraform {
        out.extend(terraform_actions(pair, work, view)?);
    }
    if let GateWork::Hook(hook) = spec.gate {
        // A hook that succeeded is not run again (the phase is then its gate alone).
        let command = pair.hooks.as_ref().and_then(|h| h.commands.get(&hook));
        if let (Some(command), false) = (command, view.hooks_done.contains(&hook)) {
            out.push(Action::Hook {
                hook,
                command: command.clone(),
            });
        }
    }
    let mut g = gate(spec.gate, inputs);
    if let Gate::RecoveryPoint { after } = &mut g {
        *after = recovery_point_anchor(view);
    }
    out.push(Action::Gate { gate: g });
    Ok(out)
}

/// Where a recovery point of A must start (after A's last write only A has) and the
/// StartBackupJob token derived from it: the same for every run of the same failback.
pub fn recovery_point_anchor(view: &PairView) -> Option<std::time::SystemTime> {
    use std::time::{Duration, UNIX_EPOCH};
    match &view.a_only_writes {
        Some(w) if w.last_write().is_some() => w.last_write(),
        // Nothing says when A was last written: a job of this hour or the last one.
        _ => view.now.map(|n| {
            let hours = n.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / 3600;
            UNIX_EPOCH + Duration::from_secs(hours.saturating_sub(1) * 3600)
        }),
    }
}

fn sdk_change(pair: &Pair, work: SdkWork, view: &PairView) -> SdkChange {
    match work {
        SdkWork::BackupA => {
            let backup = pair.backup.clone().expect("checked by the caller");
            let after = recovery_point_anchor(view)
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
                .unwrap_or_default();
            SdkChange::StartBackup {
                region: pair.primary.region.clone(),
                file_system_id: pair.primary.file_system_id.clone(),
                resource_arn: view
                    .a
                    .file_system
                    .as_ref()
                    .and_then(|f| f.arn.clone())
                    .unwrap_or_else(|| {
                        format!(
                            "arn:aws:elasticfilesystem:{}:{}:file-system/{}",
                            pair.primary.region,
                            backup.role_arn.split(':').nth(4).unwrap_or_default(),
                            pair.primary.file_system_id
                        )
                    }),
                vault: backup.vault,
                role_arn: backup.role_arn,
                // A job that failed is not returned again: the next attempt has its own token.
                token: format!(
                    "efs-dr-{}-{after}-{}",
                    pair.primary.file_system_id,
                    view.a_backup_jobs.iter().filter(|j| j.failed()).count()
                ),
            }
        }
        SdkWork::Protection(role, status) => {
            let s = side(pair, role);
            SdkChange::SetProtection {
                region: s.region.clone(),
                file_system_id: s.file_system_id.clone(),
                status,
            }
        }
        SdkWork::DeleteForward { asked_in, mode } => SdkChange::DeleteReplication {
            region: side(pair, asked_in).region.clone(),
            source_file_system_id: pair.primary.file_system_id.clone(),
            local_only: match mode {
                DeleteMode::LocalOnly => true,
                // Asking A's region again would only cost its retries' time.
                DeleteMode::LocalOnlyWhenADown => !view.a.reachable(),
            },
        },
    }
}

/// Whether AWS is carrying out the deletion `change` asks for (it is not asked for again).
pub fn already_deleting(change: &SdkChange, view: &PairView) -> bool {
    let SdkChange::DeleteReplication { region, .. } = change else {
        return false;
    };
    let record = if *region == view.a.region {
        view.forward_in_a.as_ref()
    } else {
        view.forward_in_b.as_ref()
    };
    record.is_some_and(|r| r.status == crate::aws::ReplicationStatus::Deleting)
}

fn terraform_actions(pair: &Pair, work: TfWork, view: &PairView) -> Result<Vec<Action>, DrError> {
    let live = |d: Direction| match d {
        Direction::Forward => view.forward().is_some(),
        Direction::Reverse => view.reverse().is_some(),
        Direction::None => false,
    };
    // None: the state was not read (a preview); only a known absence leads to an import.
    let in_state = |d: Direction| match d {
        Direction::Forward => view.state_forward,
        Direction::Reverse => view.state_reverse,
        Direction::None => Some(false),
    };
    let direction = match work {
        TfWork::Import(d) | TfWork::Create(d) => d,
        TfWork::Remove(_) | TfWork::Forget(_) => Direction::None,
    };
    let mut out = vec![Action::SetDirection { direction }];
    // The state holds a replication AWS no longer has (a run killed after AWS deleted it and
    // before Terraform saved the state): forget it before planning. A refresh cannot be
    // trusted with it: the provider finds a configuration by file-system id, so the stale
    // A -> B record would be read as the B -> A whose destination A now is, and deleted.
    let both_answer = view.a.reachable() && view.b.reachable();
    for d in [Direction::Forward, Direction::Reverse] {
        let forgotten_by_the_phase = matches!(work, TfWork::Forget(f) if f == d);
        if both_answer && in_state(d) == Some(true) && !live(d) && !forgotten_by_the_phase {
            out.push(Action::StateRm {
                address: address(pair, d),
            });
        }
    }
    let source = |d: Direction| match d {
        Direction::Reverse => pair.secondary.file_system_id.clone(),
        _ => pair.primary.file_system_id.clone(),
    };
    let allow = |d, kind| {
        vec![AllowedChange {
            address: address(pair, d),
            kind,
        }]
    };
    let plan = |allowed, refresh| Action::PlanCheckApply { allowed, refresh };
    // The lag alarm follows the replication: made (or brought up to date) with the one in
    // force, deleted with the one that goes.
    let alarm = |d: Direction, kinds: &[ChangeKind]| -> Vec<AllowedChange> {
        alarm_address(pair, d)
            .map(|address| {
                kinds
                    .iter()
                    .map(|kind| AllowedChange {
                        address: address.clone(),
                        kind: *kind,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    match work {
        TfWork::Import(d) | TfWork::Create(d) => {
            // In AWS but not in the state (set up by hand, or a run stopped between AWS's
            // answer and the state write): import, never create twice.
            if live(d) && in_state(d) == Some(false) {
                out.push(Action::Import {
                    address: address(pair, d),
                    id: source(d).to_string(),
                });
            }
            out.extend(import_alarm(view, pair, d));
            let mut allowed = match work {
                TfWork::Create(_) => allow(d, ChangeKind::Create),
                _ => Vec::new(),
            };
            allowed.extend(alarm(d, &[ChangeKind::Create, ChangeKind::Update]));
            out.push(plan(allowed, true));
        }
        TfWork::Remove(d) => {
            // In AWS but not in the state (a run killed while Terraform created it): import
            // it, then remove it through Terraform as the phase says.
            if live(d) && in_state(d) == Some(false) {
                out.push(Action::Import {
                    address: address(pair, d),
                    id: source(d).to_string(),
                });
            }
            out.extend(import_alarm(view, pair, d));
            let mut allowed = allow(d, ChangeKind::Delete);
            allowed.extend(alarm(d, &[ChangeKind::Delete]));
            out.push(plan(allowed, true));
        }
        TfWork::Forget(d) => {
            if in_state(d) != Some(false) {
                out.push(Action::StateRm {
                    address: address(pair, d),
                });
            }
            let mut allowed = allow(d, ChangeKind::Forget);
            // The alarm in the source's region (down) is forgotten with the replication: it is
            // left in AWS, ringing, and the failback's last phase takes it back. In the
            // destination's region it is deleted, from the state, without reading the source.
            match (alarm_side(pair, d), alarm_address(pair, d)) {
                (Some(side), Some(address)) if side == source_role(d) => {
                    let held = view.state_alarms.as_ref().map(|s| s.contains(&address));
                    if held != Some(false) {
                        out.push(Action::StateRm { address });
                    }
                }
                _ => allowed.extend(alarm(d, &[ChangeKind::Delete])),
            }
            // Forgetting must not read the source region (it may be down): plan from the state.
            // The plan may forget the instance itself (a reviewed pull request carries the
            // forget as `moved` + `removed`; a run has removed it from the state already).
            out.push(plan(allowed, false));
        }
    }
    Ok(with_forgets_allowed(out))
}

/// Each `terraform state rm` of a phase is either done before its plan (a run) or carried by
/// the plan as a forget (a reviewed pull request's `moved` + `removed`): the plan may forget
/// what the phase removes from the state, and nothing else.
fn with_forgets_allowed(mut actions: Vec<Action>) -> Vec<Action> {
    let removed: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            Action::StateRm { address } => Some(address.clone()),
            _ => None,
        })
        .collect();
    for action in &mut actions {
        if let Action::PlanCheckApply { allowed, .. } = action {
            for address in &removed {
                let forget = AllowedChange {
                    address: address.clone(),
                    kind: ChangeKind::Forget,
                };
                if !allowed.contains(&forget) {
                    allowed.push(forget);
                }
            }
        }
    }
    actions
}

fn gate(work: GateWork, inputs: Inputs<'_>) -> Gate {
    match work {
        GateWork::InState(direction) => Gate::InState { direction },
        GateWork::Rpo => Gate::Rpo {
            max_lag: inputs.gates.max_lag,
            force: inputs.flags.force,
            writes_stopped: inputs.flags.writes_stopped,
            writes_stopped_at: inputs.flags.writes_stopped_at,
        },
        GateWork::NoReplication { roles, writable } => Gate::NoReplication {
            roles: roles.to_vec(),
            writable,
        },
        GateWork::Protection(role, status) => Gate::Protection { role, status },
        GateWork::Replicating(direction) => Gate::Replicating { direction },
        GateWork::Quiesced => Gate::Quiesced {
            window: inputs.gates.quiesce_window,
        },
        GateWork::RecoveryPoint => Gate::RecoveryPoint { after: None },
        GateWork::Hook(hook) => Gate::HookSucceeded { hook },
    }
}

/// What `op` means for one pair as it stands: where it resumes and every phase left, with its
/// actions as the live state would have them now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairDecision {
    pub pair: String,
    /// What was found (why there is nothing to do, or where the run resumes).
    pub found: String,
    pub phases: Vec<PlannedPhase>,
}

/// A failback about to replicate B -> A into A, while A has writes B does not (or nobody can
/// tell): a recovery point of A first when the config names a vault, the operator's explicit
/// `--discard-writes-on-a`, or a refusal before any change.
fn guard_writes_on_a(
    op: Operation,
    pair: &Pair,
    view: &PairView,
    inputs: Inputs<'_>,
    steps: &mut Vec<Step>,
) -> Result<(), DrError> {
    if op != Operation::Failback || view.reverse().is_some() {
        return Ok(());
    }
    let Some(at) = steps.iter().position(|s| *s == Step::CreateReverse) else {
        return Ok(());
    };
    let Some(writes) = &view.a_only_writes else {
        return Ok(());
    };
    if writes.is_none() {
        return Ok(());
    }
    if pair.backup.is_some() {
        steps.insert(at, Step::BackupA);
        return Ok(());
    }
    if inputs.flags.discard_writes_on_a {
        return Ok(());
    }
    Err(DrError::Refused(format!("writes only A has: {}. Failing back replicates B -> A into A and would destroy them. Either keep a recovery point of A first: add to {}\n{BACKUP_EXAMPLE}\n(an AWS Backup vault in A's region, and a role AWS Backup can assume), or pass --discard-writes-on-a to destroy them (recorded in the report). Nothing was changed", writes.describe(), "efs-dr.hcl")).for_pair(&pair.name))
}

/// Decides `op` for one pair: the planner's steps, each with its actions.
pub fn decide_pair(
    op: Operation,
    pair: &Pair,
    view: &PairView,
    inputs: Inputs<'_>,
) -> Result<PairDecision, DrError> {
    let mut plan = plan_pair(op, view)?;
    guard_writes_on_a(op, pair, view, inputs, &mut plan.steps)?;
    if op == (Operation::Failover { unplanned: true })
        && !plan.steps.is_empty()
        && !inputs.flags.force
    {
        if let Some(r) = view.forward().filter(|r| r.last_replicated.is_none()) {
            return Err(DrError::Refused(format!("A -> B ({}) never completed a sync, so B holds none of A's data: failing over would serve an empty B. Wait for A's region and its first sync (`efs-dr status`), or pass --force to fail over anyway", r.status)).for_pair(&pair.name));
        }
    }
    let phases = plan
        .steps
        .iter()
        .map(|step| {
            Ok(PlannedPhase {
                step: *step,
                title: step.title().to_string(),
                actions: actions(pair, *step, view, inputs)?,
            })
        })
        .collect::<Result<Vec<_>, DrError>>()?;
    Ok(PairDecision {
        pair: pair.name.clone(),
        found: plan.summary,
        phases,
    })
}

#[cfg(test)]
pub(crate) mod tests;
