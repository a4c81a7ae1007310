//! A pair's status: what AWS and the Terraform state say, the direction the rendered variables
//! ask for, and every disagreement between them (drift).

use std::collections::BTreeSet;

use serde::Serialize;

use super::position::{self, Look};
use super::view::{PairView, SideView};
use crate::aws::{rfc3339, Aws, Protection, ReplicationStatus};
use crate::config::{Config, Pair};
use crate::ids::{FileSystemId, Region};
use crate::render::Direction;
use crate::terraform::Terraform;

#[derive(Debug, Serialize)]
pub struct SideStatus {
    pub region: Region,
    pub file_system_id: FileSystemId,
    pub exists: Option<bool>,
    pub protection: Option<Protection>,
    pub writable: Option<bool>,
    pub reachable: bool,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LiveReplication {
    pub direction: Direction,
    pub source: String,
    pub destination: String,
    pub status: ReplicationStatus,
    pub status_message: Option<String>,
    pub last_replicated: Option<String>,
    pub lag_seconds: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct PairStatus {
    pub pair: String,
    pub a: SideStatus,
    pub b: SideStatus,
    pub replication: Option<LiveReplication>,
    /// Set when the replication cannot be known (a region did not answer): why. Then
    /// `replication` is None and no drift is computed from it.
    pub replication_unknown: Option<String>,
    pub stale_configuration_on_a: bool,
    pub live_direction: Direction,
    /// The direction in the rendered variables (None: not rendered yet).
    pub desired_direction: Option<Direction>,
    /// What the Terraform state holds (None: the state could not be read).
    pub state_forward: Option<bool>,
    pub state_reverse: Option<bool>,
    /// While B serves (nothing replicates into A): writes only A has, which a failback would
    /// overwrite.
    pub writes_only_on_a: Option<crate::dr::writes::AOnlyWrites>,
    /// Set when the Terraform state could not be read (it did not answer in time, or failed):
    /// why. The drift is then unknown, not "none".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_unknown: Option<String>,
    pub drift: Vec<String>,
}

fn side(s: &SideView) -> SideStatus {
    SideStatus {
        region: s.region.clone(),
        file_system_id: s.file_system_id.clone(),
        exists: s.reachable().then_some(s.file_system.is_some()),
        protection: s.protection(),
        writable: s.reachable().then_some(s.writable()),
        reachable: s.reachable(),
        error: s.error.as_ref().map(|e| e.to_string()),
    }
}

/// The command that brings the root and the state in line with AWS for this pair: the
/// operation its live state belongs to (any run aligns them before it decides).
fn fixing_command(v: &PairView) -> &'static str {
    match v.live_direction() {
        Direction::Forward => "efs-dr init",
        Direction::Reverse => "efs-dr failback",
        // B fenced with nothing replicating: a failback at its last phase.
        Direction::None if v.b.protection() == Some(crate::aws::Protection::Disabled) => {
            "efs-dr failback"
        }
        Direction::None => "efs-dr failover",
    }
}

/// The pair's status and its drift, from its view and the rendered variables. Pure.
pub fn pair_status(v: &PairView, desired: Option<Direction>) -> PairStatus {
    let live = v.live_direction();
    // Only what both regions said is known: a missing answer is not "no replication".
    let unknown: Option<String> = if v.forward().is_none() && v.reverse().is_none() {
        let why: Vec<String> = [("A", &v.a), ("B", &v.b)]
            .iter()
            .filter_map(|(role, s)| {
                s.error
                    .as_ref()
                    .map(|e| format!("{role}'s region {}: {}", s.region, e.category()))
            })
            .collect();
        (!why.is_empty()).then(|| why.join("; "))
    } else {
        None
    };
    let replication = v
        .forward()
        .map(|r| (Direction::Forward, r))
        .or(v.reverse().map(|r| (Direction::Reverse, r)))
        .map(|(d, r)| LiveReplication {
            direction: d,
            source: format!("{} ({})", r.source_id, r.source_region),
            destination: format!("{} ({})", r.destination_id, r.destination_region),
            status: r.status.clone(),
            status_message: r.status_message.clone(),
            last_replicated: r.last_replicated.map(rfc3339),
            lag_seconds: v.lag().map(|l| l.as_secs()),
        });
    let mut drift = Vec::new();
    let fix = fixing_command(v);
    if let (Some(d), None) = (desired, &unknown) {
        if d != live {
            drift.push(format!(
                "the rendered variables say \"{}\" but AWS has \"{}\" (a plain `terraform apply` would change it): `{fix}` sets them to what AWS has",
                d.as_str(),
                live.as_str()
            ));
        }
    }
    for (dir, in_state) in [
        (Direction::Forward, v.state_forward),
        (Direction::Reverse, v.state_reverse),
    ] {
        let Some(in_state) = in_state.filter(|_| unknown.is_none()) else {
            continue;
        };
        let arrow = super::phase::arrow(dir);
        if in_state && live != dir {
            drift.push(format!(
                "the Terraform state holds {arrow} but AWS does not (a plan would create it again): `{fix}` forgets it"
            ));
        }
        if !in_state && live == dir {
            drift.push(format!(
                "{arrow} exists in AWS but not in the Terraform state: `{fix}` imports it"
            ));
        }
    }
    if let Some(r) = v.forward().filter(|r| r.last_replicated.is_none()) {
        drift.push(format!(
            "A -> B is {} but its first sync has not completed: B holds none of A's data and is not ready to fail over to",
            r.status
        ));
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
        replication_unknown: unknown,
        stale_configuration_on_a: stale,
        live_direction: live,
        desired_direction: desired,
        state_forward: v.state_forward,
        state_reverse: v.state_reverse,
        writes_only_on_a: v.a_only_writes.clone(),
        state_unknown: None,
        drift,
    }
}

/// Every selected pair's status; without Terraform, the state is reported as unknown.
pub async fn collect(
    config: &Config,
    aws: &Aws,
    tf: Option<&Terraform>,
    pairs: &[Pair],
) -> Vec<PairStatus> {
    let snapshot = position::observe(aws, &Look::default()).await;
    let dir = config.terraform_dir();
    let deadline = state_read_deadline();
    let (state, state_unknown): (Option<BTreeSet<String>>, Option<String>) = match tf {
        Some(tf) if dir.join(".terraform").exists() => {
            // A state whose store does not answer must not hold status for minutes: status is
            // for bad days. Terraform is ended when the deadline passes.
            match tokio::time::timeout(deadline, position::read_state(tf)).await {
                Ok(Ok(s)) => (Some(s), None),
                Ok(Err(e)) => (None, Some(format!("the Terraform state was not read: {e}"))),
                Err(_) => (
                    None,
                    Some(format!(
                        "the Terraform state did not answer within {} (its backend is unreachable?); EFS_DR_STATE_READ_TIMEOUT sets this limit",
                        humantime::format_duration(deadline)
                    )),
                ),
            }
        }
        _ => (None, None),
    };
    let desired = crate::render::read_directions(&dir).unwrap_or_default();
    // What a failback would overwrite on A, where that is at stake.
    let facts = position::gather(aws, None, pairs, &snapshot, state, None, false).await;
    position::views(pairs, &snapshot, &facts)
        .iter()
        .map(|v| {
            let mut s = pair_status(v, desired.get(&v.pair).copied());
            s.state_unknown = state_unknown.clone();
            s.drift.extend(health(v, config.gates.max_lag));
            s
        })
        .collect()
}

/// How long `status` waits for the Terraform state: `EFS_DR_STATE_READ_TIMEOUT`, else 60 s.
fn state_read_deadline() -> std::time::Duration {
    std::env::var("EFS_DR_STATE_READ_TIMEOUT")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(std::time::Duration::from_secs(60))
}

/// What makes a replication unfit to fail over to: ERROR or PAUSED, or a last sync older than
/// `max_lag`; each line with what to do.
fn health(v: &PairView, max_lag: std::time::Duration) -> Vec<String> {
    let mut out = Vec::new();
    let Some((arrow, r)) = v
        .forward()
        .map(|r| ("A -> B", r))
        .or(v.reverse().map(|r| ("B -> A", r)))
    else {
        return out;
    };
    if r.status.is_stalled() {
        out.push(format!(
            "{arrow} is {}{}: fix its cause in AWS (the EFS console shows it); until then a failover loses what it has not synced",
            r.status,
            r.status_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ));
    }
    if let Some(lag) = v.lag().filter(|l| *l > max_lag) {
        out.push(format!(
            "{arrow}'s last sync was {} ago, more than max_lag {}: a planned failover would be refused; find out why it does not sync",
            super::gate::fmt_dur(lag),
            super::gate::fmt_dur(max_lag)
        ));
    }
    out
}

impl PairStatus {
    /// What keeps this status from being the whole truth: a region that did not answer, a
    /// file system that does not exist.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(why) = &self.state_unknown {
            out.push(format!("pair {}: {why} (drift unknown)", self.pair));
        }
        for (role, side) in [("A", &self.a), ("B", &self.b)] {
            if let Some(e) = &side.error {
                out.push(format!(
                    "pair {}: {role}'s region {}: {e}",
                    self.pair, side.region
                ));
            } else if side.exists == Some(false) {
                out.push(format!(
                    "pair {}: {role}'s file system {} does not exist in {}",
                    self.pair, side.file_system_id, side.region
                ));
            }
        }
        out
    }
}
