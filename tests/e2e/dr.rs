//! The orchestrator end to end: the efs-dr binary, real Terraform with the stand-in provider,
//! and the simulator at a high time scale. Every check reads AWS (the simulator's API and its
//! file listing) or the Terraform state, never efs-dr's own word alone.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use efs_dr_sim::{SimOptions, Simulator};
use efs_dr_testkit::{efs, file_system, start_with, TestSim};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

pub(crate) const SCALE: f64 = 600.0;
pub(crate) const A_REGION: &str = "us-east-1";
pub(crate) const B_REGION: &str = "us-west-2";

pub(crate) struct PairIds {
    pub(crate) name: String,
    pub(crate) a: String,
    pub(crate) b: String,
}

pub(crate) struct Drill {
    pub(crate) ts: TestSim,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) pairs: Vec<PairIds>,
}

/// What one efs-dr run did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) events: Vec<Value>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// What an ended efs-dr process printed.
    pub(crate) fn of(out: std::process::Output) -> Run {
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        Run {
            code: out.status.code().unwrap_or(-1),
            events: stdout
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    pub(crate) fn finished_message(&self) -> String {
        self.events
            .iter()
            .rev()
            .find(|e| e["event"] == "finished")
            .and_then(|e| e["message"].as_str())
            .unwrap_or_default()
            .to_string()
    }
    pub(crate) fn steps_started(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["event"] == "phase_started")
            .map(|e| {
                format!(
                    "{}:{}",
                    e["pair"].as_str().unwrap_or(""),
                    e["step"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
    pub(crate) fn report(&self) -> Value {
        let path = self
            .events
            .iter()
            .rev()
            .find_map(|e| e["report"].as_str())
            .expect("a report path");
        let json = Path::new(path).with_extension("json");
        serde_json::from_str(&std::fs::read_to_string(json).expect("report json")).expect("json")
    }
}

pub(crate) fn config_text(pairs: &[PairIds], timeout: &str, binary: &str) -> String {
    let mut s = format!(
        "terraform {{\n  dir = \"terraform\"\n  binary = \"{binary}\"\n  lock_timeout = \"2s\"\n}}\n\ngates {{\n  poll_interval = \"20ms\"\n  replication_timeout = \"{timeout}\"\n  max_lag = \"15m\"\n  quiesce_window = \"2m\"\n}}\n"
    );
    for p in pairs {
        s.push_str(&format!(
            "\npair \"{}\" {{\n  primary {{\n    region = \"{A_REGION}\"\n    file_system_id = \"{}\"\n  }}\n  secondary {{\n    region = \"{B_REGION}\"\n    file_system_id = \"{}\"\n  }}\n}}\n",
            p.name, p.a, p.b
        ));
    }
    s
}

pub(crate) async fn drill_with(names: &[&str], opts: SimOptions) -> Drill {
    let ts = start_with(opts).await;
    let mut pairs = Vec::new();
    for name in names {
        let a = file_system(&ts, A_REGION, &format!("{name}-a")).await;
        let b = file_system(&ts, B_REGION, &format!("{name}-b")).await;
        for i in 1..=3 {
            ts.control
                .write_file(
                    &a,
                    &format!("{name}/a-{i}.txt"),
                    format!("{name} on A {i}").as_bytes(),
                )
                .await
                .unwrap();
        }
        pairs.push(PairIds {
            name: name.to_string(),
            a,
            b,
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let d = Drill { ts, dir, pairs };
    d.write_config("40m", "terraform");
    d
}

pub(crate) async fn drill(names: &[&str]) -> Drill {
    drill_with(
        names,
        SimOptions {
            time_scale: SCALE,
            seed: Some(7),
            ..SimOptions::default()
        },
    )
    .await
}

impl Drill {
    pub(crate) fn config(&self) -> PathBuf {
        self.dir.path().join("efs-dr.hcl")
    }

    pub(crate) fn write_config(&self, timeout: &str, binary: &str) {
        std::fs::write(self.config(), config_text(&self.pairs, timeout, binary)).unwrap();
    }

    pub(crate) fn tf_dir(&self) -> PathBuf {
        self.dir.path().join("terraform")
    }

    pub(crate) fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.command_with(&self.config(), args)
    }

    pub(crate) fn command_with(&self, config: &Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_efs-dr"));
        cmd.arg("--config")
            .arg(config)
            .args(["--output", "json"])
            .args(args)
            .env("PATH", efs_dr_testkit::path_with_tools())
            .envs(efs_dr_testkit::tf_env(&self.ts.url))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Plain `terraform ARGS` in the root, as an operator runs it: (exit code, output).
    pub(crate) async fn terraform(&self, args: &[&str]) -> (i32, String) {
        let out = tokio::process::Command::new(efs_dr_testkit::terraform_binary())
            .args(args)
            .current_dir(self.tf_dir())
            .envs(efs_dr_testkit::tf_env(&self.ts.url))
            .output()
            .await
            .expect("terraform runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    pub(crate) async fn efs_dr(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().await.expect("efs-dr runs"))
    }

    /// Runs efs-dr, killing it (SIGKILL) at the first event `stop_at` accepts; whether it was
    /// killed, and every event it printed. A run that ends by itself must succeed unless it was
    /// meant to be killed.
    pub(crate) async fn efs_dr_until(
        &self,
        args: &[&str],
        stop_at: Option<&dyn Fn(&Value) -> bool>,
    ) -> (bool, Vec<Value>) {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut events = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(e) = serde_json::from_str::<Value>(&line) {
                let stop = stop_at.is_some_and(|f| f(&e));
                events.push(e);
                if stop {
                    child.start_kill().unwrap();
                    child.wait().await.unwrap();
                    return (true, events);
                }
            }
        }
        let status = child.wait().await.unwrap();
        assert!(
            status.success() || stop_at.is_some(),
            "efs-dr {args:?} failed: {events:?}"
        );
        (false, events)
    }

    /// Runs efs-dr and kills it (SIGKILL) at the first event `stop_at` accepts. True when it
    /// was killed, false when it ended first.
    pub(crate) async fn efs_dr_killed_at(
        &self,
        args: &[&str],
        stop_at: impl Fn(&Value) -> bool,
    ) -> bool {
        self.efs_dr_until(args, Some(&stop_at)).await.0
    }

    /// Runs `args` once per (step, event), killing each run at that event of that step: each run
    /// must continue where the one before was killed.
    async fn kill_at_each(&self, args: &[&str], points: &[(&str, &str)]) {
        for (step, event) in points {
            let killed = self
                .efs_dr_killed_at(args, |e| e["step"] == *step && e["event"] == *event)
                .await;
            assert!(killed, "efs-dr {args:?} ended before {event} of {step}");
        }
    }

    pub(crate) async fn ok(&self, args: &[&str]) -> Run {
        let run = self.efs_dr(args).await;
        assert_eq!(
            run.code, 0,
            "efs-dr {args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    }

    pub(crate) async fn state(&self) -> Vec<String> {
        let out = tokio::process::Command::new(efs_dr_testkit::terraform_binary())
            .args(["state", "list"])
            .current_dir(self.tf_dir())
            .output()
            .await
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub(crate) async fn protection(&self, region: &str, fs: &str) -> String {
        efs(&self.ts.url, region)
            .describe_file_systems()
            .file_system_id(fs)
            .send()
            .await
            .unwrap()
            .file_systems()[0]
            .file_system_protection()
            .unwrap()
            .replication_overwrite_protection()
            .unwrap()
            .as_str()
            .to_string()
    }

    /// The replications a region reports, as (source, destination, status).
    pub(crate) async fn replications(&self, region: &str) -> Vec<(String, String, String)> {
        match efs(&self.ts.url, region)
            .describe_replication_configurations()
            .send()
            .await
        {
            Ok(out) => out
                .replications()
                .iter()
                .map(|r| {
                    let d = &r.destinations()[0];
                    (
                        r.source_file_system_id().to_string(),
                        d.file_system_id().to_string(),
                        d.status().as_str().to_string(),
                    )
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub(crate) async fn write_on_b(&self, tag: &str) {
        for p in &self.pairs {
            for i in 1..=2 {
                self.ts
                    .control
                    .write_file(
                        &p.b,
                        &format!("{}/b-{tag}-{i}.txt", p.name),
                        b"written on B",
                    )
                    .await
                    .expect("B is writable after the failover");
            }
        }
    }

    /// A holds everything B holds, and every pair is home: A -> B ENABLED into the same ids.
    pub(crate) async fn assert_home_with_everything(&self, expected_on_b: &[&str]) {
        for p in &self.pairs {
            let on_a = self.ts.control.digest(&p.a).await.unwrap();
            let on_b = self.ts.control.digest(&p.b).await.unwrap();
            assert_eq!(on_a, on_b, "pair {}: A and B differ", p.name);
            for i in 1..=3 {
                assert!(on_a.contains_key(&format!("{}/a-{i}.txt", p.name)));
            }
            for tag in expected_on_b {
                for i in 1..=2 {
                    let f = format!("{}/b-{tag}-{i}.txt", p.name);
                    assert!(on_a.contains_key(&f), "pair {}: {f} was lost", p.name);
                }
            }
            assert_eq!(self.protection(A_REGION, &p.a).await, "ENABLED");
            assert_eq!(self.protection(B_REGION, &p.b).await, "REPLICATING");
        }
        let in_b = self.replications(B_REGION).await;
        for p in &self.pairs {
            assert!(
                in_b.contains(&(p.a.clone(), p.b.clone(), "ENABLED".into())),
                "pair {}: A -> B is not ENABLED into the same B: {in_b:?}",
                p.name
            );
        }
        // Ids never change: each region still holds exactly the pairs' file systems.
        for (region, ids) in [
            (
                A_REGION,
                self.pairs.iter().map(|p| p.a.clone()).collect::<Vec<_>>(),
            ),
            (B_REGION, self.pairs.iter().map(|p| p.b.clone()).collect()),
        ] {
            let out = efs(&self.ts.url, region)
                .describe_file_systems()
                .send()
                .await
                .unwrap();
            let mut seen: Vec<String> = out
                .file_systems()
                .iter()
                .map(|f| f.file_system_id().to_string())
                .collect();
            let mut ids = ids;
            seen.sort();
            ids.sort();
            assert_eq!(seen, ids, "file systems in {region}");
        }
    }
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
    let plans: Vec<&Value> = failover
        .events
        .iter()
        .filter(|e| e["event"] == "plan_summary")
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
    let md = std::fs::read_to_string(
        failback
            .events
            .iter()
            .rev()
            .find_map(|e| e["report"].as_str())
            .unwrap(),
    )
    .unwrap();
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
        .find(|e| e["event"] == "sdk_change")
        .expect("an SDK delete");
    assert_eq!(sdk["change"]["local_only"], true, "{sdk}");
    // B writable before Terraform runs at all: the gate passed, then the state was reconciled.
    let idx = |pred: &dyn Fn(&Value) -> bool| run.events.iter().position(pred).unwrap();
    let writable = idx(&|e| e["event"] == "gate_passed" && e["step"] == "delete_forward_from_b");
    let state_rm = idx(&|e| e["event"] == "state_changed" && e["command"] == "state rm");
    assert!(writable < state_rm);
    // Both pairs forgotten (one `terraform state rm` for the fleet), A never read.
    let forgotten = run
        .events
        .iter()
        .filter(|e| e["event"] == "state_changed" && e["command"] == "state rm")
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
    let waited: Vec<&Value> = run
        .events
        .iter()
        .filter(|e| e["event"] == "gate_polled" && e["step"] == "quiesce")
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
            .any(|e| e["event"] == "applied" && e["step"] == "create_reverse"),
        "B -> A was not created again"
    );
    assert!(!back
        .events
        .iter()
        .any(|e| e["event"] == "sdk_change" && e["step"] == "disable_protection_a"));
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
        d.efs_dr_killed_at(&["init", "--yes"], |e| e["event"] == "plan_summary")
            .await
    );
    d.ok(&["init", "--yes"]).await;
    assert_eq!(d.replications(B_REGION).await.len(), 1);
    assert_eq!(d.state().await.len(), 1);
    // Failover killed at its RPO gate, then during its Terraform apply, then run to its end.
    d.kill_at_each(
        &["failover", "--yes", "--writes-stopped"],
        &[
            ("check_rpo", "gate_polled"),
            ("remove_forward", "plan_summary"),
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
            ("disable_protection_a", "sdk_change"),
            ("create_reverse", "plan_summary"),
            ("quiesce", "gate_polled"),
            ("disable_protection_b", "sdk_change"),
            ("remove_reverse", "plan_summary"),
            ("create_forward", "plan_summary"),
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
            ("delete_forward_from_b", "gate_polled"),
            ("forget_forward", "state_changed"),
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
    let Drill { ts, dir, pairs } = d;
    let mut ts = Some(ts);
    let mut restarted = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let e: Value = serde_json::from_str(&line).unwrap_or_default();
        if restarted.is_none() && e["event"] == "phase_started" && e["step"] == "create_reverse" {
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
            e["event"] == "gate_passed" && e["step"] == "create_reverse"
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
            .contains("Terraform 1.7.0 or later understands it, this one is 1.6.6"),
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
