//! From a pair's live state to the phases left to run. Pure, and the reason a run can stop at
//! any moment and be started again from any machine: the starting point is read from AWS and
//! the Terraform state, never from a file of ours.

use serde::{Deserialize, Serialize};

use super::error::DrError;
use super::phase::{Confirmation, Step};
use super::view::{PairView, Role};
use crate::aws::{Protection, ReplicationStatus};

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Init,
    Failover { unplanned: bool },
    Failback,
}

impl Operation {
    /// The operation as its command line names it.
    pub fn args(self) -> &'static str {
        match self {
            Operation::Init => "init",
            Operation::Failover { unplanned: false } => "failover",
            Operation::Failover { unplanned: true } => "failover --unplanned",
            Operation::Failback => "failback",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Operation::Init => "init",
            Operation::Failover { unplanned: false } => "failover",
            Operation::Failover { unplanned: true } => "unplanned failover",
            Operation::Failback => "failback",
        }
    }
}

/// The phases left for one pair, and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairPlan {
    pub steps: Vec<Step>,
    /// Why there is nothing (left) to do, or where the run resumes.
    pub summary: String,
}

fn side_problem(view: &PairView, role: Role, op: Operation) -> Option<DrError> {
    let side = view.side(role);
    if let Some(e) = &side.error {
        let what = if e.is_unreachable() {
            "does not answer"
        } else {
            "could not be read"
        };
        return Some(DrError::Failed(format!(
            "{role}'s region {} {what}: {e}",
            side.region
        )));
    }
    match &side.file_system {
        None => Some(DrError::Failed(format!(
            "file system {} ({role}) does not exist in {}; check the pair in the config (is it in another region?)",
            side.file_system_id, side.region
        ))),
        Some(fs) if fs.life_cycle_state != crate::aws::LifeCycleState::Available => Some(DrError::Failed(format!(
            "file system {} ({role}) is {}, not available; wait for it, then run {} again",
            side.file_system_id,
            fs.life_cycle_state,
            op.name()
        ))),
        _ => None,
    }
}

fn foreign(view: &PairView) -> Option<DrError> {
    view.foreign.first().map(|r| {
        DrError::Refused(format!(
            "{} -> {} is a replication outside the pair ({} {} / {} {}); efs-dr will not touch it. Remove it or fix the config",
            r.source_id,
            r.destination_id,
            view.a.file_system_id,
            view.a.region,
            view.b.file_system_id,
            view.b.region
        ))
    })
}

/// B is fenced (protection DISABLED) after the quiesce and before the cut-over: no write can
/// land on B once the gate said writes stopped, and once B -> A is gone, "A ENABLED, B
/// DISABLED, nothing replicating" can only mean a failback at its last phase, never "B
/// serving" (a pipeline applies the removal in one job and creates A -> B in a later one).
const FAILBACK_FROM_START: [Step; 6] = [
    Step::DisableProtectionA,
    Step::CreateReverse,
    Step::Quiesce,
    Step::DisableProtectionB,
    Step::RemoveReverse,
    Step::CreateForward,
];

/// A failback resumed at `step`: it and every phase after it.
fn failback_from(step: Step) -> &'static [Step] {
    let at = FAILBACK_FROM_START
        .iter()
        .position(|s| *s == step)
        .expect("a failback's resume point is one of its phases");
    &FAILBACK_FROM_START[at..]
}

/// The Terraform phases of a whole operation from its start, in order: one pull request each
/// in pull-request mode ("PR 1 of 3").
pub fn terraform_route(op: Operation) -> Vec<Step> {
    whole_route(op)
        .iter()
        .copied()
        .filter(|s| s.spec().terraform.is_some())
        .collect()
}

/// Every phase of a whole operation from its usual start, in order.
fn whole_route(op: Operation) -> &'static [Step] {
    match op {
        Operation::Failover { unplanned: false } => &[Step::CheckRpo, Step::RemoveForward],
        Operation::Failover { unplanned: true } => &[Step::DeleteForwardFromB, Step::ForgetForward],
        Operation::Failback => &FAILBACK_FROM_START,
        Operation::Init => &[Step::DisableProtectionB, Step::CreateForward],
    }
}

/// A failback's phases from its start, in order ("phase 3 of 6").
pub fn failback_phases() -> &'static [Step] {
    &FAILBACK_FROM_START
}

/// Where `step` stands in the operation's Terraform route: (its number from 1, the count).
pub fn route_position(op: Operation, step: Step) -> Option<(usize, usize)> {
    let route = terraform_route(op);
    let n = route.iter().position(|s| *s == step)?;
    Some((n + 1, route.len()))
}

/// What the phase after `step` in the route needs from the operator before it is applied.
pub fn next_needs(op: Operation, step: Step) -> Option<&'static str> {
    let route = whole_route(op);
    let n = route.iter().position(|s| *s == step)?;
    let before_next = route[n + 1..]
        .iter()
        .take_while(|s| s.spec().terraform.is_none());
    before_next
        .into_iter()
        .any(|s| matches!(s.spec().confirm, Confirmation::StopWritesOnB(_)))
        .then_some("the application on B stopped")
}

fn plan(steps: &[Step], summary: impl Into<String>) -> Result<PairPlan, DrError> {
    Ok(PairPlan {
        steps: steps.to_vec(),
        summary: summary.into(),
    })
}

/// The phases `op` still needs for the pair in `view`.
pub fn plan_pair(op: Operation, view: &PairView) -> Result<PairPlan, DrError> {
    let mut plan = match op {
        Operation::Init => plan_init(view),
        Operation::Failover { unplanned } => plan_failover(view, unplanned),
        Operation::Failback => plan_failback(view),
    }?;
    with_hooks(op, view, &mut plan);
    Ok(plan)
}

/// The operator's hooks that have not succeeded yet, each a phase where it belongs:
/// stop_writes_on_a before a planned failover's RPO check, serve_from_b once B serves,
/// stop_writes_on_b before the failback's quiesce, serve_from_a once A is writable again
/// (before A -> B is created). A failover resumed after its cut-over does not stop A again;
/// an unplanned failover cannot reach A and says so.
fn with_hooks(op: Operation, view: &PairView, plan: &mut PairPlan) {
    use crate::hooks::HookPoint;
    let due = |h: HookPoint| view.hooks_due.contains(&h);
    let steps = &mut plan.steps;
    match op {
        Operation::Init => {}
        Operation::Failover { unplanned } => {
            if unplanned
                && (due(HookPoint::StopWritesOnA)
                    || view.hooks_done.contains(&HookPoint::StopWritesOnA))
            {
                plan.summary
                    .push_str("; the stop_writes_on_a hook is skipped (an unplanned failover does not reach A)");
            }
            if !unplanned && steps.first() == Some(&Step::CheckRpo) && due(HookPoint::StopWritesOnA)
            {
                steps.insert(0, Step::StopWritesOnA);
            }
            // B serves once the failover's phases are done (or already): not while a failback
            // has B -> A replicating.
            if due(HookPoint::ServeFromB) && view.reverse().is_none() {
                steps.push(Step::ServeFromB);
            }
        }
        Operation::Failback => {
            if let Some(i) = steps.iter().position(|s| *s == Step::Quiesce) {
                if due(HookPoint::StopWritesOnB) {
                    steps.insert(i, Step::StopWritesOnB);
                }
            }
            if due(HookPoint::ServeFromA) && view.forward().is_none() {
                if let Some(i) = steps.iter().position(|s| *s == Step::CreateForward) {
                    steps.insert(i, Step::ServeFromA);
                }
            }
        }
    }
}

fn plan_init(view: &PairView) -> Result<PairPlan, DrError> {
    for role in [Role::A, Role::B] {
        if let Some(p) = side_problem(view, role, Operation::Init) {
            return Err(p);
        }
    }
    if let Some(f) = foreign(view) {
        return Err(f);
    }
    if let Some(r) = view.forward() {
        if r.status == ReplicationStatus::Deleting {
            return Err(DrError::Refused(
                "A -> B is DELETING: a failover is running; run `efs-dr failover` to finish it"
                    .into(),
            ));
        }
        check_status(r, "A -> B")?;
        let synced = r.status == ReplicationStatus::Enabled && r.last_replicated.is_some();
        let mut steps = Vec::new();
        if view.state_forward != Some(true) {
            steps.push(Step::ImportForward);
        }
        // A first sync not seen yet (an init stopped before its gate): wait for it, never
        // skip it. B holds none of A's data until then.
        if !synced {
            steps.push(Step::CreateForward);
        }
        let summary = match (steps.first(), synced) {
            (None, _) => format!("A -> B is {} and in the Terraform state", r.status),
            (Some(Step::ImportForward), true) => {
                "A -> B exists: it is imported, not recreated".to_string()
            }
            (Some(Step::ImportForward), false) => format!(
                "A -> B exists ({}, first sync not completed): it is imported, then its first sync is awaited",
                r.status
            ),
            _ => format!(
                "A -> B is {} but its first sync has not completed: resuming at its gate",
                r.status
            ),
        };
        return plan(&steps, summary);
    }
    if let Some(r) = view.reverse() {
        if view.state_reverse == Some(true) {
            return plan(&[], format!("B -> A is {} and in the Terraform state (a failback is in progress: run failback)", r.status));
        }
        return plan(
            &[Step::ImportReverse],
            "B -> A exists (a failback is in progress): it is imported, not recreated",
        );
    }
    if view.stale_forward_in_a().is_some() {
        return Err(DrError::Refused(
            "A's region holds a stale A -> B configuration (an unplanned failover happened): B is serving; run `efs-dr failback` to bring the data home".into(),
        ));
    }
    if view.b.protection() == Some(Protection::Disabled) {
        return plan(
            &[Step::DisableProtectionB, Step::CreateForward],
            "no replication; B's protection is already DISABLED",
        );
    }
    plan(
        &[Step::DisableProtectionB, Step::CreateForward],
        "no replication: A -> B is created into the existing B",
    )
}

fn check_status(r: &crate::aws::ReplicationInfo, what: &str) -> Result<(), DrError> {
    if r.status.is_stalled() {
        return Err(DrError::Refused(format!(
            "{what} is {}{}: its destination may be behind. Find out why in the EFS console (the replication's status message); {}",
            r.status,
            r.status_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            if what.starts_with("A -> B") {
                "to fail over anyway, accepting the loss of what was not synced, pass --force"
            } else {
                "fix it before failing back; nothing was changed"
            }
        )));
    }
    Ok(())
}

fn plan_failover(view: &PairView, unplanned: bool) -> Result<PairPlan, DrError> {
    let op = Operation::Failover { unplanned };
    if let Some(p) = side_problem(view, Role::B, op) {
        return Err(p);
    }
    if !unplanned {
        if !view.a.reachable() {
            return Err(DrError::Refused(format!(
                "A's region {} does not answer, so a planned failover cannot check the last sync; during an outage of A run `efs-dr failover --unplanned`",
                view.a.region
            )));
        }
        if let Some(p) = side_problem(view, Role::A, op) {
            return Err(p);
        }
    }
    if let Some(f) = foreign(view) {
        return Err(f);
    }
    if let Some(r) = view.reverse() {
        return plan(
            &[],
            format!("already failed over: B -> A is {} (a failback is in progress); run `efs-dr failback` to finish it", r.status),
        );
    }
    match view.forward() {
        Some(r) if r.status == ReplicationStatus::Deleting => {
            if unplanned {
                plan(
                    &[Step::DeleteForwardFromB, Step::ForgetForward],
                    "A -> B is already DELETING: resuming at its gate",
                )
            } else {
                plan(
                    &[Step::RemoveForward],
                    "A -> B is already DELETING: resuming at its gate",
                )
            }
        }
        Some(r) => {
            if !matches!(
                r.status,
                ReplicationStatus::Enabled | ReplicationStatus::Enabling
            ) {
                // ERROR or PAUSED: the RPO gate refuses unless --force (it knows the flags).
                tracing::warn!(pair = %view.pair, status = %r.status, "A -> B is not ENABLED");
            }
            if unplanned {
                plan(
                    &[Step::DeleteForwardFromB, Step::ForgetForward],
                    format!("A -> B is {}", r.status),
                )
            } else {
                plan(
                    &[Step::CheckRpo, Step::RemoveForward],
                    format!("A -> B is {}", r.status),
                )
            }
        }
        None => {
            let mut steps = Vec::new();
            if unplanned && view.state_forward == Some(true) {
                steps.push(Step::ForgetForward);
            }
            if view.b.protection() == Some(Protection::Disabled) {
                steps.push(Step::EnableProtectionB);
            }
            if steps.is_empty() {
                plan(&[], "already failed over: no replication and B is writable")
            } else {
                plan(&steps, "no replication left: finishing the failover")
            }
        }
    }
}

fn plan_failback(view: &PairView) -> Result<PairPlan, DrError> {
    for role in [Role::B, Role::A] {
        if let Some(p) = side_problem(view, role, Operation::Failback) {
            return Err(match p {
                DrError::Failed(m) if role == Role::A => DrError::Failed(format!(
                    "{m}. Failback needs A's region; B keeps serving. Run failback again when A's region is back"
                )),
                other => other,
            });
        }
    }
    if let Some(f) = foreign(view) {
        return Err(f);
    }
    if let Some(r) = view.forward() {
        if r.status == ReplicationStatus::Deleting {
            // Only A's region has it, B answers: this failback's own cleanup of the stale
            // configuration is under way. Resume at its gate.
            if view.forward_in_b.is_none() && view.b.reachable() {
                let mut steps = vec![Step::CleanupStaleOnA];
                steps.extend(FAILBACK_FROM_START);
                return plan(
                    &steps,
                    "the stale A -> B configuration on A is being deleted: resuming at its gate",
                );
            }
            return Err(DrError::Refused(
                "A -> B is DELETING: a failover is still running; run `efs-dr failover` to finish it first".into(),
            ));
        }
        if r.status == ReplicationStatus::Enabled && r.last_replicated.is_some() {
            return plan(
                &[],
                "nothing to do: A -> B is ENABLED and synced (the pair is home)",
            );
        }
        check_status(r, "A -> B")?;
        return plan(
            &[Step::CreateForward],
            format!("A -> B is {}: resuming at its gate", r.status),
        );
    }
    if let Some(r) = view.reverse() {
        if r.status == ReplicationStatus::Deleting {
            // B was fenced before the removal; fence it now if a run stopped short of that.
            let steps: &[Step] = if view.b.protection() == Some(Protection::Disabled) {
                &[Step::RemoveReverse, Step::CreateForward]
            } else {
                &[
                    Step::DisableProtectionB,
                    Step::RemoveReverse,
                    Step::CreateForward,
                ]
            };
            return plan(steps, "B -> A is DELETING: resuming at its gate");
        }
        check_status(r, "B -> A")?;
        return plan(
            failback_from(Step::CreateReverse),
            format!("B -> A is {}: resuming at its gate", r.status),
        );
    }
    if view.stale_forward_in_a().is_some() {
        let mut steps = vec![Step::CleanupStaleOnA];
        steps.extend(FAILBACK_FROM_START);
        return plan(
            &steps,
            "A's region holds a stale A -> B configuration from an unplanned failover",
        );
    }
    match (view.a.protection(), view.b.protection()) {
        (Some(Protection::Enabled), Some(Protection::Disabled)) => plan(
            failback_from(Step::CreateForward),
            "B -> A is gone and B's protection is DISABLED: resuming at A -> B",
        ),
        (_, Some(Protection::Disabled)) => Err(DrError::Refused(
            "B's protection is DISABLED and nothing replicates: B is not serving. Check which side has the latest data before going on".into(),
        )),
        _ => plan(&FAILBACK_FROM_START, "B is serving: failing back to A"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::tests::*;
    use super::super::view::PairView;
    use super::*;

    fn view(s: crate::dr::view::Snapshot) -> PairView {
        PairView::derive(&pair(), &s)
    }

    #[test]
    fn planned_failover_from_the_home_state() {
        let f = repl(A, B, "ENABLED", Some(10));
        let v = view(snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20));
        let p = plan_pair(Operation::Failover { unplanned: false }, &v).unwrap();
        assert_eq!(p.steps, vec![Step::CheckRpo, Step::RemoveForward]);
    }

    #[test]
    fn planned_failover_refuses_when_a_is_down() {
        let f = repl(A, B, "ENABLED", Some(10));
        let v = view(down(
            snap("ENABLED", "REPLICATING", vec![], vec![f], 20),
            "us-east-1",
        ));
        let e = plan_pair(Operation::Failover { unplanned: false }, &v).unwrap_err();
        assert!(matches!(e, DrError::Refused(m) if m.contains("--unplanned")));
        let p = plan_pair(Operation::Failover { unplanned: true }, &v).unwrap();
        assert_eq!(p.steps, vec![Step::DeleteForwardFromB, Step::ForgetForward]);
    }

    #[test]
    fn failover_resumes_at_the_deletion_and_then_has_nothing_to_do() {
        let f = repl(A, B, "DELETING", Some(10));
        let v = view(snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20));
        let p = plan_pair(Operation::Failover { unplanned: false }, &v).unwrap();
        assert_eq!(p.steps, vec![Step::RemoveForward]);
        let v = view(snap("ENABLED", "ENABLED", vec![], vec![], 30));
        let p = plan_pair(Operation::Failover { unplanned: false }, &v).unwrap();
        assert!(p.steps.is_empty(), "{p:?}");
    }

    #[test]
    fn each_operation_has_its_terraform_route() {
        use Step::*;
        assert_eq!(
            terraform_route(Operation::Failover { unplanned: false }),
            [RemoveForward]
        );
        assert_eq!(
            terraform_route(Operation::Failback),
            [CreateReverse, RemoveReverse, CreateForward]
        );
        assert_eq!(
            route_position(Operation::Failback, RemoveReverse),
            Some((2, 3))
        );
        assert_eq!(
            next_needs(Operation::Failback, CreateReverse),
            Some("the application on B stopped")
        );
        assert_eq!(next_needs(Operation::Failback, CreateForward), None);
    }

    #[test]
    fn failback_runs_every_phase_after_an_unplanned_failover() {
        let stale = repl(A, B, "ERROR", Some(10));
        let v = view(snap("ENABLED", "ENABLED", vec![stale], vec![], 20));
        let p = plan_pair(Operation::Failback, &v).unwrap();
        assert_eq!(p.steps.first(), Some(&Step::CleanupStaleOnA));
        assert_eq!(p.steps.len(), 7);
    }

    #[test]
    fn failback_resumes_where_the_live_state_is() {
        // A DISABLED: phase 2 done.
        let v = view(snap("DISABLED", "ENABLED", vec![], vec![], 20));
        let p = plan_pair(Operation::Failback, &v).unwrap();
        assert_eq!(p.steps[0], Step::DisableProtectionA);
        // B -> A replicating: resume at its gate.
        let r = repl(B, A, "ENABLING", None);
        let v = view(snap("REPLICATING", "ENABLED", vec![r.clone()], vec![r], 20));
        let p = plan_pair(Operation::Failback, &v).unwrap();
        assert_eq!(p.steps[0], Step::CreateReverse);
        // B -> A deleting.
        let r = repl(B, A, "DELETING", Some(5));
        let v = view(snap(
            "REPLICATING",
            "DISABLED",
            vec![r.clone()],
            vec![r],
            20,
        ));
        let p = plan_pair(Operation::Failback, &v).unwrap();
        assert_eq!(p.steps[0], Step::RemoveReverse);
        // B fenced, nothing replicating: create A -> B.
        let v = view(snap("ENABLED", "DISABLED", vec![], vec![], 20));
        let p = plan_pair(Operation::Failback, &v).unwrap();
        assert_eq!(p.steps, vec![Step::CreateForward]);
        // Home and synced: nothing.
        let f = repl(A, B, "ENABLED", Some(10));
        let v = view(snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20));
        assert!(plan_pair(Operation::Failback, &v).unwrap().steps.is_empty());
    }

    #[test]
    fn an_init_stopped_before_the_first_sync_resumes_at_its_gate() {
        let mut v = view(snap(
            "ENABLED",
            "REPLICATING",
            vec![repl(A, B, "ENABLED", None)],
            vec![repl(A, B, "ENABLED", None)],
            20,
        ));
        v.state_forward = Some(true);
        let p = plan_pair(Operation::Init, &v).unwrap();
        assert_eq!(p.steps, vec![Step::CreateForward], "{}", p.summary);
        assert!(p.summary.contains("first sync"));
        // Not in the state either: imported, then the first sync is awaited.
        v.state_forward = Some(false);
        let p = plan_pair(Operation::Init, &v).unwrap();
        assert_eq!(p.steps, vec![Step::ImportForward, Step::CreateForward]);
        // Synced and in the state: nothing.
        let f = repl(A, B, "ENABLED", Some(10));
        let mut v = view(snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20));
        v.state_forward = Some(true);
        assert!(plan_pair(Operation::Init, &v).unwrap().steps.is_empty());
    }

    #[test]
    fn a_failback_stopped_after_its_stale_cleanup_resumes_at_the_cleanups_gate() {
        let deleting = repl(A, B, "DELETING", Some(10));
        let v = view(snap("ENABLED", "ENABLED", vec![deleting], vec![], 20));
        let p = plan_pair(Operation::Failback, &v).unwrap();
        assert_eq!(p.steps[0], Step::CleanupStaleOnA, "{}", p.summary);
        assert_eq!(p.steps.len(), 7);
        // Deleting on both sides: a failover is running, not the failback's cleanup.
        let d = repl(A, B, "DELETING", Some(10));
        let v = view(snap("ENABLED", "REPLICATING", vec![d.clone()], vec![d], 20));
        assert!(matches!(
            plan_pair(Operation::Failback, &v),
            Err(DrError::Refused(m)) if m.contains("failover is still running")
        ));
    }

    #[test]
    fn failback_with_a_down_is_an_error_that_says_b_keeps_serving() {
        let v = view(down(
            snap("ENABLED", "ENABLED", vec![], vec![], 20),
            "us-east-1",
        ));
        let e = plan_pair(Operation::Failback, &v).unwrap_err();
        assert!(matches!(e, DrError::Failed(m) if m.contains("B keeps serving")));
    }

    #[test]
    fn a_reverse_replication_in_error_blocks_failback() {
        let r = repl(B, A, "ERROR", Some(5));
        let v = view(snap("REPLICATING", "ENABLED", vec![r.clone()], vec![r], 20));
        assert!(matches!(
            plan_pair(Operation::Failback, &v),
            Err(DrError::Refused(m)) if m.contains("ERROR")
        ));
    }

    #[test]
    fn a_missing_file_system_is_an_error() {
        let mut s = snap("ENABLED", "ENABLED", vec![], vec![], 20);
        s.regions.get_mut("us-west-2").unwrap().file_systems.clear();
        let v = view(s);
        let e = plan_pair(Operation::Failover { unplanned: true }, &v).unwrap_err();
        assert!(matches!(e, DrError::Failed(m) if m.contains("does not exist")));
    }

    #[test]
    fn init_imports_an_existing_replication() {
        let f = repl(A, B, "ENABLED", Some(10));
        let mut v = view(snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20));
        v.state_forward = Some(false);
        assert_eq!(
            plan_pair(Operation::Init, &v).unwrap().steps,
            vec![Step::ImportForward]
        );
        v.state_forward = Some(true);
        assert!(plan_pair(Operation::Init, &v).unwrap().steps.is_empty());
        let v = view(snap("ENABLED", "ENABLED", vec![], vec![], 20));
        assert_eq!(
            plan_pair(Operation::Init, &v).unwrap().steps,
            vec![Step::DisableProtectionB, Step::CreateForward]
        );
    }
}

#[cfg(test)]
mod refusal_texts {
    use super::super::view::tests::*;
    use super::super::view::PairView;
    use super::*;

    /// The refusals and hints the planner gives, as operators read them.
    #[test]
    fn refusals_read_as_operators_see_them() {
        let v = |s| PairView::derive(&pair(), &s);
        let f = repl(A, B, "ENABLED", Some(10));
        let mut paused = repl(B, A, "PAUSED", Some(5));
        paused.status_message = Some("destination throttled".into());
        let mut foreign = repl(A, B, "ENABLED", None);
        foreign.destination_id = id("fs-99999999");
        let mut missing = snap("ENABLED", "ENABLED", vec![], vec![], 20);
        missing
            .regions
            .get_mut("us-west-2")
            .unwrap()
            .file_systems
            .clear();
        let cases: Vec<(&str, Operation, PairView)> = vec![
            (
                "planned failover, A down",
                Operation::Failover { unplanned: false },
                v(down(
                    snap("ENABLED", "REPLICATING", vec![], vec![f.clone()], 20),
                    "us-east-1",
                )),
            ),
            (
                "failback, A down",
                Operation::Failback,
                v(down(
                    snap("ENABLED", "ENABLED", vec![], vec![], 20),
                    "us-east-1",
                )),
            ),
            (
                "failback, B -> A paused",
                Operation::Failback,
                v(snap(
                    "REPLICATING",
                    "ENABLED",
                    vec![paused.clone()],
                    vec![paused],
                    20,
                )),
            ),
            (
                "failback while a failover deletes",
                Operation::Failback,
                v(snap(
                    "ENABLED",
                    "REPLICATING",
                    vec![repl(A, B, "DELETING", Some(1))],
                    vec![repl(A, B, "DELETING", Some(1))],
                    20,
                )),
            ),
            (
                "failback, B DISABLED and nothing replicating",
                Operation::Failback,
                v(snap("DISABLED", "DISABLED", vec![], vec![], 20)),
            ),
            (
                "init after an unplanned failover",
                Operation::Init,
                v(snap(
                    "ENABLED",
                    "ENABLED",
                    vec![repl(A, B, "ERROR", Some(1))],
                    vec![],
                    20,
                )),
            ),
            (
                "a foreign replication",
                Operation::Init,
                v(snap("ENABLED", "ENABLED", vec![foreign], vec![], 20)),
            ),
            (
                "a missing file system",
                Operation::Failover { unplanned: true },
                v(missing),
            ),
        ];
        let shown: Vec<String> = cases
            .into_iter()
            .map(|(what, op, view)| {
                let e = plan_pair(op, &view).unwrap_err();
                format!("## {what} (exit {})\n{}", e.exit_code(), e.message())
            })
            .collect();
        insta::assert_snapshot!(shown.join("\n\n"));
    }
}
