//! `efs-dr init | failover | failback | plan`: build the run's context from the config, run the
//! orchestrator, and turn its end into an exit code.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{CliError, Exit, OutputFormat};
use crate::aws::{Aws, ClientOptions};
use crate::config::{Config, Pair};
use crate::dr::events::Events;
use crate::dr::phase::RunFlags;
use crate::dr::planner::Operation;
use crate::dr::run::{self, Confirm, Context, Finished, Request, RunError};
use crate::terraform::Terraform;

#[derive(Debug, Clone, Args)]
pub struct PairArgs {
    /// A pair to act on (repeat for several). None: every pair in the config.
    #[arg(long = "pair", value_name = "NAME")]
    pub pairs: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Where the run report (Markdown and JSON) is written. Default: efs-dr-reports/ beside the
    /// config file.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
    /// Do not ask for confirmation (B's content is replaced by A's for a pair with no
    /// replication).
    #[arg(long)]
    pub yes: bool,
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
    #[arg(long)]
    pub yes: bool,
    /// Show the phases that would run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Writes on A have stopped: also wait until the last sync is later than the last write.
    #[arg(long)]
    pub writes_stopped: bool,
    /// Fail over even when the last sync is older than max_lag or the replication is in ERROR.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct FailbackArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Show the phases that would run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The application on B is stopped (the quiesce gate still verifies it).
    #[arg(long)]
    pub writes_stopped: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// The phases a failover would run now.
    Failover {
        #[arg(long)]
        unplanned: bool,
        #[command(flatten)]
        pairs: PairArgs,
    },
    /// The phases a failback would run now.
    Failback {
        #[command(flatten)]
        pairs: PairArgs,
    },
}

/// Extra settings for runs the demo starts in-process.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub client: ClientOptions,
    pub terraform_env: Vec<(OsString, OsString)>,
}

/// The config and AWS clients for every region of its pairs.
pub async fn connect(config_path: &Path, overrides: &Overrides) -> Result<(Config, Aws), CliError> {
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
pub async fn terraform(config: &Config, overrides: &Overrides) -> Result<Terraform, CliError> {
    let dir = config.terraform_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::error(format!(
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
    .map_err(|e| CliError::error(e.to_string()))
}

/// Builds the context: config, AWS clients for every region, the checked Terraform binary.
pub async fn context(
    config_path: &Path,
    confirm: Confirm,
    report_dir: Option<PathBuf>,
    overrides: &Overrides,
) -> Result<Context, CliError> {
    let (config, aws) = connect(config_path, overrides).await?;
    let tf = terraform(&config, overrides).await?;
    let report_dir = report_dir.unwrap_or_else(|| {
        config
            .file
            .parent()
            .unwrap_or(Path::new("."))
            .join("efs-dr-reports")
    });
    Ok(Context {
        config,
        aws,
        tf,
        confirm,
        report_dir,
    })
}

pub fn selected(config: &Config, args: &PairArgs) -> Result<Vec<Pair>, CliError> {
    config
        .select_pairs(&args.pairs)
        .map(|v| v.into_iter().cloned().collect())
        .map_err(CliError::error)
}

fn confirm_mode(yes: bool) -> Confirm {
    if yes {
        Confirm::Yes
    } else {
        Confirm::Ask
    }
}

/// Runs one operation; its end becomes the process's exit.
pub async fn execute(
    ctx: &Context,
    req: Request,
    output: OutputFormat,
) -> Result<Finished, CliError> {
    // A dry run prints one plan document: its progress lines stay on stderr.
    let mut events = Events::new(output == OutputFormat::Json && !req.dry_run);
    let finished = run::run(ctx, &req, &mut events).await;
    Ok(finished)
}

pub fn to_exit(finished: &Finished) -> Result<(), CliError> {
    match &finished.result {
        Ok(_) => Ok(()),
        Err(e) => Err(CliError {
            exit: match e {
                RunError::Error(_) => Exit::Error,
                RunError::Refused(_) => Exit::Refused,
                RunError::GateTimeout(_) => Exit::GateTimeout,
            },
            message: e.message().to_string(),
        }),
    }
}

/// What one command asks the orchestrator for.
struct Invocation<'a> {
    config: &'a Path,
    confirm: Confirm,
    report_dir: Option<PathBuf>,
    pairs: &'a PairArgs,
    op: Operation,
    flags: RunFlags,
    dry_run: bool,
}

/// Builds the context, runs the operation, prints the plan of a dry run, maps the end to an exit.
async fn invoke(inv: Invocation<'_>, output: OutputFormat) -> Result<(), CliError> {
    let ctx = context(
        inv.config,
        inv.confirm,
        inv.report_dir,
        &Overrides::default(),
    )
    .await?;
    let req = Request {
        op: inv.op,
        pairs: selected(&ctx.config, inv.pairs)?,
        flags: inv.flags,
        dry_run: inv.dry_run,
    };
    let finished = execute(&ctx, req, output).await?;
    print_plan(&finished, output, inv.dry_run);
    to_exit(&finished)
}

pub async fn init(args: InitArgs, config: &Path, output: OutputFormat) -> Result<(), CliError> {
    let inv = Invocation {
        config,
        confirm: confirm_mode(args.yes),
        report_dir: args.report.report_dir,
        pairs: &args.pairs,
        op: Operation::Init,
        flags: RunFlags::default(),
        dry_run: false,
    };
    invoke(inv, output).await
}

pub async fn failover(
    args: FailoverArgs,
    config: &Path,
    output: OutputFormat,
) -> Result<(), CliError> {
    let inv = Invocation {
        config,
        confirm: confirm_mode(args.yes),
        report_dir: args.report.report_dir,
        pairs: &args.pairs,
        op: Operation::Failover {
            unplanned: args.unplanned,
        },
        flags: RunFlags {
            unplanned: args.unplanned,
            force: args.force,
            writes_stopped: args.writes_stopped,
            ..RunFlags::default()
        },
        dry_run: args.dry_run,
    };
    invoke(inv, output).await
}

pub async fn failback(
    args: FailbackArgs,
    config: &Path,
    output: OutputFormat,
) -> Result<(), CliError> {
    let inv = Invocation {
        config,
        confirm: confirm_mode(args.yes),
        report_dir: args.report.report_dir,
        pairs: &args.pairs,
        op: Operation::Failback,
        flags: RunFlags {
            writes_stopped: args.writes_stopped,
            ..RunFlags::default()
        },
        dry_run: args.dry_run,
    };
    invoke(inv, output).await
}

/// `efs-dr plan`: the phases from the current live state; no change made (a dry run).
pub async fn plan(cmd: PlanCommand, config: &Path, output: OutputFormat) -> Result<(), CliError> {
    let (op, pairs) = match &cmd {
        PlanCommand::Failover { unplanned, pairs } => (
            Operation::Failover {
                unplanned: *unplanned,
            },
            pairs,
        ),
        PlanCommand::Failback { pairs } => (Operation::Failback, pairs),
    };
    let inv = Invocation {
        config,
        confirm: Confirm::Ask,
        report_dir: None,
        pairs,
        op,
        flags: RunFlags {
            unplanned: matches!(op, Operation::Failover { unplanned: true }),
            ..RunFlags::default()
        },
        dry_run: true,
    };
    invoke(inv, output).await
}

fn print_plan(finished: &Finished, output: OutputFormat, dry_run: bool) {
    if !dry_run {
        return;
    }
    match output {
        OutputFormat::Json => {
            let doc = serde_json::json!({
                "pairs": finished.report_data.pairs.iter().map(|p| serde_json::json!({
                    "pair": p.name,
                    "found": p.found,
                    "phases": finished.planned.iter().filter(|ph| ph.pair == p.name).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "result": match &finished.result { Ok(m) => m.clone(), Err(e) => e.message().to_string() },
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        OutputFormat::Human => {
            for (i, ph) in finished.planned.iter().enumerate() {
                eprintln!("{}. [{}] {}", i + 1, ph.pair, ph.title);
                if let Some(d) = ph.direction {
                    eprintln!(
                        "     variable: directions[\"{}\"] = \"{}\"",
                        ph.pair,
                        d.as_str()
                    );
                }
                for a in &ph.allowed {
                    eprintln!(
                        "     allows:   {} {}",
                        crate::dr::report::kind_word(a.kind),
                        a.address
                    );
                }
                if let Some(sdk) = &ph.sdk {
                    eprintln!(
                        "     SDK:      {}",
                        serde_json::to_string(sdk).unwrap_or_default()
                    );
                }
                eprintln!("     gate:     {}", ph.gate.describe());
                if let Some(n) = &ph.note {
                    eprintln!("     note:     {n}");
                }
            }
        }
    }
}
