//! `propose`: from live AWS and the state, each selected pair's next Terraform phase, written
//! into the rendered root (the direction variables, and an `import` block where AWS has what
//! the state lacks), planned and checked like a run would, and described for a pull request.
//! Never applies, never calls a code host.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::proposal::{
    Commands, LiveStatus, PlanCounts, Proposal, ProposedPair, Unchanged, FORMAT, PROPOSAL_FILE,
};
use super::worktree::WorkTree;
use crate::aws::rfc3339;
use crate::config::{Pair, Side};
use crate::dr::decide::{self, Action, Inputs};
use crate::dr::evidence::{a_backup_jobs, a_only_writes};
use crate::dr::observe::{observe, views};
use crate::dr::pending::{pending, settled_direction};
use crate::dr::phase::{RunFlags, Step};
use crate::dr::planner::Operation;
use crate::dr::risk::failover_risk;
use crate::dr::run::Context;
use crate::dr::status::pair_status;
use crate::dr::view::PairView;
use crate::dr::DrError;
use crate::ids::FileSystemId;
use crate::render::{self, Direction, DIRECTIONS_FILE};
use crate::terraform::{safety, AllowedChange};

/// The `import` blocks of a phase that brings an existing replication into the state.
pub const IMPORTS_FILE: &str = "efs-dr.imports.tf";

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
        return Err(DrError::Failed(format!(
            "the rendered root {} does not match {} ({} differ{}). Run `efs-dr render`, review and commit the result, then propose again; nothing was written",
            dir.display(),
            ctx.config.file.display(),
            stale.join(", "),
            if stale.len() == 1 { "s" } else { "" }
        )));
    }
    let changed = worktree.changed_files(dir).map_err(|e| {
        DrError::Failed(format!(
            "cannot read the working tree of {}: {e}",
            dir.display()
        ))
    })?;
    let unrelated: Vec<String> = changed
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !ours(p))
        .map(|p| p.display().to_string())
        .collect();
    if !unrelated.is_empty() {
        return Err(DrError::Failed(format!(
            "the rendered root {} has uncommitted changes that are not a proposal's: {}. Commit or stash them (`git stash -- {}`), then propose again; nothing was written",
            dir.display(),
            unrelated.join(", "),
            dir.display()
        )));
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

/// The operation as its command line names it.
pub fn op_args(op: Operation) -> &'static str {
    match op {
        Operation::Init => "init",
        Operation::Failover { unplanned: false } => "failover",
        Operation::Failover { unplanned: true } => "failover --unplanned",
        Operation::Failback => "failback",
    }
}

/// What a step asks before `terraform apply`, in words.
fn stage_item(
    pair: &Pair,
    step: Step,
    gate_only: bool,
    view: &PairView,
    inputs: Inputs<'_>,
) -> Result<Vec<String>, DrError> {
    let actions = decide::actions(pair, step, view, inputs)?;
    Ok(actions
        .iter()
        .filter_map(|a| match a {
            Action::Sdk { change } if !gate_only => {
                Some(format!("{}: {}", step.title(), change.describe()))
            }
            Action::Confirm { question }
                if !gate_only && question.skip == decide::Skip::WritesStopped =>
            {
                Some(format!("{} ({})", question.text, question.skip.flag()))
            }
            Action::Gate { gate } => Some(format!("gate: {}", gate.describe())),
            _ => None,
        })
        .collect())
}

struct PairProposal {
    pair: Pair,
    step: Step,
    actions: Vec<Action>,
    entry: ProposedPair,
    /// The stage before apply makes SDK changes; the one after does.
    sdk_before: bool,
    sdk_after: bool,
    writes_stopped: bool,
    more_after: bool,
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
        return Err(DrError::Failed(format!(
            "there is no rendered root in {}: run `efs-dr render` (and `efs-dr init` once), commit the root, then propose",
            dir.display()
        )));
    }
    check_root(ctx, worktree)?;
    if !dir.join(".terraform").exists() {
        ctx.tf.init().await?;
    }
    let inputs = Inputs {
        gates: &ctx.config.gates,
        flags: req.flags,
    };
    let watch: BTreeSet<(String, FileSystemId)> = req
        .pairs
        .iter()
        .flat_map(|p| [&p.primary, &p.secondary])
        .map(|s| (s.region.to_string(), s.file_system_id.clone()))
        .collect();
    let snapshot = observe(&ctx.aws, &watch).await;
    let state: BTreeSet<String> = ctx.tf.state_list().await?.into_iter().collect();
    let mut all = views(&ctx.config.pairs, &snapshot, Some(&state));
    if req.op == Operation::Failback {
        for v in all.iter_mut() {
            let Some(pair) = req.pairs.iter().find(|p| p.name == v.pair) else {
                continue;
            };
            if v.reverse().is_none() && v.a.file_system.is_some() {
                v.a_only_writes = Some(a_only_writes(&ctx.aws, pair, v).await);
                v.a_backup_jobs = a_backup_jobs(&ctx.aws, pair, v).await;
            }
        }
    }
    let all = all;
    let view_of = |name: &str| {
        all.iter()
            .find(|v| v.pair == name)
            .expect("every pair is viewed")
    };

    let mut proposals = Vec::new();
    let mut unchanged = Vec::new();
    let mut problems = Vec::new();
    for pair in &req.pairs {
        let view = view_of(&pair.name);
        let decision = match decide::decide_pair(req.op, pair, view, inputs) {
            Ok(d) => d,
            Err(e) => {
                problems.push((pair.name.clone(), e));
                continue;
            }
        };
        let steps: Vec<Step> = decision.phases.iter().map(|p| p.step).collect();
        let at = pending(&steps, view);
        let Some(step) = at.apply else {
            unchanged.push(Unchanged {
                pair: pair.name.clone(),
                found: if at.before.is_empty() {
                    decision.found.clone()
                } else {
                    format!(
                        "{}; no Terraform phase is left, only: {}. Run `efs-dr gate {} --before-apply --perform-sdk`",
                        decision.found,
                        at.before.iter().map(|s| s.step.title()).collect::<Vec<_>>().join(", "),
                        op_args(req.op)
                    )
                },
            });
            continue;
        };
        let mut before_apply = Vec::new();
        let mut sdk_before = false;
        let mut writes_stopped = false;
        for s in &at.before {
            let items = stage_item(pair, s.step, s.gate_only, view, inputs)?;
            sdk_before |= !s.gate_only && s.step.spec().sdk.is_some();
            writes_stopped |= !s.gate_only && s.step == Step::Quiesce;
            before_apply.extend(items);
        }
        let rest = &steps[steps.iter().position(|s| *s == step).expect("planned") + 1..];
        let sdk_after = rest
            .iter()
            .take_while(|s| s.spec().terraform.is_none() && s.spec().sdk.is_some())
            .count()
            > 0;
        let more_after = rest.iter().any(|s| s.spec().terraform.is_some());
        let mut after_apply = stage_item(pair, step, true, view, inputs)?;
        for s in rest
            .iter()
            .take_while(|s| s.spec().terraform.is_none() && s.spec().sdk.is_some())
        {
            after_apply.extend(stage_item(pair, *s, false, view, inputs)?);
        }
        let actions = decide::actions(pair, step, view, inputs)?;
        let risk = match (req.op, &view.a_only_writes) {
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
        proposals.push(PairProposal {
            pair: pair.clone(),
            step,
            entry: ProposedPair {
                pair: pair.name.clone(),
                a: label(&pair.primary),
                b: label(&pair.secondary),
                step,
                title: step.title().to_string(),
                direction_before: settled_direction(view),
                direction_after: step
                    .spec()
                    .direction
                    .expect("a Terraform phase sets the direction"),
                found: decision.found.clone(),
                status: status(view),
                risk,
                before_apply,
                after_apply,
            },
            actions,
            sdk_before,
            sdk_after,
            writes_stopped,
            more_after,
        });
    }
    if !problems.is_empty() {
        let text = problems
            .iter()
            .map(|(name, e)| format!("pair {name}: {}", e.message()))
            .collect::<Vec<_>>()
            .join("\n");
        let refused = problems
            .iter()
            .any(|(_, e)| matches!(e, DrError::Refused(_)));
        let text = format!("{text}\nnothing was written");
        return Err(if refused {
            DrError::Refused(text)
        } else {
            DrError::Failed(text)
        });
    }
    if req.named {
        if let Some(u) = unchanged.first() {
            return Err(DrError::Failed(format!(
                "nothing to propose for pair {}: {}. Leave it out of --pair; nothing was written",
                u.pair, u.found
            )));
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
    if let Some(p) = proposals.iter().find(|p| {
        p.actions
            .iter()
            .any(|a| matches!(a, Action::StateRm { .. }))
    }) {
        return Err(DrError::Refused(format!(
            "pair {}: \"{}\" removes a replication from the state without reading its region, which a Terraform configuration cannot express for one pair of a module. Run `efs-dr failover --unplanned` from a machine with the state; nothing was written",
            p.pair.name,
            p.step.title()
        )));
    }

    // The new variables: pairs not proposed keep what the state and AWS hold.
    let mut directions: BTreeMap<String, Direction> = all
        .iter()
        .map(|v| (v.pair.clone(), settled_direction(v)))
        .collect();
    let mut allowed: Vec<AllowedChange> = Vec::new();
    let mut imports = Vec::new();
    let mut refresh = true;
    for p in &proposals {
        directions.insert(p.pair.name.clone(), p.entry.direction_after);
        for a in &p.actions {
            match a {
                Action::PlanCheckApply {
                    allowed: al,
                    refresh: r,
                } => {
                    allowed.extend(al.iter().cloned());
                    refresh &= *r;
                }
                Action::Import { address, id } => imports.push((address.clone(), id.clone())),
                _ => {}
            }
        }
    }
    let directions_file = render::render_root(&ctx.config, &directions, &BTreeSet::new())?
        .into_iter()
        .find(|f| f.path == Path::new(DIRECTIONS_FILE))
        .expect("the root has a directions file");
    let imports_file = (!imports.is_empty()).then(|| render::RenderedFile {
        path: PathBuf::from(IMPORTS_FILE),
        content: imports_hcl(&imports),
    });

    let backup = Backup::take(&dir, &[DIRECTIONS_FILE, IMPORTS_FILE, PROPOSAL_FILE]);
    let result = async {
        let mut written = render::write(&dir, std::slice::from_ref(&directions_file))?;
        match &imports_file {
            Some(f) => written.extend(render::write(&dir, std::slice::from_ref(f))?),
            None => {
                if dir.join(IMPORTS_FILE).exists() {
                    std::fs::remove_file(dir.join(IMPORTS_FILE)).map_err(|e| {
                        DrError::Failed(format!("cannot remove {IMPORTS_FILE}: {e}"))
                    })?;
                    written.push(PathBuf::from(IMPORTS_FILE));
                }
            }
        }
        let plan_file = Path::new(PLAN_FILE);
        ctx.tf.plan_with(plan_file, refresh).await?;
        let plan = ctx.tf.show_plan(plan_file).await?;
        if let Err(unsafe_plan) = safety::check(&plan, &allowed) {
            return Err(DrError::Refused(format!(
                "the plan of this proposal changes more than its phases allow, so nothing was proposed:\n{unsafe_plan}"
            )));
        }
        let plan_text = ctx.tf.show_plan_text(plan_file).await?;
        let _ = std::fs::remove_file(dir.join(plan_file));
        Ok::<_, DrError>((written, plan, plan_text))
    }
    .await;
    let (written, plan, plan_text) = match result {
        Ok(r) => r,
        Err(e) => {
            backup.restore();
            let _ = std::fs::remove_file(dir.join(PLAN_FILE));
            return Err(e);
        }
    };

    let proposal = assemble(
        ctx,
        req,
        proposals,
        unchanged,
        super::check::counts(&plan),
        refresh,
        snapshot.now().map(rfc3339),
    );
    proposal.write(&dir)?;
    let mut written = written;
    written.push(PathBuf::from(PROPOSAL_FILE));
    Ok(Proposed {
        proposal,
        plan_text,
        written,
    })
}

fn imports_hcl(imports: &[(String, FileSystemId)]) -> String {
    let mut s = String::from(
        "# Written by `efs-dr propose`: the replication exists in AWS but not in the state, so\n# this phase imports it instead of creating it twice. The next proposal removes this file.\n",
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
    plan: PlanCounts,
    refresh: bool,
    proposed_at: Option<String>,
) -> Proposal {
    let op = op_args(req.op);
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
        plan,
        commands: Commands {
            before_apply: before,
            apply,
            after_apply: after,
            next,
        },
    }
}

/// The files a proposal writes, as they were: put back when it fails.
struct Backup {
    dir: PathBuf,
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Backup {
    fn take(dir: &Path, names: &[&str]) -> Backup {
        Backup {
            dir: dir.to_path_buf(),
            files: names
                .iter()
                .map(|n| (PathBuf::from(n), std::fs::read(dir.join(n)).ok()))
                .collect(),
        }
    }

    fn restore(&self) {
        for (name, content) in &self.files {
            let path = self.dir.join(name);
            let _ = match content {
                Some(c) => std::fs::write(&path, c),
                None => std::fs::remove_file(&path).or(Ok(())),
            };
        }
    }
}
