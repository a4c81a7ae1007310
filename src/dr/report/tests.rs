//! The report from recorded events (the JSON lines of real runs: `efs-dr demo --output json`).

use super::*;
use crate::dr::events::Event;

fn recorded(name: &str) -> Vec<Event> {
    let text = match name {
        "init" => include_str!("fixtures/init.jsonl"),
        "failover" => include_str!("fixtures/failover.jsonl"),
        "failback" => include_str!("fixtures/failback.jsonl"),
        _ => unreachable!(),
    };
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_failover_report_has_its_rto_data_at_risk_and_changes_from_the_events_alone() {
    let events = recorded("failover");
    let r = Report::from_events(&events);
    assert_eq!(r.operation, "failover");
    assert_eq!(r.outcome, "done");
    assert_eq!(r.exit_code, 0);
    let p = &r.pairs[0];
    assert_eq!(p.name, "demo");
    assert_eq!(
        p.phases.iter().map(|x| x.step).collect::<Vec<_>>(),
        [Step::CheckRpo, Step::RemoveForward]
    );
    assert!(p.phases.iter().all(|x| x.ended_s.is_some()));
    // RTO: from the run's first AWS time to the gate that made B writable.
    let start = events.iter().find_map(|e| e.aws_time).unwrap();
    let writable = events
        .iter()
        .find(|e| {
            e.step == Some(Step::RemoveForward) && matches!(e.kind, EventKind::GatePassed { .. })
        })
        .unwrap();
    let rto = p.rto.as_ref().expect("a failover has an RTO");
    assert_eq!(
        rto.aws_seconds,
        writable
            .aws_time
            .unwrap()
            .duration_since(start)
            .unwrap()
            .as_secs_f64()
    );
    assert_eq!(rto.wall_seconds, writable.elapsed_ms as f64 / 1000.0);
    assert_eq!(p.data_at_risk_seconds, Some(0.0));
    assert_eq!(r.terraform_changes.len(), 1);
    assert_eq!(r.terraform_changes[0].kind, "delete");
    assert!(r.sdk_changes.is_empty());
    // The timeline leaves the polls out, and keeps everything else in order.
    let polled = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::GatePolled { .. }))
        .count();
    assert_eq!(r.timeline.len(), events.len() - polled);
}

#[test]
fn a_failback_report_lists_its_sdk_changes_and_no_rto() {
    let r = Report::from_events(&recorded("failback"));
    assert_eq!(r.operation, "failback");
    let p = &r.pairs[0];
    assert!(p.rto.is_none());
    assert_eq!(p.phases.len(), 6);
    assert_eq!(
        r.sdk_changes
            .iter()
            .map(|c| c.text.split(' ').next().unwrap())
            .collect::<Vec<_>>(),
        ["UpdateFileSystemProtection", "UpdateFileSystemProtection"]
    );
    assert!(p.notes.iter().any(|n| n.starts_with("cut-over was safe")));
    assert_eq!(
        p.data_at_risk.as_deref(),
        Some("0s: writes on B stopped and were synced to A before the cut-over")
    );
}

#[test]
fn a_run_cut_short_reads_as_running_not_done() {
    let mut events = recorded("init");
    events.truncate(events.len() - 3);
    let r = Report::from_events(&events);
    assert_eq!(r.outcome, "running");
    assert!(r.pairs[0].phases.last().unwrap().ended_s.is_none());
}

#[test]
fn the_markdown_reports_read_as_operators_see_them() {
    for name in ["init", "failover", "failback"] {
        let md = Report::from_events(&recorded(name)).markdown().unwrap();
        insta::assert_snapshot!(format!("report_{name}"), md);
    }
}

#[test]
fn a_failback_report_has_its_write_outage() {
    let r = Report::from_events(&recorded("failback"));
    let outage = r.pairs[0].write_outage.as_ref().expect("a write outage");
    assert!(
        outage.aws_seconds > 0.0 && outage.wall_seconds > 0.0,
        "{outage:?}"
    );
    assert!(r.markdown().unwrap().contains("Write outage"));
}

#[test]
fn the_finished_events_figures_are_the_reports() {
    for name in ["init", "failover", "failback"] {
        let events = recorded(name);
        let figures = crate::dr::measure::figures(&events);
        assert_eq!(figures, Report::from_events(&events).figures(), "{name}");
        assert!(!figures.is_empty(), "{name}");
    }
    // The failback's write outage runs from the quiesce's start to the gate that made A
    // writable, as the table marks them.
    let events = recorded("failback");
    let f = &crate::dr::measure::figures(&events)[0];
    let start = events
        .iter()
        .find(|e| e.step == Some(Step::Quiesce) && matches!(e.kind, EventKind::PhaseStarted { .. }))
        .unwrap();
    let end = events
        .iter()
        .find(|e| {
            e.step == Some(Step::RemoveReverse) && matches!(e.kind, EventKind::GatePassed { .. })
        })
        .unwrap();
    assert_eq!(
        f.write_outage_aws_seconds,
        Some(
            end.aws_time
                .unwrap()
                .duration_since(start.aws_time.unwrap())
                .unwrap()
                .as_secs_f64()
        )
    );
}

/// Every combination of what a failback learns of A's writes, the operator's flag, a recovery
/// point and the cut-over: the report's data account never says two things at once.
#[test]
fn the_data_account_never_contradicts_itself() {
    use crate::dr::planner::Operation;
    use crate::dr::writes::AOnlyWrites;
    let at = |kind: EventKind, pair: Option<&str>| Event {
        at: std::time::SystemTime::UNIX_EPOCH,
        elapsed_ms: 0,
        aws_time: None,
        pair: pair.map(str::to_string),
        step: None,
        kind,
    };
    let assessments = [
        AOnlyWrites::None {
            last_sync: None,
            basis: "test".into(),
        },
        AOnlyWrites::Some {
            first: None,
            last: None,
            bytes: 42.0,
            last_sync: None,
            basis: "test".into(),
        },
        AOnlyWrites::Unknown {
            reason: "A's region does not answer".into(),
        },
    ];
    for assessment in &assessments {
        for discarded in [false, true] {
            for kept in [false, true] {
                for b_ok in [None, Some(true), Some(false)] {
                    let mut events = vec![
                        at(
                            EventKind::RunStarted {
                                operation: Operation::Failback,
                                pairs: vec!["app".into()],
                                dry_run: false,
                                operation_started: None,
                                audit: None,
                            },
                            None,
                        ),
                        at(
                            EventKind::PairPlanned {
                                a: "a".into(),
                                b: "b".into(),
                                found: "B serves".into(),
                                phases: vec![],
                            },
                            Some("app"),
                        ),
                        at(
                            EventKind::WritesOnA {
                                assessment: assessment.clone(),
                                discarded: discarded && !assessment.is_none(),
                            },
                            Some("app"),
                        ),
                    ];
                    if kept {
                        events.push(at(
                            EventKind::RecoveryPoint {
                                arn: "arn:aws:backup:us-east-1:123456789012:recovery-point:x"
                                    .into(),
                                job: "job-1".into(),
                                restore: "aws backup start-restore-job --region us-east-1 --recovery-point-arn arn:aws:backup:us-east-1:123456789012:recovery-point:x".into(),
                            },
                            Some("app"),
                        ));
                    }
                    if let Some(ok) = b_ok {
                        events.push(at(
                            EventKind::DataAtRisk {
                                text: "b".into(),
                                seconds: Some(if ok { 0.0 } else { 3.0 }),
                            },
                            Some("app"),
                        ));
                    }
                    let r = Report::from_events(&events);
                    let d = &r.pairs[0].data;
                    let said = d.basis.join(" | ");
                    let case = format!(
                        "{assessment:?} discarded={discarded} kept={kept} b_ok={b_ok:?}: {said}"
                    );
                    assert!(
                        !(said.contains("destroyed") && said.contains("kept")),
                        "{case}"
                    );
                    let a_ok = assessment.is_none() || kept;
                    let expected = a_ok && b_ok.unwrap_or(true);
                    assert_eq!(d.all_writes_accounted_for, Some(expected), "{case}");
                    let md = r.markdown().unwrap();
                    assert_eq!(
                        md.contains("All writes accounted for**: yes"),
                        expected,
                        "{case}"
                    );
                }
            }
        }
    }
}

/// The report's schema: every field an auditor files is there, by name.
#[test]
fn the_report_schema_is_pinned() {
    let mut events = recorded("failover");
    if let EventKind::RunStarted { audit, .. } = &mut events[0].kind {
        *audit = Some(crate::dr::events::Audit {
            efs_dr_version: "0.1.0".into(),
            terraform_version: "1.15.5".into(),
            provider_version: "6.2.0".into(),
            command_line: vec!["failover".into(), "--yes".into()],
            user: "ops".into(),
            host: "runner-1".into(),
            config_sha256: "0".repeat(64),
            root_commit: Some("1".repeat(40)),
            aws_caller: "arn:aws:iam::123456789012:user/ops (account 123456789012)".into(),
        });
    }
    let mut answered = events[1].clone();
    answered.kind = EventKind::Answered {
        question: "Pairs demo: remove A -> B through Terraform.".into(),
        by: "--yes".into(),
    };
    events.insert(2, answered);
    let mut forgot = events[2].clone();
    forgot.pair = Some("demo".into());
    forgot.kind = EventKind::StateChanged {
        command: "state rm".into(),
        address: "module.m.aws_efs_replication_configuration.forward[\"demo\"]".into(),
    };
    events.insert(3, forgot);
    let r = Report::from_events(&events);
    let json = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    insta::assert_snapshot!(keys.join("\n"));
    assert_eq!(json["schema_version"], REPORT_SCHEMA);
    for field in [
        "efs_dr_version",
        "terraform_version",
        "provider_version",
        "command_line",
        "user",
        "host",
        "config_sha256",
        "root_commit",
        "aws_caller",
    ] {
        assert!(!json["audit"][field].is_null(), "{field}");
    }
    assert_eq!(json["answers"][0]["by"], "--yes");
    assert!(json["terraform_changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["kind"] == "state rm"));
    assert!(json["pairs"][0]["rto"]["aws"]
        .as_str()
        .unwrap()
        .contains('m'));
    let md = r.markdown().unwrap();
    for line in [
        "| report schema | 1 |",
        "| Terraform | 1.15.5, hashicorp/aws 6.2.0 |",
        "| command | `efs-dr failover --yes` |",
        "| run by | ops on runner-1, as arn:aws:iam::123456789012:user/ops (account 123456789012) |",
        "**answered yes** by --yes",
    ] {
        assert!(md.contains(line), "{line} not in:\n{md}");
    }
}
