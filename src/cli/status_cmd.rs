//! `efs-dr status`: each pair from live AWS and the Terraform state, with the desired direction
//! of the rendered variables and every disagreement between them (drift).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use clap::Args;
use serde::Serialize;

use super::dr_cmd::{connect, selected, terraform, Overrides, PairArgs};
use super::{CliError, OutputFormat};
use crate::aws::{rfc3339, Aws};
use crate::config::Config;
use crate::dr::observe::{observe, views};
use crate::dr::run::Context;
use crate::dr::view::{PairView, SideView};
use crate::render::{Direction, DIRECTIONS_FILE};
use crate::terraform::Terraform;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
}

#[derive(Debug, Serialize)]
pub struct SideStatus {
    pub region: String,
    pub file_system_id: String,
    pub exists: Option<bool>,
    pub protection: Option<String>,
    pub writable: Option<bool>,
    pub reachable: bool,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ReplicationStatus {
    pub direction: Direction,
    pub source: String,
    pub destination: String,
    pub status: String,
    pub status_message: Option<String>,
    pub last_replicated: Option<String>,
    pub lag_seconds: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct PairStatus {
    pub pair: String,
    pub a: SideStatus,
    pub b: SideStatus,
    pub replication: Option<ReplicationStatus>,
    pub stale_configuration_on_a: bool,
    pub live_direction: Direction,
    /// The direction in the rendered variables (None: not rendered yet).
    pub desired_direction: Option<Direction>,
    /// What the Terraform state holds (None: the state could not be read).
    pub state_forward: Option<bool>,
    pub state_reverse: Option<bool>,
    pub drift: Vec<String>,
}

fn side(s: &SideView) -> SideStatus {
    SideStatus {
        region: s.region.clone(),
        file_system_id: s.file_system_id.clone(),
        exists: s.reachable().then_some(s.file_system.is_some()),
        protection: s.protection().map(str::to_string),
        writable: s.reachable().then_some(s.writable()),
        reachable: s.reachable(),
        error: s.error.as_ref().map(|e| e.to_string()),
    }
}

/// The pair's status and its drift, from its view and the rendered variables. Pure.
pub fn pair_status(v: &PairView, desired: Option<Direction>) -> PairStatus {
    let live = v.live_direction();
    let replication = v
        .forward()
        .map(|r| (Direction::Forward, r))
        .or(v.reverse().map(|r| (Direction::Reverse, r)))
        .map(|(d, r)| ReplicationStatus {
            direction: d,
            source: format!("{} ({})", r.source_id, r.source_region),
            destination: format!("{} ({})", r.destination_id, r.destination_region),
            status: r.status.clone(),
            status_message: r.status_message.clone(),
            last_replicated: r.last_replicated.map(rfc3339),
            lag_seconds: v.lag().map(|l| l.as_secs()),
        });
    let mut drift = Vec::new();
    if let Some(d) = desired {
        if d != live {
            drift.push(format!(
                "the rendered variables say \"{}\" but AWS has \"{}\"",
                d.as_str(),
                live.as_str()
            ));
        }
    }
    for (dir, in_state) in [
        (Direction::Forward, v.state_forward),
        (Direction::Reverse, v.state_reverse),
    ] {
        let Some(in_state) = in_state else { continue };
        let arrow = crate::dr::phase::arrow(dir);
        if in_state && live != dir {
            drift.push(format!(
                "the Terraform state holds {arrow} but AWS does not (a plan would create it again)"
            ));
        }
        if !in_state && live == dir {
            drift.push(format!(
                "{arrow} exists in AWS but not in the Terraform state: run `efs-dr init` to import it"
            ));
        }
    }
    let stale = v.stale_forward_in_a().is_some();
    if stale {
        drift.push("A's region holds a stale A -> B configuration (an unplanned failover): `efs-dr failback` removes it".into());
    }
    for f in &v.foreign {
        drift.push(format!(
            "{} -> {} involves the pair but is not the pair's replication",
            f.source_id, f.destination_id
        ));
    }
    PairStatus {
        pair: v.pair.clone(),
        a: side(&v.a),
        b: side(&v.b),
        replication,
        stale_configuration_on_a: stale,
        live_direction: live,
        desired_direction: desired,
        state_forward: v.state_forward,
        state_reverse: v.state_reverse,
        drift,
    }
}

fn desired_directions(dir: &Path) -> BTreeMap<String, Direction> {
    #[derive(serde::Deserialize)]
    struct File {
        directions: BTreeMap<String, Direction>,
    }
    std::fs::read_to_string(dir.join(DIRECTIONS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<File>(&t).ok())
        .map(|f| f.directions)
        .unwrap_or_default()
}

/// Every selected pair's status.
pub async fn collect(ctx: &Context, names: &PairArgs) -> Result<Vec<PairStatus>, CliError> {
    collect_from(&ctx.config, &ctx.aws, Some(&ctx.tf), names).await
}

/// Every selected pair's status; without Terraform, the state is reported as unknown.
pub async fn collect_from(
    config: &Config,
    aws: &Aws,
    tf: Option<&Terraform>,
    names: &PairArgs,
) -> Result<Vec<PairStatus>, CliError> {
    let pairs = selected(config, names)?;
    let snapshot = observe(aws, &BTreeSet::new()).await;
    let dir = config.terraform_dir();
    let state: Option<BTreeSet<String>> = match tf {
        Some(tf) if dir.join(".terraform").exists() => match tf.state_list().await {
            Ok(s) => Some(s.into_iter().collect()),
            Err(e) => {
                tracing::warn!("the Terraform state was not read: {e}");
                None
            }
        },
        _ => None,
    };
    let desired = desired_directions(&dir);
    Ok(views(&pairs, &snapshot, state.as_ref())
        .iter()
        .map(|v| pair_status(v, desired.get(&v.pair).copied()))
        .collect())
}

pub fn print(statuses: &[PairStatus], output: OutputFormat) {
    match output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "pairs": statuses }))
                .unwrap_or_default()
        ),
        OutputFormat::Human => {
            for s in statuses {
                eprintln!("pair {}", s.pair);
                for (role, side) in [("A", &s.a), ("B", &s.b)] {
                    match &side.error {
                        Some(e) => eprintln!(
                            "  {role} {} {}: UNREACHABLE ({e})",
                            side.file_system_id, side.region
                        ),
                        None => eprintln!(
                            "  {role} {} {}: {}protection {}, {}",
                            side.file_system_id,
                            side.region,
                            if side.exists == Some(false) {
                                "DOES NOT EXIST, "
                            } else {
                                ""
                            },
                            side.protection.as_deref().unwrap_or("?"),
                            if side.writable == Some(true) {
                                "writable"
                            } else {
                                "read-only"
                            }
                        ),
                    }
                }
                match &s.replication {
                    Some(r) => eprintln!(
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
                    None => eprintln!("  replication: none"),
                }
                eprintln!(
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
                if s.drift.is_empty() {
                    eprintln!("  drift: none");
                } else {
                    for d in &s.drift {
                        eprintln!("  DRIFT: {d}");
                    }
                }
            }
        }
    }
}

pub async fn run(args: StatusArgs, config: &Path, output: OutputFormat) -> Result<(), CliError> {
    let overrides = Overrides::default();
    let (config, aws) = connect(config, &overrides).await?;
    // Status is for bad days: without a working Terraform it still shows what AWS says.
    let tf = match terraform(&config, &overrides).await {
        Ok(tf) => Some(tf),
        Err(e) => {
            eprintln!("warning: the Terraform state is not shown: {}", e.message);
            None
        }
    };
    let statuses = collect_from(&config, &aws, tf.as_ref(), &args.pairs).await?;
    print(&statuses, output);
    Ok(())
}
