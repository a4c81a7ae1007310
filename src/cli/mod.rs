//! The command line: argument definitions, presentation (human on stderr, JSON on stdout), the
//! terminal's confirmations, and the commands that call into the library.

mod completions_cmd;
mod config_cmd;
mod confirm;
mod demo_cmd;
mod display;
mod doctor_cmd;
mod dr_cmd;
#[cfg(test)]
mod examples_tests;
mod iam_cmd;
pub mod output;
mod pipeline_cmd;
mod rehearse_cmd;
mod render_cmd;
mod signals;
mod sim_cmd;
mod status_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use efs_dr::dr::DrError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Text for people, on stderr.
    Human,
    /// JSON on stdout, for machines.
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "efs-dr",
    version,
    about = "Amazon EFS cross-region disaster recovery (failover and failback) through Terraform"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        default_value = "efs-dr.hcl",
        env = "EFS_DR_CONFIG"
    )]
    pub config: PathBuf,

    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human, env = "EFS_DR_OUTPUT")]
    pub output: OutputFormat,

    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log output (-q errors only, -qq nothing).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// No colour in log lines (also: NO_COLOR set, or stderr not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// During a long wait (a Terraform apply, a gate), say it is still going at least this
    /// often, on a terminal or not (CI kills a job silent for 10 minutes)
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        default_value = "30s",
        env = "EFS_DR_PROGRESS_EVERY"
    )]
    pub progress_every: humantime::Duration,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Render the Terraform root, run `terraform init`, and bring each pair's live replication
    /// under Terraform (import an existing one; create A -> B into the existing B otherwise).
    Init(dr_cmd::InitArgs),
    /// Each pair from live AWS and the Terraform state, with any drift between them.
    Status(status_cmd::StatusArgs),
    /// Whether a failover would work now: replication and its lag over 24 h, B's mount targets
    /// and throughput, protection, the backup vault, Terraform, the state and where it lives.
    /// Read-only. Exit 0 ready, 2 not ready, 1 could not check.
    Doctor(doctor_cmd::DoctorArgs),
    /// Make B writable: remove A -> B (through Terraform, or from B's region with --unplanned).
    Failover(dr_cmd::FailoverArgs),
    /// Bring the data home: B -> A, quiesce, cut over, A -> B again; ids never change.
    Failback(dr_cmd::FailbackArgs),
    /// The phases a failover or failback would run from the live state; no change made.
    #[command(subcommand)]
    Plan(dr_cmd::PlanCommand),
    /// Pull requests: write the next Terraform phase into the rendered root, plan and check
    /// it, and write the pull-request body and a JSON summary. Never applies.
    Propose(pipeline_cmd::ProposeArgs),
    /// A pipeline stage around `terraform apply`: the pending phase's preconditions
    /// (--before-apply) or the applied phase's gate (--after-apply). Exit 0 passed, 2 refused
    /// (apply nothing), 3 timed out, 1 error.
    Gate(pipeline_cmd::GateArgs),
    /// Check a plan made by a pipeline against the pending phase: exit 2 with every change
    /// beyond what it allows (or when the proposal is stale), 0 otherwise.
    CheckPlan(pipeline_cmd::CheckPlanArgs),
    /// The main job end to end on an in-process simulator with real Terraform.
    Demo(demo_cmd::DemoArgs),
    /// Your runbook end to end (your pairs, regions, gates, backup, alarms) on an in-process
    /// simulator that mirrors them, with real Terraform on a copy of the root: AWS untouched.
    Rehearse(rehearse_cmd::RehearseArgs),
    /// Write the Terraform root (providers, module calls, direction variables) for the config.
    Render(render_cmd::RenderArgs),
    /// Print the least-privilege IAM policy (JSON) of efs-dr, Terraform and the provider for
    /// the configured pairs.
    IamPolicy(iam_cmd::IamArgs),
    /// Shell completions on stdout: `efs-dr completions bash > /etc/bash_completion.d/efs-dr`.
    Completions(completions_cmd::CompletionsArgs),
    /// The man page (roff) on stdout (`efs-dr man > efs-dr.1`), or every page, one per
    /// subcommand, into a directory (`efs-dr man --out-dir /usr/local/share/man/man1`).
    Man(completions_cmd::ManArgs),
    /// The local EFS + CloudWatch simulator.
    #[command(subcommand)]
    Sim(Box<sim_cmd::SimCommand>),
}

impl Cli {
    /// Colour only for a person at a terminal who did not ask for none.
    pub fn color(&self) -> bool {
        use std::io::IsTerminal;
        !self.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal()
    }

    /// The tracing filter the flags ask for (RUST_LOG wins when set).
    pub fn log_filter(&self) -> String {
        let level = match (self.quiet, self.verbose) {
            (q, _) if q >= 2 => return "off".into(),
            (1, _) => return "error".into(),
            (_, 0) => return "warn".into(),
            (_, 1) => "info",
            (_, 2) => "debug",
            _ => "trace",
        };
        // The SDK's signing, endpoint and HTTP layers log what they sign and send at debug
        // and trace level (the access key id, a canonical request with the session token):
        // never shown at any -v. RUST_LOG, set by hand, is the operator's own choice.
        format!("{level},{QUIET_SDK}")
    }
}

/// Where the SDK would log credentials (the access key id at info, more below): kept at warn.
const QUIET_SDK: &str = "aws_sigv4=warn,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,aws_smithy_http_client=warn,aws_smithy_types=warn,aws_config=warn,aws_credential_types=warn,aws_runtime=warn,hyper=warn,hyper_util=warn,h2=warn,rustls=warn";

pub async fn run(cli: Cli) -> Result<(), DrError> {
    output::init(cli.quiet, cli.progress_every.into());
    let result = command(cli).await;
    output::finish(result)
}

async fn command(cli: Cli) -> Result<(), DrError> {
    match cli.command {
        Command::Config(cmd) => config_cmd::run(cmd, &cli.config, cli.output),
        Command::Init(args) => dr_cmd::init(args, &cli.config, cli.output).await,
        Command::Status(args) => status_cmd::run(args, &cli.config, cli.output).await,
        Command::Doctor(args) => doctor_cmd::run(args, &cli.config, cli.output).await,
        Command::Failover(args) => dr_cmd::failover(args, &cli.config, cli.output).await,
        Command::Failback(args) => dr_cmd::failback(args, &cli.config, cli.output).await,
        Command::Plan(cmd) => dr_cmd::plan(cmd, &cli.config, cli.output).await,
        Command::Propose(args) => pipeline_cmd::propose_cmd(args, &cli.config, cli.output).await,
        Command::Gate(args) => pipeline_cmd::gate_cmd(args, &cli.config, cli.output).await,
        Command::CheckPlan(args) => {
            pipeline_cmd::check_plan_cmd(args, &cli.config, cli.output).await
        }
        Command::Demo(args) => demo_cmd::run(args, cli.output).await,
        Command::Rehearse(args) => rehearse_cmd::run(args, &cli.config, cli.output).await,
        Command::Render(args) => render_cmd::run(args, &cli.config, cli.output),
        Command::IamPolicy(args) => iam_cmd::run(args, &cli.config),
        Command::Sim(cmd) => sim_cmd::run(*cmd, cli.output).await,
        Command::Completions(args) => completions_cmd::completions(args),
        Command::Man(args) => completions_cmd::man(args),
    }
}

/// Writes bytes to stdout through the output layer (completions, the man page).
pub fn write_stdout(bytes: &[u8]) -> Result<(), DrError> {
    output::stdout(&String::from_utf8_lossy(bytes));
    Ok(())
}
