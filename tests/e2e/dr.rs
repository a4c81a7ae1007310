//! The orchestrator end to end: the efs-dr binary, real Terraform with the stand-in provider,
//! and the simulator at a high time scale. Every check reads AWS (the simulator's API and its
//! file listing) or the Terraform state, never efs-dr's own word alone. The drill itself is the
//! test kit's (`efs_dr_testkit::drill`).

use std::process::Stdio;
use std::time::Duration;

use efs_dr::dr::events::{Event, EventKind};
use efs_dr::dr::phase::{SdkChange, Step};
use efs_dr_sim::{SimOptions, Simulator};
pub(crate) use efs_dr_testkit::drill::{config_text, Drill, Run, A_REGION, B_REGION, SCALE};
use efs_dr_testkit::{file_system, TestSim};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Points of a run to kill it at (with the step).
const GATE_POLLED: fn(&EventKind) -> bool = |k| matches!(k, EventKind::GatePolled { .. });
const PLAN_SUMMARY: fn(&EventKind) -> bool = |k| matches!(k, EventKind::PlanSummary { .. });
const SDK_CHANGE: fn(&EventKind) -> bool = |k| matches!(k, EventKind::SdkChange { .. });

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_efs-dr");

/// A drill of the binary under test with `names` pairs, at [`SCALE`].
pub(crate) async fn drill(names: &[&str]) -> Drill {
    efs_dr_testkit::drill::drill(BIN, names).await
}

/// A drill of the binary under test on a simulator started with `opts`.
pub(crate) async fn drill_with(names: &[&str], opts: SimOptions) -> Drill {
    efs_dr_testkit::drill::drill_with(BIN, names, opts).await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_pairs_fail_over_and_back_with_writes_on_b() {
    let d = drill(&["alpha", "beta"]).await;
    let init = d.ok(&["init", "--yes"]).await;
    assert!(init
        .steps_started()
        .contains(&"alpha:create_forward".to_string()));
    let state = d.state().await;
    assert_eq!(state.len(), 2, "{state:?}");

    // Planned failover of both pairs at once: one plan removes both replications.
    let plan = d.ok(&["plan", "failover"]).await;
    let doc: Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(doc["pairs"][0]["phases"][1]["step"], "remove_forward");
    let actions = doc["pairs"][0]["phases"][1]["actions"].as_array().unwrap();
    let kinds: Vec<&str> = actions
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["confirm", "set_direction", "plan_check_apply", "gate"],
        "{actions:?}"
    );
    assert_eq!(actions[2]["allowed"][0]["kind"], "delete");

    let failover = d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    let plans: Vec<&Event> = failover
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::PlanSummary { .. }))
        .collect();
    assert_eq!(plans.len(), 2, "one plan summary per pair");
    for p in &d.pairs {
        assert_eq!(d.protection(B_REGION, &p.b).await, "ENABLED", "B writable");
    }
    assert!(d.replications(A_REGION).await.is_empty());
    assert!(d.replications(B_REGION).await.is_empty());
    assert!(
        d.state().await.is_empty(),
        "the state no longer holds the replications"
    );
    let report = failover.report();
    for p in report["pairs"].as_array().unwrap() {
        assert!(
            p["rto"]["aws_seconds"].as_f64().unwrap() >= 480.0,
            "RTO includes AWS's deletion: {p}"
        );
        assert_eq!(p["data_at_risk_seconds"], 0.0, "writes had stopped: {p}");
    }
    // Running it again: nothing to do.
    let again = d.ok(&["failover", "--yes"]).await;
    assert!(
        again.finished_message().contains("nothing to do"),
        "{}",
        again.stdout
    );

    d.write_on_b("during").await;

    let failback = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    let steps = failback.steps_started();
    for step in [
        "disable_protection_a",
        "create_reverse",
        "quiesce",
        "disable_protection_b",
        "remove_reverse",
        "create_forward",
    ] {
        assert!(steps.contains(&format!("alpha:{step}")), "{steps:?}");
        assert!(steps.contains(&format!("beta:{step}")), "{steps:?}");
    }
    d.assert_home_with_everything(&["during"]).await;
    let report = failback.report();
    assert_eq!(
        report["sdk_changes"].as_array().unwrap().len(),
        4,
        "A and B protection per pair"
    );
    assert_eq!(report["terraform_changes"].as_array().unwrap().len(), 6);
    let md = failback.report_markdown();
    assert!(
        md.contains("## Timeline") && md.contains("create B -> A"),
        "{md}"
    );

    let again = d.ok(&["failback", "--yes"]).await;
    assert!(
        again.finished_message().contains("nothing to do"),
        "{}",
        again.stdout
    );
    let status = d.ok(&["status"]).await;
    let doc: Value = serde_json::from_str(&status.stdout).unwrap();
    for p in doc["pairs"].as_array().unwrap() {
        assert_eq!(p["live_direction"], "forward");
        assert_eq!(p["desired_direction"], "forward");
        assert_eq!(p["drift"].as_array().unwrap().len(), 0, "{p}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unplanned_failover_with_a_down_then_failback_cleans_the_stale_configuration() {
    let d = drill_with(
        &["app", "web"],
        SimOptions {
            time_scale: 300.0,
            seed: Some(8),
            ..SimOptions::default()
        },
    )
    .await;
    d.ok(&["init", "--yes"]).await;
    d.ts.control.set_outage(A_REGION, true).await.unwrap();

    let planned = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(planned.code, 2, "{}", planned.stdout);
    assert!(planned.finished_message().contains("--unplanned"));

    let run = d.ok(&["failover", "--unplanned", "--yes"]).await;
    let sdk = run
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::SdkChange { change, .. } => Some(change),
            _ => None,
        })
        .expect("an SDK delete");
    assert!(
        matches!(
            sdk,
            SdkChange::DeleteReplication {
                local_only: true,
                ..
            }
        ),
        "{sdk:?}"
    );
    // B writable before Terraform runs at all: the gate passed, then the state was reconciled.
    let idx = |pred: &dyn Fn(&Event) -> bool| run.events.iter().position(pred).unwrap();
    let writable = idx(&|e| {
        matches!(e.kind, EventKind::GatePassed { .. }) && e.step == Some(Step::DeleteForwardFromB)
    });
    let state_rm = idx(
        &|e| matches!(&e.kind, EventKind::StateChanged { command, .. } if command == "state rm"),
    );
    assert!(writable < state_rm);
    // Both pairs forgotten (one `terraform state rm` for the fleet), A never read.
    let forgotten = run
        .events
        .iter()
        .filter(
            |e| matches!(&e.kind, EventKind::StateChanged { command, .. } if command == "state rm"),
        )
        .count();
    assert_eq!(forgotten, 2);
    assert!(d.state().await.is_empty(), "{:?}", d.state().await);
    let report = run.report();
    let rto = report["pairs"][0]["rto"]["aws_seconds"].as_f64().unwrap();
    assert!(
        (480.0..480.0 + 300.0).contains(&rto),
        "RTO = AWS deletion time + seconds, got {rto}"
    );
    assert!(report["pairs"][0]["notes"][0]
        .as_str()
        .unwrap()
        .contains("stale"));
    assert!(report["pairs"][0]["data_at_risk"]
        .as_str()
        .unwrap()
        .contains("unknown"));
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");
    assert!(d.state().await.is_empty());

    d.write_on_b("outage").await;
    // A still down: failback is an error that changes nothing.
    let early = d.efs_dr(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(early.code, 1, "{}", early.stdout);
    assert!(early.finished_message().contains("B keeps serving"));

    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    let stale = d.replications(A_REGION).await;
    assert_eq!(
        stale.len(),
        2,
        "A's region still holds each pair's stale configuration"
    );
    let status = d.ok(&["status"]).await;
    assert!(status.stdout.contains("stale"), "{}", status.stdout);

    let back = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(back.steps_started()[0], "app:cleanup_stale_on_a");
    d.assert_home_with_everything(&["outage"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failback_while_b_is_written_waits_then_refuses_and_loses_nothing() {
    let d = drill(&["app"]).await;
    d.write_config("40m", "terraform");
    d.ok(&["init", "--yes"]).await;
    d.ok(&["failover", "--yes"]).await;
    let p = &d.pairs[0];

    // The application keeps writing on B.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let control = d.ts.control.clone();
        let (fs, name) = (p.b.clone(), p.name.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                control
                    .write_file(&fs, &format!("{name}/live-{n}.txt"), b"still writing")
                    .await
                    .expect("B stays writable while the failback waits");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            n
        })
    };
    let run = d.efs_dr(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(run.code, 3, "gate timeout: {}\n{}", run.stdout, run.stderr);
    let msg = run.finished_message();
    assert!(
        msg.contains("Stop the application on B") || msg.contains("stop the application on B"),
        "{msg}"
    );
    assert!(msg.contains("nothing was cut over"), "{msg}");
    let waited: Vec<&Event> = run
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::GatePolled { .. }) && e.step == Some(Step::Quiesce))
        .collect();
    assert!(waited.len() > 3, "the gate polled while writes went on");
    // Not cut over: B -> A still replicating, B still writable.
    assert!(d
        .replications(A_REGION)
        .await
        .iter()
        .any(|r| r.0 == p.b && r.2 == "ENABLED"));
    assert_eq!(d.protection(B_REGION, &p.b).await, "ENABLED");

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.await.unwrap();
    let back = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    // Resumed at B -> A's gate (already true: no Terraform change), then the quiesce gate.
    assert_eq!(
        back.steps_started()[..2],
        ["app:create_reverse", "app:quiesce"]
    );
    assert!(
        !back
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Applied { .. })
                && e.step == Some(Step::CreateReverse)),
        "B -> A was not created again"
    );
    assert!(!back
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::SdkChange { .. })
            && e.step == Some(Step::DisableProtectionA)));
    let on_a = d.ts.control.digest(&p.a).await.unwrap();
    for n in 1..=written {
        assert!(
            on_a.contains_key(&format!("app/live-{n}.txt")),
            "live-{n} lost"
        );
    }
    d.assert_home_with_everything(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_in_each_phase_continues_when_run_again() {
    let d = drill(&["app"]).await;
    // init killed while Terraform creates A -> B: run again, it is not created twice.
    assert!(
        d.efs_dr_killed_at(&["init", "--yes"], |e| matches!(
            e.kind,
            EventKind::PlanSummary { .. }
        ))
        .await
    );
    d.ok(&["init", "--yes"]).await;
    assert_eq!(d.replications(B_REGION).await.len(), 1);
    assert_eq!(d.state().await.len(), 1);
    // Failover killed at its RPO gate, then during its Terraform apply, then run to its end.
    d.kill_at_each(
        &["failover", "--yes", "--writes-stopped"],
        &[
            (Step::CheckRpo, GATE_POLLED),
            (Step::RemoveForward, PLAN_SUMMARY),
        ],
    )
    .await;
    d.ok(&["failover", "--yes"]).await;
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");
    d.write_on_b("before-kills").await;

    // Failback: killed once inside each phase, each time run again from scratch.
    d.kill_at_each(
        &["failback", "--yes", "--writes-stopped"],
        &[
            (Step::DisableProtectionA, SDK_CHANGE),
            (Step::CreateReverse, PLAN_SUMMARY),
            (Step::Quiesce, GATE_POLLED),
            (Step::DisableProtectionB, SDK_CHANGE),
            (Step::RemoveReverse, PLAN_SUMMARY),
            (Step::CreateForward, PLAN_SUMMARY),
        ],
    )
    .await;
    let last = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    assert!(
        last.finished_message().contains("done")
            || last.finished_message().contains("nothing to do"),
        "{}",
        last.stdout
    );
    d.assert_home_with_everything(&["before-kills"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unplanned_failover_killed_in_each_phase_continues() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    d.kill_at_each(
        &["failover", "--unplanned", "--yes"],
        &[
            (Step::DeleteForwardFromB, GATE_POLLED),
            (Step::ForgetForward, |k| {
                matches!(k, EventKind::StateChanged { .. })
            }),
        ],
    )
    .await;
    let last = d.ok(&["failover", "--unplanned", "--yes"]).await;
    assert!(
        last.finished_message().contains("nothing to do")
            || last.finished_message().contains("done")
    );
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");
    assert!(d.state().await.is_empty());
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    d.write_on_b("unplanned").await;
    d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    d.assert_home_with_everything(&["unplanned"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_restarted_mid_run() {
    let state_dir = tempfile::tempdir().unwrap();
    let state_file = state_dir.path().join("sim.json");
    let d = drill_with(
        &["app"],
        SimOptions {
            time_scale: SCALE,
            seed: Some(9),
            state_file: Some(state_file.clone()),
            ..SimOptions::default()
        },
    )
    .await;
    d.ok(&["init", "--yes"]).await;
    d.ok(&["failover", "--yes"]).await;
    d.write_on_b("pre-restart").await;
    let addr = d.ts.sim.addr();

    let mut child = d
        .command(&["failback", "--yes", "--writes-stopped"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let Drill {
        ts,
        dir,
        pairs,
        bin,
    } = d;
    let mut ts = Some(ts);
    let mut restarted = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(e) = efs_dr_testkit::drill::event(&line) else {
            continue;
        };
        if restarted.is_none()
            && matches!(e.kind, EventKind::PhaseStarted { .. })
            && e.step == Some(Step::CreateReverse)
        {
            // Down while Terraform creates B -> A; back 300 ms later from its state file.
            ts.take().unwrap().sim.shutdown().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            restarted = Some(
                Simulator::start(SimOptions {
                    listen: addr,
                    time_scale: SCALE,
                    state_file: Some(state_file.clone()),
                    ..SimOptions::default()
                })
                .await
                .expect("restarts on the same port"),
            );
        }
    }
    let status = child.wait().await.unwrap();
    let sim = restarted.expect("restarted during the run");
    let url = sim.endpoint_url();
    let d = Drill {
        ts: TestSim {
            control: efs_dr_sim::ControlClient::new(&url),
            url,
            sim,
        },
        dir,
        pairs,
        bin,
    };
    if status.code() != Some(0) {
        // The run may stop with a clear error while AWS was away; run again continues.
        assert_eq!(
            status.code(),
            Some(1),
            "an error while AWS was away, not a gate timeout"
        );
        d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    }
    d.assert_home_with_everything(&["pre-restart"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_refused_with_clear_messages() {
    let d = drill(&["app"]).await;
    let p = &d.pairs[0];

    let run = d.efs_dr(&["failover", "--pair", "nope", "--yes"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("there is no pair \"nope\"") && run.stderr.contains("app"),
        "{}",
        run.stderr
    );

    // No terminal and no --yes: refused, nothing changed.
    let run = d.efs_dr(&["init"]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.finished_message().contains("--yes"));
    assert_eq!(d.protection(B_REGION, &p.b).await, "ENABLED", "B untouched");

    d.ok(&["init", "--yes"]).await;

    // A paused replication: a planned failover refuses unless forced.
    d.ts.control
        .set_replication_status(&p.a, "PAUSED", Some("paused by a test"))
        .await
        .unwrap();
    let run = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.finished_message().contains("PAUSED") && run.finished_message().contains("--force")
    );
    assert_eq!(d.replications(B_REGION).await.len(), 1, "nothing deleted");
    d.ts.control
        .set_replication_status(&p.a, "ENABLED", None)
        .await
        .unwrap();

    // A failback when the pair is home: nothing to do.
    let run = d.ok(&["failback", "--yes"]).await;
    assert!(run.finished_message().contains("nothing to do"));

    // After a failover, a replication in ERROR on the way back refuses.
    d.ok(&["failover", "--yes"]).await;
    let killed = d
        .efs_dr_killed_at(&["failback", "--yes", "--writes-stopped"], |e| {
            matches!(e.kind, EventKind::GatePassed { .. }) && e.step == Some(Step::CreateReverse)
        })
        .await;
    assert!(killed);
    d.ts.control
        .set_replication_status(&p.b, "ERROR", Some("broken by a test"))
        .await
        .unwrap();
    let run = d.efs_dr(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.finished_message().contains("ERROR"),
        "{}",
        run.finished_message()
    );

    // A file system that does not exist, or that is in another region.
    let stray = file_system(&d.ts, B_REGION, "stray").await;
    for (a, why) in [
        ("fs-0000000000000000a", "missing"),
        (stray.as_str(), "other region"),
    ] {
        let text = std::fs::read_to_string(d.config())
            .unwrap()
            .replace(&p.a, a);
        let other = d.dir.path().join(format!("{}.hcl", why.replace(' ', "-")));
        std::fs::write(&other, text).unwrap();
        let out = d
            .command_with(&other, &["failback", "--yes", "--dry-run"])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{why}: {stdout}");
        assert!(
            stdout.contains("does not exist in us-east-1"),
            "{why}: {stdout}"
        );
    }
}

/// Runs efs-dr on a terminal (util-linux `script` gives it a pty) and types `answer`.
async fn on_a_terminal(d: &Drill, args: &[&str], answer: &str) -> (i32, String) {
    use tokio::io::AsyncWriteExt;
    let std_cmd = d.command_with(&d.config(), args);
    let std_cmd = std_cmd.as_std();
    let line = std::iter::once(std_cmd.get_program())
        .chain(std_cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-qec", &line.replace("'json'", "'human'"), "/dev/null"])
        .envs(std_cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("script(1) runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(answer.as_bytes()).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    drop(stdin);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_is_asked_and_no_means_no() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    let (code, screen) = on_a_terminal(&d, &["failover"], "n\n").await;
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("Proceed? [y/N]"), "{screen}");
    assert_eq!(d.replications(B_REGION).await.len(), 1, "nothing removed");
    let (code, screen) = on_a_terminal(&d, &["failover"], "y\n").await;
    assert_eq!(code, 0, "{screen}");
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");
}

/// One question per run, as `terraform apply` asks: the whole route first, then only the
/// question that needs a fresh answer (writes stopped on B, at the cut-over).
#[tokio::test(flavor = "multi_thread")]
async fn a_failback_on_a_terminal_asks_once_for_the_route_and_once_at_the_cut_over() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    d.ok(&["failover", "--yes"]).await;
    let (code, screen) = on_a_terminal(&d, &["failback"], "y\ny\n").await;
    assert_eq!(code, 0, "{screen}");
    assert_eq!(screen.matches("Proceed? [y/N]").count(), 2, "{screen}");
    let route = screen
        .find("efs-dr failback will take these phases")
        .expect("the route comes first");
    let first = screen.find("Proceed? [y/N]").unwrap();
    assert!(route < first, "{screen}");
    for phase in [
        "1. set A's overwrite protection to DISABLED",
        "2. create B -> A",
        "3. wait until writes on B stopped",
        "asks then: stop the application writing to B",
        "6. create A -> B",
    ] {
        assert!(screen[route..first].contains(phase), "{phase}: {screen}");
    }
    let cut_over = &screen[first + 1..];
    assert!(
        cut_over.contains("stop the application writing to B now"),
        "{screen}"
    );
    assert_eq!(
        d.replications(A_REGION).await.len(),
        1,
        "A -> B again after the failback"
    );
    let report = d.last_report_json();
    let by: Vec<&str> = report["answers"]
        .as_array()
        .expect("the report lists its answers")
        .iter()
        .filter_map(|q| q["by"].as_str())
        .collect();
    assert_eq!(
        by,
        [
            "the operator at the terminal",
            "the operator at the terminal"
        ],
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_missing_too_old_or_locked() {
    let d = drill(&["app"]).await;
    d.write_config("40m", "/nonexistent/terraform");
    let run = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("/nonexistent/terraform"),
        "{}",
        run.stderr
    );
    // Status still shows what AWS says, and that the state is unknown.
    let status = d.efs_dr(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    let doc: Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(doc["pairs"][0]["state_forward"].is_null(), "{doc}");
    assert_eq!(doc["pairs"][0]["b"]["protection"], "ENABLED");
    assert!(status.stderr.contains("not shown"), "{}", status.stderr);

    let old = d.dir.path().join("old-terraform");
    std::fs::write(
        &old,
        "#!/bin/sh\necho '{\"terraform_version\":\"1.2.9\",\"platform\":\"linux_amd64\"}'\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&old).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    d.write_config("40m", old.to_str().unwrap());
    let run = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("1.2.9") && run.stderr.contains("1.5"),
        "{}",
        run.stderr
    );

    d.write_config("40m", "terraform");
    d.ok(&["init", "--yes"]).await;
    // Another operator's apply holds the state lock (a real fcntl lock, as Terraform takes).
    let lock_info = d.tf_dir().join(".terraform.tfstate.lock.info");
    std::fs::write(
        &lock_info,
        r#"{"ID":"5c0ffee0-1111-2222-3333-444455556666","Operation":"OperationTypeApply","Info":"","Who":"alice@ops-laptop","Version":"1.15.5","Created":"2026-11-21T03:00:00Z","Path":"terraform.tfstate"}"#,
    )
    .unwrap();
    let mut holder = tokio::process::Command::new("python3")
        .arg("-c")
        .arg("import fcntl,sys,time; f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)")
        .arg(d.tf_dir().join("terraform.tfstate"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let run = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let msg = run.finished_message();
    assert!(
        msg.contains("lock") && msg.contains("alice@ops-laptop") && msg.contains("5c0ffee0"),
        "{msg}"
    );
    assert_eq!(
        d.replications(B_REGION).await.len(),
        1,
        "nothing deleted while locked"
    );
    holder.kill().await.unwrap();
    let _ = std::fs::remove_file(&lock_info);
    d.ok(&["failover", "--yes"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_that_changes_more_than_the_phase_allows_is_refused() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    // Someone added a resource to the root efs-dr drives.
    std::fs::write(
        d.tf_dir().join("extra.tf"),
        "resource \"terraform_data\" \"surprise\" {\n  input = \"x\"\n}\n",
    )
    .unwrap();
    let vars = d.tf_dir().join("efs-dr.auto.tfvars.json");
    let before = std::fs::read_to_string(&vars).unwrap();
    let run = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let msg = run.finished_message();
    assert!(
        msg.contains("terraform_data.surprise") && msg.contains("nothing was applied"),
        "{msg}"
    );
    // The root does not ask for the refused change: a plain `terraform apply` by anyone would
    // delete the replication without a gate.
    assert_eq!(std::fs::read_to_string(&vars).unwrap(), before);
    assert_eq!(
        d.replications(B_REGION).await.len(),
        1,
        "the replication is still there"
    );
    assert_eq!(d.state().await.len(), 1);
    std::fs::remove_file(d.tf_dir().join("extra.tf")).unwrap();
    d.ok(&["failover", "--yes"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_server_errors_are_retried() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    d.ok(&["failover", "--yes"]).await;
    for (op, error) in [
        ("DescribeReplicationConfigurations", "ThrottlingException"),
        ("DescribeFileSystems", "InternalServerError"),
        ("UpdateFileSystemProtection", "ThrottlingException"),
        ("GetMetricData", "InternalServerError"),
    ] {
        d.ts.control.inject_fault(op, error, 2).await.unwrap();
    }
    d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    assert!(
        d.ts.control.pending_faults().await.unwrap().is_empty(),
        "every fault was met"
    );
    d.assert_home_with_everything(&[]).await;
}

/// The whole job on the oldest Terraform the README claims and the project tests: 1.6.6.
#[tokio::test(flavor = "multi_thread")]
async fn the_whole_job_runs_on_the_oldest_tested_terraform() {
    let d = drill(&["old"]).await;
    let oldest = efs_dr_testkit::oldest_terraform_binary();
    d.write_config("40m", &oldest.display().to_string());
    d.ok(&["init", "--yes"]).await;
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(d.tf_dir().join("terraform.tfstate")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["terraform_version"], "1.6.6",
        "the state was written by 1.6.6"
    );
    // A pull request carries an unplanned failover's forget as a `removed` block, which 1.6
    // does not know: propose says so and writes nothing.
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    let old = d
        .efs_dr(&[
            "propose",
            "failover",
            "--unplanned",
            "--body-file",
            "/dev/null",
        ])
        .await;
    assert_eq!(old.code, 2, "{}\n{}", old.stdout, old.stderr);
    assert!(
        old.stderr
            .contains("Terraform 1.7.0 or later understands it, this one is Terraform 1.6.6"),
        "{}",
        old.stderr
    );
    assert!(!d.tf_dir().join("efs-dr.forget.tf").exists());
    assert!(!d.tf_dir().join("efs-dr.proposal.json").exists());
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");
    d.write_on_b("old-tf").await;
    d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    d.assert_home_with_everything(&["old-tf"]).await;
}
