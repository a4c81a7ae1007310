//! The action lists of every phase, and of every point a run can resume at, from views alone:
//! no process, no network.

use std::time::Duration;

use super::super::view::tests::*;
use super::super::view::{PairView, Snapshot};
use super::*;
use crate::dr::error::Outcome;

pub(crate) fn settings() -> GateSettings {
    GateSettings {
        poll_interval: Duration::from_secs(5),
        replication_timeout: Duration::from_secs(1800),
        max_lag: Duration::from_secs(900),
        quiesce_window: Duration::from_secs(120),
    }
}

fn view(s: Snapshot, state_forward: bool, state_reverse: bool) -> PairView {
    let mut v = PairView::derive(&pair(), &s);
    v.state_forward = Some(state_forward);
    v.state_reverse = Some(state_reverse);
    v
}

/// The actions of `step` for the test pair in `v`.
fn acts(step: Step, v: &PairView, flags: RunFlags) -> Result<Vec<Action>, DrError> {
    let gates = settings();
    actions(
        &pair(),
        step,
        v,
        Inputs {
            gates: &gates,
            flags,
        },
    )
}

/// The actions of `step`, as short words (the kind of each action).
fn kinds(step: Step, v: &PairView, flags: RunFlags) -> Vec<&'static str> {
    acts(step, v, flags)
        .unwrap()
        .iter()
        .map(|a| match a {
            Action::Confirm { .. } => "confirm",
            Action::Sdk { .. } => "sdk",
            Action::SetDirection { .. } => "direction",
            Action::Import { .. } => "import",
            Action::StateRm { .. } => "state_rm",
            Action::PlanCheckApply { .. } => "plan_check_apply",
            Action::Hook { .. } => "hook",
            Action::Gate { .. } => "gate",
        })
        .collect()
}

fn home() -> PairView {
    let f = repl(A, B, "ENABLED", Some(10));
    view(
        snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20),
        true,
        false,
    )
}

fn b_serving() -> PairView {
    view(snap("ENABLED", "ENABLED", vec![], vec![], 20), false, false)
}

const FWD: &str = "module.us_east_1__us_west_2.aws_efs_replication_configuration.forward[\"app\"]";
const REV: &str = "module.us_east_1__us_west_2.aws_efs_replication_configuration.reverse[\"app\"]";

#[test]
fn every_phase_has_its_actions_in_the_one_order() {
    let none = RunFlags::default();
    let cases: Vec<(Step, PairView, Vec<&str>)> = vec![
        (
            Step::ImportForward,
            {
                let f = repl(A, B, "ENABLED", Some(10));
                view(
                    snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20),
                    false,
                    false,
                )
            },
            vec!["confirm", "direction", "import", "plan_check_apply", "gate"],
        ),
        (
            Step::ImportReverse,
            {
                let r = repl(B, A, "ENABLED", Some(10));
                view(
                    snap("REPLICATING", "ENABLED", vec![r.clone()], vec![r], 20),
                    false,
                    false,
                )
            },
            vec!["confirm", "direction", "import", "plan_check_apply", "gate"],
        ),
        (Step::CheckRpo, home(), vec!["gate"]),
        (
            Step::RemoveForward,
            home(),
            vec!["confirm", "direction", "plan_check_apply", "gate"],
        ),
        (
            Step::DeleteForwardFromB,
            home(),
            vec!["confirm", "sdk", "gate"],
        ),
        (
            Step::ForgetForward,
            home(),
            vec![
                "confirm",
                "direction",
                "state_rm",
                "plan_check_apply",
                "gate",
            ],
        ),
        (
            Step::EnableProtectionB,
            b_serving(),
            vec!["confirm", "sdk", "gate"],
        ),
        (
            Step::CleanupStaleOnA,
            b_serving(),
            vec!["confirm", "sdk", "gate"],
        ),
        (
            Step::DisableProtectionA,
            b_serving(),
            vec!["confirm", "sdk", "gate"],
        ),
        (
            Step::CreateReverse,
            b_serving(),
            vec!["confirm", "direction", "plan_check_apply", "gate"],
        ),
        (Step::Quiesce, b_serving(), vec!["confirm", "gate"]),
        (
            Step::RemoveReverse,
            b_serving(),
            vec!["confirm", "direction", "plan_check_apply", "gate"],
        ),
        (
            Step::DisableProtectionB,
            b_serving(),
            vec!["confirm", "sdk", "gate"],
        ),
        (
            Step::CreateForward,
            b_serving(),
            vec!["confirm", "direction", "plan_check_apply", "gate"],
        ),
        // A pair without hooks: the hook phases are their gates alone (never planned).
        (Step::StopWritesOnA, b_serving(), vec!["gate"]),
        (Step::ServeFromB, b_serving(), vec!["gate"]),
        (Step::StopWritesOnB, b_serving(), vec!["gate"]),
        (Step::ServeFromA, b_serving(), vec!["gate"]),
    ];
    // BackupA needs a pair with a backup block: its own test below.
    assert_eq!(
        cases.len() + 1,
        super::super::phase::PHASES.len(),
        "every phase has a case"
    );
    for (step, v, expected) in cases {
        assert_eq!(kinds(step, &v, none), expected, "{step:?}");
    }
}

#[test]
fn plan_check_apply_allows_exactly_the_phase_change() {
    let allowed = |step, v: &PairView| {
        acts(step, v, RunFlags::default())
            .unwrap()
            .into_iter()
            .find_map(|a| match a {
                Action::PlanCheckApply { allowed, refresh } => Some((allowed, refresh)),
                _ => None,
            })
            .unwrap()
    };
    let (a, refresh) = allowed(Step::RemoveForward, &home());
    assert_eq!(
        a,
        vec![AllowedChange {
            address: FWD.into(),
            kind: ChangeKind::Delete
        }]
    );
    assert!(refresh);
    let (a, _) = allowed(Step::CreateReverse, &b_serving());
    assert_eq!(
        a,
        vec![AllowedChange {
            address: REV.into(),
            kind: ChangeKind::Create
        }]
    );
    let (a, _) = allowed(Step::RemoveReverse, &b_serving());
    assert_eq!(
        a,
        vec![AllowedChange {
            address: REV.into(),
            kind: ChangeKind::Delete
        }]
    );
    let (a, _) = allowed(Step::CreateForward, &b_serving());
    assert_eq!(
        a,
        vec![AllowedChange {
            address: FWD.into(),
            kind: ChangeKind::Create
        }]
    );
    // Forgetting plans from the state alone and allows only the forget of A -> B itself (no
    // delete, no other pair's instance).
    let (a, refresh) = allowed(Step::ForgetForward, &home());
    assert_eq!(
        a,
        vec![AllowedChange {
            address: FWD.into(),
            kind: ChangeKind::Forget
        }]
    );
    assert!(!refresh);
    let (a, _) = allowed(Step::ImportForward, &home());
    assert!(a.is_empty());
}

#[test]
fn a_replication_in_aws_but_not_in_the_state_is_imported_never_created_twice() {
    // Resume point: killed between AWS's answer to the create and the state write.
    let r = repl(B, A, "ENABLING", None);
    let v = view(
        snap("REPLICATING", "ENABLED", vec![r.clone()], vec![r], 20),
        false,
        false,
    );
    assert_eq!(
        kinds(Step::CreateReverse, &v, RunFlags::default()),
        ["confirm", "direction", "import", "plan_check_apply", "gate"]
    );
    let gates = settings();
    let import = actions(
        &pair(),
        Step::CreateReverse,
        &v,
        Inputs {
            gates: &gates,
            flags: RunFlags::default(),
        },
    )
    .unwrap()
    .into_iter()
    .find(|a| matches!(a, Action::Import { .. }))
    .unwrap();
    assert_eq!(
        import,
        Action::Import {
            address: REV.into(),
            id: B.to_string()
        }
    );
    // In the state already: no import, the plan is empty and the gate is waited for.
    let v = view(
        snap(
            "REPLICATING",
            "ENABLED",
            vec![repl(B, A, "ENABLING", None)],
            vec![repl(B, A, "ENABLING", None)],
            20,
        ),
        false,
        true,
    );
    assert_eq!(
        kinds(Step::CreateReverse, &v, RunFlags::default()),
        ["confirm", "direction", "plan_check_apply", "gate"]
    );
}

#[test]
fn removing_what_the_state_does_not_hold_imports_it_first() {
    let f = repl(A, B, "ENABLED", Some(10));
    let v = view(
        snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20),
        false,
        false,
    );
    let gates = settings();
    let a = actions(
        &pair(),
        Step::RemoveForward,
        &v,
        Inputs {
            gates: &gates,
            flags: RunFlags::default(),
        },
    )
    .unwrap();
    assert!(
        a.iter()
            .any(|a| matches!(a, Action::Import { id, .. } if id == A)),
        "{a:?}"
    );
    assert_eq!(
        kinds(Step::RemoveForward, &v, RunFlags::default()),
        ["confirm", "direction", "import", "plan_check_apply", "gate"]
    );
}

#[test]
fn the_sdk_deletion_is_local_only_exactly_when_a_does_not_answer() {
    let gates = settings();
    let inputs = Inputs {
        gates: &gates,
        flags: RunFlags::default(),
    };
    let delete = |v: &PairView| {
        actions(&pair(), Step::DeleteForwardFromB, v, inputs)
            .unwrap()
            .into_iter()
            .find_map(|a| match a {
                Action::Sdk { change } => Some(change),
                _ => None,
            })
            .unwrap()
    };
    let f = repl(A, B, "ENABLED", Some(10));
    let a_down = view(
        down(
            snap("ENABLED", "REPLICATING", vec![], vec![f], 20),
            "us-east-1",
        ),
        true,
        false,
    );
    assert_eq!(
        delete(&a_down),
        SdkChange::DeleteReplication {
            region: crate::ids::Region::from_aws("us-west-2"),
            source_file_system_id: id(A),
            local_only: true,
        }
    );
    assert!(matches!(
        delete(&home()),
        SdkChange::DeleteReplication {
            local_only: false,
            ..
        }
    ));
    // The stale configuration on A is always deleted in A's region alone.
    let cleanup = acts(Step::CleanupStaleOnA, &b_serving(), RunFlags::default()).unwrap();
    assert!(cleanup.contains(&Action::Sdk {
        change: SdkChange::DeleteReplication {
            region: crate::ids::Region::from_aws("us-east-1"),
            source_file_system_id: id(A),
            local_only: true,
        }
    }));
}

#[test]
fn the_stop_writes_question_is_skipped_only_by_writes_stopped() {
    let asked = kinds(Step::Quiesce, &b_serving(), RunFlags::default());
    assert_eq!(asked, ["confirm", "gate"]);
    let stopped = RunFlags {
        writes_stopped: true,
        ..RunFlags::default()
    };
    assert_eq!(kinds(Step::Quiesce, &b_serving(), stopped), ["gate"]);
    let gates = settings();
    let q = actions(
        &pair(),
        Step::Quiesce,
        &b_serving(),
        Inputs {
            gates: &gates,
            flags: RunFlags::default(),
        },
    )
    .unwrap()
    .remove(0);
    assert!(matches!(q, Action::Confirm { question } if question.skip == Skip::WritesStopped));
    // A change is skipped by --yes, and its question carries the phase's note.
    let q = actions(
        &pair(),
        Step::DisableProtectionB,
        &b_serving(),
        Inputs {
            gates: &gates,
            flags: stopped,
        },
    )
    .unwrap()
    .remove(0);
    assert!(
        matches!(&q, Action::Confirm { question } if question.skip == Skip::Yes && question.text.contains("replaced by A's")),
        "{q:?}"
    );
}

/// Every point a failover, a failback or an init can stop at, and the phases and first
/// actions a new run decides from there.
/// Every point a run can resume at: (what it is, the operation, the pair's view, the phases
/// left). The runner, `propose` and `check-plan` are checked against the same table
/// (`pipeline::agreement_tests`).
pub(crate) fn resume_points() -> Vec<(&'static str, Operation, PairView, Vec<Step>)> {
    let failover = Operation::Failover { unplanned: false };
    let unplanned = Operation::Failover { unplanned: true };
    use Step::*;
    let deleting = repl(A, B, "DELETING", Some(10));
    let a_down = |s| view(down(s, "us-east-1"), true, false);
    let f = repl(A, B, "ENABLED", Some(10));
    let reverse_deleting = repl(B, A, "DELETING", Some(5));
    let reverse_enabling = repl(B, A, "ENABLING", None);
    let forward_enabling = repl(A, B, "ENABLING", None);
    vec![
        // Planned failover: from home; killed while A -> B deletes; done.
        (
            "failover from home",
            failover,
            home(),
            vec![CheckRpo, RemoveForward],
        ),
        (
            "failover killed while A -> B deletes",
            failover,
            view(
                snap(
                    "ENABLED",
                    "REPLICATING",
                    vec![deleting.clone()],
                    vec![deleting.clone()],
                    20,
                ),
                true,
                false,
            ),
            vec![RemoveForward],
        ),
        ("failover done", failover, b_serving(), vec![]),
        // Unplanned failover: from home; killed after the SDK delete (DELETING in B); after
        // the deletion but before the state rm.
        (
            "unplanned failover from home",
            unplanned,
            a_down(snap("ENABLED", "REPLICATING", vec![], vec![f.clone()], 20)),
            vec![DeleteForwardFromB, ForgetForward],
        ),
        (
            "unplanned failover killed after the SDK delete",
            unplanned,
            a_down(snap("ENABLED", "REPLICATING", vec![], vec![deleting], 20)),
            vec![DeleteForwardFromB, ForgetForward],
        ),
        (
            "unplanned failover before the state rm",
            unplanned,
            a_down(snap("ENABLED", "ENABLED", vec![], vec![], 20)),
            vec![ForgetForward],
        ),
        // Failback: B serving; A DISABLED; B -> A creating; B -> A deleting; B DISABLED.
        (
            "failback from B serving",
            Operation::Failback,
            b_serving(),
            vec![
                DisableProtectionA,
                CreateReverse,
                Quiesce,
                DisableProtectionB,
                RemoveReverse,
                CreateForward,
            ],
        ),
        (
            "failback with A fenced",
            Operation::Failback,
            view(
                snap("DISABLED", "ENABLED", vec![], vec![], 20),
                false,
                false,
            ),
            vec![
                DisableProtectionA,
                CreateReverse,
                Quiesce,
                DisableProtectionB,
                RemoveReverse,
                CreateForward,
            ],
        ),
        (
            "failback while B -> A is created",
            Operation::Failback,
            view(
                snap(
                    "REPLICATING",
                    "ENABLED",
                    vec![reverse_enabling.clone()],
                    vec![reverse_enabling],
                    20,
                ),
                false,
                true,
            ),
            vec![
                CreateReverse,
                Quiesce,
                DisableProtectionB,
                RemoveReverse,
                CreateForward,
            ],
        ),
        // B -> A deleting: B was fenced before it (and is fenced now if it was not).
        (
            "failback while B -> A deletes",
            Operation::Failback,
            view(
                snap(
                    "REPLICATING",
                    "DISABLED",
                    vec![reverse_deleting.clone()],
                    vec![reverse_deleting.clone()],
                    20,
                ),
                false,
                true,
            ),
            vec![RemoveReverse, CreateForward],
        ),
        (
            "failback while B -> A deletes, B not fenced",
            Operation::Failback,
            view(
                snap(
                    "REPLICATING",
                    "ENABLED",
                    vec![reverse_deleting.clone()],
                    vec![reverse_deleting],
                    20,
                ),
                false,
                true,
            ),
            vec![DisableProtectionB, RemoveReverse, CreateForward],
        ),
        // B -> A gone, B fenced: only A -> B is left.
        (
            "failback with B -> A gone and B fenced",
            Operation::Failback,
            view(
                snap("ENABLED", "DISABLED", vec![], vec![], 20),
                false,
                false,
            ),
            vec![CreateForward],
        ),
        // A -> B created but its first sync not seen yet: resume at its gate.
        (
            "failback before A -> B's first sync",
            Operation::Failback,
            view(
                snap(
                    "ENABLED",
                    "REPLICATING",
                    vec![forward_enabling.clone()],
                    vec![forward_enabling],
                    20,
                ),
                true,
                false,
            ),
            vec![CreateForward],
        ),
        // Init: a create into B; an import; nothing.
        (
            "init from nothing",
            Operation::Init,
            view(snap("ENABLED", "ENABLED", vec![], vec![], 20), false, false),
            vec![DisableProtectionB, CreateForward],
        ),
        (
            "init of a replication made by hand",
            Operation::Init,
            view(
                snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20),
                false,
                false,
            ),
            vec![ImportForward],
        ),
        ("init done", Operation::Init, home(), vec![]),
    ]
}

#[test]
fn every_resumption_point_decides_the_phases_left() {
    let gates = settings();
    let inputs = Inputs {
        gates: &gates,
        flags: RunFlags::default(),
    };
    let steps = |op, v: &PairView| {
        decide_pair(op, &pair(), v, inputs)
            .unwrap()
            .phases
            .iter()
            .map(|p| p.step)
            .collect::<Vec<_>>()
    };
    for (what, op, v, left) in resume_points() {
        assert_eq!(steps(op, &v), left, "{what}");
    }
    let unplanned = Operation::Failover { unplanned: true };
    use Step::*;
    // The ForgetForward left before the state rm: state rm, then a plan without refresh.
    let forgotten_not = view(
        down(snap("ENABLED", "ENABLED", vec![], vec![], 20), "us-east-1"),
        true,
        false,
    );
    let d = decide_pair(unplanned, &pair(), &forgotten_not, inputs).unwrap();
    assert!(d.phases[0].actions.contains(&Action::StateRm {
        address: FWD.into()
    }));
    // After an unplanned failover: the stale configuration on A goes first.
    let stale = repl(A, B, "ERROR", Some(10));
    let v = view(
        snap("ENABLED", "ENABLED", vec![stale], vec![], 20),
        false,
        false,
    );
    assert_eq!(steps(Operation::Failback, &v)[0], CleanupStaleOnA);
    // B fenced with the reverse gone: the failback's last phase creates A -> B.
    let v = view(
        snap("ENABLED", "DISABLED", vec![], vec![], 20),
        false,
        false,
    );
    let d = decide_pair(Operation::Failback, &pair(), &v, inputs).unwrap();
    assert_eq!(d.phases.len(), 1);
    assert_eq!(
        d.phases[0].actions[1],
        Action::SetDirection {
            direction: Direction::Forward
        }
    );
}

#[test]
fn a_deletion_under_way_is_not_asked_again_and_an_unplanned_failover_needs_a_first_sync() {
    let gates = settings();
    let inputs = Inputs {
        gates: &gates,
        flags: RunFlags::default(),
    };
    let deleting = repl(A, B, "DELETING", Some(10));
    let v = view(
        snap("ENABLED", "ENABLED", vec![deleting], vec![], 20),
        false,
        false,
    );
    let a = actions(&pair(), Step::CleanupStaleOnA, &v, inputs).unwrap();
    assert!(!a.iter().any(|a| matches!(a, Action::Sdk { .. })), "{a:?}");
    assert!(matches!(a.last(), Some(Action::Gate { .. })));

    let never = repl(A, B, "ENABLED", None);
    let v = view(
        down(
            snap("ENABLED", "REPLICATING", vec![], vec![never], 20),
            "us-east-1",
        ),
        true,
        false,
    );
    let unplanned = Operation::Failover { unplanned: true };
    let e = decide_pair(unplanned, &pair(), &v, inputs).unwrap_err();
    assert!(
        e.outcome() == Outcome::Refused
            && e.pair() == Some("app")
            && e.to_string().contains("B holds none of A's data")
            && e.to_string().contains("--force"),
        "{e:?}"
    );
    let forced = Inputs {
        gates: &gates,
        flags: RunFlags {
            force: true,
            ..RunFlags::default()
        },
    };
    assert!(decide_pair(unplanned, &pair(), &v, forced).is_ok());
}

fn with_backup() -> Pair {
    let mut p = pair();
    p.backup = Some(crate::config::BackupSettings {
        vault: "efs-dr".into(),
        role_arn: "arn:aws:iam::123456789012:role/efs-dr-backup".into(),
    });
    p
}

#[test]
fn a_failback_over_writes_only_a_has_keeps_a_recovery_point_or_refuses() {
    use crate::dr::writes::AOnlyWrites;
    let gates = settings();
    let inputs = |flags| Inputs {
        gates: &gates,
        flags,
    };
    let some = AOnlyWrites::Some {
        first: Some(t(100)),
        last: Some(t(160)),
        bytes: 42.0,
        last_sync: Some(t(50)),
        basis: "test".into(),
    };
    let mut v = b_serving();
    v.a_only_writes = Some(some.clone());
    // No backup block: refused, with the block to add and the flag that overrides.
    let e = decide_pair(
        Operation::Failback,
        &pair(),
        &v,
        inputs(RunFlags::default()),
    )
    .unwrap_err();
    assert!(
        e.outcome() == Outcome::Refused
            && e.to_string().contains("backup {")
            && e.to_string().contains("--discard-writes-on-a")
            && e.to_string().contains("42 bytes"),
        "{e:?}"
    );
    // --discard-writes-on-a: the failback goes on without a recovery point.
    let d = decide_pair(
        Operation::Failback,
        &pair(),
        &v,
        inputs(RunFlags {
            discard_writes_on_a: true,
            ..RunFlags::default()
        }),
    )
    .unwrap();
    assert!(!d.phases.iter().any(|p| p.step == Step::BackupA));
    // A backup block: a recovery point between fencing A and overwriting it.
    let d = decide_pair(
        Operation::Failback,
        &with_backup(),
        &v,
        inputs(RunFlags::default()),
    )
    .unwrap();
    let steps: Vec<Step> = d.phases.iter().map(|p| p.step).collect();
    let at = steps.iter().position(|s| *s == Step::BackupA).unwrap();
    assert_eq!(steps[at - 1], Step::DisableProtectionA);
    assert_eq!(steps[at + 1], Step::CreateReverse);
    let backup = &d.phases[at].actions;
    let token = match &backup[1] {
        Action::Sdk {
            change: SdkChange::StartBackup { token, vault, .. },
        } => {
            assert_eq!(vault, "efs-dr");
            token.clone()
        }
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        backup.last(),
        Some(Action::Gate { gate: crate::dr::phase::Gate::RecoveryPoint { after: Some(a) } }) if *a == t(160)
    ));
    // The same failback asks with the same token: AWS returns the job already started.
    let again = actions(
        &with_backup(),
        Step::BackupA,
        &v,
        inputs(RunFlags::default()),
    )
    .unwrap();
    assert!(again.iter().any(|a| matches!(a, Action::Sdk { change: SdkChange::StartBackup { token: t2, .. } } if *t2 == token)));
    // A's backup jobs unread: the job cannot be told from one that failed, so nothing is
    // asked of AWS Backup.
    let mut unread = v.clone();
    unread.a_backup_jobs_unread = Some("AccessDeniedException".into());
    let e = actions(
        &with_backup(),
        Step::BackupA,
        &unread,
        inputs(RunFlags::default()),
    )
    .unwrap_err();
    assert!(
        e.outcome() == Outcome::Error
            && e.to_string()
                .contains("could not be read (AccessDeniedException)")
            && e.to_string().contains("run the same command again"),
        "{e:?}"
    );
    // Nothing only on A: no recovery point, no refusal.
    v.a_only_writes = Some(AOnlyWrites::None {
        last_sync: Some(t(50)),
        basis: "test".into(),
    });
    let d = decide_pair(
        Operation::Failback,
        &pair(),
        &v,
        inputs(RunFlags::default()),
    )
    .unwrap();
    assert!(!d.phases.iter().any(|p| p.step == Step::BackupA));
    // Without a backup block, BackupA cannot be decided at all.
    assert!(actions(&pair(), Step::BackupA, &v, inputs(RunFlags::default())).is_err());
}

#[test]
fn a_hook_phase_runs_its_command_until_the_record_says_it_succeeded() {
    use crate::hooks::{HookPoint, HookSettings};
    let mut p = pair();
    p.hooks = Some(HookSettings {
        commands: [(HookPoint::ServeFromB, "./serve.sh".to_string())].into(),
        timeout: Duration::from_secs(60),
        max_parallel: crate::hooks::DEFAULT_MAX_PARALLEL,
    });
    let gates = settings();
    let inputs = Inputs {
        gates: &gates,
        flags: RunFlags::default(),
    };
    let mut v = b_serving();
    let a = actions(&p, Step::ServeFromB, &v, inputs).unwrap();
    assert_eq!(
        a[0],
        Action::Hook {
            hook: HookPoint::ServeFromB,
            command: "./serve.sh".into()
        }
    );
    assert!(matches!(
        &a[1],
        Action::Gate {
            gate: Gate::HookSucceeded {
                hook: HookPoint::ServeFromB
            }
        }
    ));
    v.hooks_done.insert(HookPoint::ServeFromB);
    let a = actions(&p, Step::ServeFromB, &v, inputs).unwrap();
    assert_eq!(a.len(), 1, "only its gate: {a:?}");
}

/// The lag alarm's changes go with its replication's, and nowhere else: created or updated
/// with the one a phase creates, deleted with the one it removes; an unplanned failover
/// forgets an alarm in the source's region (down) and deletes one in the destination's.
#[test]
fn a_phase_allows_exactly_the_alarm_changes_of_its_replication() {
    use crate::config::{AlarmSettings, MetricRegion};
    let with_alarms = |region: MetricRegion| {
        let mut p = pair();
        p.alarms = Some(AlarmSettings {
            sns_topic_arns: vec![
                "arn:aws:sns:us-east-1:123456789012:dr".into(),
                "arn:aws:sns:us-west-2:123456789012:dr".into(),
            ],
            metric_region: region,
        });
        p
    };
    let gates = settings();
    let inputs = Inputs {
        gates: &gates,
        flags: RunFlags::default(),
    };
    let alarm = |side: &str| {
        format!(
            "module.us_east_1__us_west_2.aws_cloudwatch_metric_alarm.sync_lag_at_{side}[\"app\"]"
        )
    };
    let allowed = |p: &Pair, step, v: &PairView| -> Vec<(String, ChangeKind)> {
        actions(p, step, v, inputs)
            .unwrap()
            .into_iter()
            .find_map(|a| match a {
                Action::PlanCheckApply { allowed, .. } => Some(allowed),
                _ => None,
            })
            .unwrap()
            .into_iter()
            .filter(|a| a.address.contains("metric_alarm"))
            .map(|a| (a.address, a.kind))
            .collect()
    };
    let dest = with_alarms(MetricRegion::Destination);
    assert_eq!(
        allowed(&dest, Step::RemoveForward, &home()),
        [(alarm("secondary"), ChangeKind::Delete)]
    );
    assert_eq!(
        allowed(&dest, Step::CreateReverse, &b_serving()),
        [
            (alarm("primary"), ChangeKind::Create),
            (alarm("primary"), ChangeKind::Update)
        ]
    );
    assert_eq!(
        allowed(&dest, Step::RemoveReverse, &b_serving()),
        [(alarm("primary"), ChangeKind::Delete)]
    );
    assert_eq!(
        allowed(&dest, Step::CreateForward, &b_serving()),
        [
            (alarm("secondary"), ChangeKind::Create),
            (alarm("secondary"), ChangeKind::Update)
        ]
    );
    // An unplanned failover: B's alarm is deleted (B answers); A's is forgotten.
    assert_eq!(
        allowed(&dest, Step::ForgetForward, &home()),
        [(alarm("secondary"), ChangeKind::Delete)]
    );
    // In the source's region it leaves the state: removed before the plan (a run), or
    // forgotten by it (a reviewed pull request), and nothing else.
    let source = with_alarms(MetricRegion::Source);
    assert_eq!(
        allowed(&source, Step::ForgetForward, &home()),
        [(alarm("primary"), ChangeKind::Forget)]
    );
    let forgets: Vec<String> = actions(&source, Step::ForgetForward, &home(), inputs)
        .unwrap()
        .into_iter()
        .filter_map(|a| match a {
            Action::StateRm { address } => Some(address),
            _ => None,
        })
        .collect();
    assert!(forgets.contains(&alarm("primary")), "{forgets:?}");
    // A pair without alarms allows no alarm change at all.
    assert!(allowed(&pair(), Step::RemoveForward, &home()).is_empty());
}
