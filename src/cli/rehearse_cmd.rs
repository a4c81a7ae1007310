//! `efs-dr rehearse`: the operator's own runbook (their `efs-dr.hcl`: pairs, regions, gates,
//! backup, alarms) played end to end against an in-process simulator that mirrors those pairs,
//! with real Terraform on a copy of the root, without touching AWS. It ends with each phase's
//! time in AWS time, on AWS's usual durations (stated).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::demo_cmd::{create_file_system, step};
use super::dr_cmd::{terraform, Overrides};
use super::output::{human, out};
use super::OutputFormat;
use efs_dr::aws::{Aws, ClientOptions};
use efs_dr::config::Config;
use efs_dr::dr::phase::RunFlags;
use efs_dr::dr::planner::Operation;
use efs_dr::dr::run::Context;
use efs_dr::dr::DrError;
use efs_dr::terraform::LocalWork;
use efs_dr_ids::{FileSystemId, Region};
use efs_dr_sim::{ControlClient, SimOptions, SimSettings, Simulator};

/// How much of the runbook to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Runbook {
    /// init, then the failover.
    Failover,
    /// init, the failover (to get there), then the failback.
    Failback,
    /// init, the failover and the failback.
    All,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// What to rehearse.
    #[arg(value_enum, default_value_t = Runbook::All)]
    pub runbook: Runbook,
    /// Rehearse the unplanned failover: every primary region is down while it runs.
    #[arg(long)]
    pub unplanned: bool,
    /// Simulated seconds per real second (AWS's 15-minute creation takes 15 s at 60). The
    /// simulator's clock stands still while Terraform plans or changes the state locally, but
    /// runs through an apply and efs-dr's own work, whose wall seconds count this many AWS
    /// seconds: a lower scale gives truer phase times.
    #[arg(long, default_value_t = 60.0)]
    pub time_scale: f64,
    /// Where the rehearsal's Terraform root, state and reports go (default: a new temporary
    /// folder, kept afterwards).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

fn err(what: &str) -> impl Fn(String) -> DrError + '_ {
    move |e| DrError::Failed(format!("rehearse: {what}: {e}"))
}

/// Every AWS endpoint variable the SDKs and the provider read: all of them point at the
/// simulator while the rehearsal runs, so that nothing it starts can reach AWS.
const ENDPOINT_VARIABLES: [&str; 7] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EFS",
    "AWS_ENDPOINT_URL_CLOUDWATCH",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_BACKUP",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_IAM",
];

/// The user's configuration, mirrored onto the simulator: the same pairs, regions, gates,
/// backup, alarms and hooks (run in the configuration's folder, as always); the simulator's
/// file-system ids; a local state in `dir` (the user's backend and module source are theirs,
/// not the rehearsal's).
fn mirrored(config: &Config, dir: &Path, ids: &BTreeMap<String, (String, String)>) -> Config {
    let mut c = config.clone();
    c.terraform.dir = dir.join("terraform");
    c.terraform.backend = None;
    c.terraform.s3_backend = None;
    c.terraform.module_source = None;
    for p in &mut c.pairs {
        if let Some((a, b)) = ids.get(&p.name) {
            p.primary.file_system_id = FileSystemId::from_aws(a);
            p.secondary.file_system_id = FileSystemId::from_aws(b);
        }
    }
    c
}

/// The usual durations the simulator plays, as the output states them.
fn usual_durations(s: &SimSettings) -> String {
    let m = |d: std::time::Duration| humantime::format_duration(d).to_string();
    format!(
        "AWS's usual durations, as played: a replication reaches ENABLED in {}, is deleted in {}, syncs every {}; a backup job runs {} (AWS documents none of them: practitioners' reports)",
        m(s.replication_enable_delay),
        m(s.replication_delete_delay),
        m(s.sync_interval),
        m(s.backup_run_time)
    )
}

/// One phase as rehearsed: the longest over the pairs.
#[derive(Debug, Clone, serde::Serialize)]
struct PhaseTime {
    title: String,
    /// On the simulator's clock: AWS's usual waits, plus an apply's and efs-dr's own local work
    /// at the time scale (Terraform's other commands stop the clock).
    aws_seconds: f64,
    /// On this machine's clock.
    wall_seconds: f64,
}

/// Each phase's times in a report, the longest over the pairs.
fn phase_times(report: &Path) -> Vec<PhaseTime> {
    let Ok(text) = std::fs::read_to_string(report.with_extension("json")) else {
        return Vec::new();
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let mut out: Vec<PhaseTime> = Vec::new();
    let time = |v: &serde_json::Value| v.as_str().and_then(|s| humantime::parse_rfc3339(s).ok());
    for pair in doc["pairs"].as_array().into_iter().flatten() {
        for phase in pair["phases"].as_array().into_iter().flatten() {
            let title = phase["title"].as_str().unwrap_or_default().to_string();
            let seconds = match (time(&phase["aws_started"]), time(&phase["aws_ended"])) {
                (Some(a), Some(b)) => b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0),
                _ => 0.0,
            };
            let wall = match (phase["started_s"].as_f64(), phase["ended_s"].as_f64()) {
                (Some(a), Some(b)) => b - a,
                _ => 0.0,
            };
            match out.iter_mut().find(|p| p.title == title) {
                Some(p) => {
                    p.aws_seconds = p.aws_seconds.max(seconds);
                    p.wall_seconds = p.wall_seconds.max(wall);
                }
                None => out.push(PhaseTime {
                    title,
                    aws_seconds: seconds,
                    wall_seconds: wall,
                }),
            }
        }
    }
    out
}

pub async fn run(
    args: RehearseArgs,
    config_path: &Path,
    output: OutputFormat,
) -> Result<(), DrError> {
    let config = Config::load(config_path)?;
    let settings = SimSettings::default();
    let sim = Simulator::start(SimOptions {
        time_scale: args.time_scale,
        seed: Some(1),
        settings: settings.clone(),
        ..SimOptions::default()
    })
    .await
    .map_err(|e| err("simulator")(e.to_string()))?;
    let url = sim.endpoint_url();
    // Terraform's local work (everything but an apply, whose provider waits on AWS) stops the
    // simulator's clock: it is not AWS's time.
    let state = sim.state().clone();
    let local_work = LocalWork(std::sync::Arc::new(move |working| match working {
        true => state.clock.stop(),
        false => state.clock.restart(),
    }));
    let result = rehearse(&args, &config, &url, local_work, output).await;
    sim.shutdown().await;
    let (dir, played) = result?;
    let usual = usual_durations(&settings);
    if output == OutputFormat::Human {
        human!(
            "\n== the rehearsal of {} ({} pairs), in AWS time",
            config.file.display(),
            config.pairs.len()
        );
        for (operation, report, times) in &played {
            human!("{operation}  (report: {})", report.display());
            for p in times {
                human!(
                    "  {:>9}  {}  ({:.1}s here)",
                    humantime::format_duration(std::time::Duration::from_secs(
                        p.aws_seconds.round() as u64
                    ))
                    .to_string(),
                    p.title,
                    p.wall_seconds
                );
            }
        }
        human!("{usual}");
        human!(
            "the simulator ran at x{}; its clock stood still while Terraform planned, read or changed the state here, but runs through an apply (the provider waits on AWS there) and through efs-dr's own work: each such second here counts {} AWS seconds, so a phase's AWS time is its usual waits plus at most that",
            args.time_scale, args.time_scale
        );
        human!(
            "nothing touched AWS; the rehearsal's root, state and reports are in {}",
            dir.display()
        );
    } else {
        let operations: Vec<serde_json::Value> = played
            .iter()
            .map(|(operation, report, times)| {
                serde_json::json!({
                    "operation": operation,
                    "report": report,
                    "phases": times,
                })
            })
            .collect();
        out!(
            "{}",
            serde_json::json!({
                "ok": true,
                "config": config.file,
                "pairs": config.pairs.len(),
                "operations": operations,
                "usual_durations": usual,
                "time_scale": args.time_scale,
                "dir": dir,
            })
        );
    }
    Ok(())
}

type Played = Vec<(String, PathBuf, Vec<PhaseTime>)>;

async fn rehearse(
    args: &RehearseArgs,
    config: &Config,
    url: &str,
    local_work: LocalWork,
    output: OutputFormat,
) -> Result<(PathBuf, Played), DrError> {
    let control = ControlClient::new(url);
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| err("folder")(e.to_string()))?;
            std::fs::canonicalize(d).map_err(|e| err("folder")(e.to_string()))?
        }
        None => tempfile::Builder::new()
            .prefix("efs-dr-rehearse-")
            .tempdir()
            .map_err(|e| err("folder")(e.to_string()))?
            .keep(),
    };
    let client = ClientOptions {
        endpoint_url: Some(url.to_string()),
        static_credentials: true,
        max_attempts: 4,
    };
    let regions: Vec<Region> = config
        .pairs
        .iter()
        .flat_map(|p| [p.primary.region.clone(), p.secondary.region.clone()])
        .collect();
    let aws = Aws::connect(regions, &client).await;

    // The pairs, mirrored: a file system on each side, a few files on A, the backup vaults.
    let mut ids = BTreeMap::new();
    for p in &config.pairs {
        let a = create_file_system(
            &aws,
            p.primary.region.as_str(),
            &format!("rehearse-{}-a", p.name),
        )
        .await?;
        let b = create_file_system(
            &aws,
            p.secondary.region.as_str(),
            &format!("rehearse-{}-b", p.name),
        )
        .await?;
        for i in 1..=3 {
            control
                .write_file(
                    &a,
                    &format!("rehearsal/{i}.txt"),
                    format!("{} on A #{i}\n", p.name).as_bytes(),
                )
                .await
                .map_err(|e| err("write on A")(e.to_string()))?;
        }
        if let Some(backup) = &p.backup {
            let vault = aws
                .region(&p.primary.region)
                .backup
                .create_backup_vault()
                .backup_vault_name(&backup.vault)
                .send()
                .await;
            if let Err(e) = vault {
                let text = aws_sdk_backup::error::DisplayErrorContext(e).to_string();
                if !text.contains("AlreadyExists") {
                    return Err(err("CreateBackupVault")(text));
                }
            }
        }
        ids.insert(p.name.clone(), (a, b));
    }
    let mirror = mirrored(config, &dir, &ids);

    let mut terraform_env: Vec<(OsString, OsString)> = ENDPOINT_VARIABLES
        .iter()
        .map(|k| (OsString::from(k), OsString::from(url)))
        .collect();
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "efs-dr-rehearsal"),
        ("AWS_SECRET_ACCESS_KEY", "efs-dr-rehearsal"),
        ("AWS_SESSION_TOKEN", ""),
        ("AWS_PROFILE", ""),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ("TF_DISABLE_PLUGIN_TLS", "1"),
        ("EFS_DR_REHEARSAL", "1"),
    ] {
        terraform_env.push((k.into(), v.into()));
    }
    if std::env::var_os("EFS_DR_PROVIDER_MAX_POLL").is_none() {
        terraform_env.push(("EFS_DR_PROVIDER_MAX_POLL".into(), "100ms".into()));
    }
    let overrides = Overrides {
        client,
        terraform_env,
    };
    let mut tf = terraform(&mirror, &overrides).await?;
    tf.local_work = Some(local_work);
    let ctx = Context {
        aws,
        tf,
        config: mirror,
        lease: Default::default(),
        progress_every: super::output::progress_every(),
    };
    let report_dir = dir.join("reports");
    let mut played = Vec::new();
    let writes_stopped = RunFlags {
        writes_stopped: true,
        ..RunFlags::default()
    };
    let mut play = |label: &str, reports: Vec<PathBuf>| {
        if let Some(r) = reports.last() {
            played.push((label.to_string(), r.clone(), phase_times(r)));
        }
    };

    let mut reports = Vec::new();
    step(
        &ctx,
        Operation::Init,
        RunFlags::default(),
        output,
        &mut reports,
        &report_dir,
    )
    .await?;
    play("init", std::mem::take(&mut reports));

    let primaries: std::collections::BTreeSet<&str> = config
        .pairs
        .iter()
        .map(|p| p.primary.region.as_str())
        .collect();
    if args.unplanned {
        for r in &primaries {
            control
                .set_outage(r, true)
                .await
                .map_err(|e| err("outage")(e.to_string()))?;
        }
    }
    let failover = Operation::Failover {
        unplanned: args.unplanned,
    };
    step(
        &ctx,
        failover,
        writes_stopped,
        output,
        &mut reports,
        &report_dir,
    )
    .await?;
    play(failover.args(), std::mem::take(&mut reports));
    if args.unplanned {
        for r in &primaries {
            control
                .set_outage(r, false)
                .await
                .map_err(|e| err("outage")(e.to_string()))?;
        }
    }
    if args.runbook == Runbook::Failover {
        return Ok((dir, played));
    }
    for (name, (_, b)) in &ids {
        control
            .write_file(
                b,
                "rehearsal/written-on-b.txt",
                format!("{name} on B\n").as_bytes(),
            )
            .await
            .map_err(|e| err("write on B")(e.to_string()))?;
    }
    step(
        &ctx,
        Operation::Failback,
        writes_stopped,
        output,
        &mut reports,
        &report_dir,
    )
    .await?;
    play("failback", std::mem::take(&mut reports));

    // The runbook kept every write: each A holds what its B held.
    for (name, (a, b)) in &ids {
        let on_a = control
            .digest(a)
            .await
            .map_err(|e| err("list A")(e.to_string()))?;
        let on_b = control
            .digest(b)
            .await
            .map_err(|e| err("list B")(e.to_string()))?;
        if on_a != on_b || !on_a.contains_key("rehearsal/written-on-b.txt") {
            return Err(err("data")(format!(
                "pair {name}: after the failback A has {} files and B {}; the write made on B during the failover is {}on A",
                on_a.len(),
                on_b.len(),
                if on_a.contains_key("rehearsal/written-on-b.txt") { "" } else { "not " }
            )));
        }
    }
    Ok((dir, played))
}
