//! `efs-dr rehearse`: the operator's own configuration played end to end on an in-process
//! simulator, with every AWS endpoint the environment names pointing at a closed port.

use std::process::Stdio;

const CONFIG: &str = r#"terraform {
  dir    = "terraform"
  binary = "terraform"
  backend "s3" {
    bucket       = "acme-terraform-state"
    key          = "efs-dr/terraform.tfstate"
    region       = "us-west-2"
    use_lockfile = true
  }
}

gates {
  poll_interval       = "5s"
  replication_timeout = "2h"
  max_lag             = "15m"
  quiesce_window      = "2m"
}

alarms {
  sns_topic_arns = ["arn:aws:sns:us-east-1:123456789012:dr", "arn:aws:sns:us-west-2:123456789012:dr", "arn:aws:sns:eu-west-1:123456789012:dr", "arn:aws:sns:eu-central-1:123456789012:dr"]
}

pair "home" {
  primary {
    region         = "us-east-1"
    file_system_id = "fs-0123456789abcdef0"
  }
  secondary {
    region         = "us-west-2"
    file_system_id = "fs-0fedcba9876543210"
  }
  backup {
    vault    = "efs-dr"
    role_arn = "arn:aws:iam::123456789012:role/efs-dr-backup"
  }
}

pair "media" {
  primary {
    region         = "eu-west-1"
    file_system_id = "fs-01234567"
  }
  secondary {
    region         = "eu-central-1"
    file_system_id = "fs-89abcdef"
  }
}

pair "builds" {
  primary {
    region         = "us-east-1"
    file_system_id = "fs-00000000000000001"
  }
  secondary {
    region         = "us-west-2"
    file_system_id = "fs-00000000000000002"
  }
}
"#;

async fn rehearse(dir: &std::path::Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let config = dir.join("efs-dr.hcl");
    let script = crate::hooks::hook_script(dir);
    std::fs::write(
        &config,
        format!("{CONFIG}{}", crate::hooks::hooks_block(&script)),
    )
    .unwrap();
    // Every endpoint the environment names is a closed port: the rehearsal must reach nothing
    // but its own simulator.
    let closed = "http://127.0.0.1:1";
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_efs-dr"));
    cmd.arg("--config")
        .arg(&config)
        .args(["--output", "json", "rehearse"])
        .args(args)
        .args(["--time-scale", "600"])
        .arg("--dir")
        .arg(dir.join("rehearsal"))
        .env("PATH", efs_dr_testkit::path_with_tools())
        .envs(efs_dr_testkit::tf_env(closed));
    for service in ["EFS", "CLOUDWATCH", "STS", "BACKUP", "S3"] {
        cmd.env(format!("AWS_ENDPOINT_URL_{service}"), closed);
    }
    let out = cmd
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let last = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("operations").is_some())
        .unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        last,
        format!("{stdout}\n{stderr}"),
    )
}

fn phase_seconds(op: &serde_json::Value, title_part: &str) -> f64 {
    op["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"].as_str().unwrap().contains(title_part))
        .unwrap_or_else(|| panic!("no phase with {title_part:?}: {op}"))["aws_seconds"]
        .as_f64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_all_plays_three_pairs_with_backup_alarms_and_hooks_and_touches_nothing_but_its_simulator(
) {
    let dir = tempfile::tempdir().unwrap();
    let (code, result, shown) = rehearse(dir.path(), &["all"]).await;
    assert_eq!(code, 0, "{shown}");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["pairs"], 3);
    let ops: Vec<&str> = result["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["init", "failover", "failback"], "{result}");
    // AWS's usual 8-minute deletion at least, in AWS time, whatever the wall clock did; the
    // local work beside it counts at the time scale.
    let failover = &result["operations"][1];
    let removal = phase_seconds(failover, "remove A -> B");
    let wall = failover["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"].as_str().unwrap().contains("remove A -> B"))
        .unwrap()["wall_seconds"]
        .as_f64()
        .unwrap();
    assert!(
        removal >= 480.0 && removal <= 480.0 + 600.0 * wall + 60.0,
        "{removal} s in {wall} s of wall time: {failover}"
    );
    assert_eq!(result["time_scale"], 600.0);
    assert!(result["usual_durations"].as_str().unwrap().contains("8m"));
    // Every report was written, in the rehearsal's folder.
    for op in result["operations"].as_array().unwrap() {
        let report = std::path::PathBuf::from(op["report"].as_str().unwrap());
        assert!(
            report.starts_with(dir.path().join("rehearsal")),
            "{report:?}"
        );
        assert!(report.exists());
    }
    // Every hook ran for every pair, told that it is a rehearsal, with the simulator's ids.
    let log = std::fs::read_to_string(dir.path().join("hooks.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 12, "4 hooks x 3 pairs: {log}");
    assert!(
        lines.iter().all(|l| l.ends_with(" true")),
        "EFS_DR_REHEARSAL: {log}"
    );
    for hook in [
        "stop_writes_on_a",
        "serve_from_b",
        "stop_writes_on_b",
        "serve_from_a",
    ] {
        assert_eq!(
            lines.iter().filter(|l| l.starts_with(hook)).count(),
            3,
            "{log}"
        );
    }
    assert!(
        !log.contains("fs-0123456789abcdef0"),
        "the simulator's ids: {log}"
    );
    // The operator's own root is untouched: nothing was rendered beside their config.
    assert!(!dir.path().join("terraform").exists());
    // The copy of the root holds no backend: its state is the rehearsal's own.
    let main_tf =
        std::fs::read_to_string(dir.path().join("rehearsal/terraform/versions.tf")).unwrap();
    assert!(!main_tf.contains("acme-terraform-state"), "{main_tf}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_the_unplanned_failover_plays_it_with_every_primary_region_down() {
    let dir = tempfile::tempdir().unwrap();
    let (code, result, shown) = rehearse(dir.path(), &["failover", "--unplanned"]).await;
    assert_eq!(code, 0, "{shown}");
    let ops: Vec<&str> = result["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["init", "failover --unplanned"], "{result}");
    let report = std::fs::read_to_string(
        std::path::PathBuf::from(result["operations"][1]["report"].as_str().unwrap())
            .with_extension("json"),
    )
    .unwrap();
    assert!(report.contains("state rm"), "the forget ran: {report}");
}
