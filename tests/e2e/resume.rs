//! Resuming at the interrupted gate: efs-dr killed after each phase's change and before its
//! gate passed, with the simulator's sync and deletions slowed down, and the rerun seen waiting
//! at that gate (never skipping it). Also: a failback killed right after its own cleanup of the
//! stale configuration, and provider errors without backtraces.

use std::time::Duration;

use efs_dr::dr::events::{Event, EventKind};
use efs_dr::dr::gate::Verdict;
use efs_dr_sim::{SimOptions, SimSettings};
use efs_dr_testkit::drill::{event, is_at};

use crate::dr::{drill_with, Drill, A_REGION, B_REGION};

/// Minutes of AWS time are tenths of a second of wall time.
fn slow_aws() -> SimOptions {
    SimOptions {
        time_scale: 600.0,
        seed: Some(11),
        settings: SimSettings {
            sync_interval: Duration::from_secs(30 * 60),
            replication_delete_delay: Duration::from_secs(25 * 60),
            ..SimSettings::default()
        },
        ..SimOptions::default()
    }
}

/// How a rerun must meet the killed phase's gate.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// Polled, not true at first, then passed.
    Waits,
    /// Polled and passed (an overwrite-protection change is immediate).
    Passes,
    /// Already true when the rerun reads AWS: a Terraform deletion returns only once AWS has
    /// deleted the replication (as hashicorp/aws does), so its gate holds at `applied`; the
    /// rerun's planner sees the phase complete and goes on.
    Complete,
}

/// Runs `args`, killed at (step, event) when given.
async fn run_until(d: &Drill, args: &[&str], stop_at: Option<(&str, &str)>) -> (bool, Vec<Event>) {
    match stop_at {
        Some((step, kind)) => {
            let at = |e: &Event| is_at(e, step, kind);
            d.efs_dr_until(args, Some(&at)).await
        }
        None => d.efs_dr_until(args, None).await,
    }
}

fn events_of<'a>(events: &'a [Event], step: &str, kind: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| is_at(e, step, kind)).collect()
}

/// Whether a gate poll found its gate not true yet.
fn waiting(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::GatePolled {
            verdict: Verdict::Waiting(_),
            ..
        }
    )
}

/// Kills `args` right after each (step, event) in turn (the change made, its gate not passed
/// yet); each next run must resume at the gate of the step killed before: poll it (waiting at
/// least once when it must), see it pass, and not make its change again. The last run goes
/// to the end.
async fn each_kill_resumes_at_its_gate(d: &Drill, args: &[&str], kills: &[(&str, &str, Expect)]) {
    let (killed, _) = run_until(d, args, Some((kills[0].0, kills[0].1))).await;
    assert!(
        killed,
        "efs-dr {args:?} ended before {} of {}",
        kills[0].1, kills[0].0
    );
    for (i, (step, _, expect)) in kills.iter().enumerate() {
        let next = kills.get(i + 1).map(|(s, e, _)| (*s, *e));
        let (killed, events) = run_until(d, args, next).await;
        if let Some((s, e)) = next {
            assert!(killed, "efs-dr {args:?} ended before {e} of {s}");
        }
        let started: Vec<&Event> = events_of(&events, step, "phase_started");
        if *expect == Expect::Complete {
            assert!(started.is_empty(), "the rerun of {args:?} ran {step} again");
            continue;
        }
        let polls = events_of(&events, step, "gate_polled");
        assert!(
            !polls.is_empty(),
            "the rerun of {args:?} skipped the gate of {step}"
        );
        if *expect == Expect::Waits {
            assert!(
                polls.iter().any(|p| waiting(p)),
                "the rerun of {args:?} did not wait at the gate of {step}"
            );
        }
        assert_eq!(events_of(&events, step, "gate_passed").len(), 1, "{step}");
        assert!(
            events_of(&events, step, "applied").is_empty(),
            "the rerun applied {step} again"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_after_each_change_resumes_at_that_phases_gate() {
    let d = drill_with(&["app"], slow_aws()).await;
    d.write_config("120m", "terraform");
    each_kill_resumes_at_its_gate(
        &d,
        &["init", "--yes"],
        &[("create_forward", "applied", Expect::Waits)],
    )
    .await;
    let status = d.ok(&["status"]).await;
    assert!(!status.stdout.contains("first sync has not completed"));

    // A sync every 30 minutes is older than max_lag between syncs: the RPO is not this
    // test's subject.
    let failover = ["failover", "--yes", "--force"];
    each_kill_resumes_at_its_gate(
        &d,
        &failover,
        &[("remove_forward", "applied", Expect::Complete)],
    )
    .await;
    d.write_on_b("resume").await;

    let failback = ["failback", "--yes", "--writes-stopped"];
    each_kill_resumes_at_its_gate(
        &d,
        &failback,
        &[
            ("disable_protection_a", "sdk_change", Expect::Passes),
            ("create_reverse", "applied", Expect::Waits),
            ("disable_protection_b", "sdk_change", Expect::Passes),
            ("remove_reverse", "applied", Expect::Complete),
            ("create_forward", "applied", Expect::Waits),
        ],
    )
    .await;
    d.assert_home_with_everything(&["resume"]).await;

    // Unplanned: A's region down; each change killed before its gate.
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    let unplanned = ["failover", "--unplanned", "--yes"];
    each_kill_resumes_at_its_gate(
        &d,
        &unplanned,
        &[
            ("delete_forward_from_b", "sdk_change", Expect::Waits),
            ("forget_forward", "state_changed", Expect::Complete),
        ],
    )
    .await;
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_init_killed_before_the_first_sync_never_lets_an_unplanned_failover_serve_an_empty_b() {
    let d = drill_with(&["app"], slow_aws()).await;
    d.write_config("120m", "terraform");
    // 1. init killed after its apply, before the first sync.
    let killed = d
        .efs_dr_killed_at(&["init", "--yes"], |e| {
            is_at(e, "create_forward", "applied")
        })
        .await;
    assert!(killed);
    let status = d.ok(&["status"]).await;
    assert!(
        status.stdout.contains("first sync has not completed"),
        "{}",
        status.stdout
    );
    // 3. A's region goes down: the unplanned failover refuses, B holds none of A's data.
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    let refused = d.efs_dr(&["failover", "--unplanned", "--yes"]).await;
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused
        .finished_message()
        .contains("B holds none of A's data"));
    assert!(refused.finished_message().contains("--force"));
    // 2. The rerun of init waits for the first sync instead of saying "nothing to do"
    //    (tested by the kill test above); here the operator forces the failover instead.
    let forced = d.ok(&["failover", "--unplanned", "--yes", "--force"]).await;
    assert!(forced.finished_message().contains("done"));
    // 4. A comes back: the failback refuses to overwrite A, whose file B never had.
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    let back = d.efs_dr(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(back.code, 2, "{}\n{}", back.stdout, back.stderr);
    assert!(
        back.finished_message().contains("writes only A has"),
        "{}",
        back.finished_message()
    );
    let on_a = d.ts.control.digest(&d.pairs[0].a).await.unwrap();
    assert_eq!(on_a.len(), 3, "A's files are intact: {on_a:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failback_killed_right_after_its_stale_cleanup_resumes_at_the_cleanups_gate() {
    let d = drill_with(&["app"], slow_aws()).await;
    d.write_config("120m", "terraform");
    d.ok(&["init", "--yes"]).await;
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    d.ok(&["failover", "--unplanned", "--yes"]).await;
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    d.write_on_b("outage").await;
    let failback = ["failback", "--yes", "--writes-stopped"];
    let (killed, _) = run_until(&d, &failback, Some(("cleanup_stale_on_a", "sdk_change"))).await;
    assert!(killed);
    let (_, rerun) = run_until(&d, &failback, None).await;
    let polls = events_of(&rerun, "cleanup_stale_on_a", "gate_polled");
    assert!(
        polls.iter().any(|p| waiting(p)),
        "the rerun did not wait for the deletion: {rerun:?}"
    );
    // The deletion AWS was already carrying out was not asked for again.
    assert!(events_of(&rerun, "cleanup_stale_on_a", "sdk_change").is_empty());
    assert!(!rerun
        .iter()
        .any(|e| matches!(e.kind, EventKind::Refused { .. })));
    d.assert_home_with_everything(&["outage"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_error_reaches_the_operator_without_a_backtrace() {
    let d = drill_with(
        &["app"],
        SimOptions {
            time_scale: 600.0,
            seed: Some(12),
            ..SimOptions::default()
        },
    )
    .await;
    d.ok(&["init", "--yes"]).await;
    d.ok(&["failover", "--yes"]).await;
    d.ts.control
        .inject_fault("CreateReplicationConfiguration", "ValidationException", 1)
        .await
        .unwrap();
    let out = d
        .command(&["failback", "--yes", "--writes-stopped"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{stderr}\n{:?}",
        d.ts.control.pending_faults().await
    );
    assert!(stderr.contains("ValidationException"), "{stderr}");
    let report_md = stdout
        .lines()
        .filter_map(event)
        .find_map(|e| match e.kind {
            EventKind::ReportWritten { report } => Some(report),
            _ => None,
        })
        .map(|p| std::fs::read_to_string(p).unwrap())
        .expect("a report");
    for (what, text) in [("stderr", stderr.as_ref()), ("report", report_md.as_str())] {
        for frame in [
            "stack backtrace",
            "tf_provider::",
            "rust_begin_unwind",
            ".rs:",
        ] {
            assert!(!text.contains(frame), "{what} holds {frame:?}:\n{text}");
        }
    }
    // Nothing lost by the failed phase: the same command continues.
    d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    d.assert_home_with_everything(&[]).await;
}
