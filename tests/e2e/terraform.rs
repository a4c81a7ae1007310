//! Real Terraform (the project's .tools toolchain: `make setup`), the stand-in provider and the
//! simulator, through efs-dr's Terraform runner.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_efs::types::{ReplicationOverwriteProtection, ReplicationStatus};
use efs_dr::terraform::{AllowedChange, ChangeKind, PhaseError, Terraform, TfError};
use efs_dr_testkit::*;

const A_REGION: &str = "us-east-1";
const B_REGION: &str = "us-west-2";

/// What a run does with a phase: plan, check, and apply only a plan that passed.
async fn plan_check_apply(
    tf: &Terraform,
    plan_file: &Path,
    allowed: &[AllowedChange],
    refresh: bool,
) -> Result<Vec<efs_dr::terraform::ResourceChange>, PhaseError> {
    let plan = tf.plan_checked(plan_file, allowed, refresh).await?;
    Ok(tf.apply_checked(plan).await?)
}

fn terraform_binary() -> String {
    efs_dr_testkit::terraform_binary().display().to_string()
}

struct Pair {
    name: &'static str,
    a_region: &'static str,
    a: String,
    b_region: &'static str,
    b: String,
}

fn module_name(p: &Pair) -> String {
    format!("{}__{}", p.a_region, p.b_region).replace('-', "_")
}

fn address(p: &Pair, direction: &str) -> String {
    format!(
        "module.{}.aws_efs_replication_configuration.{direction}[\"{}\"]",
        module_name(p),
        p.name
    )
}

/// A root like the one efs-dr renders: one provider per region, one module call per region pair.
fn write_root(dir: &Path, pairs: &[&Pair]) {
    let module = project_root().join("modules/efs_replication");
    let mut regions: Vec<&str> = pairs
        .iter()
        .flat_map(|p| [p.a_region, p.b_region])
        .collect();
    regions.sort();
    regions.dedup();
    let mut tf = String::from("variable \"directions\" {\n  type = map(string)\n}\n");
    for r in regions {
        tf += &format!(
            "provider \"aws\" {{\n  alias  = \"{}\"\n  region = \"{r}\"\n}}\n",
            r.replace('-', "_")
        );
    }
    for p in pairs {
        tf += &format!(
            "module \"{m}\" {{\n  source    = \"{src}\"\n  providers = {{ aws.primary = aws.{pa}, aws.secondary = aws.{pb} }}\n  pairs = {{\n    \"{n}\" = {{\n      primary   = {{ region = \"{ar}\", file_system_id = \"{a}\" }}\n      secondary = {{ region = \"{br}\", file_system_id = \"{b}\" }}\n      direction = var.directions[\"{n}\"]\n    }}\n  }}\n}}\noutput \"{m}\" {{\n  value = module.{m}.pairs\n}}\n",
            m = module_name(p),
            src = module.display(),
            pa = p.a_region.replace('-', "_"),
            pb = p.b_region.replace('-', "_"),
            n = p.name,
            ar = p.a_region,
            a = p.a,
            br = p.b_region,
            b = p.b,
        );
    }
    std::fs::write(dir.join("main.tf"), tf).unwrap();
}

fn set_directions(dir: &Path, directions: &[(&str, &str)]) {
    let map: serde_json::Map<String, serde_json::Value> = directions
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    std::fs::write(
        dir.join("efs-dr.auto.tfvars.json"),
        serde_json::json!({ "directions": map }).to_string(),
    )
    .unwrap();
}

async fn make_pair(
    ts: &TestSim,
    name: &'static str,
    a_region: &'static str,
    b_region: &'static str,
) -> Pair {
    let a = file_system(ts, a_region, &format!("{name}-a")).await;
    let b = file_system(ts, b_region, &format!("{name}-b")).await;
    set_protection(ts, b_region, &b, ReplicationOverwriteProtection::Disabled).await;
    Pair {
        name,
        a_region,
        a,
        b_region,
        b,
    }
}

async fn set_protection(ts: &TestSim, region: &str, fs: &str, p: ReplicationOverwriteProtection) {
    efs(&ts.url, region)
        .update_file_system_protection()
        .file_system_id(fs)
        .replication_overwrite_protection(p)
        .send()
        .await
        .unwrap();
}

/// The replication status of `fs` in `region`, or None when AWS says there is none.
async fn replication(
    ts: &TestSim,
    region: &str,
    fs: &str,
) -> Option<(String, String, ReplicationStatus)> {
    match efs(&ts.url, region)
        .describe_replication_configurations()
        .file_system_id(fs)
        .send()
        .await
    {
        Ok(out) => {
            let r = &out.replications()[0];
            let d = &r.destinations()[0];
            Some((
                r.source_file_system_id().to_string(),
                d.file_system_id().to_string(),
                d.status().clone(),
            ))
        }
        Err(e) => {
            assert!(e.into_service_error().is_replication_not_found());
            None
        }
    }
}

async fn terraform(dir: &Path, ts: &TestSim) -> Terraform {
    Terraform::new(
        &terraform_binary(),
        dir,
        Duration::from_secs(0),
        tf_env(&ts.url),
    )
    .await
    .expect("the project's Terraform")
}

fn fast_sim() -> efs_dr_sim::SimOptions {
    efs_dr_sim::SimOptions {
        time_scale: 600.0,
        seed: Some(11),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pairs_through_every_direction_change() {
    let ts = start_with(fast_sim()).await;
    let p1 = make_pair(&ts, "home", A_REGION, B_REGION).await;
    let p2 = make_pair(&ts, "media", "eu-west-1", "eu-central-1").await;
    let dir = tempfile::tempdir().unwrap();
    write_root(dir.path(), &[&p1, &p2]);
    let tf = terraform(dir.path(), &ts).await;
    assert!(tf.version >= efs_dr::terraform::version::MINIMUM);
    let plan_file = dir.path().join("phase.tfplan");
    let mut timings = Vec::new();

    let t = Instant::now();
    tf.init().await.unwrap();
    timings.push(("init", t.elapsed()));

    // Forward for both: two creates, each applied only after it is ENABLED.
    set_directions(dir.path(), &[("home", "forward"), ("media", "forward")]);
    let t = Instant::now();
    let applied = plan_check_apply(
        &tf,
        &plan_file,
        &[
            AllowedChange {
                address: address(&p1, "forward"),
                kind: ChangeKind::Create,
            },
            AllowedChange {
                address: address(&p2, "forward"),
                kind: ChangeKind::Create,
            },
        ],
        true,
    )
    .await
    .unwrap();
    timings.push(("plan+apply forward x2", t.elapsed()));
    assert_eq!(applied.len(), 2);
    for p in [&p1, &p2] {
        let r = replication(&ts, p.a_region, &p.a).await.expect("created");
        assert_eq!(
            r,
            (p.a.clone(), p.b.clone(), ReplicationStatus::Enabled),
            "create waited for ENABLED"
        );
    }

    // Nothing to do: the plan says so.
    let t = Instant::now();
    assert!(
        !tf.plan(&plan_file).await.unwrap(),
        "a no-op plan reports no changes"
    );
    timings.push(("no-op plan", t.elapsed()));

    // home: none. Destroy deletes in both regions before it returns.
    set_directions(dir.path(), &[("home", "none"), ("media", "forward")]);
    let t = Instant::now();
    let applied = plan_check_apply(
        &tf,
        &plan_file,
        &[AllowedChange {
            address: address(&p1, "forward"),
            kind: ChangeKind::Delete,
        }],
        true,
    )
    .await
    .unwrap();
    timings.push(("plan+apply none", t.elapsed()));
    assert_eq!(applied.len(), 1);
    assert_eq!(replication(&ts, A_REGION, &p1.a).await, None);
    assert_eq!(replication(&ts, B_REGION, &p1.b).await, None);
    assert!(
        replication(&ts, "eu-west-1", &p2.a).await.is_some(),
        "the other pair is untouched"
    );

    // home: reverse, into the existing A (its protection disabled first, as failback does).
    set_protection(
        &ts,
        A_REGION,
        &p1.a,
        ReplicationOverwriteProtection::Disabled,
    )
    .await;
    set_directions(dir.path(), &[("home", "reverse"), ("media", "forward")]);
    let t = Instant::now();
    plan_check_apply(
        &tf,
        &plan_file,
        &[AllowedChange {
            address: address(&p1, "reverse"),
            kind: ChangeKind::Create,
        }],
        true,
    )
    .await
    .unwrap();
    timings.push(("plan+apply reverse", t.elapsed()));
    let r = replication(&ts, B_REGION, &p1.b).await.unwrap();
    assert_eq!(r, (p1.b.clone(), p1.a.clone(), ReplicationStatus::Enabled));

    // And back: none, then forward.
    set_directions(dir.path(), &[("home", "none"), ("media", "forward")]);
    plan_check_apply(
        &tf,
        &plan_file,
        &[AllowedChange {
            address: address(&p1, "reverse"),
            kind: ChangeKind::Delete,
        }],
        true,
    )
    .await
    .unwrap();
    set_protection(
        &ts,
        B_REGION,
        &p1.b,
        ReplicationOverwriteProtection::Disabled,
    )
    .await;
    set_directions(dir.path(), &[("home", "forward"), ("media", "forward")]);
    plan_check_apply(
        &tf,
        &plan_file,
        &[AllowedChange {
            address: address(&p1, "forward"),
            kind: ChangeKind::Create,
        }],
        true,
    )
    .await
    .unwrap();
    let out = tf.output().await.unwrap();
    let home = &out[module_name(&p1)]["value"]["home"];
    assert_eq!(home["direction"], "forward");
    assert_eq!(
        home["primary_file_system_id"],
        p1.a.as_str(),
        "file-system ids never change"
    );
    assert_eq!(home["secondary_file_system_id"], p1.b.as_str());
    for (what, d) in timings {
        eprintln!("timing: {what}: {:.2}s", d.as_secs_f64());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safety_check_refuses_an_unexpected_change_and_applies_nothing() {
    let ts = start_with(fast_sim()).await;
    let p1 = make_pair(&ts, "home", A_REGION, B_REGION).await;
    let p2 = make_pair(&ts, "media", "eu-west-1", "eu-central-1").await;
    let dir = tempfile::tempdir().unwrap();
    write_root(dir.path(), &[&p1, &p2]);
    let tf = terraform(dir.path(), &ts).await;
    tf.init().await.unwrap();
    set_directions(dir.path(), &[("home", "forward"), ("media", "forward")]);
    // The phase allows home's create only; the plan also creates media's.
    let err = plan_check_apply(
        &tf,
        &dir.path().join("p.tfplan"),
        &[AllowedChange {
            address: address(&p1, "forward"),
            kind: ChangeKind::Create,
        }],
        true,
    )
    .await
    .unwrap_err();
    match err {
        PhaseError::Unsafe(u) => {
            assert_eq!(u.unexpected.len(), 1);
            assert_eq!(u.unexpected[0].address, address(&p2, "forward"));
            assert_eq!(u.unexpected[0].kind, ChangeKind::Create);
        }
        other => panic!("expected an unsafe plan, got {other}"),
    }
    assert_eq!(
        replication(&ts, A_REGION, &p1.a).await,
        None,
        "nothing was applied"
    );
    assert_eq!(replication(&ts, "eu-west-1", &p2.a).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_replication_is_imported_not_recreated() {
    let ts = start_with(fast_sim()).await;
    let p = make_pair(&ts, "home", A_REGION, B_REGION).await;
    efs(&ts.url, A_REGION)
        .create_replication_configuration()
        .source_file_system_id(&p.a)
        .destinations(
            aws_sdk_efs::types::DestinationToCreate::builder()
                .region(B_REGION)
                .file_system_id(&p.b)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ts.control.advance(16.0 * 60.0).await.unwrap();
    let created = *efs(&ts.url, A_REGION)
        .describe_replication_configurations()
        .file_system_id(&p.a)
        .send()
        .await
        .unwrap()
        .replications()[0]
        .creation_time();
    let dir = tempfile::tempdir().unwrap();
    write_root(dir.path(), &[&p]);
    set_directions(dir.path(), &[("home", "forward")]);
    let tf = terraform(dir.path(), &ts).await;
    tf.init().await.unwrap();
    tf.import(&address(&p, "forward"), &p.a).await.unwrap();
    // Nothing to create: at most the module's timeouts, which live in the state only.
    let checked = tf
        .plan_checked(&dir.path().join("p.tfplan"), &[], true)
        .await
        .unwrap_or_else(|e| panic!("imported: nothing to create or replace: {e}"));
    assert!(checked.changes.is_empty(), "imported: nothing to create");
    let still = efs(&ts.url, A_REGION)
        .describe_replication_configurations()
        .file_system_id(&p.a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.replications()[0].creation_time(),
        &created,
        "the same configuration"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_state_is_a_typed_error_with_the_lock_holder() {
    // Time scale 1: the apply below waits 15 real minutes for ENABLED, holding the lock.
    let ts = start(1.0).await;
    let p = make_pair(&ts, "home", A_REGION, B_REGION).await;
    let dir = tempfile::tempdir().unwrap();
    write_root(dir.path(), &[&p]);
    set_directions(dir.path(), &[("home", "forward")]);
    let tf = terraform(dir.path(), &ts).await;
    tf.init().await.unwrap();
    let mut holder = tokio::process::Command::new(terraform_binary())
        .args(["apply", "-input=false", "-no-color", "-auto-approve"])
        .current_dir(dir.path())
        .envs(tf_env(&ts.url))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lock_file = dir.path().join(".terraform.tfstate.lock.info");
    eventually(
        Duration::from_secs(60),
        "the other apply holds the lock",
        || async { lock_file.exists().then_some(()) },
    )
    .await;
    let err = tf.plan(&dir.path().join("p.tfplan")).await.unwrap_err();
    holder.kill().await.unwrap();
    match &err {
        TfError::StateLocked { lock, .. } => {
            assert!(!lock.id.is_empty(), "{err}");
            assert!(lock.who.contains('@'), "{err}");
            assert_eq!(lock.operation, "OperationTypeApply");
            let shown = err.to_string();
            assert!(
                shown.contains("force-unlock") && shown.contains(&lock.id),
                "{shown}"
            );
        }
        other => panic!("expected StateLocked, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_old_and_uninitialised_terraform_are_typed_errors() {
    let ts = start(1.0).await;
    let dir = tempfile::tempdir().unwrap();
    let err = Terraform::new("no-such-terraform-xyz", dir.path(), Duration::ZERO, vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, TfError::BinaryNotFound { .. }), "{err}");
    assert!(err.to_string().contains("make setup"));

    let old = dir.path().join("terraform-old");
    std::fs::write(
        &old,
        "#!/bin/sh\necho '{\"terraform_version\":\"1.4.6\"}'\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&old)
        .status()
        .unwrap();
    let err = Terraform::new(old.to_str().unwrap(), dir.path(), Duration::ZERO, vec![])
        .await
        .unwrap_err();
    match &err {
        TfError::TooOld { found, .. } => assert_eq!(found.to_string(), "1.4.6"),
        other => panic!("{other}"),
    }

    let p = Pair {
        name: "home",
        a_region: A_REGION,
        a: "fs-01234567".into(),
        b_region: B_REGION,
        b: "fs-89abcdef".into(),
    };
    write_root(dir.path(), &[&p]);
    set_directions(dir.path(), &[("home", "forward")]);
    let tf = terraform(dir.path(), &ts).await;
    let err = tf.plan(&dir.path().join("p.tfplan")).await.unwrap_err();
    assert!(matches!(err, TfError::NotInitialised { .. }), "{err}");
    assert!(err.to_string().contains("efs-dr init"));

    // A bad direction is the module's validation error, surfaced as a failed plan.
    tf.init().await.unwrap();
    set_directions(dir.path(), &[("home", "sideways")]);
    match tf.plan(&dir.path().join("p.tfplan")).await.unwrap_err() {
        TfError::PlanFailed { diagnostics, .. } => {
            assert!(
                diagnostics
                    .iter()
                    .any(|d| d.contains("\"forward\", \"none\" or \"reverse\"")),
                "{diagnostics:?}"
            )
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_systems_managed_by_terraform_have_no_perpetual_diff_while_replicating() {
    let ts = start_with(fast_sim()).await;
    let dir = tempfile::tempdir().unwrap();
    let tf_text = || {
        let mut t = String::from(
            r#"provider "aws" {
  alias  = "a"
  region = "us-east-1"
  default_tags {
    tags = { "managed-by" = "efs-dr-test" }
  }
}
provider "aws" {
  alias  = "b"
  region = "us-west-2"
}
resource "aws_efs_file_system" "a" {
  provider       = aws.a
  creation_token = "tf-a"
  tags           = { Name = "home" }
}
resource "aws_efs_file_system" "b" {
  provider       = aws.b
  creation_token = "tf-b"
  protection {
    replication_overwrite = "DISABLED"
  }
  lifecycle {
    ignore_changes = [protection]
  }
}
data "aws_efs_file_system" "b" {
  provider       = aws.b
  file_system_id = aws_efs_file_system.b.id
  depends_on     = [aws_efs_replication_configuration.r]
}
output "b_protection" {
  value = data.aws_efs_file_system.b.protection[0].replication_overwrite
}
output "a_name" {
  value = aws_efs_file_system.a.name
}
"#,
        );
        t += r#"resource "aws_efs_replication_configuration" "r" {
  provider              = aws.a
  source_file_system_id = aws_efs_file_system.a.id
  destination {
    region         = "us-west-2"
    file_system_id = aws_efs_file_system.b.id
  }
}
"#;
        t
    };
    std::fs::write(dir.path().join("main.tf"), tf_text()).unwrap();
    let tf = terraform(dir.path(), &ts).await;
    tf.init().await.unwrap();
    let plan_file = dir.path().join("p.tfplan");
    assert!(tf.plan(&plan_file).await.unwrap());
    tf.apply(&plan_file).await.unwrap();
    let out = tf.output().await.unwrap();
    assert_eq!(
        out["b_protection"]["value"], "REPLICATING",
        "read back as AWS reports it"
    );
    assert_eq!(out["a_name"]["value"], "home");
    // REPLICATING does not become a diff: ignore_changes = [protection] on the destination.
    assert!(
        !tf.plan(&plan_file).await.unwrap(),
        "no perpetual diff while replicating"
    );
    let a = efs(&ts.url, A_REGION)
        .describe_file_systems()
        .creation_token("tf-a")
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = a.file_systems()[0]
        .tags()
        .iter()
        .map(|t| (t.key(), t.value()))
        .collect();
    assert!(
        tags.contains(&("managed-by", "efs-dr-test")),
        "default_tags applied: {tags:?}"
    );
}

/// The stand-in configures as the real provider does (aws-sdk-go-base `GetAwsConfig`,
/// `GetAwsAccountIDAndPartition`): STS GetCallerIdentity in `sts_region`, else its own region,
/// unless both skip flags are set; Terraform configures a provider whose only resource has no
/// instances. A region in outage therefore fails the plan, unless the provider asks STS
/// elsewhere or asks nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_of_a_region_in_outage_fails_to_configure_unless_it_asks_sts_elsewhere() {
    let ts = start_with(fast_sim()).await;
    ts.control.set_outage(A_REGION, true).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = |provider_args: &str| {
        format!(
            r#"provider "aws" {{
  alias       = "a"
  region      = "{A_REGION}"
  max_retries = 2
{provider_args}
}}
resource "aws_efs_replication_configuration" "none" {{
  provider              = aws.a
  for_each              = {{}}
  source_file_system_id = each.key
  destination {{
    region = "{B_REGION}"
  }}
}}
"#
        )
    };
    let plan_file = dir.path().join("p.tfplan");
    std::fs::write(dir.path().join("main.tf"), root("")).unwrap();
    let tf = terraform(dir.path(), &ts).await;
    tf.init().await.unwrap();
    let err = tf.plan(&plan_file).await.unwrap_err().to_string();
    assert!(
        err.contains("validating provider credentials: retrieving caller identity from STS"),
        "{err}"
    );

    // Account id only (credentials not validated): STS is still asked, and still fails.
    std::fs::write(
        dir.path().join("main.tf"),
        root("  skip_credentials_validation = true"),
    )
    .unwrap();
    let err = tf.plan(&plan_file).await.unwrap_err().to_string();
    assert!(err.contains("AWS account ID not previously found"), "{err}");

    // STS asked in a region that answers.
    std::fs::write(
        dir.path().join("main.tf"),
        root(&format!("  sts_region = \"{B_REGION}\"")),
    )
    .unwrap();
    assert!(!tf.plan(&plan_file).await.unwrap(), "nothing to change");

    // Nothing asked at all.
    std::fs::write(
        dir.path().join("main.tf"),
        root("  skip_credentials_validation = true\n  skip_requesting_account_id  = true"),
    )
    .unwrap();
    assert!(!tf.plan(&plan_file).await.unwrap(), "nothing to change");

    // The region back: the plain provider configures again.
    ts.control.set_outage(A_REGION, false).await.unwrap();
    std::fs::write(dir.path().join("main.tf"), root("")).unwrap();
    assert!(!tf.plan(&plan_file).await.unwrap(), "nothing to change");
}

/// The double never meets real AWS: an endpoint that is not on loopback is refused at
/// configure, saying what it is and how to use the real provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_refuses_to_configure_for_a_real_aws_endpoint() {
    let ts = start_with(fast_sim()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            r#"provider "aws" {{
  region = "{A_REGION}"
  endpoints {{
    efs = "https://elasticfilesystem.{A_REGION}.amazonaws.com"
  }}
}}
resource "aws_efs_replication_configuration" "none" {{
  for_each              = {{}}
  source_file_system_id = each.key
  destination {{
    region = "{B_REGION}"
  }}
}}
"#
        ),
    )
    .unwrap();
    let tf = terraform(dir.path(), &ts).await;
    tf.init().await.unwrap();
    let err = tf
        .plan(&dir.path().join("p.tfplan"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("efs-dr's offline stand-in") && err.contains("amazonaws.com"),
        "{err}"
    );
}

/// The root outputs which side serves writes, so that other stacks (a Route 53 record, a task
/// definition) follow through `terraform_remote_state`: A at home, B after a failover, A again
/// after the failback.
#[tokio::test(flavor = "multi_thread")]
async fn the_active_side_is_a_terraform_output_that_follows_failover_and_failback() {
    let d = crate::dr::drill(&["app"]).await;
    let active = || async {
        let out = tokio::process::Command::new(efs_dr_testkit::terraform_binary())
            .args(["output", "-json", "active"])
            .current_dir(d.tf_dir())
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["app"].clone()
    };
    let (a, b) = (&d.pairs[0].a, &d.pairs[0].b);
    d.ok(&["init", "--yes"]).await;
    let home = active().await;
    assert_eq!(home["side"], "primary", "{home}");
    assert_eq!(home["file_system_id"], a.as_str());
    assert_eq!(home["region"], crate::dr::A_REGION);
    assert_eq!(
        home["dns_name"],
        format!("{a}.efs.{}.amazonaws.com", crate::dr::A_REGION)
    );
    d.ok(&["failover", "--yes"]).await;
    let over = active().await;
    assert_eq!(over["side"], "secondary", "{over}");
    assert_eq!(over["file_system_id"], b.as_str());
    assert_eq!(
        over["dns_name"],
        format!("{b}.efs.{}.amazonaws.com", crate::dr::B_REGION)
    );
    d.ok(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(active().await["side"], "primary");
}
