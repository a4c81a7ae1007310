//! A proposal: one Terraform phase per pair, as `propose` wrote it into the rendered root. The
//! same document is the JSON summary a pipeline reads and the file committed with the pull
//! request (`efs-dr.proposal.json` in the root), which the pipeline's stages compare with the
//! live state: a proposal the live state has moved past is stale.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dr::phase::Step;
use crate::dr::planner::Operation;
use crate::dr::risk::Risk;
use crate::dr::DrError;
use crate::render::Direction;

/// Committed with the pull request, beside the direction variables.
pub const PROPOSAL_FILE: &str = "efs-dr.proposal.json";

/// The proposal's version of the format.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub format: u32,
    pub operation: Operation,
    /// One line, for the pull request's title.
    pub title: String,
    /// AWS time when the live state was read.
    pub proposed_at: Option<String>,
    pub pairs: Vec<ProposedPair>,
    /// Selected pairs with no Terraform phase to propose, and why.
    pub unchanged: Vec<Unchanged>,
    pub plan: PlanCounts,
    /// The commands the pipeline runs, in order.
    pub commands: Commands,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposedPair {
    pub pair: String,
    /// "fs-... (region)".
    pub a: String,
    pub b: String,
    pub step: Step,
    pub title: String,
    pub direction_before: Direction,
    pub direction_after: Direction,
    /// What was found in AWS and the state.
    pub found: String,
    pub status: LiveStatus,
    /// What a failover may lose (failovers only).
    pub risk: Option<Risk>,
    /// What must hold, or be done, before `terraform apply`.
    pub before_apply: Vec<String>,
    /// What the stage after apply waits for.
    pub after_apply: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unchanged {
    pub pair: String,
    pub found: String,
}

/// A pair's live status when the proposal was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStatus {
    /// "A -> B ENABLED", or "none".
    pub replication: String,
    pub lag_seconds: Option<u64>,
    pub last_sync: Option<String>,
    pub protection_a: Option<String>,
    pub protection_b: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCounts {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl PlanCounts {
    /// Terraform's own summary line.
    pub fn line(&self) -> String {
        if self.import + self.add + self.change + self.destroy == 0 {
            return "No changes. Your infrastructure matches the configuration.".into();
        }
        let import = if self.import > 0 {
            format!("{} to import, ", self.import)
        } else {
            String::new()
        };
        format!(
            "Plan: {import}{} to add, {} to change, {} to destroy.",
            self.add, self.change, self.destroy
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commands {
    pub before_apply: String,
    pub apply: String,
    pub after_apply: String,
    /// After the stage after apply: the next proposal, or None when the operation is done.
    pub next: Option<String>,
}

impl Proposal {
    /// Each pair's proposed phase.
    pub fn steps(&self) -> BTreeMap<String, Step> {
        self.pairs
            .iter()
            .map(|p| (p.pair.clone(), p.step))
            .collect()
    }

    pub fn write(&self, dir: &Path) -> Result<(), DrError> {
        let path = dir.join(PROPOSAL_FILE);
        let text = serde_json::to_string_pretty(self).expect("a proposal serialises") + "\n";
        std::fs::write(&path, text)
            .map_err(|e| DrError::Failed(format!("cannot write {}: {e}", path.display())))
    }

    /// The root in `dir` asks for what was reviewed: each proposed pair's direction in the
    /// direction variables is the proposal's. Otherwise the root was changed after the review
    /// (re-rendered, edited), and applying it would apply something nobody reviewed.
    pub fn check_root(&self, dir: &Path) -> Result<(), DrError> {
        let path = dir.join(crate::render::DIRECTIONS_FILE);
        let live = crate::render::read_directions(dir);
        let differ: Vec<String> = self
            .pairs
            .iter()
            .filter_map(|p| {
                let found = live.as_ref().and_then(|d| d.get(&p.pair).copied());
                (found != Some(p.direction_after)).then(|| {
                    format!(
                        "pair {}: the proposal asks for \"{}\", {} holds {}",
                        p.pair,
                        p.direction_after.as_str(),
                        crate::render::DIRECTIONS_FILE,
                        found.map_or("nothing".to_string(), |d| format!("\"{}\"", d.as_str()))
                    )
                })
            })
            .collect();
        if differ.is_empty() {
            return Ok(());
        }
        Err(DrError::Refused(format!(
            "the root is not what was reviewed in \"{}\":\n{}\nRestore the committed files (`git checkout -- {}`) and run this stage again; nothing was changed",
            self.title,
            differ.join("\n"),
            path.parent().unwrap_or(dir).display()
        )))
    }

    /// The proposal committed in `dir`, if any.
    pub fn load(dir: &Path) -> Result<Option<Proposal>, DrError> {
        let path = dir.join(PROPOSAL_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(DrError::Failed(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let p: Proposal = serde_json::from_str(&text).map_err(|e| {
            DrError::Failed(format!(
                "{} is not a proposal efs-dr can read ({e}); restore it from git, or run `efs-dr propose` again",
                path.display()
            ))
        })?;
        if p.format != FORMAT {
            return Err(DrError::Failed(format!(
                "{} has format {}, this efs-dr reads format {FORMAT}; run `efs-dr propose` again with this version",
                path.display(),
                p.format
            )));
        }
        Ok(Some(p))
    }
}
