//! Lag alarms as Terraform (an `alarms` block): one CloudWatch alarm per pair on the
//! replication in force, following it through a failover and a failback, and ringing when sync
//! stops.

use efs_dr::dr::events::EventKind;
use efs_dr::terraform::ChangeKind;
use efs_dr_sim::SyncMetricRegions;
use efs_dr_sim::{SimOptions, SimSettings};
use efs_dr_testkit::drill::{Drill, Run};

use crate::dr::{A_REGION, B_REGION};

const TOPIC_A: &str = "arn:aws:sns:us-east-1:123456789012:efs-dr";
const TOPIC_B: &str = "arn:aws:sns:us-west-2:123456789012:efs-dr";

async fn drill(metric_regions: SyncMetricRegions, metric_region: &str) -> Drill {
    let d = crate::dr::drill_with(
        &["app"],
        SimOptions {
            time_scale: crate::dr::SCALE,
            seed: Some(7),
            settings: SimSettings {
                sync_metric_regions: metric_regions,
                ..SimSettings::default()
            },
            ..SimOptions::default()
        },
    )
    .await;
    with_alarms(&d, metric_region);
    d
}

/// The drill's config with an `alarms` block: a topic in each region, the metric read in
/// `metric_region` ("destination" or "source").
pub(crate) fn with_alarms(d: &Drill, metric_region: &str) {
    let mut config = std::fs::read_to_string(d.config()).unwrap();
    config.push_str(&format!(
        "\nalarms {{\n  sns_topic_arns = [\"{TOPIC_A}\", \"{TOPIC_B}\"]\n  metric_region  = \"{metric_region}\"\n}}\n"
    ));
    std::fs::write(d.config(), config).unwrap();
}

/// Every metric alarm in both regions: (region, alarm).
async fn alarms(d: &Drill) -> Vec<(String, aws_sdk_cloudwatch::types::MetricAlarm)> {
    let mut out = Vec::new();
    for region in [A_REGION, B_REGION] {
        let cw = efs_dr_testkit::cloudwatch(&d.ts.url, region);
        let page = cw.describe_alarms().send().await.unwrap();
        out.extend(
            page.metric_alarms()
                .iter()
                .map(|a| (region.to_string(), a.clone())),
        );
    }
    out
}

/// The one alarm there is; it watches `source -> destination` from `region`.
async fn the_one_alarm(
    d: &Drill,
    region: &str,
    source: &str,
    destination: &str,
) -> aws_sdk_cloudwatch::types::MetricAlarm {
    let all = alarms(d).await;
    assert_eq!(all.len(), 1, "exactly one alarm: {all:#?}");
    let (at, alarm) = all.into_iter().next().unwrap();
    assert_eq!(at, region, "{alarm:#?}");
    let dims: Vec<(&str, &str)> = alarm
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap(), d.value().unwrap()))
        .collect();
    assert!(
        dims.contains(&("FileSystemId", source))
            && dims.contains(&("DestinationFileSystemId", destination)),
        "{dims:?}"
    );
    assert_eq!(
        alarm.alarm_name(),
        Some(format!("efs-dr app TimeSinceLastSync {source} to {destination}").as_str())
    );
    alarm
}

/// doctor's lag-alarm check of the one pair: (verdict, text, next step).
async fn doctor_lag_alarm(d: &Drill) -> (String, String, String) {
    let run = d.efs_dr(&["doctor"]).await;
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "lag-alarm")
        .unwrap_or_else(|| panic!("no lag-alarm check: {doc}"))
        .clone();
    let text = |k: &str| check[k].as_str().unwrap_or_default().to_string();
    (text("verdict"), text("text"), text("next"))
}

async fn state_after(d: &Drill, seconds: f64) -> String {
    d.ts.control.advance(seconds).await.unwrap();
    let all = alarms(d).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    all[0].1.state_value().unwrap().as_str().to_string()
}

/// The alarm addresses a run's applies changed, with the kind of change.
fn alarm_changes(run: &Run) -> Vec<(String, ChangeKind)> {
    run.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Applied { changes } => Some(changes.clone()),
            _ => None,
        })
        .flatten()
        .filter(|c| c.address.contains("aws_cloudwatch_metric_alarm"))
        .map(|c| {
            let short = c
                .address
                .split(".aws_cloudwatch_metric_alarm.")
                .nth(1)
                .unwrap()
                .to_string();
            (short, c.kind)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lag_alarm_follows_the_replication_in_force_and_rings_when_sync_stops() {
    // AWS does not document which region publishes TimeSinceLastSync: here only the
    // destination's does, and the alarm lives there (the default).
    let d = drill(SyncMetricRegions::Destination, "destination").await;
    let (a, b) = (d.pairs[0].a.to_string(), d.pairs[0].b.to_string());
    let init = d.ok(&["init", "--yes"]).await;
    assert_eq!(
        alarm_changes(&init),
        [(
            "sync_lag_at_secondary[\"app\"]".to_string(),
            ChangeKind::Create
        )]
    );
    let alarm = the_one_alarm(&d, B_REGION, &a, &b).await;
    assert_eq!(alarm.threshold(), Some(900.0), "max_lag");
    assert_eq!(alarm.treat_missing_data(), Some("breaching"));
    assert_eq!(
        alarm.alarm_actions(),
        [TOPIC_B],
        "only the topic of its region"
    );
    assert_eq!(alarm.ok_actions(), [TOPIC_B]);

    // Healthy: the lag is a sync interval or so.
    assert_eq!(state_after(&d, 600.0).await, "OK");
    let (verdict, text, _) = doctor_lag_alarm(&d).await;
    assert_eq!(verdict, "ok", "{text}");
    // Sync stops (a permissions problem pauses the replication): past max_lag it rings.
    d.ts.control
        .set_replication_status(&a, "PAUSED", Some("KMS key access denied"))
        .await
        .unwrap();
    assert_eq!(state_after(&d, 1500.0).await, "ALARM");
    let (verdict, text, next) = doctor_lag_alarm(&d).await;
    assert_eq!(verdict, "fail", "{text}");
    assert!(text.contains("ALARM"), "{text}");
    assert!(next.contains("metric_region = \"source\""), "{next}");
    d.ts.control
        .set_replication_status(&a, "ENABLED", None)
        .await
        .unwrap();
    // The alarm looks at the last whole 5 minutes: 15 minutes on, that period started well
    // after the first sync since (wherever the 5-minute boundaries fall).
    assert_eq!(state_after(&d, 900.0).await, "OK");

    // A failover deletes the replication and its alarm with it: nothing to watch.
    let failover = d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    assert_eq!(
        alarm_changes(&failover),
        [(
            "sync_lag_at_secondary[\"app\"]".to_string(),
            ChangeKind::Delete
        )]
    );
    assert!(alarms(&d).await.is_empty());
    let (verdict, text, _) = doctor_lag_alarm(&d).await;
    assert_eq!(verdict, "ok", "{text}");
    assert!(text.contains("no replication"), "{text}");

    // The failback watches B -> A from A while it replicates, then A -> B from B again.
    let failback = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(
        alarm_changes(&failback),
        [
            (
                "sync_lag_at_primary[\"app\"]".to_string(),
                ChangeKind::Create
            ),
            (
                "sync_lag_at_primary[\"app\"]".to_string(),
                ChangeKind::Delete
            ),
            (
                "sync_lag_at_secondary[\"app\"]".to_string(),
                ChangeKind::Create
            ),
        ]
    );
    the_one_alarm(&d, B_REGION, &a, &b).await;
    // Deleted behind Terraform's back: doctor says nothing would ring.
    efs_dr_testkit::cloudwatch(&d.ts.url, B_REGION)
        .delete_alarms()
        .alarm_names(format!("efs-dr app TimeSinceLastSync {a} to {b}"))
        .send()
        .await
        .unwrap();
    let (verdict, text, _) = doctor_lag_alarm(&d).await;
    assert_eq!(verdict, "fail", "{text}");
    assert!(text.contains("nothing rings"), "{text}");
    let state = d.state().await;
    assert_eq!(
        state
            .iter()
            .filter(|a| a.contains("aws_cloudwatch_metric_alarm"))
            .count(),
        1,
        "{state:?}"
    );
}

/// Where only the source's region publishes the metric the alarm lives there, and an unplanned
/// failover cannot delete it (A is down): it is forgotten with the replication, rings in A when
/// A is back (its replication is gone), and the failback takes it back into the state (import)
/// instead of failing to create it twice.
#[tokio::test(flavor = "multi_thread")]
async fn the_alarm_an_unplanned_failover_leaves_in_the_dead_region_is_taken_back_by_the_failback() {
    let d = drill(SyncMetricRegions::Source, "source").await;
    let (a, b) = (d.pairs[0].a.to_string(), d.pairs[0].b.to_string());
    let init = d.ok(&["init", "--yes"]).await;
    assert_eq!(
        alarm_changes(&init),
        [(
            "sync_lag_at_primary[\"app\"]".to_string(),
            ChangeKind::Create
        )]
    );
    the_one_alarm(&d, A_REGION, &a, &b).await;
    assert_eq!(
        state_after(&d, 600.0).await,
        "OK",
        "the source publishes here"
    );

    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    let failover = d.ok(&["failover", "--unplanned", "--yes"]).await;
    assert!(alarm_changes(&failover).is_empty(), "nothing applied in A");
    let forgotten: Vec<String> = failover
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateChanged { command, address } if command == "state rm" => {
                Some(address.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        forgotten
            .iter()
            .any(|f| f.ends_with("aws_cloudwatch_metric_alarm.sync_lag_at_primary[\"app\"]")),
        "{forgotten:?}"
    );
    assert!(d.state().await.is_empty(), "{:?}", d.state().await);

    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    assert_eq!(
        state_after(&d, 600.0).await,
        "ALARM",
        "left in A, its replication gone: missing data breaches"
    );

    let failback = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    let imported: Vec<String> = failback
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateChanged { command, address } if command == "import" => {
                Some(address.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(imported.len(), 1, "{imported:?}");
    assert!(
        imported[0].ends_with("aws_cloudwatch_metric_alarm.sync_lag_at_primary[\"app\"]"),
        "{imported:?}"
    );
    the_one_alarm(&d, A_REGION, &a, &b).await;
    assert_eq!(state_after(&d, 600.0).await, "OK");
    let state = d.state().await;
    assert!(
        state
            .iter()
            .any(|s| s.ends_with("aws_cloudwatch_metric_alarm.sync_lag_at_primary[\"app\"]")),
        "{state:?}"
    );
}

/// The provider lists an alarm's tags right after creating it. A role without
/// `cloudwatch:ListTagsForResource` fails that read: the run stops naming the permission, but
/// the alarm CloudWatch made as planned is not left tainted (every later plan would replace
/// it). Once the role is mended, the same command finishes with one alarm and a clean plan.
#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_made_before_its_tags_could_not_be_listed_is_kept_and_the_rerun_ends_clean() {
    let d = drill(SyncMetricRegions::Destination, "destination").await;
    let full = d.efs_dr(&["iam-policy"]).await;
    assert_eq!(full.code, 0, "{}", full.stderr);
    let full: serde_json::Value = serde_json::from_str(&full.stdout).unwrap();
    let mut less = full.clone();
    for statement in less["Statement"].as_array_mut().unwrap() {
        if statement["Sid"] == "LagAlarms" {
            let actions = statement["Action"].as_array_mut().unwrap();
            actions.retain(|a| a != "cloudwatch:ListTagsForResource");
        }
    }
    d.ts.control
        .set_iam_policy(Some(&less.to_string()))
        .await
        .unwrap();
    let failed = d.efs_dr(&["init", "--yes"]).await;
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(
        failed.stdout.contains("cloudwatch:ListTagsForResource"),
        "the error names the missing permission:\n{}",
        failed.stdout
    );
    let untainted = failed.events.iter().any(|e| {
        matches!(&e.kind, EventKind::StateChanged { command, address }
            if command == "untaint" && address.contains("aws_cloudwatch_metric_alarm"))
    });
    assert!(untainted, "{}", failed.stdout);
    let (_, show) = d.terraform(&["show", "-json"]).await;
    assert!(
        !show.contains("\"tainted\""),
        "nothing is left tainted:\n{show}"
    );

    d.ts.control
        .set_iam_policy(Some(&full.to_string()))
        .await
        .unwrap();
    d.ok(&["init", "--yes"]).await;
    let alarms = alarms(&d).await;
    assert_eq!(alarms.len(), 1, "{alarms:#?}");
    let (code, out) = d
        .terraform(&["plan", "-input=false", "-detailed-exitcode"])
        .await;
    assert_eq!(code, 0, "{out}");
}
