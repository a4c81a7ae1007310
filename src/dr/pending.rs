//! Where a pair stands for a pipeline: the next phase that Terraform carries (what a pull
//! request proposes), what must hold before `terraform apply` of it, and the Terraform phases
//! already applied whose gates come after; and which of them a pipeline stage takes. Pure: from
//! the planner's steps, the live view and the stage's scope.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::decide::{self, Action, Inputs};
use super::error::DrError;
use super::phase::{SdkChange, Step, TfWork};
use super::view::PairView;
use crate::config::Pair;
use crate::render::Direction;

/// One step of a pipeline stage: the whole phase, or only its gate (its change is done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageStep {
    pub step: Step,
    pub gate_only: bool,
}

/// A pair's position in a pipeline-run operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The steps before the next Terraform phase: SDK changes, gates, and the gates of
    /// Terraform phases already applied.
    pub before: Vec<StageStep>,
    /// The next phase whose Terraform change is not applied yet (None: none left).
    pub apply: Option<Step>,
    /// Terraform phases applied whose gates have not all been seen pass: the ones right before
    /// `apply` (or the last ones, when nothing is left to apply).
    pub applied: Vec<Step>,
}

fn in_state(view: &PairView, d: Direction) -> Option<bool> {
    match d {
        Direction::Forward => view.state_forward,
        Direction::Reverse => view.state_reverse,
        Direction::None => Some(false),
    }
}

fn live(view: &PairView, d: Direction) -> bool {
    match d {
        Direction::Forward => view.forward().is_some(),
        Direction::Reverse => view.reverse().is_some(),
        Direction::None => false,
    }
}

/// Whether the Terraform change of `step` is in the state (and in AWS) already. False for a
/// step without Terraform work, and when the state was not read.
pub fn terraform_done(step: Step, view: &PairView) -> bool {
    match step.spec().terraform {
        None => false,
        Some(TfWork::Import(d)) => in_state(view, d) == Some(true),
        Some(TfWork::Create(d)) => in_state(view, d) == Some(true) && live(view, d),
        Some(TfWork::Remove(d)) | Some(TfWork::Forget(d)) => in_state(view, d) == Some(false),
    }
}

/// Whether AWS already has what an SDK change would make.
pub fn sdk_done(change: &SdkChange, view: &PairView) -> bool {
    match change {
        SdkChange::SetProtection {
            file_system_id,
            status,
            ..
        } => {
            [&view.a, &view.b]
                .into_iter()
                .find(|s| &s.file_system_id == file_system_id)
                .and_then(|s| s.protection())
                == Some(*status)
        }
        // Idempotent by its token: always asked, AWS returns the job already started.
        SdkChange::StartBackup { .. } => false,
        SdkChange::DeleteReplication { region, .. } => {
            if *region == view.a.region && view.a.reachable() {
                view.forward_in_a.is_none()
            } else if *region == view.b.region && view.b.reachable() {
                view.forward_in_b.is_none()
            } else {
                false
            }
        }
    }
}

/// Splits the planner's steps at the first Terraform phase not applied yet.
pub fn pending(steps: &[Step], view: &PairView) -> Pending {
    let next = steps
        .iter()
        .position(|s| s.spec().terraform.is_some() && !terraform_done(*s, view));
    let (head, apply) = match next {
        Some(i) => (&steps[..i], Some(steps[i])),
        None => (steps, None),
    };
    let before: Vec<StageStep> = head
        .iter()
        .map(|s| StageStep {
            step: *s,
            gate_only: s.spec().terraform.is_some(),
        })
        .collect();
    let applied = head
        .iter()
        .filter(|s| s.spec().terraform.is_some())
        .copied()
        .collect();
    Pending {
        before,
        apply,
        applied,
    }
}

/// The direction a pair's variable must keep so that a plan leaves it alone: its live
/// replication, unless that is being deleted and is out of the state already.
pub fn settled_direction(view: &PairView) -> Direction {
    match view.live_direction() {
        d @ (Direction::Forward | Direction::Reverse) => {
            let r = match d {
                Direction::Forward => view.forward(),
                _ => view.reverse(),
            };
            let deleting = r.is_some_and(|r| r.status == crate::aws::ReplicationStatus::Deleting);
            if deleting && in_state(view, d) != Some(true) {
                Direction::None
            } else {
                d
            }
        }
        Direction::None => Direction::None,
    }
}

/// Which stage of a pull request's pipeline carries a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    BeforeApply,
    /// The Terraform phase itself: `terraform apply` of the reviewed root.
    Apply,
    AfterApply,
}

/// One step of a pull request's route, with its actions as decided when it was proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedStep {
    pub stage: Stage,
    pub step: Step,
    /// Only its gate is left (its change is applied or made).
    pub gate_only: bool,
    pub actions: Vec<Action>,
}

/// The route of a pull request for a pair's pending Terraform phase: the steps of the stage
/// before apply, the phase, and the SDK steps the stage after apply makes, each with its
/// actions as the live view has them now. None when no Terraform phase is left.
pub fn pull_request_route(
    pair: &Pair,
    steps: &[Step],
    view: &PairView,
    inputs: Inputs<'_>,
) -> Result<Option<Vec<ReviewedStep>>, DrError> {
    let at = pending(steps, view);
    let Some(apply) = at.apply else {
        return Ok(None);
    };
    let reviewed = |stage, step, gate_only| -> Result<ReviewedStep, DrError> {
        Ok(ReviewedStep {
            stage,
            step,
            gate_only,
            actions: decide::actions(pair, step, view, inputs)?,
        })
    };
    let mut route = Vec::new();
    for s in &at.before {
        route.push(reviewed(Stage::BeforeApply, s.step, s.gate_only)?);
    }
    route.push(reviewed(Stage::Apply, apply, false)?);
    let after = steps
        .iter()
        .position(|s| *s == apply)
        .map_or(steps.len(), |i| i + 1);
    for s in steps[after..].iter().take_while(|s| s.follows_an_apply()) {
        route.push(reviewed(Stage::AfterApply, *s, false)?);
    }
    Ok(Some(route))
}

/// How the live route differs from the reviewed one, in words (empty: it runs what was
/// reviewed). A step the live route has and the review does not, or whose changes differ, is
/// a difference; a reviewed step the live route no longer has before apply is done, and an SDK
/// change AWS already has (or is carrying out) is not asked for again.
pub fn differences(
    reviewed: &[ReviewedStep],
    live: &[ReviewedStep],
    view: &PairView,
) -> Vec<String> {
    let essences = |actions: &[Action]| -> Vec<String> {
        actions
            .iter()
            .filter(|a| match a {
                Action::Sdk { change } => {
                    !(sdk_done(change, view) || decide::already_deleting(change, view))
                }
                _ => true,
            })
            .filter_map(Action::essence)
            .collect()
    };
    let mut out = Vec::new();
    for l in live {
        let Some(r) = reviewed
            .iter()
            .find(|r| r.step == l.step && r.stage == l.stage)
        else {
            out.push(format!(
                "\"{}\" ({}) is not in the reviewed proposal",
                l.step.title(),
                stage_name(l.stage)
            ));
            continue;
        };
        let (want, now) = (essences(&r.actions), essences(&l.actions));
        if want != now {
            let only = |a: &[String], b: &[String]| -> Vec<String> {
                a.iter().filter(|x| !b.contains(x)).cloned().collect()
            };
            out.push(format!(
                "\"{}\" ({}): reviewed [{}], live [{}]",
                l.step.title(),
                stage_name(l.stage),
                only(&want, &now).join("; "),
                only(&now, &want).join("; ")
            ));
        }
    }
    for r in reviewed.iter().filter(|r| r.stage != Stage::BeforeApply) {
        if !live.iter().any(|l| l.step == r.step && l.stage == r.stage) {
            out.push(format!(
                "\"{}\" ({}) was reviewed but is not what the live state asks for",
                r.step.title(),
                stage_name(r.stage)
            ));
        }
    }
    out
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::BeforeApply => "before apply",
        Stage::Apply => "the Terraform phase",
        Stage::AfterApply => "after apply",
    }
}

/// What the merged proposal reviewed for one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    /// Its Terraform phase.
    pub step: Step,
    /// The route as proposed (empty for a proposal that does not carry it).
    pub route: Vec<ReviewedStep>,
}

/// Which phases a run takes: all of them, or one pipeline stage around a `terraform apply`
/// that the pipeline runs itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every phase left (the interactive commands).
    #[default]
    Everything,
    /// What must hold before the pending Terraform phase is applied: gates, and SDK changes
    /// when `perform_sdk` (refused otherwise). `proposed`: each pair's phase in the merged
    /// proposal; a pair whose pending phase differs is refused as stale.
    BeforeApply {
        perform_sdk: bool,
        proposed: Option<BTreeMap<String, Reviewed>>,
    },
    /// The gates of the Terraform phases just applied, then the SDK changes that follow them
    /// before the next Terraform phase (when `perform_sdk`; refused otherwise, because until
    /// they are made the pair cannot tell where it stands).
    AfterApply {
        perform_sdk: bool,
        proposed: Option<BTreeMap<String, Reviewed>>,
    },
}

impl Scope {
    pub fn proposed(&self) -> Option<&BTreeMap<String, Reviewed>> {
        match self {
            Scope::Everything => None,
            Scope::BeforeApply { proposed, .. } | Scope::AfterApply { proposed, .. } => {
                proposed.as_ref()
            }
        }
    }
}

/// The steps a run takes for a pair, from the planner's steps and the scope.
pub fn stage(
    scope: &Scope,
    pair: &Pair,
    steps: &[Step],
    view: &PairView,
    inputs: Inputs<'_>,
) -> Result<Vec<StageStep>, DrError> {
    let whole = |s: &Step| StageStep {
        step: *s,
        gate_only: false,
    };
    if *scope == Scope::Everything {
        return Ok(steps.iter().map(whole).collect());
    }
    let at = pending(steps, view);
    if let Some(proposed) = scope.proposed().and_then(|p| p.get(&pair.name)) {
        if matches!(scope, Scope::BeforeApply { .. }) {
            if at.apply != Some(proposed.step) {
                return Err(stale(proposed.step, &at, view).into());
            }
            let live = pull_request_route(pair, steps, view, inputs)?.unwrap_or_default();
            let differ = differences(&proposed.route, &live, view);
            if !differ.is_empty() {
                return Err(DrError::from(StageRefusal::NotReviewed {
                    proposed: proposed.step,
                    differences: differ,
                })
                .for_pair(&pair.name));
            }
        }
    }
    let (steps, perform_sdk) = match scope {
        Scope::Everything => unreachable!("handled above"),
        Scope::BeforeApply { perform_sdk, .. } => (at.before.clone(), *perform_sdk),
        Scope::AfterApply { perform_sdk, .. } => {
            let proposed = scope
                .proposed()
                .and_then(|p| p.get(&pair.name))
                .map(|r| &r.step);
            let not_applied = |next: Step| DrError::from(StageRefusal::NotApplied { next });
            let gate_only = |s: Step| StageStep {
                step: s,
                gate_only: true,
            };
            match proposed {
                Some(p) if at.applied.contains(p) => {}
                Some(p) if at.apply == Some(*p) => return Err(not_applied(*p)),
                // Applied and finished past what the planner still lists: its gate
                // confirms it on the live state.
                Some(p)
                    if at.apply.is_none_or(|a| a > *p)
                        && !at.before.iter().any(|s| s.step == *p) =>
                {
                    // And what follows it in this stage (an SDK change, a hook that serves
                    // from the side the apply made writable).
                    let mut after = vec![gate_only(*p)];
                    after.extend(
                        at.before
                            .iter()
                            .take_while(|s| s.step.follows_an_apply())
                            .copied(),
                    );
                    return checked(after, pair, view, inputs, *perform_sdk);
                }
                Some(p) => return Err(stale(*p, &at, view).into()),
                None if at.applied.is_empty() => match at.apply {
                    // Stage steps are pending before the next phase: nothing was applied.
                    Some(next) if !at.before.is_empty() => return Err(not_applied(next)),
                    _ => return Ok(Vec::new()),
                },
                None => {}
            }
            let last = at.before.iter().rposition(|s| s.gate_only);
            let mut steps: Vec<StageStep> = at.before[..last.map_or(0, |i| i + 1)]
                .iter()
                .filter(|s| s.gate_only)
                .copied()
                .collect();
            steps.extend(
                at.before[last.map_or(0, |i| i + 1)..]
                    .iter()
                    .take_while(|s| s.step.follows_an_apply())
                    .copied(),
            );
            (steps, *perform_sdk)
        }
    };
    checked(steps, pair, view, inputs, perform_sdk)
}

/// The steps with their SDK changes looked at: one AWS already has is only its gate; one the
/// stage may not perform (no `--perform-sdk`) refuses it.
fn checked(
    steps: Vec<StageStep>,
    pair: &Pair,
    view: &PairView,
    inputs: Inputs<'_>,
    perform_sdk: bool,
) -> Result<Vec<StageStep>, DrError> {
    let mut out = Vec::new();
    for mut s in steps {
        let change = decide::actions(pair, s.step, view, inputs)?
            .into_iter()
            .find_map(|a| match a {
                Action::Sdk { change } => Some(change),
                _ => None,
            });
        if let Some(change) = change.filter(|_| !s.gate_only) {
            if sdk_done(&change, view) {
                s.gate_only = true;
            } else if !perform_sdk {
                return Err(StageRefusal::SdkNotPerformed {
                    step: s.step,
                    change: change.describe(),
                }
                .into());
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// The actions a step takes in this run: only its gate when its change is done; no
/// confirmation for a stage's SDK change (`--perform-sdk` is the consent).
pub fn in_scope(scope: &Scope, actions: Vec<Action>, gate_only: bool) -> Vec<Action> {
    actions
        .into_iter()
        .filter(|a| match a {
            Action::Gate { .. } => true,
            _ if gate_only => false,
            Action::Confirm { question } => {
                !(*scope != Scope::Everything && question.skip == decide::Skip::Yes)
            }
            _ => true,
        })
        .collect()
}

/// Why a proposal no longer matches the live state.
fn stale(proposed: Step, at: &Pending, view: &PairView) -> StageRefusal {
    StageRefusal::Stale {
        proposed,
        next: at.apply,
        applied: at.applied.last().copied(),
        live_direction: view.live_direction(),
    }
}

/// Why a pipeline stage refuses to go on for a pair (exit 2, nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageRefusal {
    /// The merged proposal is for another phase than the live state's pending one.
    #[error("the merged proposal is for \"{}\", but the live state moved on: {} (live direction: {}). The proposal is stale: run `efs-dr propose` again and merge that instead; nothing was changed", proposed.title(), moved_on(*next, *applied), live_direction.as_str())]
    Stale {
        proposed: Step,
        /// The phase to apply now, if any.
        next: Option<Step>,
        /// The last phase applied, if any.
        applied: Option<Step>,
        live_direction: Direction,
    },
    /// The live decision's route differs from the reviewed one.
    #[error("the live decision is not what was reviewed in the merged proposal (\"{}\"):\n  - {}\nApply nothing: run `efs-dr propose` again and review that; nothing was changed", proposed.title(), differences.join("\n  - "))]
    NotReviewed {
        proposed: Step,
        differences: Vec<String>,
    },
    /// The after-apply gate of a phase that is not applied yet.
    #[error("nothing has been applied: the next phase, \"{}\", is not in the Terraform state yet. Run the stage before apply and `terraform apply` first (or this gate belongs to another phase); nothing was changed", next.title())]
    NotApplied { next: Step },
    /// An SDK change the stage must make, without --perform-sdk.
    #[error("\"{}\" must be done at this stage: {change}. Run the stage with --perform-sdk to make the change (the report records it), or make it yourself and run the stage again", step.title())]
    SdkNotPerformed { step: Step, change: String },
}

fn moved_on(next: Option<Step>, applied: Option<Step>) -> String {
    match (next, applied) {
        (Some(next), _) => format!("the next phase to apply is \"{}\"", next.title()),
        (None, Some(done)) => format!(
            "\"{}\" is applied and nothing is left to apply",
            done.title()
        ),
        (None, None) => "nothing is left to do".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::planner::{plan_pair, Operation};
    use super::super::view::tests::*;
    use super::super::view::PairView;
    use super::*;
    use std::collections::BTreeMap;

    fn view(s: crate::dr::view::Snapshot, fwd: bool, rev: bool) -> PairView {
        let mut v = PairView::derive(&pair(), &s);
        v.state_forward = Some(fwd);
        v.state_reverse = Some(rev);
        v
    }

    fn at(op: Operation, v: &PairView) -> Pending {
        pending(&plan_pair(op, v).unwrap().steps, v)
    }

    #[test]
    fn a_planned_failover_proposes_the_removal_after_the_rpo_gate() {
        let f = repl(A, B, "ENABLED", Some(10));
        let v = view(
            snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20),
            true,
            false,
        );
        let p = at(Operation::Failover { unplanned: false }, &v);
        assert_eq!(p.apply, Some(Step::RemoveForward));
        assert_eq!(
            p.before,
            vec![StageStep {
                step: Step::CheckRpo,
                gate_only: false
            }]
        );
        assert!(p.applied.is_empty());
        // Applied: out of the state, DELETING in AWS: only its gate is left.
        let f = repl(A, B, "DELETING", Some(10));
        let v = view(
            snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20),
            false,
            false,
        );
        let p = at(Operation::Failover { unplanned: false }, &v);
        assert_eq!(p.apply, None);
        assert_eq!(p.applied, vec![Step::RemoveForward]);
        assert_eq!(settled_direction(&v), Direction::None);
    }

    #[test]
    fn a_failback_moves_from_one_terraform_phase_to_the_next_as_each_is_applied() {
        // B serving: the SDK step, then create B -> A.
        let v = view(snap("ENABLED", "ENABLED", vec![], vec![], 20), false, false);
        let p = at(Operation::Failback, &v);
        assert_eq!(p.apply, Some(Step::CreateReverse));
        assert_eq!(p.before[0].step, Step::DisableProtectionA);
        assert!(!p.before[0].gate_only);
        // B -> A created and in the state: its gate, the quiesce, then remove B -> A.
        let r = repl(B, A, "ENABLED", Some(15));
        let v = view(
            snap("REPLICATING", "ENABLED", vec![r.clone()], vec![r], 20),
            false,
            true,
        );
        let p = at(Operation::Failback, &v);
        assert_eq!(p.apply, Some(Step::RemoveReverse));
        assert_eq!(p.applied, vec![Step::CreateReverse]);
        assert_eq!(
            p.before.iter().map(|s| s.step).collect::<Vec<_>>(),
            vec![Step::CreateReverse, Step::Quiesce, Step::DisableProtectionB]
        );
        assert!(p.before[0].gate_only && !p.before[1].gate_only && !p.before[2].gate_only);
        // Applied: B -> A gone, B fenced: what is left is A -> B, never "B serving".
        let v = view(
            snap("ENABLED", "DISABLED", vec![], vec![], 30),
            false,
            false,
        );
        let p = at(Operation::Failback, &v);
        assert_eq!(p.apply, Some(Step::CreateForward));
        assert!(p.before.is_empty());
        // In AWS but not in the state: still to apply (the proposal imports it).
        let v = view(
            snap(
                "REPLICATING",
                "ENABLED",
                vec![repl(B, A, "ENABLED", Some(15))],
                vec![repl(B, A, "ENABLED", Some(15))],
                20,
            ),
            false,
            false,
        );
        assert_eq!(at(Operation::Failback, &v).apply, Some(Step::CreateReverse));
    }

    #[test]
    fn sdk_changes_already_made_are_recognised() {
        let v = view(
            snap("DISABLED", "ENABLED", vec![], vec![], 20),
            false,
            false,
        );
        let change = SdkChange::SetProtection {
            region: v.a.region.clone(),
            file_system_id: v.a.file_system_id.clone(),
            status: crate::aws::Protection::Disabled,
        };
        assert!(sdk_done(&change, &v));
        let change = SdkChange::SetProtection {
            region: v.b.region.clone(),
            file_system_id: v.b.file_system_id.clone(),
            status: crate::aws::Protection::Disabled,
        };
        assert!(!sdk_done(&change, &v));
    }

    fn inputs(gates: &crate::config::GateSettings) -> Inputs<'_> {
        Inputs {
            gates,
            flags: crate::dr::phase::RunFlags::default(),
        }
    }

    fn position(op: Operation, v: &PairView) -> Vec<Step> {
        plan_pair(op, v).unwrap().steps
    }

    fn reviewed(step: Step, route: Vec<ReviewedStep>) -> Option<BTreeMap<String, Reviewed>> {
        Some(BTreeMap::from([(
            "app".to_string(),
            Reviewed { step, route },
        )]))
    }

    #[test]
    fn a_whole_run_takes_every_phase_left() {
        let gates = crate::dr::decide::tests::settings();
        let v = view(snap("ENABLED", "ENABLED", vec![], vec![], 20), false, false);
        let steps = position(Operation::Failback, &v);
        let q = stage(&Scope::Everything, &pair(), &steps, &v, inputs(&gates)).unwrap();
        assert_eq!(q.iter().map(|s| s.step).collect::<Vec<_>>(), steps);
        assert!(q.iter().all(|s| !s.gate_only));
    }

    #[test]
    fn the_stage_before_apply_makes_sdk_changes_only_when_asked_and_refuses_what_was_not_reviewed()
    {
        let gates = crate::dr::decide::tests::settings();
        let v = view(snap("ENABLED", "ENABLED", vec![], vec![], 20), false, false);
        let steps = position(Operation::Failback, &v);
        let before = |perform_sdk, proposed| {
            stage(
                &Scope::BeforeApply {
                    perform_sdk,
                    proposed,
                },
                &pair(),
                &steps,
                &v,
                inputs(&gates),
            )
        };
        let refused = before(false, None).unwrap_err();
        assert!(
            matches!(&refused, DrError::Stage(StageRefusal::SdkNotPerformed { step, .. }) if *step == Step::DisableProtectionA),
            "{refused}"
        );
        assert!(refused.message().contains("--perform-sdk"), "{refused}");
        let q = before(true, None).unwrap();
        assert_eq!(
            q,
            vec![StageStep {
                step: Step::DisableProtectionA,
                gate_only: false
            }]
        );
        // The proposal is for another phase: stale.
        let stale = before(true, reviewed(Step::CreateForward, vec![])).unwrap_err();
        assert!(
            matches!(
                &stale,
                DrError::Stage(StageRefusal::Stale {
                    proposed: Step::CreateForward,
                    next: Some(Step::CreateReverse),
                    ..
                })
            ),
            "{stale}"
        );
        // The proposal's phase, with the route as it was reviewed: it goes.
        let route = pull_request_route(&pair(), &steps, &v, inputs(&gates))
            .unwrap()
            .unwrap();
        assert_eq!(
            before(true, reviewed(Step::CreateReverse, route.clone())).unwrap(),
            q
        );
        // The same phase, but its Terraform change edited: refused, saying what differs.
        let mut edited = route.clone();
        let apply = edited.iter_mut().find(|s| s.stage == Stage::Apply).unwrap();
        for a in apply.actions.iter_mut() {
            if let Action::PlanCheckApply { allowed, .. } = a {
                allowed[0].kind = crate::terraform::ChangeKind::Delete;
            }
        }
        let differs = before(true, reviewed(Step::CreateReverse, edited)).unwrap_err();
        let DrError::Pair { pair, error, .. } = &differs else {
            panic!("not a pair's error: {differs:?}")
        };
        let DrError::Stage(StageRefusal::NotReviewed { differences, .. }) = error.as_ref() else {
            panic!("not a review refusal: {error:?}")
        };
        assert_eq!(pair, "app");
        assert!(
            differences
                .iter()
                .any(|d| d.contains("allows delete") && d.contains("allows create")),
            "{differs}"
        );
        // A step nobody reviewed: refused.
        let without_sdk: Vec<ReviewedStep> = route
            .into_iter()
            .filter(|s| s.step != Step::DisableProtectionA)
            .collect();
        let unreviewed = before(true, reviewed(Step::CreateReverse, without_sdk)).unwrap_err();
        assert!(
            unreviewed
                .message()
                .contains("is not in the reviewed proposal"),
            "{unreviewed}"
        );
    }

    #[test]
    fn the_stage_after_apply_gates_what_was_applied_and_refuses_what_was_not() {
        let gates = crate::dr::decide::tests::settings();
        let after = |v: &PairView, proposed| {
            let steps = position(Operation::Failback, v);
            stage(
                &Scope::AfterApply {
                    perform_sdk: true,
                    proposed,
                },
                &pair(),
                &steps,
                v,
                inputs(&gates),
            )
        };
        // Not applied yet: B -> A is not in the state.
        let v = view(
            snap("DISABLED", "ENABLED", vec![], vec![], 20),
            false,
            false,
        );
        let e = after(&v, reviewed(Step::CreateReverse, vec![])).unwrap_err();
        assert!(
            matches!(
                e,
                DrError::Stage(StageRefusal::NotApplied {
                    next: Step::CreateReverse
                })
            ),
            "{e}"
        );
        // Applied: its gate (and nothing of the next phase's route).
        let r = repl(B, A, "ENABLING", None);
        let v = view(
            snap("REPLICATING", "ENABLED", vec![r.clone()], vec![r], 20),
            false,
            true,
        );
        let q = after(&v, reviewed(Step::CreateReverse, vec![])).unwrap();
        assert_eq!(
            q,
            vec![StageStep {
                step: Step::CreateReverse,
                gate_only: true
            }]
        );
        // Applied and moved past: a proposal for the phase after it is stale.
        let e = after(&v, reviewed(Step::CreateForward, vec![])).unwrap_err();
        assert!(
            matches!(
                e,
                DrError::Stage(StageRefusal::Stale {
                    proposed: Step::CreateForward,
                    ..
                })
            ),
            "{e}"
        );
    }

    /// The text of every refusal a pipeline stage can meet, pinned.
    #[test]
    fn the_stage_refusals_read_as_operators_see_them() {
        let gates = crate::dr::decide::tests::settings();
        let v = view(snap("ENABLED", "ENABLED", vec![], vec![], 20), false, false);
        let steps = position(Operation::Failback, &v);
        let run = |scope: Scope| {
            stage(&scope, &pair(), &steps, &v, inputs(&gates))
                .unwrap_err()
                .to_string()
        };
        let route = pull_request_route(&pair(), &steps, &v, inputs(&gates))
            .unwrap()
            .unwrap();
        let mut edited = route.clone();
        edited.retain(|s| s.step != Step::DisableProtectionA);
        let shown = [
            run(Scope::BeforeApply {
                perform_sdk: false,
                proposed: None,
            }),
            run(Scope::BeforeApply {
                perform_sdk: true,
                proposed: reviewed(Step::CreateForward, vec![]),
            }),
            run(Scope::BeforeApply {
                perform_sdk: true,
                proposed: reviewed(Step::CreateReverse, edited),
            }),
            run(Scope::AfterApply {
                perform_sdk: true,
                proposed: reviewed(Step::CreateReverse, vec![]),
            }),
        ];
        insta::assert_snapshot!(shown.join("\n\n"));
    }
}
