//! Where each pair stands, read once and decided once. One observation of AWS, built from the
//! operation (which regions, which of them probed because they are said to be down, whose
//! writes are watched); what the Terraform state holds; the evidence about A the operation
//! needs (writes only A has, A's backup jobs), gathered by the one rule below; each pair's view,
//! derived whole from all of that and never patched; then its decision and its pending phase.
//! `run` (and so `gate`), `propose`, `check-plan` and `status` all stand on it.

use std::collections::{BTreeMap, BTreeSet};

use super::decide::{decide_pair, Inputs, PairDecision};
use super::error::DrError;
use super::evidence;
use super::observe::observe_with;
use super::pending::{pending, Pending};
use super::phase::Step;
use super::planner::Operation;
use super::view::{PairFacts, PairView, Snapshot};
use super::writes::AOnlyWrites;
use crate::aws::{Aws, AwsError, BackupJobInfo};
use crate::config::Pair;
use crate::ids::FileSystemId;
use crate::render::{replication_address, Direction};
use crate::terraform::Terraform;

/// What one observation reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Look {
    /// The regions read (None: every region of the configuration). A region left out reads as
    /// not observed: a gate that does not need a region does not wait for it (it may be down).
    pub only: Option<BTreeSet<String>>,
    /// Regions read with a single attempt: said to be down, their retries would only hold up
    /// what the other regions' answers allow.
    pub probed: BTreeSet<String>,
    /// (region, file system) whose last write is read.
    pub writes: BTreeSet<(String, FileSystemId)>,
}

impl Look {
    /// What `op` reads of `pairs`: every region, A's regions probed in an unplanned failover,
    /// and, when `with_writes`, the last writes of both file systems (the data at risk).
    pub fn for_operation(op: Option<Operation>, pairs: &[Pair], with_writes: bool) -> Look {
        Look {
            only: None,
            probed: op.map(|op| probed_regions(op, pairs)).unwrap_or_default(),
            writes: if with_writes {
                watched(pairs)
            } else {
                BTreeSet::new()
            },
        }
    }
}

/// Both file systems of every pair, as (region, id).
pub fn watched(pairs: &[Pair]) -> BTreeSet<(String, FileSystemId)> {
    pairs
        .iter()
        .flat_map(|p| [&p.primary, &p.secondary])
        .map(|s| (s.region.to_string(), s.file_system_id.clone()))
        .collect()
}

/// The regions an unplanned failover reads with a single attempt: A's regions (said to be
/// down) that are nobody's B. A region that does not answer at once is treated as down, which
/// is what the operator said (its stale configuration is cleaned up at failback).
pub fn probed_regions(op: Operation, pairs: &[Pair]) -> BTreeSet<String> {
    if op != (Operation::Failover { unplanned: true }) {
        return BTreeSet::new();
    }
    let bs: BTreeSet<String> = pairs
        .iter()
        .map(|p| p.secondary.region.to_string())
        .collect();
    pairs
        .iter()
        .map(|p| p.primary.region.to_string())
        .filter(|a| !bs.contains(a))
        .collect()
}

/// One poll of AWS.
pub async fn observe(aws: &Aws, look: &Look) -> Snapshot {
    observe_with(aws, look.only.as_ref(), &look.probed, &look.writes).await
}

/// The resource addresses the Terraform state holds.
pub async fn read_state(tf: &Terraform) -> Result<BTreeSet<String>, DrError> {
    Ok(tf.state_list().await?.into_iter().collect())
}

/// What is known beyond one observation, for every pair.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The addresses the Terraform state holds (None: not read).
    pub state: Option<BTreeSet<String>>,
    /// Writes only A has, per pair, where they are at stake.
    pub writes_on_a: BTreeMap<String, AOnlyWrites>,
    /// A's backup jobs, newest first, per pair whose recovery point is decided or waited for;
    /// why they could not be read.
    pub backup_jobs: BTreeMap<String, Result<Vec<BackupJobInfo>, AwsError>>,
    /// The hook record (None: not read, or no pair has hooks).
    pub hooks: Option<crate::hooks::ledger::Ledger>,
    /// The lag alarms CloudWatch has, by region (efs-dr's names only; a region absent: not read).
    pub alarms: BTreeMap<String, BTreeSet<String>>,
    /// What could not be read on the way, per pair: the operator must hear of each.
    pub unread: Vec<(String, String)>,
}

impl Facts {
    pub fn with_state(state: Option<BTreeSet<String>>) -> Facts {
        Facts {
            state,
            ..Facts::default()
        }
    }

    /// The state, and with it what decides imports and forgets beside it: the lag alarms
    /// CloudWatch has. Only a decision with the state in hand imports an alarm, so with no
    /// state (a gate's poll) CloudWatch is not asked. The run, `propose` and `check-plan` all
    /// decide from these facts, so they agree on what a phase may change.
    pub async fn read_with_state(
        aws: &Aws,
        pairs: &[Pair],
        state: Option<BTreeSet<String>>,
    ) -> Facts {
        let state_known = state.is_some();
        let mut facts = Facts::with_state(state);
        if state_known {
            facts.alarms = lag_alarms(aws, pairs)
                .await
                .into_iter()
                .filter_map(|(region, read)| match read {
                    Ok(alarms) => Some((region, alarms.into_keys().collect())),
                    Err(e) => {
                        tracing::warn!(region = %region, error = %e, "the lag alarms could not be read");
                        None
                    }
                })
                .collect();
        }
        facts
    }

    fn of(&self, pair: &Pair) -> PairFacts {
        let holds = |d| {
            let state = self.state.as_ref()?;
            Some(replication_address(pair, d).is_some_and(|a| state.contains(&a)))
        };
        PairFacts {
            state_forward: holds(Direction::Forward),
            state_reverse: holds(Direction::Reverse),
            state_alarms: self.state.as_ref().map(|state| {
                [Direction::Forward, Direction::Reverse]
                    .into_iter()
                    .filter_map(|d| crate::render::alarm_address(pair, d))
                    .filter(|a| state.contains(a))
                    .collect()
            }),
            hooks_done: pair
                .hooks
                .iter()
                .flat_map(|h| h.commands.keys())
                .filter(|h| self.hooks.as_ref().is_some_and(|l| l.done(&pair.name, **h)))
                .copied()
                .collect(),
            hooks_due: pair
                .hooks
                .iter()
                .flat_map(|h| h.commands.keys())
                .filter(|h| !self.hooks.as_ref().is_some_and(|l| l.done(&pair.name, **h)))
                .copied()
                .collect(),
            alarms_in_aws: pair.alarms.as_ref().and_then(|_| {
                let mut names = BTreeSet::new();
                for d in [Direction::Forward, Direction::Reverse] {
                    let (Some(name), Some(region)) = (
                        crate::render::alarm_name(pair, d),
                        crate::render::alarm_region(pair, d),
                    ) else {
                        continue;
                    };
                    if self.alarms.get(region)?.contains(&name) {
                        names.insert(name);
                    }
                }
                Some(names)
            }),
            a_only_writes: self.writes_on_a.get(&pair.name).cloned(),
            a_backup_jobs: match self.backup_jobs.get(&pair.name) {
                Some(Ok(jobs)) => jobs.clone(),
                _ => Vec::new(),
            },
            a_backup_jobs_unread: match self.backup_jobs.get(&pair.name) {
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            },
        }
    }
}

/// Each pair's view, whole: the observation and the facts.
pub fn views(pairs: &[Pair], snapshot: &Snapshot, facts: &Facts) -> Vec<PairView> {
    pairs
        .iter()
        .map(|p| PairView::with_facts(p, snapshot, facts.of(p)))
        .collect()
}

/// The one rule for when writes only A has are at stake: a failback from here would replicate
/// B -> A into A. B serves (no replication either way, B writable) and A exists, or A cannot
/// be seen (then nobody can tell, which is said). Once B -> A exists the question was settled
/// before; once B is fenced the cut-over is past. `op` None: `status`, which tells what a
/// failback would overwrite.
pub fn writes_on_a_at_stake(op: Option<Operation>, view: &PairView) -> bool {
    let failback = op.is_none_or(|op| op == Operation::Failback);
    let b_serving = view.forward().is_none() && view.reverse().is_none() && view.b.writable();
    failback && b_serving && (view.a.file_system.is_some() || !view.a.reachable())
}

/// efs-dr's lag alarms by region, or why a region's could not be read.
pub type LagAlarms =
    BTreeMap<String, Result<BTreeMap<String, crate::aws::AlarmInfo>, crate::aws::AwsError>>;

/// efs-dr's lag alarms in each region of the pairs that have an `alarms` block: one paginated
/// DescribeAlarms per region, the regions at once. A region that did not answer the
/// observation is not asked (it is absent). `run` decides imports from it, `doctor` checks it.
pub async fn lag_alarms(aws: &Aws, pairs: &[Pair]) -> LagAlarms {
    let regions: BTreeSet<&crate::ids::Region> = pairs
        .iter()
        .filter(|p| p.alarms.is_some())
        .flat_map(|p| [&p.primary.region, &p.secondary.region])
        .filter(|r| aws.unanswered(r.as_str()).is_none())
        .collect();
    let asks = regions
        .into_iter()
        .map(|region| async move { (region.to_string(), aws.region(region).lag_alarms().await) });
    futures::future::join_all(asks).await.into_iter().collect()
}

/// Gathers, for every pair where the rule says they are at stake, writes only A has (pairs in
/// `known` keep what was assessed before: a run assesses once, before anything overwrites A);
/// and, when `with_jobs`, A's backup jobs where a recovery point of A is needed.
pub async fn gather(
    aws: &Aws,
    op: Option<Operation>,
    pairs: &[Pair],
    snapshot: &Snapshot,
    state: Option<BTreeSet<String>>,
    known: Option<&BTreeMap<String, AOnlyWrites>>,
    with_jobs: bool,
) -> Facts {
    let mut facts = Facts::read_with_state(aws, pairs, state).await;
    for pair in pairs {
        let view = PairView::with_facts(pair, snapshot, facts.of(pair));
        let writes = match known {
            Some(known) => known.get(&pair.name).cloned(),
            None if writes_on_a_at_stake(op, &view) => {
                let (writes, unread) = evidence::a_only_writes(aws, pair, &view).await;
                facts
                    .unread
                    .extend(unread.into_iter().map(|u| (pair.name.clone(), u)));
                Some(writes)
            }
            None => None,
        };
        let Some(writes) = writes else {
            continue;
        };
        if with_jobs && !writes.is_none() && pair.backup.is_some() {
            let jobs = evidence::a_backup_jobs(aws, pair, &view).await;
            if let Err(e) = &jobs {
                facts.unread.push((
                    pair.name.clone(),
                    format!("A's backup jobs could not be read ({e})"),
                ));
            }
            facts.backup_jobs.insert(pair.name.clone(), jobs);
        }
        facts.writes_on_a.insert(pair.name.clone(), writes);
    }
    facts
}

/// One pair's position: its view, what the operation means for it, and (through `pending`)
/// where a pipeline stands.
#[derive(Debug, Clone)]
pub struct PairPosition {
    pub view: PairView,
    pub decision: Result<PairDecision, DrError>,
}

impl PairPosition {
    /// The steps left, in order (none when the decision is an error).
    pub fn steps(&self) -> Vec<Step> {
        self.decision
            .as_ref()
            .map(|d| d.phases.iter().map(|p| p.step).collect())
            .unwrap_or_default()
    }

    /// Where a pipeline stands: the next Terraform phase and what comes before it (None when
    /// the decision is an error).
    pub fn pending(&self) -> Option<Pending> {
        self.decision
            .as_ref()
            .ok()
            .map(|_| pending(&self.steps(), &self.view))
    }
}

/// Decides `op` for every pair of `views` (each view names its pair in `pairs`).
pub fn decide(
    op: Operation,
    pairs: &[Pair],
    views: Vec<PairView>,
    inputs: Inputs<'_>,
) -> Vec<PairPosition> {
    views
        .into_iter()
        .map(|view| {
            let decision = match pairs.iter().find(|p| p.name == view.pair) {
                Some(pair) => decide_pair(op, pair, &view, inputs),
                None => Err(DrError::Failed(format!(
                    "pair {} is not in the configuration",
                    view.pair
                ))),
            };
            PairPosition { view, decision }
        })
        .collect()
}

/// The direction each pair has in AWS now: what to render for pairs a phase does not change,
/// so that their plan is empty.
/// The pairs whose B is fenced (protection DISABLED) in `snapshot`: with nothing replicating,
/// A serves (a failback's last phase).
pub fn b_fenced(pairs: &[Pair], snapshot: &Snapshot) -> BTreeSet<String> {
    views(pairs, snapshot, &Facts::default())
        .into_iter()
        .filter(|v| v.b.protection() == Some(crate::aws::Protection::Disabled))
        .map(|v| v.pair)
        .collect()
}

pub fn live_directions(pairs: &[Pair], snapshot: &Snapshot) -> BTreeMap<String, Direction> {
    views(pairs, snapshot, &Facts::default())
        .into_iter()
        .map(|v| (v.pair.clone(), v.live_direction()))
        .collect()
}
