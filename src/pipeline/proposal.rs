//! A proposal: one Terraform phase per pair, as `propose` wrote it into the rendered root. The
//! same document is the JSON summary a pipeline reads and the file committed with the pull
//! request (`efs-dr.proposal.json` in the root), which the pipeline's stages compare with the
//! live state: a proposal the live state has moved past is stale.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dr::decide::{Action, Skip};
use crate::dr::pending::{Reviewed, ReviewedStep, Stage};
use crate::dr::phase::Step;
use crate::dr::planner::Operation;
use crate::dr::risk::Risk;
use crate::dr::DrError;
use crate::render::Direction;
use crate::terraform::{ChangeKind, ResourceChange};

/// Committed with the pull request, beside the direction variables.
pub const PROPOSAL_FILE: &str = "efs-dr.proposal.json";

/// The proposal's version of the format (2: each pair's reviewed route as actions).
pub const FORMAT: u32 = 2;

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
    /// What made the plan.
    pub terraform: PlanMaker,
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
    /// What was reviewed: every step of the stage before apply, the Terraform phase and the
    /// stage after apply, each with its actions (the body renders from them, and the stage
    /// before apply refuses when the live decision differs).
    pub route: Vec<ReviewedStep>,
}

impl ProposedPair {
    /// What must hold, or be done, before `terraform apply`, in words.
    pub fn before_apply(&self) -> Vec<String> {
        self.route
            .iter()
            .filter(|s| s.stage == Stage::BeforeApply)
            .flat_map(|s| lines(s, s.gate_only))
            .collect()
    }

    /// What the stage after apply waits for and does, in words: the phase's gate, then the
    /// SDK steps before the next Terraform phase.
    pub fn after_apply(&self) -> Vec<String> {
        self.route
            .iter()
            .filter(|s| s.stage != Stage::BeforeApply)
            .flat_map(|s| lines(s, s.stage == Stage::Apply))
            .collect()
    }
}

/// A step of a stage in words: its SDK change and the stop-writes question (unless only its
/// gate is left), and its gate.
fn lines(s: &ReviewedStep, gate_only: bool) -> Vec<String> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            Action::Sdk { change } if !gate_only => {
                Some(format!("{}: {}", s.step.title(), change.describe()))
            }
            Action::Confirm { question } if !gate_only && question.skip == Skip::WritesStopped => {
                Some(format!("{} ({})", question.text, question.skip.flag()))
            }
            Action::Gate { gate } => Some(format!("gate: {}", gate.describe())),
            _ => None,
        })
        .collect()
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

/// The Terraform that made a proposal's plan, and the plan JSON's format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanMaker {
    pub terraform_version: String,
    pub format_version: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCounts {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// Instances that leave the state without being destroyed (Terraform's own summary
    /// counts them nowhere).
    #[serde(default)]
    pub forget: usize,
}

impl PlanCounts {
    /// The counts of a plan's resource changes, as Terraform prints them.
    pub fn of(changes: &[ResourceChange]) -> PlanCounts {
        let mut c = PlanCounts::default();
        for rc in changes {
            if rc.change.importing.is_some() {
                c.import += 1;
            }
            match rc.kind() {
                ChangeKind::Create => c.add += 1,
                ChangeKind::Update => c.change += 1,
                ChangeKind::Delete => c.destroy += 1,
                ChangeKind::Replace => {
                    c.add += 1;
                    c.destroy += 1;
                }
                ChangeKind::Forget => c.forget += 1,
                ChangeKind::NoOp | ChangeKind::Read | ChangeKind::Unknown => {}
            }
        }
        c
    }

    /// Terraform's own summary line.
    pub fn line(&self) -> String {
        if self.import + self.add + self.change + self.destroy + self.forget == 0 {
            return "No changes. Your infrastructure matches the configuration.".into();
        }
        let import = if self.import > 0 {
            format!("{} to import, ", self.import)
        } else {
            String::new()
        };
        let forget = if self.forget > 0 {
            format!(
                " {} to forget (removed from the state only: nothing is destroyed).",
                self.forget
            )
        } else {
            String::new()
        };
        format!(
            "Plan: {import}{} to add, {} to change, {} to destroy.{forget}",
            self.add, self.change, self.destroy
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commands {
    pub before_apply: String,
    /// What `terraform plan` of this proposal needs beyond its defaults (`-refresh=false` for a
    /// forget: its region is not read). Pipelines that plan themselves add these.
    #[serde(default)]
    pub plan_flags: Vec<String>,
    pub apply: String,
    pub after_apply: String,
    /// After the stage after apply: the next proposal, or None when the operation is done.
    pub next: Option<String>,
}

impl Proposal {
    /// What was reviewed for each pair: its phase and its route.
    pub fn reviewed(&self) -> BTreeMap<String, Reviewed> {
        self.pairs
            .iter()
            .map(|p| {
                (
                    p.pair.clone(),
                    Reviewed {
                        step: p.step,
                        route: p.route.clone(),
                    },
                )
            })
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
