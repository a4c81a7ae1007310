//! Secrets stay secret: every command, run with distinctive credentials in the environment and
//! then in a profile, at the most verbose log level, writes them nowhere: not in stdout or
//! stderr, not in a file under the working directory (the root, its .terraform, the reports,
//! pull-request bodies and summaries), not in the S3 objects beside the state.

use std::path::Path;

use efs_dr_testkit::Moto;

use crate::dr::{Drill, Run};
use crate::shared_state::{shared_config, BUCKET};

const ACCESS_KEY: &str = "AKIAEFSDRCANARY00001";
const SECRET_KEY: &str = "efsdr/canary/SECRET/0123456789abcdefABCDEF";
const TOKEN: &str = "efsdrCanarySessionTOKEN0123456789abcdef";
const CANARIES: [&str; 3] = [ACCESS_KEY, SECRET_KEY, TOKEN];

/// Every canary found in `text`, with where.
fn hits(text: &str, place: &str) -> Vec<String> {
    CANARIES
        .iter()
        .filter(|c| text.contains(*c))
        .map(|c| format!("{c} in {place}"))
        .collect()
}

/// Every file below `dir` (text or not), searched as bytes.
fn files_with_canaries(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            files_with_canaries(&path, out);
        } else if meta.is_file() && meta.len() < 64 << 20 {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            out.extend(hits(&text, &path.display().to_string()));
        }
    }
}

struct Canary<'a> {
    d: &'a Drill,
    profile: Option<&'a Path>,
    said: Vec<String>,
}

impl Canary<'_> {
    async fn run(&mut self, args: &[&str]) -> Run {
        let mut cmd = self.d.command(args);
        cmd.arg("-vvv").env_remove("RUST_LOG");
        match self.profile {
            None => {
                cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
                    .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
                    .env("AWS_SESSION_TOKEN", TOKEN);
            }
            Some(file) => {
                cmd.env_remove("AWS_ACCESS_KEY_ID")
                    .env_remove("AWS_SECRET_ACCESS_KEY")
                    .env("AWS_SHARED_CREDENTIALS_FILE", file)
                    .env("AWS_PROFILE", "canary");
            }
        }
        let run = Run::of(cmd.output().await.unwrap());
        let place = format!("the output of efs-dr {args:?}");

        self.said.extend(hits(&run.stdout, &place));
        self.said.extend(hits(&run.stderr, &place));
        run
    }

    async fn ok(&mut self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert_eq!(
            run.code,
            0,
            "efs-dr {args:?}:\n{}",
            run.stderr
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
        run
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_command_writes_a_credential_anywhere() {
    let moto = Moto::start().await;
    moto.create_bucket(BUCKET).await;
    let d = crate::dr::drill(&["app"]).await;
    std::fs::write(d.config(), shared_config(&d, &moto.url, BUCKET, "40m")).unwrap();
    let mut c = Canary {
        d: &d,
        profile: None,
        said: Vec::new(),
    };
    c.ok(&["config", "validate"]).await;
    c.ok(&["init", "--yes"]).await;
    c.ok(&["status"]).await;
    c.ok(&["plan", "failover"]).await;
    c.ok(&["failover", "--yes"]).await;
    d.write_on_b("canary").await;
    // Pull-request mode: the body, the summary, the stages, a checked plan.
    let pr = d.dir.path().join("pr.md");
    let summary = d.dir.path().join("pr.json");
    c.ok(&[
        "propose",
        "failback",
        "--body-file",
        pr.to_str().unwrap(),
        "--summary-file",
        summary.to_str().unwrap(),
    ])
    .await;
    c.ok(&["gate", "--before-apply", "--perform-sdk"]).await;
    let plan = tokio::process::Command::new(efs_dr_testkit::terraform_binary())
        .args(["plan", "-input=false", "-no-color", "-out=canary.tfplan"])
        .current_dir(d.tf_dir())
        .envs(efs_dr_testkit::tf_env(&d.ts.url))
        .output()
        .await
        .unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    c.ok(&[
        "check-plan",
        d.tf_dir().join("canary.tfplan").to_str().unwrap(),
    ])
    .await;

    // Then with the credentials in a profile.
    let profile = d.dir.path().join("canary-credentials");
    std::fs::write(
        &profile,
        format!("[canary]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\naws_session_token = {TOKEN}\n"),
    )
    .unwrap();
    c.profile = Some(&profile);
    c.ok(&["status"]).await;
    c.ok(&["plan", "failback"]).await;
    c.ok(&["failback", "--yes", "--writes-stopped"]).await;
    c.ok(&["demo"]).await;
    d.assert_home_with_everything(&["canary"]).await;

    let mut found = std::mem::take(&mut c.said);
    std::fs::remove_file(&profile).unwrap();
    files_with_canaries(d.dir.path(), &mut found);
    let s3 = moto.s3();
    let listed = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    for o in listed.contents() {
        let key = o.key().unwrap();
        let body = s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        found.extend(hits(
            &String::from_utf8_lossy(&bytes),
            &format!("s3://{BUCKET}/{key}"),
        ));
    }
    assert!(listed.key_count().unwrap_or(0) > 0, "the state is in S3");
    assert!(
        found.is_empty(),
        "credentials written:\n{}",
        found.join("\n")
    );
}
