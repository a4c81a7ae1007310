//! `efs-dr doctor`: whether a failover would work now, for a schedule in a pipeline. Read-only:
//! never takes the run lease, changes nothing. Exit 0 ready, 2 not ready (a check failed; with
//! --strict also a warning), 1 could not check.

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::dr_cmd::{connect, selected, terraform, Overrides, PairArgs};
use super::output::{human, out};
use super::OutputFormat;
use efs_dr::doctor::{examine, Check, Readiness, Verdict};
use efs_dr::dr::DrError;
use efs_dr::pipeline::ci;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
    /// Warnings count as failures (exit 2).
    #[arg(long, env = "EFS_DR_STRICT")]
    pub strict: bool,
}

pub async fn run(args: DoctorArgs, config: &Path, output: OutputFormat) -> Result<(), DrError> {
    let overrides = Overrides::default();
    let (config, aws) = connect(config, &overrides).await?;
    let tf = terraform(&config, &overrides).await;
    let pairs = selected(&config, &args.pairs)?;
    let readiness = examine(
        &config,
        &aws,
        tf.as_ref().map_err(|e| e.message().to_string()),
        &pairs,
    )
    .await;
    let code = readiness.exit_code(args.strict);
    match output {
        OutputFormat::Json => out!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ready": code == 0,
                "exit_code": code,
                "strict": args.strict,
                "checks": readiness.checks,
            }))
            .unwrap_or_default()
        ),
        OutputFormat::Human => {
            show(&readiness);
            if github() {
                for c in readiness.checks.iter().filter(|c| c.verdict != Verdict::Ok) {
                    out!("{}", annotation(c));
                }
            }
        }
    }
    if github() {
        step_summary(&readiness, code);
    }
    let counts = format!(
        "{} failed, {} warned, {} could not be checked, {} ok",
        readiness.count(Verdict::Fail),
        readiness.count(Verdict::Warn),
        readiness.count(Verdict::Unknown),
        readiness.count(Verdict::Ok)
    );
    match code {
        0 => {
            human!("ready: {counts}");
            Ok(())
        }
        2 => Err(DrError::Pending(format!(
            "not ready: {counts}{}",
            if args.strict {
                " (--strict: warnings count)"
            } else {
                ""
            }
        ))),
        _ => Err(DrError::Failed(format!(
            "could not check everything: {counts}; run doctor again when what it names answers"
        ))),
    }
}

fn github() -> bool {
    std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")
}

fn subject(c: &Check) -> String {
    match &c.pair {
        Some(p) => format!("pair {p}"),
        None => "efs-dr".to_string(),
    }
}

/// The table: one line per check, the next step under what is not fine.
fn show(r: &Readiness) {
    let width = r.checks.iter().map(|c| subject(c).len()).max().unwrap_or(0);
    for c in &r.checks {
        human!(
            "{:<7} {:<width$}  {:<13} {}",
            c.verdict.as_str(),
            subject(c),
            c.check.as_str(),
            c.text
        );
        if let Some(next) = &c.next {
            human!("{:<7} {:<width$}  {:<13} next: {next}", "", "", "");
        }
    }
}

fn annotation(c: &Check) -> String {
    let title = format!("efs-dr doctor: {} {}", subject(c), c.check.as_str());
    let message = match &c.next {
        Some(next) => format!("{}\nnext: {next}", c.text),
        None => c.text.clone(),
    };
    match c.verdict {
        Verdict::Fail | Verdict::Unknown => ci::error(&title, &message),
        _ => ci::warning(&format!("{title}: {message}")),
    }
}

/// The job summary: a Markdown table of every check.
fn step_summary(r: &Readiness, code: u8) {
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut md = format!(
        "## efs-dr doctor: {}\n\n| verdict | for | check | found | next |\n|---|---|---|---|---|\n",
        match code {
            0 => "ready",
            2 => "not ready",
            _ => "could not check everything",
        }
    );
    for c in &r.checks {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.verdict.as_str(),
            subject(c),
            c.check.as_str(),
            cell(&c.text),
            cell(c.next.as_deref().unwrap_or(""))
        ));
    }
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{md}"));
    if let Err(e) = written {
        tracing::warn!("cannot append to the job summary {path}: {e}");
    }
}
