//! Whether a gate holds, judged from one observation. Pure: AWS timestamps are compared with
//! AWS's clock (the snapshot's `Date`), never with the local one.

use std::time::Duration;

use serde::Serialize;

use super::phase::{arrow, Gate};
use super::view::{PairView, Role};
use crate::aws::{Protection, ReplicationStatus};
use crate::render::Direction;

/// The verdict of one poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Verdict {
    Passed(String),
    /// Not yet: what is still not true.
    Waiting(String),
    /// Can never pass as things are (refused as unsafe).
    Refused(String),
}

/// A duration to the second, in words ("8m 12s").
pub(crate) fn fmt_dur(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

pub fn evaluate(gate: &Gate, view: &PairView) -> Verdict {
    match gate {
        Gate::RecoveryPoint { after } => recovery_point(view, *after),
        Gate::InState { direction } => {
            let held = match direction {
                Direction::Forward => view.state_forward,
                Direction::Reverse => view.state_reverse,
                Direction::None => Some(true),
            };
            match held {
                Some(true) | None => {
                    Verdict::Passed(format!("{} is in the state", arrow(*direction)))
                }
                Some(false) => {
                    Verdict::Waiting(format!("{} is not in the state yet", arrow(*direction)))
                }
            }
        }
        Gate::Rpo {
            max_lag,
            force,
            writes_stopped,
            writes_stopped_at,
        } => rpo(view, *max_lag, *force, *writes_stopped, *writes_stopped_at),
        Gate::NoReplication { roles, writable } => {
            for role in roles {
                let side = view.side(*role);
                if let Some(e) = &side.error {
                    return Verdict::Waiting(format!("{role}'s region does not answer: {e}"));
                }
                let seen = match role {
                    Role::A => view.forward_in_a.as_ref().or(view.reverse_in_a.as_ref()),
                    Role::B => view.forward_in_b.as_ref().or(view.reverse_in_b.as_ref()),
                };
                if let Some(r) = seen {
                    return Verdict::Waiting(format!(
                        "{role}'s region still reports {} -> {} ({})",
                        r.source_id, r.destination_id, r.status
                    ));
                }
            }
            let side = view.side(*writable);
            match side.protection() {
                Some(Protection::Enabled) => Verdict::Passed(format!(
                    "no replication; {writable} ({}) is writable",
                    side.file_system_id
                )),
                other => Verdict::Waiting(format!(
                    "{writable}'s protection is {}, not ENABLED",
                    other.map(Protection::as_str).unwrap_or("unknown")
                )),
            }
        }
        Gate::Protection { role, status } => {
            let side = view.side(*role);
            if let Some(e) = &side.error {
                return Verdict::Waiting(format!("{role}'s region does not answer: {e}"));
            }
            match side.protection() {
                Some(p) if p == *status => Verdict::Passed(format!("{role}'s protection is {p}")),
                other => Verdict::Waiting(format!(
                    "{role}'s protection is {}, not {status}",
                    other.map(Protection::as_str).unwrap_or("unknown")
                )),
            }
        }
        Gate::Replicating { direction } => {
            let r = match direction {
                Direction::Forward => view.forward(),
                Direction::Reverse => view.reverse(),
                Direction::None => None,
            };
            match r {
                None => Verdict::Waiting(format!("{} does not exist yet", arrow(*direction))),
                Some(r)
                    if matches!(r.status, ReplicationStatus::Error | ReplicationStatus::Paused) =>
                {
                    Verdict::Refused(format!(
                    "{} is {}{}; fix the replication (see its status message in the EFS console), then run the command again",
                    arrow(*direction),
                    r.status,
                    r.status_message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                    ))
                }
                Some(r) if r.status != ReplicationStatus::Enabled => {
                    Verdict::Waiting(format!("{} is {}", arrow(*direction), r.status))
                }
                Some(r) => match r.last_replicated {
                    None => Verdict::Waiting(format!(
                        "{} is ENABLED; its first sync has not completed",
                        arrow(*direction)
                    )),
                    Some(t) => Verdict::Passed(format!(
                        "{} ENABLED, last sync {}",
                        arrow(*direction),
                        crate::aws::rfc3339(t)
                    )),
                },
            }
        }
        Gate::Quiesced { window } => quiesced(view, *window),
        Gate::HookSucceeded { hook } => {
            if view.hooks_done.contains(hook) {
                Verdict::Passed(format!("the {hook} hook exited 0"))
            } else {
                Verdict::Refused(format!(
                    "the {hook} hook has not succeeded; run the same command again: it runs the hook"
                ))
            }
        }
    }
}

fn rpo(
    view: &PairView,
    max_lag: Duration,
    force: bool,
    writes_stopped: bool,
    writes_stopped_at: Option<crate::aws::AwsTime>,
) -> Verdict {
    let Some(r) = view.forward() else {
        return Verdict::Passed("A -> B is already gone".into());
    };
    if !force && r.status.is_stalled() {
        return Verdict::Refused(format!(
            "A -> B is {}{}: B may be behind A. To fail over anyway, accepting the loss of what was not synced, pass --force",
            r.status,
            r.status_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ));
    }
    let Some(now) = view.now else {
        return Verdict::Waiting("no answer from AWS yet".into());
    };
    let Some(last) = r.last_replicated else {
        return if force {
            Verdict::Passed("no sync has completed (--force)".into())
        } else {
            Verdict::Refused(
                "A -> B has never completed a sync: B does not hold A's data. Wait for the first sync, or pass --force".into(),
            )
        };
    };
    let lag = now.duration_since(last).unwrap_or_default();
    if lag > max_lag && !force {
        return Verdict::Refused(format!(
            "the last sync of A -> B was {} ago (AWS time), more than max_lag {}: failing over now would lose everything written since. Wait for a sync, or pass --force to accept the loss",
            fmt_dur(lag),
            fmt_dur(max_lag)
        ));
    }
    if writes_stopped {
        if let Some(e) = &view.a.error {
            return Verdict::Waiting(format!("A's region does not answer: {e}"));
        }
        match view.a.last_write.and_then(|w| w.at) {
            Some(w) if last <= w => {
                return Verdict::Waiting(format!(
                    "the last sync ({}) is not later than the last write on A ({})",
                    crate::aws::rfc3339(last),
                    crate::aws::rfc3339(w)
                ))
            }
            _ => {}
        }
        if let Some(stopped) = writes_stopped_at {
            if last <= stopped {
                return Verdict::Waiting(format!(
                    "the last sync ({}) started before writes stopped ({}); waiting for the next one",
                    crate::aws::rfc3339(last),
                    crate::aws::rfc3339(stopped)
                ));
            }
        }
    }
    Verdict::Passed(format!("last sync {} ago (AWS time)", fmt_dur(lag)))
}

fn quiesced(view: &PairView, window: Duration) -> Verdict {
    let Some(r) = view.reverse() else {
        return Verdict::Refused("B -> A does not exist: nothing carries B's writes to A".into());
    };
    if let Some(e) = &view.b.error {
        return Verdict::Waiting(format!("B's region does not answer: {e}"));
    }
    let Some(now) = view.now else {
        return Verdict::Waiting("no answer from AWS yet".into());
    };
    let Some(writes) = view.b.last_write else {
        return Verdict::Waiting("B's write metric has not been read yet".into());
    };
    // No write seen in the look-back: the last write is older than its start.
    let last_write = writes.at.unwrap_or(writes.since);
    let quiet_for = now.duration_since(last_write).unwrap_or_default();
    if writes.at.is_some() && quiet_for < window {
        return Verdict::Waiting(format!(
            "B was written {} ago (DataWriteIOBytes); waiting for {} without writes. Stop the application on B",
            fmt_dur(quiet_for),
            fmt_dur(window)
        ));
    }
    match r.last_replicated {
        Some(t) if t > last_write => Verdict::Passed(format!(
            "no write on B for {}; B -> A synced at {}, after the last write",
            fmt_dur(quiet_for),
            crate::aws::rfc3339(t)
        )),
        Some(t) => Verdict::Waiting(format!(
            "B -> A last synced at {}, not after B's last write ({})",
            crate::aws::rfc3339(t),
            crate::aws::rfc3339(last_write)
        )),
        None => Verdict::Waiting("B -> A has not completed a sync".into()),
    }
}

fn recovery_point(view: &PairView, after: Option<std::time::SystemTime>) -> Verdict {
    let job = view
        .a_backup_jobs
        .iter()
        .filter(|j| match (after, j.created) {
            (Some(a), Some(c)) => c >= a,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .max_by_key(|j| j.created);
    match job {
        None => match &view.a_backup_jobs_unread {
            Some(why) => Verdict::Waiting(format!("A's backup jobs could not be read: {why}")),
            None => Verdict::Waiting("no backup job of A has started yet".into()),
        },
        Some(j) if j.state == crate::aws::BackupJobState::Completed => Verdict::Passed(format!(
            "recovery point {} (backup job {}) holds A",
            j.recovery_point_arn.as_deref().unwrap_or("?"),
            j.id
        )),
        Some(j) if j.failed() => Verdict::Refused(format!(
            "backup job {} of A is {}{}: there is no recovery point, so A was not overwritten. Find out why in AWS Backup, then run the failback again (a new job is started)",
            j.id,
            j.state,
            j.status_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )),
        Some(j) => Verdict::Waiting(format!("backup job {} of A is {}", j.id, j.state)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::tests::*;
    use super::super::view::PairView;
    use super::*;
    use crate::aws::LastWrite;

    #[test]
    fn a_recovery_point_gate_whose_jobs_were_not_read_says_so_instead_of_no_job() {
        let mut v = PairView::derive(&pair(), &snap("DISABLED", "ENABLED", vec![], vec![], 20));
        assert!(matches!(
            recovery_point(&v, None),
            Verdict::Waiting(w) if w == "no backup job of A has started yet"
        ));
        v.a_backup_jobs_unread = Some("ThrottlingException".into());
        assert!(matches!(
            recovery_point(&v, None),
            Verdict::Waiting(w) if w.contains("could not be read: ThrottlingException")
        ));
    }

    /// The text of the gates' refusals, pinned.
    #[test]
    fn the_gate_refusals_read_as_operators_see_them() {
        let f = repl(A, B, "ENABLED", Some(0));
        let v = PairView::derive(
            &pair(),
            &snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 3600),
        );
        let rpo = Gate::Rpo {
            max_lag: Duration::from_secs(900),
            force: false,
            writes_stopped: false,
            writes_stopped_at: None,
        };
        let mut failed =
            PairView::derive(&pair(), &snap("DISABLED", "ENABLED", vec![], vec![], 20));
        failed.a_backup_jobs = vec![crate::aws::BackupJobInfo {
            id: "job-1".into(),
            state: crate::aws::BackupJobState::Failed,
            created: Some(t(10)),
            recovery_point_arn: None,
            vault: Some("efs-dr".into()),
            status_message: Some("the role cannot be assumed".into()),
        }];
        let shown: Vec<String> = [
            evaluate(&rpo, &v),
            evaluate(&Gate::RecoveryPoint { after: None }, &failed),
        ]
        .into_iter()
        .map(|verdict| match verdict {
            Verdict::Refused(m) => m,
            other => format!("not refused: {other:?}"),
        })
        .collect();
        insta::assert_snapshot!(shown.join("\n\n"));
    }

    #[test]
    fn rpo_refuses_an_old_sync_unless_forced() {
        let f = repl(A, B, "ENABLED", Some(0));
        let v = PairView::derive(
            &pair(),
            &snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 3600),
        );
        let gate = |force| Gate::Rpo {
            max_lag: Duration::from_secs(900),
            force,
            writes_stopped: false,
            writes_stopped_at: None,
        };
        assert!(matches!(evaluate(&gate(false), &v), Verdict::Refused(m) if m.contains("1h")));
        assert!(matches!(evaluate(&gate(true), &v), Verdict::Passed(_)));
    }

    #[test]
    fn rpo_with_writes_stopped_waits_for_a_sync_after_the_last_write() {
        let f = repl(A, B, "ENABLED", Some(100));
        let mut v = PairView::derive(
            &pair(),
            &snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 160),
        );
        let gate = Gate::Rpo {
            max_lag: Duration::from_secs(900),
            force: false,
            writes_stopped: true,
            writes_stopped_at: None,
        };
        v.a.last_write = Some(LastWrite {
            at: Some(t(120)),
            since: t(0),
        });
        assert!(matches!(evaluate(&gate, &v), Verdict::Waiting(_)));
        v.a.last_write = Some(LastWrite {
            at: Some(t(60)),
            since: t(0),
        });
        assert!(matches!(evaluate(&gate, &v), Verdict::Passed(_)));
        // CloudWatch may not show the last minute yet: the sync must also have started after
        // the moment the operator said writes stopped.
        let gate = Gate::Rpo {
            max_lag: Duration::from_secs(900),
            force: false,
            writes_stopped: true,
            writes_stopped_at: Some(t(150)),
        };
        assert!(
            matches!(evaluate(&gate, &v), Verdict::Waiting(m) if m.contains("before writes stopped"))
        );
        v.forward_in_b.as_mut().unwrap().last_replicated = Some(t(155));
        assert!(matches!(evaluate(&gate, &v), Verdict::Passed(_)));
    }

    #[test]
    fn no_replication_needs_both_regions_clear_and_b_writable() {
        let gate = Gate::NoReplication {
            roles: vec![Role::A, Role::B],
            writable: Role::B,
        };
        let f = repl(A, B, "DELETING", Some(0));
        let v = PairView::derive(
            &pair(),
            &snap("ENABLED", "REPLICATING", vec![f], vec![], 10),
        );
        assert!(matches!(evaluate(&gate, &v), Verdict::Waiting(m) if m.contains("A's region")));
        let v = PairView::derive(&pair(), &snap("ENABLED", "REPLICATING", vec![], vec![], 10));
        assert!(matches!(evaluate(&gate, &v), Verdict::Waiting(m) if m.contains("REPLICATING")));
        let v = PairView::derive(&pair(), &snap("ENABLED", "ENABLED", vec![], vec![], 10));
        assert!(matches!(evaluate(&gate, &v), Verdict::Passed(_)));
    }

    #[test]
    fn quiesce_waits_while_b_is_written_and_passes_after_a_later_sync() {
        let gate = Gate::Quiesced {
            window: Duration::from_secs(120),
        };
        let r = repl(B, A, "ENABLED", Some(500));
        let mut v = PairView::derive(
            &pair(),
            &snap("REPLICATING", "ENABLED", vec![r.clone()], vec![r], 560),
        );
        v.b.last_write = Some(LastWrite {
            at: Some(t(540)),
            since: t(0),
        });
        assert!(
            matches!(evaluate(&gate, &v), Verdict::Waiting(m) if m.contains("Stop the application"))
        );
        // Quiet for long enough, but the last sync started before the last write.
        v.b.last_write = Some(LastWrite {
            at: Some(t(420)),
            since: t(0),
        });
        v.reverse_in_a.as_mut().unwrap().last_replicated = Some(t(400));
        assert!(matches!(evaluate(&gate, &v), Verdict::Waiting(m) if m.contains("not after")));
        v.reverse_in_a.as_mut().unwrap().last_replicated = Some(t(500));
        assert!(matches!(evaluate(&gate, &v), Verdict::Passed(_)));
    }

    #[test]
    fn replicating_refuses_a_paused_replication() {
        let gate = Gate::Replicating {
            direction: Direction::Reverse,
        };
        let r = repl(B, A, "PAUSED", Some(1));
        let v = PairView::derive(
            &pair(),
            &snap("REPLICATING", "ENABLED", vec![r.clone()], vec![r], 10),
        );
        assert!(matches!(evaluate(&gate, &v), Verdict::Refused(m) if m.contains("PAUSED")));
    }
}

/// The usual time between two syncs: the median gap between the sync starts AWS showed (None
/// with fewer than two).
pub fn sync_cadence(starts: &[crate::aws::AwsTime]) -> Option<Duration> {
    let mut gaps: Vec<Duration> = starts
        .windows(2)
        .filter_map(|w| w[1].duration_since(w[0]).ok())
        .filter(|g| !g.is_zero())
        .collect();
    gaps.sort();
    gaps.get(gaps.len() / 2).copied()
}

/// When the RPO gate with writes stopped passes: once a sync that started after `stopped`
/// completes. Syncs start every `cadence` from `last` (the start of the last completed one)
/// and take about a cadence each, so the first that starts after `stopped` completes one
/// cadence after it starts.
pub fn rpo_pass_estimate(
    last: crate::aws::AwsTime,
    cadence: Duration,
    stopped: crate::aws::AwsTime,
) -> crate::aws::AwsTime {
    let behind = stopped.duration_since(last).unwrap_or_default();
    let k = (behind.as_secs_f64() / cadence.as_secs_f64()).floor() as u32 + 1;
    last + cadence * k + cadence
}

#[cfg(test)]
mod estimate_tests {
    use super::*;

    #[test]
    fn the_first_sync_after_writes_stopped_is_estimated_from_the_cadence() {
        let t = |m: u64| std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + m * 60);
        let hour = Duration::from_secs(3600);
        assert_eq!(sync_cadence(&[t(0), t(60), t(120), t(181)]), Some(hour));
        assert_eq!(sync_cadence(&[t(0)]), None);
        // Last completed sync started at 0, writes stopped at 70: the sync in progress started
        // at 60 (before); the next starts at 120 and completes at 180.
        assert_eq!(rpo_pass_estimate(t(0), hour, t(70)), t(180));
        assert_eq!(rpo_pass_estimate(t(0), hour, t(10)), t(120));
    }
}
