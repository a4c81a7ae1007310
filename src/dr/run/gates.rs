//! A phase's gate: poll AWS (only the regions the gates need) with an adaptive interval until
//! every pair's gate passes, one refuses, or the timeout ends the run with exit 3.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use super::{RunError, Runner};
use crate::aws::{rfc3339, AwsTime};
use crate::config::Pair;
use crate::dr::events::EventKind;
use crate::dr::gate::fmt_dur;
use crate::dr::gate::{evaluate, Outcome};
use crate::dr::observe::{observe_regions, views};
use crate::dr::phase::{Gate, Phase, Step};
use crate::dr::planner::Operation;
use crate::dr::report::Rto;
use crate::dr::view::{PairView, Role};

impl Runner<'_> {
    pub(super) async fn gates(&mut self, step: Step, phases: &[Phase]) -> Result<(), RunError> {
        let gates = &self.ctx.config.gates;
        let base = gates.poll_interval;
        let timeout = gates.replication_timeout;
        let wall_start = Instant::now();
        let mut aws_start: Option<AwsTime> = None;
        let mut pending: Vec<&Phase> = phases.iter().collect();
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        let mut overdue_polls = 0u32;
        let watch: BTreeSet<(String, String)> = phases
            .iter()
            .filter_map(|p| {
                let pair = self.req.pairs.iter().find(|x| x.name == p.pair)?;
                match &p.gate {
                    Gate::Quiesced { .. } => Some((
                        pair.secondary.region.to_string(),
                        pair.secondary.file_system_id.to_string(),
                    )),
                    Gate::Rpo {
                        writes_stopped: true,
                        ..
                    } => Some((
                        pair.primary.region.to_string(),
                        pair.primary.file_system_id.to_string(),
                    )),
                    _ => None,
                }
            })
            .collect();
        let needs_state = phases
            .iter()
            .any(|p| matches!(p.gate, Gate::InState { .. }));
        let regions: BTreeSet<String> = phases
            .iter()
            .filter_map(|p| {
                let pair = self.req.pairs.iter().find(|x| x.name == p.pair)?;
                Some(
                    gate_roles(&p.gate)
                        .into_iter()
                        .map(|r| match r {
                            Role::A => pair.primary.region.to_string(),
                            Role::B => pair.secondary.region.to_string(),
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect();
        loop {
            let snapshot = observe_regions(&self.ctx.aws, Some(&regions), &watch).await;
            let now = snapshot.now();
            if aws_start.is_none() {
                aws_start = now;
            }
            let state = if needs_state {
                Some(self.state().await?)
            } else {
                None
            };
            let selected: Vec<Pair> = pending
                .iter()
                .filter_map(|p| self.req.pairs.iter().find(|x| x.name == p.pair).cloned())
                .collect();
            let views = views(&selected, &snapshot, state.as_ref());
            let aws_elapsed = match (aws_start, now) {
                (Some(s), Some(n)) => n.duration_since(s).unwrap_or_default(),
                _ => Duration::ZERO,
            };
            let expected = step.expected();
            let interval = next_interval(
                base,
                aws_elapsed,
                expected,
                wall_start.elapsed(),
                &mut overdue_polls,
            );
            let mut still = Vec::new();
            for phase in pending {
                let view = views.iter().find(|v| v.pair == phase.pair).expect("viewed");
                let outcome = evaluate(&phase.gate, view);
                self.events.emit(
                    Some(&phase.pair),
                    Some(step),
                    now,
                    EventKind::GatePolled {
                        outcome: outcome.clone(),
                        next_poll_ms: interval.as_millis() as u64,
                    },
                );
                match outcome {
                    Outcome::Passed(detail) => {
                        self.passed(phase, view, &detail, now, wall_start.elapsed());
                    }
                    Outcome::Refused(why) => {
                        return Err(RunError::Refused(format!(
                            "pair {}, phase \"{}\": {why}. Nothing more was changed",
                            phase.pair, phase.title
                        )));
                    }
                    Outcome::Waiting(w) => {
                        last.insert(phase.pair.clone(), w);
                        still.push(phase);
                    }
                }
            }
            pending = still;
            if pending.is_empty() {
                return Ok(());
            }
            if aws_elapsed >= timeout || wall_start.elapsed() >= timeout {
                let what = pending
                    .iter()
                    .map(|p| {
                        format!(
                            "pair {}: \"{}\" still not true: {}",
                            p.pair,
                            p.gate.describe(),
                            last.get(&p.pair).map(String::as_str).unwrap_or("unknown")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                let advice = if step == Step::Quiesce {
                    "nothing was cut over: B keeps serving and B -> A keeps replicating, so no data is lost. Stop the application on B, then run `efs-dr failback --writes-stopped` again"
                } else {
                    "nothing further was changed. Find out why (`efs-dr status`, the EFS console), then run the same command again: it continues from this phase"
                };
                return Err(RunError::GateTimeout(format!(
                    "gate of phase \"{}\" did not pass within {} (AWS time):\n{what}\n{advice}",
                    step.title(),
                    fmt_dur(timeout)
                )));
            }
            tokio::time::sleep(interval).await;
        }
    }

    fn passed(
        &mut self,
        phase: &Phase,
        view: &PairView,
        detail: &str,
        now: Option<SystemTime>,
        gate_elapsed: Duration,
    ) {
        self.events.emit(
            Some(&phase.pair),
            Some(phase.step),
            now,
            EventKind::GatePassed {
                detail: detail.to_string(),
                elapsed_ms: gate_elapsed.as_millis() as u64,
            },
        );
        let wall = self.events.elapsed();
        let aws_start = self.aws_start;
        let is_failover = matches!(self.req.op, Operation::Failover { .. });
        if phase.step == Step::CheckRpo {
            self.record_data_at_risk(view);
        }
        if phase.step == Step::Quiesce {
            if let Some(r) = self.report.pair_mut(&phase.pair) {
                r.notes.push(format!("cut-over was safe: {detail}"));
                r.data_at_risk =
                    Some("0s: writes on B stopped and were synced to A before the cut-over".into());
                r.data_at_risk_seconds = Some(0.0);
            }
        }
        if let Some(r) = self.report.pair_mut(&phase.pair) {
            if let Some(rec) = r.phases.iter_mut().rev().find(|x| x.step == phase.step) {
                rec.ended_s = Some(wall.as_secs_f64());
                rec.aws_ended = now.map(rfc3339);
                rec.gate_result = Some(detail.to_string());
            }
            let b_writable = matches!(
                phase.gate,
                Gate::NoReplication {
                    writable: Role::B,
                    ..
                }
            );
            if is_failover && b_writable && r.rto.is_none() {
                r.rto = Some(Rto {
                    aws_seconds: match (aws_start, now) {
                        (Some(s), Some(n)) => n.duration_since(s).unwrap_or_default().as_secs_f64(),
                        _ => 0.0,
                    },
                    wall_seconds: wall.as_secs_f64(),
                });
            }
        }
    }
}

/// The sides whose regions a gate reads: a gate on B alone does not wait for A's region.
fn gate_roles(gate: &Gate) -> Vec<Role> {
    match gate {
        Gate::InState { .. } => vec![],
        Gate::NoReplication { roles, writable } => {
            let mut r = roles.clone();
            if !r.contains(writable) {
                r.push(*writable);
            }
            r
        }
        Gate::Protection { role, .. } => vec![*role],
        Gate::Rpo { .. } | Gate::Replicating { .. } | Gate::Quiesced { .. } => {
            vec![Role::A, Role::B]
        }
    }
}

/// The next poll: fast near the expected completion, backing off before it and once it is
/// long overdue. `expected` and `aws_elapsed` are AWS time; the ratio of AWS to wall time so far
/// converts between them (a simulator runs faster than the wall clock).
pub fn next_interval(
    base: Duration,
    aws_elapsed: Duration,
    expected: Duration,
    wall_elapsed: Duration,
    overdue_polls: &mut u32,
) -> Duration {
    let max = base * 8;
    let rate = if wall_elapsed > Duration::from_millis(500) && aws_elapsed > Duration::ZERO {
        (aws_elapsed.as_secs_f64() / wall_elapsed.as_secs_f64()).max(0.01)
    } else {
        1.0
    };
    if aws_elapsed < expected {
        *overdue_polls = 0;
        let remaining_wall = (expected - aws_elapsed).as_secs_f64() / rate;
        Duration::from_secs_f64(remaining_wall / 2.0).clamp(base, max)
    } else {
        *overdue_polls += 1;
        let factor = 1.5f64.powi((*overdue_polls / 4).min(5) as i32);
        Duration::from_secs_f64(base.as_secs_f64() * factor).min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_back_off_far_from_the_expected_completion_and_speed_up_near_it() {
        let base = Duration::from_secs(5);
        let mut n = 0;
        let far = next_interval(
            base,
            Duration::ZERO,
            Duration::from_secs(480),
            Duration::ZERO,
            &mut n,
        );
        assert_eq!(far, base * 8);
        let near = next_interval(
            base,
            Duration::from_secs(470),
            Duration::from_secs(480),
            Duration::from_secs(470),
            &mut n,
        );
        assert_eq!(near, base);
        // At a simulator's 600x, 8 minutes of AWS time are 0.8 s of wall time.
        let fast = next_interval(
            Duration::from_millis(20),
            Duration::from_secs(60),
            Duration::from_secs(480),
            Duration::from_secs(1),
            &mut n,
        );
        assert!(fast < Duration::from_millis(161), "{fast:?}");
        // Long overdue: back off again, never past 8x.
        let mut over = 0;
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            last = next_interval(
                base,
                Duration::from_secs(900),
                Duration::from_secs(480),
                Duration::from_secs(900),
                &mut over,
            );
        }
        assert!(last > base && last <= base * 8, "{last:?}");
    }
}
