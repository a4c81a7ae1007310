//! A step's gates: poll AWS (only the regions the gates need) with an adaptive interval until
//! every pair's gate passes, one refuses, or the timeout ends the run with exit 3.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use super::Runner;
use crate::aws::AwsTime;
use crate::config::Pair;
use crate::dr::error::DrError;
use crate::dr::error::GateTimedOut;
use crate::dr::events::EventKind;
use crate::dr::gate::{evaluate, Verdict};
use crate::dr::phase::{Gate, OnPass, OnTimeout, Step};
use crate::dr::position::{self, Look};
use crate::dr::view::{PairView, Role};
use crate::ids::FileSystemId;

fn side(pair: &Pair, role: Role) -> &crate::config::Side {
    match role {
        Role::A => &pair.primary,
        Role::B => &pair.secondary,
    }
}

impl Runner<'_> {
    /// Every pair's gate; the pairs whose gate refused or timed out come back with their
    /// reason, and the others are done.
    pub(super) async fn gates(
        &mut self,
        step: Step,
        gates: &[(String, Gate)],
    ) -> Result<Vec<(String, DrError)>, DrError> {
        let mut failures: Vec<(String, DrError)> = Vec::new();
        let settings = &self.ctx.config.gates;
        let base = settings.poll_interval;
        let timeout = settings.replication_timeout;
        let wall_start = Instant::now();
        let mut aws_start: Option<AwsTime> = None;
        let mut pending: Vec<&(String, Gate)> = gates.iter().collect();
        let mut last: std::collections::BTreeMap<String, String> = Default::default();
        let mut overdue_polls = 0u32;
        let watch: BTreeSet<(String, FileSystemId)> = gates
            .iter()
            .filter_map(|(name, gate)| {
                let s = side(self.pair(name), gate.watches_writes_on()?);
                Some((s.region.to_string(), s.file_system_id.clone()))
            })
            .collect();
        let needs_state = gates.iter().any(|(_, g)| matches!(g, Gate::InState { .. }));
        let needs_jobs = gates
            .iter()
            .any(|(_, g)| matches!(g, Gate::RecoveryPoint { .. }));
        let regions: BTreeSet<String> = gates
            .iter()
            .flat_map(|(name, gate)| {
                let pair = self.pair(name);
                gate.roles()
                    .into_iter()
                    .map(|r| side(pair, r).region.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        loop {
            let calls_before = self.ctx.aws.calls();
            let look = Look {
                only: Some(regions.clone()),
                probed: BTreeSet::new(),
                writes: watch.clone(),
            };
            let snapshot = position::observe(&self.ctx.aws, &look).await;
            let sdk_calls = self.ctx.aws.calls() - calls_before;
            let now = snapshot.now();
            if aws_start.is_none() {
                aws_start = now;
            }
            let state = if needs_state {
                Some(position::read_state(&self.ctx.tf).await?)
            } else {
                None
            };
            let selected: Vec<Pair> = pending
                .iter()
                .map(|(name, _)| self.pair(name).clone())
                .collect();
            let views = self.views(&selected, &snapshot, state, needs_jobs).await;
            self.say_lease_notices();
            let aws_elapsed = match (aws_start, now) {
                (Some(s), Some(n)) => n.duration_since(s).unwrap_or_default(),
                _ => Duration::ZERO,
            };
            let interval = next_interval(
                base,
                aws_elapsed,
                step.spec().expected,
                wall_start.elapsed(),
                self.ctx.aws.pace().or(self.out.aws_rate(now)),
                &mut overdue_polls,
            );
            let mut still = Vec::new();
            for entry in pending {
                let (name, gate) = entry;
                let view = views.iter().find(|v| &v.pair == name).expect("viewed");
                let verdict = evaluate(gate, view);
                self.out.emit(
                    Some(name),
                    Some(step),
                    now,
                    EventKind::GatePolled {
                        verdict: verdict.clone(),
                        next_poll_ms: interval.as_millis() as u64,
                        sdk_calls,
                    },
                );
                match verdict {
                    Verdict::Passed(detail) => {
                        self.passed(
                            name,
                            step,
                            view,
                            &detail,
                            now,
                            (wall_start.elapsed(), aws_elapsed),
                        );
                    }
                    Verdict::Refused(why) => {
                        failures.push((
                            name.clone(),
                            DrError::Refused(format!(
                                "{why}. Nothing more was changed for this pair"
                            ))
                            .at(name, step.title()),
                        ));
                    }
                    Verdict::Waiting(w) => {
                        last.insert(name.clone(), w);
                        still.push(entry);
                    }
                }
            }
            pending = still;
            if pending.is_empty() {
                return Ok(failures);
            }
            if aws_elapsed >= timeout || wall_start.elapsed() >= timeout {
                let advice = timeout_advice(&self.req.scope, step);
                for (name, gate) in &pending {
                    failures.push((
                        name.clone(),
                        DrError::GateTimedOut(Box::new(GateTimedOut {
                            pair: name.clone(),
                            step,
                            timeout,
                            gate: gate.describe(),
                            last: last.get(name).cloned(),
                            advice: advice.clone(),
                        })),
                    ));
                }
                return Ok(failures);
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                signal = self.ctx.tf.interrupt.fired() => {
                    return Err(super::interrupted(signal, step));
                }
            }
        }
    }

    fn passed(
        &mut self,
        name: &str,
        step: Step,
        view: &PairView,
        detail: &str,
        now: Option<SystemTime>,
        (wall, aws): (Duration, Duration),
    ) {
        self.out.emit(
            Some(name),
            Some(step),
            now,
            EventKind::GatePassed {
                detail: detail.to_string(),
                waited_ms: wall.as_millis() as u64,
                waited_aws_ms: Some(aws.as_millis() as u64),
            },
        );
        match step.spec().on_pass {
            OnPass::RecoveryPoint => {
                if let Some(j) = view
                    .a_backup_jobs
                    .iter()
                    .filter(|j| j.state == crate::aws::BackupJobState::Completed)
                    .max_by_key(|j| j.created)
                {
                    self.out.emit(
                        Some(name),
                        Some(step),
                        now,
                        EventKind::RecoveryPoint {
                            arn: j.recovery_point_arn.clone().unwrap_or_default(),
                            job: j.id.clone(),
                            restore: crate::aws::backup::restore_command(
                                self.pair(name),
                                view.a.file_system.as_ref(),
                                j.recovery_point_arn.as_deref().unwrap_or_default(),
                                &j.id,
                            ),
                        },
                    );
                }
            }
            OnPass::DataAtRisk => self.data_at_risk(view),
            OnPass::CutOverSafe => {
                self.out.emit(
                    Some(name),
                    Some(step),
                    now,
                    EventKind::Note {
                        text: format!("cut-over was safe: {detail}"),
                    },
                );
                self.out.emit(
                    Some(name),
                    Some(step),
                    now,
                    EventKind::DataAtRisk {
                        text: "0s: writes on B stopped and were synced to A before the cut-over"
                            .into(),
                        seconds: Some(0.0),
                    },
                );
            }
            OnPass::Nothing => {}
        }
    }
}

/// What to do after a gate timed out. Inside a pipeline stage, the advice is the stage to run
/// again: an interactive command would make the next phases without their review.
fn timeout_advice(scope: &super::Scope, step: Step) -> String {
    use super::Scope;
    let stage = match scope {
        Scope::Everything => None,
        Scope::BeforeApply { .. } => Some("efs-dr gate --before-apply --perform-sdk"),
        Scope::AfterApply { .. } => Some("efs-dr gate --after-apply --perform-sdk"),
    };
    match (stage, step.spec().on_timeout == OnTimeout::StopWritesFirst) {
        (None, true) => "nothing was cut over: B keeps serving and B -> A keeps replicating, so no data is lost. Stop the application on B, then run `efs-dr failback --writes-stopped` again".into(),
        (None, false) => "nothing further was changed. Find out why (`efs-dr status`, the EFS console), then run the same command again: it continues from this phase".into(),
        (Some(stage), true) => format!("nothing was cut over: B keeps serving and B -> A keeps replicating, so no data is lost. Stop the application on B, set EFS_DR_WRITES_STOPPED=true for this stage, then re-run this pipeline stage (`{stage}`); apply nothing before it passes"),
        (Some(stage), false) => format!("nothing further was changed. Find out why (`efs-dr status`, the EFS console), then re-run this pipeline stage (`{stage}`): it continues from this phase. Do not run `efs-dr failover` or `efs-dr failback` by hand: they would make the next phases without their review"),
    }
}

/// The next poll (wall time to sleep): fast near the expected completion, backing off before it
/// and once it is long overdue; never sleeping past the expected completion, so that one poll
/// lands on it (a fleet's B writable is seen then, not up to a `base` later). `base`, `expected` and `aws_elapsed` are AWS time: the ratio of
/// AWS to wall time (this gate's so far, else the run's `rate_hint`) converts them, so that a
/// simulator at 600x is polled every `base` of its time, not every `base` of ours.
pub fn next_interval(
    base: Duration,
    aws_elapsed: Duration,
    expected: Duration,
    wall_elapsed: Duration,
    rate_hint: Option<f64>,
    overdue_polls: &mut u32,
) -> Duration {
    let own = (wall_elapsed > Duration::from_millis(500) && aws_elapsed > Duration::ZERO)
        .then(|| (aws_elapsed.as_secs_f64() / wall_elapsed.as_secs_f64()).max(0.01));
    let rate = own.or(rate_hint);
    let mut base = Duration::from_secs_f64((base.as_secs_f64() / rate.unwrap_or(1.0)).max(0.005));
    if rate.is_none() {
        // How fast AWS's clock runs is not known yet: look again within a second.
        base = base.min(Duration::from_secs(1));
    }
    let Some(rate) = rate else {
        return base;
    };
    let max = base * 8;
    if aws_elapsed < expected {
        *overdue_polls = 0;
        let remaining_wall = (expected - aws_elapsed).as_secs_f64() / rate;
        // AWS's clock comes in whole seconds (the `Date` header): aim a second past.
        let landing = Duration::from_secs_f64(remaining_wall + 1.0 / rate);
        if remaining_wall <= 2.0 * base.as_secs_f64() {
            // Within two polls of it: the next one is the one that lands on it.
            return landing;
        }
        Duration::from_secs_f64(remaining_wall / 2.0)
            .clamp(base, max)
            .min(landing)
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
    fn inside_a_stage_the_advice_after_a_timeout_is_the_stage_not_an_interactive_command() {
        use super::super::Scope;
        let stage = Scope::AfterApply {
            perform_sdk: true,
            proposed: None,
        };
        let advice = timeout_advice(&stage, Step::CreateReverse);
        assert!(
            advice
                .contains("re-run this pipeline stage (`efs-dr gate --after-apply --perform-sdk`)"),
            "{advice}"
        );
        assert!(!advice.contains("run the same command again"), "{advice}");
        let quiesce = timeout_advice(
            &Scope::BeforeApply {
                perform_sdk: true,
                proposed: None,
            },
            Step::Quiesce,
        );
        assert!(quiesce.contains("EFS_DR_WRITES_STOPPED=true"), "{quiesce}");
        assert!(
            !quiesce.contains("efs-dr failback --writes-stopped"),
            "{quiesce}"
        );
        let cli = timeout_advice(&Scope::Everything, Step::Quiesce);
        assert!(cli.contains("`efs-dr failback --writes-stopped`"), "{cli}");
    }

    #[test]
    fn polls_back_off_far_from_the_expected_completion_and_speed_up_near_it() {
        let base = Duration::from_secs(5);
        let mut n = 0;
        // Real AWS: its clock runs at the wall clock's pace.
        let far = next_interval(
            base,
            Duration::ZERO,
            Duration::from_secs(480),
            Duration::ZERO,
            Some(1.0),
            &mut n,
        );
        assert_eq!(far, base * 8);
        // The pace not known yet: look again within seconds, not 40 s.
        let unknown = next_interval(
            base,
            Duration::ZERO,
            Duration::from_secs(480),
            Duration::ZERO,
            None,
            &mut n,
        );
        assert!(unknown <= Duration::from_secs(8), "{unknown:?}");
        let near = next_interval(
            base,
            Duration::from_secs(465),
            Duration::from_secs(480),
            Duration::from_secs(465),
            None,
            &mut n,
        );
        assert_eq!(near, Duration::from_millis(7500), "half of what is left");
        // Within two polls: the next lands a second (the `Date` header's grain) past it.
        let two = next_interval(
            base,
            Duration::from_secs(470),
            Duration::from_secs(480),
            Duration::from_secs(470),
            None,
            &mut n,
        );
        assert_eq!(two, Duration::from_secs(11));
        // Closer than a base: the next poll lands on the expected completion itself.
        let landing = next_interval(
            base,
            Duration::from_secs(478),
            Duration::from_secs(480),
            Duration::from_secs(478),
            Some(1.0),
            &mut n,
        );
        assert_eq!(landing, Duration::from_secs(3));
        // Long overdue: back off again, never past 8x.
        let mut over = 0;
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            last = next_interval(
                base,
                Duration::from_secs(900),
                Duration::from_secs(480),
                Duration::from_secs(900),
                None,
                &mut over,
            );
        }
        assert!(last > base && last <= base * 8, "{last:?}");
    }

    /// poll_interval is AWS time: at a simulator's 600x, "5s" is polled every 8 ms of wall
    /// time, from the first poll of a gate on (the run's rate) to its end (the gate's own).
    #[test]
    fn polling_follows_aws_time() {
        let base = Duration::from_secs(5);
        let mut n = 0;
        // First poll of a gate: only the run's rate is known.
        let first = next_interval(
            base,
            Duration::ZERO,
            Duration::from_secs(480),
            Duration::ZERO,
            Some(600.0),
            &mut n,
        );
        assert!(first <= Duration::from_millis(67), "{first:?}");
        // Later: the gate's own rate (8 minutes of AWS time in 0.8 s).
        let later = next_interval(
            base,
            Duration::from_secs(470),
            Duration::from_secs(480),
            Duration::from_millis(783),
            None,
            &mut n,
        );
        assert!(later <= Duration::from_millis(10), "{later:?}");
        // Overdue at 600x: still milliseconds, not seconds.
        let mut over = 0;
        for _ in 0..40 {
            let late = next_interval(
                base,
                Duration::from_secs(1200),
                Duration::from_secs(480),
                Duration::from_secs(2),
                None,
                &mut over,
            );
            assert!(late <= Duration::from_millis(67), "{late:?}");
        }
    }
}
