//! Driving the Terraform CLI: find and check the binary, run commands without prompts, stream
//! their output into tracing, and turn failures into typed errors.

pub mod commands;
pub mod error;
pub mod plan_json;
pub mod safety;
pub mod version;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

pub use error::{LockInfo, TfError};
pub use plan_json::{ChangeKind, PlanJson, ResourceChange};
pub use safety::{AllowedChange, UnexpectedChange, UnsafePlan};
pub use version::{Flavour, Version};

/// A checked Terraform binary and the working directory it runs in.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub binary: PathBuf,
    pub dir: PathBuf,
    pub version: Version,
    /// Terraform or OpenTofu: what the version means (a `removed` block's `lifecycle` needs
    /// Terraform 1.7 but OpenTofu 1.10).
    pub flavour: Flavour,
    pub lock_timeout: Duration,
    /// Extra environment (endpoint overrides, the toolchain's CLI config).
    pub env: Vec<(OsString, OsString)>,
    /// When fired, a running command is asked to stop (one SIGINT: Terraform stops gracefully
    /// and releases the state lock) and is waited for.
    pub interrupt: crate::interrupt::Interrupt,
    /// `-parallelism` of plan and apply.
    pub parallelism: u32,
    /// Told when a command that waits on nothing in AWS starts (`true`) and ends (`false`):
    /// everything but `apply`, whose provider waits on AWS. A rehearsal stops its simulator's
    /// clock meanwhile, so that local work does not count as AWS's time.
    pub local_work: Option<LocalWork>,
}

/// See [`Terraform::local_work`].
#[derive(Clone)]
pub struct LocalWork(pub std::sync::Arc<dyn Fn(bool) + Send + Sync>);

impl std::fmt::Debug for LocalWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalWork")
    }
}

/// Calls the observer's end when dropped, however the command ends.
struct LocalWorkGuard<'a>(Option<&'a LocalWork>);

impl Drop for LocalWorkGuard<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.0 {
            (w.0)(false);
        }
    }
}

/// What a command printed.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Finds `binary` (a name looked up on PATH, or a path).
pub fn locate(binary: &str) -> Result<PathBuf, TfError> {
    let not_found = |why: String| TfError::BinaryNotFound {
        name: binary.to_string(),
        why,
    };
    if binary.contains('/') {
        let p = PathBuf::from(binary);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(not_found("no such file".into()))
        };
    }
    which::which(binary).map_err(|e| not_found(format!("not on PATH: {e}")))
}

impl Terraform {
    /// Locates the binary, checks its version, and prepares to run in `dir`.
    pub async fn new(
        binary: &str,
        dir: &Path,
        lock_timeout: Duration,
        env: Vec<(OsString, OsString)>,
    ) -> Result<Terraform, TfError> {
        let path = locate(binary)?;
        let mut tf = Terraform {
            binary: path.clone(),
            dir: dir.to_path_buf(),
            version: Version(0, 0, 0),
            flavour: Flavour::Terraform,
            lock_timeout,
            env,
            interrupt: Default::default(),
            parallelism: 10,
            local_work: None,
        };
        let ran = tf.exec(&version::args(), false).await?;
        let (flavour, found) =
            version::parse_output(&ran.stdout).ok_or_else(|| TfError::BinaryNotFound {
                name: binary.to_string(),
                why: format!(
                    "{} did not answer `version -json` like Terraform",
                    path.display()
                ),
            })?;
        if found < version::MINIMUM {
            return Err(TfError::TooOld {
                binary: path,
                found,
            });
        }
        tf.version = found;
        tf.flavour = flavour;
        Ok(tf)
    }

    /// Runs one command to its end; never waits for input. `quiet` keeps its output out of the
    /// logs (JSON for efs-dr, not for people; failures come back as typed errors).
    pub async fn exec(&self, args: &[String], quiet: bool) -> Result<Ran, TfError> {
        self.exec_watched(args, quiet, None).await
    }

    /// [`exec`](Self::exec), with Terraform's progress lines ("...: Still destroying...
    /// [10s elapsed]", "...: Destruction complete after 3m2s") sent to `progress` as they come.
    pub async fn exec_watched(
        &self,
        args: &[String],
        quiet: bool,
        progress: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> Result<Ran, TfError> {
        tracing::info!(target: "terraform", dir = %self.dir.display(), "terraform {}", args.join(" "));
        let local = self
            .local_work
            .as_ref()
            .filter(|_| args.first().map(String::as_str) != Some("apply"));
        if let Some(w) = local {
            (w.0)(true);
        }
        let _local = LocalWorkGuard(local);
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.args(args)
            .current_dir(&self.dir)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            // A provider written in Rust would put backtraces into its diagnostics.
            .env("RUST_LIB_BACKTRACE", "0")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C on the terminal reaches efs-dr only, which asks
            // Terraform to stop exactly once (a second interrupt makes Terraform quit at once).
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| TfError::Spawn {
            binary: self.binary.clone(),
            source,
        })?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let out = async move {
            let mut lines = BufReader::new(stdout).lines();
            let mut all = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if !quiet {
                    tracing::info!(target: "terraform", "{line}");
                }
                if let Some(tx) = progress.as_ref().filter(|_| is_progress(&line)) {
                    let _ = tx.send(line.trim().to_string());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        };
        let err = async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut all = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                // A quiet command's failures reach the operator through its typed error.
                if quiet {
                    tracing::debug!(target: "terraform", "{line}");
                } else {
                    tracing::warn!(target: "terraform", "{line}");
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        };
        let pid = child.id();
        let done = async move { tokio::join!(out, err, child.wait()) };
        tokio::pin!(done);
        let interrupted = tokio::select! {
            finished = &mut done => {
                let (stdout, stderr, status) = finished;
                let status = status.map_err(|source| TfError::Spawn {
                    binary: self.binary.clone(),
                    source,
                })?;
                return Ok(Ran {
                    code: status.code().unwrap_or(-1),
                    stdout,
                    stderr,
                });
            }
            signal = self.interrupt.fired() => signal,
        };
        if let Some(pid) = pid {
            // SAFETY: kill(2) with a pid this process started and has not reaped.
            unsafe {
                libc::kill(pid as i32, libc::SIGINT);
            }
        }
        tracing::warn!(
            "{} received: asked `terraform {}` to stop; waiting for it to release the state lock",
            crate::interrupt::name(interrupted),
            args.first().map(String::as_str).unwrap_or_default()
        );
        // Bounded: Terraform finishes the call in flight, writes the state, releases the lock.
        let bound = self.lock_timeout + Duration::from_secs(120);
        if tokio::time::timeout(bound, &mut done).await.is_err() {
            tracing::error!("terraform did not stop within {bound:?}: killed");
        }
        Err(TfError::Interrupted {
            command: args.first().cloned().unwrap_or_default(),
            signal: interrupted,
        })
    }

    /// Runs a command that must succeed (exit 0, or one of `ok_codes`).
    async fn run_ok(
        &self,
        name: &str,
        args: &[String],
        quiet: bool,
        ok_codes: &[i32],
    ) -> Result<Ran, TfError> {
        let ran = self.exec(args, quiet).await?;
        self.checked(name, ran, ok_codes)
    }

    /// A command's end as a result: exit 0 (or one of `ok_codes`), or its typed error.
    fn checked(&self, name: &str, ran: Ran, ok_codes: &[i32]) -> Result<Ran, TfError> {
        if ran.code == 0 || ok_codes.contains(&ran.code) {
            Ok(ran)
        } else {
            Err(error::classify(
                &self.dir,
                name,
                ran.code,
                &format!("{}\n{}", ran.stderr, ran.stdout),
            ))
        }
    }

    pub async fn init(&self) -> Result<(), TfError> {
        self.run_ok("init", &commands::init(self.lock_timeout), false, &[])
            .await
            .map(|_| ())
    }

    /// Plans into `plan_file`; true when the plan has changes.
    pub async fn plan(&self, plan_file: &Path) -> Result<bool, TfError> {
        self.plan_with(plan_file, true).await
    }

    /// Plans into `plan_file`, refreshing from AWS or not; true when the plan has changes.
    pub async fn plan_with(&self, plan_file: &Path, refresh: bool) -> Result<bool, TfError> {
        let args = if refresh {
            commands::plan(plan_file, self.lock_timeout, self.parallelism)
        } else {
            commands::plan_without_refresh(plan_file, self.lock_timeout, self.parallelism)
        };
        let ran = self.run_ok("plan", &args, false, &[2]).await?;
        Ok(ran.code == 2)
    }

    /// The resource addresses in the state (empty when there is no state yet).
    pub async fn state_list(&self) -> Result<Vec<String>, TfError> {
        let ran = self.exec(&commands::state_list(), true).await?;
        if ran.code != 0 {
            if ran.stderr.contains("No state file was found") {
                return Ok(Vec::new());
            }
            return Err(error::classify(
                &self.dir,
                "state list",
                ran.code,
                &format!("{}\n{}", ran.stderr, ran.stdout),
            ));
        }
        Ok(ran
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    pub async fn show_plan(&self, plan_file: &Path) -> Result<PlanJson, TfError> {
        let ran = self
            .run_ok("show", &commands::show_plan(plan_file), true, &[])
            .await?;
        PlanJson::parse(&ran.stdout).map_err(|e| TfError::BadJson {
            command: "show -json".into(),
            reason: e.to_string(),
        })
    }

    /// The saved plan as `terraform show` prints it for people.
    pub async fn show_plan_text(&self, plan_file: &Path) -> Result<String, TfError> {
        let ran = self
            .run_ok("show", &commands::show_plan_text(plan_file), true, &[])
            .await?;
        Ok(ran.stdout)
    }

    pub async fn apply(&self, plan_file: &Path) -> Result<(), TfError> {
        self.apply_watched(plan_file, None).await
    }

    /// Applies a saved plan, its progress lines sent to `progress`.
    pub async fn apply_watched(
        &self,
        plan_file: &Path,
        progress: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> Result<(), TfError> {
        let args = commands::apply(plan_file, self.lock_timeout, self.parallelism);
        let ran = self.exec_watched(&args, false, progress).await?;
        self.checked("apply", ran, &[]).map(|_| ())
    }

    pub async fn output(&self) -> Result<serde_json::Value, TfError> {
        let ran = self
            .run_ok("output", &commands::output(), true, &[])
            .await?;
        serde_json::from_str(&ran.stdout).map_err(|e| TfError::BadJson {
            command: "output -json".into(),
            reason: e.to_string(),
        })
    }

    pub async fn state_rm(&self, addresses: &[String]) -> Result<(), TfError> {
        self.run_ok(
            "state rm",
            &commands::state_rm(addresses, self.lock_timeout),
            false,
            &[],
        )
        .await
        .map(|_| ())
    }

    pub async fn import(&self, address: &str, id: &str) -> Result<(), TfError> {
        self.run_ok(
            "import",
            &commands::import(address, id, self.lock_timeout),
            false,
            &[],
        )
        .await
        .map(|_| ())
    }

    pub async fn untaint(&self, address: &str) -> Result<(), TfError> {
        self.run_ok(
            "untaint",
            &commands::untaint(address, self.lock_timeout),
            false,
            &[],
        )
        .await
        .map(|_| ())
    }

    /// Plans into `plan_file` (refreshing from AWS or not), and checks the plan against what is
    /// allowed. Only a plan that passed comes back, and only such a plan can be applied.
    pub async fn plan_checked(
        &self,
        plan_file: &Path,
        allowed: &[AllowedChange],
        refresh: bool,
    ) -> Result<CheckedPlan, PhaseError> {
        if !self.plan_with(plan_file, refresh).await? {
            return Ok(CheckedPlan {
                file: plan_file.to_path_buf(),
                changes: Vec::new(),
                planned: Vec::new(),
                terraform_version: self.version.to_string(),
                format_version: String::new(),
            });
        }
        let plan = self.show_plan(plan_file).await?;
        safety::check(&plan, allowed)?;
        Ok(CheckedPlan {
            file: plan_file.to_path_buf(),
            changes: plan.changes().into_iter().cloned().collect(),
            planned: plan.resource_changes,
            terraform_version: plan.terraform_version,
            format_version: plan.format_version,
        })
    }

    /// Applies a checked plan (nothing to do when it has no change); returns its changes.
    pub async fn apply_checked(&self, plan: CheckedPlan) -> Result<Vec<ResourceChange>, TfError> {
        self.apply_checked_watched(plan, None).await
    }

    /// [`apply_checked`](Self::apply_checked), Terraform's progress lines sent to `progress`.
    pub async fn apply_checked_watched(
        &self,
        plan: CheckedPlan,
        progress: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> Result<Vec<ResourceChange>, TfError> {
        let result = if plan.changes.is_empty() {
            Ok(())
        } else {
            self.apply_watched(&plan.file, progress).await
        };
        let _ = std::fs::remove_file(self.dir.join(&plan.file));
        result.map(|()| plan.changes)
    }
}

/// Whether a line of Terraform's human output says how a change is going ("...: Still
/// creating... [1m0s elapsed]", "...: Creation complete after 8m2s [id=...]").
fn is_progress(line: &str) -> bool {
    let line = line.trim();
    line.contains(": Still ")
        || line.contains(" complete after ")
        || line.ends_with(": Creating...")
        || line.ends_with(": Destroying...")
        || line.contains(": Destroying... [")
}

/// A saved plan that passed the safety check.
#[derive(Debug)]
pub struct CheckedPlan {
    file: PathBuf,
    /// What it changes (empty: nothing to apply).
    pub changes: Vec<ResourceChange>,
    /// Every resource change as Terraform planned it, no-ops and imports included (what its
    /// summary line counts).
    pub planned: Vec<ResourceChange>,
    /// The Terraform that made it, and its JSON's format (empty when nothing changes: the plan
    /// was not shown).
    pub terraform_version: String,
    pub format_version: String,
}

/// A plan that failed, or that was refused as unsafe.
#[derive(Debug, thiserror::Error)]
pub enum PhaseError {
    #[error(transparent)]
    Terraform(#[from] TfError),
    #[error(transparent)]
    Unsafe(#[from] UnsafePlan),
}

#[cfg(test)]
mod tests {
    use super::is_progress;

    /// The local-work observer hears every command but `apply`, whose provider waits on AWS:
    /// a start and an end each, the end also when the command fails.
    #[tokio::test]
    async fn local_work_is_every_command_but_apply() {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::{Arc, Mutex};
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("terraform");
        std::fs::write(
            &binary,
            "#!/bin/sh\ncase \"$1\" in\n  version) echo '{\"terraform_version\":\"1.15.5\",\"terraform_outdated\":false}' ;;\n  fail) exit 1 ;;\nesac\n",
        )
        .unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut tf = super::Terraform::new(
            binary.to_str().unwrap(),
            dir.path(),
            std::time::Duration::from_secs(1),
            Vec::new(),
        )
        .await
        .unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let log = heard.clone();
        tf.local_work = Some(super::LocalWork(Arc::new(move |working| {
            log.lock().unwrap().push(working)
        })));
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        tf.exec(&args(&["plan"]), true).await.unwrap();
        assert_eq!(*heard.lock().unwrap(), [true, false]);
        tf.exec(&args(&["apply"]), true).await.unwrap();
        assert_eq!(
            *heard.lock().unwrap(),
            [true, false],
            "apply is not local work"
        );
        let failed = tf.exec(&args(&["fail"]), true).await.unwrap();
        assert_eq!(failed.code, 1);
        assert_eq!(*heard.lock().unwrap(), [true, false, true, false]);
    }

    /// Terraform's progress lines (as 1.5 to 1.15 print them) reach the operator; its other
    /// lines do not.
    #[test]
    fn terraform_progress_lines_are_told_from_the_rest() {
        let address = r#"module.efs_dr.aws_efs_replication_configuration.forward["app"]"#;
        for line in [
            format!("{address}: Destroying... [id=fs-0123456789abcdef0]"),
            format!("{address}: Still destroying... [id=fs-0123456789abcdef0, 10s elapsed]"),
            format!("{address}: Still creating... [1m0s elapsed]"),
            format!("{address}: Creating..."),
            format!("{address}: Destruction complete after 3m2s"),
            format!("{address}: Creation complete after 8m12s [id=fs-0123456789abcdef0]"),
        ] {
            assert!(is_progress(&line), "{line}");
        }
        for line in [
            "Apply complete! Resources: 0 added, 0 changed, 1 destroyed.",
            "Acquiring state lock. This may take a few moments...",
            "",
        ] {
            assert!(!is_progress(line), "{line}");
        }
    }
}
