//! The first real run, part 2: where the real provider and AWS are harder than a kind lab.
//! Timeouts on AWS's clock (a create that times out is saved tainted), what AWS answers to a
//! delete while a deletion is under way, a Describe that lags, provider 6.x in the middle of a
//! DR, and a double that refuses to meet real AWS.

use std::time::Duration;

use efs_dr::dr::events::{Event, EventKind};
use efs_dr::dr::phase::Step;
use efs_dr::terraform::ChangeKind;
use efs_dr_sim::{DeleteWhileDeleting, SimOptions, SimSettings};

use crate::dr::{config_text, drill_with, Drill, A_REGION, B_REGION};

fn sim(seed: u64, settings: SimSettings) -> SimOptions {
    SimOptions {
        time_scale: 600.0,
        seed: Some(seed),
        settings,
        ..SimOptions::default()
    }
}

/// The drill's config with `extra` lines in its terraform block.
fn config_with(d: &Drill, extra: &str) {
    let text = config_text(&d.pairs, "120m", "terraform");
    let marker = "  lock_timeout = \"2s\"\n";
    assert!(text.contains(marker));
    std::fs::write(
        d.config(),
        text.replacen(marker, &format!("{marker}{extra}"), 1),
    )
    .unwrap();
}

async fn creation_time(
    d: &Drill,
    region: &str,
    fs: &str,
) -> Option<aws_sdk_efs::primitives::DateTime> {
    efs_dr_testkit::efs(&d.ts.url, region)
        .describe_replication_configurations()
        .file_system_id(fs)
        .send()
        .await
        .ok()?
        .replications()
        .iter()
        .find(|r| r.source_file_system_id() == fs)
        .map(|r| *r.creation_time())
}

fn notes(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// AWS takes 30 minutes to reach ENABLED, the module's create timeout is 20: the provider's
/// wait times out on AWS's clock and saves the replication tainted. efs-dr sees AWS creating
/// exactly what the phase wanted, untaints it and gates it: one configuration, never replaced,
/// for init and for a failback's create.
#[tokio::test(flavor = "multi_thread")]
async fn a_create_that_times_out_is_gated_not_replaced() {
    let d = drill_with(
        &["app"],
        sim(
            31,
            SimSettings {
                replication_enable_delay: Duration::from_secs(30 * 60),
                ..SimSettings::default()
            },
        ),
    )
    .await;
    config_with(&d, "  replication_timeouts = \"20m\"\n");
    let init = d.ok(&["init", "--yes"]).await;
    assert!(
        init.stderr
            .contains("timeout while waiting for EFS Replication Configuration"),
        "the create timed out on AWS's clock: {}",
        init.stderr
    );
    assert!(
        notes(&init.events)
            .iter()
            .any(|n| n.contains("AWS shows the change under way")),
        "{}",
        init.stdout
    );
    let created = creation_time(&d, A_REGION, &d.pairs[0].a).await.unwrap();
    let (code, out) = d
        .terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"])
        .await;
    assert!(
        code == 0 || !out.contains("must be replaced"),
        "replace planned:\n{out}"
    );
    assert!(!out.contains("tainted"), "still tainted:\n{out}");
    d.ok(&["init", "--yes"]).await;
    assert_eq!(
        creation_time(&d, A_REGION, &d.pairs[0].a).await,
        Some(created),
        "one A -> B"
    );

    d.ok(&["failover", "--yes"]).await;
    d.write_on_b("timeouts").await;
    let back = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    let creates = back
        .events
        .iter()
        .filter(|e| {
            matches!(e.kind, EventKind::Applied { .. }) && e.step == Some(Step::CreateReverse)
        })
        .count();
    assert_eq!(creates, 1, "B -> A created once: {}", back.stdout);
    let replaced = back
        .events
        .iter()
        .flat_map(|e| match &e.kind {
            EventKind::PlanSummary { changes } | EventKind::Applied { changes } => changes.clone(),
            _ => Vec::new(),
        })
        .any(|c| c.kind == ChangeKind::Replace);
    assert!(!replaced, "{}", back.stdout);
    assert!(
        notes(&back.events)
            .iter()
            .any(|n| n.contains("AWS shows the change under way")),
        "the failback's create timed out too: {}",
        back.stdout
    );
    d.assert_home_with_everything(&["timeouts"]).await;
}

/// What AWS answers to a second delete while the deletion is under way is not documented
/// (upstream's provider sends one, in the source region): accepted, not found or a conflict.
/// And a Describe right after a change may still answer the previous status. A planned
/// failover and a failback pass under each.
#[tokio::test(flavor = "multi_thread")]
async fn failover_and_failback_pass_whatever_aws_answers_to_a_delete() {
    let cases = [
        ("accepted", DeleteWhileDeleting::Accepted, Duration::ZERO),
        ("not-found", DeleteWhileDeleting::NotFound, Duration::ZERO),
        ("conflict", DeleteWhileDeleting::Conflict, Duration::ZERO),
        (
            "describe-lag",
            DeleteWhileDeleting::Accepted,
            Duration::from_secs(120),
        ),
    ];
    for (i, (name, answer, lag)) in cases.into_iter().enumerate() {
        let d = drill_with(
            &["app"],
            sim(
                40 + i as u64,
                SimSettings {
                    delete_while_deleting: answer,
                    describe_lag: lag,
                    ..SimSettings::default()
                },
            ),
        )
        .await;
        d.ok(&["init", "--yes"]).await;
        let over = d.efs_dr(&["failover", "--yes"]).await;
        assert_eq!(
            over.code, 0,
            "{name}: failover:\n{}\n{}",
            over.stdout, over.stderr
        );
        assert!(d.replications(B_REGION).await.is_empty(), "{name}");
        d.write_on_b(name).await;
        let back = d.efs_dr(&["failback", "--yes", "--writes-stopped"]).await;
        assert_eq!(
            back.code, 0,
            "{name}: failback:\n{}\n{}",
            back.stdout, back.stderr
        );
        d.assert_home_with_everything(&[name]).await;
    }
}

/// Provider 6.x in the middle of a DR: initialised with 5.x (its state has no `region`), the
/// root upgraded to 6.x, then an unplanned failover of one pair whose forget step plans without
/// refresh: the other pair's replication shows `region` filled in (a no-op update), which is
/// tolerated, and nothing more. Then the failback.
#[tokio::test(flavor = "multi_thread")]
async fn a_provider_upgraded_to_6x_in_the_middle_of_a_dr() {
    let d = drill_with(&["app", "web"], sim(51, SimSettings::default())).await;
    std::fs::create_dir_all(d.tf_dir()).unwrap();
    let pin = d.tf_dir().join("versions_override.tf");
    std::fs::write(
        &pin,
        "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.0\"\n    }\n  }\n}\n",
    )
    .unwrap();
    d.ok(&["init", "--yes"]).await;
    let (_, version) = d.terraform(&["version"]).await;
    assert!(version.contains("5.999.0"), "{version}");
    std::fs::remove_file(&pin).unwrap();
    let (code, out) = d
        .terraform(&["init", "-upgrade", "-input=false", "-no-color"])
        .await;
    assert_eq!(code, 0, "{out}");
    let (_, version) = d.terraform(&["version"]).await;
    assert!(version.contains("6.999.0"), "{version}");

    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    let down = d
        .efs_dr(&["failover", "--unplanned", "--pair", "app", "--yes"])
        .await;
    assert_eq!(down.code, 0, "{}\n{}", down.stdout, down.stderr);
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    let app = &d.pairs[0];
    d.ts.control
        .write_file(
            &app.b,
            "app/upgraded.txt",
            b"written on B during the outage",
        )
        .await
        .unwrap();
    d.ok(&["failback", "--pair", "app", "--yes", "--writes-stopped"])
        .await;
    let home =
        d.ts.control
            .read_file(&app.a, "app/upgraded.txt")
            .await
            .unwrap();
    assert_eq!(home, b"written on B during the outage");
    d.ok(&["status", "--detailed-exitcode"]).await;
}

/// A region can go down as a network partition does: connections accepted, no answer ever.
/// An unplanned failover probes A once, gives up after the probe timeout (3 s, not the 20 s an
/// ordinary call may wait), and never asks A again in the run: the whole failover costs one
/// probe of A. Counted by the simulator, not timed.
#[tokio::test(flavor = "multi_thread")]
async fn a_black_holed_region_costs_one_probe_of_an_unplanned_failover() {
    let d = crate::dr::drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    d.ts.control.black_hole(A_REGION).await.unwrap();
    let started = std::time::Instant::now();
    let run = d.ok(&["failover", "--unplanned", "--yes"]).await;
    eprintln!(
        "unplanned failover with A black-holed: {:?}",
        started.elapsed()
    );
    assert_eq!(
        d.ts.control.requests_held(A_REGION).await.unwrap(),
        1,
        "A was probed once: {}",
        run.stdout
    );
    assert!(
        run.any(|k| matches!(k, EventKind::Progress { text }
            if text.contains(&format!("{A_REGION} is declared down")) && text.contains("3s"))),
        "said before the wait: {}",
        run.stdout
    );
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");
    assert!(d.replications(B_REGION).await.is_empty());
    assert!(d.state().await.is_empty(), "{:?}", d.state().await);
}
