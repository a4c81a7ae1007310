//! Remote state and teams: Terraform's own S3 backend with native locking (`use_lockfile`) on a
//! real S3 (moto's server mode, started here on loopback), efs-dr's run lease beside the state,
//! and runs on two "machines": two checkouts holding only efs-dr.hcl, each with its own name
//! (`EFS_DR_HOST`). Checks read AWS (the simulator), S3 and the Terraform state.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use efs_dr::dr::events::EventKind;
use efs_dr::dr::phase::Step;
use efs_dr::terraform::ChangeKind;
use efs_dr_testkit::drill::{event, waiting_at};
use efs_dr_testkit::Moto;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::dr::{config_text, drill, Drill, Run, A_REGION, B_REGION};

pub(crate) const BUCKET: &str = "efs-dr-state";
const STATE_KEY: &str = "dr/terraform.tfstate";
const LEASE_KEY: &str = "dr/terraform.tfstate.efs-dr-lease";
const TF_LOCK_KEY: &str = "dr/terraform.tfstate.tflock";
const STALE_AFTER: Duration = Duration::from_secs(10);

/// A checkout of the team's repository on one machine: only efs-dr.hcl.
struct Machine {
    dir: tempfile::TempDir,
    name: &'static str,
}

impl Machine {
    fn config(&self) -> PathBuf {
        self.dir.path().join("efs-dr.hcl")
    }
}

/// The drill's config with the state in `bucket` on `s3` and a short lease; the bucket in A's
/// region, on purpose (the tests of a state lost with A).
pub(crate) fn shared_config(d: &Drill, s3: &str, bucket: &str, timeout: &str) -> String {
    shared_config_in(d, s3, bucket, timeout, A_REGION)
}

/// The same with the bucket in `region`.
pub(crate) fn shared_config_in(
    d: &Drill,
    s3: &str,
    bucket: &str,
    timeout: &str,
    region: &str,
) -> String {
    let backend = format!(
        "  backend \"s3\" {{\n    bucket = \"{bucket}\"\n    key = \"{STATE_KEY}\"\n    region = \"{region}\"\n    use_lockfile = true\n    use_path_style = true\n    endpoints = {{\n      s3 = \"{s3}\"\n    }}\n    skip_credentials_validation = true\n    skip_requesting_account_id = true\n    skip_metadata_api_check = true\n    skip_region_validation = true\n  }}\n"
    );
    let base = config_text(&d.pairs, timeout, "terraform");
    let marker = "  lock_timeout = \"2s\"\n}";
    assert!(base.contains(marker), "the drill's terraform block changed");
    let text = base.replacen(marker, &format!("  lock_timeout = \"2s\"\n{backend}}}"), 1);
    format!(
        "{text}\nlease {{\n  heartbeat = \"1s\"\n  stale_after = \"{}s\"\n}}\n",
        STALE_AFTER.as_secs()
    )
}

/// The application writing on B until stopped (so a failback's quiesce gate waits).
struct Writer {
    writing: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(d: &Drill, tag: &'static str) -> Writer {
        let writing = Arc::new(AtomicBool::new(true));
        let control = d.ts.control.clone();
        let (fs, name) = (d.pairs[0].b.clone(), d.pairs[0].name.clone());
        let task = tokio::spawn({
            let writing = writing.clone();
            async move {
                let mut n = 0;
                while writing.load(Ordering::SeqCst) {
                    n += 1;
                    control
                        .write_file(&fs, &format!("{name}/{tag}-{n}.txt"), b"live")
                        .await
                        .expect("B is writable until it is fenced");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        Writer { writing, task }
    }

    /// Stops writing now (the task ends at its next write).
    fn stop(&self) {
        self.writing.store(false, Ordering::SeqCst);
    }

    async fn stopped(self) {
        self.stop();
        self.task.await.unwrap();
    }
}

/// A pair on the simulator and a state bucket on a new moto.
async fn shared() -> (Moto, Drill) {
    let moto = Moto::start().await;
    moto.create_bucket(BUCKET).await;
    (moto, drill(&["home"]).await)
}

/// Two machines with the same config (the state on moto).
fn machines(text: &str) -> (Machine, Machine) {
    let m = |name| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("efs-dr.hcl"), text).unwrap();
        Machine { dir, name }
    };
    (m("machine-1"), m("machine-2"))
}

fn command(d: &Drill, m: &Machine, args: &[&str]) -> tokio::process::Command {
    let mut cmd = d.command_with(&m.config(), args);
    cmd.env("EFS_DR_HOST", m.name);
    cmd
}

async fn run(d: &Drill, m: &Machine, args: &[&str]) -> Run {
    Run::of(command(d, m, args).output().await.expect("efs-dr runs"))
}

async fn ok(d: &Drill, m: &Machine, args: &[&str]) -> Run {
    let r = run(d, m, args).await;
    assert_eq!(
        r.code, 0,
        "{} efs-dr {args:?} failed:\n{}\n{}",
        m.name, r.stdout, r.stderr
    );
    r
}

/// `terraform state list` in a machine's root (the state is in S3).
async fn state_on(d: &Drill, m: &Machine) -> Vec<String> {
    let out = tokio::process::Command::new(efs_dr_testkit::terraform_binary())
        .args(["state", "list"])
        .current_dir(m.dir.path().join("terraform"))
        .envs(efs_dr_testkit::tf_env(&d.ts.url))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Machine 1 has run init and a failover, and B has taken writes: a failback is next. A long
/// gate timeout (48 s of wall time at 600x), so that a gate outlasts what a test does to S3.
async fn failed_over() -> (Moto, Drill, Machine, Machine) {
    let (moto, d) = shared().await;
    let (m1, m2) = machines(&shared_config(&d, &moto.url, BUCKET, "8h"));
    ok(&d, &m1, &["init", "--yes"]).await;
    ok(&d, &m1, &["failover", "--yes", "--writes-stopped"]).await;
    d.write_on_b("outage").await;
    (moto, d, m1, m2)
}

type Lines<R> = tokio::io::Lines<BufReader<R>>;

/// A failback started on `m`: the process, its events line by line, and its logs when `logs`.
fn failback(
    d: &Drill,
    m: &Machine,
    logs: bool,
) -> (
    tokio::process::Child,
    Lines<tokio::process::ChildStdout>,
    Option<Lines<tokio::process::ChildStderr>>,
) {
    let mut child = command(d, m, &["failback", "--yes", "--writes-stopped"])
        .stdout(Stdio::piped())
        .stderr(if logs { Stdio::piped() } else { Stdio::null() })
        .spawn()
        .unwrap();
    let events = BufReader::new(child.stdout.take().unwrap()).lines();
    let logs = child.stderr.take().map(|e| BufReader::new(e).lines());
    (child, events, logs)
}

/// The object at `key` in the state bucket, if any: its body and when it was last written.
pub(crate) async fn object(moto: &Moto, key: &str) -> Option<(Value, SystemTime)> {
    let out = moto
        .s3()
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .ok()?;
    let modified = SystemTime::try_from(*out.last_modified().unwrap()).unwrap();
    let body = out.body.collect().await.unwrap().into_bytes();
    Some((
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        modified,
    ))
}

/// Every process below `root` (and `root`), from /proc.
pub(crate) fn process_tree(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the command may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parent_of.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for (pid, ppid) in &parent_of {
            if *ppid == parent && !tree.contains(pid) {
                tree.push(*pid);
            }
        }
        i += 1;
    }
    tree
}

/// The machine dies: efs-dr, its Terraform (in a process group of its own) and the provider,
/// all at once with SIGKILL.
pub(crate) fn kill_machine(root: u32) -> usize {
    let tree = process_tree(root);
    for pid in &tree {
        // SAFETY: kill(2) on processes this test started (and their children).
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
    }
    tree.len()
}

/// When B -> A was created, as B's region reports it.
async fn reverse_created(d: &Drill) -> Option<aws_sdk_efs::primitives::DateTime> {
    let p = &d.pairs[0];
    let out = efs_dr_testkit::efs(&d.ts.url, B_REGION)
        .describe_replication_configurations()
        .file_system_id(&p.b)
        .send()
        .await
        .ok()?;
    out.replications()
        .iter()
        .find(|r| r.source_file_system_id() == p.b)
        .map(|r| *r.creation_time())
}

/// Remote state through a machine's death: a failback killed (with its Terraform) on machine 1
/// while AWS creates B -> A is finished from machine 2's fresh checkout. The lease the dead run
/// left is refused to everyone until its heartbeat is older than the limit, and then only to
/// `--take-over`, which also releases the Terraform lock the dead run left in S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failback_killed_on_one_machine_is_finished_from_another() {
    let (moto, d) = shared().await;
    let p = &d.pairs[0];
    let (m1, m2) = machines(&shared_config(&d, &moto.url, BUCKET, "40m"));

    ok(&d, &m1, &["init", "--yes"]).await;
    let state = object(&moto, STATE_KEY).await.expect("the state is in S3");
    assert!(
        state.0["resources"]
            .to_string()
            .contains("aws_efs_replication_configuration"),
        "the S3 state holds the replication: {}",
        state.0
    );
    assert!(
        object(&moto, LEASE_KEY).await.is_none(),
        "init gave its lease back"
    );
    ok(&d, &m1, &["failover", "--yes", "--writes-stopped"]).await;
    d.write_on_b("outage").await;

    // Machine 1's failback, until AWS is creating B -> A; then the machine dies.
    let (mut child, mut lines, _) = failback(&d, &m1, false);
    let mut planned = false;
    while let Some(line) = lines.next_line().await.unwrap() {
        let Some(e) = event(&line) else { continue };
        if matches!(e.kind, EventKind::PlanSummary { .. }) && e.step == Some(Step::CreateReverse) {
            planned = true;
            break;
        }
    }
    assert!(planned, "machine 1's failback reached the reverse create");
    let waited = Instant::now();
    let created = loop {
        if let Some(t) = reverse_created(&d).await {
            break t;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "B -> A never appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let killed = kill_machine(child.id().unwrap());
    assert!(
        killed >= 2,
        "efs-dr and its Terraform were killed ({killed} processes)"
    );
    child.wait().await.unwrap();
    let (lease, _) = object(&moto, LEASE_KEY)
        .await
        .expect("the dead run's lease is left");
    assert_eq!(lease["host"], "machine-1");
    assert_eq!(lease["command"], "efs-dr failback");
    assert!(
        object(&moto, TF_LOCK_KEY).await.is_some(),
        "the killed Terraform left its state lock in S3"
    );

    // Read-only commands need no lease, and status says who holds it.
    let status = run(&d, &m2, &["status"]).await;
    let doc: Value = serde_json::from_str(&status.stdout).expect("status prints one document");
    assert_eq!(doc["run_lease"]["held"], true, "{doc}");
    assert_eq!(doc["run_lease"]["by"]["holder"]["host"], "machine-1");
    assert_eq!(doc["run_lease"]["by"]["holder"]["operation"], "failback");

    // Machine 2, a fresh checkout: refused while the lease is fresh, with or without the flag.
    let refused = run(&d, &m2, &["init", "--yes"]).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "another efs-dr run holds the run lease s3://{BUCKET}/{LEASE_KEY}"
        )),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("`efs-dr failback` (pid ")
            && refused.stderr.contains("on machine-1, pairs home"),
        "the holder is named: {}",
        refused.stderr
    );
    let early = run(&d, &m2, &["init", "--yes", "--take-over"]).await;
    assert_eq!(early.code, 1, "{}", early.stderr);
    assert!(
        early
            .stderr
            .contains("it may still be running, so it is not taken over"),
        "{}",
        early.stderr
    );
    assert_eq!(reverse_created(&d).await, Some(created), "nothing changed");

    // The heartbeat limit passes (read on S3's clock, as efs-dr reads it).
    let stale = Instant::now();
    loop {
        let (_, beat) = object(&moto, LEASE_KEY).await.unwrap();
        if SystemTime::now().duration_since(beat).unwrap_or_default()
            > STALE_AFTER + Duration::from_secs(1)
        {
            break;
        }
        assert!(
            stale.elapsed() < STALE_AFTER * 3,
            "the lease never went stale"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let asked = run(&d, &m2, &["init", "--yes"]).await;
    assert_eq!(asked.code, 1);
    assert!(
        asked.stderr.contains("run this again with --take-over"),
        "{}",
        asked.stderr
    );

    let init = ok(&d, &m2, &["init", "--yes", "--take-over"]).await;
    let report = init.report();
    let taken = &report["lease_taken_over"];
    assert_eq!(taken["previous"]["host"], "machine-1", "{report}");
    assert_eq!(taken["previous"]["command"], "efs-dr failback");
    assert!(taken["heartbeat_age_s"].as_u64().unwrap() >= STALE_AFTER.as_secs());
    assert!(
        taken["terraform_lock_released"].is_string(),
        "the dead run's Terraform lock was released: {taken}"
    );
    assert!(object(&moto, TF_LOCK_KEY).await.is_none());
    let md = std::fs::read_to_string(
        init.events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::ReportWritten { report } => Some(report.as_str()),
                _ => None,
            })
            .unwrap(),
    )
    .unwrap();
    assert!(md.contains("**taken over** from `efs-dr failback`"), "{md}");
    // B -> A that machine 1's Terraform created is imported, never created again.
    assert!(
        init.steps_started()
            .contains(&"home:import_reverse".to_string()),
        "{:?}",
        init.steps_started()
    );
    assert_eq!(
        reverse_created(&d).await,
        Some(created),
        "one B -> A ever created"
    );

    let failback = ok(&d, &m2, &["failback", "--yes", "--writes-stopped"]).await;
    assert!(
        !failback
            .events
            .iter()
            .any(|e| e.step == Some(Step::CreateReverse)
                && matches!(&e.kind, EventKind::Applied { changes }
                if changes.iter().any(|c| c.kind == ChangeKind::Create))),
        "B -> A was not created again"
    );
    d.assert_home_with_everything(&["outage"]).await;
    assert!(
        object(&moto, LEASE_KEY).await.is_none(),
        "the lease was given back"
    );
    // Machine 1's checkout reads the same state as machine 2's: one A -> B.
    let on_m1 = state_on(&d, &m1).await;
    assert_eq!(on_m1, state_on(&d, &m2).await);
    assert_eq!(on_m1.len(), 1, "{on_m1:?}");
    assert_eq!(d.protection(A_REGION, &p.a).await, "ENABLED");
}

/// Two operators start a failover at the same moment from two machines: exactly one runs, the
/// other is refused (exit 1) with the holder named, and is told there is nothing left after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_failovers_at_once_from_two_machines_one_runs_the_other_is_refused() {
    let (moto, d) = shared().await;
    let p = &d.pairs[0];
    let (m1, m2) = machines(&shared_config(&d, &moto.url, BUCKET, "40m"));
    ok(&d, &m1, &["init", "--yes"]).await;

    let args = ["failover", "--yes", "--writes-stopped"];
    let (r1, r2) = tokio::join!(run(&d, &m1, &args), run(&d, &m2, &args));
    let mut codes = [r1.code, r2.code];
    codes.sort();
    assert_eq!(
        codes,
        [0, 1],
        "one ran, one was refused:\n{}\n{}",
        r1.stderr,
        r2.stderr
    );
    let (winner, loser, loser_machine) = if r1.code == 0 {
        ("machine-1", r2, &m2)
    } else {
        ("machine-2", r1, &m1)
    };
    assert!(
        loser
            .stderr
            .contains("another efs-dr run holds the run lease")
            && loser.stderr.contains("`efs-dr failover` (pid ")
            && loser.stderr.contains(&format!("on {winner}, pairs home")),
        "the refusal names the holder: {}",
        loser.stderr
    );
    assert!(
        !loser.any(|k| matches!(k, EventKind::PhaseStarted { .. })),
        "the refused run started nothing"
    );
    assert_eq!(d.protection(B_REGION, &p.b).await, "ENABLED", "B writable");
    assert!(d.replications(B_REGION).await.is_empty());
    let again = ok(&d, loser_machine, &args).await;
    assert!(
        again.finished_message().contains("nothing to do"),
        "{}",
        again.stdout
    );
}

/// S3 stops answering while a run waits at a gate. If it is back before the next change, the run
/// goes on; if not, the run stops before the change (exit 1, nothing changed) and the same
/// command finishes later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_stopping_during_a_gate_wait_never_lets_a_change_through_unrecorded() {
    let (moto, d, m1, _) = failed_over().await;
    let p = &d.pairs[0];

    // 1. S3 still stopped when the quiesce has passed: the run stops before fencing B.
    let w = Writer::start(&d, "first");
    let (mut child, mut lines, _) = failback(&d, &m1, false);
    let mut finished = None;
    let mut paused = false;
    while let Some(line) = lines.next_line().await.unwrap() {
        let Some(e) = event(&line) else { continue };
        if !paused && waiting_at(&e, Step::Quiesce) {
            moto.pause();
            paused = true;
            w.stop();
        }
        if let EventKind::Finished { .. } = e.kind {
            finished = Some(e);
            moto.resume();
            break;
        }
    }
    assert!(paused, "the quiesce gate waited");
    w.stopped().await;
    while lines.next_line().await.unwrap().is_some() {}
    let status = child.wait().await.unwrap();
    let message = match finished.map(|e| e.kind) {
        Some(EventKind::Finished { message, .. }) => message,
        other => panic!("no finished event: {other:?}"),
    };
    assert_eq!(status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!(
            "the state's S3 bucket s3://{BUCKET} cannot be written"
        )) && message.contains(
            "this run stops before \"set B's overwrite protection to DISABLED (SDK)\" (pairs home)"
        ) && message.contains("Run the same command again when S3 answers"),
        "{message}"
    );
    // Nothing changed after the gate: B not fenced, B -> A still replicating into A.
    assert_eq!(d.protection(B_REGION, &p.b).await, "ENABLED");
    assert!(d
        .replications(B_REGION)
        .await
        .iter()
        .any(|r| r.0 == p.b && r.1 == p.a && r.2 == "ENABLED"));
    assert!(
        object(&moto, LEASE_KEY).await.is_none(),
        "the lease was given back once S3 answered"
    );

    // 2. S3 stops during the gate wait and comes back before the next change: the run goes on.
    let w = Writer::start(&d, "second");
    let (mut child, mut events, logs) = failback(&d, &m1, true);
    let mut logs = logs.expect("its logs");
    loop {
        let line = events
            .next_line()
            .await
            .unwrap()
            .expect("the run waits at the quiesce gate");
        if event(&line).is_some_and(|e| waiting_at(&e, Step::Quiesce)) {
            break;
        }
    }
    moto.pause();
    // Until the run has noticed: its heartbeat fails.
    loop {
        let line = logs
            .next_line()
            .await
            .unwrap()
            .expect("the run logs its failed heartbeat");
        if line.contains("the heartbeat failed") {
            break;
        }
    }
    moto.resume();
    w.stopped().await;
    let rest =
        tokio::spawn(async move { while logs.next_line().await.ok().flatten().is_some() {} });
    let mut ended = None;
    let mut warnings = Vec::new();
    while let Some(line) = events.next_line().await.unwrap() {
        let Some(e) = event(&line) else { continue };
        match e.kind {
            EventKind::Finished { message, .. } => ended = Some(message),
            EventKind::Warning { text } => warnings.push(text),
            _ => {}
        }
    }
    let status = child.wait().await.unwrap();
    rest.await.unwrap();
    assert_eq!(status.code(), Some(0), "{ended:?}");
    // What the log said of the lease, the JSON events say too (and so the report).
    assert!(
        warnings.iter().any(|w| w.contains("the heartbeat failed"))
            && warnings.iter().any(|w| w.contains("S3 answers again")),
        "{warnings:?}"
    );
    d.assert_home_with_everything(&["outage"]).await;
    assert!(object(&moto, LEASE_KEY).await.is_none());
}

/// SIGINT stops a run at a safe point and gives its lease back: the next run, from any machine,
/// needs no take-over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_gives_its_lease_back() {
    let (moto, d, m1, m2) = failed_over().await;
    // B keeps being written, so the failback waits at its quiesce gate.
    let w = Writer::start(&d, "live");
    let (mut child, mut lines, _) = failback(&d, &m1, false);
    while let Some(line) = lines.next_line().await.unwrap() {
        let e = event(&line);
        if e.is_some_and(|e| {
            matches!(e.kind, EventKind::GatePolled { .. }) && e.step == Some(Step::Quiesce)
        }) {
            assert!(
                object(&moto, LEASE_KEY).await.is_some(),
                "held while waiting"
            );
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(child.id().unwrap() as libc::pid_t, libc::SIGINT) };
            break;
        }
    }
    while lines.next_line().await.unwrap().is_some() {}
    assert_eq!(child.wait().await.unwrap().code(), Some(130));
    assert!(
        object(&moto, LEASE_KEY).await.is_none(),
        "the lease was given back"
    );
    w.stopped().await;
    // Machine 2 finishes it without --take-over.
    ok(&d, &m2, &["failback", "--yes", "--writes-stopped"]).await;
    d.assert_home_with_everything(&["outage"]).await;
}

/// A state bucket that cannot be used stops the run before it changes anything, and says what
/// to do: a missing bucket, credentials S3 refuses, an S3 that does not answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_bucket_that_cannot_be_used_stops_the_run_before_any_change() {
    let moto = Moto::start().await;
    let strict = Moto::start_checking_credentials().await;
    let d = drill(&["home"]).await;
    let p = &d.pairs[0];
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let cases = [
        (moto.url.as_str(), "no-such-bucket", "does not exist"),
        (
            strict.url.as_str(),
            BUCKET,
            "S3 refused efs-dr's credentials",
        ),
        (closed.as_str(), BUCKET, "does not answer"),
    ];
    for (url, bucket, says) in cases {
        let (m, _) = machines(&shared_config(&d, url, bucket, "40m"));
        let r = run(&d, &m, &["init", "--yes"]).await;
        assert_eq!(r.code, 1, "{url} {bucket}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{url} {bucket}: {}", r.stderr);
        assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        // Nothing changed in AWS: no replication, B's protection as it was.
        assert!(d.replications(B_REGION).await.is_empty());
        assert_eq!(d.protection(B_REGION, &p.b).await, "ENABLED");
    }
}

/// The state kept in A's region (as this config does, on purpose) is warned about; when an
/// outage takes A and the state's bucket together, the unplanned failover still makes B
/// writable (B's deletions need neither the state nor the lease), then stops before the state
/// with exit 4, saying that B serves and the state still holds A -> B; run again once the
/// bucket answers, it only forgets A -> B. The failback then brings everything home.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplanned_failover_whose_state_cannot_be_written_makes_b_writable_and_exits_4() {
    let (moto, d) = shared().await;
    let (m1, _) = machines(&shared_config(&d, &moto.url, BUCKET, "40m"));
    let p = &d.pairs[0];
    let warning = "is in us-east-1, the primary region of pair(s) home";
    let validate = run(&d, &m1, &["config", "validate"]).await;
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    let doc: Value = serde_json::from_str(&validate.stdout).unwrap();
    assert!(
        doc["warnings"][0].as_str().unwrap().contains(warning),
        "{doc}"
    );
    let init = ok(&d, &m1, &["init", "--yes"]).await;
    assert!(init.stderr.contains(warning), "{}", init.stderr);
    let status = ok(&d, &m1, &["status"]).await;
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        status["warnings"][0].as_str().unwrap().contains(warning),
        "{status}"
    );
    let forward = state_on(&d, &m1).await;
    assert_eq!(forward.len(), 1, "{forward:?}");

    // A's region goes down, and the state's bucket with it.
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    moto.pause();
    let down = run(&d, &m1, &["failover", "--unplanned", "--yes"]).await;
    moto.resume();
    assert_eq!(down.code, 4, "{}\n{}", down.stdout, down.stderr);
    let said = down.finished_message();
    assert!(
        said.contains(&format!("B {} ({B_REGION}) is writable and serves", p.b)),
        "{said}"
    );
    assert!(
        said.contains("the Terraform state still holds A -> B"),
        "{said}"
    );
    assert!(said.contains("Run the same command again"), "{said}");
    assert!(
        d.replications(B_REGION).await.is_empty(),
        "B's side deleted"
    );
    assert_eq!(d.protection(B_REGION, &p.b).await, "ENABLED", "B writable");
    assert_eq!(state_on(&d, &m1).await, forward, "the state not changed");
    assert!(
        !down.any(|k| matches!(k, EventKind::StateChanged { .. })),
        "{}",
        down.stdout
    );

    // The bucket answers again (A still down): the same command only forgets A -> B.
    let again = ok(&d, &m1, &["failover", "--unplanned", "--yes"]).await;
    assert!(
        !again.any(|k| matches!(k, EventKind::SdkChange { .. })),
        "B's deletion is not made twice: {}",
        again.stdout
    );
    assert!(
        again
            .any(|k| matches!(k, EventKind::StateChanged { command, .. } if command == "state rm")),
        "{}",
        again.stdout
    );
    assert!(state_on(&d, &m1).await.is_empty());

    d.write_on_b("outage").await;
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    ok(&d, &m1, &["failback", "--yes", "--writes-stopped"]).await;
    d.assert_home_with_everything(&["outage"]).await;
}

/// `status` never hangs on a state whose bucket does not answer: after its deadline it shows
/// the state as unknown (drift unknown, not "none") and exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_a_state_bucket_that_does_not_answer_ends_and_says_unknown() {
    let (moto, d) = shared().await;
    let (m1, _) = machines(&shared_config(&d, &moto.url, BUCKET, "40m"));
    ok(&d, &m1, &["init", "--yes"]).await;
    moto.pause();
    let started = Instant::now();
    let st = Run::of(
        command(&d, &m1, &["status"])
            .env("EFS_DR_STATE_READ_TIMEOUT", "3s")
            .output()
            .await
            .unwrap(),
    );
    let took = started.elapsed();
    moto.resume();
    assert_eq!(st.code, 1, "{}\n{}", st.stdout, st.stderr);
    assert!(took < Duration::from_secs(30), "status took {took:?}");
    let doc: Value = serde_json::from_str(&st.stdout).unwrap();
    let unknown = doc["pairs"][0]["state_unknown"]
        .as_str()
        .unwrap_or_default();
    assert!(unknown.contains("did not answer within 3s"), "{doc}");
    assert!(st.stderr.contains("drift unknown"), "{}", st.stderr);
}

/// One stream of what an operator sees: the display's lines (human output, on stderr) or its
/// events (`--output json`, on stdout), and the process.
struct Watched {
    child: tokio::process::Child,
    lines: Lines<Box<dyn tokio::io::AsyncRead + Unpin + Send>>,
    json: bool,
}

impl Watched {
    /// A failback on `m`, shown as `json` says; logs off, so that stderr holds only the display.
    fn failback(d: &Drill, m: &Machine, json: bool) -> Watched {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_efs-dr"));
        cmd.arg("--config")
            .arg(m.config())
            .args(["--output", if json { "json" } else { "human" }])
            .args([
                "failback",
                "--yes",
                "--writes-stopped",
                "--progress-every",
                "1s",
            ])
            .env("PATH", efs_dr_testkit::path_with_tools())
            .envs(efs_dr_testkit::tf_env(&d.ts.url))
            .env("EFS_DR_HOST", m.name)
            .env("RUST_LOG", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let stream: Box<dyn tokio::io::AsyncRead + Unpin + Send> = if json {
            Box::new(child.stdout.take().unwrap())
        } else {
            Box::new(child.stderr.take().unwrap())
        };
        Watched {
            child,
            lines: BufReader::new(stream).lines(),
            json,
        }
    }

    /// The warning a line says, if it says one: a `warning` event's text, or the display's
    /// `[pair]   warning: TEXT` line.
    fn warning(&self, line: &str) -> Option<String> {
        if self.json {
            match event(line)?.kind {
                EventKind::Warning { text } => Some(text),
                _ => None,
            }
        } else {
            line.split_once("]   warning: ").map(|(_, t)| t.to_string())
        }
    }

    /// Whether a line says the run waits at the quiesce gate.
    fn waits_at_quiesce(&self, line: &str, in_quiesce: &mut bool) -> bool {
        if self.json {
            event(line).is_some_and(|e| waiting_at(&e, Step::Quiesce))
        } else {
            if line.contains("] > ") {
                *in_quiesce = line.contains("wait until writes on B stopped");
            }
            *in_quiesce && line.contains("]   waiting: ")
        }
    }

    /// The report's path, if the line gives it.
    fn report(&self, line: &str) -> Option<PathBuf> {
        let path = if self.json {
            match event(line)?.kind {
                EventKind::ReportWritten { report } => report,
                _ => return None,
            }
        } else {
            line.strip_prefix("report: ")?.to_string()
        };
        Some(PathBuf::from(path))
    }
}

/// `--output json` carries every warning the terminal shows: a failback that cannot read a
/// CloudWatch metric of A and whose lease heartbeat fails while it waits at the quiesce gate
/// (S3 paused), run once with each output. Each run's warnings are its report's too, word for
/// word; the two runs' warnings are the same kinds, as many of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_carries_every_warning_the_terminal_shows() {
    let kinds = [
        "CloudWatch TimeSinceLastSync in",
        "the heartbeat failed",
        "S3 answers again",
    ];
    let mut counts = Vec::new();
    for json in [false, true] {
        let (moto, d, m1, _) = failed_over().await;
        // The second metric read in A's region (the first is the observation's last writes):
        // TimeSinceLastSync, the evidence of writes only A has.
        d.ts.control
            .inject_fault_in(
                Some(A_REGION),
                "GetMetricData",
                "AccessDeniedException",
                1,
                1,
            )
            .await
            .unwrap();
        let w = Writer::start(&d, "live");
        let mut run = Watched::failback(&d, &m1, json);
        let mut warnings = Vec::new();
        let mut report = None;
        let mut in_quiesce = false;
        let mut shown = Vec::new();
        let mut seen = |run: &Watched, line: &str, warnings: &mut Vec<String>| {
            shown.push(line.to_string());
            warnings.extend(run.warning(line));
            if let Some(r) = run.report(line) {
                report = Some(r);
            }
        };
        // Waiting at the quiesce gate: S3 stops until the run says its heartbeat failed.
        loop {
            let Some(line) = run.lines.next_line().await.unwrap() else {
                panic!(
                    "the run ended before waiting at the quiesce gate:\n{}",
                    shown.join("\n")
                )
            };
            seen(&run, &line, &mut warnings);
            if run.waits_at_quiesce(&line, &mut in_quiesce) {
                break;
            }
        }
        moto.pause();
        loop {
            let line = run.lines.next_line().await.unwrap().expect("the run warns");
            seen(&run, &line, &mut warnings);
            if warnings.iter().any(|w| w.contains("the heartbeat failed")) {
                break;
            }
        }
        // Without a terminal, a gate that keeps waiting says so again at least every
        // --progress-every, with how long it has waited.
        if !json {
            let mut repeats = 0;
            while repeats < 2 {
                let line = run.lines.next_line().await.unwrap().expect("the run waits");
                seen(&run, &line, &mut warnings);
                if line.starts_with("[home]   waiting: ") && line.ends_with(" so far)") {
                    repeats += 1;
                }
            }
        }
        moto.resume();
        w.stopped().await;
        while let Some(line) = run.lines.next_line().await.unwrap() {
            seen(&run, &line, &mut warnings);
        }
        let status = run.child.wait().await.unwrap();
        assert_eq!(status.code(), Some(0), "json: {json}; {warnings:?}");
        let count: Vec<usize> = kinds
            .iter()
            .map(|k| warnings.iter().filter(|w| w.contains(k)).count())
            .collect();
        assert!(
            count.iter().all(|n| *n >= 1),
            "json: {json}: every kind of warning shown: {warnings:#?}"
        );
        // The report says each warning the output said, word for word.
        let report = report
            .expect("the report's path is said")
            .with_extension("json");
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let mut in_report: Vec<String> = report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_string())
            .chain(
                report["pairs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|p| p["notes"].as_array().unwrap().iter())
                    .filter_map(|n| n.as_str()?.strip_prefix("warning: "))
                    .map(str::to_string),
            )
            .collect();
        in_report.sort();
        warnings.sort();
        assert_eq!(in_report, warnings, "json: {json}");
        counts.push(count);
        d.assert_home_with_everything(&["outage"]).await;
    }
    assert_eq!(
        counts[0], counts[1],
        "human and JSON show the same warnings"
    );
}
