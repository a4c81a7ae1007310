//! The e2e drill: file systems on the simulator, a work directory with efs-dr.hcl, and the
//! efs-dr binary run as an operator runs it, its events read back as typed [`Event`]s.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use efs_dr::dr::events::{Event, EventKind};
use efs_dr::dr::phase::Step;
use efs_dr_sim::SimOptions;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{efs, file_system, start_with, TestSim};

/// Which event of a step to kill a run at.
pub type KillPoint = fn(&EventKind) -> bool;

/// One line of `--output json` as an event, if it is one.
pub fn event(line: &str) -> Option<Event> {
    serde_json::from_str(line).ok()
}

/// Whether `e` is a poll of `step`'s gate that found it not true yet.
pub fn waiting_at(e: &Event, step: Step) -> bool {
    e.step == Some(step)
        && matches!(
            e.kind,
            EventKind::GatePolled {
                verdict: efs_dr::dr::gate::Verdict::Waiting(_),
                ..
            }
        )
}

/// An event's kind as its JSON names it ("gate_polled").
pub fn kind_name(e: &Event) -> String {
    serde_json::to_value(&e.kind)
        .ok()
        .and_then(|v| v["event"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Whether `e` is the `kind` event ("applied") of step `step` ("create_reverse").
pub fn is_at(e: &Event, step: &str, kind: &str) -> bool {
    step_name(e) == step && kind_name(e) == kind
}

/// An event's step as its JSON names it ("quiesce"), or "".
pub fn step_name(e: &Event) -> String {
    e.step
        .map(|s| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

pub const SCALE: f64 = 600.0;
pub const A_REGION: &str = "us-east-1";
pub const B_REGION: &str = "us-west-2";

pub struct PairIds {
    pub name: String,
    pub a: String,
    pub b: String,
}

/// A drill: file systems on an in-process simulator, a work directory with efs-dr.hcl, and the
/// efs-dr binary under test.
pub struct Drill {
    pub ts: TestSim,
    pub dir: tempfile::TempDir,
    pub pairs: Vec<PairIds>,
    /// The efs-dr binary (`env!("CARGO_BIN_EXE_efs-dr")` of the test that starts the drill).
    pub bin: PathBuf,
}

/// What one efs-dr run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    /// The run's events (`--output json`), typed.
    pub events: Vec<Event>,
    /// Every JSON line it printed (a command's own JSON, as `status` prints).
    pub json: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// What an ended efs-dr process printed.
    pub fn of(out: std::process::Output) -> Run {
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        Run {
            code: out.status.code().unwrap_or(-1),
            events: stdout.lines().filter_map(event).collect(),
            json: stdout
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    /// The message of the run's `finished` event ("" when it did not finish).
    pub fn finished_message(&self) -> String {
        self.events
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EventKind::Finished { message, .. } => Some(message.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The run's last lines: what is true and what to do next.
    pub fn next(&self) -> Vec<String> {
        self.events
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EventKind::Finished { next, .. } => Some(next.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// "pair:step" of each phase started, in order.
    pub fn steps_started(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::PhaseStarted { .. }))
            .map(|e| format!("{}:{}", e.pair.as_deref().unwrap_or(""), step_name(e)))
            .collect()
    }

    /// Whether any event is `kind`'s (by its variant).
    pub fn any(&self, pick: impl Fn(&EventKind) -> bool) -> bool {
        self.events.iter().any(|e| pick(&e.kind))
    }

    /// The texts of its `warning` events.
    pub fn warnings(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Warning { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// Where the run's Markdown report is.
    pub fn report_path(&self) -> PathBuf {
        self.events
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EventKind::ReportWritten { report } => Some(PathBuf::from(report)),
                _ => None,
            })
            .expect("a report path")
    }

    /// The run's Markdown report.
    pub fn report_markdown(&self) -> String {
        std::fs::read_to_string(self.report_path()).expect("report markdown")
    }

    /// The run's JSON report.
    pub fn report(&self) -> Value {
        let json = self.report_path().with_extension("json");
        serde_json::from_str(&std::fs::read_to_string(json).expect("report json")).expect("json")
    }
}

pub fn config_text(pairs: &[PairIds], timeout: &str, binary: &str) -> String {
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

/// A drill with `names` pairs (three files on each A) on a simulator started with `opts`.
pub async fn drill_with(bin: &str, names: &[&str], opts: SimOptions) -> Drill {
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
    let d = Drill {
        ts,
        dir,
        pairs,
        bin: PathBuf::from(bin),
    };
    d.write_config("40m", "terraform");
    d
}

/// A drill at [`SCALE`] with a fixed seed.
pub async fn drill(bin: &str, names: &[&str]) -> Drill {
    drill_with(
        bin,
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
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("efs-dr.hcl")
    }

    pub fn write_config(&self, timeout: &str, binary: &str) {
        std::fs::write(self.config(), config_text(&self.pairs, timeout, binary)).unwrap();
    }

    pub fn tf_dir(&self) -> PathBuf {
        self.dir.path().join("terraform")
    }

    /// The JSON report written last in efs-dr-reports/ beside the config (for runs whose
    /// events were not read, such as a run on a terminal).
    pub fn last_report_json(&self) -> Value {
        let dir = self.dir.path().join("efs-dr-reports");
        let newest = std::fs::read_dir(&dir)
            .expect("efs-dr-reports/ exists")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .expect("a JSON report");
        serde_json::from_str(&std::fs::read_to_string(newest).expect("report json")).expect("json")
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.command_with(&self.config(), args)
    }

    pub fn command_with(&self, config: &Path, args: &[&str]) -> tokio::process::Command {
        self.command_output(config, "json", args)
    }

    /// efs-dr `args` with `--output OUTPUT` ("human": the display on stderr), logs off but
    /// warnings.
    pub fn command_output(
        &self,
        config: &Path,
        output: &str,
        args: &[&str],
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.arg("--config")
            .arg(config)
            .args(["--output", output])
            .args(args)
            .env("PATH", crate::path_with_tools())
            .envs(crate::tf_env(&self.ts.url))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Plain `terraform ARGS` in the root, as an operator runs it: (exit code, output).
    pub async fn terraform(&self, args: &[&str]) -> (i32, String) {
        let out = tokio::process::Command::new(crate::terraform_binary())
            .args(args)
            .current_dir(self.tf_dir())
            .envs(crate::tf_env(&self.ts.url))
            .output()
            .await
            .expect("terraform runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    pub async fn efs_dr(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().await.expect("efs-dr runs"))
    }

    /// Runs efs-dr, killing it (SIGKILL) at the first event `stop_at` accepts; whether it was
    /// killed, and every event it printed. A run that ends by itself must succeed unless it was
    /// meant to be killed.
    pub async fn efs_dr_until(
        &self,
        args: &[&str],
        stop_at: Option<&dyn Fn(&Event) -> bool>,
    ) -> (bool, Vec<Event>) {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut events = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(e) = event(&line) {
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
    pub async fn efs_dr_killed_at(&self, args: &[&str], stop_at: impl Fn(&Event) -> bool) -> bool {
        self.efs_dr_until(args, Some(&stop_at)).await.0
    }

    /// Runs `args` once per (step, event), killing each run at that event of that step: each run
    /// must continue where the one before was killed.
    pub async fn kill_at_each(&self, args: &[&str], points: &[(Step, KillPoint)]) {
        for (step, at) in points {
            let killed = self
                .efs_dr_killed_at(args, |e| e.step == Some(*step) && at(&e.kind))
                .await;
            assert!(killed, "efs-dr {args:?} ended before the point of {step:?}");
        }
    }

    pub async fn ok(&self, args: &[&str]) -> Run {
        let run = self.efs_dr(args).await;
        assert_eq!(
            run.code, 0,
            "efs-dr {args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    }

    pub async fn state(&self) -> Vec<String> {
        let out = tokio::process::Command::new(crate::terraform_binary())
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

    pub async fn protection(&self, region: &str, fs: &str) -> String {
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
    pub async fn replications(&self, region: &str) -> Vec<(String, String, String)> {
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

    pub async fn write_on_b(&self, tag: &str) {
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
    pub async fn assert_home_with_everything(&self, expected_on_b: &[&str]) {
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
