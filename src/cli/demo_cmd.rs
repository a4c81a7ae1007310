//! `efs-dr demo`: the main job end to end on the embedded default. An in-process simulator, a
//! pair with data, real Terraform with the stand-in provider, and status -> failover -> writes
//! on B -> failback -> status; then the checks that no data was lost and no id changed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;

use super::confirm::Terminal;
use super::dr_cmd::{context, display, execute, Overrides};
use super::output::{human, out, say};
use super::{status_cmd, OutputFormat};
use efs_dr::aws::{Aws, ClientOptions};
use efs_dr::dr::phase::RunFlags;
use efs_dr::dr::planner::Operation;
use efs_dr::dr::run::{Context, Request};
use efs_dr::dr::DrError;
use efs_dr_ids::Region;
use efs_dr_sim::{ControlClient, SimOptions, Simulator};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Simulated seconds per real second (AWS's 8-minute deletion takes 0.8 s at 600).
    #[arg(long, default_value_t = 600.0)]
    pub time_scale: f64,
    /// Where the demo's config, Terraform root and reports go (default: a new temporary folder,
    /// kept afterwards).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const PRIMARY: &str = "us-east-1";
const SECONDARY: &str = "us-west-2";

fn err(what: &str) -> impl Fn(String) -> DrError + '_ {
    move |e| DrError::Failed(format!("demo: {what}: {e}"))
}

pub(super) async fn create_file_system(
    aws: &Aws,
    region: &str,
    token: &str,
) -> Result<String, DrError> {
    let clients = aws.region(&Region::parse(region).map_err(err("region"))?);
    let id = clients
        .efs
        .create_file_system()
        .creation_token(token)
        .tags(
            aws_sdk_efs::types::Tag::builder()
                .key("Name")
                .value(format!("efs-dr demo {region}"))
                .build()
                .map_err(|e| err("tag")(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| {
            err("CreateFileSystem")(aws_sdk_efs::error::DisplayErrorContext(e).to_string())
        })?
        .file_system_id
        .clone();
    // Gate on AWS, not on a sleep: available when DescribeFileSystems says so.
    loop {
        let all = clients
            .file_systems()
            .await
            .map_err(|e| err("DescribeFileSystems")(e.to_string()))?;
        if all
            .get(&efs_dr_ids::FileSystemId::from_aws(&id))
            .is_some_and(|f| f.life_cycle_state == efs_dr::aws::LifeCycleState::Available)
        {
            return Ok(id);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn config_text(a: &str, b: &str) -> String {
    format!(
        r#"# Written by `efs-dr demo`: one pair on the simulator.
terraform {{
  dir    = "terraform"
  binary = "terraform"
}}

pair "demo" {{
  primary {{
    region         = "{PRIMARY}"
    file_system_id = "{a}"
  }}
  secondary {{
    region         = "{SECONDARY}"
    file_system_id = "{b}"
  }}
}}

# All four are AWS time, as in every configuration (README, "Clocks"): the simulator runs
# faster than the wall clock, and a gate polls every poll_interval of its time.
gates {{
  poll_interval       = "50ms"
  replication_timeout = "2h"
  max_lag             = "15m"
  quiesce_window      = "2m"
}}
"#
    )
}

pub(super) async fn step(
    ctx: &Context,
    op: Operation,
    flags: RunFlags,
    output: OutputFormat,
    reports: &mut Vec<PathBuf>,
    report_dir: &Path,
) -> Result<(), DrError> {
    let req = Request {
        audit: None,
        op,
        pairs: ctx.config.pairs.clone(),
        flags,
        dry_run: false,
        scope: Default::default(),
        operation_started: None,
    };
    let confirm = Terminal { assume_yes: true };
    let mut display = display(output);
    let (finished, report) = execute(ctx, req, &confirm, display.as_mut(), report_dir).await;
    reports.extend(report);
    finished.result.map(|_| ())
}

async fn status(ctx: &Context, output: OutputFormat, title: &str) -> Result<(), DrError> {
    if output == OutputFormat::Human {
        say!("\n== status {title}");
    }
    let s =
        efs_dr::dr::status::collect(&ctx.config, &ctx.aws, Some(&ctx.tf), &ctx.config.pairs).await;
    if output == OutputFormat::Human {
        status_cmd::print(&s, &Ok(None), &[], output);
    }
    Ok(())
}

fn banner(output: OutputFormat, text: &str) {
    if output == OutputFormat::Human {
        say!("\n== {text}");
    }
}

pub async fn run(args: DemoArgs, output: OutputFormat) -> Result<(), DrError> {
    let started = Instant::now();
    let sim = Simulator::start(SimOptions {
        time_scale: args.time_scale,
        ..SimOptions::default()
    })
    .await
    .map_err(|e| err("simulator")(e.to_string()))?;
    let url = sim.endpoint_url();
    let control = ControlClient::new(&url);
    let dir = match args.dir {
        Some(d) => {
            std::fs::create_dir_all(&d).map_err(|e| err("folder")(e.to_string()))?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("efs-dr-demo-")
            .tempdir()
            .map_err(|e| err("folder")(e.to_string()))?
            .keep(),
    };
    banner(
        output,
        &format!(
            "simulator at {url} (time x{}), files in {}",
            args.time_scale,
            dir.display()
        ),
    );

    let client = ClientOptions {
        endpoint_url: Some(url.clone()),
        static_credentials: true,
        max_attempts: 4,
    };
    let aws = Aws::connect(
        [
            Region::parse(PRIMARY).expect("valid"),
            Region::parse(SECONDARY).expect("valid"),
        ],
        &client,
    )
    .await;
    let a = create_file_system(&aws, PRIMARY, "efs-dr-demo-a").await?;
    let b = create_file_system(&aws, SECONDARY, "efs-dr-demo-b").await?;
    banner(
        output,
        &format!("pair \"demo\": A = {a} ({PRIMARY}), B = {b} ({SECONDARY})"),
    );
    for i in 1..=5 {
        control
            .write_file(
                &a,
                &format!("app/data-{i}.txt"),
                format!("written on A #{i}\n").as_bytes(),
            )
            .await
            .map_err(|e| err("write on A")(e.to_string()))?;
    }
    let config_path = dir.join("efs-dr.hcl");
    std::fs::write(&config_path, config_text(&a, &b)).map_err(|e| err("config")(e.to_string()))?;

    let creds: [(&str, &str); 7] = [
        ("AWS_ENDPOINT_URL", &url),
        ("AWS_ACCESS_KEY_ID", "efs-dr-demo"),
        ("AWS_SECRET_ACCESS_KEY", "efs-dr-demo"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ("TF_DISABLE_PLUGIN_TLS", "1"),
    ];
    let mut terraform_env: Vec<(OsString, OsString)> =
        creds.iter().map(|(k, v)| (k.into(), v.into())).collect();
    if std::env::var_os("EFS_DR_PROVIDER_MAX_POLL").is_none() {
        terraform_env.push(("EFS_DR_PROVIDER_MAX_POLL".into(), "100ms".into()));
    }
    let overrides = Overrides {
        client,
        terraform_env,
    };
    let ctx = context(&config_path, &overrides).await.map_err(|e| {
        DrError::Failed(format!("{}\n  hint: `make demo` installs Terraform and the stand-in provider and sets TF_CLI_CONFIG_FILE", e.message()))
    })?;
    let report_dir = dir.join("reports");
    let mut reports = Vec::new();

    banner(
        output,
        "init: bring the pair under Terraform (A -> B into the existing B)",
    );
    step(
        &ctx,
        Operation::Init,
        RunFlags::default(),
        output,
        &mut reports,
        &report_dir,
    )
    .await?;
    status(&ctx, output, "after init").await?;

    banner(output, "failover (planned, writes on A stopped)");
    let writes_stopped = RunFlags {
        writes_stopped: true,
        ..RunFlags::default()
    };
    step(
        &ctx,
        Operation::Failover { unplanned: false },
        writes_stopped,
        output,
        &mut reports,
        &report_dir,
    )
    .await?;
    status(&ctx, output, "after failover").await?;

    banner(output, "the application writes on B while A is away");
    for i in 1..=3 {
        control
            .write_file(
                &b,
                &format!("app/written-on-b-{i}.txt"),
                format!("written on B #{i}\n").as_bytes(),
            )
            .await
            .map_err(|e| err("write on B")(e.to_string()))?;
    }
    control
        .write_file(&b, "app/data-1.txt", b"changed on B\n")
        .await
        .map_err(|e| err("write on B")(e.to_string()))?;

    banner(output, "failback (the application on B stopped)");
    step(
        &ctx,
        Operation::Failback,
        writes_stopped,
        output,
        &mut reports,
        &report_dir,
    )
    .await?;
    status(&ctx, output, "after failback").await?;

    // The checks: nothing lost, nothing renamed.
    let on_a = control
        .digest(&a)
        .await
        .map_err(|e| err("list A")(e.to_string()))?;
    let on_b = control
        .digest(&b)
        .await
        .map_err(|e| err("list B")(e.to_string()))?;
    let mut problems = Vec::new();
    if on_a != on_b {
        problems.push(format!(
            "A and B differ: A has {} files, B has {}",
            on_a.len(),
            on_b.len()
        ));
    }
    let expected: Vec<String> = (1..=5)
        .map(|i| format!("app/data-{i}.txt"))
        .chain((1..=3).map(|i| format!("app/written-on-b-{i}.txt")))
        .collect();
    for f in &expected {
        if !on_a.contains_key(f) {
            problems.push(format!("{f} is missing on A"));
        }
    }
    let changed = control
        .read_file(&a, "app/data-1.txt")
        .await
        .unwrap_or_default();
    if changed != b"changed on B\n" {
        problems.push("the change made on B to app/data-1.txt is not on A".into());
    }
    let mut ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for region in [PRIMARY, SECONDARY] {
        let all = aws
            .region(&Region::parse(region).expect("valid"))
            .file_systems()
            .await
            .map_err(|e| err("DescribeFileSystems")(e.to_string()))?;
        ids.insert(region, all.keys().map(|k| k.to_string()).collect());
    }
    if ids[PRIMARY] != vec![a.clone()] || ids[SECONDARY] != vec![b.clone()] {
        problems.push(format!("file-system ids changed: {ids:?}"));
    }
    let wall = started.elapsed();
    sim.shutdown().await;

    if output == OutputFormat::Human {
        if let Some(last) = reports.last() {
            if let Ok(md) = std::fs::read_to_string(last) {
                human!("\n== the failback report ({})\n\n{md}", last.display());
            }
        }
        for r in &reports {
            human!("report: {}", r.display());
        }
    }
    let verdict = serde_json::json!({
        "ok": problems.is_empty(),
        "files_on_a": on_a.len(),
        "files_on_b": on_b.len(),
        "file_system_ids": { "a": a, "b": b },
        "problems": problems,
        "reports": reports,
        "wall_seconds": wall.as_secs_f64(),
        "dir": dir,
    });
    if output == OutputFormat::Json {
        out!("{verdict}");
    }
    if !problems.is_empty() {
        return Err(DrError::Failed(format!("demo: {}", problems.join("; "))));
    }
    if output == OutputFormat::Human {
        human!(
            "\ndemo passed in {:.1}s: {} files on A == B (5 written on A, 3 added and 1 changed on B during the failover), ids unchanged ({a}, {b})",
            wall.as_secs_f64(),
            on_a.len()
        );
    }
    Ok(())
}
