//! The 3 a.m. contract: status that never guesses, exit codes a pipeline can trust, output a
//! machine can read. Against the simulator with real Terraform.

use efs_dr::dr::error::Outcome;
use efs_dr::dr::events::EventKind;

use crate::dr::{drill, A_REGION};

#[tokio::test(flavor = "multi_thread")]
async fn status_says_unknown_and_exits_non_zero_when_aws_cannot_be_read() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    d.ok(&["status", "--detailed-exitcode"]).await;

    // A region down: unknown, why, no drift invented from missing data, exit 1.
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    let human = d
        .command_with(&d.config(), &["status"])
        .args(["--output", "human"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert_eq!(human.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("UNKNOWN"), "{stderr}");
    assert!(
        !stderr.contains("DRIFT"),
        "no drift from missing data: {stderr}"
    );
    // B's region still tells the replication: known.
    assert!(stderr.contains("ENABLED, last sync"), "{stderr}");
    d.ts.control.set_outage(A_REGION, false).await.unwrap();

    // Nothing answers at all: replication unknown, and why.
    let closed = d
        .command(&["status"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["--output", "human"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert_eq!(closed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("replication: unknown"), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(!stderr.contains("DRIFT"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes off a terminal: {stderr:?}"
    );

    // A pair whose file system does not exist: exit 1, named.
    let mut text = std::fs::read_to_string(d.config()).unwrap();
    text = text.replace(&d.pairs[0].b, "fs-0123456789abcdef9");
    let other = d.dir.path().join("missing.hcl");
    std::fs::write(&other, text).unwrap();
    let missing = d.command_with(&other, &["status"]).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn detailed_exit_codes_say_in_sync_drift_or_pending() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    let home = d.efs_dr(&["plan", "failback", "--detailed-exitcode"]).await;
    assert_eq!(home.code, 0, "{}", home.stderr);
    let pending = d.efs_dr(&["plan", "failover", "--detailed-exitcode"]).await;
    assert_eq!(pending.code, 2, "{}", pending.stderr);
    assert!(!pending.stderr.contains("error:") && !pending.stderr.contains("refused"));
    // Without the flag, pending phases are not an error.
    assert_eq!(d.efs_dr(&["plan", "failover"]).await.code, 0);

    // Drift: the rendered variables say something AWS does not.
    let vars = d.tf_dir().join("efs-dr.auto.tfvars.json");
    let text = std::fs::read_to_string(&vars).unwrap();
    std::fs::write(&vars, text.replace("\"forward\"", "\"none\"")).unwrap();
    let drift = d.efs_dr(&["status", "--detailed-exitcode"]).await;
    assert_eq!(drift.code, 2, "{}", drift.stderr);
    assert!(
        drift.stderr.contains("drift in 1 pair(s): app"),
        "{}",
        drift.stderr
    );
    assert!(!drift.stderr.contains("error:"));
    assert_eq!(
        d.efs_dr(&["status"]).await.code,
        0,
        "drift alone is exit 0 without the flag"
    );
}

/// A run that will need an answer it cannot get refuses before its first change.
#[tokio::test(flavor = "multi_thread")]
async fn a_question_nobody_can_answer_is_refused_before_the_first_change() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    d.ok(&["failover", "--yes"]).await;
    let protection = d.protection(A_REGION, &d.pairs[0].a).await;
    // --yes, but no --writes-stopped and no terminal: the quiesce would ask.
    let run = d.efs_dr(&["failback", "--yes"]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.finished_message().contains("--writes-stopped"));
    assert!(run.steps_started().is_empty(), "{:?}", run.steps_started());
    assert!(!run.any(|k| matches!(k, EventKind::SdkChange { .. })));
    assert_eq!(d.protection(A_REGION, &d.pairs[0].a).await, protection);
    assert!(d.replications(crate::dr::B_REGION).await.is_empty());
}

/// Every change efs-dr makes through the SDK carries AWS's request id into the report, and the
/// simulator answers every call with one, as AWS does.
#[tokio::test(flavor = "multi_thread")]
async fn request_ids_of_changes_are_in_the_report() {
    use aws_sdk_efs::operation::RequestId;
    let d = drill(&["app"]).await;
    let init = d.ok(&["init", "--yes"]).await;
    let report = init.report();
    let changes = report["sdk_changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for c in changes {
        let id = c["request_id"].as_str().unwrap_or_default();
        assert!(id.len() >= 32, "no request id: {c}");
    }
    let efs = efs_dr_testkit::efs(&d.ts.url, A_REGION);
    let ok = efs.describe_file_systems().send().await.unwrap();
    assert!(ok.request_id().is_some());
    let err = efs
        .describe_file_systems()
        .file_system_id("fs-0123456789abcdef9")
        .send()
        .await
        .unwrap_err();
    assert!(err.request_id().is_some(), "errors carry one too");
}

/// Two runs at once in one directory: the second is told who holds it, and since when.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_at_once_is_told_who_holds_the_root() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let d = crate::dr::drill_with(
        &["app"],
        efs_dr_sim::SimOptions {
            time_scale: 600.0,
            seed: Some(31),
            settings: efs_dr_sim::SimSettings {
                replication_delete_delay: std::time::Duration::from_secs(40 * 60),
                ..efs_dr_sim::SimSettings::default()
            },
            ..efs_dr_sim::SimOptions::default()
        },
    )
    .await;
    d.write_config("120m", "terraform");
    d.ok(&["init", "--yes"]).await;
    // The first run waits for a 40-minute deletion (4 s here).
    let mut first = d
        .command(&["failover", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("\"phase_started\"") {
            break;
        }
    }
    let second = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("another efs-dr run holds")
            && second.stderr.contains("`efs-dr failover`")
            && second
                .stderr
                .contains(&format!("pid {}", first.id().unwrap())),
        "{}",
        second.stderr
    );
    while let Ok(Some(_)) = lines.next_line().await {}
    assert!(first.wait().await.unwrap().success());
    // Released with the first run: the next one finds nothing to do.
    let after = d.ok(&["failover", "--yes"]).await;
    assert!(after.finished_message().contains("nothing to do"));
}

/// poll_interval is AWS time: at 600x a "5s" gate polls every few milliseconds of wall time
/// instead of sleeping seconds after AWS was done; a passed gate says both clocks.
#[tokio::test(flavor = "multi_thread")]
async fn gates_poll_in_aws_time() {
    let d = drill(&["app"]).await;
    let text = std::fs::read_to_string(d.config()).unwrap();
    std::fs::write(
        d.config(),
        text.replace("poll_interval = \"20ms\"", "poll_interval = \"5s\""),
    )
    .unwrap();
    let init = d.ok(&["init", "--yes"]).await;
    let polls: Vec<u64> = init
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::GatePolled { next_poll_ms, .. } => Some(next_poll_ms),
            _ => None,
        })
        .collect();
    assert!(!polls.is_empty());
    let longest = polls.iter().max().unwrap();
    assert!(
        *longest <= 500,
        "a poll slept {longest} ms of wall time: {polls:?}"
    );
    let passed: Vec<&EventKind> = init
        .events
        .iter()
        .map(|e| &e.kind)
        .filter(|k| matches!(k, EventKind::GatePassed { .. }))
        .collect();
    assert!(!passed.is_empty());
    for k in passed {
        assert!(
            matches!(
                k,
                EventKind::GatePassed {
                    waited_aws_ms: Some(_),
                    ..
                }
            ),
            "{k:?}"
        );
    }
}

/// A failback's cut-over is an outage for writers: reported in both clocks; every run's
/// `finished` event carries its figures as numbers.
#[tokio::test(flavor = "multi_thread")]
async fn the_failback_reports_its_write_outage_and_finished_carries_the_figures() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    let over = d.ok(&["failover", "--yes"]).await;
    let finished = |run: &crate::dr::Run| {
        run.events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::Finished { figures, .. } => Some(figures[0].clone()),
                _ => None,
            })
            .unwrap()
    };
    let f = finished(&over);
    assert!(f.rto_aws_seconds.unwrap() > 0.0, "{f:?}");
    assert!(f.data_at_risk_seconds.is_some(), "{f:?}");
    let back = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    let outage = &back.report()["pairs"][0]["write_outage"];
    assert!(outage["aws_seconds"].as_f64().unwrap() > 0.0, "{outage}");
    assert!(outage["wall_seconds"].as_f64().unwrap() > 0.0, "{outage}");
    let f = finished(&back);
    assert_eq!(f.write_outage_aws_seconds, outage["aws_seconds"].as_f64());
    assert_eq!(f.all_writes_accounted_for, Some(true), "{f:?}");
}

/// SIGINT during `terraform apply`: efs-dr asks Terraform to stop, waits for it to release the
/// state lock, writes the report as interrupted, exits 130; the same command then finishes.
/// A second SIGINT quits at once.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_stops_terraform_cleanly_and_continues_when_run_again() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let d = crate::dr::drill_with(
        &["app"],
        efs_dr_sim::SimOptions {
            time_scale: 600.0,
            seed: Some(41),
            settings: efs_dr_sim::SimSettings {
                replication_delete_delay: std::time::Duration::from_secs(30 * 60),
                ..efs_dr_sim::SimSettings::default()
            },
            ..efs_dr_sim::SimOptions::default()
        },
    )
    .await;
    d.write_config("120m", "terraform");
    d.ok(&["init", "--yes"]).await;
    let mut run = d
        .command(&["failover", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = run.id().unwrap() as i32;
    let mut lines = BufReader::new(run.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(e) = efs_dr_testkit::drill::event(&line) else {
            continue;
        };
        let applying = matches!(e.kind, EventKind::PlanSummary { .. })
            && e.step == Some(efs_dr::dr::phase::Step::RemoveForward);
        events.push(e);
        if applying {
            break;
        }
    }
    // terraform apply is deleting the replication (3 s here): interrupt it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    while let Ok(Some(line)) = lines.next_line().await {
        events.extend(efs_dr_testkit::drill::event(&line));
    }
    let status = run.wait().await.unwrap();
    assert_eq!(status.code(), Some(130));
    let next = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Finished { next, .. } => Some(next.clone()),
            _ => None,
        })
        .expect("a finished event");
    assert!(
        next.iter()
            .any(|l| l.contains("run the same command again") && l.contains(" failover --yes`")),
        "the exact command that continues: {next:?}"
    );
    let finished = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Finished {
                outcome, exit_code, ..
            } => Some((*outcome, *exit_code)),
            _ => None,
        })
        .expect("a finished event");
    assert_eq!(finished, (Outcome::Interrupted, 130));
    let report = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ReportWritten { report } => Some(report.as_str()),
            _ => None,
        })
        .expect("the report is written");
    let md = std::fs::read_to_string(report).unwrap();
    assert!(md.contains("interrupted") && md.contains("SIGINT"), "{md}");
    assert!(
        !d.tf_dir().join(".terraform.tfstate.lock.info").exists(),
        "Terraform released the state lock"
    );
    // The same command finishes the job (the drill's lock_timeout is 2 s: the lock is free).
    let again = d.ok(&["failover", "--yes"]).await;
    let m = again.finished_message();
    assert!(m.contains("done") || m.contains("nothing to do"), "{m}");
    assert!(d.replications(crate::dr::B_REGION).await.is_empty());

    // A second SIGINT: out at once.
    d.write_on_b("x").await;
    let mut run = d
        .command(&["failback", "--yes", "--writes-stopped"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = run.id().unwrap() as i32;
    let mut lines = BufReader::new(run.stdout.take().unwrap()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("\"plan_summary\"") {
            break;
        }
    }
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(2), run.wait())
        .await
        .expect("out at once")
        .unwrap();
    assert_eq!(status.code(), Some(130));
}

/// No silent minutes: without a terminal (as in CI), a Terraform apply that takes minutes of
/// AWS time says at least every `--progress-every` what it applies, what AWS usually takes and
/// how long it has run, and Terraform's own "Still destroying..." lines reach the operator; the
/// JSON output carries the same as `progress` events. The simulator runs at 40x, so that AWS's
/// minutes are seconds of wall time (never fewer: the scale is of wall time).
#[tokio::test(flavor = "multi_thread")]
async fn a_long_terraform_apply_says_how_it_goes_at_least_every_progress_interval() {
    let d = crate::dr::drill_with(
        &["app"],
        efs_dr_sim::SimOptions {
            time_scale: 40.0,
            seed: Some(21),
            ..efs_dr_sim::SimOptions::default()
        },
    )
    .await;
    d.write_config("8h", "terraform");
    // JSON: `progress` events while Terraform creates A -> B.
    let init = d.ok(&["init", "--yes", "--progress-every", "1s"]).await;
    assert!(
        init.any(|k| matches!(k, EventKind::Progress { text } if text.contains(" so far"))),
        "{}",
        init.stdout
    );
    let out = d
        .command_output(
            &d.config(),
            "human",
            &["failover", "--yes", "--progress-every", "1s"],
        )
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let ticks: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("[*]   terraform apply: ") && l.contains(" so far"))
        .collect();
    assert!(
        ticks.len() >= 2 && ticks.iter().all(|l| l.contains("AWS usually takes ~")),
        "a progress line every second while Terraform applies:\n{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("[app]   ") && l.contains(": Still destroying...")),
        "Terraform's own progress, for the pair it names:\n{stderr}"
    );
}

/// Every command ends with what is true and what to do next, and status names where a pair
/// is with the command that goes on from there.
#[tokio::test(flavor = "multi_thread")]
async fn every_command_ends_with_what_is_true_and_what_to_do_next() {
    let d = drill(&["app"]).await;
    let human = |args: &'static [&'static str]| {
        let d = &d;
        async move {
            let out = d
                .command_output(&d.config(), "human", args)
                .output()
                .await
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            (out.status.code(), stderr)
        }
    };
    let (_, before) = human(&["status"]).await;
    assert!(
        before.contains("pair app: not initialised: run `efs-dr init`"),
        "{before}"
    );
    let init = d.ok(&["init", "--yes"]).await;
    assert!(
        init.next().iter().any(|l| l.contains("A -> B replicates")),
        "{:?}",
        init.next()
    );
    let (_, home) = human(&["status"]).await;
    assert!(home.contains("pair app: home: A serves"), "{home}");

    let (code, failover) = human(&["failover", "--yes"]).await;
    assert_eq!(code, Some(0), "{failover}");
    let b = &d.pairs[0].b;
    for said in [
        format!("B {b} (us-west-2) is writable: start the application on B"),
        "is still writable: stop the application on A".to_string(),
        "RTO ".to_string(),
        "data at risk".to_string(),
        "`efs-dr failback`".to_string(),
    ] {
        assert!(failover.contains(&said), "{said}: {failover}");
    }
    let (_, over) = human(&["status"]).await;
    assert!(
        over.contains(
            "pair app: failed over, B serving: when A is to serve again, run `efs-dr failback`"
        ),
        "{over}"
    );

    let back = d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    assert!(
        back.next()
            .iter()
            .any(|l| l.contains("start the application on A")),
        "{:?}",
        back.next()
    );
    let report = back.report();
    assert_eq!(
        report["next"],
        serde_json::json!(back.next()),
        "the report says it too"
    );
}

/// The runner's refusals, as an operator reads them at the end of stderr: a question with no
/// terminal to ask on, a question no flag answers, a gate that cannot pass in time. Pinned, with
/// the file-system ids of the drill written as A and B.
#[tokio::test(flavor = "multi_thread")]
async fn the_runners_refusals_read_as_operators_see_them() {
    let d = drill(&["app"]).await;
    let shown = |what: &str, run: &efs_dr_testkit::drill::Run| {
        let start = ["\nrefused: ", "\nerror: "]
            .iter()
            .filter_map(|m| run.stderr.rfind(m).map(|i| i + 1))
            .max()
            .or_else(|| {
                ["refused: ", "error: "]
                    .iter()
                    .find(|m| run.stderr.starts_with(**m))
                    .map(|_| 0)
            })
            .unwrap_or_else(|| panic!("{what}: no error line in {}", run.stderr));
        let text = run.stderr[start..]
            .replace(&d.pairs[0].a, "fs-A")
            .replace(&d.pairs[0].b, "fs-B")
            .replace(&d.config().display().to_string(), "CONFIG");
        format!("## {what} (exit {})\n{}", run.code, text.trim_end())
    };
    d.ok(&["init", "--yes"]).await;
    let mut cases = Vec::new();

    let no_terminal = d.efs_dr(&["failover"]).await;
    assert_eq!(no_terminal.code, 2, "{}", no_terminal.stderr);
    cases.push(shown(
        "a failover with no terminal and no --yes",
        &no_terminal,
    ));

    d.write_config("1m", "terraform");
    let too_short = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(too_short.code, 3, "{}", too_short.stderr);
    assert!(
        too_short.steps_started().is_empty(),
        "refused before any change"
    );
    cases.push(shown(
        "a gate that cannot pass within replication_timeout",
        &too_short,
    ));
    d.write_config("40m", "terraform");

    d.ok(&["failover", "--yes"]).await;
    let unanswerable = d.efs_dr(&["failback", "--yes"]).await;
    assert_eq!(unanswerable.code, 2, "{}", unanswerable.stderr);
    cases.push(shown(
        "a failback whose cut-over nobody can answer",
        &unanswerable,
    ));

    insta::assert_snapshot!(cases.join("\n\n"));
}

/// As CI sees it: a failover piped (no terminal) against a simulator at 10x whose deletion
/// takes AWS's usual 8 minutes (48 s of wall time) never leaves stderr silent for longer than
/// `--progress-every` (its default, 30 s), measured from when each line arrived, and efs-dr's
/// own progress line (what it applies, AWS's usual time, how long so far) is among them.
#[tokio::test(flavor = "multi_thread")]
async fn a_piped_failover_at_10x_says_something_at_least_every_30_seconds() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let d = crate::dr::drill_with(
        &["app"],
        efs_dr_sim::SimOptions {
            time_scale: 10.0,
            seed: Some(22),
            settings: efs_dr_sim::SimSettings {
                replication_enable_delay: std::time::Duration::from_secs(20),
                replication_delete_delay: std::time::Duration::from_secs(8 * 60),
                ..efs_dr_sim::SimSettings::default()
            },
            ..efs_dr_sim::SimOptions::default()
        },
    )
    .await;
    d.write_config("2h", "terraform");
    d.ok(&["init", "--yes"]).await;
    let mut child = d
        .command_output(&d.config(), "human", &["failover", "--yes"])
        .env_remove("EFS_DR_PROGRESS_EVERY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut arrivals = vec![started];
    let mut text = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        arrivals.push(std::time::Instant::now());
        text.push(line);
    }
    let status = child.wait().await.unwrap();
    let all = text.join("\n");
    assert_eq!(status.code(), Some(0), "{all}");
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(40),
        "the deletion's 8 AWS minutes took {took:?} of wall time: {all}"
    );
    let longest = arrivals
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    // 30 s, and a few seconds for a loaded machine to deliver the line.
    assert!(
        longest <= std::time::Duration::from_secs(35),
        "stderr was silent for {longest:?}:\n{all}"
    );
    assert!(
        text.iter().any(|l| l.contains("terraform apply: ")
            && l.contains("AWS usually takes ~")
            && l.contains(" so far")),
        "efs-dr's own progress line:\n{all}"
    );
}
