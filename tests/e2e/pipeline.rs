//! Pull requests and pipeline stages end to end: a git repository holding the config and the
//! rendered root; for each phase `efs-dr propose` on a branch, a commit, a merge, then the
//! pipeline's stages around a plain `terraform apply` (not efs-dr), until a failover and a
//! failback are done. Checked against the simulator's API and file listing, and the state.

use std::path::Path;

use efs_dr::dr::events::EventKind;
use serde_json::Value;

use crate::dr::{drill, Drill, Run, A_REGION, B_REGION};
use crate::pipeline_field::git;

/// Plain Terraform, as a pipeline runs it; (exit code, stdout + stderr).
async fn terraform(d: &Drill, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(efs_dr_testkit::terraform_binary())
        .args(args)
        .current_dir(d.dir.path())
        .envs(efs_dr_testkit::tf_env(&d.ts.url))
        .output()
        .await
        .expect("terraform runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A plain `terraform plan -detailed-exitcode` (with `extra` flags) finds nothing to do.
async fn plan_is_clean(d: &Drill, extra: &[&str]) {
    let mut args = vec![
        "-chdir=terraform",
        "plan",
        "-input=false",
        "-detailed-exitcode",
    ];
    args.extend(extra);
    let (code, out) = terraform(d, &args).await;
    assert_eq!(code, 0, "the plan is not clean:\n{out}");
}

/// An efs-dr command line as the proposal spells it ("efs-dr gate failback --before-apply").
async fn run_line(d: &Drill, line: &str) -> Run {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], "efs-dr", "{line}");
    d.efs_dr(&words[1..]).await
}

fn refused(run: &Run, needle: &str) {
    assert_eq!(
        run.code, 2,
        "expected a refusal:\n{}\n{}",
        run.stdout, run.stderr
    );
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains(needle), "{needle:?} not in:\n{text}");
}

/// The root as a team keeps it: a git repository whose first commit is what `init` rendered,
/// ignoring Terraform's local files, the reports and `more` (newline-separated).
fn commit_root(repo: &Path, more: &str) {
    std::fs::write(
        repo.join(".gitignore"),
        format!(".terraform/\n*.tfstate\n*.tfstate.backup\n*.tfplan\nefs-dr-reports/\n{more}"),
    )
    .unwrap();
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "efs-dr root"]);
}

/// One pull request through the pipeline: propose on a branch, commit, merge, the stage
/// before apply, plain `terraform apply`, the stage after apply. Returns the proposal.
async fn one_pull_request(d: &Drill, op: &str, n: usize) -> Value {
    let repo = d.dir.path();
    let branch = format!("{}-{n}", op.replace(" --", "-"));
    git(repo, &["checkout", "-q", "-b", &branch]);
    let body = repo.join("pr.md");
    let summary = repo.join("pr.json");
    let mut args = vec!["propose"];
    args.extend(op.split_whitespace());
    args.extend([
        "--body-file",
        body.to_str().unwrap(),
        "--summary-file",
        summary.to_str().unwrap(),
    ]);
    let proposed = d.ok(&args).await;
    let op = match op {
        "failover --unplanned" => "unplanned failover",
        other => other,
    };
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let proposal = summary["proposal"].clone();
    let body = std::fs::read_to_string(&body).unwrap();
    assert!(body.starts_with(&format!("# {}", proposal["title"].as_str().unwrap())));
    assert!(body.contains("<details>"), "{body}");
    // Only the phase's files changed in the root.
    let changed = git(repo, &["status", "--porcelain", "--", "terraform"]);
    for line in changed.lines() {
        assert!(
            line.ends_with("efs-dr.auto.tfvars.json")
                || line.ends_with("efs-dr.proposal.json")
                || line.ends_with("efs-dr.imports.tf")
                || line.ends_with("efs-dr.forget.tf"),
            "propose changed {line}\n{}",
            proposed.stderr
        );
    }
    git(repo, &["add", "terraform"]);
    git(
        repo,
        &["commit", "-q", "-m", proposal["title"].as_str().unwrap()],
    );
    // The pull request's plan job: the plan with the proposal's flags, checked.
    let mut plan = vec!["-chdir=terraform", "plan", "-input=false", "-out=pr.tfplan"];
    let flags: Vec<String> = proposal["commands"]["plan_flags"]
        .as_array()
        .map(|f| f.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    plan.extend(flags.iter().map(String::as_str));
    let (code, out) = terraform(d, &plan).await;
    assert_eq!(code, 0, "terraform {plan:?}:\n{out}");
    let plan_file = d.tf_dir().join("pr.tfplan");
    let checked = d.efs_dr(&["check-plan", plan_file.to_str().unwrap()]).await;
    assert_eq!(
        checked.code, 0,
        "check-plan of PR {n}:\n{}\n{}",
        checked.stdout, checked.stderr
    );
    std::fs::remove_file(plan_file).unwrap();
    git(repo, &["checkout", "-q", "main"]);
    git(repo, &["merge", "-q", "--no-ff", "-m", "merge", &branch]);

    let commands = &proposal["commands"];
    let before = run_line(d, commands["before_apply"].as_str().unwrap()).await;
    assert_eq!(before.code, 0, "{}\n{}", before.stdout, before.stderr);
    let apply: Vec<&str> = commands["apply"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .chain(["-auto-approve", "-input=false", "-no-color"])
        .collect();
    let (code, out) = terraform(d, &apply).await;
    assert_eq!(code, 0, "terraform {apply:?}:\n{out}");
    let after = run_line(d, commands["after_apply"].as_str().unwrap()).await;
    assert_eq!(after.code, 0, "{}\n{}", after.stdout, after.stderr);
    // The stage says where the operation stands, and "done" only when it is.
    let stage = after
        .events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::Finished { stage, .. } => stage.clone(),
            _ => None,
        })
        .unwrap_or_default();
    let route = proposal_route(&body);
    if commands["next"].is_null() {
        assert!(stage.starts_with(&format!("{op} done: phase")), "{stage}");
        assert!(route.contains("the last"), "{route}");
    } else {
        assert!(stage.contains(&format!("the {op} is not done")), "{stage}");
        assert!(!stage.starts_with(&format!("{op} done")), "{stage}");
    }
    let report = after.report();
    // What an auditor files: the schema, who ran which command on which commit of the root.
    assert_eq!(report["schema_version"], 1, "{report}");
    let audit = &report["audit"];
    assert!(
        audit["command_line"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--after-apply")
            && audit["root_commit"].as_str().is_some_and(|c| c.len() == 40)
            && audit["config_sha256"]
                .as_str()
                .is_some_and(|c| c.len() == 64)
            && !audit["user"].as_str().unwrap_or_default().is_empty()
            && audit["terraform_version"]
                .as_str()
                .unwrap()
                .starts_with("1."),
        "{audit}"
    );
    assert!(
        audit["aws_caller"]
            .as_str()
            .is_some_and(|c| c.starts_with("arn:aws:") && c.contains("(account ")),
        "{audit}"
    );
    assert!(
        report["title"].is_null() && report["stage"].as_str() == Some(stage.as_str()),
        "{report}"
    );
    let applied = report["terraform_changes"].as_array().unwrap();
    assert!(
        !applied.is_empty(),
        "the stage records what the pipeline applied: {report}"
    );
    let md = after.report_markdown();
    assert!(!md.lines().next().unwrap().ends_with(": done"), "{md}");
    proposal
}

/// The body's route line: "**PR 1 of 3** of the failback; ...".
fn proposal_route(body: &str) -> String {
    body.lines()
        .find(|l| l.starts_with("**PR "))
        .unwrap_or_else(|| panic!("no route in the body:\n{body}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failover_and_a_failback_run_as_reviewed_pull_requests_and_pipeline_stages() {
    let d = drill(&["app", "media"]).await;
    let repo = d.dir.path();
    d.ok(&["init", "--yes"]).await;
    commit_root(repo, "pr.md\npr.json\ngitlab-report.json\n");

    // Bad input first: unrelated changes in the root; a gate for the wrong operation.
    std::fs::write(d.tf_dir().join("notes.tf"), "# mine\n").unwrap();
    let dirty = d.efs_dr(&["propose", "failover"]).await;
    assert_eq!(dirty.code, 1, "{}", dirty.stderr);
    assert!(dirty.stderr.contains("notes.tf"), "{}", dirty.stderr);
    std::fs::remove_file(d.tf_dir().join("notes.tf")).unwrap();
    assert!(git(repo, &["status", "--porcelain"]).is_empty());

    // Failover: one pull request (remove A -> B), gated on the RPO before apply.
    let p = one_pull_request(&d, "failover", 1).await;
    assert_eq!(p["pairs"][0]["step"], "remove_forward");
    assert!(p["commands"]["next"].is_null());
    for pair in &d.pairs {
        assert_eq!(d.protection(B_REGION, &pair.b).await, "ENABLED");
    }
    assert!(d.replications(B_REGION).await.is_empty());
    let nothing = d.efs_dr(&["propose", "failover", "--pair", "app"]).await;
    assert_eq!(nothing.code, 1);
    assert!(
        nothing.stderr.contains("nothing to propose for pair app"),
        "{}",
        nothing.stderr
    );
    let wrong = d.efs_dr(&["gate", "failback", "--after-apply"]).await;
    refused(&wrong, "another operation");
    // Under GitHub Actions the refusal is an annotation, and the run report goes to the job
    // summary.
    let summary_file = repo.join("step-summary.md");
    let out = d
        .command(&["gate", "failback", "--after-apply"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error title=efs-dr gate (after apply)%3A refused::"),
        "{stdout}"
    );
    let out = d
        .command(&["gate", "--after-apply"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("::group::efs-dr gate failover") && stdout.contains("::endgroup::"));
    let job_summary = std::fs::read_to_string(&summary_file).unwrap();
    assert!(job_summary.contains("failover"), "{job_summary}");
    std::fs::remove_file(&summary_file).unwrap();
    d.write_on_b("failover").await;

    // Failback: a proposal made now and never merged goes stale.
    git(repo, &["checkout", "-q", "-b", "stale"]);
    d.ok(&["propose", "failback", "--body-file", "/dev/null"])
        .await;
    git(repo, &["add", "terraform"]);
    git(repo, &["commit", "-q", "-m", "stale proposal"]);
    git(repo, &["checkout", "-q", "main"]);

    let p = one_pull_request(&d, "failback", 1).await;
    assert_eq!(p["pairs"][0]["step"], "create_reverse");
    assert!(p["commands"]["before_apply"]
        .as_str()
        .unwrap()
        .contains("--perform-sdk"));
    d.write_on_b("during-failback").await;

    // The stale branch: its gate and its plan are refused with what changed.
    git(repo, &["checkout", "-q", "stale"]);
    let gate = d
        .efs_dr(&["gate", "failback", "--before-apply", "--perform-sdk"])
        .await;
    refused(&gate, "stale");
    let (code, out) = terraform(
        &d,
        &[
            "-chdir=terraform",
            "plan",
            "-input=false",
            "-out=stale.tfplan",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let stale = d
        .efs_dr(&[
            "check-plan",
            d.tf_dir().join("stale.tfplan").to_str().unwrap(),
        ])
        .await;
    refused(&stale, "remove B -> A");
    git(repo, &["checkout", "-q", "main"]);

    // The second pull request: an extra change in the plan is refused by check-plan, as a
    // saved plan and as JSON; a tampered JSON is refused; the clean plan passes.
    git(repo, &["checkout", "-q", "-b", "failback-extra"]);
    d.ok(&["propose", "failback", "--body-file", "/dev/null"])
        .await;
    std::fs::write(
        d.tf_dir().join("extra.tf"),
        "resource \"terraform_data\" \"extra\" {}\n",
    )
    .unwrap();
    let (code, out) = terraform(
        &d,
        &[
            "-chdir=terraform",
            "plan",
            "-input=false",
            "-out=extra.tfplan",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let extra = d
        .efs_dr(&[
            "check-plan",
            d.tf_dir().join("extra.tfplan").to_str().unwrap(),
        ])
        .await;
    refused(&extra, "terraform_data.extra");
    let (code, json) = terraform(&d, &["-chdir=terraform", "show", "-json", "extra.tfplan"]).await;
    assert_eq!(code, 0);
    let json_path = repo.join("extra.json");
    std::fs::write(&json_path, &json).unwrap();
    let extra = d.efs_dr(&["check-plan", json_path.to_str().unwrap()]).await;
    refused(&extra, "terraform_data.extra");
    let mut tampered: Value = serde_json::from_str(&json).unwrap();
    tampered["resource_changes"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["address"] != "terraform_data.extra");
    std::fs::write(&json_path, tampered.to_string()).unwrap();
    let t = d.efs_dr(&["check-plan", json_path.to_str().unwrap()]).await;
    refused(&t, "does not hold together");
    // A plan of another root (other pairs): an error, not a verdict.
    let mut other: Value = serde_json::from_str(&json).unwrap();
    other["variables"]["directions"]["value"]
        .as_object_mut()
        .unwrap()
        .remove("media");
    std::fs::write(&json_path, other.to_string()).unwrap();
    let o = d.efs_dr(&["check-plan", json_path.to_str().unwrap()]).await;
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("another root"), "{}", o.stderr);
    std::fs::remove_file(d.tf_dir().join("extra.tf")).unwrap();
    std::fs::remove_file(&json_path).unwrap();
    let (code, out) = terraform(
        &d,
        &[
            "-chdir=terraform",
            "plan",
            "-input=false",
            "-out=good.tfplan",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let good = d
        .efs_dr(&[
            "check-plan",
            d.tf_dir().join("good.tfplan").to_str().unwrap(),
        ])
        .await;
    assert_eq!(good.code, 0, "{}\n{}", good.stdout, good.stderr);
    git(repo, &["checkout", "-q", "--", "terraform"]);
    git(repo, &["checkout", "-q", "main"]);
    git(repo, &["branch", "-q", "-D", "failback-extra"]);

    // Then every phase left, one pull request each, until nothing is left to propose.
    let mut n = 2;
    let mut steps = vec![p["pairs"][0]["step"].as_str().unwrap().to_string()];
    loop {
        let p = one_pull_request(&d, "failback", n).await;
        steps.push(p["pairs"][0]["step"].as_str().unwrap().to_string());
        if p["commands"]["next"].is_null() {
            break;
        }
        n += 1;
        assert!(n < 6, "too many pull requests: {steps:?}");
    }
    assert_eq!(
        steps,
        ["create_reverse", "remove_reverse", "create_forward"]
    );

    // Nothing lost, ids unchanged, A -> B, and Terraform has nothing left to do.
    d.assert_home_with_everything(&["failover", "during-failback"])
        .await;
    plan_is_clean(&d, &[]).await;
    let done = d.efs_dr(&["propose", "failback"]).await;
    assert_eq!(
        done.code, 0,
        "nothing left is not an error: {}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("nothing to propose: the failback has no phase left"),
        "{}",
        done.stderr
    );
    let summary: Value = serde_json::from_str(&done.stdout).unwrap();
    assert!(summary["proposal"].is_null(), "{summary}");
    let detailed = d
        .efs_dr(&["propose", "failback", "--detailed-exitcode"])
        .await;
    assert_eq!(detailed.code, 2, "{}", detailed.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proposal_edited_by_hand_is_refused_before_apply_with_what_differs() {
    let d = drill(&["app"]).await;
    let repo = d.dir.path();
    d.ok(&["init", "--yes"]).await;
    commit_root(repo, "");
    d.ok(&["propose", "failover"]).await;
    let file = d.tf_dir().join("efs-dr.proposal.json");
    let reviewed: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(reviewed["format"], 2);

    // The step name is kept; what the phase may change is not: it now allows destroying the
    // reverse replication instead of the forward one.
    let mut edited = reviewed.clone();
    let route = edited["pairs"][0]["route"].as_array_mut().unwrap();
    let apply = route.iter_mut().find(|s| s["stage"] == "apply").unwrap();
    assert_eq!(apply["step"], "remove_forward");
    let plan = apply["actions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["action"] == "plan_check_apply")
        .unwrap();
    let address = plan["allowed"][0]["address"].as_str().unwrap().to_string();
    assert!(address.contains(".forward["), "{address}");
    plan["allowed"][0]["address"] = Value::from(address.replace(".forward[", ".reverse["));
    std::fs::write(&file, serde_json::to_string_pretty(&edited).unwrap()).unwrap();

    let gate = d.efs_dr(&["gate", "failover", "--before-apply"]).await;
    refused(&gate, "the live decision is not what was reviewed");
    let text = format!("{}{}", gate.stdout, gate.stderr);
    assert!(
        text.contains("pair app")
            && text.contains("(the Terraform phase)")
            && text.contains(&format!(
                "allows delete {}",
                address.replace(".forward[", ".reverse[")
            ))
            && text.contains(&format!("allows delete {address}")),
        "the refusal says what differs:\n{text}"
    );
    // Nothing changed: A -> B still replicates.
    assert_eq!(d.replications(B_REGION).await.len(), 1);

    // The proposal as it was reviewed passes the same stage.
    std::fs::write(&file, serde_json::to_string_pretty(&reviewed).unwrap()).unwrap();
    let gate = d.efs_dr(&["gate", "failover", "--before-apply"]).await;
    assert_eq!(gate.code, 0, "{}\n{}", gate.stdout, gate.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unplanned_failover_runs_as_a_reviewed_pull_request_while_a_is_down() {
    let d = drill(&["app", "media"]).await;
    let repo = d.dir.path();
    // Lag alarms published in the source's region: A -> B's alarms are in A, which the
    // failover can only forget and the failback's last pull request imports back.
    crate::alarms::with_alarms(&d, "source");
    d.ok(&["init", "--yes"]).await;
    assert_eq!(alarm_names(&d, A_REGION).await.len(), 2);
    commit_root(repo, "pr.md\npr.json\n");
    d.ts.control.set_outage(A_REGION, true).await.unwrap();

    // The proposal's plan, made by the pipeline itself, passes check-plan: the forget of each
    // pair's A -> B (at the moved-to address, its previous address the forward instance), and
    // nothing else; Terraform's own summary counts nothing.
    git(repo, &["checkout", "-q", "-b", "check"]);
    d.ok(&[
        "propose",
        "failover",
        "--unplanned",
        "--body-file",
        "/dev/null",
    ])
    .await;
    let forget = std::fs::read_to_string(d.tf_dir().join("efs-dr.forget.tf")).unwrap();
    assert!(
        forget.contains("moved {") && forget.contains("destroy = false"),
        "{forget}"
    );
    let (code, out) = terraform(
        &d,
        &[
            "-chdir=terraform",
            "plan",
            "-input=false",
            "-refresh=false",
            "-out=forget.tfplan",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 to destroy"), "{out}");
    let checked = d
        .efs_dr(&[
            "check-plan",
            d.tf_dir().join("forget.tfplan").to_str().unwrap(),
            "--gitlab-report",
            repo.join("gitlab.json").to_str().unwrap(),
        ])
        .await;
    assert_eq!(checked.code, 0, "{}\n{}", checked.stdout, checked.stderr);
    let gitlab: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("gitlab.json")).unwrap()).unwrap();
    // Each pair's A -> B and its lag alarm in A.
    assert_eq!(gitlab["forget"], 4, "{gitlab}");
    assert_eq!(gitlab["delete"], 0, "{gitlab}");
    if let Ok(dir) = std::env::var("EFS_DR_RECORD_PLANS") {
        let (_, json) =
            terraform(&d, &["-chdir=terraform", "show", "-json", "forget.tfplan"]).await;
        std::fs::write(Path::new(&dir).join("forget-plan.json"), json).unwrap();
    }
    std::fs::remove_file(repo.join("gitlab.json")).unwrap();
    std::fs::remove_file(d.tf_dir().join("forget.tfplan")).unwrap();
    git(repo, &["checkout", "-q", "--", "terraform"]);
    git(repo, &["clean", "-fdq", "--", "terraform"]);
    git(repo, &["checkout", "-q", "main"]);
    git(repo, &["branch", "-q", "-D", "check"]);
    assert!(git(repo, &["status", "--porcelain"]).is_empty());

    // One pull request: B's deletion is the stage before apply's (SDK, from B's region), the
    // forget is Terraform's (moved + removed, applied without refresh).
    let p = one_pull_request(&d, "failover --unplanned", 1).await;
    assert_eq!(p["operation"]["failover"]["unplanned"], true, "{p}");
    assert_eq!(p["pairs"][0]["step"], "forget_forward");
    assert_eq!(p["plan"]["forget"], 4, "{}", p["plan"]);
    assert_eq!(p["plan"]["destroy"], 0);
    assert!(p["terraform"]["terraform_version"]
        .as_str()
        .unwrap()
        .starts_with("1."));
    assert!(!p["terraform"]["format_version"]
        .as_str()
        .unwrap()
        .is_empty());
    let commands = &p["commands"];
    assert!(commands["before_apply"]
        .as_str()
        .unwrap()
        .contains("--unplanned --before-apply --perform-sdk"));
    assert!(commands["apply"]
        .as_str()
        .unwrap()
        .ends_with("-refresh=false"));
    assert!(commands["next"].is_null());
    for pair in &d.pairs {
        assert_eq!(d.protection(B_REGION, &pair.b).await, "ENABLED");
    }
    assert!(d.replications(B_REGION).await.is_empty());
    assert!(d.state().await.is_empty(), "{:?}", d.state().await);
    plan_is_clean(&d, &["-refresh=false"]).await;
    d.write_on_b("outage").await;

    // A returns: the failback runs as pull requests; the first one deletes the forget file.
    d.ts.control.set_outage(A_REGION, false).await.unwrap();
    let left_in_a = alarm_names(&d, A_REGION).await;
    assert_eq!(left_in_a.len(), 2, "the forgotten alarms are still in A");
    let forget_file = d.tf_dir().join("efs-dr.forget.tf");
    assert!(forget_file.exists());
    let mut steps = Vec::new();
    for n in 1..6 {
        let p = one_pull_request(&d, "failback", n).await;
        if n == 1 {
            assert!(
                !forget_file.exists(),
                "the next proposal deletes the forget file"
            );
        }
        steps.push(p["pairs"][0]["step"].as_str().unwrap().to_string());
        if p["commands"]["next"].is_null() {
            break;
        }
        if n == 1 {
            d.write_on_b("during-failback").await;
        }
    }
    assert_eq!(
        steps,
        ["create_reverse", "remove_reverse", "create_forward"]
    );
    d.assert_home_with_everything(&["outage", "during-failback"])
        .await;
    plan_is_clean(&d, &[]).await;
    // The alarms left in A were taken back, not made twice: the same names, in the state.
    assert_eq!(alarm_names(&d, A_REGION).await, left_in_a);
    assert!(alarm_names(&d, B_REGION).await.is_empty());
    let state = d.state().await;
    assert_eq!(
        state
            .iter()
            .filter(|a| a.contains("aws_cloudwatch_metric_alarm.sync_lag_at_primary"))
            .count(),
        2,
        "{state:?}"
    );
}

/// The names of the metric alarms in `region`.
async fn alarm_names(d: &Drill, region: &str) -> Vec<String> {
    let cw = efs_dr_testkit::cloudwatch(&d.ts.url, region);
    let page = cw.describe_alarms().send().await.unwrap();
    page.metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect()
}

/// A forget planned with refresh on while A is declared down. Terraform's plan file does not
/// record whether the plan refreshed, so check-plan refuses every trace a refresh leaves: what
/// it found changed outside Terraform. Here the lag alarm in B was edited in the console during
/// the outage; the plan with refresh reads the edit and is refused, the same plan without
/// refresh (as the proposal says) passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_forget_planned_with_refresh_while_a_is_down_is_refused_for_what_the_refresh_read() {
    let d = drill(&["app"]).await;
    let repo = d.dir.path();
    crate::alarms::with_alarms(&d, "destination");
    d.ok(&["init", "--yes"]).await;
    commit_root(repo, "");
    d.ts.control.set_outage(A_REGION, true).await.unwrap();
    d.ok(&[
        "propose",
        "failover",
        "--unplanned",
        "--body-file",
        "/dev/null",
    ])
    .await;

    // Someone quiets the ringing alarm in B's console: same name, a higher threshold.
    let cw = efs_dr_testkit::cloudwatch(&d.ts.url, B_REGION);
    let alarms = cw.describe_alarms().send().await.unwrap();
    let [alarm] = alarms.metric_alarms() else {
        panic!("one alarm in B: {alarms:#?}");
    };
    cw.put_metric_alarm()
        .alarm_name(alarm.alarm_name().unwrap())
        .namespace(alarm.namespace().unwrap())
        .metric_name(alarm.metric_name().unwrap())
        .set_dimensions(Some(alarm.dimensions().to_vec()))
        .statistic(alarm.statistic().unwrap().clone())
        .period(alarm.period().unwrap())
        .evaluation_periods(alarm.evaluation_periods().unwrap())
        .threshold(alarm.threshold().unwrap() * 100.0)
        .comparison_operator(alarm.comparison_operator().unwrap().clone())
        .set_treat_missing_data(alarm.treat_missing_data().map(str::to_string))
        .set_alarm_actions(Some(alarm.alarm_actions().to_vec()))
        .send()
        .await
        .unwrap();

    let plan = |name: &'static str, flags: &'static [&'static str]| {
        let d = &d;
        async move {
            let mut args = vec!["-chdir=terraform", "plan", "-input=false"];
            args.extend(flags);
            let out = format!("-out={name}");
            args.push(&out);
            let (code, text) = terraform(d, &args).await;
            assert_eq!(code, 0, "{text}");
            if let Ok(dir) = std::env::var("EFS_DR_RECORD_PLANS") {
                let (_, json) = terraform(d, &["-chdir=terraform", "show", "-json", name]).await;
                std::fs::write(Path::new(&dir).join(format!("{name}.json")), json).unwrap();
            }
            d.tf_dir().join(name).to_str().unwrap().to_string()
        }
    };
    let refreshed = plan("refreshed.tfplan", &[]).await;
    let checked = d.efs_dr(&["check-plan", &refreshed]).await;
    refused(&checked, "made with refresh on");
    let text = format!("{}{}", checked.stdout, checked.stderr);
    assert!(
        text.contains("aws_cloudwatch_metric_alarm.sync_lag_at_secondary[\"app\"]")
            && text.contains("-refresh=false"),
        "the refusal names what the refresh read and how to plan instead:\n{text}"
    );
    let not_refreshed = plan("forget.tfplan", &["-refresh=false"]).await;
    let checked = d.efs_dr(&["check-plan", &not_refreshed]).await;
    assert_eq!(checked.code, 0, "{}\n{}", checked.stdout, checked.stderr);
}

/// Hooks in pull-request mode: the pull request lists them in its route, and each gate stage
/// runs the ones of its stage: stop_writes_on_a before the failover's apply, serve_from_b after
/// it; the failback's stop_writes_on_b and serve_from_a around their applies.
#[tokio::test(flavor = "multi_thread")]
async fn a_gate_stage_runs_the_hooks_of_its_stage_and_the_pull_request_lists_them() {
    let d = drill(&["app"]).await;
    let repo = d.dir.path();
    let script = crate::hooks::hook_script(repo);
    let mut config = std::fs::read_to_string(d.config()).unwrap();
    config.push_str(&crate::hooks::hooks_block(&script));
    std::fs::write(d.config(), config).unwrap();
    d.ok(&["init", "--yes"]).await;
    commit_root(repo, "pr.md\npr.json\nhooks.log\n.efs-dr-hooks.json\n");
    let hooks = || -> Vec<String> {
        std::fs::read_to_string(repo.join("hooks.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };

    one_pull_request(&d, "failover", 1).await;
    let body = std::fs::read_to_string(repo.join("pr.md")).unwrap();
    assert!(
        body.contains("stop_writes_on_a") && body.contains("serve_from_b"),
        "the pull request lists its hooks:\n{body}"
    );
    assert_eq!(hooks(), ["stop_writes_on_a", "serve_from_b"]);

    for n in 1..=3 {
        let p = one_pull_request(&d, "failback", n).await;
        if p["commands"]["next"].is_null() {
            break;
        }
    }
    assert_eq!(
        hooks(),
        [
            "stop_writes_on_a",
            "serve_from_b",
            "stop_writes_on_b",
            "serve_from_a"
        ]
    );
}
