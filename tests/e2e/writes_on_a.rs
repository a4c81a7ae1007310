//! No write left behind: a failback never overwrites writes only A has without a recovery
//! point of A or the operator's explicit word. Real Terraform, the simulator (with AWS Backup),
//! and files read back from A, B and the recovery point.

use std::collections::BTreeMap;
use std::time::Duration;

use efs_dr::dr::events::EventKind;
use efs_dr::dr::gate::Verdict;
use efs_dr::dr::phase::Step;
use efs_dr_sim::{SimOptions, SimSettings};
use serde_json::Value;

use crate::dr::{drill_with, Drill, Run, A_REGION, B_REGION};

const ROLE: &str = "arn:aws:iam::123456789012:role/efs-dr-backup";

/// A sync every 30 minutes of AWS time (3 s of wall time): a write just after a sync stays
/// on A alone for a while.
async fn drill_slow_sync() -> Drill {
    drill_with(
        &["app"],
        SimOptions {
            time_scale: 600.0,
            seed: Some(21),
            settings: SimSettings {
                sync_interval: Duration::from_secs(30 * 60),
                ..SimSettings::default()
            },
            ..SimOptions::default()
        },
    )
    .await
}

pub(crate) fn with_backup(d: &Drill) {
    d.write_config("120m", "terraform");
    let mut text = std::fs::read_to_string(d.config()).unwrap();
    text.push_str(&format!(
        "\nbackup {{\n  vault    = \"efs-dr\"\n  role_arn = \"{ROLE}\"\n}}\n"
    ));
    std::fs::write(d.config(), text).unwrap();
}

pub(crate) async fn vault(d: &Drill) {
    efs_dr_testkit::backup(&d.ts.url, A_REGION)
        .create_backup_vault()
        .backup_vault_name("efs-dr")
        .send()
        .await
        .unwrap();
}

async fn jobs(d: &Drill) -> Vec<(String, String)> {
    let arn = format!(
        "arn:aws:elasticfilesystem:{A_REGION}:123456789012:file-system/{}",
        d.pairs[0].a
    );
    efs_dr_testkit::backup(&d.ts.url, A_REGION)
        .list_backup_jobs()
        .by_resource_arn(arn)
        .send()
        .await
        .unwrap()
        .backup_jobs()
        .iter()
        .map(|j| {
            (
                j.backup_job_id().unwrap_or_default().to_string(),
                j.state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

async fn on_a(d: &Drill) -> BTreeMap<String, String> {
    d.ts.control.digest(&d.pairs[0].a).await.unwrap()
}

async fn write_on_a(d: &Drill, name: &str) {
    d.ts.control
        .write_file(&d.pairs[0].a, &format!("app/{name}"), name.as_bytes())
        .await
        .unwrap();
}

/// init, a write on A that no sync carries, A's region down, an unplanned failover, writes on
/// B, A back, and more writes on A: A has two files B does not.
async fn a_has_writes_b_does_not(d: &Drill) {
    d.ok(&["init", "--yes"]).await;
    write_on_a(d, "unsynced.txt").await;
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    d.ok(&["failover", "--unplanned", "--yes"]).await;
    d.write_on_b("during").await;
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    write_on_a(d, "after-return.txt").await;
    let a = on_a(d).await;
    assert!(a.contains_key("app/unsynced.txt") && a.contains_key("app/after-return.txt"));
    assert!(!d
        .ts
        .control
        .digest(&d.pairs[0].b)
        .await
        .unwrap()
        .contains_key("app/unsynced.txt"));
}

fn data(run: &Run) -> Value {
    run.report()["pairs"][0]["data"].clone()
}

const FAILBACK: [&str; 3] = ["failback", "--yes", "--writes-stopped"];

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_point_keeps_every_write_only_a_had_before_the_failback_overwrites_a() {
    let d = drill_slow_sync().await;
    with_backup(&d);
    vault(&d).await;
    a_has_writes_b_does_not(&d).await;
    let before = on_a(&d).await;

    // A role AWS Backup cannot assume: an error naming it, A not overwritten.
    d.ts.control.refuse_backup_role(ROLE, true).await.unwrap();
    let refused = d.efs_dr(&FAILBACK).await;
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.finished_message().contains(ROLE));
    assert_eq!(on_a(&d).await, before, "A untouched");
    d.ts.control.refuse_backup_role(ROLE, false).await.unwrap();

    // A backup job that fails: refused, A not overwritten.
    d.ts.control.fail_next_backup_jobs(1).await.unwrap();
    let failed = d.efs_dr(&FAILBACK).await;
    assert_eq!(failed.code, 2, "{}\n{}", failed.stdout, failed.stderr);
    assert!(failed.finished_message().contains("FAILED"));
    assert_eq!(on_a(&d).await, before, "A untouched");

    // AWS Backup does not answer when A's jobs are read: the failback stops before asking for
    // a job it cannot tell from the one that failed, says why as a warning event, and the same
    // command goes on afterwards.
    d.ts.control
        .inject_fault("ListBackupJobs", "AccessDeniedException", 1)
        .await
        .unwrap();
    let unread = d.efs_dr(&FAILBACK).await;
    assert_eq!(unread.code, 1, "{}\n{}", unread.stdout, unread.stderr);
    assert!(
        unread
            .finished_message()
            .contains("backup jobs could not be read"),
        "{}",
        unread.finished_message()
    );
    let warning = unread
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Warning { .. }))
        .expect("a warning event");
    assert!(
        matches!(&warning.kind, EventKind::Warning { text } if text.contains("A's backup jobs could not be read")),
        "{warning:?}"
    );
    assert_eq!(warning.pair.as_deref(), Some("app"));
    assert_eq!(on_a(&d).await, before, "A untouched");

    // Killed while the backup job runs, then run again: one more job, not two.
    let killed = d
        .efs_dr_killed_at(&FAILBACK, |e| {
            e.step == Some(Step::BackupA)
                && matches!(
                    e.kind,
                    EventKind::GatePolled {
                        verdict: Verdict::Waiting(_),
                        ..
                    }
                )
        })
        .await;
    assert!(
        killed,
        "the failback was not killed while its backup job ran"
    );
    let back = d.ok(&FAILBACK).await;
    let all = jobs(&d).await;
    let good: Vec<_> = all.iter().filter(|(_, s)| s != "FAILED").collect();
    assert_eq!(good.len(), 1, "one job for this failback: {all:?}");

    // The recovery point holds every file A had alone; A now equals B; B lost nothing.
    let data = data(&back);
    let point = data["recovery_point"].as_str().expect("a recovery point");
    let kept = d.ts.control.recovery_point_digest(point).await.unwrap();
    for f in ["app/unsynced.txt", "app/after-return.txt"] {
        assert_eq!(kept.get(f), before.get(f), "{f} is in the recovery point");
    }
    assert_eq!(data["all_writes_accounted_for"], true, "{data}");
    assert!(data["bytes"].as_f64().unwrap() > 0.0, "{data}");
    // The report says how to get those writes back, into a directory of A.
    let restore = data["restore_command"].as_str().expect("a restore command");
    for part in [
        "aws backup start-restore-job",
        &format!("--region {A_REGION}"),
        &format!("--recovery-point-arn {point}"),
        &format!("--iam-role-arn {ROLE}"),
        &format!("file-system-id={}", d.pairs[0].a),
        "newFileSystem=false",
        "PerformanceMode=generalPurpose",
    ] {
        assert!(restore.contains(part), "{part} in: {restore}");
    }
    d.assert_home_with_everything(&["during"]).await;
    let md = std::fs::read_to_string(
        back.events
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EventKind::ReportWritten { report } => Some(report.as_str()),
                _ => None,
            })
            .unwrap(),
    )
    .unwrap();
    assert!(md.contains("All writes accounted for**: yes"), "{md}");
    assert!(md.contains(point));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_backup_block_the_failback_refuses_unless_told_to_discard() {
    let d = drill_slow_sync().await;
    d.write_config("120m", "terraform");
    a_has_writes_b_does_not(&d).await;
    let before = on_a(&d).await;
    let protection = d.protection(A_REGION, &d.pairs[0].a).await;

    let status = d.ok(&["status"]).await;
    assert!(
        status.stdout.contains("\"writes_only_on_a\""),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("\"some\""), "{}", status.stdout);

    let refused = d.efs_dr(&FAILBACK).await;
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    let m = refused.finished_message();
    assert!(
        m.contains("backup {") && m.contains("--discard-writes-on-a"),
        "{m}"
    );
    assert!(refused.steps_started().is_empty(), "nothing started");
    assert_eq!(on_a(&d).await, before, "A's files intact");
    assert_eq!(d.protection(A_REGION, &d.pairs[0].a).await, protection);
    assert_eq!(d.replications(B_REGION).await.len(), 0);

    let mut args = FAILBACK.to_vec();
    args.push("--discard-writes-on-a");
    let back = d.ok(&args).await;
    let data = data(&back);
    assert_eq!(data["all_writes_accounted_for"], false, "{data}");
    assert!(
        data["basis"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b.as_str().unwrap().contains("--discard-writes-on-a")),
        "{data}"
    );
    assert!(data["recovery_point"].is_null());
    d.assert_home_with_everything(&["during"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_failover_and_failback_account_for_every_write_without_a_backup() {
    let d = drill_slow_sync().await;
    with_backup(&d);
    vault(&d).await;
    d.ok(&["init", "--yes"]).await;
    let over = d.ok(&["failover", "--yes", "--force"]).await;
    assert_eq!(
        data(&over)["all_writes_accounted_for"],
        true,
        "{}",
        data(&over)
    );
    d.write_on_b("clean").await;
    let back = d.ok(&FAILBACK).await;
    let data = data(&back);
    assert_eq!(data["all_writes_accounted_for"], true, "{data}");
    assert_eq!(data["bytes"], 0.0, "{data}");
    assert!(data["recovery_point"].is_null());
    assert!(jobs(&d).await.is_empty(), "no backup taken");
    assert!(!back.steps_started().iter().any(|s| s.ends_with("backup_a")));
    d.assert_home_with_everything(&["clean"]).await;
}

/// The backup a failback may need is checked before A is fenced: with the configured vault
/// missing in A's region, the failback stops before any change (A still writable, nothing
/// replicating into it) and names the vault and how to create it; with the vault, it ends home.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_backup_vault_stops_the_failback_before_a_is_fenced() {
    let d = crate::dr::drill(&["app"]).await;
    with_backup(&d);
    d.ok(&["init", "--yes"]).await;
    d.ok(&["failover", "--yes"]).await;
    d.write_on_b("failover").await;
    let run = d.efs_dr(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let said = run.finished_message();
    assert!(
        said.contains("the backup vault \"efs-dr\" does not exist in A's region us-east-1")
            && said.contains("aws backup create-backup-vault")
            && said.contains("nothing was changed"),
        "{said}"
    );
    assert!(
        !run.any(|k| matches!(k, EventKind::SdkChange { .. })),
        "nothing changed: {}",
        run.stdout
    );
    assert_eq!(d.protection(A_REGION, &d.pairs[0].a).await, "ENABLED");
    assert!(d.replications(A_REGION).await.is_empty());
    vault(&d).await;
    d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    d.assert_home_with_everything(&["failover"]).await;
}
