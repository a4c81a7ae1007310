//! The shipped `examples/` executed the way their CI systems run them, not only parsed: each
//! job in a fresh clone of a bare origin, with its environment and its steps in order, the
//! state in S3 (moto) and AWS the simulator. A failover and a failback are played to the end,
//! pull request by pull request, and nothing may be lost.
//!
//! What stands in for the platform, and nothing else:
//! - steps that only install tools or credentials are replaced by the local toolchain:
//!   `actions/checkout` (the job's clone is made before its steps), `hashicorp/setup-terraform`
//!   (the project's Terraform on PATH), `./.github/actions/install-efs-dr` (this build of
//!   efs-dr on PATH), `aws-actions/configure-aws-credentials` (the simulator's credentials),
//!   and GitLab's `id_tokens` (a dummy token: the environment's static credentials come first
//!   in every SDK's chain, so the role is never assumed);
//! - `actions/upload-artifact` and GitLab's `artifacts` are checked: the paths must exist;
//! - the code host: `gh pr create` and `glab mr create --push` are small scripts on PATH that
//!   record the pull request (and push, as `--push` does); a merge is a git merge into
//!   origin's main.

use std::collections::BTreeMap;
use std::path::PathBuf;

use efs_dr_testkit::Moto;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::dr::{drill, Drill};
use crate::pipeline_field::{git, Job, Origin, GITIGNORE};
use crate::shared_state::{shared_config_in, BUCKET};

fn example(path: &str) -> Yaml {
    let text = std::fs::read_to_string(efs_dr_testkit::project_root().join(path)).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn text(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => s.clone(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn map(y: &Yaml) -> Vec<(String, String)> {
    y.as_hash()
        .map(|h| h.iter().map(|(k, v)| (text(k), text(v))).collect())
        .unwrap_or_default()
}

/// The code host, as far as the examples use it: `gh pr create`, `glab mr create --push`.
struct CodeHost {
    bin: tempfile::TempDir,
    log: PathBuf,
}

impl CodeHost {
    fn new() -> CodeHost {
        let bin = tempfile::tempdir().unwrap();
        let log = bin.path().join("pull-requests.log");
        for (name, push) in [("gh", ""), ("glab", "git push -q origin HEAD")] {
            let script = format!(
                "#!/bin/bash\nset -e\ncase \"$1 $2\" in\n  \"pr create\"|\"mr create\") ;;\n  *) echo \"{name}: only '{name} pr|mr create' is stood in for\" >&2; exit 1 ;;\nesac\n{push}\necho \"$(git rev-parse --abbrev-ref HEAD)\" >> '{}'\n",
                log.display()
            );
            let path = bin.path().join(name);
            std::fs::write(&path, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        CodeHost { bin, log }
    }

    /// The branches of the pull requests opened so far.
    fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn path(&self) -> String {
        self.bin.path().display().to_string()
    }
}

/// The proposal committed on `branch` (None when there is none).
fn proposal_on(job: &Job) -> Option<Value> {
    let text = std::fs::read_to_string(job.dir.join("terraform/efs-dr.proposal.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The files a commit changed against its first parent.
fn changed(job: &Job, base: &str) -> Vec<String> {
    git(&job.dir, &["diff", "--name-only", base, "HEAD"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// One drill with its origin, for a platform's run: the state in S3, the root rendered and
/// committed, the platform's files in place.
async fn setup(files: &[(&str, String)]) -> (Moto, Drill, Origin) {
    let moto = Moto::start().await;
    moto.create_bucket(BUCKET).await;
    let d = drill(&["app"]).await;
    // As the examples advise: the state outside A's region, and B mountable in A's zones.
    crate::doctor::mount_targets(&d).await;
    let mut all = vec![
        (
            "efs-dr.hcl",
            shared_config_in(&d, &moto.url, BUCKET, "40m", crate::dr::B_REGION),
        ),
        (".gitignore", GITIGNORE.to_string()),
    ];
    all.extend(files.iter().cloned());
    let origin = Origin::new(&d, &all, &["efs-dr init --yes"]).await;
    (moto, d, origin)
}

/// The pull requests of a failover and a failback, each with its phase.
const ROUTE: [&str; 4] = [
    "failover: \"remove_forward\"",
    "failback: \"create_reverse\"",
    "failback: \"remove_reverse\"",
    "failback: \"create_forward\"",
];

/// Whether this pull request is the failback's cut-over (the application on B must be
/// stopped before it is applied).
fn is_cut_over(p: &Value) -> bool {
    p["pairs"]
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p["step"] == "remove_reverse"))
}

// ------------------------------------------------------------------------------------------
// GitHub Actions

struct GitHub {
    wf: Yaml,
    vars: BTreeMap<String, String>,
    inputs: BTreeMap<String, String>,
    artifacts: tempfile::TempDir,
}

impl GitHub {
    /// `${{ expr }}` as GitHub evaluates the ones the example uses; any other is a failure
    /// of the test, not a guess.
    fn expand(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${{") {
            out.push_str(&rest[..i]);
            let j = rest[i..].find("}}").expect("closed expression") + i;
            let expr = rest[i + 3..j].trim();
            let value = if let Some(v) = expr.strip_prefix("vars.") {
                // An unset repository variable is the empty string.
                self.vars.get(v).cloned().unwrap_or_default()
            } else if let Some(v) = expr.strip_prefix("inputs.") {
                // An input the run does not set is its default: the empty string here, which
                // efs-dr reads as unset.
                self.inputs.get(v).cloned().unwrap_or_default()
            } else if let Some(v) = expr.strip_prefix("secrets.") {
                format!("test-secret-{v}")
            } else if let Some(v) = expr.strip_prefix("runner.") {
                assert_eq!(v, "os");
                "Linux".into()
            } else {
                panic!("the harness does not evaluate ${{{{ {expr} }}}}")
            };
            out.push_str(&value);
            rest = &rest[j + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The workflow's jobs for `event`, each in a fresh clone of `branch`; panics on a job
    /// that fails.
    async fn on(&self, d: &Drill, origin: &Origin, host: &CodeHost, event: &str, branch: &str) {
        let on = &self.wf["on"];
        assert!(
            !on[event].is_badvalue(),
            "the workflow has no {event} trigger"
        );
        let mut ran = 0;
        for (name, job) in self.wf["jobs"].as_hash().unwrap() {
            let name = text(name);
            let cond = text(&job["if"]);
            let wanted: Vec<&str> = cond
                .split(" || ")
                .map(|c| {
                    c.strip_prefix("github.event_name == '")
                        .and_then(|c| c.strip_suffix('\''))
                        .unwrap_or_else(|| {
                            panic!("job {name}: the harness does not evaluate `{cond}`")
                        })
                })
                .collect();
            if !wanted.contains(&event) {
                continue;
            }
            ran += 1;
            let mut clone = origin.clone_of(branch, &format!("gh-{name}"));
            let summary = clone.dir.join("step-summary.md");
            let env: Vec<(String, String)> = map(&self.wf["env"])
                .into_iter()
                .chain(map(&job["env"]))
                .map(|(k, v)| (k, self.expand(&v)))
                .chain([
                    ("GITHUB_ACTIONS".into(), "true".into()),
                    ("GITHUB_RUN_ID".into(), format!("{}", 1000 + ran)),
                    ("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()),
                    ("EFS_DR_EXTRA_PATH".into(), host.path()),
                ])
                .collect();
            for (k, v) in &env {
                clone = clone.with_env(k, v);
            }
            let mut failed = None;
            for step in job["steps"].as_vec().unwrap() {
                let always = text_or(&step["if"]) == "always()";
                if failed.is_some() && !always {
                    continue;
                }
                if let Some(uses) = step["uses"].as_str() {
                    self.uses(&clone, &name, uses, step);
                    continue;
                }
                let script = self.expand(&text(&step["run"]));
                let mut step_job = clone.clone();
                for (k, v) in map(&step["env"]) {
                    step_job = step_job.with_env(&k, &self.expand(&v));
                }
                let s = step_job.run(d, &with_host(&script)).await;
                if s.code != 0 {
                    failed = Some(format!("job {name}, step {script}:\n{}", s.out));
                }
            }
            if let Some(f) = failed {
                panic!("{f}");
            }
        }
        assert!(ran > 0, "no job runs on {event}");
    }

    fn uses(&self, job: &Job, name: &str, uses: &str, step: &Yaml) {
        let action = uses.split('@').next().unwrap();
        match action {
            "actions/checkout"
            | "hashicorp/setup-terraform"
            | "./.github/actions/install-efs-dr"
            | "aws-actions/configure-aws-credentials" => {}
            "actions/upload-artifact" => {
                let path = text(&step["with"]["path"]);
                let from = job.dir.join(&path);
                assert!(from.exists(), "job {name}: artifact {path} does not exist");
                let to = self.artifacts.path().join(name);
                std::fs::create_dir_all(&to).unwrap();
                for f in std::fs::read_dir(&from).unwrap() {
                    let f = f.unwrap();
                    std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
                }
            }
            other => panic!("job {name}: the harness does not stand in for {other}"),
        }
    }
}

fn text_or(y: &Yaml) -> String {
    if y.is_badvalue() {
        String::new()
    } else {
        text(y)
    }
}

/// The code host's stand-ins first on PATH.
fn with_host(script: &str) -> String {
    format!("export PATH=\"$EFS_DR_EXTRA_PATH:$PATH\"\n{script}")
}

/// GitHub Actions: a failover and a failback, each "Run workflow" until nothing is left to
/// propose; every pull request planned and checked, merged, applied by the apply job.
#[tokio::test(flavor = "multi_thread")]
async fn the_github_actions_example_runs_a_failover_and_a_failback_pr_by_pr() {
    let wf_path = "examples/github/efs-dr.yml";
    let action = "examples/github/actions/install-efs-dr/action.yml";
    let action_text = std::fs::read_to_string(efs_dr_testkit::project_root().join(action)).unwrap();
    let (_moto, d, origin) =
        setup(&[(".github/actions/install-efs-dr/action.yml", action_text)]).await;
    let host = CodeHost::new();
    let mut gh = GitHub {
        wf: example(wf_path),
        vars: BTreeMap::new(),
        inputs: BTreeMap::new(),
        artifacts: tempfile::tempdir().unwrap(),
    };
    // The scheduled readiness check passes on the pair the examples set up.
    let doctor = GitHub {
        wf: example("examples/github/efs-dr-doctor.yml"),
        vars: BTreeMap::new(),
        inputs: BTreeMap::new(),
        artifacts: tempfile::tempdir().unwrap(),
    };
    doctor.on(&d, &origin, &host, "schedule", "main").await;
    assert!(host.opened().is_empty(), "doctor proposes nothing");
    let mut prs = Vec::new();
    for op in ["failover", "failback"] {
        if op == "failback" {
            d.write_on_b("outage").await;
        }
        loop {
            gh.inputs.insert("operation".into(), op.into());
            gh.vars.remove("EFS_DR_WRITES_STOPPED");
            let before = host.opened().len();
            gh.on(&d, &origin, &host, "workflow_dispatch", "main").await;
            let opened = host.opened();
            if opened.len() == before {
                break;
            }
            let branch = opened.last().unwrap().clone();
            let pr = origin.clone_of(&branch, "pr");
            assert!(
                changed(&pr, "origin/main")
                    .iter()
                    .any(|f| f.starts_with("terraform/")),
                "the pull_request trigger's paths"
            );
            let proposal = proposal_on(&pr).expect("the PR holds its proposal");
            prs.push(format!("{op}: {}", proposal["pairs"][0]["step"]));
            gh.on(&d, &origin, &host, "pull_request", &branch).await;
            origin.merge(&branch);
            let main = origin.clone_of("main", "merged");
            assert!(
                changed(&main, "HEAD^1").contains(&"terraform/efs-dr.proposal.json".into()),
                "the push trigger's paths"
            );
            if is_cut_over(&proposal) {
                // The application on B is stopped, then the variable says so.
                gh.vars
                    .insert("EFS_DR_WRITES_STOPPED".into(), "true".into());
            }
            gh.on(&d, &origin, &host, "push", "main").await;
            let reports = gh.artifacts.path().join("apply");
            assert!(
                std::fs::read_dir(&reports).unwrap().count() > 0,
                "the reports were uploaded"
            );
            assert!(prs.len() < 8, "too many pull requests: {prs:?}");
        }
    }
    assert_eq!(prs, ROUTE);
    d.assert_home_with_everything(&["outage"]).await;
}

// ------------------------------------------------------------------------------------------
// GitLab CI

/// A GitLab `rules: - if:` expression as the example uses them: `$VAR`, `$A == "x"`,
/// `$A == $B`.
fn gitlab_if(expr: &str, vars: &BTreeMap<String, String>) -> bool {
    let value = |t: &str| -> String {
        let t = t.trim();
        match t.strip_prefix('$') {
            Some(v) => vars.get(v).cloned().unwrap_or_default(),
            None => t.trim_matches('"').to_string(),
        }
    };
    expr.split("&&").all(|term| match term.split_once("==") {
        Some((a, b)) => value(a) == value(b),
        None => {
            assert!(term.trim().starts_with('$'), "`{expr}`");
            !value(term).is_empty()
        }
    })
}

/// A `changes:` glob of the example ("terraform/**/*", "terraform/efs-dr.proposal.json").
fn gitlab_changes(globs: &Yaml, files: &[String]) -> bool {
    globs.as_vec().unwrap().iter().any(|g| {
        let g = text(g);
        match g.strip_suffix("/**/*") {
            Some(dir) => files.iter().any(|f| f.starts_with(&format!("{dir}/"))),
            None => files.contains(&g),
        }
    })
}

/// One pipeline: every job whose rules match, in stage order, each in a fresh clone of
/// `branch`.
async fn gitlab_pipeline(
    d: &Drill,
    origin: &Origin,
    host: &CodeHost,
    ci: &Yaml,
    branch: &str,
    vars: &BTreeMap<String, String>,
    files: &[String],
) -> usize {
    let default = &ci["default"];
    let mut ran = 0;
    for stage in ci["stages"].as_vec().unwrap() {
        let stage = text(stage);
        for (name, job) in ci.as_hash().unwrap() {
            let name = text(name);
            if text_or(&job["stage"]) != stage {
                continue;
            }
            // GitLab: `rules:changes` is always true in a pipeline without a Git push event
            // (a schedule, "Run pipeline" from the web, the API).
            let pushed = matches!(
                vars.get("CI_PIPELINE_SOURCE").map(String::as_str),
                Some("push" | "merge_request_event")
            );
            let rule = job["rules"].as_vec().unwrap().iter().find(|r| {
                gitlab_if(&text(&r["if"]), vars)
                    && (r["changes"].is_badvalue()
                        || !pushed
                        || gitlab_changes(&r["changes"], files))
            });
            if rule.is_none() {
                continue;
            }
            ran += 1;
            let mut clone = origin.clone_of(branch, &format!("gl-{name}"));
            let globals = map(&ci["variables"]);
            for (k, v) in globals.iter().map(|(k, v)| (k, v)).chain(vars.iter()) {
                clone = clone.with_env(k, v);
            }
            for token in default["id_tokens"].as_hash().into_iter().flatten() {
                clone = clone.with_env(&text(token.0), "test-id-token");
            }
            let dir = clone.dir.display().to_string();
            clone = clone
                .with_env("CI_PROJECT_DIR", &dir)
                .with_env("CI_PIPELINE_ID", &format!("{}", 500 + ran))
                .with_env("EFS_DR_EXTRA_PATH", &host.path());
            let lines: Vec<String> = default["before_script"]
                .as_vec()
                .into_iter()
                .flatten()
                .chain(job["script"].as_vec().unwrap())
                .map(text)
                .collect();
            let s = clone.run(d, &with_host(&lines.join("\n"))).await;
            assert_eq!(s.code, 0, "GitLab job {name}:\n{}", s.out);
            for path in job["artifacts"]["paths"].as_vec().into_iter().flatten() {
                let path = text(path);
                assert!(clone.dir.join(&path).exists(), "job {name}: {path}");
            }
            let report = &job["artifacts"]["reports"]["terraform"];
            if !report.is_badvalue() && clone.dir.join(text(report)).exists() {
                let r: Value = serde_json::from_str(
                    &std::fs::read_to_string(clone.dir.join(text(report))).unwrap(),
                )
                .unwrap();
                assert!(r["create"].is_u64() && r["delete"].is_u64(), "{r}");
            }
        }
    }
    ran
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gitlab_ci_example_runs_a_failover_and_a_failback_mr_by_mr() {
    let ci = example("examples/gitlab/.gitlab-ci.yml");
    let (_moto, d, origin) = setup(&[]).await;
    let host = CodeHost::new();
    // GitLab sets CI_COMMIT_BRANCH on branch pipelines only, not on merge request pipelines.
    let base = |source: &str, branch: &str| {
        let mut v = BTreeMap::from([
            ("CI_PIPELINE_SOURCE".to_string(), source.to_string()),
            ("CI_DEFAULT_BRANCH".to_string(), "main".to_string()),
        ]);
        if source != "merge_request_event" {
            v.insert("CI_COMMIT_BRANCH".to_string(), branch.to_string());
        } else {
            v.insert(
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME".to_string(),
                branch.to_string(),
            );
        }
        v
    };
    // A pipeline schedule runs the readiness check alone: nothing proposed, nothing applied.
    let scheduled = gitlab_pipeline(
        &d,
        &origin,
        &host,
        &ci,
        "main",
        &base("schedule", "main"),
        &[],
    )
    .await;
    assert_eq!(scheduled, 1, "only the doctor job runs on a schedule");
    assert!(host.opened().is_empty());
    let mut mrs = Vec::new();
    for op in ["failover", "failback"] {
        if op == "failback" {
            d.write_on_b("outage").await;
        }
        loop {
            let before = host.opened().len();
            let mut vars = base("web", "main");
            vars.insert("EFS_DR_OPERATION".into(), op.into());
            gitlab_pipeline(&d, &origin, &host, &ci, "main", &vars, &[]).await;
            let opened = host.opened();
            if opened.len() == before {
                break;
            }
            let branch = opened.last().unwrap().clone();
            let mr = origin.clone_of(&branch, "mr");
            let files = changed(&mr, "origin/main");
            let proposal = proposal_on(&mr).expect("the MR holds its proposal");
            mrs.push(format!("{op}: {}", proposal["pairs"][0]["step"]));
            let planned = gitlab_pipeline(
                &d,
                &origin,
                &host,
                &ci,
                &branch,
                &base("merge_request_event", &branch),
                &files,
            )
            .await;
            assert_eq!(planned, 1, "the plan job runs on the merge request");
            origin.merge(&branch);
            let mut vars = base("push", "main");
            if is_cut_over(&proposal) {
                vars.insert("EFS_DR_WRITES_STOPPED".into(), "true".into());
            } else {
                // Left empty by whoever runs the pipeline: not stopped.
                vars.insert("EFS_DR_WRITES_STOPPED".into(), String::new());
            }
            let main = origin.clone_of("main", "merged");
            let applied = gitlab_pipeline(
                &d,
                &origin,
                &host,
                &ci,
                "main",
                &vars,
                &changed(&main, "HEAD^1"),
            )
            .await;
            assert_eq!(applied, 1, "the apply job runs on the merge");
            assert!(mrs.len() < 8, "too many merge requests: {mrs:?}");
        }
    }
    assert_eq!(mrs, ROUTE);
    d.assert_home_with_everything(&["outage"]).await;
}

// ------------------------------------------------------------------------------------------
// Atlantis

/// Atlantis's workflow steps in one project's checkout of the pull request: built-in `init`,
/// `plan` and `apply` as Atlantis runs them, custom `run` steps through `sh -c` in the
/// project's directory with `PLANFILE` and `COMMENT_ARGS` (each character escaped, as
/// Atlantis does).
async fn atlantis_steps(d: &Drill, pr: &Job, steps: &Yaml, comment_args: &[&str]) {
    let dir = pr.dir.join("terraform");
    let planfile = dir.join("efs-dr-default.tfplan");
    let escaped: Vec<String> = comment_args
        .iter()
        .map(|a| a.chars().map(|c| format!("\\{c}")).collect())
        .collect();
    for step in steps.as_vec().unwrap() {
        let script = match step {
            Yaml::String(s) if s == "init" => "terraform init -input=false -no-color".to_string(),
            Yaml::String(s) if s == "plan" => format!(
                "terraform plan -input=false -refresh -no-color -out {}",
                planfile.display()
            ),
            Yaml::String(s) if s == "apply" => {
                format!(
                    "terraform apply -input=false -no-color {}",
                    planfile.display()
                )
            }
            other => text(&other["run"]),
        };
        let job = Job::at(&dir)
            .with_env("PLANFILE", &planfile.display().to_string())
            .with_env("COMMENT_ARGS", &escaped.join(","));
        let s = job.run_sh(d, &script).await;
        assert_eq!(s.code, 0, "Atlantis step {script}:\n{}", s.out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_atlantis_example_runs_a_failover_and_a_failback_pr_by_pr() {
    let repo_config = example("examples/atlantis/atlantis.yaml");
    let atlantis_text = std::fs::read_to_string(
        efs_dr_testkit::project_root().join("examples/atlantis/atlantis.yaml"),
    )
    .unwrap();
    let (_moto, d, origin) = setup(&[("atlantis.yaml", atlantis_text)]).await;
    let project = &repo_config["projects"][0];
    assert_eq!(text(&project["dir"]), "terraform");
    let workflow = &repo_config["workflows"][text(&project["workflow"]).as_str()];
    let mut prs = Vec::new();
    let mut n = 0;
    for op in ["failover", "failback"] {
        if op == "failback" {
            d.write_on_b("outage").await;
        }
        loop {
            n += 1;
            // The operator proposes from a checkout and opens the pull request.
            let ws = origin.clone_of("main", "operator");
            let branch = format!("dr/{op}-{n}");
            let out = ws
                .ok(
                    &d,
                    &format!(
                        "efs-dr propose {op} --body-file pr.md --summary-file pr.json
                         if jq -e '.proposal == null' pr.json > /dev/null; then echo NOTHING; exit 0; fi
                         git switch -q -c {branch}
                         git add terraform
                         git -c user.name=ops -c user.email=ops@example.com commit -q -m \"$(jq -r .proposal.title pr.json)\"
                         git push -q origin HEAD"
                    ),
                )
                .await;
            if out.contains("NOTHING") {
                break;
            }
            // Atlantis: autoplan (the files match when_modified), then `atlantis apply`.
            let pr = origin.clone_of(&branch, "atlantis");
            let proposal = proposal_on(&pr).expect("the PR holds its proposal");
            prs.push(format!("{op}: {}", proposal["pairs"][0]["step"]));
            let files = changed(&pr, "origin/main");
            assert!(
                files.iter().any(|f| f.ends_with(".tfvars.json")),
                "autoplan's when_modified: {files:?}"
            );
            atlantis_steps(&d, &pr, &workflow["plan"]["steps"], &[]).await;
            let args: &[&str] = if is_cut_over(&proposal) {
                &["--writes-stopped"]
            } else {
                &[]
            };
            atlantis_steps(&d, &pr, &workflow["apply"]["steps"], args).await;
            origin.merge(&branch);
            assert!(prs.len() < 8, "too many pull requests: {prs:?}");
        }
    }
    assert_eq!(prs, ROUTE);
    d.assert_home_with_everything(&["outage"]).await;
}
