//! Least privilege, proven: the simulator enforces the policy `efs-dr iam-policy` prints (IAM's
//! rules, AccessDeniedException in each protocol) on efs-dr, Terraform and the provider alike.
//! A whole runbook (init, failover, failback with a backup of A's own writes, an unplanned
//! failover with A down, its failback; lag alarms throughout) passes with it; with any one statement removed, the
//! runbook stops with a message naming the missing action, and once the statement is back the
//! same command finishes with nothing lost.

use serde_json::Value;

use crate::dr::{drill, Drill, A_REGION};
use crate::writes_on_a::{vault, with_backup};

/// One step of the runbook.
#[derive(Clone, Copy)]
enum Step {
    EfsDr(&'static [&'static str]),
    WriteOnB(&'static str),
    /// A write only A has: the failback must back A up before overwriting it.
    WriteOnA,
    ADown,
    AUp,
}

const RUNBOOK: &[Step] = &[
    Step::EfsDr(&["init", "--yes"]),
    Step::EfsDr(&["failover", "--yes"]),
    Step::WriteOnB("planned"),
    Step::WriteOnA,
    Step::EfsDr(&["failback", "--yes", "--writes-stopped"]),
    Step::ADown,
    Step::EfsDr(&["failover", "--unplanned", "--yes"]),
    Step::AUp,
    Step::WriteOnB("unplanned"),
    Step::EfsDr(&["failback", "--yes", "--writes-stopped"]),
];

/// A drill with a backup block and its vault (made before any policy applies), and lag alarms.
async fn drill_with_backup() -> Drill {
    let d = drill(&["app"]).await;
    with_backup(&d);
    vault(&d).await;
    crate::alarms::with_alarms(&d, "destination");
    d
}

async fn policy(d: &Drill) -> Value {
    let run = d.efs_dr(&["iam-policy"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

/// Runs the runbook from step `from`; the index and output of the first step that fails.
async fn run_from(d: &Drill, from: usize) -> Option<(usize, String)> {
    for (i, step) in RUNBOOK.iter().enumerate().skip(from) {
        match step {
            Step::EfsDr(args) => {
                let run = d.efs_dr(args).await;
                if run.code != 0 {
                    return Some((i, format!("{}\n{}", run.stdout, run.stderr)));
                }
            }
            Step::WriteOnB(tag) => d.write_on_b(tag).await,
            Step::WriteOnA => {
                d.ts.control
                    .write_file(&d.pairs[0].a, "app/only-on-a.txt", b"A's own write")
                    .await
                    .unwrap()
            }
            Step::ADown => d.ts.control.set_outage(A_REGION, true).await.unwrap(),
            Step::AUp => d.ts.control.set_outage(A_REGION, false).await.unwrap(),
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_policy_is_enough_and_every_statement_is_needed() {
    // The whole runbook with the policy efs-dr prints.
    let d = drill_with_backup().await;
    let full = policy(&d).await;
    d.ts.control
        .set_iam_policy(Some(&full.to_string()))
        .await
        .unwrap();
    if let Some((i, out)) = run_from(&d, 0).await {
        panic!("step {i} failed with the generated policy:\n{out}");
    }
    d.assert_home_with_everything(&["planned", "unplanned"])
        .await;

    // Each statement removed in turn.
    let statements = full["Statement"].as_array().unwrap().clone();
    for (k, statement) in statements.iter().enumerate() {
        let sid = statement["Sid"].as_str().unwrap();
        let actions: Vec<String> = statement["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let d = drill_with_backup().await;
        let mut less = full.clone();
        less["Statement"].as_array_mut().unwrap().remove(k);
        d.ts.control
            .set_iam_policy(Some(&less.to_string()))
            .await
            .unwrap();
        let Some((i, out)) = run_from(&d, 0).await else {
            panic!("without {sid} the whole runbook passed: the statement is not needed");
        };
        assert!(
            actions.iter().any(|a| out.contains(a.as_str())),
            "without {sid}, step {i} failed without naming {actions:?}:\n{out}"
        );
        assert!(!out.contains("panicked"), "without {sid}: a panic:\n{out}");
        // The statement back: the same command finishes, and nothing was lost.
        d.ts.control
            .set_iam_policy(Some(&full.to_string()))
            .await
            .unwrap();
        let Step::EfsDr(args) = RUNBOOK[i] else {
            unreachable!("only efs-dr steps fail")
        };
        let again = d.efs_dr(args).await;
        assert_eq!(
            again.code, 0,
            "with {sid} back, {args:?} did not finish:\n{}\n{}",
            again.stdout, again.stderr
        );
        nothing_lost(&d, i).await;
    }
}

/// After step `i` of the runbook ended well: a failback is home with every write on B so far;
/// a failover left B with all of A's files.
async fn nothing_lost(d: &Drill, i: usize) {
    let tags: Vec<&str> = RUNBOOK[..i]
        .iter()
        .filter_map(|s| match s {
            Step::WriteOnB(tag) => Some(*tag),
            _ => None,
        })
        .collect();
    match RUNBOOK[i] {
        Step::EfsDr(args) if args[0] == "failback" => d.assert_home_with_everything(&tags).await,
        Step::EfsDr(args) if args[0] == "failover" => {
            let on_b = d.ts.control.digest(&d.pairs[0].b).await.unwrap();
            for n in 1..=3 {
                assert!(on_b.contains_key(&format!("app/a-{n}.txt")), "{on_b:?}");
            }
        }
        _ => {
            let on_a = d.ts.control.digest(&d.pairs[0].a).await.unwrap();
            assert!(on_a.contains_key("app/a-1.txt"), "{on_a:?}");
        }
    }
}

/// doctor on a schedule needs reads only: `iam-policy --operation doctor` grants no action that
/// changes anything, every check passes with it enforced, and a failover under it is refused
/// by AWS with nothing changed.
#[tokio::test(flavor = "multi_thread")]
async fn doctor_runs_on_the_read_only_policy_and_nothing_can_change_under_it() {
    let d = drill_with_backup().await;
    d.ok(&["init", "--yes"]).await;
    crate::doctor::mount_targets(&d).await;
    let run = d.efs_dr(&["iam-policy", "--operation", "doctor"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let read_only: Value = serde_json::from_str(&run.stdout).unwrap();
    let actions: Vec<String> = read_only["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(
        actions.contains(&"elasticfilesystem:DescribeMountTargets".to_string())
            && actions.contains(&"backup:DescribeBackupVault".to_string()),
        "{actions:?}"
    );
    for a in &actions {
        let verb = a.split(':').nth(1).unwrap();
        assert!(
            ["Describe", "Get", "List"]
                .iter()
                .any(|r| verb.starts_with(r)),
            "a read-only policy grants {a}"
        );
    }
    d.ts.control
        .set_iam_policy(Some(&read_only.to_string()))
        .await
        .unwrap();
    let doctor = d.efs_dr(&["doctor"]).await;
    let doc: Value = serde_json::from_str(&doctor.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", doctor.stdout, doctor.stderr));
    assert_eq!(doctor.code, 0, "{doc}\n{}", doctor.stderr);
    let lag_alarm = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "lag-alarm")
        .unwrap_or_else(|| panic!("no lag-alarm check: {doc}"));
    assert_eq!(lag_alarm["verdict"], "ok", "{lag_alarm}");
    let refused = d.efs_dr(&["failover", "--yes"]).await;
    d.ts.control.set_iam_policy(None).await.unwrap();
    assert_ne!(refused.code, 0, "a failover under the doctor's policy");
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("AccessDenied"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        d.replications(crate::dr::B_REGION).await.len(),
        1,
        "A -> B is still there"
    );
}
