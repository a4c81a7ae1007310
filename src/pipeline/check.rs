//! `check-plan`: a plan made by someone else's pipeline, checked against the pending phase of
//! every pair as the live state has it now. A plan that changes more than that phase allows,
//! that sets a direction the live state is not ready for (a stale proposal), that was made for
//! another root, or whose JSON does not hold together, is refused with every reason.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::proposal::{PlanCounts, Proposal};
use crate::config::Pair;
use crate::dr::context::Context;
use crate::dr::decide::{self, Action, Inputs};
use crate::dr::pending::settled_direction;
use crate::dr::phase::{RunFlags, Step};
use crate::dr::planner::Operation;
use crate::dr::position::{self, Facts, Look, PairPosition};
use crate::dr::round::TerraformRound;
use crate::dr::DrError;
use crate::render::{replication_address, Direction};
use crate::terraform::{safety, ChangeKind, PlanJson};

/// A plan that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub counts: PlanCounts,
    /// Each pair the plan moves, and the phase that allows it.
    pub phases: BTreeMap<String, Step>,
}

/// The `directions` variable of a plan made from efs-dr's root.
pub fn plan_directions(plan: &PlanJson) -> Option<BTreeMap<String, String>> {
    let value = plan.variables.as_ref()?.get("directions")?.get("value")?;
    serde_json::from_value(value.clone()).ok()
}

fn managed_addresses(module: &Value, out: &mut BTreeSet<String>) {
    if let Some(resources) = module.get("resources").and_then(Value::as_array) {
        for r in resources {
            if r.get("mode").and_then(Value::as_str) == Some("managed") {
                if let Some(a) = r.get("address").and_then(Value::as_str) {
                    out.insert(a.to_string());
                }
            }
        }
    }
    if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
        for c in children {
            managed_addresses(c, out);
        }
    }
}

fn addresses(values: Option<&Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(root) = values.and_then(|v| v.get("root_module")) {
        managed_addresses(root, &mut out);
    }
    if let Some(root) = values
        .and_then(|v| v.get("values"))
        .and_then(|v| v.get("root_module"))
    {
        managed_addresses(root, &mut out);
    }
    out
}

/// Internal consistency of a plan JSON: its changes agree with the state before and the values
/// after, and its direction variables agree with the replications it leaves. Every problem.
pub fn inconsistencies(plan: &PlanJson, pairs: &[crate::config::Pair]) -> Vec<String> {
    let mut out = Vec::new();
    if plan.format_version.is_empty() {
        out.push("it has no format_version: it is not `terraform show -json` of a plan".into());
    }
    if plan.planned_values.is_none() {
        out.push("it has no planned_values".into());
        return out;
    }
    let before = addresses(plan.prior_state.as_ref());
    let after = addresses(plan.planned_values.as_ref());
    let kind: BTreeMap<&str, ChangeKind> = plan
        .resource_changes
        .iter()
        .map(|c| (c.address.as_str(), c.kind()))
        .collect();
    for a in after.difference(&before) {
        let imported = plan
            .resource_changes
            .iter()
            .any(|c| c.address == *a && c.change.importing.is_some());
        if !imported && kind.get(a.as_str()) != Some(&ChangeKind::Create) {
            out.push(format!("{a} is in planned_values but no change creates it"));
        }
    }
    for a in before.difference(&after) {
        if kind.get(a.as_str()) != Some(&ChangeKind::Delete) {
            out.push(format!(
                "{a} leaves the planned values but no change deletes it"
            ));
        }
    }
    for c in &plan.resource_changes {
        let (b, a) = (&c.change.before, &c.change.after);
        let null = |v: &Option<Value>| v.as_ref().is_none_or(Value::is_null);
        let bad = match c.kind() {
            ChangeKind::Create => !null(b) || null(a),
            ChangeKind::Delete => null(b) || !null(a),
            ChangeKind::NoOp => c.change.importing.is_none() && b != a,
            _ => false,
        };
        if bad {
            out.push(format!(
                "the change of {} says {} but its before and after values disagree",
                c.address,
                c.kind().as_str()
            ));
        }
    }
    if let Some(dirs) = plan_directions(plan) {
        for pair in pairs {
            let Some(d) = dirs.get(&pair.name) else {
                continue;
            };
            for (direction, name) in [
                (Direction::Forward, "forward"),
                (Direction::Reverse, "reverse"),
            ] {
                let Some(address) = replication_address(pair, direction) else {
                    continue;
                };
                let wanted = d == name;
                if after.contains(&address) != wanted && !after.is_empty() {
                    out.push(format!(
                        "pair {}: its direction variable is \"{d}\" but the planned values {} {address}",
                        pair.name,
                        if wanted { "lack" } else { "hold" }
                    ));
                }
            }
        }
    }
    out
}

/// What a plan does to one pair, against its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairCheck {
    /// The plan moves the pair by its pending phase, whose actions say what it may change.
    Moves { step: Step, actions: Vec<Action> },
    /// The plan leaves the pair as it is.
    Untouched,
    /// The plan or the proposal is not what the live state is ready for: why.
    Stale(String),
}

/// Checks the direction a plan sets for a pair (and the phase a committed proposal names)
/// against the pair's position. Pure.
pub fn check_pair(
    pair: &Pair,
    position: &PairPosition,
    planned: Option<&str>,
    proposed: Option<Step>,
    inputs: Inputs<'_>,
) -> Result<PairCheck, DrError> {
    let view = &position.view;
    let next = position.pending().and_then(|p| p.apply);
    let settled = settled_direction(view);
    let expected = next.and_then(|s| s.spec().direction()).unwrap_or(settled);
    if let Some(proposed) = proposed {
        if Some(proposed) != next {
            return Ok(PairCheck::Stale(format!(
                "the proposal is \"{}\" but the live state is now at {}",
                proposed.title(),
                next.map(|s| format!("\"{}\"", s.title()))
                    .unwrap_or_else(|| "no Terraform phase".into())
            )));
        }
    }
    let planned_direction = planned.and_then(Direction::parse);
    if planned_direction == Some(settled) && expected != settled {
        // Not moved by this plan: its phase waits for another proposal.
        return Ok(PairCheck::Untouched);
    }
    if planned_direction != Some(expected) {
        return Ok(PairCheck::Stale(format!(
            "the plan sets direction \"{}\", but {} (direction \"{}\"); live: {}",
            planned.unwrap_or("?"),
            match next {
                Some(s) => format!("the next phase is \"{}\"", s.title()),
                None => "no Terraform phase is pending".into(),
            },
            expected.as_str(),
            view.live_direction().as_str()
        )));
    }
    match next {
        Some(step) => Ok(PairCheck::Moves {
            step,
            actions: decide::actions(pair, step, view, inputs)?,
        }),
        None => Ok(PairCheck::Untouched),
    }
}

/// Checks `plan` against the live state. `Failed` for a plan of another root, `Refused` for
/// one that must not be applied.
pub async fn check_plan(
    ctx: &Context,
    op: Operation,
    plan: &PlanJson,
    proposal: Option<&Proposal>,
) -> Result<Checked, DrError> {
    let dir = ctx.tf.dir.display().to_string();
    let Some(dirs) = plan_directions(plan) else {
        return Err(DrError::Failed(format!(
            "this plan was not made from efs-dr's root {dir}: it has no `directions` variable. Make the plan in {dir} (`terraform -chdir={dir} plan -out=PLAN`) and check that"
        )));
    };
    let ours: BTreeSet<&str> = ctx.config.pairs.iter().map(|p| p.name.as_str()).collect();
    let theirs: BTreeSet<&str> = dirs.keys().map(String::as_str).collect();
    if ours != theirs {
        return Err(DrError::Failed(format!(
            "this plan was made from another root: its pairs ({}) are not those of {} ({}). Make the plan in {dir} and check that",
            theirs.into_iter().collect::<Vec<_>>().join(", "),
            ctx.config.file.display(),
            ours.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let broken = inconsistencies(plan, &ctx.config.pairs);
    if !broken.is_empty() {
        return Err(DrError::Refused(format!(
            "the plan JSON does not hold together, so it may have been edited; apply nothing from it:\n  - {}\nMake it again: `terraform plan -out=PLAN && terraform show -json PLAN`",
            broken.join("\n  - ")
        )));
    }
    if let Some(p) = proposal {
        if p.operation != op {
            return Err(DrError::Refused(format!(
                "the committed proposal is for a {}, not a {}: check the plan with `efs-dr check-plan --operation {}`, or propose again",
                p.operation.name(),
                op.name(),
                p.operation.args()
            )));
        }
    }

    let inputs = Inputs {
        gates: &ctx.config.gates,
        flags: RunFlags {
            force: true,
            ..RunFlags::default()
        },
    };
    // The pending phase decides what the plan may change; A's writes are the stage before
    // apply's to judge, so no evidence is gathered here.
    let look = Look::for_operation(Some(op), &ctx.config.pairs, false);
    let snapshot = position::observe(&ctx.aws, &look).await;
    let state = position::read_state(&ctx.tf).await?;
    let views = position::views(
        &ctx.config.pairs,
        &snapshot,
        &Facts::with_state(Some(state)),
    );
    let positions = position::decide(op, &ctx.config.pairs, views, inputs);
    let mut round: Vec<(String, Vec<Action>)> = Vec::new();
    let mut phases = BTreeMap::new();
    let mut stale = Vec::new();
    for (pair, position) in ctx.config.pairs.iter().zip(&positions) {
        let planned = dirs.get(&pair.name).map(String::as_str);
        let proposed = proposal.and_then(|p| p.pairs.iter().find(|x| x.pair == pair.name));
        match check_pair(pair, position, planned, proposed.map(|p| p.step), inputs)? {
            PairCheck::Moves { step, actions } => {
                phases.insert(pair.name.clone(), step);
                round.push((pair.name.clone(), actions));
            }
            PairCheck::Untouched => {}
            PairCheck::Stale(why) => stale.push(format!("pair {}: {why}", pair.name)),
        }
    }
    let round = TerraformRound::from_actions(round.iter().map(|(n, a)| (n.as_str(), a.as_slice())));
    let allowed = round.allowed;
    if !stale.is_empty() {
        return Err(DrError::Refused(format!(
            "this plan is stale: the live state moved on since it was proposed:\n  - {}\nApply nothing from it; run `efs-dr propose {}` again",
            stale.join("\n  - "),
            op.args()
        )));
    }
    if let Err(u) = safety::check(plan, &allowed) {
        return Err(DrError::Refused(format!(
            "this plan changes more than the pending phase allows; apply nothing from it:\n{u}"
        )));
    }
    Ok(Checked {
        counts: PlanCounts::of(&plan.resource_changes),
        phases,
    })
}
