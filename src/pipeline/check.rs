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
    // A forgotten instance leaves the state; its moved-to address exists nowhere else. Up to
    // Terraform 1.15.5 `planned_values` still lists it, from 1.15.6 it does not (#38665):
    // both are consistent.
    let forgotten: BTreeSet<&str> = plan
        .resource_changes
        .iter()
        .filter(|c| c.kind() == ChangeKind::Forget)
        .flat_map(|c| [Some(c.address.as_str()), c.previous_address.as_deref()])
        .flatten()
        .collect();
    for a in after.difference(&before) {
        let imported = plan
            .resource_changes
            .iter()
            .any(|c| c.address == *a && c.change.importing.is_some());
        if !imported
            && kind.get(a.as_str()) != Some(&ChangeKind::Create)
            && !forgotten.contains(a.as_str())
        {
            out.push(format!("{a} is in planned_values but no change creates it"));
        }
    }
    for a in before.difference(&after) {
        if kind.get(a.as_str()) != Some(&ChangeKind::Delete) && !forgotten.contains(a.as_str()) {
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
            ChangeKind::Delete | ChangeKind::Forget => null(b) || !null(a),
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
                let held = after.contains(&address) && !forgotten.contains(address.as_str());
                if held != wanted && !after.is_empty() {
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

/// The plan's imports that no pending phase makes: "address (id ...)".
pub fn unexpected_imports(plan: &PlanJson, round: &TerraformRound) -> Vec<String> {
    plan.imports()
        .into_iter()
        .filter(|(address, id)| {
            !round
                .imports
                .iter()
                .any(|(_, a, i)| a == address && i == id)
        })
        .map(|(address, id)| format!("{address} (id {id})"))
        .collect()
}

/// What a refresh left in a plan: each object it found changed outside Terraform, with how.
/// A plan file records no refresh flag (Terraform's planfile.proto has none), so a refresh that
/// found nothing leaves no trace, and its plan is the same as one made without refresh.
pub fn refresh_traces(plan: &PlanJson) -> Vec<String> {
    plan.resource_drift
        .iter()
        .filter(|d| d.change.actions.iter().any(|a| a != "no-op"))
        .map(|d| format!("{} ({})", d.address, d.change.actions.join(", ")))
        .collect()
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
    let facts = Facts::read_with_state(&ctx.aws, &ctx.config.pairs, Some(state)).await;
    let views = position::views(&ctx.config.pairs, &snapshot, &facts);
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
    let (allowed, refresh) = (&round.allowed, round.refresh);
    if !stale.is_empty() {
        return Err(DrError::Refused(format!(
            "this plan is stale: the live state moved on since it was proposed:\n  - {}\nApply nothing from it; run `efs-dr propose {}` again",
            stale.join("\n  - "),
            op.args()
        )));
    }
    let read = refresh_traces(plan);
    if !refresh && !read.is_empty() {
        return Err(DrError::Refused(format!(
            "this plan was made with refresh on: Terraform read AWS and found changed outside Terraform:\n  - {}\nWhile A is declared down the phase plans without refresh: A's region is not read, and what a refresh finds is not what was reviewed. Apply nothing from it; make it again with `terraform -chdir={dir} plan -refresh=false -out=PLAN`, as the proposal's commands say",
            read.join("\n  - ")
        )));
    }
    if let Err(u) = safety::check(plan, allowed) {
        return Err(DrError::Refused(format!(
            "this plan changes more than the pending phase allows; apply nothing from it:\n{u}"
        )));
    }
    let imports = unexpected_imports(plan, &round);
    if !imports.is_empty() {
        return Err(DrError::Refused(format!(
            "this plan imports what the pending phase does not; apply nothing from it:\n  - {}\n  the phase imports {}. An import hands an object to Terraform, which may later change or destroy it: run `efs-dr propose {}` again, or review the `import` blocks of {dir}",
            imports.join("\n  - "),
            match round.imports.is_empty() {
                true => "nothing".to_string(),
                false => round
                    .imports
                    .iter()
                    .map(|(_, address, id)| format!("{address} (id {id})"))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            op.args()
        )));
    }
    Ok(Checked {
        counts: PlanCounts::of(&plan.resource_changes),
        phases,
    })
}

#[cfg(test)]
mod tests {
    //! check-plan on plans Terraform made: a forget recorded from Terraform 1.15.5 (the
    //! unplanned failover's pull request, pairs "app" and "media"), and the same plan as 1.15.6
    //! renders it (the forgotten instances no longer in `planned_values`, #38665). Both
    //! recordings predate the forget file's `efs_dr_forgotten_<name>` addresses (they move to
    //! `efs_dr_forgotten`): check-plan knows a forget by its `previous_address`, never by where
    //! it was moved, so they stand for either.

    use super::*;
    use crate::dr::decide::tests::settings;
    use crate::dr::decide::{actions, Inputs};
    use crate::dr::phase::{RunFlags, Step};
    use crate::dr::view::tests::{down, snap};
    use crate::dr::view::PairView;
    use crate::terraform::safety;

    const RECORDED: &str = include_str!("fixtures/forget-plan-1.15.5.json");
    const REFRESHED: &str = include_str!("fixtures/forget-plan-refreshed-1.15.5.json");

    fn pairs() -> Vec<Pair> {
        let text = ["app", "media"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                format!(
                    "pair \"{name}\" {{\n primary {{\n region = \"us-east-1\"\n file_system_id = \"fs-0123456789abcdef{i}\"\n }}\n secondary {{\n region = \"us-west-2\"\n file_system_id = \"fs-0fedcba987654321{i}\"\n }}\n}}\n"
                )
            })
            .collect::<String>();
        crate::config::Config::parse(&text, std::path::Path::new("t.hcl"))
            .expect("valid")
            .pairs
    }

    /// What the pending phase (forget A -> B, A down, the state still holding it) allows for
    /// every pair, as decide says.
    fn allowed() -> Vec<crate::terraform::AllowedChange> {
        let gates = settings();
        let inputs = Inputs {
            gates: &gates,
            flags: RunFlags::default(),
        };
        pairs()
            .iter()
            .flat_map(|p| {
                let mut v = PairView::derive(
                    p,
                    &down(snap("ENABLED", "ENABLED", vec![], vec![], 20), "us-east-1"),
                );
                v.state_forward = Some(true);
                v.state_reverse = Some(false);
                actions(p, Step::ForgetForward, &v, inputs).unwrap()
            })
            .flat_map(|a| match a {
                Action::PlanCheckApply { allowed, .. } => allowed,
                _ => Vec::new(),
            })
            .collect()
    }

    fn recorded() -> Value {
        serde_json::from_str(RECORDED).unwrap()
    }

    fn parse(v: &Value) -> PlanJson {
        PlanJson::parse(&v.to_string()).unwrap()
    }

    /// The same plan as Terraform 1.15.6 renders it: forgotten instances are not planned values.
    fn as_1_15_6(mut v: Value) -> Value {
        let forgotten: Vec<String> = v["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["change"]["actions"] == serde_json::json!(["forget"]))
            .flat_map(|c| [c["address"].clone(), c["previous_address"].clone()])
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        fn strip(module: &mut Value, forgotten: &[String]) {
            if let Some(rs) = module.get_mut("resources").and_then(Value::as_array_mut) {
                rs.retain(|r| {
                    !forgotten.contains(&r["address"].as_str().unwrap_or_default().to_string())
                });
            }
            if let Some(cs) = module
                .get_mut("child_modules")
                .and_then(Value::as_array_mut)
            {
                for c in cs {
                    strip(c, forgotten);
                }
            }
        }
        strip(&mut v["planned_values"]["root_module"], &forgotten);
        v
    }

    #[test]
    fn the_recorded_forget_holds_together_and_is_allowed_in_both_renderings() {
        let v = recorded();
        let changes = v["resource_changes"].as_array().unwrap();
        let forgets: Vec<&Value> = changes
            .iter()
            .filter(|c| c["change"]["actions"] == serde_json::json!(["forget"]))
            .collect();
        assert_eq!(forgets.len(), 2, "the recording forgets both pairs");
        for f in &forgets {
            assert_eq!(f["action_reason"], "delete_because_no_move_target");
            assert!(f["previous_address"]
                .as_str()
                .unwrap()
                .contains(".forward[\""));
        }
        for plan in [v.clone(), as_1_15_6(v)] {
            let plan = parse(&plan);
            assert!(
                inconsistencies(&plan, &pairs()).is_empty(),
                "{:?}",
                inconsistencies(&plan, &pairs())
            );
            safety::check(&plan, &allowed()).unwrap();
            let counts = PlanCounts::of(&plan.resource_changes);
            assert_eq!((counts.forget, counts.destroy, counts.add), (2, 0, 0));
            assert!(counts.line().contains("2 to forget"), "{}", counts.line());
        }
    }

    #[test]
    fn an_action_a_replace_or_a_forget_of_another_pair_is_refused() {
        // An action invocation: a side effect resource_changes does not show.
        let mut v = recorded();
        v["action_invocations"] =
            serde_json::json!([{"address": "action.aws_lambda_invoke.notify"}]);
        assert!(safety::check(&parse(&v), &allowed()).is_err());
        // A replace of a replication.
        let mut v = recorded();
        for c in v["resource_changes"].as_array_mut().unwrap() {
            if c["change"]["actions"] == serde_json::json!(["forget"]) {
                c["change"]["actions"] = serde_json::json!(["delete", "create"]);
                break;
            }
        }
        assert!(safety::check(&parse(&v), &allowed()).is_err());
        // The forget of an instance that is not a pair's forward replication.
        let mut v = recorded();
        for c in v["resource_changes"].as_array_mut().unwrap() {
            if c["change"]["actions"] == serde_json::json!(["forget"]) {
                let other = c["previous_address"]
                    .as_str()
                    .unwrap()
                    .replace(".forward[", ".reverse[");
                c["previous_address"] = Value::from(other);
                break;
            }
        }
        let err = safety::check(&parse(&v), &allowed()).unwrap_err();
        assert_eq!(err.unexpected.len(), 1, "{err}");
    }

    /// A forget planned with refresh on, recorded from Terraform 1.15.5 (pair "app" with a lag
    /// alarm in B that was edited in the console during the outage): the refresh read the edit.
    /// Its changes are what the phase allows; only the refresh's trace tells it apart.
    #[test]
    fn a_refresh_leaves_its_trace_in_the_plan_and_a_plan_without_refresh_has_none() {
        let refreshed = PlanJson::parse(REFRESHED).unwrap();
        assert_eq!(
            refresh_traces(&refreshed),
            [
                "module.us_east_1__us_west_2.aws_cloudwatch_metric_alarm.sync_lag_at_secondary[\"app\"] (update)"
            ]
        );
        let changes: Vec<(&str, &[String])> = refreshed
            .resource_changes
            .iter()
            .map(|c| (c.address.as_str(), c.change.actions.as_slice()))
            .collect();
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(changes
            .iter()
            .any(|(a, x)| a.ends_with("efs_dr_forgotten[\"app\"]") && *x == ["forget"]));
        assert!(changes
            .iter()
            .any(|(a, x)| a.contains("sync_lag_at_secondary") && *x == ["delete"]));
        assert!(refresh_traces(&parse(&recorded())).is_empty());
        assert!(refresh_traces(&parse(&as_1_15_6(recorded()))).is_empty());
    }

    /// An import is a change of what Terraform manages even when it plans as a no-op: one the
    /// phases do not make is named, one they make is not.
    #[test]
    fn an_import_no_phase_makes_is_named_even_as_a_no_op() {
        let mut v = recorded();
        let address =
            "module.us_east_1__us_west_2.aws_efs_replication_configuration.forward[\"app\"]";
        v["resource_changes"].as_array_mut().unwrap().push(serde_json::json!({
            "address": address,
            "mode": "managed",
            "type": "aws_efs_replication_configuration",
            "change": {"actions": ["no-op"], "before": {}, "after": {}, "importing": {"id": "fs-1"}}
        }));
        let plan = parse(&v);
        safety::check(&plan, &allowed()).unwrap();
        let mut round = TerraformRound::from_actions(std::iter::empty());
        assert_eq!(
            unexpected_imports(&plan, &round),
            [format!("{address} (id fs-1)")]
        );
        round
            .imports
            .push(("app".into(), address.into(), "fs-2".into()));
        assert_eq!(unexpected_imports(&plan, &round).len(), 1, "another id");
        round
            .imports
            .push(("app".into(), address.into(), "fs-1".into()));
        assert!(unexpected_imports(&plan, &round).is_empty());
    }

    /// The text of check-plan's per-pair refusals, pinned.
    #[test]
    fn check_plans_refusals_read_as_operators_see_them() {
        let gates = settings();
        let inputs = Inputs {
            gates: &gates,
            flags: RunFlags::default(),
        };
        let p = &pairs()[0];
        let mut v = PairView::derive(p, &snap("ENABLED", "ENABLED", vec![], vec![], 20));
        v.state_forward = Some(false);
        v.state_reverse = Some(false);
        let position = crate::dr::position::decide(
            crate::dr::planner::Operation::Failback,
            std::slice::from_ref(p),
            vec![v],
            inputs,
        )
        .remove(0);
        let shown = [
            check_pair(p, &position, Some("forward"), None, inputs),
            check_pair(
                p,
                &position,
                Some("reverse"),
                Some(Step::RemoveReverse),
                inputs,
            ),
        ]
        .map(|c| match c.unwrap() {
            PairCheck::Stale(why) => why,
            other => format!("{other:?}"),
        });
        insta::assert_snapshot!(shown.join("\n\n"));
    }
}
