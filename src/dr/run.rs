//! Runs an operation: observe, plan the phases left from the live state, then phase by phase
//! (all pairs at the same phase together): confirm, SDK change, render variables -> plan ->
//! safety check -> apply, and gate on AWS. Every run writes a report.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::events::{EventKind, Events, TfChange};
use super::gate::{evaluate, Outcome};
use super::observe::{live_directions, observe, observe_regions, views};
use super::phase::{Gate, Phase, RunFlags, SdkChange, Step};
use super::planner::{plan_pair, Blocked, Operation, PairPlan};
use super::report::{ChangeRecord, PairReport, PhaseRecord, Report, Rto, SdkRecord};
use super::view::{PairView, Role, Snapshot};
use crate::aws::{rfc3339, Aws, AwsTime};
use crate::config::{Config, Pair};
use crate::render::{self, replication_address, Direction};
use crate::terraform::{safety, Terraform, TfError};

/// How a run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// Exit 1.
    Error(String),
    /// Exit 2: refused as unsafe or not confirmed.
    Refused(String),
    /// Exit 3: a gate did not pass in time.
    GateTimeout(String),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Error(_) => 1,
            RunError::Refused(_) => 2,
            RunError::GateTimeout(_) => 3,
        }
    }
    pub fn message(&self) -> &str {
        match self {
            RunError::Error(m) | RunError::Refused(m) | RunError::GateTimeout(m) => m,
        }
    }
}

impl From<TfError> for RunError {
    fn from(e: TfError) -> Self {
        RunError::Error(e.to_string())
    }
}

/// How confirmations are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// `--yes`.
    Yes,
    /// Ask on the terminal when there is one; refuse otherwise.
    Ask,
}

/// Everything a run needs from outside.
pub struct Context {
    pub config: Config,
    pub aws: Aws,
    pub tf: Terraform,
    pub confirm: Confirm,
    pub report_dir: PathBuf,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Request {
    pub op: Operation,
    /// The selected pairs (all of the config when none was named).
    pub pairs: Vec<Pair>,
    pub flags: RunFlags,
    pub dry_run: bool,
}

/// The result of a run.
#[derive(Debug)]
pub struct Finished {
    pub result: Result<String, RunError>,
    pub report: Option<PathBuf>,
    pub report_data: Report,
    /// The phases a dry run found (empty otherwise).
    pub planned: Vec<Phase>,
}

struct Runner<'a> {
    ctx: &'a Context,
    req: &'a Request,
    events: &'a mut Events,
    report: Report,
    aws_start: Option<AwsTime>,
    planned: Vec<Phase>,
    /// Regions that did not answer in the latest full observation.
    unreachable: BTreeSet<String>,
}

/// Runs the request to its end and writes the report.
pub async fn run(ctx: &Context, req: &Request, events: &mut Events) -> Finished {
    let mut runner = Runner {
        ctx,
        req,
        events,
        report: Report::new(req.op.name()),
        aws_start: None,
        planned: Vec::new(),
        unreachable: BTreeSet::new(),
    };
    runner.events.emit(
        None,
        None,
        None,
        EventKind::RunStarted {
            operation: req.op.name().into(),
            pairs: req.pairs.iter().map(|p| p.name.clone()).collect(),
        },
    );
    let result = runner.execute().await;
    let (outcome, message, code) = match &result {
        Ok(m) => ("done".to_string(), m.clone(), 0),
        Err(e) => (
            match e {
                RunError::Error(_) => "error",
                RunError::Refused(_) => "refused",
                RunError::GateTimeout(_) => "gate timeout",
            }
            .to_string(),
            e.message().to_string(),
            e.exit_code(),
        ),
    };
    runner.report.outcome = outcome;
    runner.report.message = message.clone();
    runner.report.exit_code = code;
    runner.report.wall_seconds = runner.events.elapsed().as_secs_f64();
    runner.report.aws_started_at = runner.aws_start.map(rfc3339);
    runner.report.aws_finished_at = ctx.aws.regions().filter_map(|r| r.now()).max().map(rfc3339);
    let report = if req.dry_run {
        None
    } else {
        runner.report.set_timeline(&runner.events.timeline);
        match runner.report.write(&ctx.report_dir) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!("the report was not written: {e}");
                None
            }
        }
    };
    runner.events.emit(
        None,
        None,
        runner.report.aws_finished_at.as_deref().and_then(|t| humantime::parse_rfc3339(t).ok()),
        EventKind::Finished {
            exit_code: code,
            message: if code == 0 {
                message
            } else {
                format!("error: {message}")
            },
            report: report.as_ref().map(|p| p.display().to_string()),
        },
    );
    let mut data = runner.report;
    data.set_timeline(&runner.events.timeline);
    Finished {
        result,
        report,
        report_data: data,
        planned: runner.planned,
    }
}

fn unreachable(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot
        .regions
        .iter()
        .filter(|(_, v)| v.error.as_ref().is_some_and(|e| e.is_unreachable()))
        .map(|(r, _)| r.clone())
        .collect()
}

fn pair_label(p: &Pair) -> (String, String) {
    (
        format!("{} ({})", p.primary.file_system_id, p.primary.region),
        format!("{} ({})", p.secondary.file_system_id, p.secondary.region),
    )
}

fn fmt_secs(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

impl Runner<'_> {
    fn all_pairs(&self) -> &[Pair] {
        &self.ctx.config.pairs
    }

    /// A and B of the selected pairs: their last writes go into the report.
    fn watch_all(&self) -> BTreeSet<(String, String)> {
        self.req
            .pairs
            .iter()
            .flat_map(|p| {
                [
                    (p.primary.region.to_string(), p.primary.file_system_id.to_string()),
                    (p.secondary.region.to_string(), p.secondary.file_system_id.to_string()),
                ]
            })
            .collect()
    }

    async fn state(&self) -> Result<BTreeSet<String>, RunError> {
        Ok(self.ctx.tf.state_list().await?.into_iter().collect())
    }

    /// Writes the Terraform root for `directions` (pairs not listed keep their live direction).
    fn render(&self, directions: &BTreeMap<String, Direction>) -> Result<(), RunError> {
        let files = render::render_root(&self.ctx.config, directions)
            .map_err(|e| RunError::Error(e.to_string()))?;
        render::write(&self.ctx.tf.dir, &files).map_err(|e| RunError::Error(e.to_string()))?;
        Ok(())
    }

    /// Renders the root for the live directions and runs `terraform init` when the directory
    /// has not been initialised (a fresh checkout, another machine).
    async fn prepare_root(&self, snapshot: &Snapshot) -> Result<(), RunError> {
        let live = live_directions(self.all_pairs(), snapshot);
        let dir = &self.ctx.tf.dir;
        let fresh = !dir.join(".terraform").exists();
        if fresh || self.req.op == Operation::Init {
            self.render(&live)?;
        }
        if fresh || self.req.op == Operation::Init {
            self.events.say(&format!("terraform init in {}", dir.display()));
            self.ctx.tf.init().await?;
        }
        Ok(())
    }

    async fn execute(&mut self) -> Result<String, RunError> {
        let snapshot = observe(&self.ctx.aws, &self.watch_all()).await;
        self.aws_start = snapshot.now();
        self.unreachable = unreachable(&snapshot);
        if !self.req.dry_run {
            self.prepare_root(&snapshot).await?;
        }
        let state = match self.state().await {
            Ok(s) => Some(s),
            Err(e) if self.req.dry_run => {
                tracing::warn!("the Terraform state was not read: {}", e.message());
                None
            }
            Err(e) => return Err(e),
        };
        let views = views(&self.req.pairs, &snapshot, state.as_ref());
        let mut plans: BTreeMap<String, PairPlan> = BTreeMap::new();
        let mut blocked = Vec::new();
        for (pair, view) in self.req.pairs.iter().zip(&views) {
            let (a, b) = pair_label(pair);
            match plan_pair(self.req.op, view) {
                Ok(plan) => {
                    self.report.pairs.push(PairReport {
                        name: pair.name.clone(),
                        a,
                        b,
                        found: plan.summary.clone(),
                        phases: Vec::new(),
                        rto: None,
                        data_at_risk: None,
                        data_at_risk_seconds: None,
                        notes: Vec::new(),
                    });
                    self.events.say(&format!("[{}] {}", pair.name, plan.summary));
                    plans.insert(pair.name.clone(), plan);
                }
                Err(b) => blocked.push((pair.name.clone(), b)),
            }
        }
        if !blocked.is_empty() {
            let unsafe_ = blocked.iter().any(|(_, b)| matches!(b, Blocked::Unsafe(_)));
            let text = blocked
                .iter()
                .map(|(name, b)| match b {
                    Blocked::Unsafe(m) | Blocked::Error(m) => format!("pair {name}: {m}"),
                })
                .collect::<Vec<_>>()
                .join("\n");
            let text = format!("{text}\nnothing was changed");
            for (name, b) in &blocked {
                let (Blocked::Unsafe(m) | Blocked::Error(m)) = b;
                self.events.emit(
                    Some(name),
                    None,
                    snapshot.now(),
                    EventKind::Refused { message: m.clone() },
                );
            }
            return Err(if unsafe_ {
                RunError::Refused(text)
            } else {
                RunError::Error(text)
            });
        }
        if plans.values().all(|p| p.steps.is_empty()) {
            return Ok(format!("nothing to do: {}", self.req.op.name()));
        }
        if matches!(self.req.op, Operation::Failover { .. }) {
            for view in &views {
                self.record_data_at_risk(view);
            }
        }
        if self.req.dry_run {
            let phases = self.phases(&plans);
            for p in &phases {
                self.events.say(&format!(
                    "[{}] would run: {} (gate: {})",
                    p.pair,
                    p.title,
                    p.gate.describe()
                ));
            }
            let n = phases.len();
            self.planned = phases;
            return Ok(format!("dry run: {n} phase(s) would run; nothing was changed"));
        }

        // Phases run in step order; pairs at the same step run together.
        let mut queues: BTreeMap<String, Vec<Step>> = plans
            .into_iter()
            .map(|(k, v)| (k, v.steps))
            .collect();
        loop {
            let Some(step) = queues.values().filter_map(|q| q.first()).min().copied() else {
                break;
            };
            let pairs: Vec<&Pair> = self
                .req
                .pairs
                .iter()
                .filter(|p| queues.get(&p.name).and_then(|q| q.first()) == Some(&step))
                .collect();
            let phases: Vec<Phase> = pairs
                .iter()
                .map(|p| Phase::new(p, step, &self.ctx.config.gates, self.req.flags))
                .collect();
            self.run_phase(step, &phases).await?;
            for p in &pairs {
                if let Some(q) = queues.get_mut(&p.name) {
                    q.remove(0);
                }
            }
        }
        Ok(format!("{} done", self.req.op.name()))
    }

    fn phases(&self, plans: &BTreeMap<String, PairPlan>) -> Vec<Phase> {
        let mut out = Vec::new();
        for pair in &self.req.pairs {
            if let Some(plan) = plans.get(&pair.name) {
                for step in &plan.steps {
                    out.push(Phase::new(pair, *step, &self.ctx.config.gates, self.req.flags));
                }
            }
        }
        out
    }

    fn record_data_at_risk(&mut self, view: &PairView) {
        let Some(r) = view.forward() else { return };
        let text;
        let mut secs = None;
        match (r.last_replicated, view.a.reachable(), view.a.last_write) {
            (Some(sync), true, Some(w)) => {
                let at_risk = w.at.and_then(|w| w.duration_since(sync).ok()).unwrap_or_default();
                secs = Some(at_risk.as_secs_f64());
                text = format!(
                    "{} (last write on A {}, last completed sync {})",
                    fmt_secs(at_risk),
                    w.at.map(rfc3339).unwrap_or_else(|| "none in the last 6h".into()),
                    rfc3339(sync)
                );
            }
            (Some(sync), _, _) => {
                let bound = view
                    .now
                    .and_then(|n| n.duration_since(sync).ok())
                    .unwrap_or_default();
                text = format!(
                    "unknown: A's region does not answer; at most {} (writes since the last completed sync, {})",
                    fmt_secs(bound),
                    rfc3339(sync)
                );
            }
            (None, _, _) => text = "everything on A: no sync ever completed".into(),
        }
        if let Some(p) = self.report.pair_mut(&view.pair) {
            p.data_at_risk = Some(text);
            p.data_at_risk_seconds = secs;
        }
    }

    fn confirm(&self, question: &str, flag: &str) -> Result<(), RunError> {
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        if !interactive {
            return Err(RunError::Refused(format!(
                "{question}\nnot confirmed: there is no terminal to ask on; pass {flag} to proceed"
            )));
        }
        let mut err = std::io::stderr();
        let _ = write!(err, "{question}\nProceed? [y/N] ");
        let _ = err.flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        if matches!(line.trim(), "y" | "Y" | "yes") {
            Ok(())
        } else {
            Err(RunError::Refused(format!("not confirmed; nothing more was changed ({flag} skips this question)")))
        }
    }

    async fn run_phase(&mut self, step: Step, phases: &[Phase]) -> Result<(), RunError> {
        let pairs = phases.iter().map(|p| p.pair.as_str()).collect::<Vec<_>>().join(", ");
        if step == Step::Quiesce && !self.req.flags.writes_stopped {
            self.confirm(
                &format!("Pairs {pairs}: stop the application writing to B now. The gate then checks that writes stopped and reached A."),
                "--writes-stopped",
            )?;
        } else if step.changes_something() && self.ctx.confirm == Confirm::Ask {
            let notes = phases
                .iter()
                .filter_map(|p| p.note.as_deref())
                .next()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            self.confirm(&format!("Pairs {pairs}: {}{notes}.", step.title()), "--yes")?;
        }
        let now = self.ctx.aws.regions().filter_map(|r| r.now()).max();
        for p in phases {
            self.events.emit(
                Some(&p.pair),
                Some(step),
                now,
                EventKind::PhaseStarted {
                    title: p.title.into(),
                    gate: p.gate.describe(),
                },
            );
            let started = self.events.elapsed().as_secs_f64();
            if let Some(r) = self.report.pair_mut(&p.pair) {
                r.phases.push(PhaseRecord {
                    step,
                    title: p.title.into(),
                    gate: p.gate.describe(),
                    started_s: started,
                    ended_s: None,
                    aws_started: now.map(rfc3339),
                    aws_ended: None,
                    gate_result: None,
                });
            }
        }
        self.sdk_changes(phases).await?;
        if phases.iter().any(Phase::uses_terraform) {
            self.terraform(step, phases).await?;
        }
        self.gates(step, phases).await
    }

    async fn sdk_changes(&mut self, phases: &[Phase]) -> Result<(), RunError> {
        for phase in phases {
            let Some(change) = &phase.sdk else { continue };
            let pair = self
                .req
                .pairs
                .iter()
                .find(|p| p.name == phase.pair)
                .expect("phases come from selected pairs");
            let context = |e: crate::aws::AwsError| {
                RunError::Error(format!(
                    "pair {}, phase \"{}\": {e}. Nothing else was changed; run the same command again to continue",
                    phase.pair, phase.title
                ))
            };
            let resolved = match change {
                SdkChange::SetProtection {
                    region,
                    file_system_id,
                    status,
                } => {
                    let clients = self.ctx.aws.region(&crate::ids::Region::parse(region).map_err(RunError::Error)?);
                    clients.set_protection(file_system_id, status).await.map_err(context)?;
                    change.clone()
                }
                SdkChange::DeleteReplication {
                    region,
                    source_file_system_id,
                    local_only,
                } => {
                    // LOCAL_CONFIGURATION_ONLY when A's region did not answer the observation
                    // this run started with (asking again would cost its retries' time).
                    let local_only = match local_only {
                        Some(l) => *l,
                        None => self.unreachable.contains(pair.primary.region.as_str()),
                    };
                    let clients = self.ctx.aws.region(&crate::ids::Region::parse(region).map_err(RunError::Error)?);
                    clients
                        .delete_replication(source_file_system_id, local_only)
                        .await
                        .map_err(context)?;
                    if local_only && phase.step == Step::DeleteForwardFromB {
                        if let Some(r) = self.report.pair_mut(&phase.pair) {
                            r.notes.push(format!(
                                "A's region {} did not answer: the replication was deleted in B's region only (LOCAL_CONFIGURATION_ONLY). A still holds a stale configuration; `efs-dr failback` removes it",
                                pair.primary.region
                            ));
                        }
                    }
                    SdkChange::DeleteReplication {
                        region: region.clone(),
                        source_file_system_id: source_file_system_id.clone(),
                        local_only: Some(local_only),
                    }
                }
            };
            let now = self.ctx.aws.regions().filter_map(|r| r.now()).max();
            self.events.emit(
                Some(&phase.pair),
                Some(phase.step),
                now,
                EventKind::SdkChange {
                    change: resolved.clone(),
                },
            );
            self.report.sdk_changes.push(SdkRecord {
                pair: phase.pair.clone(),
                text: match &resolved {
                    SdkChange::SetProtection {
                        region,
                        file_system_id,
                        status,
                    } => format!("UpdateFileSystemProtection {file_system_id} ({region}) -> {status}"),
                    SdkChange::DeleteReplication {
                        region,
                        source_file_system_id,
                        local_only,
                    } => format!(
                        "DeleteReplicationConfiguration source {source_file_system_id} in {region} ({})",
                        if *local_only == Some(true) {
                            "LOCAL_CONFIGURATION_ONLY"
                        } else {
                            "ALL_CONFIGURATIONS"
                        }
                    ),
                },
                change: serde_json::to_value(&resolved).unwrap_or_default(),
            });
        }
        Ok(())
    }

    async fn terraform(&mut self, step: Step, phases: &[Phase]) -> Result<(), RunError> {
        let snapshot = observe(&self.ctx.aws, &BTreeSet::new()).await;
        self.unreachable = unreachable(&snapshot);
        let mut state = self.state().await?;
        let views = views(&self.req.pairs, &snapshot, Some(&state));
        let mut directions = live_directions(self.all_pairs(), &snapshot);
        for p in phases {
            if let Some(d) = p.direction {
                directions.insert(p.pair.clone(), d);
            }
        }
        for phase in phases {
            let pair = self
                .req
                .pairs
                .iter()
                .find(|p| p.name == phase.pair)
                .expect("selected");
            let view = views.iter().find(|v| v.pair == phase.pair).expect("viewed");
            let fwd = replication_address(pair, Direction::Forward).expect("address");
            let rev = replication_address(pair, Direction::Reverse).expect("address");
            let (address, live, source) = match step {
                Step::ImportForward | Step::CreateForward | Step::RemoveForward | Step::ForgetForward => {
                    (fwd, view.forward().is_some(), pair.primary.file_system_id.to_string())
                }
                _ => (rev, view.reverse().is_some(), pair.secondary.file_system_id.to_string()),
            };
            let in_state = state.contains(&address);
            match step {
                Step::ImportForward | Step::ImportReverse | Step::CreateForward | Step::CreateReverse
                    if live && !in_state =>
                {
                    // Exists in AWS but not in the state (set up by hand, or a run stopped
                    // between AWS's answer and the state write): import, never recreate.
                    self.render(&directions)?;
                    self.ctx.tf.import(&address, &source).await?;
                    state.insert(address.clone());
                    self.events.emit(
                        Some(&phase.pair),
                        Some(step),
                        snapshot.now(),
                        EventKind::StateChanged {
                            command: "import".into(),
                            address,
                        },
                    );
                }
                Step::RemoveForward | Step::RemoveReverse if live && !in_state => {
                    return Err(RunError::Error(format!(
                        "pair {}: the replication exists in AWS but {address} is not in the Terraform state, so Terraform cannot remove it. Run `efs-dr init` to import it, then run this command again",
                        phase.pair
                    )));
                }
                Step::ForgetForward if in_state => {
                    self.ctx.tf.state_rm(std::slice::from_ref(&address)).await?;
                    state.remove(&address);
                    self.events.emit(
                        Some(&phase.pair),
                        Some(step),
                        snapshot.now(),
                        EventKind::StateChanged {
                            command: "state rm".into(),
                            address,
                        },
                    );
                }
                _ => {}
            }
        }
        self.render(&directions)?;
        let allowed: Vec<_> = phases.iter().flat_map(|p| p.allowed.clone()).collect();
        // Forgetting must not read A (its region may be down): plan from the state alone.
        let refresh = step != Step::ForgetForward;
        let plan_file = PathBuf::from("efs-dr.tfplan");
        let changes = self.ctx.tf.plan_with(&plan_file, refresh).await?;
        let plan_changes: Vec<crate::terraform::ResourceChange> = if changes {
            let plan = self.ctx.tf.show_plan(&plan_file).await?;
            safety::check(&plan, &allowed).map_err(|e| {
                RunError::Refused(format!("phase \"{}\": {e}", step.title()))
            })?;
            plan.changes().into_iter().cloned().collect()
        } else {
            Vec::new()
        };
        let now = snapshot.now();
        for phase in phases {
            let mine: Vec<TfChange> = plan_changes
                .iter()
                .filter(|c| phase.allowed.iter().any(|a| a.address == c.address))
                .map(|c| TfChange {
                    address: c.address.clone(),
                    kind: c.kind(),
                })
                .collect();
            self.events.emit(
                Some(&phase.pair),
                Some(step),
                now,
                EventKind::PlanSummary {
                    changes: mine.clone(),
                },
            );
        }
        if changes {
            self.ctx.tf.apply(&plan_file).await?;
        }
        let _ = std::fs::remove_file(self.ctx.tf.dir.join(&plan_file));
        let now = self.ctx.aws.regions().filter_map(|r| r.now()).max();
        for phase in phases {
            let mine: Vec<TfChange> = plan_changes
                .iter()
                .filter(|c| phase.allowed.iter().any(|a| a.address == c.address))
                .map(|c| TfChange {
                    address: c.address.clone(),
                    kind: c.kind(),
                })
                .collect();
            for c in &mine {
                self.report.terraform_changes.push(ChangeRecord {
                    pair: phase.pair.clone(),
                    address: c.address.clone(),
                    kind: super::report::kind_word(c.kind),
                });
            }
            if changes {
                self.events.emit(
                    Some(&phase.pair),
                    Some(step),
                    now,
                    EventKind::Applied { changes: mine },
                );
            }
        }
        Ok(())
    }

    async fn gates(&mut self, step: Step, phases: &[Phase]) -> Result<(), RunError> {
        let gates = &self.ctx.config.gates;
        let base = gates.poll_interval;
        let timeout = gates.replication_timeout;
        let wall_start = Instant::now();
        let mut aws_start: Option<AwsTime> = None;
        let mut pending: Vec<&Phase> = phases.iter().collect();
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        let mut overdue_polls = 0u32;
        let watch: BTreeSet<(String, String)> = phases
            .iter()
            .filter_map(|p| {
                let pair = self.req.pairs.iter().find(|x| x.name == p.pair)?;
                match &p.gate {
                    Gate::Quiesced { .. } => Some((
                        pair.secondary.region.to_string(),
                        pair.secondary.file_system_id.to_string(),
                    )),
                    Gate::Rpo {
                        writes_stopped: true,
                        ..
                    } => Some((
                        pair.primary.region.to_string(),
                        pair.primary.file_system_id.to_string(),
                    )),
                    _ => None,
                }
            })
            .collect();
        let needs_state = phases.iter().any(|p| matches!(p.gate, Gate::InState { .. }));
        let regions: BTreeSet<String> = phases
            .iter()
            .filter_map(|p| {
                let pair = self.req.pairs.iter().find(|x| x.name == p.pair)?;
                Some(
                    gate_roles(&p.gate)
                        .into_iter()
                        .map(|r| match r {
                            Role::A => pair.primary.region.to_string(),
                            Role::B => pair.secondary.region.to_string(),
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect();
        loop {
            let snapshot = observe_regions(&self.ctx.aws, Some(&regions), &watch).await;
            let now = snapshot.now();
            if aws_start.is_none() {
                aws_start = now;
            }
            let state = if needs_state { Some(self.state().await?) } else { None };
            let selected: Vec<Pair> = pending
                .iter()
                .filter_map(|p| self.req.pairs.iter().find(|x| x.name == p.pair).cloned())
                .collect();
            let views = views(&selected, &snapshot, state.as_ref());
            let aws_elapsed = match (aws_start, now) {
                (Some(s), Some(n)) => n.duration_since(s).unwrap_or_default(),
                _ => Duration::ZERO,
            };
            let expected = step.expected();
            let interval = next_interval(base, aws_elapsed, expected, wall_start.elapsed(), &mut overdue_polls);
            let mut still = Vec::new();
            for phase in pending {
                let view = views.iter().find(|v| v.pair == phase.pair).expect("viewed");
                let outcome = evaluate(&phase.gate, view);
                self.events.emit(
                    Some(&phase.pair),
                    Some(step),
                    now,
                    EventKind::GatePolled {
                        outcome: outcome.clone(),
                        next_poll_ms: interval.as_millis() as u64,
                    },
                );
                match outcome {
                    Outcome::Passed(detail) => {
                        self.passed(phase, view, &detail, now, wall_start.elapsed());
                    }
                    Outcome::Refused(why) => {
                        return Err(RunError::Refused(format!(
                            "pair {}, phase \"{}\": {why}. Nothing more was changed",
                            phase.pair, phase.title
                        )));
                    }
                    Outcome::Waiting(w) => {
                        last.insert(phase.pair.clone(), w);
                        still.push(phase);
                    }
                }
            }
            pending = still;
            if pending.is_empty() {
                return Ok(());
            }
            if aws_elapsed >= timeout || wall_start.elapsed() >= timeout {
                let what = pending
                    .iter()
                    .map(|p| {
                        format!(
                            "pair {}: \"{}\" still not true: {}",
                            p.pair,
                            p.gate.describe(),
                            last.get(&p.pair).map(String::as_str).unwrap_or("unknown")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                let advice = if step == Step::Quiesce {
                    "nothing was cut over: B keeps serving and B -> A keeps replicating, so no data is lost. Stop the application on B, then run `efs-dr failback --writes-stopped` again"
                } else {
                    "nothing further was changed. Find out why (`efs-dr status`, the EFS console), then run the same command again: it continues from this phase"
                };
                return Err(RunError::GateTimeout(format!(
                    "gate of phase \"{}\" did not pass within {} (AWS time):\n{what}\n{advice}",
                    step.title(),
                    fmt_secs(timeout)
                )));
            }
            tokio::time::sleep(interval).await;
        }
    }

    fn passed(
        &mut self,
        phase: &Phase,
        view: &PairView,
        detail: &str,
        now: Option<SystemTime>,
        gate_elapsed: Duration,
    ) {
        self.events.emit(
            Some(&phase.pair),
            Some(phase.step),
            now,
            EventKind::GatePassed {
                detail: detail.to_string(),
                elapsed_ms: gate_elapsed.as_millis() as u64,
            },
        );
        let wall = self.events.elapsed();
        let aws_start = self.aws_start;
        let is_failover = matches!(self.req.op, Operation::Failover { .. });
        if phase.step == Step::CheckRpo {
            self.record_data_at_risk(view);
        }
        if phase.step == Step::Quiesce {
            if let Some(r) = self.report.pair_mut(&phase.pair) {
                r.notes.push(format!("cut-over was safe: {detail}"));
                r.data_at_risk = Some("0s: writes on B stopped and were synced to A before the cut-over".into());
                r.data_at_risk_seconds = Some(0.0);
            }
        }
        if let Some(r) = self.report.pair_mut(&phase.pair) {
            if let Some(rec) = r.phases.iter_mut().rev().find(|x| x.step == phase.step) {
                rec.ended_s = Some(wall.as_secs_f64());
                rec.aws_ended = now.map(rfc3339);
                rec.gate_result = Some(detail.to_string());
            }
            let b_writable = matches!(
                phase.gate,
                Gate::NoReplication {
                    writable: Role::B,
                    ..
                }
            );
            if is_failover && b_writable && r.rto.is_none() {
                r.rto = Some(Rto {
                    aws_seconds: match (aws_start, now) {
                        (Some(s), Some(n)) => n.duration_since(s).unwrap_or_default().as_secs_f64(),
                        _ => 0.0,
                    },
                    wall_seconds: wall.as_secs_f64(),
                });
            }
        }
    }
}

/// The sides whose regions a gate reads: a gate on B alone does not wait for A's region.
fn gate_roles(gate: &Gate) -> Vec<Role> {
    match gate {
        Gate::InState { .. } => vec![],
        Gate::NoReplication { roles, writable } => {
            let mut r = roles.clone();
            if !r.contains(writable) {
                r.push(*writable);
            }
            r
        }
        Gate::Protection { role, .. } => vec![*role],
        Gate::Rpo { .. } | Gate::Replicating { .. } | Gate::Quiesced { .. } => vec![Role::A, Role::B],
    }
}

/// The next poll: fast near the expected completion, backing off before it and once it is
/// long overdue. `expected` and `aws_elapsed` are AWS time; the ratio of AWS to wall time so far
/// converts between them (a simulator runs faster than the wall clock).
pub fn next_interval(
    base: Duration,
    aws_elapsed: Duration,
    expected: Duration,
    wall_elapsed: Duration,
    overdue_polls: &mut u32,
) -> Duration {
    let max = base * 8;
    let rate = if wall_elapsed > Duration::from_millis(500) && aws_elapsed > Duration::ZERO {
        (aws_elapsed.as_secs_f64() / wall_elapsed.as_secs_f64()).max(0.01)
    } else {
        1.0
    };
    if aws_elapsed < expected {
        *overdue_polls = 0;
        let remaining_wall = (expected - aws_elapsed).as_secs_f64() / rate;
        Duration::from_secs_f64(remaining_wall / 2.0).clamp(base, max)
    } else {
        *overdue_polls += 1;
        let factor = 1.5f64.powi((*overdue_polls / 4).min(5) as i32);
        Duration::from_secs_f64(base.as_secs_f64() * factor).min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_back_off_far_from_the_expected_completion_and_speed_up_near_it() {
        let base = Duration::from_secs(5);
        let mut n = 0;
        let far = next_interval(base, Duration::ZERO, Duration::from_secs(480), Duration::ZERO, &mut n);
        assert_eq!(far, base * 8);
        let near = next_interval(
            base,
            Duration::from_secs(470),
            Duration::from_secs(480),
            Duration::from_secs(470),
            &mut n,
        );
        assert_eq!(near, base);
        // At a simulator's 600x, 8 minutes of AWS time are 0.8 s of wall time.
        let fast = next_interval(
            Duration::from_millis(20),
            Duration::from_secs(60),
            Duration::from_secs(480),
            Duration::from_secs(1),
            &mut n,
        );
        assert!(fast < Duration::from_millis(161), "{fast:?}");
        // Long overdue: back off again, never past 8x.
        let mut over = 0;
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            last = next_interval(base, Duration::from_secs(900), Duration::from_secs(480), Duration::from_secs(900), &mut over);
        }
        assert!(last > base && last <= base * 8, "{last:?}");
    }
}
