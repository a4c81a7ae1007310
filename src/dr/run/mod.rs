//! Runs an operation: observe, plan the phases left from the live state, then phase by phase
//! (all pairs at the same phase together): confirm, SDK change, render variables -> plan ->
//! safety check -> apply, and gate on AWS. Every run writes a report.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

mod gates;
mod sdk;
mod terraform;

use super::events::{EventKind, Events};
use super::gate::fmt_dur;
use super::observe::{live_directions, observe, views};
use super::phase::{Phase, RunFlags, Step};
use super::planner::{plan_pair, Blocked, Operation, PairPlan};
use super::report::{PairReport, PhaseRecord, Report};
use super::view::{PairView, Snapshot};
use crate::aws::{rfc3339, Aws, AwsTime};
use crate::config::{Config, Pair};
use crate::render::{self, Direction};
use crate::terraform::{Terraform, TfError};

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
    /// The request's flags, with what the run learns at its start.
    flags: RunFlags,
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
        flags: req.flags,
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
    runner.report.aws_finished_at = ctx.aws.now().map(rfc3339);
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
        runner
            .report
            .aws_finished_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339(t).ok()),
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
                    (
                        p.primary.region.to_string(),
                        p.primary.file_system_id.to_string(),
                    ),
                    (
                        p.secondary.region.to_string(),
                        p.secondary.file_system_id.to_string(),
                    ),
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
            self.events
                .say(&format!("terraform init in {}", dir.display()));
            self.ctx.tf.init().await?;
        }
        Ok(())
    }

    async fn execute(&mut self) -> Result<String, RunError> {
        let snapshot = observe(&self.ctx.aws, &self.watch_all()).await;
        self.aws_start = snapshot.now();
        self.unreachable = unreachable(&snapshot);
        if self.flags.writes_stopped {
            self.flags.writes_stopped_at = self.aws_start;
        }
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
                    self.events
                        .say(&format!("[{}] {}", pair.name, plan.summary));
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
            return Ok(format!(
                "dry run: {n} phase(s) would run; nothing was changed"
            ));
        }

        // Phases run in step order; pairs at the same step run together.
        let mut queues: BTreeMap<String, Vec<Step>> =
            plans.into_iter().map(|(k, v)| (k, v.steps)).collect();
        while let Some(step) = queues.values().filter_map(|q| q.first()).min().copied() {
            let pairs: Vec<&Pair> = self
                .req
                .pairs
                .iter()
                .filter(|p| queues.get(&p.name).and_then(|q| q.first()) == Some(&step))
                .collect();
            let phases: Vec<Phase> = pairs
                .iter()
                .map(|p| Phase::new(p, step, &self.ctx.config.gates, self.flags))
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
                    out.push(Phase::new(pair, *step, &self.ctx.config.gates, self.flags));
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
                let at_risk =
                    w.at.and_then(|w| w.duration_since(sync).ok())
                        .unwrap_or_default();
                secs = Some(at_risk.as_secs_f64());
                text = format!(
                    "{} (last write on A {}, last completed sync {})",
                    fmt_dur(at_risk),
                    w.at.map(rfc3339)
                        .unwrap_or_else(|| "none in the last 6h".into()),
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
                    fmt_dur(bound),
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
            Err(RunError::Refused(format!(
                "not confirmed; nothing more was changed ({flag} skips this question)"
            )))
        }
    }

    async fn run_phase(&mut self, step: Step, phases: &[Phase]) -> Result<(), RunError> {
        let pairs = phases
            .iter()
            .map(|p| p.pair.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if step == Step::Quiesce && !self.flags.writes_stopped {
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
        let now = self.ctx.aws.now();
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
}
