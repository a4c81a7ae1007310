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

/// Where a pair stands, in the operator's words, with the command that goes on from there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Situation {
    /// A serves, A -> B replicates and has synced.
    Home,
    /// A's region does not answer; B still has A -> B: an unplanned failover makes B
    /// writable.
    PrimaryDown,
    /// A -> B exists and has not completed its first sync: B is not ready to fail over to.
    FirstSync,
    /// Nothing replicates and efs-dr never rendered the pair.
    NotInitialised,
    /// A -> B is being deleted: a failover stopped on the way.
    FailingOver,
    /// Nothing replicates and B serves; `stale_on_a`: A's region still holds the old
    /// configuration (an unplanned failover).
    FailedOver { stale_on_a: bool },
    /// A failback stopped at phase `phase` of `of`.
    FailingBack {
        phase: usize,
        of: usize,
        title: String,
    },
    /// What AWS and the rendered root say does not match any point of an operation.
    Unclear { why: String },
    /// A region did not answer: nobody can tell.
    Unknown { why: String },
}

impl Situation {
    /// One line: where the pair is and what to run.
    pub fn describe(&self) -> String {
        match self {
            Situation::Home => "home: A serves, A -> B replicates (to fail over: `efs-dr failover`)".into(),
            Situation::PrimaryDown => "A's region does not answer and B is still a read-only destination: to make B writable, `efs-dr failover --unplanned`".into(),
            Situation::FirstSync => "initialising: A -> B has not completed its first sync, B is not ready to fail over to: `efs-dr init` waits for it".into(),
            Situation::NotInitialised => "not initialised: run `efs-dr init`".into(),
            Situation::FailingOver => "failover in progress (A -> B is being deleted): run `efs-dr failover`".into(),
            Situation::FailedOver { stale_on_a: false } => "failed over, B serving: when A is to serve again, run `efs-dr failback`".into(),
            Situation::FailedOver { stale_on_a: true } => "failed over (unplanned), B serving: when A's region is back, run `efs-dr failback`".into(),
            Situation::FailingBack { phase, of, title } => format!("failback in progress at phase {phase} of {of} (\"{title}\"): run `efs-dr failback`"),
            Situation::Unclear { why } => format!("unclear: {why}"),
            Situation::Unknown { why } => format!("unknown: {why}"),
        }
    }
}

/// Where the pair in `v` stands, from AWS and the rendered direction.
pub fn situation(v: &PairView, desired: Option<Direction>, unknown: Option<&str>) -> Situation {
    use super::phase::Step;
    use super::planner::{failback_phases, plan_pair, Operation};
    if let Some(why) = unknown {
        return Situation::Unknown {
            why: why.to_string(),
        };
    }
    let failing_back = || match plan_pair(Operation::Failback, v) {
        Ok(plan) => {
            let all = failback_phases();
            let left: Vec<Step> = plan.steps.into_iter().filter(|s| all.contains(s)).collect();
            let mut done = all.len().saturating_sub(left.len());
            // A's protection set and nothing after it yet: the first phase is done.
            if left.first() == Some(&Step::DisableProtectionA)
                && v.a.protection() == Some(Protection::Disabled)
            {
                done += 1;
            }
            let at = all[done.min(all.len() - 1)];
            Situation::FailingBack {
                phase: done.min(all.len() - 1) + 1,
                of: all.len(),
                title: at.title().to_string(),
            }
        }
        Err(e) => Situation::Unclear { why: e.message() },
    };
    if let Some(r) = v.forward() {
        return match r.status {
            ReplicationStatus::Deleting if v.forward_in_b.is_none() && v.b.reachable() => {
                failing_back()
            }
            ReplicationStatus::Deleting => Situation::FailingOver,
            _ if !v.a.reachable() => Situation::PrimaryDown,
            _ if r.last_replicated.is_none() => Situation::FirstSync,
            _ => Situation::Home,
        };
    }
    if v.reverse().is_some() {
        return failing_back();
    }
    let stale_on_a = v.stale_forward_in_a().is_some();
    let fenced = |s: &SideView| s.protection() == Some(Protection::Disabled);
    if !stale_on_a && (fenced(&v.a) || fenced(&v.b)) {
        return failing_back();
    }
    match desired {
        _ if stale_on_a => Situation::FailedOver { stale_on_a },
        Some(Direction::None) => Situation::FailedOver { stale_on_a },
        None => Situation::NotInitialised,
        Some(d) => Situation::Unclear {
            why: format!("nothing replicates, yet the rendered variables say \"{}\": if B serves (a failover made outside efs-dr), run `efs-dr failback`; if the pair was never set up, run `efs-dr init`", d.as_str()),
        },
    }
}

/// One way AWS, the state and the rendered root disagree, or the replication is unfit to fail
/// over to: what is wrong, in words that name the command, and that command as data (for
/// doctor's next step, and anything else that acts on it). Serialised as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub text: String,
    /// The command that fixes it.
    pub fix: String,
}

impl Drift {
    fn new(text: String, fix: impl Into<String>) -> Drift {
        Drift {
            text,
            fix: fix.into(),
        }
    }
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Drift {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[derive(Debug, Serialize)]
pub struct PairStatus {
    pub pair: String,
    /// Where the pair stands and what to run.
    pub situation: Situation,
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
    pub drift: Vec<Drift>,
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
            drift.push(Drift::new(format!(
                "the rendered variables say \"{}\" but AWS has \"{}\" (a plain `terraform apply` would change it): `{fix}` sets them to what AWS has",
                d.as_str(),
                live.as_str()
            ), fix));
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
            drift.push(Drift::new(format!(
                "the Terraform state holds {arrow} but AWS does not (a plan would create it again): `{fix}` forgets it"
            ), fix));
        }
        if !in_state && live == dir {
            drift.push(Drift::new(
                format!("{arrow} exists in AWS but not in the Terraform state: `{fix}` imports it"),
                fix,
            ));
        }
    }
    if let Some(r) = v.forward().filter(|r| r.last_replicated.is_none()) {
        drift.push(Drift::new(format!(
            "A -> B is {} but its first sync has not completed: B holds none of A's data and is not ready to fail over to; `efs-dr init` waits for it",
            r.status
        ), "efs-dr init"));
    }
    let stale = v.stale_forward_in_a().is_some();
    if stale {
        drift.push(Drift::new("A's region holds a stale A -> B configuration (an unplanned failover): `efs-dr failback` removes it".into(), "efs-dr failback"));
    }
    for f in &v.foreign {
        let delete = format!(
            "aws efs delete-replication-configuration --source-file-system-id {}",
            f.source_id
        );
        drift.push(Drift::new(format!(
            "{} -> {} involves the pair but is not the pair's replication: efs-dr does not touch it; delete it in AWS (`{delete}`) or take the pair out of the configuration",
            f.source_id, f.destination_id
        ), delete));
    }
    PairStatus {
        situation: situation(v, desired, unknown.as_deref()),
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
    let (mut statuses, views) = collect_with_views(config, aws, tf, pairs).await;
    for (s, v) in statuses.iter_mut().zip(&views) {
        s.drift.extend(health(v, config.gates.max_lag));
    }
    statuses
}

/// Every selected pair's status (its drift without the replication's health), and the view
/// of each it was derived from (one observation).
pub async fn collect_with_views(
    config: &Config,
    aws: &Aws,
    tf: Option<&Terraform>,
    pairs: &[Pair],
) -> (Vec<PairStatus>, Vec<PairView>) {
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
    let views = position::views(pairs, &snapshot, &facts);
    let statuses = views
        .iter()
        .map(|v| {
            let mut s = pair_status(v, desired.get(&v.pair).copied());
            s.state_unknown = state_unknown.clone();
            s
        })
        .collect();
    (statuses, views)
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
fn health(v: &PairView, max_lag: std::time::Duration) -> Vec<Drift> {
    let mut out = Vec::new();
    let Some((arrow, r)) = v
        .forward()
        .map(|r| ("A -> B", r))
        .or(v.reverse().map(|r| ("B -> A", r)))
    else {
        return out;
    };
    if r.status.is_stalled() {
        out.push(Drift::new(format!(
            "{arrow} is {}{}: fix its cause in AWS (the EFS console shows it; `aws efs describe-replication-configurations` gives the message); until then a failover loses what it has not synced",
            r.status,
            r.status_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ), "aws efs describe-replication-configurations"));
    }
    if let Some(lag) = v.lag().filter(|l| *l > max_lag) {
        out.push(Drift::new(format!(
            "{arrow}'s last sync was {} ago, more than max_lag {}: a planned failover would be refused; find out why it does not sync (`aws cloudwatch get-metric-statistics --namespace AWS/EFS --metric-name TimeSinceLastSync`), or fail over anyway with `efs-dr failover --force`",
            super::gate::fmt_dur(lag),
            super::gate::fmt_dur(max_lag)
        ), "aws cloudwatch get-metric-statistics --namespace AWS/EFS --metric-name TimeSinceLastSync"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::view::tests::*;

    fn view(s: crate::dr::view::Snapshot) -> PairView {
        PairView::derive(&pair(), &s)
    }

    /// Every point of an operation, as status names it, with the command that goes on.
    #[test]
    fn status_says_where_the_pair_is_and_what_to_run() {
        let f = |st: &str, last| repl(A, B, st, last);
        let r = |st: &str| repl(B, A, st, Some(10));
        let cases = [
            (
                "home",
                view(snap(
                    "ENABLED",
                    "REPLICATING",
                    vec![f("ENABLED", Some(10))],
                    vec![f("ENABLED", Some(10))],
                    20,
                )),
                Some(Direction::Forward),
            ),
            (
                "first sync",
                view(snap(
                    "ENABLED",
                    "REPLICATING",
                    vec![f("ENABLING", None)],
                    vec![f("ENABLING", None)],
                    20,
                )),
                Some(Direction::Forward),
            ),
            (
                "never set up",
                view(snap("ENABLED", "ENABLED", vec![], vec![], 20)),
                None,
            ),
            (
                "a failover deleting",
                view(snap(
                    "ENABLED",
                    "REPLICATING",
                    vec![f("DELETING", Some(10))],
                    vec![f("DELETING", Some(10))],
                    20,
                )),
                Some(Direction::None),
            ),
            (
                "failed over",
                view(snap("ENABLED", "ENABLED", vec![], vec![], 20)),
                Some(Direction::None),
            ),
            (
                "unplanned, A's stale record",
                view(snap(
                    "ENABLED",
                    "ENABLED",
                    vec![f("ERROR", Some(10))],
                    vec![],
                    20,
                )),
                Some(Direction::None),
            ),
            (
                "failback: A fenced",
                view(snap("DISABLED", "ENABLED", vec![], vec![], 20)),
                Some(Direction::None),
            ),
            (
                "failback: B -> A replicating",
                view(snap(
                    "REPLICATING",
                    "ENABLED",
                    vec![r("ENABLED")],
                    vec![r("ENABLED")],
                    20,
                )),
                Some(Direction::Reverse),
            ),
            (
                "failback: B fenced, B -> A deleting",
                view(snap(
                    "REPLICATING",
                    "DISABLED",
                    vec![r("DELETING")],
                    vec![r("DELETING")],
                    20,
                )),
                Some(Direction::None),
            ),
            (
                "failback: at its last phase",
                view(snap("ENABLED", "DISABLED", vec![], vec![], 20)),
                Some(Direction::None),
            ),
            (
                "rendered A -> B, nothing replicates",
                view(snap("ENABLED", "ENABLED", vec![], vec![], 20)),
                Some(Direction::Forward),
            ),
            (
                "A's region down, B failed over",
                view(down(
                    snap("ENABLED", "ENABLED", vec![], vec![], 20),
                    "us-east-1",
                )),
                Some(Direction::None),
            ),
            (
                "A's region down, B a destination",
                view(down(
                    snap(
                        "ENABLED",
                        "REPLICATING",
                        vec![],
                        vec![f("ENABLED", Some(10))],
                        20,
                    ),
                    "us-east-1",
                )),
                Some(Direction::Forward),
            ),
        ];
        let shown: Vec<String> = cases
            .into_iter()
            .map(|(what, v, desired)| {
                let s = pair_status(&v, desired);
                format!("{what}: {}", s.situation.describe())
            })
            .collect();
        insta::assert_snapshot!(shown.join("\n"));
    }

    /// Every drift line names the command that fixes it.
    #[test]
    fn every_drift_line_names_a_command() {
        let f = repl(A, B, "ENABLED", Some(10));
        let mut v = view(snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 20));
        v.state_forward = Some(false);
        v.state_reverse = Some(true);
        let other = crate::aws::ReplicationInfo {
            destination_id: id("fs-99999999"),
            ..repl(A, B, "ENABLED", None)
        };
        let mut odd = view(snap(
            "ENABLED",
            "ENABLED",
            vec![repl(A, B, "ERROR", Some(1)), other],
            vec![],
            20,
        ));
        odd.state_forward = Some(true);
        let unsynced = view(snap(
            "ENABLED",
            "REPLICATING",
            vec![repl(A, B, "ENABLED", None)],
            vec![repl(A, B, "ENABLED", None)],
            20,
        ));
        let mut lines = pair_status(&v, Some(Direction::None)).drift;
        lines.extend(pair_status(&odd, Some(Direction::Forward)).drift);
        lines.extend(pair_status(&unsynced, Some(Direction::Forward)).drift);
        assert!(lines.len() >= 6, "{lines:#?}");
        for line in &lines {
            assert!(
                line.text.contains(&format!("`{}`", line.fix)),
                "names its command in its words: {line}"
            );
        }
    }
}
