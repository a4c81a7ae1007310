//! `efs-dr propose | gate | check-plan`: the pull-request and pipeline half. Every flag a
//! pipeline sets has an `EFS_DR_*` variable; under GitHub Actions (`GITHUB_ACTIONS=true`)
//! errors become workflow commands and results go to the job summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::confirm::Terminal;
use super::dr_cmd::{
    context, display, execute, report_dir, selected, take_lease, LeaseArgs, Overrides, PairArgs,
    ReportArgs,
};
use super::output::{human, out, out_raw};
use super::OutputFormat;
use efs_dr::dr::phase::RunFlags;
use efs_dr::dr::planner::Operation;
use efs_dr::dr::report::Report;
use efs_dr::dr::run::{Request, Scope};
use efs_dr::dr::DrError;
use efs_dr::pipeline::body::body;
use efs_dr::pipeline::check::check_plan;
use efs_dr::pipeline::ci::{self, GitlabReport};
use efs_dr::pipeline::proposal::{PlanCounts, Proposal};
use efs_dr::pipeline::propose::{propose, ProposeRequest};
use efs_dr::pipeline::worktree::Git;
use efs_dr::terraform::PlanJson;

/// The operation a pull request or a stage belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Op {
    Failover,
    Failback,
}

fn operation(op: Op, unplanned: bool) -> Operation {
    match op {
        Op::Failover => Operation::Failover { unplanned },
        Op::Failback => Operation::Failback,
    }
}

#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// What to propose the next phase of.
    #[arg(value_enum)]
    pub op: Op,
    #[command(flatten)]
    pub pairs: PairArgs,
    /// A's region is down (failover only).
    #[arg(long, env = "EFS_DR_UNPLANNED")]
    pub unplanned: bool,
    /// Where the pull-request body (Markdown) goes; `-` is stdout (the default, unless
    /// `--output json`, which prints the summary there).
    #[arg(long, value_name = "PATH", env = "EFS_DR_BODY_FILE")]
    pub body_file: Option<PathBuf>,
    /// Where the JSON summary goes (it is also committed as efs-dr.proposal.json in the root).
    #[arg(long, value_name = "PATH", env = "EFS_DR_SUMMARY_FILE")]
    pub summary_file: Option<PathBuf>,
    /// Write GitLab's Terraform report ({"create","update","delete"}) of the plan here.
    #[arg(long, value_name = "PATH", env = "EFS_DR_GITLAB_REPORT")]
    pub gitlab_report: Option<PathBuf>,
    /// Propose the failback even though A has writes B does not and no backup block keeps
    /// them; its stages need the same flag.
    #[arg(long, env = "EFS_DR_DISCARD_WRITES_ON_A")]
    pub discard_writes_on_a: bool,
    /// Exit 2 when there is nothing left to propose (0 without it), as `terraform plan
    /// -detailed-exitcode` does.
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

#[derive(Debug, Args)]
#[group(id = "when", required = true, multiple = false)]
pub struct When {
    /// The preconditions of the pending phase: gates, and the SDK-only steps (made with
    /// --perform-sdk).
    #[arg(long, group = "when")]
    pub before_apply: bool,
    /// The gate of the phase just applied (and the SDK-only steps right after it, with
    /// --perform-sdk).
    #[arg(long, group = "when")]
    pub after_apply: bool,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The operation. Default: the one of the proposal committed in the root (a pipeline
    /// runs the stage of whatever phase was merged).
    #[arg(value_enum)]
    pub op: Option<Op>,
    #[command(flatten)]
    pub pairs: PairArgs,
    #[command(flatten)]
    pub when: When,
    /// A's region is down (failover only).
    #[arg(long, env = "EFS_DR_UNPLANNED")]
    pub unplanned: bool,
    /// How long the gates may wait (AWS time), instead of the config's replication_timeout.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, env = "EFS_DR_TIMEOUT")]
    pub timeout: Option<Duration>,
    /// Make the SDK-only changes of this stage (overwrite protection, a deletion from B's
    /// region) instead of refusing; each is recorded in the report.
    #[arg(long, env = "EFS_DR_PERFORM_SDK")]
    pub perform_sdk: bool,
    /// The application on B (failback) or A (failover) is stopped; the gates still verify it.
    #[arg(long, env = "EFS_DR_WRITES_STOPPED")]
    pub writes_stopped: bool,
    /// Fail over even when the last sync is older than max_lag.
    #[arg(long, env = "EFS_DR_FORCE")]
    pub force: bool,
    /// Fail back even though A has writes B does not and no backup block keeps them
    /// (recorded in the report).
    #[arg(long, env = "EFS_DR_DISCARD_WRITES_ON_A")]
    pub discard_writes_on_a: bool,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

#[derive(Debug, Args)]
pub struct CheckPlanArgs {
    /// A saved plan (`terraform plan -out`) or its JSON (`terraform show -json`).
    #[arg(value_name = "PLANFILE|PLAN.json")]
    pub plan: PathBuf,
    /// The operation the plan belongs to. Default: the proposal committed in the root.
    #[arg(long, value_enum, env = "EFS_DR_OPERATION")]
    pub operation: Option<Op>,
    /// The plan belongs to an unplanned failover (A's region is down).
    #[arg(long, env = "EFS_DR_UNPLANNED")]
    pub unplanned: bool,
    /// Write GitLab's Terraform report ({"create","update","delete"}) of the plan here.
    #[arg(long, value_name = "PATH", env = "EFS_DR_GITLAB_REPORT")]
    pub gitlab_report: Option<PathBuf>,
}

/// Under GitHub Actions: the environment says so.
fn github() -> bool {
    std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")
}

fn append_step_summary(markdown: &str) {
    if !github() {
        return;
    }
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{markdown}"));
    if let Err(e) = written {
        tracing::warn!("cannot append to the job summary {path}: {e}");
    }
}

/// A command's failure as a GitHub annotation too.
fn annotate<T>(what: &str, result: Result<T, DrError>) -> Result<T, DrError> {
    if let Err(e) = &result {
        if github() {
            out!(
                "{}",
                ci::error(
                    &format!("efs-dr {what}: {}", e.outcome().as_str()),
                    &e.message()
                )
            );
        }
    }
    result
}

fn write_file(path: &Path, text: &str, what: &str) -> Result<(), DrError> {
    if path == Path::new("-") {
        out_raw!("{text}");
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| {
        DrError::Failed(format!(
            "cannot write the {what} to {}: {e}",
            path.display()
        ))
    })
}

fn gitlab_report(path: Option<&Path>, counts: PlanCounts) -> Result<(), DrError> {
    let Some(path) = path else { return Ok(()) };
    let json = serde_json::to_string(&GitlabReport::from(counts)).expect("serialises");
    write_file(path, &json, "GitLab Terraform report")
}

pub async fn propose_cmd(
    args: ProposeArgs,
    config: &Path,
    output: OutputFormat,
) -> Result<(), DrError> {
    annotate("propose", propose_inner(args, config, output).await)
}

async fn propose_inner(
    args: ProposeArgs,
    config: &Path,
    output: OutputFormat,
) -> Result<(), DrError> {
    if args.unplanned && args.op != Op::Failover {
        return Err(DrError::Failed("--unplanned is for a failover only".into()));
    }
    let mut ctx = context(config, &Overrides::default()).await?;
    let req = ProposeRequest {
        op: operation(args.op, args.unplanned),
        pairs: selected(&ctx.config, &args.pairs)?,
        named: !args.pairs.pairs.is_empty(),
        flags: RunFlags {
            discard_writes_on_a: args.discard_writes_on_a,
            ..RunFlags::default()
        },
    };
    ctx.lease = take_lease(
        &ctx.config,
        "efs-dr propose",
        req.op,
        &req.pairs,
        &args.lease,
    )
    .await?;
    let proposed = propose(&ctx, &req, &Git).await;
    std::mem::take(&mut ctx.lease).release().await;
    let proposed = match proposed {
        Err(DrError::Pending(done)) => {
            return nothing_to_propose(&args, &done, output);
        }
        other => other?,
    };
    let max_lag = humantime::format_duration(ctx.config.gates.max_lag).to_string();
    let text = body(&proposed.proposal, &max_lag, &proposed.plan_text)
        .map_err(|e| DrError::Failed(format!("the pull-request body failed to render: {e}")))?;
    let summary = serde_json::json!({
        "proposal": proposed.proposal,
        "written": proposed.written,
        "body_chars": text.chars().count(),
    });
    let summary_text = serde_json::to_string_pretty(&summary).expect("serialises") + "\n";
    if let Some(path) = &args.summary_file {
        write_file(path, &summary_text, "JSON summary")?;
    }
    gitlab_report(args.gitlab_report.as_deref(), proposed.proposal.plan)?;
    match (&args.body_file, output) {
        (Some(path), _) => write_file(path, &text, "pull-request body")?,
        (None, OutputFormat::Human) => out_raw!("{text}"),
        (None, OutputFormat::Json) => {}
    }
    if output == OutputFormat::Json {
        out_raw!("{summary_text}");
    }
    append_step_summary(&text);
    let p = &proposed.proposal;
    if github() {
        for u in &p.unchanged {
            out!(
                "{}",
                ci::warning(&format!(
                    "pair {} is not in this proposal: {}",
                    u.pair, u.found
                ))
            );
        }
    }
    human!("proposed: {}", p.title);
    human!(
        "  wrote {} in {}",
        proposed
            .written
            .iter()
            .map(|w| w.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        ctx.tf.dir.display()
    );
    human!("  {}", p.plan.line());
    human!("  commit them on a branch and open the pull request, e.g. `gh pr create --title \"{}\" --body-file BODY.md`", p.title);
    Ok(())
}

/// Nothing left to propose: said on stderr, and in the summary (`"proposal": null`) so that a
/// pipeline can tell it from a proposal; no body is written, so no pull request is opened.
fn nothing_to_propose(args: &ProposeArgs, done: &str, output: OutputFormat) -> Result<(), DrError> {
    let summary = serde_json::json!({ "proposal": null, "nothing_to_propose": done });
    let summary_text = serde_json::to_string_pretty(&summary).expect("serialises") + "\n";
    if let Some(path) = &args.summary_file {
        write_file(path, &summary_text, "JSON summary")?;
    }
    if output == OutputFormat::Json {
        out_raw!("{summary_text}");
    }
    human!("{done}");
    if let Some(path) = &args.summary_file {
        human!("  wrote {} (\"proposal\": null)", path.display());
    }
    if let Some(path) = &args.body_file {
        human!(
            "  {} not written: there is no pull request to open",
            path.display()
        );
    }
    append_step_summary(done);
    if args.detailed_exitcode {
        return Err(DrError::Pending(done.to_string()));
    }
    Ok(())
}

pub async fn gate_cmd(args: GateArgs, config: &Path, output: OutputFormat) -> Result<(), DrError> {
    let stage = if args.when.before_apply {
        "before apply"
    } else {
        "after apply"
    };
    annotate(
        &format!("gate ({stage})"),
        gate_inner(args, config, output).await,
    )
}

async fn gate_inner(args: GateArgs, config: &Path, output: OutputFormat) -> Result<(), DrError> {
    if args.unplanned && args.op == Some(Op::Failback) {
        return Err(DrError::Failed("--unplanned is for a failover only".into()));
    }
    let mut ctx = context(config, &Overrides::default()).await?;
    ctx.tf.interrupt = super::signals::listen();
    if let Some(t) = args.timeout {
        ctx.config.gates.replication_timeout = t;
    }
    let proposal = Proposal::load(&ctx.tf.dir)?;
    let op = match (args.op, &proposal) {
        (Some(op), _) => operation(op, args.unplanned),
        (None, Some(p)) => p.operation,
        (None, None) => {
            return Err(DrError::Failed(format!(
                "no proposal is committed in {}, so this stage does not know its operation: run `efs-dr gate failover|failback ...`",
                ctx.tf.dir.display()
            )))
        }
    };
    if let Some(p) = &proposal {
        if p.operation != op {
            return Err(DrError::Refused(format!(
                "this stage runs `gate {}`, but the merged proposal is for a {} (\"{}\"): the gate belongs to another operation. Run `efs-dr gate {}` instead; nothing was changed",
                op.args(),
                p.operation.name(),
                p.title,
                p.operation.args()
            )));
        }
    }
    if let Some(p) = &proposal {
        p.check_root(&ctx.tf.dir)?;
    }
    let proposed = proposal.as_ref().map(Proposal::reviewed);
    let scope = if args.when.before_apply {
        Scope::BeforeApply {
            perform_sdk: args.perform_sdk,
            proposed,
        }
    } else {
        Scope::AfterApply {
            perform_sdk: args.perform_sdk,
            proposed,
        }
    };
    let req = Request {
        audit: Some(efs_dr::dr::audit::gather(&ctx, std::env::args().skip(1).collect()).await),
        op,
        pairs: selected(&ctx.config, &args.pairs)?,
        flags: RunFlags {
            force: args.force,
            writes_stopped: args.writes_stopped,
            discard_writes_on_a: args.discard_writes_on_a,
            ..RunFlags::default()
        },
        dry_run: false,
        scope,
        operation_started: proposal
            .as_ref()
            .and_then(|p| p.proposed_at.as_deref())
            .and_then(|t| humantime::parse_rfc3339(t).ok()),
    };
    let command = format!("efs-dr gate {}", op.args());
    ctx.lease = take_lease(&ctx.config, &command, op, &req.pairs, &args.lease).await?;
    let dir = report_dir(&ctx.config, args.report.report_dir);
    let mut display = display(output);
    let gh = github();
    if gh {
        out!("{}", ci::group(&format!("efs-dr gate {}", op.args())));
    }
    // A pipeline has no terminal: a question is answered only by the stage's flags.
    let confirm = Terminal { assume_yes: false };
    let (finished, report) = execute(&ctx, req, &confirm, display.as_mut(), &dir).await;
    std::mem::take(&mut ctx.lease).release().await;
    if gh {
        out!("{}", ci::END_GROUP);
        if let Some(path) = report {
            if let Ok(md) = std::fs::read_to_string(&path) {
                append_step_summary(&md);
            }
        } else {
            append_step_summary(
                &Report::from_events(&finished.events)
                    .markdown()
                    .unwrap_or_default(),
            );
        }
    }
    finished.result.map(|_| ())
}

pub async fn check_plan_cmd(
    args: CheckPlanArgs,
    config: &Path,
    output: OutputFormat,
) -> Result<(), DrError> {
    annotate("check-plan", check_plan_inner(args, config, output).await)
}

async fn read_plan(ctx: &efs_dr::dr::context::Context, path: &Path) -> Result<PlanJson, DrError> {
    let bytes = std::fs::read(path)
        .map_err(|e| DrError::Failed(format!("cannot read the plan {}: {e}", path.display())))?;
    let json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if json {
        let text = String::from_utf8_lossy(&bytes);
        return PlanJson::parse(&text).map_err(|e| {
            DrError::Failed(format!(
                "{} is not a plan in Terraform's JSON format ({e}); give the saved plan, or `terraform show -json PLAN` of it",
                path.display()
            ))
        });
    }
    let abs = std::path::absolute(path)
        .map_err(|e| DrError::Failed(format!("{}: {e}", path.display())))?;
    ctx.tf.show_plan(&abs).await.map_err(|e| {
        DrError::Failed(format!(
            "Terraform cannot read the saved plan {} from {}: {e}\nA saved plan must be checked in the directory it was made for (the root {}), with the same Terraform",
            path.display(),
            ctx.tf.dir.display(),
            ctx.tf.dir.display()
        ))
    })
}

async fn check_plan_inner(
    args: CheckPlanArgs,
    config: &Path,
    output: OutputFormat,
) -> Result<(), DrError> {
    let ctx = context(config, &Overrides::default()).await?;
    let proposal = Proposal::load(&ctx.tf.dir)?;
    let op = match (args.operation, &proposal) {
        (Some(op), _) => operation(op, args.unplanned),
        (None, Some(p)) => p.operation,
        (None, None) => {
            return Err(DrError::Failed(format!(
                "no proposal is committed in {}, so the plan's operation is unknown: pass --operation failover|failback",
                ctx.tf.dir.display()
            )))
        }
    };
    let plan = read_plan(&ctx, &args.plan).await?;
    let checked = check_plan(&ctx, op, &plan, proposal.as_ref()).await?;
    gitlab_report(args.gitlab_report.as_deref(), checked.counts)?;
    let phases: Vec<String> = checked
        .phases
        .iter()
        .map(|(pair, step)| format!("{pair}: {}", step.title()))
        .collect();
    match output {
        OutputFormat::Json => out!(
            "{}",
            serde_json::json!({
                "ok": true,
                "operation": op.name(),
                "plan": checked.counts,
                "phases": checked.phases,
            })
        ),
        OutputFormat::Human => {
            human!("plan ok for the {}: {}", op.name(), checked.counts.line());
            for p in &phases {
                human!("  {p}");
            }
        }
    }
    if github() {
        out!(
            "{}",
            ci::notice(&format!(
                "efs-dr check-plan: {} ({})",
                checked.counts.line(),
                phases.join("; ")
            ))
        );
    }
    Ok(())
}
