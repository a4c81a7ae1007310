//! `efs-dr status`: each pair from live AWS and the Terraform state, with the desired direction
//! of the rendered variables and every disagreement between them (drift).

use std::path::Path;

use clap::Args;

use super::dr_cmd::{connect, selected, terraform, Overrides, PairArgs};
use super::output::{human, out, warn_line};
use super::OutputFormat;
use efs_dr::dr::status::{collect, PairStatus};
use efs_dr::dr::DrError;
use efs_dr::lease::{Lease, LeaseStatus};
use efs_dr::render::Direction;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
    /// Exit 0 when every pair is in sync, 2 when there is drift, 1 on error (as
    /// `terraform plan -detailed-exitcode`). Without it: 0 unless something could not be read.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// Who holds the run lease, as status shows it: Ok(None) when no run holds it.
pub type LeaseSeen = Result<Option<LeaseStatus>, efs_dr::lease::LeaseError>;

pub fn print(
    statuses: &[PairStatus],
    lease: &LeaseSeen,
    warnings: &[String],
    output: OutputFormat,
) {
    match output {
        OutputFormat::Json => {
            let lease = match lease {
                Ok(held) => serde_json::json!({ "held": held.is_some(), "by": held }),
                Err(e) => serde_json::json!({ "held": null, "unknown": e.to_string() }),
            };
            out!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "pairs": statuses,
                    "run_lease": lease,
                    "warnings": warnings
                }))
                .unwrap_or_default()
            )
        }
        OutputFormat::Human => {
            for w in warnings {
                warn_line!("warning: {w}");
            }
            match lease {
                Ok(Some(held)) => human!("run lease: {}", held.describe()),
                Ok(None) => human!("run lease: free (no efs-dr run in progress)"),
                Err(e) => human!("run lease: unknown ({e})"),
            }
            for s in statuses {
                human!("pair {}: {}", s.pair, s.situation.describe());
                for (role, side) in [("A", &s.a), ("B", &s.b)] {
                    match &side.error {
                        Some(e) => human!(
                            "  {role} {} {}: UNKNOWN ({e})",
                            side.file_system_id,
                            side.region
                        ),
                        None => human!(
                            "  {role} {} {}: {}protection {}, {}",
                            side.file_system_id,
                            side.region,
                            if side.exists == Some(false) {
                                "DOES NOT EXIST, "
                            } else {
                                ""
                            },
                            side.protection.map(|p| p.as_str()).unwrap_or("?"),
                            if side.writable == Some(true) {
                                "writable"
                            } else {
                                "read-only"
                            }
                        ),
                    }
                }
                match &s.replication {
                    Some(r) => human!(
                        "  replication {} -> {}: {}{}, last sync {}{}",
                        r.source,
                        r.destination,
                        r.status,
                        r.status_message
                            .as_deref()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default(),
                        r.last_replicated.as_deref().unwrap_or("never"),
                        r.lag_seconds
                            .map(|l| format!(" ({l} s ago)"))
                            .unwrap_or_default()
                    ),
                    None => match &s.replication_unknown {
                        Some(why) => human!("  replication: unknown ({why})"),
                        None => human!("  replication: none"),
                    },
                }
                human!(
                    "  terraform: desired direction {}, state holds {}",
                    s.desired_direction
                        .map(Direction::as_str)
                        .unwrap_or("(not rendered)"),
                    match (s.state_forward, s.state_reverse) {
                        (Some(true), _) => "A -> B",
                        (_, Some(true)) => "B -> A",
                        (Some(false), Some(false)) => "no replication",
                        _ => "(state not read)",
                    }
                );
                if let Some(w) = &s.writes_only_on_a {
                    human!(
                        "  writes only A has (a failback overwrites A): {}",
                        w.describe()
                    );
                }
                if let Some(why) = &s.state_unknown {
                    human!("  drift: unknown ({why})");
                    for d in &s.drift {
                        human!("  DRIFT: {d}");
                    }
                } else if s.drift.is_empty() {
                    human!("  drift: none");
                } else {
                    for d in &s.drift {
                        human!("  DRIFT: {d}");
                    }
                }
            }
        }
    }
}

pub async fn run(args: StatusArgs, config: &Path, output: OutputFormat) -> Result<(), DrError> {
    let overrides = Overrides::default();
    let (config, aws) = connect(config, &overrides).await?;
    // Status is for bad days: without a working Terraform it still shows what AWS says.
    let tf = match terraform(&config, &overrides).await {
        Ok(tf) => Some(tf),
        Err(e) => {
            warn_line!("warning: the Terraform state is not shown: {}", e.message());
            None
        }
    };
    let pairs = selected(&config, &args.pairs)?;
    let statuses = collect(&config, &aws, tf.as_ref(), &pairs).await;
    let lease = Lease::peek(&config).await;
    print(&statuses, &lease, &config.warnings(), output);
    let problems: Vec<String> = statuses.iter().flat_map(|s| s.problems()).collect();
    if !problems.is_empty() {
        return Err(DrError::Failed(format!(
            "the status is incomplete, so it says \"unknown\" where it could not read:\n{}",
            problems.join("\n")
        )));
    }
    let drifting: Vec<&str> = statuses
        .iter()
        .filter(|s| !s.drift.is_empty())
        .map(|s| s.pair.as_str())
        .collect();
    if args.detailed_exitcode && !drifting.is_empty() {
        return Err(DrError::Pending(format!(
            "drift in {} pair(s): {}",
            drifting.len(),
            drifting.join(", ")
        )));
    }
    Ok(())
}
