//! The one question of a run: the whole route, as `terraform apply` shows its plan before it
//! asks.

use std::collections::BTreeMap;

use crate::config::Pair;
use crate::dr::decide::{Action, Skip};
use crate::dr::pending::StageStep;
use crate::dr::planner::Operation;
use crate::dr::position::PairPosition;

/// Every phase this run takes, per pair, with what it changes (the phase's own question: what
/// it overwrites, what A alone holds), what is made outside Terraform, and which phase will
/// ask again (writes stopped on B needs a fresh answer). None when no phase asks (a run that
/// only waits, or resumes past every change).
pub fn route_text(
    op: Operation,
    pairs: &[Pair],
    positions: &[PairPosition],
    queues: &BTreeMap<String, Vec<StageStep>>,
) -> Option<String> {
    let mut asks = false;
    let mut blocks = Vec::new();
    for (pair, position) in pairs.iter().zip(positions) {
        let (Ok(decision), Some(queue)) = (&position.decision, queues.get(&pair.name)) else {
            continue;
        };
        let mut lines = vec![format!(
            "pair {}: A {} ({}), B {} ({})",
            pair.name,
            pair.primary.file_system_id,
            pair.primary.region,
            pair.secondary.file_system_id,
            pair.secondary.region
        )];
        let phases = decision
            .phases
            .iter()
            .filter(|p| queue.iter().any(|s| s.step == p.step && !s.gate_only));
        for (n, phase) in phases.enumerate() {
            let mut text = phase.title.clone();
            for action in &phase.actions {
                match action {
                    Action::Confirm { question } if question.skip == Skip::Yes => {
                        asks = true;
                        text = question.text.clone();
                    }
                    Action::Confirm { question } => text.push_str(&format!(
                        "\n       asks then: {} ({} answers)",
                        question.text,
                        question.skip.flag()
                    )),
                    _ => {}
                }
            }
            if phase
                .actions
                .iter()
                .any(|a| matches!(a, Action::Sdk { .. }))
            {
                text.push_str(
                    "\n       made outside Terraform, through the AWS API (in the report)",
                );
            }
            lines.push(format!("  {}. {text}", n + 1));
        }
        if lines.len() > 1 {
            blocks.push(lines.join("\n"));
        }
    }
    asks.then(|| {
        format!(
            "efs-dr {} will take these phases, in this order (pairs side by side; each phase waits for its gate):\n{}",
            op.name(),
            blocks.join("\n")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::decide::tests::settings;
    use crate::dr::decide::Inputs;
    use crate::dr::phase::RunFlags;
    use crate::dr::position::decide;
    use crate::dr::view::tests::*;
    use crate::dr::view::PairView;

    fn view(s: crate::dr::view::Snapshot, forward: bool) -> PairView {
        let mut v = PairView::derive(&pair(), &s);
        v.state_forward = Some(forward);
        v.state_reverse = Some(false);
        v
    }

    /// The route as the operator reads it before the one question, and which operations ask.
    fn route(op: Operation, v: PairView, flags: RunFlags) -> Option<String> {
        let gates = settings();
        let pairs = vec![pair()];
        let positions = decide(
            op,
            &pairs,
            vec![v],
            Inputs {
                gates: &gates,
                flags,
            },
        );
        let queue = positions[0]
            .steps()
            .into_iter()
            .map(|step| StageStep {
                step,
                gate_only: false,
            })
            .collect();
        let queues = BTreeMap::from([(pairs[0].name.clone(), queue)]);
        route_text(op, &pairs, &positions, &queues)
    }

    #[test]
    fn the_route_is_one_block_with_every_phase_and_what_asks_again() {
        let f = repl(A, B, "ENABLED", Some(10));
        let home = || {
            view(
                snap(
                    "ENABLED",
                    "REPLICATING",
                    vec![f.clone()],
                    vec![f.clone()],
                    20,
                ),
                true,
            )
        };
        let b_serving = || view(snap("ENABLED", "ENABLED", vec![], vec![], 20), false);
        let cases = [
            (
                "planned failover",
                Operation::Failover { unplanned: false },
                home(),
                RunFlags::default(),
            ),
            (
                "unplanned failover, A down",
                Operation::Failover { unplanned: true },
                view(
                    down(
                        snap("ENABLED", "REPLICATING", vec![], vec![f.clone()], 20),
                        "us-east-1",
                    ),
                    true,
                ),
                RunFlags::default(),
            ),
            (
                "failback",
                Operation::Failback,
                b_serving(),
                RunFlags {
                    discard_writes_on_a: true,
                    ..RunFlags::default()
                },
            ),
            (
                "failback, writes already stopped",
                Operation::Failback,
                b_serving(),
                RunFlags {
                    discard_writes_on_a: true,
                    writes_stopped: true,
                    ..RunFlags::default()
                },
            ),
        ];
        let shown: Vec<String> = cases
            .into_iter()
            .map(|(what, op, v, flags)| {
                format!(
                    "## {what}\n{}",
                    route(op, v, flags).unwrap_or_else(|| "(no question)".into())
                )
            })
            .collect();
        insta::assert_snapshot!(shown.join("\n\n"));
        let failback = route(
            Operation::Failback,
            b_serving(),
            RunFlags {
                discard_writes_on_a: true,
                ..RunFlags::default()
            },
        )
        .unwrap();
        assert_eq!(failback.matches("asks then:").count(), 1, "{failback}");
        assert!(failback.contains("--writes-stopped answers"), "{failback}");
    }

    #[test]
    fn a_run_that_has_nothing_to_confirm_asks_nothing() {
        let v = view(snap("ENABLED", "ENABLED", vec![], vec![], 20), false);
        assert_eq!(
            route(
                Operation::Failover { unplanned: false },
                v,
                RunFlags::default()
            ),
            None
        );
    }
}
