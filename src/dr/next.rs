//! The last lines of a command: what is true now and what to do next. After a failover, which
//! side serves and which must stop, the RTO and the data at risk, and the command that comes
//! back; after a run that stopped on the way, the exact command that continues it. Pure: from
//! the operation, its end, the pairs and the run's figures.

use super::error::{DrError, Outcome};
use super::events::Figures;
use super::planner::Operation;
use super::run::Ended;
use crate::config::Pair;
use crate::terraform::TfError;

/// What an operator does after a run of `op` that ended as `end`. `command` is the command
/// line as typed (after the program's name), when it is known; `changed` whether the run
/// changed anything (a run that failed before its first change says what to fix instead).
pub fn after(
    op: Operation,
    end: &Result<Ended, DrError>,
    pairs: &[Pair],
    figures: &[Figures],
    command: Option<&[String]>,
    changed: bool,
) -> Vec<String> {
    match end {
        Ok(Ended::DryRun { .. }) => vec![format!(
            "nothing was changed; to carry it out: `efs-dr {}`",
            op.args()
        )],
        Ok(Ended::Done(_) | Ended::NothingToDo(_)) => settled(op, pairs, figures),
        // Nothing changed and nothing was under way: the error says what to fix first (a gate
        // refused up front would be refused again).
        Err(e) if !changed && e.outcome() != Outcome::Interrupted => Vec::new(),
        Err(e) => continue_with(e, command)
            .map(|c| {
                vec![format!(
                    "to continue from where it stopped, run the same command again: `{c}`"
                )]
            })
            .unwrap_or_default(),
    }
}

/// Where the pairs are when the operation is done, and the next operation.
fn settled(op: Operation, pairs: &[Pair], figures: &[Figures]) -> Vec<String> {
    let mut out = Vec::new();
    for p in pairs {
        let (a, b) = (&p.primary, &p.secondary);
        let a = format!("A {} ({})", a.file_system_id, a.region);
        let b = format!("B {} ({})", b.file_system_id, b.region);
        let pair = &p.name;
        let figures = figures.iter().find(|f| &f.pair == pair);
        match op {
            Operation::Failover { unplanned } => {
                out.push(format!(
                    "pair {pair}: {b} is writable: start the application on B"
                ));
                out.push(if unplanned {
                    format!("pair {pair}: {a} may still be writable once its region answers: keep the application on A stopped (what it writes there is not replicated, and a failback overwrites it unless a recovery point keeps it)")
                } else {
                    format!("pair {pair}: {a} is still writable: stop the application on A (what it writes there is not replicated, and a failback overwrites it unless a recovery point keeps it)")
                });
                if let Some(f) = figures {
                    let rto = f
                        .rto_aws_seconds
                        .map(|s| format!("RTO {} (AWS time)", human(s)));
                    let risk = Some(match f.data_at_risk_seconds {
                        Some(s) if s > 0.0 => {
                            format!(
                                "data at risk: up to {} of writes on A after its last sync",
                                human(s)
                            )
                        }
                        Some(_) => {
                            "data at risk: none (A's last sync covers its last write)".into()
                        }
                        None => "data at risk: unknown (A's last sync could not be read)".into(),
                    });
                    let said: Vec<String> = [rto, risk].into_iter().flatten().collect();
                    out.push(format!("pair {pair}: {}", said.join("; ")));
                }
            }
            Operation::Failback => {
                out.push(format!(
                    "pair {pair}: {a} is writable and A -> B replicates: start the application on A; {b} is read-only"
                ));
                if let Some(s) = figures.and_then(|f| f.write_outage_aws_seconds) {
                    out.push(format!(
                        "pair {pair}: writes were stopped for {} (AWS time)",
                        human(s)
                    ));
                }
            }
            Operation::Init => out.push(format!(
                "pair {pair}: A -> B replicates: the application writes to {a}; {b} is read-only"
            )),
        }
    }
    out.push(match op {
        Operation::Failover { unplanned: true } => "when A's region is back: `efs-dr failback` (it removes A's stale replication first)".into(),
        Operation::Failover { unplanned: false } => "when A is to serve again: `efs-dr failback`".into(),
        Operation::Failback | Operation::Init => "`efs-dr status` shows the lag; in an outage of A's region: `efs-dr failover --unplanned`".into(),
    });
    out
}

/// The command that continues a run that stopped on the way (None: running it again would not
/// help until the operator acts, as the error says).
fn continue_with(e: &DrError, command: Option<&[String]>) -> Option<String> {
    if !resumable(e) {
        return None;
    }
    let line = match command {
        Some(args) => shlex::try_join(args.iter().map(String::as_str)).ok()?,
        None => return Some("the same command".into()),
    };
    Some(format!("efs-dr {line}"))
}

/// Whether the same command, run again, takes the operation on from the live state: it was
/// stopped (a signal, a timeout, a failure on the way), not refused.
fn resumable(e: &DrError) -> bool {
    match e {
        DrError::Pair { error, .. } => resumable(error),
        DrError::WithNext { .. } => false,
        DrError::Fleet(f) => f.stopped.iter().any(|(_, e)| resumable(e)),
        DrError::Terraform(t) => !matches!(
            **t,
            TfError::BinaryNotFound { .. }
                | TfError::TooOld { .. }
                | TfError::ProviderMissing { .. }
        ),
        DrError::Interrupted(..)
        | DrError::GateTimeout(_)
        | DrError::GateTimedOut(_)
        | DrError::StateBehind(_)
        | DrError::Aws(_)
        | DrError::Lease(_) => true,
        DrError::Failed(_) => true,
        DrError::Refused(_)
        | DrError::Pending(_)
        | DrError::Stage(_)
        | DrError::Propose(_)
        | DrError::Config(_)
        | DrError::Render(_) => false,
    }
}

fn human(seconds: f64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(
        seconds.max(0.0).round() as u64
    ))
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::view::tests::pair;

    fn figures(rto: Option<f64>, risk: Option<f64>, outage: Option<f64>) -> Vec<Figures> {
        vec![Figures {
            pair: "app".into(),
            rto_aws_seconds: rto,
            rto_wall_seconds: rto,
            write_outage_aws_seconds: outage,
            write_outage_wall_seconds: outage,
            data_at_risk_seconds: risk,
            all_writes_accounted_for: None,
        }]
    }

    /// The last lines of every command and outcome, as an operator reads them.
    #[test]
    fn every_command_ends_with_what_is_true_and_what_to_do_next() {
        let pairs = vec![pair()];
        let typed = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let done = |m: &str| Ok(Ended::Done(m.into()));
        let timed_out = DrError::GateTimeout("gate did not pass".into()).at("app", "create B -> A");
        let interrupted = DrError::Interrupted("interrupted by SIGINT".into(), 2);
        let refused = DrError::Refused("writes only A has".into()).for_pair("app");
        let unreachable = DrError::Failed("A's region does not answer".into());
        type Case = (
            &'static str,
            Operation,
            Result<Ended, DrError>,
            Vec<Figures>,
            Vec<String>,
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                "failover done",
                Operation::Failover { unplanned: false },
                done("failover done"),
                figures(Some(191.0), Some(42.0), None),
                typed(&["failover", "--yes"]),
                true,
            ),
            (
                "unplanned failover done, risk unknown",
                Operation::Failover { unplanned: true },
                done("unplanned failover done"),
                figures(Some(75.0), None, None),
                typed(&["failover", "--unplanned", "--yes"]),
                true,
            ),
            (
                "failover with nothing to do",
                Operation::Failover { unplanned: false },
                Ok(Ended::NothingToDo("nothing to do: failover".into())),
                Vec::new(),
                typed(&["failover"]),
                false,
            ),
            (
                "failback done",
                Operation::Failback,
                done("failback done"),
                figures(None, None, Some(1703.0)),
                typed(&["failback", "--yes", "--writes-stopped"]),
                true,
            ),
            (
                "init done",
                Operation::Init,
                done("init done"),
                Vec::new(),
                typed(&["init", "--yes"]),
                true,
            ),
            (
                "plan failover (a dry run)",
                Operation::Failover { unplanned: false },
                Ok(Ended::DryRun { phases: 2 }),
                Vec::new(),
                typed(&["plan", "failover"]),
                false,
            ),
            (
                "failback timed out at a gate",
                Operation::Failback,
                Err(timed_out),
                Vec::new(),
                typed(&["failback", "--yes", "--report-dir", "/tmp/my reports"]),
                true,
            ),
            (
                "failover interrupted before any change",
                Operation::Failover { unplanned: false },
                Err(interrupted),
                Vec::new(),
                typed(&["failover", "--yes"]),
                false,
            ),
            (
                "failback refused",
                Operation::Failback,
                Err(refused),
                Vec::new(),
                typed(&["failback"]),
                false,
            ),
            (
                "a gate refused up front, before any change",
                Operation::Failover { unplanned: false },
                Err(DrError::GateTimeout(
                    "AWS usually takes 8m, longer than replication_timeout 1m".into(),
                )),
                Vec::new(),
                typed(&["failover", "--yes"]),
                false,
            ),
            (
                "failover failed before any change",
                Operation::Failover { unplanned: false },
                Err(unreachable.clone()),
                Vec::new(),
                typed(&["failover"]),
                false,
            ),
            (
                "failback failed after a change",
                Operation::Failback,
                Err(unreachable),
                Vec::new(),
                typed(&["failback", "--yes"]),
                true,
            ),
        ];
        let shown: Vec<String> = cases
            .into_iter()
            .map(|(what, op, end, figures, command, changed)| {
                let lines = after(op, &end, &pairs, &figures, Some(&command), changed);
                let lines = if lines.is_empty() {
                    "(nothing: the error says what to do)".to_string()
                } else {
                    lines.join("\n")
                };
                format!("## {what}\n{lines}")
            })
            .collect();
        insta::assert_snapshot!(shown.join("\n\n"));
    }

    #[test]
    fn the_command_that_continues_is_the_one_typed_quoted_for_a_shell() {
        let e = DrError::GateTimeout("x".into());
        let command = vec![
            "failback".to_string(),
            "--report-dir".into(),
            "my reports".into(),
        ];
        let lines = after(
            Operation::Failback,
            &Err(e),
            &[pair()],
            &[],
            Some(&command),
            true,
        );
        assert_eq!(
            lines,
            ["to continue from where it stopped, run the same command again: `efs-dr failback --report-dir 'my reports'`"]
        );
    }
}
