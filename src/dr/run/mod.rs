//! Carries out what `decide` decided. A run observes, decides every pair's phases from the live
//! state, then takes the phases in step order (pairs at the same step together): observe,
//! decide the step's actions, carry them out (confirm, SDK change, Terraform, gate). Its only
//! output is events.

use std::collections::{BTreeMap, BTreeSet};

mod gates;
mod hooks;
mod route;
mod sdk;
mod terraform;

use super::confirm::{Answer, Confirm};
pub use super::context::Context;
use super::decide::{self, Action, Inputs, Question, Skip};
use super::error::{DrError, Outcome};
use super::events::{Event, EventKind, EventSink, Recorder};
pub use super::pending::Scope;
use super::pending::{in_scope, stage, StageStep};
use super::phase::{GateWork, RunFlags, SdkWork, Step};
use super::planner::Operation;
use super::position::{self, Facts, Look, PairPosition};
use super::view::{PairView, Snapshot};
use super::writes::AOnlyWrites;
use crate::config::Pair;
use crate::lease::LeaseError;
use crate::render;

/// What to run.
#[derive(Debug, Clone)]
pub struct Request {
    pub op: Operation,
    /// The selected pairs (all of the config when none was named).
    pub pairs: Vec<Pair>,
    pub flags: RunFlags,
    /// Decide and report; change nothing.
    pub dry_run: bool,
    /// Which of the phases left this run takes.
    pub scope: Scope,
    /// A pipeline stage: when its operation started (the merged proposal's reading of AWS,
    /// AWS time), so that the RTO counts from there, not from this stage.
    pub operation_started: Option<crate::aws::AwsTime>,
    /// Who runs it, with what: said at the run's start for the report.
    pub audit: Option<super::events::Audit>,
}

/// How a run that did not fail ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every pair was where the operation takes it already.
    NothingToDo(String),
    /// A preview: this many phases would run; nothing was changed.
    DryRun { phases: usize },
    /// What the run did (or, for a pipeline stage, where the operation stands).
    Done(String),
}

impl Ended {
    pub fn message(&self) -> String {
        match self {
            Ended::NothingToDo(m) | Ended::Done(m) => m.clone(),
            Ended::DryRun { phases } => {
                format!("dry run: {phases} phase(s) would run; nothing was changed")
            }
        }
    }
}

/// The end of a run, and everything it said.
#[derive(Debug)]
pub struct Finished {
    pub result: Result<Ended, DrError>,
    pub events: Vec<Event>,
}

/// Runs the request to its end.
pub async fn run(
    ctx: &Context,
    req: &Request,
    confirm: &dyn Confirm,
    sink: &mut dyn EventSink,
) -> Finished {
    let mut runner = Runner {
        ctx,
        req,
        confirm,
        out: Recorder::new(sink),
        flags: req.flags,
        writes_on_a: BTreeMap::new(),
        failed: Vec::new(),
        warned: BTreeSet::new(),
        first_unread: Vec::new(),
        route_confirmed: false,
        hook_record: None,
    };
    runner.out.emit(
        None,
        None,
        None,
        EventKind::RunStarted {
            operation: req.op,
            pairs: req.pairs.iter().map(|p| p.name.clone()).collect(),
            dry_run: req.dry_run,
            operation_started: req.operation_started.map(crate::aws::rfc3339),
            audit: req.audit.clone(),
        },
    );
    if ctx.lease.is_held() {
        runner.out.emit(
            None,
            None,
            None,
            EventKind::LeaseTaken {
                lease: ctx.lease.name().to_string(),
                taken_over: ctx.lease.taken_over().cloned(),
            },
        );
    }
    let result = runner.execute().await;
    runner.say_lease_notices();
    let (outcome, message) = match &result {
        Ok(end) => (Outcome::Done, end.message()),
        Err(e) => (e.outcome(), e.message().to_string()),
    };
    let figures = super::measure::figures(runner.out.events());
    // A pipeline stage says where the operation stands in its `stage` instead.
    let next = if req.scope == Scope::Everything {
        let changed = runner.out.events().iter().any(|e| {
            matches!(
                e.kind,
                EventKind::SdkChange { .. }
                    | EventKind::StateChanged { .. }
                    | EventKind::Applied { .. }
            )
        });
        super::next::after(
            req.op,
            &result,
            &req.pairs,
            &figures,
            req.audit.as_ref().map(|a| a.command_line.as_slice()),
            changed,
        )
    } else {
        Vec::new()
    };
    runner.out.emit(
        None,
        None,
        ctx.aws.now(),
        EventKind::Finished {
            outcome,
            exit_code: result.as_ref().err().map_or(0, DrError::exit_code),
            message,
            figures,
            stage: result.as_ref().ok().and(runner.stage_end()),
            next,
        },
    );
    Finished {
        result,
        events: runner.out.into_events(),
    }
}

struct Runner<'a> {
    ctx: &'a Context,
    req: &'a Request,
    confirm: &'a dyn Confirm,
    out: Recorder<'a>,
    /// The request's flags, with what the run learns at its start.
    flags: RunFlags,
    /// A failback's assessment of writes only A has, per pair, made once at its start.
    writes_on_a: BTreeMap<String, AOnlyWrites>,
    /// Pairs that stopped (refused, timed out) while the others went on.
    failed: Vec<(String, DrError)>,
    /// The warnings said so far, so that a gate's every poll does not repeat them.
    warned: BTreeSet<(String, String)>,
    /// What the run's first observation could not read, said once the pairs are planned.
    first_unread: Vec<(String, String)>,
    /// The whole route was confirmed once: the phases' own `--yes` questions are not asked
    /// again (a question that needs a fresh answer, writes stopped on B, still is).
    route_confirmed: bool,
    /// Which hooks succeeded (read at the start when a pair has hooks; kept up to date by the
    /// run, which holds the lease).
    hook_record: Option<crate::hooks::ledger::Ledger>,
}

/// One observation with what the state holds, as a round decides from it.
struct Observed {
    snapshot: Snapshot,
    views: Vec<PairView>,
}

fn side_label(side: &crate::config::Side) -> String {
    format!("{} ({})", side.file_system_id, side.region)
}

impl Runner<'_> {
    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            gates: &self.ctx.config.gates,
            flags: self.flags,
        }
    }

    fn pair(&self, name: &str) -> &Pair {
        self.req
            .pairs
            .iter()
            .find(|p| p.name == name)
            .expect("events and actions name selected pairs")
    }

    /// Reads AWS (with the last writes of the selected pairs' file systems when
    /// `with_writes`: the data at risk), the state when `with_state`, and A's backup jobs when
    /// `with_jobs` (a recovery point is being decided or waited for); what was assessed of A's
    /// writes at the run's start is kept.
    async fn observe(
        &mut self,
        with_writes: bool,
        with_state: bool,
        with_jobs: bool,
    ) -> Result<Observed, DrError> {
        let look = Look::for_operation(Some(self.req.op), &self.req.pairs, with_writes);
        let snapshot = position::observe(&self.ctx.aws, &look).await;
        let state = if with_state {
            Some(position::read_state(&self.ctx.tf).await?)
        } else {
            None
        };
        let pairs = self.req.pairs.clone();
        let views = self.views(&pairs, &snapshot, state, with_jobs).await;
        Ok(Observed { snapshot, views })
    }

    /// The views of `pairs`, with the assessment of A's writes made at the run's start; what
    /// could not be read is said.
    async fn views(
        &mut self,
        pairs: &[Pair],
        snapshot: &Snapshot,
        state: Option<BTreeSet<String>>,
        with_jobs: bool,
    ) -> Vec<PairView> {
        let facts = position::gather(
            &self.ctx.aws,
            Some(self.req.op),
            pairs,
            snapshot,
            state,
            Some(&self.writes_on_a),
            with_jobs,
        )
        .await;
        self.say_unread(&facts.unread, snapshot.now());
        let facts = position::Facts {
            hooks: self.hook_record.clone(),
            ..facts
        };
        position::views(pairs, snapshot, &facts)
    }

    /// The hook record, read once at the run's start when a pair has hooks: what another
    /// operation recorded for this run's pairs is forgotten (that operation is over).
    async fn read_hook_record(&mut self) -> Result<(), DrError> {
        if self.req.pairs.iter().all(|p| p.hooks.is_none()) {
            return Ok(());
        }
        let store = crate::hooks::ledger::Store::of(&self.ctx.config);
        let mut record = store.load().await.map_err(|e| {
            DrError::Failed(format!(
                "the hook record {} could not be read ({e}); nothing was changed: without it a hook that already ran could run again",
                store.name()
            ))
        })?;
        let operation = match self.req.op {
            Operation::Init => "init",
            Operation::Failover { .. } => "failover",
            Operation::Failback => "failback",
        };
        let names: Vec<String> = self.req.pairs.iter().map(|p| p.name.clone()).collect();
        if record.begin(operation, &names) && !self.req.dry_run {
            store.save(&record).await.map_err(|e| {
                DrError::Failed(format!(
                    "the hook record {} could not be written ({e}); nothing was changed",
                    store.name()
                ))
            })?;
        }
        self.hook_record = Some(record);
        Ok(())
    }

    /// What the run lease had to say since it was last asked: a warning event each.
    fn say_lease_notices(&mut self) {
        for text in self.ctx.lease.take_notices() {
            self.out
                .emit(None, None, self.ctx.aws.now(), EventKind::Warning { text });
        }
    }

    /// Each piece of evidence that could not be read, once per run: a warning event.
    fn say_unread(&mut self, unread: &[(String, String)], now: Option<crate::aws::AwsTime>) {
        for (pair, text) in unread {
            if self.warned.insert((pair.clone(), text.clone())) {
                self.out.emit(
                    Some(pair),
                    None,
                    now,
                    EventKind::Warning { text: text.clone() },
                );
            }
        }
    }

    /// An unplanned failover whose every pair still shows A -> B decides its first phase (B's
    /// deletions, through the SDK) from AWS alone, whatever the state holds: the deletions go
    /// out without waiting for Terraform, and the state is read at the next phase (forget A ->
    /// B), as every Terraform round does. Every second counts for the RTO.
    fn decides_from_aws_alone(&self, snapshot: &Snapshot) -> bool {
        self.req.op == (Operation::Failover { unplanned: true })
            && self.req.scope == Scope::Everything
            && !self.req.dry_run
            && position::views(&self.req.pairs, snapshot, &Facts::default())
                .iter()
                .all(|v| v.forward().is_some())
    }

    /// Runs `terraform init` when the directory has not been initialised (a fresh checkout,
    /// another machine) or the run is `init`; the whole run (not a pipeline stage) renders the
    /// root for the live directions first. A pipeline stage never renders: the root is the
    /// reviewed change, and what gets applied must be exactly that.
    async fn prepare_root(&mut self, snapshot: &Snapshot) -> Result<(), DrError> {
        let dir = self.ctx.tf.dir.clone();
        if dir.join(".terraform").exists() && self.req.op != Operation::Init {
            return Ok(());
        }
        if self.req.scope == Scope::Everything {
            let live = position::live_directions(&self.ctx.config.pairs, snapshot);
            let probed = position::probed_regions(self.req.op, &self.req.pairs);
            let fenced = position::b_fenced(&self.ctx.config.pairs, snapshot);
            let files = render::render_root_serving(&self.ctx.config, &live, &probed, &fenced)?;
            render::write(&dir, &files)?;
        }
        self.ctx.tf.init().await?;
        self.out.emit(
            None,
            None,
            snapshot.now(),
            EventKind::RootInitialised {
                dir: dir.display().to_string(),
            },
        );
        Ok(())
    }

    /// The run's start: one observation (with the writes of both file systems: the data at
    /// risk), the root prepared and aligned with AWS, the state, the assessment of A's writes
    /// (kept for the whole run), and every pair's position.
    async fn first_position(&mut self) -> Result<(Observed, Vec<PairPosition>), DrError> {
        let look = Look::for_operation(Some(self.req.op), &self.req.pairs, true);
        for region in &look.probed {
            // Said before the wait, which is the probe's timeout when the region is
            // partitioned away.
            self.out.emit(
                None,
                None,
                self.ctx.aws.now(),
                EventKind::Progress {
                    text: format!(
                        "{region} is declared down: probed once, given up after {} if it does not answer",
                        crate::dr::gate::fmt_dur(crate::aws::PROBE_TIMEOUT)
                    ),
                },
            );
        }
        let snapshot = position::observe(&self.ctx.aws, &look).await;
        if self.flags.writes_stopped {
            self.flags.writes_stopped_at = snapshot.now();
        }
        if !self.req.dry_run {
            self.prepare_root(&snapshot).await?;
        }
        let mut state = if self.decides_from_aws_alone(&snapshot) {
            None
        } else {
            match position::read_state(&self.ctx.tf).await {
                Ok(s) => Some(s),
                Err(e) if self.req.dry_run => {
                    self.out.emit(
                        None,
                        None,
                        snapshot.now(),
                        EventKind::Warning {
                            text: format!(
                                "the Terraform state was not read, so this preview does not know what it holds: {}",
                                e.message()
                            ),
                        },
                    );
                    None
                }
                Err(e) => return Err(e),
            }
        };
        let whole_run = self.req.scope == Scope::Everything && !self.req.dry_run;
        if whole_run && state.is_some() {
            let plain = position::views(
                &self.req.pairs,
                &snapshot,
                &Facts::with_state(state.clone()),
            );
            if self.align_root(&plain, &snapshot).await? {
                state = Some(position::read_state(&self.ctx.tf).await?);
            }
        }
        let facts = position::gather(
            &self.ctx.aws,
            Some(self.req.op),
            &self.req.pairs,
            &snapshot,
            state,
            None,
            true,
        )
        .await;
        self.read_hook_record().await?;
        self.forget_stops_written_since(&snapshot).await?;
        let facts = position::Facts {
            hooks: self.hook_record.clone(),
            ..facts
        };
        self.writes_on_a = facts.writes_on_a.clone();
        // Said after each pair's plan, so that the report has the pair to put them under.
        self.first_unread = facts.unread.clone();
        let views = position::views(&self.req.pairs, &snapshot, &facts);
        let positions =
            position::decide(self.req.op, &self.req.pairs, views.clone(), self.inputs());
        Ok((Observed { snapshot, views }, positions))
    }

    async fn execute(&mut self) -> Result<Ended, DrError> {
        let (first, positions) = self.first_position().await?;
        let queues = self.queues(&positions, first.snapshot.now())?;
        if queues.values().all(Vec::is_empty) {
            return self.ended(Ended::NothingToDo(format!(
                "nothing to do: {}",
                self.req.op.name()
            )));
        }
        if matches!(self.req.op, Operation::Failover { .. }) {
            for view in &first.views {
                self.data_at_risk(view);
            }
        }
        if self.req.dry_run {
            let phases: usize = queues.values().map(Vec::len).sum();
            return Ok(Ended::DryRun { phases });
        }
        if self.req.scope == Scope::Everything {
            self.every_question_can_be_answered(&positions)?;
        }
        self.every_gate_can_pass(&first, &queues).await?;
        self.backup_can_be_made(&queues).await?;
        if self.req.scope == Scope::Everything {
            self.confirm_route(&positions, &queues)?;
        }
        self.rounds(queues, first).await?;
        let done = self
            .stage_end()
            .unwrap_or_else(|| format!("{} done", self.req.op.name()));
        self.ended(Ended::Done(done))
    }

    /// Each pair's steps in this run, from its position and the scope; each plan said. A pair
    /// that cannot go does not hold the others back in a whole run of the CLI; a pipeline stage
    /// (or a dry run) moves all its pairs or none.
    fn queues(
        &mut self,
        positions: &[PairPosition],
        now: Option<crate::aws::AwsTime>,
    ) -> Result<BTreeMap<String, Vec<StageStep>>, DrError> {
        let mut queues: BTreeMap<String, Vec<StageStep>> = BTreeMap::new();
        let mut blocked = Vec::new();
        for (pair, position) in self.req.pairs.iter().zip(positions) {
            let view = &position.view;
            let d = match &position.decision {
                Ok(d) => d,
                Err(e) => {
                    blocked.push((pair.name.clone(), e.clone()));
                    continue;
                }
            };
            match stage(
                &self.req.scope,
                pair,
                &position.steps(),
                view,
                self.inputs(),
            ) {
                Ok(q) => {
                    self.applied_by_the_pipeline(pair, view, now);
                    queues.insert(pair.name.clone(), q);
                }
                Err(e) => blocked.push((pair.name.clone(), e)),
            }
            self.out.emit(
                Some(&pair.name),
                None,
                now,
                EventKind::PairPlanned {
                    a: side_label(&pair.primary),
                    b: side_label(&pair.secondary),
                    found: d.found.clone(),
                    phases: d.phases.clone(),
                },
            );
        }
        // After each pair's plan, so that the report has the pair to put it under.
        for (name, assessment) in self.writes_on_a.clone() {
            // A backup block keeps a recovery point whatever the flag says: nothing discarded.
            let discarded = self.flags.discard_writes_on_a
                && !assessment.is_none()
                && self.pair(&name).backup.is_none();
            self.out.emit(
                Some(&name),
                None,
                now,
                EventKind::WritesOnA {
                    assessment,
                    discarded,
                },
            );
        }
        let unread = std::mem::take(&mut self.first_unread);
        self.say_unread(&unread, now);
        for (name, e) in &blocked {
            self.out.emit(
                Some(name),
                None,
                now,
                EventKind::Refused {
                    message: e.message(),
                },
            );
        }
        let others_can_go = self.req.scope == Scope::Everything
            && blocked.len() < self.req.pairs.len()
            && !self.req.dry_run;
        if !blocked.is_empty() && !others_can_go {
            return Err(DrError::blocked(blocked, "nothing was changed"));
        }
        for (name, e) in blocked {
            queues.remove(&name);
            self.failed.push((name, e));
        }
        Ok(queues)
    }

    /// The rounds: the earliest step any pair is at, for every pair at it, until every queue
    /// is done. Each round decides from what AWS says now (the first from the run's start).
    async fn rounds(
        &mut self,
        mut queues: BTreeMap<String, Vec<StageStep>>,
        first: Observed,
    ) -> Result<(), DrError> {
        let mut observed = Some(first);
        while let Some(step) = queues
            .values()
            .filter_map(|q| q.first())
            .map(|s| s.step)
            .min()
        {
            let names: Vec<(String, bool)> = self
                .req
                .pairs
                .iter()
                .filter_map(|p| {
                    let s = queues.get(&p.name)?.first()?;
                    (s.step == step).then(|| (p.name.clone(), s.gate_only))
                })
                .collect();
            self.say_lease_notices();
            if let Some(signal) = self.ctx.tf.interrupt.signalled() {
                return Err(interrupted(signal, step));
            }
            // An unplanned failover reads the state only once its store answers: B's
            // deletions went out without it, and its forget step would wait on it forever.
            if self.req.op == (Operation::Failover { unplanned: true })
                && step.spec().terraform.is_some()
            {
                let pairs: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
                self.state_writable(step, &pairs).await?;
            }
            let seen = match observed.take() {
                Some(o) => o,
                None => {
                    self.observe(
                        false,
                        step.spec().terraform.is_some(),
                        step.spec().gate == GateWork::RecoveryPoint,
                    )
                    .await?
                }
            };
            let mut round = Vec::new();
            for (name, gate_only) in &names {
                let view = seen
                    .views
                    .iter()
                    .find(|v| &v.pair == name)
                    .expect("every selected pair is viewed");
                let actions = decide::actions(self.pair(name), step, view, self.inputs())?;
                round.push((name.clone(), in_scope(&self.req.scope, actions, *gate_only)));
            }
            let failures = self.carry_out(step, &round, &seen.snapshot).await?;
            for (name, _) in &names {
                if let Some(q) = queues.get_mut(name) {
                    q.remove(0);
                }
            }
            for (name, e) in failures {
                self.out.emit(
                    Some(&name),
                    Some(step),
                    self.ctx.aws.now(),
                    EventKind::Refused {
                        message: e.message(),
                    },
                );
                queues.remove(&name);
                self.failed.push((name, e));
            }
        }
        Ok(())
    }

    /// Before anything else, the root says what AWS has, for every pair whose regions both
    /// answered: the direction variables are set to the live direction (a run interrupted
    /// after AWS changed leaves them asking for the old one, which a plain `terraform apply`
    /// would make again, ungated), and a replication the state holds but AWS no longer has is
    /// forgotten. Each correction is said. True when the state was changed.
    async fn align_root(
        &mut self,
        views: &[PairView],
        snapshot: &Snapshot,
    ) -> Result<bool, DrError> {
        let dir = self.ctx.tf.dir.clone();
        let Some(mut vars) = render::read_directions(&dir) else {
            return Ok(false);
        };
        let mut notes = Vec::new();
        let mut forget = Vec::new();
        for v in views.iter().filter(|v| v.a.reachable() && v.b.reachable()) {
            let live = v.live_direction();
            if let Some(said) = vars.get(&v.pair).copied().filter(|d| *d != live) {
                vars.insert(v.pair.clone(), live);
                notes.push((
                    v.pair.clone(),
                    format!(
                        "the root's direction variable said \"{}\", AWS has \"{}\": set to \"{}\", so that a plain `terraform apply` changes nothing",
                        said.as_str(),
                        live.as_str(),
                        live.as_str()
                    ),
                ));
            }
            let pair = self.pair(&v.pair);
            for (d, held) in [
                (render::Direction::Forward, v.state_forward),
                (render::Direction::Reverse, v.state_reverse),
            ] {
                if held == Some(true) && live != d {
                    if let Some(address) = render::replication_address(pair, d) {
                        forget.push((v.pair.clone(), address));
                    }
                }
            }
        }
        if notes.is_empty() && forget.is_empty() {
            return Ok(false);
        }
        self.ctx
            .lease
            .ensure_held("aligning the root with AWS")
            .await?;
        if !notes.is_empty() {
            let fenced = position::b_fenced(&self.ctx.config.pairs, snapshot);
            let files =
                render::render_root_serving(&self.ctx.config, &vars, &BTreeSet::new(), &fenced)?;
            let only_vars: Vec<_> = files
                .into_iter()
                .filter(|f| f.path == std::path::Path::new(render::DIRECTIONS_FILE))
                .collect();
            render::write(&dir, &only_vars)?;
        }
        for (pair, text) in notes {
            self.out
                .emit(Some(&pair), None, snapshot.now(), EventKind::Note { text });
        }
        if forget.is_empty() {
            return Ok(false);
        }
        let addresses: Vec<String> = forget.iter().map(|(_, a)| a.clone()).collect();
        self.ctx.tf.state_rm(&addresses).await?;
        for (pair, address) in forget {
            self.out.emit(
                Some(&pair),
                None,
                snapshot.now(),
                EventKind::StateChanged {
                    command: "state rm".into(),
                    address,
                },
            );
        }
        Ok(true)
    }

    /// After apply: the merged proposal's Terraform change, which the pipeline applied and the
    /// state now shows (the replication in the state after a creation, gone after a removal),
    /// goes into the events (and so the report) as applied.
    fn applied_by_the_pipeline(
        &mut self,
        pair: &Pair,
        view: &PairView,
        now: Option<crate::aws::AwsTime>,
    ) {
        use super::phase::TfWork;
        use crate::terraform::ChangeKind;
        if !matches!(self.req.scope, Scope::AfterApply { .. }) {
            return;
        }
        let Some(proposed) = self
            .req
            .scope
            .proposed()
            .and_then(|p| p.get(&pair.name))
            .map(|r| &r.step)
        else {
            return;
        };
        let in_state = |d: render::Direction| match d {
            render::Direction::Forward => view.state_forward,
            render::Direction::Reverse => view.state_reverse,
            render::Direction::None => None,
        };
        let (direction, kind) = match proposed.spec().terraform {
            Some(TfWork::Create(d)) if in_state(d) == Some(true) => (d, ChangeKind::Create),
            Some(TfWork::Remove(d)) if in_state(d) == Some(false) => (d, ChangeKind::Delete),
            Some(TfWork::Forget(d)) if in_state(d) == Some(false) => (d, ChangeKind::Forget),
            _ => return,
        };
        let Some(address) = render::replication_address(pair, direction) else {
            return;
        };
        self.out.emit(
            Some(&pair.name),
            Some(*proposed),
            now,
            EventKind::Applied {
                changes: vec![super::events::TfChange { address, kind }],
            },
        );
    }

    /// Where a pipeline stage leaves the operation, from the merged proposal's phase and the
    /// operation's Terraform route: a stage that passed is not the operation done.
    fn stage_end(&self) -> Option<String> {
        use super::planner::{next_needs, route_position};
        let step = self.req.scope.proposed()?.values().map(|r| r.step).min()?;
        let (n, m) = route_position(self.req.op, step)?;
        let op = self.req.op.name();
        let title = step.title();
        Some(match self.req.scope {
            Scope::Everything => return None,
            Scope::BeforeApply { .. } => format!(
                "stage before apply passed: phase {n} of {m} (\"{title}\") may be applied now; next: `terraform apply`, then the stage after apply"
            ),
            Scope::AfterApply { .. } if n == m => {
                format!("{op} done: phase {m} of {m} (\"{title}\") applied and gated")
            }
            Scope::AfterApply { .. } => format!(
                "phase {n} of {m} (\"{title}\") applied and gated; the {op} is not done: next, propose and merge phase {} of {m}{}",
                n + 1,
                next_needs(self.req.op, step)
                    .map(|x| format!(", which needs {x}"))
                    .unwrap_or_default()
            ),
        })
    }

    /// The end of a run whose pairs may not all have completed: the pairs that stopped, each
    /// with its reason, and the gravest exit (a timeout, then a refusal, then an error).
    fn ended(&mut self, done: Ended) -> Result<Ended, DrError> {
        if self.failed.is_empty() {
            return Ok(done);
        }
        let failed: Vec<&str> = self.failed.iter().map(|(n, _)| n.as_str()).collect();
        let completed: Vec<&str> = self
            .req
            .pairs
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| !failed.contains(n))
            .collect();
        Err(DrError::fleet(std::mem::take(&mut self.failed), &completed))
    }

    /// One step for every pair at it: confirm, SDK changes, Terraform, gate, in that order.
    async fn carry_out(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
        snapshot: &Snapshot,
    ) -> Result<Vec<(String, DrError)>, DrError> {
        let names = round
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let question = round.iter().flat_map(|(_, a)| a).find_map(|a| match a {
            Action::Confirm { question } => Some(question.clone()),
            _ => None,
        });
        if let Some(q) = question.filter(|q| !(self.route_confirmed && q.skip == Skip::Yes)) {
            self.ask(Question {
                text: format!("Pairs {names}: {}.", q.text),
                skip: q.skip,
            })?;
        }
        let now = self.ctx.aws.now();
        for (name, actions) in round {
            let gate = actions.iter().find_map(|a| match a {
                Action::Gate { gate } => Some(gate.describe()),
                _ => None,
            });
            self.out.emit(
                Some(name),
                Some(step),
                now,
                EventKind::PhaseStarted {
                    title: step.title().into(),
                    gate: gate.unwrap_or_default(),
                },
            );
        }
        if round
            .iter()
            .any(|(_, actions)| actions.iter().any(Action::changes_something))
        {
            let held = self
                .ctx
                .lease
                .ensure_held(&format!("\"{}\" (pairs {names})", step.title()))
                .await;
            match held {
                // B's own deletions in an unplanned failover: B must serve, and they change
                // nothing the state holds; the state is reconciled at the next step.
                Err(LeaseError::Unreachable(why))
                    if self.req.op == (Operation::Failover { unplanned: true })
                        && !round
                            .iter()
                            .any(|(_, a)| a.iter().any(Action::is_terraform)) =>
                {
                    self.out.emit(
                        None,
                        Some(step),
                        self.ctx.aws.now(),
                        EventKind::Warning {
                            text: format!("{why}; B's deletions go ahead without the run lease"),
                        },
                    );
                }
                other => other?,
            }
        }
        self.sdk_changes(step, round).await?;
        self.hooks(step, round).await?;
        if round
            .iter()
            .any(|(_, actions)| actions.iter().any(Action::is_terraform))
        {
            self.terraform(step, round, snapshot).await?;
        }
        let gates: Vec<(String, super::phase::Gate)> = round
            .iter()
            .flat_map(|(name, actions)| {
                actions.iter().filter_map(move |a| match a {
                    Action::Gate { gate } => Some((name.clone(), gate.clone())),
                    _ => None,
                })
            })
            .collect();
        self.gates(step, &gates).await
    }

    /// Before an unplanned failover's Terraform step: the state's store answers, or the run
    /// ends saying that B serves and the state is behind (exit 4).
    async fn state_writable(&self, step: Step, pairs: &[&str]) -> Result<(), DrError> {
        let before = format!("\"{}\" (pairs {})", step.title(), pairs.join(", "));
        match self.ctx.lease.ensure_held(&before).await {
            Err(LeaseError::Unreachable(why)) => {
                let serving = pairs
                    .iter()
                    .map(|n| {
                        let p = self.pair(n);
                        format!(
                            "pair {n}: B {} is writable and serves",
                            side_label(&p.secondary)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                Err(DrError::StateBehind(format!(
                    "{serving}\nthe Terraform state still holds A -> B, because the state cannot be written: {why}.\nRun the same command again when the state's store answers: it only forgets A -> B in the state (B keeps serving meanwhile)"
                )))
            }
            other => Ok(other?),
        }
    }

    /// Refuses before the first change when a later phase would ask a question nobody can
    /// answer (no terminal, and not the flag that skips it): better than stopping half-way.
    fn every_question_can_be_answered(&self, positions: &[PairPosition]) -> Result<(), DrError> {
        for (pair, position) in self.req.pairs.iter().zip(positions) {
            let Ok(d) = &position.decision else {
                continue;
            };
            for phase in &d.phases {
                for action in in_scope(&self.req.scope, phase.actions.clone(), false) {
                    let Action::Confirm { question } = action else {
                        continue;
                    };
                    if !self.confirm.can_answer(&question) {
                        return Err(DrError::Refused(format!("will ask: {}\nthere is no terminal to ask on: pass {} (or run on a terminal). Nothing was changed", question.text, question.skip.flag())).at(&pair.name, &phase.title));
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuses before the first change when a gate of this run cannot pass within
    /// `replication_timeout`, from what AWS shows: a phase's usual AWS time, and for the RPO
    /// gate with writes stopped, when the first sync after that completes (from the sync
    /// cadence `TimeSinceLastSync` shows). Waiting the whole timeout, then failing the same way
    /// on every rerun, helps nobody: the advice is a setting that lets it pass.
    async fn every_gate_can_pass(
        &self,
        first: &Observed,
        queues: &BTreeMap<String, Vec<StageStep>>,
    ) -> Result<(), DrError> {
        use super::gate::{fmt_dur, rpo_pass_estimate, sync_cadence};
        let timeout = self.ctx.config.gates.replication_timeout;
        // A setting in whole ten minutes with a quarter to spare.
        let suggest = |wait: std::time::Duration| {
            let secs = (wait.as_secs_f64() * 1.25 / 600.0).ceil() as u64 * 600;
            fmt_dur(std::time::Duration::from_secs(secs))
        };
        let fix = |setting: &str| {
            format!(
                "set gates {{ replication_timeout = \"{setting}\" }} or more in {} (a pipeline stage: --timeout {setting})",
                self.ctx.config.file.display()
            )
        };
        for (pair, view) in self.req.pairs.iter().zip(&first.views) {
            for s in queues.get(&pair.name).into_iter().flatten() {
                let spec = s.step.spec();
                if spec.expected > timeout {
                    return Err(DrError::GateTimeout(format!("AWS usually takes {} for it, longer than replication_timeout {}: its gate would time out. {}; nothing was changed", fmt_dur(spec.expected), fmt_dur(timeout), fix(&suggest(spec.expected)))).at(&pair.name, spec.title));
                }
                if spec.gate != GateWork::Rpo || !self.flags.writes_stopped {
                    continue;
                }
                let (Some(r), Some(now)) = (view.forward(), view.now) else {
                    continue;
                };
                let Some(last) = r.last_replicated else {
                    continue;
                };
                let history = self
                    .ctx
                    .aws
                    .region(&pair.primary.region)
                    .sync_history(
                        &pair.primary.file_system_id,
                        &pair.secondary.file_system_id,
                        now,
                    )
                    .await
                    .unwrap_or_default();
                let Some(cadence) = sync_cadence(&history) else {
                    continue;
                };
                let stopped = self.flags.writes_stopped_at.unwrap_or(now);
                let pass = rpo_pass_estimate(last, cadence, stopped);
                let wait = pass.duration_since(now).unwrap_or_default();
                if wait <= timeout {
                    continue;
                }
                let lag = now.duration_since(last).unwrap_or_default();
                return Err(DrError::GateTimeout(format!("the gate cannot pass within replication_timeout {} (AWS time). A -> B syncs about every {} (TimeSinceLastSync over the last 14 days), so the first sync that starts after writes stopped ({}) completes around {}, {} from now. Either {}, or fail over without --writes-stopped: the RPO gate then accepts the last sync, {} old, within max_lag {}. Nothing was changed", fmt_dur(timeout), fmt_dur(cadence), crate::aws::rfc3339(stopped), crate::aws::rfc3339(pass), fmt_dur(wait), fix(&suggest(wait)), fmt_dur(lag), fmt_dur(self.ctx.config.gates.max_lag))).at(&pair.name, spec.title));
            }
        }
        Ok(())
    }

    /// Before a failback fences A: the backup it may need can be made (the vault exists in A's
    /// region, the role is an IAM role ARN). Otherwise A would be made read-only and the run
    /// stop at the backup, with nothing gained.
    async fn backup_can_be_made(
        &self,
        queues: &BTreeMap<String, Vec<StageStep>>,
    ) -> Result<(), DrError> {
        if self.req.op != Operation::Failback {
            return Ok(());
        }
        for pair in &self.req.pairs {
            let Some(backup) = &pair.backup else {
                continue;
            };
            let before_fence = queues.get(&pair.name).is_some_and(|q| {
                q.iter().any(|s| {
                    let spec = s.step.spec();
                    spec.gate == GateWork::RecoveryPoint
                        || spec.sdk
                            == Some(SdkWork::Protection(
                                super::view::Role::A,
                                crate::aws::Protection::Disabled,
                            ))
                })
            });
            if !before_fence {
                continue;
            }
            let region = &pair.primary.region;
            let exists = self
                .ctx
                .aws
                .region(region)
                .backup_vault_exists(&backup.vault)
                .await
                .map_err(|e| {
                    DrError::Failed(format!("the backup vault {} in A's region {region} could not be read ({e}); nothing was changed", backup.vault)).for_pair(&pair.name)
                })?;
            if !exists {
                return Err(DrError::Failed(format!("the backup vault \"{}\" does not exist in A's region {region}, so the backup of A's own writes could not be made and A would be left read-only. Create it (`aws backup create-backup-vault --backup-vault-name {} --region {region}`) or correct backup {{ vault }} in {}; nothing was changed", backup.vault, backup.vault, self.ctx.config.file.display())).for_pair(&pair.name));
            }
            let role_ok = backup
                .role_arn
                .strip_prefix("arn:")
                .and_then(|r| r.split(':').nth(4))
                .is_some_and(|r| r.starts_with("role/"));
            if !role_ok {
                return Err(DrError::Failed(format!("backup {{ role_arn = \"{}\" }} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME); nothing was changed", backup.role_arn)).for_pair(&pair.name));
            }
        }
        Ok(())
    }

    /// Asks once for the whole run, as `terraform apply` does: every phase left, per pair,
    /// with what it changes, what it overwrites and what is made outside Terraform; then one
    /// question. Nothing to confirm (every phase only waits): no question.
    fn confirm_route(
        &mut self,
        positions: &[PairPosition],
        queues: &BTreeMap<String, Vec<StageStep>>,
    ) -> Result<(), DrError> {
        let Some(text) = route::route_text(self.req.op, &self.req.pairs, positions, queues) else {
            return Ok(());
        };
        self.ask(Question {
            text,
            skip: Skip::Yes,
        })?;
        self.route_confirmed = true;
        Ok(())
    }

    fn ask(&mut self, question: Question) -> Result<(), DrError> {
        let flag = question.skip.flag();
        let by = match self.confirm.ask(&question) {
            Answer::Yes => "the operator at the terminal".to_string(),
            Answer::Flagged => flag.to_string(),
            Answer::No => {
                return Err(DrError::Refused(format!(
                    "not confirmed; nothing more was changed ({flag} skips this question)"
                )))
            }
            Answer::CannotAsk => {
                return Err(DrError::Refused(format!(
                    "{}\nnot confirmed: there is no terminal to ask on; pass {flag} to proceed",
                    question.text
                )))
            }
        };
        self.out.emit(
            None,
            None,
            self.ctx.aws.now(),
            EventKind::Answered {
                question: question.text,
                by,
            },
        );
        Ok(())
    }

    /// What a failover may lose, from one observation of the pair.
    fn data_at_risk(&mut self, view: &PairView) {
        let Some(risk) = super::risk::failover_risk(view) else {
            return;
        };
        self.out.emit(
            Some(&view.pair),
            None,
            view.now,
            EventKind::DataAtRisk {
                text: risk.text,
                seconds: risk.seconds,
            },
        );
    }
}

/// A run stopped by a signal at a safe point, before `step`'s next action.
pub(super) fn interrupted(signal: i32, step: Step) -> DrError {
    DrError::Interrupted(
        format!(
            "interrupted by {} during phase \"{}\": stopped at a safe point (Terraform, if it was running, was asked to stop and released the state lock). Run the same command again to continue from the live state",
            crate::interrupt::name(signal),
            step.title()
        ),
        signal,
    )
}
