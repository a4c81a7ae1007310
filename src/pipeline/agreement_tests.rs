//! The three commands that decide, `run` (and so `gate`), `propose` and `check-plan`, agree on
//! the same recorded position: the same pending Terraform phase, the same steps around it, and
//! the same actions, for every point a run can resume at.

use crate::config::Pair;
use crate::dr::decide::tests::{resume_points, settings};
use crate::dr::decide::{Action, Inputs};
use crate::dr::pending::{pending, stage, Scope, Stage};
use crate::dr::phase::{RunFlags, Step};
use crate::dr::position::{self, PairPosition};
use crate::dr::round::TerraformRound;
use crate::dr::view::tests::pair;

use super::check::{check_pair, PairCheck};
use super::propose::{propose_pair, PairOutcome};

/// What the runner does with a position in a whole run: its queue, each step with the actions
/// its round carries out; and the first Terraform phase it has not applied.
fn run_decides(
    pair: &Pair,
    p: &PairPosition,
    inputs: Inputs<'_>,
) -> (Vec<(Step, Vec<Action>)>, Option<Step>) {
    let steps = p.steps();
    let queue = stage(&Scope::Everything, pair, &steps, &p.view, inputs).unwrap();
    let phases = &p.decision.as_ref().unwrap().phases;
    let carried: Vec<(Step, Vec<Action>)> = queue
        .iter()
        .map(|s| {
            let phase = phases.iter().find(|x| x.step == s.step).unwrap();
            (s.step, phase.actions.clone())
        })
        .collect();
    (carried, pending(&steps, &p.view).apply)
}

fn round(actions: &[Action]) -> TerraformRound {
    TerraformRound::from_actions([("app", actions)])
}

#[test]
fn run_propose_and_check_plan_agree_at_every_resume_point() {
    let gates = settings();
    let inputs = Inputs {
        gates: &gates,
        flags: RunFlags::default(),
    };
    // check-plan judges a plan, not the RPO: it decides with --force.
    let check_inputs = Inputs {
        gates: &gates,
        flags: RunFlags {
            force: true,
            ..RunFlags::default()
        },
    };
    let pair = pair();
    for (what, op, view, left) in resume_points() {
        let p =
            position::decide(op, std::slice::from_ref(&pair), vec![view.clone()], inputs).remove(0);
        let c =
            position::decide(op, std::slice::from_ref(&pair), vec![view], check_inputs).remove(0);
        let (run, run_next) = run_decides(&pair, &p, inputs);
        assert_eq!(
            run.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            left,
            "{what}: the run's queue"
        );
        match propose_pair(op, &pair, &p, inputs).unwrap() {
            PairOutcome::Unchanged(_) => {
                assert_eq!(
                    run_next, None,
                    "{what}: propose has nothing, the run has a phase"
                );
                let settled = crate::dr::pending::settled_direction(&c.view);
                let checked =
                    check_pair(&pair, &c, Some(settled.as_str()), None, check_inputs).unwrap();
                assert_eq!(checked, PairCheck::Untouched, "{what}: check-plan");
            }
            PairOutcome::Proposed(proposed) => {
                assert_eq!(Some(proposed.step), run_next, "{what}: the pending phase");
                // Every step of the pull request's route carries the actions the run would
                // carry out at that step, in the same order as the run takes them.
                let route = &proposed.entry.route;
                for s in route {
                    let (_, actions) = run
                        .iter()
                        .find(|(step, _)| *step == s.step)
                        .unwrap_or_else(|| panic!("{what}: {:?} is not in the run", s.step));
                    assert_eq!(&s.actions, actions, "{what}: {:?}", s.step);
                }
                let order: Vec<Step> = route.iter().map(|s| s.step).collect();
                let run_order: Vec<Step> = run
                    .iter()
                    .map(|(s, _)| *s)
                    .filter(|s| order.contains(s))
                    .collect();
                assert_eq!(order, run_order, "{what}: the order");
                let apply = route.iter().find(|s| s.stage == Stage::Apply).unwrap();
                // check-plan, given the plan of this proposal, finds the same phase and lets
                // it change exactly what the run's round would.
                let checked = check_pair(
                    &pair,
                    &c,
                    Some(proposed.entry.direction_after.as_str()),
                    Some(proposed.step),
                    check_inputs,
                )
                .unwrap();
                let PairCheck::Moves { step, actions } = checked else {
                    panic!("{what}: check-plan says {checked:?}");
                };
                assert_eq!(step, proposed.step, "{what}: check-plan's phase");
                assert_eq!(round(&actions), round(&apply.actions), "{what}: the round");
            }
        }
    }
}
