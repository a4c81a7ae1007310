//! Every interruption heals with the same command: efs-dr killed (alone, its Terraform left to
//! die on its own, or together with its Terraform and the provider) at each moment of each
//! Terraform phase of each operation, planned and unplanned; the same command is then run
//! again until it ends well. Nothing is lost, ids never change, and no replication is created
//! twice (a rerun imports what AWS has and the state lacks, at whatever phase).

use std::process::Stdio;
use std::time::Duration;

use efs_dr::dr::events::{Event, EventKind};
use efs_dr::terraform::ChangeKind;
use efs_dr_testkit::drill::{event, step_name};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::dr::{drill, Drill, Run, A_REGION, B_REGION};
use crate::shared_state::kill_machine;

/// When, within one Terraform phase, the run is killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Moment {
    /// The plan is made and checked, nothing applied yet.
    Planned,
    /// AWS shows the phase's change under way (Terraform is applying it).
    Applying,
    /// Terraform applied it; its gate has not passed.
    Applied,
}

/// What is killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Victim {
    /// efs-dr alone: its Terraform (in a process group of its own) is left to die on its own.
    EfsDr,
    /// efs-dr, its Terraform and the provider at once: the machine died.
    Everything,
}

/// Whether AWS shows `step`'s change under way (or done).
async fn change_visible(d: &Drill, step: &str) -> bool {
    let (region, source, gone) = match step {
        "create_forward" => (B_REGION, &d.pairs[0].a, false),
        "remove_forward" => (B_REGION, &d.pairs[0].a, true),
        "create_reverse" => (A_REGION, &d.pairs[0].b, false),
        "remove_reverse" => (A_REGION, &d.pairs[0].b, true),
        _ => return true,
    };
    let r = d.replications(region).await;
    let mine = r.iter().find(|(s, _, _)| s == source);
    if gone {
        mine.is_none_or(|(_, _, status)| status == "DELETING")
    } else {
        mine.is_some()
    }
}

/// A Terraform left running by a killed efs-dr holds the state lock until it ends: wait for
/// every process working in the root to end (at most 60 s), as an operator would see it finish.
async fn orphans_done(d: &Drill) {
    let root = std::fs::canonicalize(d.tf_dir()).unwrap_or_else(|_| d.tf_dir());
    let running = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .any(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd == root))
    };
    for _ in 0..600 {
        if !running() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("a Terraform left by a killed run was still running after 60 s");
}

/// Runs `args` and kills it at `moment` of `step`. Returns whether it was killed there (false:
/// the run never reached that moment, e.g. the phase was applied by an earlier run's
/// Terraform), and every event it printed.
async fn kill_at(
    d: &Drill,
    args: &[&str],
    step: &str,
    moment: Moment,
    victim: Victim,
) -> (bool, Vec<Event>) {
    orphans_done(d).await;
    let mut child = d
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut planned = false;
    let mut events = Vec::new();
    let killed = loop {
        let line = if planned && moment == Moment::Applying {
            tokio::select! {
                l = lines.next_line() => l,
                _ = tokio::time::sleep(Duration::from_millis(10)) => {
                    if change_visible(d, step).await {
                        break true;
                    }
                    continue;
                }
            }
        } else {
            lines.next_line().await
        };
        let Ok(Some(line)) = line else { break false };
        let Some(e) = event(&line) else {
            continue;
        };
        events.push(e.clone());
        if step_name(&e) != step {
            continue;
        }
        match (&e.kind, moment) {
            (EventKind::PlanSummary { .. }, Moment::Planned) => break true,
            (EventKind::PlanSummary { .. }, Moment::Applying) => planned = true,
            (EventKind::Applied { .. }, Moment::Applied) => break true,
            _ => {}
        }
    };
    if killed {
        match victim {
            Victim::EfsDr => child.start_kill().unwrap(),
            Victim::Everything => {
                kill_machine(pid);
            }
        }
    }
    let _ = child.wait().await;
    (killed, events)
}

/// The same command again until it ends well (a Terraform left running by the killed run
/// may still hold the state lock for a moment). Returns every run.
async fn until_done(d: &Drill, args: &[&str]) -> Vec<Run> {
    let mut runs = Vec::new();
    for _ in 0..6 {
        let r = d.efs_dr(args).await;
        let code = r.code;
        runs.push(r);
        if code == 0 {
            return runs;
        }
        let last = runs.last().unwrap();
        if !(last.stderr.contains("state lock") || last.stderr.contains("locked")) {
            let history: Vec<String> = runs
                .iter()
                .flat_map(|r| &r.events)
                .map(|e| format!("{} {:?}", step_name(e), e.kind))
                .collect();
            panic!(
                "efs-dr {args:?} did not heal:\n{}\nstate: {:?}\nA: {:?}\nB: {:?}\n{}",
                last.stderr,
                d.state().await,
                d.replications(A_REGION).await,
                d.replications(B_REGION).await,
                history.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let last = runs.last().unwrap();
    panic!(
        "efs-dr {args:?} did not end well in 6 runs; the last:\n{}\n{}",
        last.stdout, last.stderr
    );
}

/// The Terraform creations the runs applied for `step`.
fn creations(events: &[Event], step: &str) -> usize {
    events
        .iter()
        .filter(|e| step_name(e) == step)
        .flat_map(|e| match &e.kind {
            EventKind::Applied { changes } => changes.clone(),
            _ => Vec::new(),
        })
        .filter(|c| c.kind == ChangeKind::Create)
        .count()
}

/// One operation, killed at `moment` of each of its Terraform phases in turn (each run goes
/// on from where the one before was killed), then run again until done. A replication that
/// AWS had when a run was killed is imported by the next, never created again. Returns the
/// number of kills made.
async fn kill_each_phase(
    d: &Drill,
    args: &[&str],
    steps: &[&str],
    moment: Moment,
    victim: Victim,
) -> usize {
    let mut kills = 0;
    // A creation AWS has seen while its run was killed: (step, the runs since).
    let mut created: Option<(&str, Vec<Event>)> = None;
    for step in steps {
        let (killed, events) = kill_at(d, args, step, moment, victim).await;
        if let Some((_, seen)) = created.as_mut() {
            seen.extend(events);
        }
        if killed {
            kills += 1;
            if moment != Moment::Planned && step.starts_with("create") && created.is_none() {
                created = Some((step, Vec::new()));
            }
        }
    }
    orphans_done(d).await;
    let runs = until_done(d, args).await;
    if let Some((step, mut seen)) = created {
        seen.extend(runs.iter().flat_map(|r| r.events.clone()));
        assert_eq!(
            creations(&seen, step),
            0,
            "{step}: created again after AWS had it ({moment:?}, {victim:?})"
        );
    }
    kills
}

async fn cycle(d: &Drill, moment: Moment, victim: Victim, tag: &str) -> usize {
    let mut kills = kill_each_phase(
        d,
        &["failover", "--yes", "--writes-stopped"],
        &["remove_forward"],
        moment,
        victim,
    )
    .await;
    assert!(
        d.replications(B_REGION).await.is_empty(),
        "{tag}: A -> B gone"
    );
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");
    d.write_on_b(tag).await;
    kills += kill_each_phase(
        d,
        &["failback", "--yes", "--writes-stopped"],
        &["create_reverse", "remove_reverse", "create_forward"],
        moment,
        victim,
    )
    .await;
    kills
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kill_of_every_terraform_phase_heals_with_the_same_command() {
    let d = drill(&["app"]).await;
    let (killed, _) = kill_at(
        &d,
        &["init", "--yes"],
        "create_forward",
        Moment::Applying,
        Victim::Everything,
    )
    .await;
    assert!(killed, "init killed while AWS creates A -> B");
    let runs = until_done(&d, &["init", "--yes"]).await;
    let events: Vec<Event> = runs.iter().flat_map(|r| r.events.clone()).collect();
    assert_eq!(
        creations(&events, "create_forward"),
        0,
        "imported, not created twice"
    );
    let mut tags = Vec::new();
    let mut kills = 0;
    for (i, (moment, victim)) in [
        (Moment::Planned, Victim::EfsDr),
        (Moment::Applying, Victim::EfsDr),
        (Moment::Applying, Victim::Everything),
        (Moment::Applied, Victim::EfsDr),
    ]
    .into_iter()
    .enumerate()
    {
        let tag = format!("cycle-{i}");
        kills += cycle(&d, moment, victim, &tag).await;
        tags.push(tag);
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        d.assert_home_with_everything(&tags).await;
    }
    assert!(kills >= 12, "only {kills} kills were made");

    // Unplanned: A down, killed in its forget phase (Terraform), then healed; then failback.
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    for victim in [Victim::EfsDr, Victim::Everything] {
        let _ = kill_at(
            &d,
            &["failover", "--unplanned", "--yes"],
            "forget_forward",
            Moment::Planned,
            victim,
        )
        .await;
    }
    orphans_done(&d).await;
    until_done(&d, &["failover", "--unplanned", "--yes"]).await;
    assert!(d.state().await.is_empty());
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    d.write_on_b("unplanned").await;
    kill_each_phase(
        &d,
        &["failback", "--yes", "--writes-stopped"],
        &["create_reverse", "remove_reverse", "create_forward"],
        Moment::Applying,
        Victim::Everything,
    )
    .await;
    tags.push("unplanned".into());
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    d.assert_home_with_everything(&tags).await;
}

/// One Ctrl-C while Terraform deletes A -> B: the run puts the variables back ("forward"),
/// while AWS goes on deleting. The same command then has nothing to do, and leaves the root
/// asking for what AWS has: a plain `terraform plan` there changes nothing. Every DRIFT line
/// of `status` names the command that fixes it.
#[tokio::test(flavor = "multi_thread")]
async fn after_an_interrupt_no_change_is_left_for_a_plain_terraform_apply() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    let mut child = d
        .command(&["failover", "--yes", "--writes-stopped"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap() as libc::pid_t;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("\"plan_summary\"") {
            break;
        }
    }
    while !change_visible(&d, "remove_forward").await {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SAFETY: kill(2) on the efs-dr this test started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    while lines.next_line().await.ok().flatten().is_some() {}
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(130));
    // AWS finishes what it was asked.
    efs_dr_testkit::eventually(Duration::from_secs(30), "A -> B deleted in AWS", || async {
        d.replications(B_REGION).await.is_empty().then_some(())
    })
    .await;

    // The drift, each line with its command.
    std::fs::write(
        d.tf_dir().join("efs-dr.auto.tfvars.json"),
        "{\"directions\": {\"app\": \"forward\"}}",
    )
    .unwrap();
    let st = d.efs_dr(&["status"]).await;
    let doc: Value = serde_json::from_str(&st.stdout).unwrap();
    let drift: Vec<String> = doc["pairs"][0]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert!(!drift.is_empty(), "{}", st.stdout);
    for line in &drift {
        assert!(
            line.contains("`efs-dr "),
            "a DRIFT line without its command: {line}"
        );
    }

    let again = d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    assert!(
        again.any(|k| matches!(k, EventKind::Note { text } if text.contains("set to \"none\""))),
        "the correction is said: {}",
        again.stdout
    );
    let vars = std::fs::read_to_string(d.tf_dir().join("efs-dr.auto.tfvars.json")).unwrap();
    assert!(vars.contains("\"none\""), "{vars}");
    let (code, out) = d
        .terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"])
        .await;
    assert_eq!(
        code, 0,
        "a plain terraform plan would change something:\n{out}"
    );
    let st = d.ok(&["status", "--detailed-exitcode"]).await;
    assert!(st.stdout.contains("\"drift\": []"), "{}", st.stdout);
}

/// Syncs that take an hour and a one-hour timeout: the RPO gate with writes stopped can never
/// pass (the first sync that starts after writes stopped ends more than an hour later). The
/// run says so at once, before any change, with the setting that lets it pass; with that
/// setting, the same command passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_gate_that_cannot_pass_in_time_is_said_up_front_and_its_advice_succeeds() {
    let d = crate::dr::drill_with(
        &["app"],
        efs_dr_sim::SimOptions {
            time_scale: 600.0,
            seed: Some(23),
            settings: efs_dr_sim::SimSettings {
                sync_interval: Duration::from_secs(3600),
                ..efs_dr_sim::SimSettings::default()
            },
            ..efs_dr_sim::SimOptions::default()
        },
    )
    .await;
    // Hourly syncs are one to two hours behind: a max_lag that accepts that.
    let config = |timeout: &str| {
        crate::dr::config_text(&d.pairs, timeout, "terraform")
            .replace("max_lag = \"15m\"", "max_lag = \"3h\"")
    };
    std::fs::write(d.config(), config("1h")).unwrap();
    d.ok(&["init", "--yes"]).await;
    // A few syncs in CloudWatch's history.
    d.ts.control.advance(4.0 * 3600.0).await.unwrap();
    let started = std::time::Instant::now();
    let run = d.efs_dr(&["failover", "--yes", "--writes-stopped"]).await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "said at once, not after the timeout"
    );
    let said = run.finished_message();
    assert!(said.contains("syncs about every 1h"), "{said}");
    assert!(said.contains("Nothing was changed"), "{said}");
    assert!(
        !run.any(|k| matches!(k, EventKind::PhaseStarted { .. })),
        "no phase started: {}",
        run.stdout
    );
    assert_eq!(d.replications(B_REGION).await.len(), 1, "A -> B untouched");
    // The advice: the setting it names lets the same command pass.
    let setting = said
        .split("replication_timeout = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a setting")
        .to_string();
    std::fs::write(d.config(), config(&setting)).unwrap();
    d.ok(&["failover", "--yes", "--writes-stopped"]).await;
    assert!(d.replications(B_REGION).await.is_empty());
}

/// `status --detailed-exitcode` exits 2 when the replication is PAUSED or ERROR, or its last
/// sync is older than max_lag, with what to do; 0 when it is healthy.
#[tokio::test(flavor = "multi_thread")]
async fn status_detailed_exitcode_reports_a_replication_unfit_to_fail_over_to() {
    let d = drill(&["app"]).await;
    d.ok(&["init", "--yes"]).await;
    d.ok(&["status", "--detailed-exitcode"]).await;
    d.ts.control
        .set_replication_status(&d.pairs[0].a, "PAUSED", Some("the destination is full"))
        .await
        .unwrap();
    let st = d.efs_dr(&["status", "--detailed-exitcode"]).await;
    assert_eq!(st.code, 2, "{}\n{}", st.stdout, st.stderr);
    let doc: Value = serde_json::from_str(&st.stdout).unwrap();
    let drift = doc["pairs"][0]["drift"].to_string();
    assert!(
        drift.contains("A -> B is PAUSED (the destination is full)"),
        "{drift}"
    );
    // Paused for longer than max_lag (15m): the lag is said too.
    d.ts.control.advance(30.0 * 60.0).await.unwrap();
    let st = d.efs_dr(&["status", "--detailed-exitcode"]).await;
    assert_eq!(st.code, 2);
    assert!(st.stdout.contains("more than max_lag 15m"), "{}", st.stdout);
}
