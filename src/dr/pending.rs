//! Where a pair stands for a pipeline: the next phase that Terraform carries (what a pull
//! request proposes), what must hold before `terraform apply` of it, and the Terraform phases
//! already applied whose gates come after. Pure: from the planner's steps and the live view.

use serde::{Deserialize, Serialize};

use super::phase::{SdkChange, Step, TfWork};
use super::view::PairView;
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

#[cfg(test)]
mod tests {
    use super::super::planner::{plan_pair, Operation};
    use super::super::view::tests::*;
    use super::super::view::PairView;
    use super::*;

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
}
