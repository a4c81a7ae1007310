//! Phase hooks: the operator's commands at the named points of a failover and a failback, with
//! their variables, stopping the run when they fail, never repeated once they succeeded (also
//! from another machine on a shared state), and skipped where an unplanned failover cannot
//! reach A.

use std::path::{Path, PathBuf};

use efs_dr::dr::events::EventKind;
use efs_dr_testkit::drill::Drill;
use efs_dr_testkit::Moto;

use crate::dr::{drill, A_REGION, B_REGION};

/// A hook script that appends its variables to `log` and fails while `fail-<hook>` exists
/// beside it.
pub(crate) fn hook_script(dir: &Path) -> PathBuf {
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
here="$(dirname "$0")"
echo "$EFS_DR_HOOK $EFS_DR_OPERATION $EFS_DR_PHASE $EFS_DR_PAIR $EFS_DR_ACTIVE $EFS_DR_ACTIVE_DNS_NAME $EFS_DR_PRIMARY_FILE_SYSTEM_ID $EFS_DR_SECONDARY_FILE_SYSTEM_ID $EFS_DR_UNPLANNED $EFS_DR_REHEARSAL" >> "$here/hooks.log"
if [ -e "$here/fail-$EFS_DR_HOOK" ]; then
  echo "cannot reach the application's load balancer" >&2
  exit 3
fi
"#,
    )
    .unwrap();
    script
}

/// A top-level hooks block running `script` at every point.
pub(crate) fn hooks_block(script: &Path) -> String {
    let s = script.display();
    format!(
        "\nhooks {{\n  stop_writes_on_a = \"sh {s}\"\n  serve_from_b     = \"sh {s}\"\n  stop_writes_on_b = \"sh {s}\"\n  serve_from_a     = \"sh {s}\"\n  timeout          = \"1m\"\n}}\n"
    )
}

fn log(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("hooks.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect()
}

fn hooks_in(log: &[Vec<String>]) -> Vec<&str> {
    log.iter().map(|l| l[0].as_str()).collect()
}

fn with_hooks(d: &Drill) -> PathBuf {
    let script = hook_script(d.dir.path());
    let mut config = std::fs::read_to_string(d.config()).unwrap();
    config.push_str(&hooks_block(&script));
    std::fs::write(d.config(), config).unwrap();
    d.dir.path().to_path_buf()
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_run_at_each_point_of_a_failover_and_a_failback_with_their_variables() {
    let d = drill(&["app"]).await;
    let dir = with_hooks(&d);
    let (a, b) = (d.pairs[0].a.to_string(), d.pairs[0].b.to_string());
    d.ok(&["init", "--yes"]).await;
    assert!(log(&dir).is_empty(), "init runs no hook");

    let failover = d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    let steps = failover.steps_started();
    assert_eq!(
        steps,
        [
            "app:stop_writes_on_a",
            "app:check_rpo",
            "app:remove_forward",
            "app:serve_from_b"
        ],
        "the hook phases where the README's phase table puts them"
    );
    let l = log(&dir);
    assert_eq!(hooks_in(&l), ["stop_writes_on_a", "serve_from_b"]);
    let b_dns = format!("{b}.efs.{B_REGION}.amazonaws.com");
    let a_dns = format!("{a}.efs.{A_REGION}.amazonaws.com");
    assert_eq!(
        l[1],
        [
            "serve_from_b",
            "failover",
            "serve_from_b",
            "app",
            "secondary",
            &b_dns,
            &a,
            &b,
            "false",
            "false"
        ]
    );
    assert_eq!(l[0][4], "primary", "A still serves while its writes stop");
    // Each hook's output and outcome is in the events (and so in the report).
    let ran = failover
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::HookRan { outcome, .. } if outcome.succeeded()))
        .count();
    assert_eq!(ran, 2);
    assert!(failover.report_markdown().contains("hook serve_from_b"));

    // Running the failover again repeats nothing.
    d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    assert_eq!(log(&dir).len(), 2);

    let failback = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    let steps = failback.steps_started();
    let at = |s: &str| steps.iter().position(|x| x == &format!("app:{s}")).unwrap();
    assert!(at("create_reverse") < at("stop_writes_on_b"));
    assert!(at("stop_writes_on_b") < at("quiesce"));
    assert!(at("remove_reverse") < at("serve_from_a"));
    assert!(at("serve_from_a") < at("create_forward"));
    let l = log(&dir);
    assert_eq!(
        hooks_in(&l),
        [
            "stop_writes_on_a",
            "serve_from_b",
            "stop_writes_on_b",
            "serve_from_a"
        ]
    );
    assert_eq!(
        &l[3][..6],
        [
            "serve_from_a",
            "failback",
            "serve_from_a",
            "app",
            "primary",
            &a_dns
        ]
    );
    assert_eq!(l[2][4], "secondary", "B still serves while its writes stop");
}

/// The state in S3 (moto), two checkouts: machine 1's failback stops at a failing hook, with
/// nothing after it changed; machine 2 runs it again and repeats no hook that succeeded.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_hook_stops_the_run_and_a_rerun_elsewhere_repeats_only_what_did_not_succeed() {
    let moto = Moto::start().await;
    moto.create_bucket(crate::shared_state::BUCKET).await;
    let d = drill(&["home"]).await;
    let shared = tempfile::tempdir().unwrap();
    let script = hook_script(shared.path());
    let text = format!(
        "{}{}",
        crate::shared_state::shared_config_in(
            &d,
            &moto.url,
            crate::shared_state::BUCKET,
            "40m",
            B_REGION
        ),
        hooks_block(&script)
    );
    let machine = |name: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("efs-dr.hcl"), &text).unwrap();
        (dir, name.to_string())
    };
    let (one, two) = (machine("machine-1"), machine("machine-2"));
    let run = |m: &(tempfile::TempDir, String), args: &'static [&'static str]| {
        let mut cmd = d.command_with(&m.0.path().join("efs-dr.hcl"), args);
        cmd.env("EFS_DR_HOST", &m.1);
        async move { efs_dr_testkit::drill::Run::of(cmd.output().await.unwrap()) }
    };
    for args in [
        &["init", "--yes"][..],
        &["failover", "--yes", "--writes-stopped"][..],
    ] {
        let r = run(&one, args).await;
        assert_eq!(r.code, 0, "{args:?}: {}\n{}", r.stdout, r.stderr);
    }
    assert_eq!(
        hooks_in(&log(shared.path())),
        ["stop_writes_on_a", "serve_from_b"]
    );

    // serve_from_a fails on machine 1: A -> B is not created after it.
    std::fs::write(shared.path().join("fail-serve_from_a"), "").unwrap();
    let failed = run(&one, &["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(failed.code, 2, "{}\n{}", failed.stdout, failed.stderr);
    assert!(
        failed.stderr.contains("serve_from_a") && failed.stderr.contains("load balancer"),
        "the hook and its output: {}",
        failed.stderr
    );
    assert!(!failed
        .steps_started()
        .contains(&"home:create_forward".to_string()));
    assert!(
        d.replications(A_REGION).await.is_empty(),
        "nothing after the hook"
    );
    assert!(d.replications(B_REGION).await.is_empty());
    let report = failed.report();
    assert!(
        report["timeline"].to_string().contains("serve_from_a"),
        "the report names the hook"
    );
    assert_eq!(
        hooks_in(&log(shared.path())),
        [
            "stop_writes_on_a",
            "serve_from_b",
            "stop_writes_on_b",
            "serve_from_a"
        ]
    );

    // Machine 2 (another checkout, the same S3 state): only serve_from_a runs again.
    std::fs::remove_file(shared.path().join("fail-serve_from_a")).unwrap();
    let done = run(&two, &["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    assert_eq!(
        done.steps_started(),
        ["home:serve_from_a", "home:create_forward"]
    );
    assert_eq!(
        hooks_in(&log(shared.path())),
        [
            "stop_writes_on_a",
            "serve_from_b",
            "stop_writes_on_b",
            "serve_from_a",
            "serve_from_a"
        ]
    );
    // The record lives beside the state, in the bucket.
    let (record, _) = crate::shared_state::object(&moto, "dr/terraform.tfstate.efs-dr-hooks")
        .await
        .expect("the hook record beside the state");
    assert!(record.to_string().contains("serve_from_a"), "{record}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unplanned_failover_skips_the_hook_that_needs_a_and_says_so() {
    let d = drill(&["app"]).await;
    let dir = with_hooks(&d);
    d.ok(&["init", "--yes"]).await;
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    let run = d.ok(&["failover", "--unplanned", "--yes"]).await;
    let l = log(&dir);
    assert_eq!(hooks_in(&l), ["serve_from_b"]);
    assert_eq!(l[0][8], "true", "EFS_DR_UNPLANNED");
    assert!(run
        .steps_started()
        .last()
        .unwrap()
        .ends_with(":serve_from_b"));
    let report = run.report_markdown();
    assert!(
        report.contains("stop_writes_on_a hook is skipped"),
        "{report}"
    );
}

/// A fleet's hooks of one phase run at once (at most `max_parallel`): three pairs' serve_from_b
/// hooks each wait until all three have started, which hooks run one after another never reach.
/// When one pair's hook fails, the others' successes are recorded and the rerun runs only the
/// one that failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_fleets_hooks_of_one_phase_run_at_once_and_a_failure_keeps_the_others_successes() {
    let d = drill(&["app", "media", "logs"]).await;
    let dir = d.dir.path().to_path_buf();
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
here="$(dirname "$0")"
touch "$here/started-$EFS_DR_HOOK-$EFS_DR_PAIR"
n=0
while [ "$(ls "$here" | grep -c "^started-$EFS_DR_HOOK-")" -lt 3 ]; do
  n=$((n + 1))
  if [ "$n" -gt 600 ]; then
    echo "the other pairs' $EFS_DR_HOOK hooks never started: they ran one after another" >&2
    exit 1
  fi
  sleep 0.1
done
echo "$EFS_DR_HOOK $EFS_DR_PAIR" >> "$here/hooks.log"
if [ -e "$here/fail-$EFS_DR_PAIR" ]; then
  echo "cannot reach $EFS_DR_PAIR's load balancer" >&2
  exit 3
fi
"#,
    )
    .unwrap();
    let mut config = std::fs::read_to_string(d.config()).unwrap();
    config.push_str(&format!(
        "\nhooks {{\n  serve_from_b = \"sh {s}\"\n  serve_from_a = \"sh {s}\"\n  timeout      = \"2m\"\n  max_parallel = 3\n}}\n",
        s = script.display()
    ));
    std::fs::write(d.config(), config).unwrap();
    let ran = || -> Vec<String> {
        let mut lines: Vec<String> = std::fs::read_to_string(dir.join("hooks.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    d.ok(&["init", "--yes"]).await;
    d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    assert_eq!(
        ran(),
        [
            "serve_from_b app",
            "serve_from_b logs",
            "serve_from_b media"
        ]
    );

    // serve_from_a fails for media only: the run stops with exit 2 naming it; app's and logs'
    // successes are recorded, and no A -> B is created.
    std::fs::write(dir.join("fail-media"), "").unwrap();
    let failback = d.efs_dr(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(failback.code, 2, "{}\n{}", failback.stdout, failback.stderr);
    assert!(
        failback.stderr.contains("media") && failback.stderr.contains("load balancer"),
        "{}",
        failback.stderr
    );
    assert_eq!(
        ran()
            .iter()
            .filter(|l| l.starts_with("serve_from_a"))
            .count(),
        3
    );
    assert!(d.replications(B_REGION).await.is_empty());

    // Fixed: the rerun runs media's hook alone (the barrier would hold it: let it through).
    std::fs::remove_file(dir.join("fail-media")).unwrap();
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"$EFS_DR_HOOK $EFS_DR_PAIR again\" >> \"$(dirname \"$0\")/hooks.log\"\n",
    )
    .unwrap();
    d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    let again: Vec<String> = ran().into_iter().filter(|l| l.ends_with("again")).collect();
    assert_eq!(again, ["serve_from_a media again"]);
    assert_eq!(d.replications(B_REGION).await.len(), 3);
}

/// A planned failover abandoned after its stop_writes_on_a hook (its RPO check refused), and
/// the application restarted on A: the next failover does not take the old record's word. A was
/// written after the hook succeeded, so the hook runs again before the cut-over, and the run
/// says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_hook_of_an_abandoned_failover_runs_again_once_a_was_written_since() {
    let d = drill(&["app"]).await;
    let dir = with_hooks(&d);
    let a = d.pairs[0].a.to_string();
    d.ok(&["init", "--yes"]).await;
    d.ts.control
        .set_replication_status(&a, "ERROR", Some("the destination is out of capacity"))
        .await
        .unwrap();
    let refused = d.efs_dr(&["failover", "--yes", "--writes-stopped"]).await;
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    assert_eq!(hooks_in(&log(&dir)), ["stop_writes_on_a"]);

    // Abandoned: the replication mended, the application back on A and writing.
    d.ts.control
        .set_replication_status(&a, "ENABLED", None)
        .await
        .unwrap();
    d.ts.control
        .write_file(&a, "app/after-the-abandoned-failover.txt", b"written on A")
        .await
        .unwrap();
    d.ts.control.advance(300.0).await.unwrap();

    let failover = d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    assert_eq!(
        hooks_in(&log(&dir)),
        ["stop_writes_on_a", "stop_writes_on_a", "serve_from_b"],
        "the stop hook runs again before the cut-over"
    );
    let warned = failover.warnings();
    assert!(
        warned
            .iter()
            .any(|w| w.contains(&a) && w.contains("stop_writes_on_a") && w.contains("runs again")),
        "{warned:?}"
    );
    let on_b = d.ts.control.digest(&d.pairs[0].b).await.unwrap();
    assert!(
        on_b.contains_key("app/after-the-abandoned-failover.txt"),
        "{on_b:?}"
    );
}

/// Each hook's success is recorded as it ends, not when the phase's last hook ends: a run
/// killed while media's hook still runs has app's recorded, and the same command then runs
/// media's alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_while_a_pairs_hook_runs_keeps_the_others_that_ended() {
    let d = drill(&["app", "media"]).await;
    let dir = d.dir.path().to_path_buf();
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
here="$(dirname "$0")"
if [ "$EFS_DR_PAIR" = media ]; then
  n=0
  while [ ! -e "$here/release" ]; do
    n=$((n + 1))
    [ "$n" -gt 1200 ] && exit 1
    sleep 0.1
  done
fi
echo "$EFS_DR_HOOK $EFS_DR_PAIR" >> "$here/hooks.log"
"#,
    )
    .unwrap();
    let mut config = std::fs::read_to_string(d.config()).unwrap();
    config.push_str(&format!(
        "\nhooks {{\n  serve_from_b = \"sh {}\"\n  timeout      = \"5m\"\n}}\n",
        script.display()
    ));
    std::fs::write(d.config(), config).unwrap();
    d.ok(&["init", "--yes"]).await;

    let mut run = d
        .command(&["failover", "--yes", "--writes-stopped"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // app's hook ended and is recorded while media's still waits: kill the run there.
    let record = d.tf_dir().join(".efs-dr-hooks.json");
    let recorded = |pair: &str| {
        std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| {
                v["done"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["pair"] == pair && d["hook"] == "serve_from_b")
            })
    };
    let mut waited = 0;
    while !recorded("app") {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before app's hook was recorded"
        );
        waited += 1;
        assert!(waited < 1200, "app's hook was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!recorded("media"));
    run.start_kill().unwrap();
    run.wait().await.unwrap();

    std::fs::write(dir.join("release"), "").unwrap();
    d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    let log = std::fs::read_to_string(dir.join("hooks.log")).unwrap();
    let count = |line: &str| log.lines().filter(|l| *l == line).count();
    assert_eq!(count("serve_from_b app"), 1, "{log}");
    assert!(count("serve_from_b media") >= 1, "{log}");
    assert!(recorded("media"));
}
