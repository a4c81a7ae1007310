//! `efs-dr init | failover | failback | plan`: build the run's context from the config, run the
//! orchestrator with the terminal's confirmations and a display, write the report, and turn the
//! end into an exit.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::confirm::Terminal;
use super::display::{Human, JsonLines};
use super::output::{human, out};
use super::OutputFormat;
use efs_dr::aws::{Aws, ClientOptions};
use efs_dr::config::{Config, Pair};
use efs_dr::dr::confirm::{Confirm, Never};
use efs_dr::dr::context::Context;
use efs_dr::dr::decide::PlannedPhase;
use efs_dr::dr::events::{Event, EventKind, EventSink};
use efs_dr::dr::phase::RunFlags;
use efs_dr::dr::planner::Operation;
use efs_dr::dr::report::Report;
use efs_dr::dr::run::{self, Ended, Finished, Request};
use efs_dr::dr::DrError;
use efs_dr::lease::{Claim, Holder, Lease, LeaseError};
use efs_dr::terraform::Terraform;

#[derive(Debug, Clone, Args)]
pub struct PairArgs {
    /// A pair to act on (repeat for several). None: every pair in the config.
    #[arg(long = "pair", value_name = "NAME")]
    pub pairs: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LeaseArgs {
    /// Take over the run lease of a run that died: allowed only once its last heartbeat is
    /// older than the config's lease.stale_after (recorded in the report).
    #[arg(long, env = "EFS_DR_TAKE_OVER")]
    pub take_over: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Where the run report (Markdown and JSON) is written. Default: efs-dr-reports/ beside the
    /// config file.
    #[arg(long, value_name = "DIR", env = "EFS_DR_REPORT_DIR")]
    pub report_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
    /// Do not ask for confirmation (B's content is replaced by A's for a pair with no
    /// replication).
    #[arg(long, env = "EFS_DR_YES")]
    pub yes: bool,
    #[command(flatten)]
    pub lease: LeaseArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
    /// A's region is down: delete the replication from B's region through the SDK.
    #[arg(long)]
    pub unplanned: bool,
    /// Do not ask for confirmation.
    #[arg(long, env = "EFS_DR_YES")]
    pub yes: bool,
    /// Show the phases that would run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Writes on A have stopped: also wait until the last sync is later than the last write.
    #[arg(long, env = "EFS_DR_WRITES_STOPPED")]
    pub writes_stopped: bool,
    /// Fail over even when the last sync is older than max_lag or the replication is in ERROR.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub lease: LeaseArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct FailbackArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
    /// Do not ask for confirmation.
    #[arg(long, env = "EFS_DR_YES")]
    pub yes: bool,
    /// Show the phases that would run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The application on B is stopped (the quiesce gate still verifies it).
    #[arg(long, env = "EFS_DR_WRITES_STOPPED")]
    pub writes_stopped: bool,
    /// A has writes B does not (or nobody can tell) and no backup block keeps them: destroy
    /// them anyway. Recorded in the report.
    #[arg(long, env = "EFS_DR_DISCARD_WRITES_ON_A")]
    pub discard_writes_on_a: bool,
    #[command(flatten)]
    pub lease: LeaseArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// The phases a failover would run now.
    Failover {
        /// A's region is down: the phases of an unplanned failover (B's deletion from B's
        /// region, then forgetting A -> B in the state).
        #[arg(long)]
        unplanned: bool,
        #[command(flatten)]
        pairs: PairArgs,
        /// Exit 0 when nothing is left to do, 2 when phases are pending, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// The phases a failback would run now.
    Failback {
        #[command(flatten)]
        pairs: PairArgs,
        /// Exit 0 when nothing is left to do, 2 when phases are pending, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
}

/// Extra settings for runs the demo starts in-process.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub client: ClientOptions,
    pub terraform_env: Vec<(OsString, OsString)>,
}

/// The config and AWS clients for every region of its pairs.
pub async fn connect(config_path: &Path, overrides: &Overrides) -> Result<(Config, Aws), DrError> {
    let config = Config::load(config_path)?;
    let regions = config
        .pairs
        .iter()
        .flat_map(|p| [p.primary.region.clone(), p.secondary.region.clone()]);
    let mut client = overrides.client.clone();
    if client.max_attempts == 0 {
        client.max_attempts = 6;
    }
    let aws = Aws::connect(regions, &client).await;
    Ok((config, aws))
}

/// The checked Terraform binary, to run in the config's Terraform directory.
pub async fn terraform(config: &Config, overrides: &Overrides) -> Result<Terraform, DrError> {
    let dir = config.terraform_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        DrError::Failed(format!(
            "cannot create the Terraform directory {}: {e}",
            dir.display()
        ))
    })?;
    Terraform::new(
        &config.terraform.binary,
        &dir,
        config.terraform.lock_timeout,
        overrides.terraform_env.clone(),
    )
    .await
    .map(|mut tf| {
        tf.parallelism = config.terraform.parallelism_for(config.pairs.len());
        tf
    })
    .map_err(DrError::from)
}

/// Builds the context: config, AWS clients for every region, the checked Terraform binary.
pub async fn context(config_path: &Path, overrides: &Overrides) -> Result<Context, DrError> {
    let (config, aws) = connect(config_path, overrides).await?;
    let tf = terraform(&config, overrides).await?;
    Ok(Context {
        config,
        aws,
        tf,
        lease: Default::default(),
        progress_every: super::output::progress_every(),
    })
}

/// Takes the run lease for `command` on `pairs` (one run at a time, from any machine).
pub async fn take_lease(
    config: &Config,
    command: &str,
    op: Operation,
    pairs: &[Pair],
    lease: &LeaseArgs,
) -> Result<Lease, DrError> {
    let names: Vec<String> = pairs.iter().map(|p| p.name.clone()).collect();
    Lease::acquire(
        config,
        Claim {
            holder: Holder::this_run(command, op.name(), &names),
            take_over: lease.take_over,
        },
    )
    .await
    .map_err(DrError::from)
}

/// Where reports go: `--report-dir`, or efs-dr-reports/ beside the config file.
pub fn report_dir(config: &Config, arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| {
        config
            .file
            .parent()
            .unwrap_or(Path::new("."))
            .join("efs-dr-reports")
    })
}

pub fn selected(config: &Config, args: &PairArgs) -> Result<Vec<Pair>, DrError> {
    config
        .select_pairs(&args.pairs)
        .map(|v| v.into_iter().cloned().collect())
        .map_err(|e| DrError::Failed(e.to_string()))
}

/// The display for `output`.
pub fn display(output: OutputFormat) -> Box<dyn EventSink> {
    match output {
        OutputFormat::Json => Box::new(JsonLines),
        OutputFormat::Human => Box::new(Human::new()),
    }
}

/// Runs one operation and writes its report (not for a dry run); the report's path is the
/// display's last event.
pub async fn execute(
    ctx: &Context,
    req: Request,
    confirm: &dyn Confirm,
    display: &mut dyn EventSink,
    report_dir: &Path,
) -> (Finished, Option<PathBuf>) {
    let finished = run::run(ctx, &req, confirm, display).await;
    if req.dry_run {
        return (finished, None);
    }
    let report = Report::from_events(&finished.events).write(report_dir);
    match report {
        Ok(path) => {
            let written = Event {
                at: std::time::SystemTime::now(),
                elapsed_ms: finished.events.last().map_or(0, |e| e.elapsed_ms),
                aws_time: None,
                pair: None,
                step: None,
                kind: EventKind::ReportWritten {
                    report: path.display().to_string(),
                },
            };
            display.emit(&written);
            (finished, Some(path))
        }
        Err(e) => {
            tracing::error!("the report was not written: {e}");
            (finished, None)
        }
    }
}

/// What one command asks the orchestrator for.
struct Invocation<'a> {
    config: &'a Path,
    yes: bool,
    report_dir: Option<PathBuf>,
    pairs: &'a PairArgs,
    op: Operation,
    flags: RunFlags,
    dry_run: bool,
    lease: Option<&'a LeaseArgs>,
}

/// Builds the context, runs the operation, prints the plan of a dry run, returns its end.
async fn invoke(inv: Invocation<'_>, output: OutputFormat) -> Result<Ended, DrError> {
    let mut ctx = context(inv.config, &Overrides::default()).await?;
    ctx.tf.interrupt = super::signals::listen();
    if inv.op == Operation::Init {
        for w in ctx.config.warnings() {
            tracing::warn!("{w}");
        }
    }
    let req = Request {
        audit: Some(efs_dr::dr::audit::gather(&ctx, std::env::args().skip(1).collect()).await),
        op: inv.op,
        pairs: selected(&ctx.config, inv.pairs)?,
        flags: inv.flags,
        dry_run: inv.dry_run,
        scope: Default::default(),
        operation_started: None,
    };
    if let (false, Some(lease)) = (inv.dry_run, inv.lease) {
        let command = format!("efs-dr {}", inv.op.name());
        ctx.lease = match take_lease(&ctx.config, &command, inv.op, &req.pairs, lease).await {
            Ok(lease) => lease,
            // B's deletions need neither the state nor the lease: an unplanned failover makes
            // B writable first, and stops (exit 4) where the state must be written.
            Err(DrError::Lease(LeaseError::Unreachable(why)))
                if inv.op == (Operation::Failover { unplanned: true }) =>
            {
                tracing::warn!("{why}. The unplanned failover makes B writable without the run lease, then stops before the Terraform state is changed");
                Lease::unreachable("the run lease".into(), why)
            }
            Err(e) => return Err(e),
        };
    }
    let dir = report_dir(&ctx.config, inv.report_dir);
    // A dry run prints one plan document at its end; its progress stays on stderr.
    let mut display = display(if inv.dry_run {
        OutputFormat::Human
    } else {
        output
    });
    let confirm: Box<dyn Confirm> = if inv.dry_run {
        Box::new(Never)
    } else {
        Box::new(Terminal {
            assume_yes: inv.yes,
        })
    };
    let (finished, _) = execute(&ctx, req, confirm.as_ref(), display.as_mut(), &dir).await;
    std::mem::take(&mut ctx.lease).release().await;
    if inv.dry_run {
        print_plan(&finished, output);
    }
    // The last lines of a run that stopped: the command that continues it, after the error.
    let next = finished
        .events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::Finished { next, .. } => Some(next.clone()),
            _ => None,
        })
        .unwrap_or_default();
    finished.result.map_err(|e| e.with_next(next))
}

pub async fn init(args: InitArgs, config: &Path, output: OutputFormat) -> Result<(), DrError> {
    let inv = Invocation {
        config,
        yes: args.yes,
        report_dir: args.report.report_dir,
        pairs: &args.pairs,
        op: Operation::Init,
        flags: RunFlags::default(),
        dry_run: false,
        lease: Some(&args.lease),
    };
    invoke(inv, output).await.map(|_| ())
}

pub async fn failover(
    args: FailoverArgs,
    config: &Path,
    output: OutputFormat,
) -> Result<(), DrError> {
    let inv = Invocation {
        config,
        yes: args.yes,
        report_dir: args.report.report_dir,
        pairs: &args.pairs,
        op: Operation::Failover {
            unplanned: args.unplanned,
        },
        flags: RunFlags {
            force: args.force,
            writes_stopped: args.writes_stopped,
            ..RunFlags::default()
        },
        dry_run: args.dry_run,
        lease: Some(&args.lease),
    };
    invoke(inv, output).await.map(|_| ())
}

pub async fn failback(
    args: FailbackArgs,
    config: &Path,
    output: OutputFormat,
) -> Result<(), DrError> {
    let inv = Invocation {
        config,
        yes: args.yes,
        report_dir: args.report.report_dir,
        pairs: &args.pairs,
        op: Operation::Failback,
        flags: RunFlags {
            writes_stopped: args.writes_stopped,
            discard_writes_on_a: args.discard_writes_on_a,
            ..RunFlags::default()
        },
        dry_run: args.dry_run,
        lease: Some(&args.lease),
    };
    invoke(inv, output).await.map(|_| ())
}

/// `efs-dr plan`: the phases and their actions from the current live state; no change made.
pub async fn plan(cmd: PlanCommand, config: &Path, output: OutputFormat) -> Result<(), DrError> {
    let (op, pairs, detailed) = match &cmd {
        PlanCommand::Failover {
            unplanned,
            pairs,
            detailed_exitcode,
        } => (
            Operation::Failover {
                unplanned: *unplanned,
            },
            pairs,
            *detailed_exitcode,
        ),
        PlanCommand::Failback {
            pairs,
            detailed_exitcode,
        } => (Operation::Failback, pairs, *detailed_exitcode),
    };
    let inv = Invocation {
        config,
        yes: false,
        report_dir: None,
        pairs,
        op,
        flags: RunFlags::default(),
        dry_run: true,
        lease: None,
    };
    match invoke(inv, output).await? {
        // --detailed-exitcode: phases pending exit 2, as `terraform plan`.
        end @ Ended::DryRun { .. } if detailed => return Err(DrError::Pending(end.message())),
        _ => {}
    }
    Ok(())
}

/// Each pair's decision, as the run's events carry it.
fn decisions(events: &[Event]) -> Vec<(String, String, Vec<PlannedPhase>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PairPlanned { found, phases, .. } => Some((
                e.pair.clone().unwrap_or_default(),
                found.clone(),
                phases.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn print_plan(finished: &Finished, output: OutputFormat) {
    let decisions = decisions(&finished.events);
    match output {
        OutputFormat::Json => {
            let writes_on_a = |name: &str| {
                finished.events.iter().find_map(|e| match &e.kind {
                    EventKind::WritesOnA { assessment, .. } if e.pair.as_deref() == Some(name) => {
                        serde_json::to_value(assessment).ok()
                    }
                    _ => None,
                })
            };
            let doc = serde_json::json!({
                "pairs": decisions.iter().map(|(pair, found, phases)| serde_json::json!({
                    "pair": pair,
                    "found": found,
                    "writes_only_on_a": writes_on_a(pair),
                    "phases": phases,
                })).collect::<Vec<_>>(),
                "result": match &finished.result { Ok(end) => end.message(), Err(e) => e.message().to_string() },
            });
            out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        OutputFormat::Human => {
            let mut n = 0;
            for (pair, _, phases) in &decisions {
                for phase in phases {
                    n += 1;
                    human!("{n}. [{pair}] {}", phase.title);
                    for action in &phase.actions {
                        human!("     {}", action.describe());
                    }
                }
            }
        }
    }
}
