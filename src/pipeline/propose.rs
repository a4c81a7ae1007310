//! `propose`: from live AWS and the state, each selected pair's next Terraform phase, written
//! into the rendered root (the direction variables, and an `import` block where AWS has what
//! the state lacks), planned and checked like a run would, and described for a pull request.
//! Never applies, never calls a code host.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::proposal::{
    Commands, LiveStatus, PlanCounts, PlanMaker, Proposal, ProposedPair, Unchanged, FORMAT,
    PROPOSAL_FILE,
};
use super::worktree::WorkTree;
use crate::aws::rfc3339;
use crate::config::{Pair, Side};
use crate::dr::context::Context;
use crate::dr::decide::{Action, Inputs};
use crate::dr::pending::{pending, pull_request_route, settled_direction, ReviewedStep, Stage};
use crate::dr::phase::{Confirmation, RunFlags, Step, TfWork};
use crate::dr::planner::Operation;
use crate::dr::position::{self, Look, PairPosition};
use crate::dr::risk::failover_risk;
use crate::dr::round::TerraformRound;
use crate::dr::status::pair_status;
use crate::dr::view::{PairView, Snapshot};
use crate::dr::DrError;
use crate::render::{self, Direction, DIRECTIONS_FILE};
use crate::terraform::PhaseError;
use crate::terraform::{Flavour, Version};

/// The `import` blocks of a phase that brings an existing replication into the state.
pub const IMPORTS_FILE: &str = "efs-dr.imports.tf";

/// The `moved` + `removed` blocks of a phase that forgets a replication without reading its
/// region (an unplanned failover's A -> B): Terraform >= 1.7.
pub const FORGET_FILE: &str = "efs-dr.forget.tf";

/// The oldest release that plans a forget as a pull request carries it: a `removed` block
/// with `lifecycle { destroy = false }` (Terraform 1.7; OpenTofu accepts `lifecycle` in
/// `removed` only from 1.10).
fn forget_needs(flavour: Flavour) -> Version {
    match flavour {
        Flavour::Terraform => Version(1, 7, 0),
        Flavour::OpenTofu => Version(1, 10, 0),
    }
}

/// Where `propose` saves its plan, inside the root's `.terraform/` (never committed).
const PLAN_FILE: &str = ".terraform/efs-dr-proposal.tfplan";

/// What to propose.
#[derive(Debug, Clone)]
pub struct ProposeRequest {
    pub op: Operation,
    pub pairs: Vec<Pair>,
    /// The pairs were named on the command line (a named pair with nothing to do is an error).
    pub named: bool,
    pub flags: RunFlags,
}

/// A proposal written into the root, with its plan.
#[derive(Debug)]
pub struct Proposed {
    pub proposal: Proposal,
    /// `terraform show` of the plan.
    pub plan_text: String,
    /// The files written, relative to the root.
    pub written: Vec<PathBuf>,
}

fn label(side: &Side) -> String {
    format!("{} ({})", side.file_system_id, side.region)
}

/// The files `propose` may change in the root: anything else changed there is somebody's
/// unrelated work.
fn ours(path: &Path) -> bool {
    [
        DIRECTIONS_FILE,
        PROPOSAL_FILE,
        IMPORTS_FILE,
        FORGET_FILE,
        ".terraform.lock.hcl",
    ]
    .iter()
    .any(|f| path == Path::new(f))
}

/// Refuses a root that is not what `efs-dr render` makes of the config, or that holds
/// uncommitted changes other than a proposal's.
fn check_root(ctx: &Context, worktree: &dyn WorkTree) -> Result<(), DrError> {
    let dir = &ctx.tf.dir;
    let rendered = render::render_root(&ctx.config, &BTreeMap::new(), &BTreeSet::new())?;
    let stale: Vec<String> = rendered
        .iter()
        .filter(|f| f.path != Path::new(DIRECTIONS_FILE))
        .filter(|f| std::fs::read_to_string(dir.join(&f.path)).ok().as_deref() != Some(&f.content))
        .map(|f| f.path.display().to_string())
        .collect();
    if !stale.is_empty() {
        return Err(ProposeRefusal::RootNotRendered {
            root: dir.clone(),
            config: ctx.config.file.clone(),
            differ: stale,
        }
        .into());
    }
    let changed = worktree
        .changed_files(dir)
        .map_err(|why| ProposeRefusal::WorkTreeUnread {
            root: dir.clone(),
            why: why.to_string(),
        })?;
    let unrelated: Vec<String> = changed
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !ours(p))
        .map(|p| p.display().to_string())
        .collect();
    if !unrelated.is_empty() {
        return Err(ProposeRefusal::Uncommitted {
            root: dir.clone(),
            files: unrelated,
        }
        .into());
    }
    Ok(())
}

fn status(view: &PairView) -> LiveStatus {
    let s = pair_status(view, None);
    LiveStatus {
        replication: s
            .replication
            .as_ref()
            .map(|r| format!("{} {}", crate::dr::phase::arrow(r.direction), r.status))
            .unwrap_or_else(|| "none".into()),
        lag_seconds: s.replication.as_ref().and_then(|r| r.lag_seconds),
        last_sync: s
            .replication
            .as_ref()
            .and_then(|r| r.last_replicated.clone()),
        protection_a: s.a.protection.map(|p| p.to_string()),
        protection_b: s.b.protection.map(|p| p.to_string()),
    }
}

pub(crate) struct PairProposal {
    pair: Pair,
    pub(crate) step: Step,
    pub(crate) entry: ProposedPair,
    /// The stage before apply makes SDK changes; the one after does.
    sdk_before: bool,
    sdk_after: bool,
    writes_stopped: bool,
    more_after: bool,
}

/// What `propose` makes of one pair.
pub(crate) enum PairOutcome {
    Proposed(Box<PairProposal>),
    Unchanged(Unchanged),
}

/// One pair's proposal, from its position: its pending Terraform phase and the route around
/// it, or why there is none. Pure.
pub(crate) fn propose_pair(
    op: Operation,
    pair: &Pair,
    position: &PairPosition,
    inputs: Inputs<'_>,
) -> Result<PairOutcome, DrError> {
    let decision = position.decision.clone()?;
    let view = &position.view;
    let steps = position.steps();
    let Some(route) = pull_request_route(pair, &steps, view, inputs)? else {
        let at = pending(&steps, view);
        return Ok(PairOutcome::Unchanged(Unchanged {
            pair: pair.name.clone(),
            found: if at.before.is_empty() {
                decision.found
            } else {
                format!(
                    "{}; no Terraform phase is left, only: {}. Run `efs-dr gate {} --before-apply --perform-sdk`",
                    decision.found,
                    at.before.iter().map(|s| s.step.title()).collect::<Vec<_>>().join(", "),
                    op.args()
                )
            },
        }));
    };
    let apply = route
        .iter()
        .find(|s| s.stage == Stage::Apply)
        .expect("a route has its Terraform phase");
    let step = apply.step;
    let makes_sdk = |s: &&ReviewedStep| {
        !s.gate_only && s.actions.iter().any(|a| matches!(a, Action::Sdk { .. }))
    };
    let sdk_before = route
        .iter()
        .filter(|s| s.stage == Stage::BeforeApply)
        .any(|s| makes_sdk(&s));
    let sdk_after = route
        .iter()
        .filter(|s| s.stage == Stage::AfterApply)
        .any(|s| makes_sdk(&s));
    let writes_stopped = route.iter().any(|s| {
        s.stage == Stage::BeforeApply
            && !s.gate_only
            && matches!(s.step.spec().confirm, Confirmation::StopWritesOnB(_))
    });
    let rest = &steps[steps
        .iter()
        .position(|s| *s == step)
        .map_or(steps.len(), |i| i + 1)..];
    let more_after = rest.iter().any(|s| s.spec().terraform.is_some());
    let direction_after = apply
        .actions
        .iter()
        .find_map(|a| match a {
            Action::SetDirection { direction } => Some(*direction),
            _ => None,
        })
        .unwrap_or_else(|| settled_direction(view));
    let risk = match (op, &view.a_only_writes) {
        (Operation::Failover { .. }, _) => failover_risk(view),
        (_, Some(w)) => Some(crate::dr::risk::Risk {
            text: format!(
                "writes only A has: {}{}",
                w.describe(),
                if w.is_none() {
                    ""
                } else if pair.backup.is_some() {
                    " (a recovery point of A is kept first)"
                } else {
                    " (--discard-writes-on-a: they will be destroyed)"
                }
            ),
            seconds: w.seconds(),
        }),
        _ => None,
    };
    Ok(PairOutcome::Proposed(Box::new(PairProposal {
        pair: pair.clone(),
        step,
        entry: ProposedPair {
            pair: pair.name.clone(),
            a: label(&pair.primary),
            b: label(&pair.secondary),
            step,
            title: step.title().to_string(),
            direction_before: settled_direction(view),
            direction_after,
            found: decision.found,
            status: status(view),
            risk,
            route,
        },
        sdk_before,
        sdk_after,
        writes_stopped,
        more_after,
    })))
}

/// Every pair's view (the selected pairs with the evidence a failback needs) and the selected
/// pairs' positions.
async fn read_positions(
    ctx: &Context,
    req: &ProposeRequest,
    inputs: Inputs<'_>,
) -> Result<(Snapshot, Vec<PairView>, Vec<PairPosition>), DrError> {
    let look = Look::for_operation(Some(req.op), &req.pairs, true);
    let snapshot = position::observe(&ctx.aws, &look).await;
    let state = position::read_state(&ctx.tf).await?;
    let facts = position::gather(
        &ctx.aws,
        Some(req.op),
        &req.pairs,
        &snapshot,
        Some(state),
        None,
        true,
    )
    .await;
    let all = position::views(&ctx.config.pairs, &snapshot, &facts);
    let selected: Vec<PairView> = all
        .iter()
        .filter(|v| req.pairs.iter().any(|p| p.name == v.pair))
        .cloned()
        .collect();
    let positions = position::decide(req.op, &req.pairs, selected, inputs);
    Ok((snapshot, all, positions))
}

/// Each selected pair's proposal, or why it has none; refuses when any pair cannot be proposed,
/// a named pair has nothing to propose, or nothing is left at all (`Pending`: not an error).
fn sort(
    req: &ProposeRequest,
    positions: &[PairPosition],
    inputs: Inputs<'_>,
) -> Result<(Vec<PairProposal>, Vec<Unchanged>), DrError> {
    let mut proposals = Vec::new();
    let mut unchanged = Vec::new();
    let mut problems = Vec::new();
    for (pair, position) in req.pairs.iter().zip(positions) {
        match propose_pair(req.op, pair, position, inputs) {
            Ok(PairOutcome::Proposed(p)) => proposals.push(*p),
            Ok(PairOutcome::Unchanged(u)) => unchanged.push(u),
            Err(e) => problems.push((pair.name.clone(), e)),
        }
    }
    if !problems.is_empty() {
        return Err(DrError::blocked(problems, "nothing was written"));
    }
    if req.named {
        if let Some(u) = unchanged.first() {
            return Err(ProposeRefusal::NothingForPair {
                pair: u.pair.clone(),
                found: u.found.clone(),
            }
            .into());
        }
    }
    if proposals.is_empty() {
        let why = unchanged
            .iter()
            .map(|u| format!("pair {}: {}", u.pair, u.found))
            .collect::<Vec<_>>()
            .join("\n");
        // Not an error: the operation is as far as Terraform can take it. `propose` says so
        // (exit 0; 2 with --detailed-exitcode, as `terraform plan`).
        return Err(DrError::Pending(format!(
            "nothing to propose: the {} has no phase left for Terraform:\n{why}",
            req.op.name()
        )));
    }
    Ok((proposals, unchanged))
}

impl PairProposal {
    /// The actions of its Terraform phase.
    fn applies(&self) -> Vec<Action> {
        self.entry
            .route
            .iter()
            .filter(|s| s.stage == Stage::Apply)
            .flat_map(|s| s.actions.clone())
            .collect()
    }
}

/// A `state rm` is proposed as a forget file when it is the phase's own forget (the unplanned
/// failover's A -> B) and Terraform knows `removed`; any other (a state entry AWS no longer
/// has) is the CLI's to make.
fn forgets_can_be_proposed(
    ctx: &Context,
    req: &ProposeRequest,
    proposals: &[PairProposal],
) -> Result<(), DrError> {
    for p in proposals {
        let forgets_by_phase = matches!(p.step.spec().terraform, Some(TfWork::Forget(_)));
        let removes = p
            .applies()
            .iter()
            .any(|a| matches!(a, Action::StateRm { .. }));
        if removes && !forgets_by_phase {
            return Err(DrError::from(ProposeRefusal::StaleStateEntry {
                step: p.step,
                command: req.op.args().to_string(),
            })
            .for_pair(&p.pair.name));
        }
        let needs = forget_needs(ctx.tf.flavour);
        if removes && ctx.tf.version < needs {
            return Err(DrError::from(ProposeRefusal::ForgetNeedsNewerTerraform {
                step: p.step,
                flavour: ctx.tf.flavour,
                found: ctx.tf.version,
                needs,
            })
            .for_pair(&p.pair.name));
        }
    }

    Ok(())
}

/// Why `propose` writes nothing: the root or the working tree is not what a proposal can start
/// from (exit 1), or what the pair needs cannot be a pull request (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeRefusal {
    #[error("there is no rendered root in {}: run `efs-dr render` (and `efs-dr init` once), commit the root, then propose", root.display())]
    NoRoot { root: PathBuf },
    #[error("the rendered root {} does not match {} ({} differ{}). Run `efs-dr render`, review and commit the result, then propose again; nothing was written", root.display(), config.display(), differ.join(", "), if differ.len() == 1 { "s" } else { "" })]
    RootNotRendered {
        root: PathBuf,
        config: PathBuf,
        /// The rendered files that differ.
        differ: Vec<String>,
    },
    #[error("cannot read the working tree of {}: {why}. Run `efs-dr propose` in a git checkout of the repository that holds the root (the pull request is made from it); nothing was written", root.display())]
    WorkTreeUnread { root: PathBuf, why: String },
    #[error("the rendered root {} has uncommitted changes that are not a proposal's: {}. Commit or stash them (`git stash -- {}`), then propose again; nothing was written", root.display(), files.join(", "), root.display())]
    Uncommitted { root: PathBuf, files: Vec<String> },
    #[error(
        "nothing to propose for pair {pair}: {found}. Leave it out of --pair; nothing was written"
    )]
    NothingForPair { pair: String, found: String },
    #[error("\"{}\" first removes from the state a replication AWS no longer has, which a pull request does not carry. Run `efs-dr {command}` once from a machine with the state (it forgets only that entry), then propose again; nothing was written", step.title())]
    StaleStateEntry { step: Step, command: String },
    #[error("\"{}\" forgets A -> B without reading A's region, which a pull request carries as a `removed` block with `lifecycle {{ destroy = false }}`: {flavour} {needs} or later understands it, this one is {flavour} {found}. Use a newer {flavour} in the pipeline, or run `efs-dr failover --unplanned` from a machine with the state; nothing was written", step.title())]
    ForgetNeedsNewerTerraform {
        step: Step,
        flavour: Flavour,
        found: Version,
        needs: Version,
    },
    #[error("the plan of this proposal changes more than its phases allow, so nothing was proposed:\n{plan}")]
    PlanUnsafe { plan: String },
}

impl ProposeRefusal {
    /// Refused as unsafe for a pull request (2), or to be fixed first (1).
    pub fn refused(&self) -> bool {
        matches!(
            self,
            ProposeRefusal::StaleStateEntry { .. }
                | ProposeRefusal::ForgetNeedsNewerTerraform { .. }
                | ProposeRefusal::PlanUnsafe { .. }
        )
    }
}

/// Proposes the next Terraform phase of each selected pair: writes it into the root, plans it,
/// checks the plan. On any error the root is left as it was.
pub async fn propose(
    ctx: &Context,
    req: &ProposeRequest,
    worktree: &dyn WorkTree,
) -> Result<Proposed, DrError> {
    let dir = ctx.tf.dir.clone();
    if !dir.join("main.tf").exists() {
        return Err(ProposeRefusal::NoRoot { root: dir }.into());
    }
    check_root(ctx, worktree)?;
    if !dir.join(".terraform").exists() {
        ctx.tf.init().await?;
    }
    let inputs = Inputs {
        gates: &ctx.config.gates,
        flags: req.flags,
    };
    let (snapshot, all, positions) = read_positions(ctx, req, inputs).await?;
    let (proposals, unchanged) = sort(req, &positions, inputs)?;
    forgets_can_be_proposed(ctx, req, &proposals)?;
    // The round, as a run builds it; pairs not proposed keep what the state and AWS hold.
    let actions: Vec<(String, Vec<Action>)> = proposals
        .iter()
        .map(|p| (p.pair.name.clone(), p.applies()))
        .collect();
    let round =
        TerraformRound::from_actions(actions.iter().map(|(n, a)| (n.as_str(), a.as_slice())));
    let settled: BTreeMap<String, Direction> = all
        .iter()
        .map(|v| (v.pair.clone(), settled_direction(v)))
        .collect();
    let directions = round.directions_over(&settled);
    // B fenced now, or by the stage before this apply (the failback's cut-over fences B
    // before B -> A goes): A serves once it is applied.
    let mut fenced = crate::dr::position::b_fenced(&ctx.config.pairs, &snapshot);
    fenced.extend(
        proposals
            .iter()
            .filter(|p| p.step == Step::RemoveReverse)
            .map(|p| p.pair.name.clone()),
    );
    let directions_file =
        render::render_root_serving(&ctx.config, &directions, &BTreeSet::new(), &fenced)?
            .into_iter()
            .find(|f| f.path == Path::new(DIRECTIONS_FILE))
            .expect("the root has a directions file");
    let imports: Vec<(String, String)> = round
        .imports
        .iter()
        .map(|(_, address, id)| (address.clone(), id.clone()))
        .collect();
    let imports_file = (!imports.is_empty()).then(|| render::RenderedFile {
        path: PathBuf::from(IMPORTS_FILE),
        content: imports_hcl(&imports),
    });
    let forget_file = (!round.forgets.is_empty()).then(|| render::RenderedFile {
        path: PathBuf::from(FORGET_FILE),
        content: forget_hcl(&round.forgets),
    });

    let edit = render::RootEdit::begin(
        &dir,
        &[DIRECTIONS_FILE, IMPORTS_FILE, FORGET_FILE, PROPOSAL_FILE],
    );
    let planned = plan_round(
        ctx,
        &round,
        &directions_file,
        &[(IMPORTS_FILE, imports_file), (FORGET_FILE, forget_file)],
    )
    .await?;

    let proposal = assemble(
        ctx,
        req,
        proposals,
        unchanged,
        &planned,
        round.refresh,
        snapshot.now().map(rfc3339),
    );
    proposal.write(&dir)?;
    edit.keep();
    let mut written = planned.written;
    written.push(PathBuf::from(PROPOSAL_FILE));
    Ok(Proposed {
        proposal,
        plan_text: planned.text,
        written,
    })
}

/// A proposal's plan: the files written, its counts, its text and what made it.
struct Planned {
    written: Vec<PathBuf>,
    counts: PlanCounts,
    text: String,
    terraform_version: String,
    format_version: String,
}

/// Writes a proposal's round into the root and plans it through the checked path a run uses;
/// the plan's counts and its text for the body. The caller's `RootEdit` puts the files back
/// on failure.
async fn plan_round(
    ctx: &Context,
    round: &TerraformRound,
    directions_file: &render::RenderedFile,
    optional: &[(&str, Option<render::RenderedFile>)],
) -> Result<Planned, DrError> {
    let dir = &ctx.tf.dir;
    let plan_file = Path::new(PLAN_FILE);
    let result = async {
        let mut written = render::write(dir, std::slice::from_ref(directions_file))?;
        // A phase's own files, and the last phase's removed (the next proposal deletes them).
        for (name, file) in optional {
            match file {
                Some(f) => written.extend(render::write(dir, std::slice::from_ref(f))?),
                None if dir.join(name).exists() => {
                    std::fs::remove_file(dir.join(name))
                        .map_err(|e| DrError::Failed(format!("cannot remove {name}: {e}")))?;
                    written.push(PathBuf::from(name));
                }
                None => {}
            }
        }
        let checked = match ctx
            .tf
            .plan_checked(plan_file, &round.allowed, round.refresh)
            .await
        {
            Ok(c) => c,
            Err(PhaseError::Unsafe(unsafe_plan)) => {
                return Err(ProposeRefusal::PlanUnsafe {
                    plan: unsafe_plan.to_string(),
                }
                .into())
            }
            Err(PhaseError::Terraform(e)) => return Err(e.into()),
        };
        let plan_text = ctx.tf.show_plan_text(plan_file).await?;
        Ok::<_, DrError>(Planned {
            written,
            counts: PlanCounts::of(&checked.planned),
            text: plan_text,
            terraform_version: checked.terraform_version,
            format_version: checked.format_version,
        })
    }
    .await;
    let _ = std::fs::remove_file(dir.join(plan_file));
    result
}

/// Where a forgotten instance moves: the same module and type, a name no resource declares
/// (`...forward["app"]` -> `...efs_dr_forgotten_forward["app"]`), as (resource, instance key).
fn forgotten_address(address: &str) -> (String, String) {
    let at = match address.ends_with("\"]") {
        true => address.rfind("[\"").unwrap_or(address.len()),
        false => address.len(),
    };
    let (resource, key) = address.split_at(at);
    let (module_and_type, name) = resource.rsplit_once('.').unwrap_or(("", resource));
    (
        format!("{module_and_type}.efs_dr_forgotten_{name}"),
        key.to_string(),
    )
}

/// A forget Terraform can plan for one instance of a module's `for_each` (a `removed` block
/// cannot name an instance, hashicorp/terraform#34439): each instance is moved to an address no
/// resource declares, and that address is removed without being destroyed. Terraform >= 1.9.3
/// never reads AWS for it.
fn forget_hcl(forgets: &[(String, String)]) -> String {
    let mut s = String::from(
        "# Written by `efs-dr propose`: Terraform forgets these objects (they leave the state;\n# nothing is destroyed and their region is not read). Apply with\n# `terraform apply -refresh=false`. The next proposal removes this file.\n",
    );
    let mut removed = BTreeSet::new();
    for (pair, address) in forgets {
        let (resource, key) = forgotten_address(address);
        s.push_str(&format!(
            "\n# pair {pair}\nmoved {{\n  from = {address}\n  to   = {resource}{key}\n}}\n"
        ));
        removed.insert(resource);
    }
    for resource in removed {
        s.push_str(&format!(
            "\nremoved {{\n  from = {resource}\n  lifecycle {{\n    destroy = false\n  }}\n}}\n"
        ));
    }
    s
}

fn imports_hcl(imports: &[(String, String)]) -> String {
    let mut s = String::from(
        "# Written by `efs-dr propose`: the replication (or its lag alarm) exists in AWS but not in\n# the state, so this phase imports it instead of creating it twice. The next proposal removes\n# this file.\n",
    );
    for (address, id) in imports {
        s.push_str(&format!(
            "\nimport {{\n  to = {address}\n  id = \"{id}\"\n}}\n"
        ));
    }
    s
}

fn assemble(
    ctx: &Context,
    req: &ProposeRequest,
    proposals: Vec<PairProposal>,
    unchanged: Vec<Unchanged>,
    planned: &Planned,
    refresh: bool,
    proposed_at: Option<String>,
) -> Proposal {
    let op = req.op.args();
    let pair_flags: String = if req.named {
        req.pairs
            .iter()
            .map(|p| format!(" --pair {}", p.name))
            .collect()
    } else {
        String::new()
    };
    let any = |f: fn(&PairProposal) -> bool| proposals.iter().any(f);
    let mut before = format!("efs-dr gate {op}{pair_flags} --before-apply");
    if any(|p| p.sdk_before) {
        before.push_str(" --perform-sdk");
    }
    if any(|p| p.writes_stopped) {
        before.push_str(" --writes-stopped");
    }
    if req.flags.discard_writes_on_a {
        before.push_str(" --discard-writes-on-a");
    }
    let mut after = format!("efs-dr gate {op}{pair_flags} --after-apply");
    if any(|p| p.sdk_after) {
        after.push_str(" --perform-sdk");
    }
    let tf_dir = ctx.config.terraform.dir.display().to_string();
    let apply = format!(
        "terraform -chdir={tf_dir} apply{}",
        if refresh { "" } else { " -refresh=false" }
    );
    let next = any(|p| p.more_after).then(|| format!("efs-dr propose {op}{pair_flags}"));
    let mut titles: Vec<&str> = proposals.iter().map(|p| p.step.title()).collect();
    titles.dedup();
    let what = if titles.len() == 1 {
        titles[0].to_string()
    } else {
        format!("{} phases", titles.len())
    };
    let names: Vec<&str> = proposals.iter().map(|p| p.pair.name.as_str()).collect();
    let who = if names.len() <= 3 {
        names.join(", ")
    } else {
        format!("{} pairs", names.len())
    };
    Proposal {
        format: FORMAT,
        operation: req.op,
        title: format!("efs-dr {}: {what} ({who})", req.op.name()),
        proposed_at,
        pairs: proposals.into_iter().map(|p| p.entry).collect(),
        unchanged,
        plan: planned.counts,
        terraform: PlanMaker {
            terraform_version: planned.terraform_version.clone(),
            format_version: planned.format_version.clone(),
        },
        commands: Commands {
            before_apply: before,
            plan_flags: if refresh {
                Vec::new()
            } else {
                vec!["-refresh=false".into()]
            },
            apply,
            after_apply: after,
            next,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every forget moves its own instance to a name no resource declares, of its own type:
    /// the replication and the lag alarm an unplanned failover forgets, and both directions of
    /// one pair (each a resource of its own, so the two never meet at one address).
    #[test]
    fn the_forget_file_moves_each_instance_to_an_address_of_its_own() {
        let m = "module.us_east_1__us_west_2";
        let forgets = [
            (
                "app",
                format!("{m}.aws_efs_replication_configuration.forward[\"app\"]"),
            ),
            (
                "app",
                format!("{m}.aws_cloudwatch_metric_alarm.sync_lag_at_primary[\"app\"]"),
            ),
            (
                "db",
                format!("{m}.aws_efs_replication_configuration.forward[\"db\"]"),
            ),
            (
                "db",
                format!("{m}.aws_efs_replication_configuration.reverse[\"db\"]"),
            ),
        ]
        .map(|(p, a)| (p.to_string(), a));
        let hcl = forget_hcl(&forgets);
        let body: hcl::Body = hcl::from_str(&hcl).expect("the forget file parses as HCL");
        let moves: Vec<(String, String)> = body
            .blocks()
            .filter(|b| b.identifier() == "moved")
            .map(|b| {
                let attr = |k: &str| {
                    b.body()
                        .attributes()
                        .find(|a| a.key() == k)
                        .map(|a| hcl::format::to_string(a.expr()).unwrap())
                        .unwrap()
                };
                (attr("from"), attr("to"))
            })
            .collect();
        assert_eq!(moves.len(), 4, "{hcl}");
        for ((_, from), (moved_from, to)) in forgets.iter().zip(&moves) {
            assert_eq!(moved_from, from);
            assert_ne!(to, from, "{hcl}");
            let (resource, key) = from.rsplit_once('[').unwrap();
            let (prefix, name) = resource.rsplit_once('.').unwrap();
            assert_eq!(to, &format!("{prefix}.efs_dr_forgotten_{name}[{key}"));
        }
        let tos: BTreeSet<&String> = moves.iter().map(|(_, t)| t).collect();
        assert_eq!(tos.len(), 4, "no two instances share an address: {hcl}");
        let removed: Vec<String> = body
            .blocks()
            .filter(|b| b.identifier() == "removed")
            .map(|b| {
                assert!(hcl.contains("destroy = false"));
                b.body()
                    .attributes()
                    .find(|a| a.key() == "from")
                    .map(|a| hcl::format::to_string(a.expr()).unwrap())
                    .unwrap()
            })
            .collect();
        assert_eq!(
            removed,
            [
                format!("{m}.aws_cloudwatch_metric_alarm.efs_dr_forgotten_sync_lag_at_primary"),
                format!("{m}.aws_efs_replication_configuration.efs_dr_forgotten_forward"),
                format!("{m}.aws_efs_replication_configuration.efs_dr_forgotten_reverse"),
            ]
        );
    }

    /// Every reason `propose` writes nothing, as an operator reads it, with its exit code.
    #[test]
    fn proposes_refusals_read_as_operators_see_them() {
        let root = PathBuf::from("terraform");
        let refusals = vec![
            DrError::from(ProposeRefusal::NoRoot { root: root.clone() }),
            ProposeRefusal::RootNotRendered {
                root: root.clone(),
                config: PathBuf::from("efs-dr.hcl"),
                differ: vec!["main.tf".into()],
            }
            .into(),
            ProposeRefusal::WorkTreeUnread {
                root: root.clone(),
                why: "git: not a git repository".into(),
            }
            .into(),
            ProposeRefusal::Uncommitted {
                root: root.clone(),
                files: vec!["extra.tf".into(), "notes.txt".into()],
            }
            .into(),
            ProposeRefusal::NothingForPair {
                pair: "home".into(),
                found: "already failed over: no replication and B is writable".into(),
            }
            .into(),
            DrError::from(ProposeRefusal::StaleStateEntry {
                step: Step::CleanupStaleOnA,
                command: "failback".into(),
            })
            .for_pair("home"),
            DrError::from(ProposeRefusal::ForgetNeedsNewerTerraform {
                step: Step::ForgetForward,
                flavour: Flavour::Terraform,
                found: Version(1, 6, 6),
                needs: forget_needs(Flavour::Terraform),
            })
            .for_pair("home"),
            DrError::from(ProposeRefusal::ForgetNeedsNewerTerraform {
                step: Step::ForgetForward,
                flavour: Flavour::OpenTofu,
                found: Version(1, 9, 1),
                needs: forget_needs(Flavour::OpenTofu),
            })
            .for_pair("home"),
            ProposeRefusal::PlanUnsafe {
                plan: "  - module.efs_dr.aws_efs_replication_configuration.forward[\"home\"]: delete (this phase allows no change)".into(),
            }
            .into(),
            DrError::blocked(
                vec![(
                    "media".into(),
                    DrError::Refused("A -> B (ENABLED) never completed a sync, so B holds none of A's data: failing over would serve an empty B. Wait for A's region and its first sync (`efs-dr status`), or pass --force to fail over anyway".into()),
                )],
                "nothing was written",
            ),
        ];
        let shown: Vec<String> = refusals
            .iter()
            .map(|e| format!("exit {}: {e}", e.exit_code()))
            .collect();
        insta::assert_snapshot!(shown.join("\n\n"));
    }
}
