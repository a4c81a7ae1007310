//! Pull-request mode as it runs in the field: every CI job starts from a fresh clone of the
//! repository ("origin", a bare repository here), the state lives in S3 (moto's server mode),
//! and a merge is a git merge into origin's main. Jobs run their steps as a CI runner does:
//! `bash -e` in the clone, with the job's environment.

use std::path::{Path, PathBuf};

use efs_dr_testkit::Moto;
use serde_json::Value;

use crate::dr::{drill, Drill, B_REGION};
use crate::shared_state::{shared_config, BUCKET};

/// The team's repository: a bare origin, holding efs-dr.hcl and the rendered root.
pub(crate) struct Origin {
    pub(crate) path: PathBuf,
    /// Where the jobs' clones go.
    work: tempfile::TempDir,
}

/// One CI job: a fresh clone and the job's environment.
#[derive(Clone)]
pub(crate) struct Job {
    pub(crate) dir: PathBuf,
    env: Vec<(String, String)>,
}

/// What a job's step printed, and how it ended.
pub(crate) struct Step {
    pub(crate) code: i32,
    pub(crate) out: String,
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=efs-dr test",
            "-c",
            "user.email=test@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

impl Origin {
    /// A new origin whose main holds `files` (path, content) and what `setup` leaves in a
    /// workstation's clone after writing them (e.g. `efs-dr init` rendering the root).
    pub(crate) async fn new(d: &Drill, files: &[(&str, String)], setup: &[&str]) -> Origin {
        let work = tempfile::tempdir().unwrap();
        let path = work.path().join("origin.git");
        git(
            work.path(),
            &["init", "-q", "--bare", "-b", "main", path.to_str().unwrap()],
        );
        let ws = Job {
            dir: work.path().join("workstation"),
            env: Vec::new(),
        };
        git(
            work.path(),
            &[
                "clone",
                "-q",
                path.to_str().unwrap(),
                ws.dir.to_str().unwrap(),
            ],
        );
        git(&ws.dir, &["checkout", "-q", "-b", "main"]);
        let origin = Origin { path, work };
        for (name, content) in files {
            let path = ws.dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        for line in setup {
            let s = ws.run(d, line).await;
            assert_eq!(s.code, 0, "{line}:\n{}", s.out);
        }
        git(&ws.dir, &["add", "-A"]);
        git(&ws.dir, &["commit", "-q", "-m", "efs-dr root"]);
        git(&ws.dir, &["push", "-q", "origin", "main"]);
        origin
    }

    /// A fresh clone of `branch`, as a CI job starts.
    pub(crate) fn clone_of(&self, branch: &str, job: &str) -> Job {
        let n = std::fs::read_dir(self.work.path()).unwrap().count();
        let dir = self.work.path().join(format!("{n}-{job}"));
        git(
            self.work.path(),
            &[
                "clone",
                "-q",
                "-b",
                branch,
                self.path.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        Job {
            dir,
            env: Vec::new(),
        }
    }

    /// The merge of a pull request: `branch` merged into main (no fast-forward), pushed.
    pub(crate) fn merge(&self, branch: &str) {
        let m = self.clone_of("main", "merge");
        git(&m.dir, &["fetch", "-q", "origin", branch]);
        git(
            &m.dir,
            &[
                "merge",
                "-q",
                "--no-ff",
                "-m",
                &format!("Merge {branch}"),
                "FETCH_HEAD",
            ],
        );
        git(&m.dir, &["push", "-q", "origin", "main"]);
    }
}

impl Job {
    /// Steps run in `dir` (a directory of a clone already made).
    pub(crate) fn at(dir: &Path) -> Job {
        Job {
            dir: dir.to_path_buf(),
            env: Vec::new(),
        }
    }

    pub(crate) fn with_env(mut self, key: &str, value: &str) -> Job {
        self.env.push((key.into(), value.into()));
        self
    }

    /// One step: `bash -e -o pipefail -c script` in the clone (as GitHub's and GitLab's
    /// runners do), with efs-dr and the project's Terraform on PATH, the simulator as AWS,
    /// and the job's variables.
    pub(crate) async fn run(&self, d: &Drill, script: &str) -> Step {
        self.shell(d, "bash", &["-e", "-o", "pipefail", "-c", script])
            .await
    }

    /// One step through `sh -c`, as Atlantis runs its custom `run` steps.
    pub(crate) async fn run_sh(&self, d: &Drill, script: &str) -> Step {
        self.shell(d, "sh", &["-c", script]).await
    }

    async fn shell(&self, d: &Drill, shell: &str, args: &[&str]) -> Step {
        let bin = Path::new(env!("CARGO_BIN_EXE_efs-dr")).parent().unwrap();
        let mut path = std::ffi::OsString::from(bin);
        path.push(":");
        path.push(efs_dr_testkit::path_with_tools());
        let out = tokio::process::Command::new(shell)
            .args(args)
            .current_dir(&self.dir)
            .env("PATH", path)
            .envs(efs_dr_testkit::tf_env(&d.ts.url))
            .env("RUST_LOG", "warn")
            .env("EFS_DR_CONFIG", "efs-dr.hcl")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .expect("bash runs");
        Step {
            code: out.status.code().unwrap_or(-1),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    pub(crate) async fn ok(&self, d: &Drill, script: &str) -> String {
        let s = self.run(d, script).await;
        assert_eq!(s.code, 0, "{script}:\n{}", s.out);
        s.out
    }
}

pub(crate) const GITIGNORE: &str =
    ".terraform/\n*.tfstate\n*.tfstate.backup\n*.tfplan\ntfplan\nefs-dr-reports/\npr.md\npr.json\nplan.json\n";

/// The README's sequence ("Pull requests and pipelines"), each job in a fresh clone of origin
/// with the state in S3: the stage before apply must not rewrite the reviewed change, plain
/// `terraform init` and `apply` apply exactly it, and the stage after apply recognises it.
#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_ci_checkout_applies_the_reviewed_phase() {
    let moto = Moto::start().await;
    moto.create_bucket(BUCKET).await;
    let d = drill(&["app"]).await;
    let config = shared_config(&d, &moto.url, BUCKET, "40m");
    let origin = Origin::new(
        &d,
        &[("efs-dr.hcl", config), (".gitignore", GITIGNORE.into())],
        &["efs-dr init --yes"],
    )
    .await;

    // The proposal, made and pushed by a job of its own.
    let propose = origin.clone_of("main", "propose");
    propose
        .ok(
            &d,
            "git switch -q -c dr/failover-1
             efs-dr propose failover --body-file pr.md --summary-file pr.json
             git add terraform
             git -c user.name=ci -c user.email=ci@example.com commit -q -m \"$(jq -r .proposal.title pr.json)\"
             git push -q origin HEAD",
        )
        .await;
    let proposal: Value =
        serde_json::from_str(&std::fs::read_to_string(propose.dir.join("pr.json")).unwrap())
            .unwrap();
    assert_eq!(proposal["proposal"]["pairs"][0]["step"], "remove_forward");
    origin.merge("dr/failover-1");

    // The apply job, on main after the merge, exactly as the README says.
    let apply = origin.clone_of("main", "apply");
    let reviewed =
        std::fs::read_to_string(apply.dir.join("terraform/efs-dr.auto.tfvars.json")).unwrap();
    assert!(reviewed.contains("\"none\""), "{reviewed}");
    apply
        .ok(&d, "efs-dr gate --before-apply --perform-sdk --timeout 45m")
        .await;
    let diff = apply.ok(&d, "git status --porcelain -- terraform").await;
    assert!(
        diff.lines().all(|l| l.contains(".terraform")),
        "the stage rewrote the reviewed change:\n{diff}"
    );
    apply
        .ok(
            &d,
            "terraform -chdir=terraform init -input=false -no-color
             terraform -chdir=terraform apply -input=false -auto-approve -no-color",
        )
        .await;
    apply
        .ok(&d, "efs-dr gate --after-apply --perform-sdk --timeout 45m")
        .await;
    assert!(d.replications(B_REGION).await.is_empty(), "A -> B deleted");
    assert_eq!(d.protection(B_REGION, &d.pairs[0].b).await, "ENABLED");

    // A root edited after the review is refused with what differs, and nothing changes.
    let edited = origin.clone_of("main", "edited");
    std::fs::write(
        edited.dir.join("terraform/efs-dr.auto.tfvars.json"),
        reviewed.replace("\"none\"", "\"forward\""),
    )
    .unwrap();
    let refused = edited
        .run(&d, "efs-dr gate --before-apply --perform-sdk")
        .await;
    assert_eq!(refused.code, 2, "{}", refused.out);
    assert!(
        refused.out.contains("the root is not what was reviewed")
            && refused
                .out
                .contains("pair app: the proposal asks for \"none\""),
        "{}",
        refused.out
    );

    // A variable the pipeline leaves empty reads as unset.
    let empty = origin
        .clone_of("main", "empty-variable")
        .with_env("EFS_DR_WRITES_STOPPED", "");
    empty
        .ok(&d, "efs-dr gate --after-apply --perform-sdk --timeout 45m")
        .await;
}
