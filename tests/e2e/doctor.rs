//! `efs-dr doctor` against the simulator: a healthy pair passes every check; then each thing a
//! real DR plan loses before the disaster is broken in turn through AWS's own API or the
//! simulator's control API, and doctor names exactly that check, with its next step, and exits
//! 2.

use aws_sdk_efs::types::ThroughputMode;
use serde_json::Value;

use crate::dr::{drill, A_REGION, B_REGION};
use efs_dr_testkit::drill::Drill;

/// Mount targets in zones a and b of both regions, available.
pub(crate) async fn mount_targets(d: &Drill) {
    for (region, fs) in [(A_REGION, &d.pairs[0].a), (B_REGION, &d.pairs[0].b)] {
        let efs = efs_dr_testkit::efs(&d.ts.url, region);
        for subnet in ["subnet-00000000", "subnet-00000001"] {
            efs.create_mount_target()
                .file_system_id(fs.as_str())
                .subnet_id(subnet)
                .send()
                .await
                .unwrap();
        }
    }
    settle_mount_targets(d).await;
}

/// The simulator's clock past the mount targets' 90 s of creation or deletion.
async fn settle_mount_targets(d: &Drill) {
    d.ts.control.advance(120.0).await.unwrap();
}

fn throughput(
    d: &Drill,
    region: &str,
    fs: &str,
    mibps: Option<f64>,
) -> impl std::future::Future<Output = ()> {
    let efs = efs_dr_testkit::efs(&d.ts.url, region);
    let fs = fs.to_string();
    async move {
        let req = efs.update_file_system().file_system_id(fs);
        let req = match mibps {
            Some(m) => req
                .throughput_mode(ThroughputMode::Provisioned)
                .provisioned_throughput_in_mibps(m),
            None => req.throughput_mode(ThroughputMode::Bursting),
        };
        req.send().await.unwrap();
    }
}

struct Doctor {
    code: i32,
    doc: Value,
    stderr: String,
}

impl Doctor {
    /// (pair or "efs-dr", check) of each check with `verdict`.
    fn with(&self, verdict: &str) -> Vec<(String, String)> {
        self.doc["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["verdict"] == verdict)
            .map(|c| {
                (
                    c["pair"].as_str().unwrap_or("efs-dr").to_string(),
                    c["check"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn check(&self, name: &str) -> &Value {
        self.doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {}", self.doc))
    }

    /// Exactly `check` of pair `pair` fails, with a next step; exit 2.
    fn fails_only(&self, pair: &str, check: &str) {
        assert_eq!(self.code, 2, "{}\n{}", self.doc, self.stderr);
        assert_eq!(
            self.with("fail"),
            [(pair.to_string(), check.to_string())],
            "{}",
            self.doc
        );
        assert!(self.with("unknown").is_empty(), "{}", self.doc);
        let next = self.check(check)["next"].as_str().unwrap_or_default();
        assert!(!next.is_empty(), "{check} says what to do: {}", self.doc);
    }
}

async fn doctor(d: &Drill, args: &[&str]) -> Doctor {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let run = d.efs_dr(&all).await;
    let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor prints one JSON document ({e}): {}\n{}",
            run.stdout, run.stderr
        )
    });
    Doctor {
        code: run.code,
        doc,
        stderr: run.stderr,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_pair_is_ready_and_each_broken_check_is_named_with_its_next_step() {
    let d = drill(&["app"]).await;
    crate::writes_on_a::with_backup(&d);
    crate::writes_on_a::vault(&d).await;
    d.ok(&["init", "--yes"]).await;
    mount_targets(&d).await;
    let (a, b) = (d.pairs[0].a.clone(), d.pairs[0].b.clone());
    throughput(&d, A_REGION, &a, Some(256.0)).await;
    throughput(&d, B_REGION, &b, Some(256.0)).await;

    let healthy = doctor(&d, &[]).await;
    assert_eq!(healthy.code, 0, "{}\n{}", healthy.doc, healthy.stderr);
    assert!(healthy.with("fail").is_empty(), "{}", healthy.doc);
    assert_eq!(healthy.doc["ready"], true);
    for check in [
        "replication",
        "lag-history",
        "mount-targets",
        "capacity",
        "protection",
        "backup-vault",
        "terraform",
        "state",
        "drift",
        "lease",
    ] {
        assert_eq!(
            healthy.check(check)["verdict"],
            "ok",
            "{check}: {}",
            healthy.doc
        );
    }
    // The drill keeps its state on this machine: a warning, which --strict counts.
    assert_eq!(
        healthy.with("warn"),
        [("efs-dr".to_string(), "state-backend".to_string())]
    );
    assert_eq!(doctor(&d, &["--strict"]).await.code, 2);

    // B's mount target in zone b deleted: after a failover the application there has nothing
    // to mount.
    let efs_b = efs_dr_testkit::efs(&d.ts.url, B_REGION);
    let targets = efs_b
        .describe_mount_targets()
        .file_system_id(b.as_str())
        .send()
        .await
        .unwrap();
    let in_b = targets
        .mount_targets()
        .iter()
        .find(|t| t.availability_zone_name() == Some("us-west-2b"))
        .unwrap()
        .mount_target_id()
        .to_string();
    efs_b
        .delete_mount_target()
        .mount_target_id(&in_b)
        .send()
        .await
        .unwrap();
    settle_mount_targets(&d).await;
    let broken = doctor(&d, &[]).await;
    broken.fails_only("app", "mount-targets");
    assert!(
        broken.check("mount-targets")["next"]
            .as_str()
            .unwrap()
            .contains("create-mount-target"),
        "{}",
        broken.doc
    );
    efs_b
        .create_mount_target()
        .file_system_id(b.as_str())
        .subnet_id("subnet-00000001")
        .send()
        .await
        .unwrap();
    settle_mount_targets(&d).await;
    assert_eq!(doctor(&d, &[]).await.code, 0);

    // The replication paused on a permissions problem.
    d.ts.control
        .set_replication_status(&a, "PAUSED", Some("the service-linked role is missing"))
        .await
        .unwrap();
    let paused = doctor(&d, &[]).await;
    paused.fails_only("app", "replication");
    assert!(
        paused.check("replication")["text"]
            .as_str()
            .unwrap()
            .contains("PAUSED: the service-linked role is missing"),
        "{}",
        paused.doc
    );
    d.ts.control
        .set_replication_status(&a, "ENABLED", None)
        .await
        .unwrap();
    d.ts.control.advance(120.0).await.unwrap();
    assert_eq!(doctor(&d, &[]).await.code, 0);

    // B's throughput lowered below A's provisioned 256 MiB/s.
    throughput(&d, B_REGION, &b, None).await;
    let slow = doctor(&d, &[]).await;
    slow.fails_only("app", "capacity");
    assert!(
        slow.check("capacity")["next"]
            .as_str()
            .unwrap()
            .contains("--provisioned-throughput-in-mibps 256"),
        "{}",
        slow.doc
    );
    throughput(&d, B_REGION, &b, Some(512.0)).await;
    assert_eq!(doctor(&d, &[]).await.code, 0);

    // The vault named in the backup block does not exist.
    let config = std::fs::read_to_string(d.config()).unwrap();
    std::fs::write(
        d.config(),
        config.replace("vault    = \"efs-dr\"", "vault    = \"gone\""),
    )
    .unwrap();
    doctor(&d, &[]).await.fails_only("app", "backup-vault");
    std::fs::write(d.config(), &config).unwrap();

    // The state's bucket in A's region: lost with A.
    let moto = efs_dr_testkit::Moto::start().await;
    moto.create_bucket("efs-dr-state").await;
    let in_a = crate::shared_state::shared_config(&d, &moto.url, "efs-dr-state", "120m");
    assert!(
        in_a.contains("region = \"us-east-1\""),
        "the bucket is in A's region"
    );
    std::fs::write(d.config(), &in_a).unwrap();
    let bucket = doctor(&d, &[]).await;
    bucket.fails_only("efs-dr", "state-backend");
    std::fs::write(d.config(), &config).unwrap();

    // Sync stopped for longer than max_lag (15 min) earlier today: caught up now, yet a
    // failover in that spell would have lost 20 minutes.
    d.ts.control
        .set_replication_status(&a, "PAUSED", None)
        .await
        .unwrap();
    d.ts.control.advance(20.0 * 60.0).await.unwrap();
    d.ts.control
        .set_replication_status(&a, "ENABLED", None)
        .await
        .unwrap();
    d.ts.control.advance(120.0).await.unwrap();
    let history = doctor(&d, &[]).await;
    history.fails_only("app", "lag-history");
    let text = history.check("lag-history")["text"].as_str().unwrap();
    assert!(text.contains("more than max_lag 15m"), "{text}");

    // The human table says the same, one line per check, the next step under a failure.
    let human = d
        .command_output(&d.config(), "human", &["doctor"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert_eq!(human.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("FAIL    pair app  lag-history"), "{stderr}");
    assert!(
        stderr.contains("next: find out why it stopped syncing"),
        "{stderr}"
    );
    assert!(stderr.contains("not ready: 1 failed"), "{stderr}");
}
