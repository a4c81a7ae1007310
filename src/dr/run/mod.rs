//! Carries out what `decide` decided. A run observes, decides every pair's phases from the live
//! state, then takes the phases in step order (pairs at the same step together): observe,
//! decide the step's actions, carry them out (confirm, SDK change, Terraform, gate). Its only
//! output is events.

use std::collections::{BTreeMap, BTreeSet};

mod gates;
mod sdk;
mod terraform;

use super::confirm::{Answer, Confirm};
use super::decide::{self, Action, Inputs, Question};
use super::error::{DrError, Outcome};
use super::events::{Event, EventKind, EventSink, Recorder};
use super::gate::fmt_dur;
use super::observe::{observe, views};
use super::phase::{RunFlags, Step};
use super::planner::Operation;
use super::view::{PairView, Snapshot};
use crate::aws::{rfc3339, Aws};
use crate::config::{Config, Pair};
use crate::ids::FileSystemId;
use crate::render;
use crate::terraform::Terraform;

/// Everything a run needs from outside.
pub struct Context {
    pub config: Config,
    pub aws: Aws,
    pub tf: Terraform,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Request {
    pub op: Operation,
    /// The selected pairs (all of the config when none was named).
    pub pairs: Vec<Pair>,
    pub flags: RunFlags,
    /// Decide and report; change nothing.
    pub dry_run: bool,
}

/// The end of a run, and everything it said.
#[derive(Debug)]
pub struct Finished {
    pub result: Result<String, DrError>,
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
    };
    runner.out.emit(
        None,
        None,
        None,
        EventKind::RunStarted {
            operation: req.op,
            pairs: req.pairs.iter().map(|p| p.name.clone()).collect(),
            dry_run: req.dry_run,
        },
    );
    let result = runner.execute().await;
    let (outcome, message) = match &result {
        Ok(m) => (Outcome::Done, m.clone()),
        Err(e) => (e.outcome(), e.message().to_string()),
    };
    runner.out.emit(
        None,
        None,
        ctx.aws.now(),
        EventKind::Finished {
            outcome,
            exit_code: outcome.exit_code(),
            message,
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

    async fn state(&self) -> Result<BTreeSet<String>, DrError> {
        Ok(self.ctx.tf.state_list().await?.into_iter().collect())
    }

    /// Every region (with the last writes of the selected pairs' file systems when
    /// `with_writes`: the data at risk), and the state when `with_state`.
    async fn observe(&self, with_writes: bool, with_state: bool) -> Result<Observed, DrError> {
        let watch: BTreeSet<(String, FileSystemId)> = self
            .req
            .pairs
            .iter()
            .filter(|_| with_writes)
            .flat_map(|p| [&p.primary, &p.secondary])
            .map(|s| (s.region.to_string(), s.file_system_id.clone()))
            .collect();
        let snapshot = observe(&self.ctx.aws, &watch).await;
        let state = if with_state {
            Some(self.state().await?)
        } else {
            None
        };
        let views = views(&self.req.pairs, &snapshot, state.as_ref());
        Ok(Observed { snapshot, views })
    }

    /// Renders the root for the live directions and runs `terraform init` when the directory
    /// has not been initialised (a fresh checkout, another machine) or the run is `init`.
    async fn prepare_root(&mut self, snapshot: &Snapshot) -> Result<(), DrError> {
        let dir = self.ctx.tf.dir.clone();
        if dir.join(".terraform").exists() && self.req.op != Operation::Init {
            return Ok(());
        }
        let live = super::observe::live_directions(&self.ctx.config.pairs, snapshot);
        render::write(&dir, &render::render_root(&self.ctx.config, &live)?)?;
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

    async fn execute(&mut self) -> Result<String, DrError> {
        let first = {
            let snapshot = self.observe(true, false).await?.snapshot;
            if self.flags.writes_stopped {
                self.flags.writes_stopped_at = snapshot.now();
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
            Observed { snapshot, views }
        };
        let now = first.snapshot.now();
        let mut queues: BTreeMap<String, Vec<Step>> = BTreeMap::new();
        let mut blocked = Vec::new();
        for (pair, view) in self.req.pairs.iter().zip(&first.views) {
            match decide::decide_pair(self.req.op, pair, view, self.inputs()) {
                Ok(d) => {
                    queues.insert(pair.name.clone(), d.phases.iter().map(|p| p.step).collect());
                    self.out.emit(
                        Some(&pair.name),
                        None,
                        now,
                        EventKind::PairPlanned {
                            a: side_label(&pair.primary),
                            b: side_label(&pair.secondary),
                            found: d.found,
                            phases: d.phases,
                        },
                    );
                }
                Err(e) => blocked.push((pair.name.clone(), e)),
            }
        }
        if !blocked.is_empty() {
            for (name, e) in &blocked {
                self.out.emit(
                    Some(name),
                    None,
                    now,
                    EventKind::Refused {
                        message: e.message().to_string(),
                    },
                );
            }
            let text = blocked
                .iter()
                .map(|(name, e)| format!("pair {name}: {}", e.message()))
                .collect::<Vec<_>>()
                .join("\n");
            let text = format!("{text}\nnothing was changed");
            let refused = blocked
                .iter()
                .any(|(_, e)| matches!(e, DrError::Refused(_)));
            return Err(if refused {
                DrError::Refused(text)
            } else {
                DrError::Failed(text)
            });
        }
        if queues.values().all(Vec::is_empty) {
            return Ok(format!("nothing to do: {}", self.req.op.name()));
        }
        if matches!(self.req.op, Operation::Failover { .. }) {
            for view in &first.views {
                self.data_at_risk(view);
            }
        }
        if self.req.dry_run {
            let n: usize = queues.values().map(Vec::len).sum();
            return Ok(format!(
                "dry run: {n} phase(s) would run; nothing was changed"
            ));
        }
        let mut observed = Some(first);
        while let Some(step) = queues.values().filter_map(|q| q.first()).min().copied() {
            let names: Vec<String> = self
                .req
                .pairs
                .iter()
                .filter(|p| queues.get(&p.name).and_then(|q| q.first()) == Some(&step))
                .map(|p| p.name.clone())
                .collect();
            // Each round decides from what AWS says now (the first one from the run's start).
            let seen = match observed.take() {
                Some(o) => o,
                None => self.observe(false, step.spec().terraform.is_some()).await?,
            };
            let mut round = Vec::new();
            for name in &names {
                let view = seen
                    .views
                    .iter()
                    .find(|v| &v.pair == name)
                    .expect("every selected pair is viewed");
                let actions = decide::actions(self.pair(name), step, view, self.inputs())?;
                round.push((name.clone(), actions));
            }
            self.carry_out(step, &round, &seen.snapshot).await?;
            for name in &names {
                if let Some(q) = queues.get_mut(name) {
                    q.remove(0);
                }
            }
        }
        Ok(format!("{} done", self.req.op.name()))
    }

    /// One step for every pair at it: confirm, SDK changes, Terraform, gate, in that order.
    async fn carry_out(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
        snapshot: &Snapshot,
    ) -> Result<(), DrError> {
        let names = round
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let question = round.iter().flat_map(|(_, a)| a).find_map(|a| match a {
            Action::Confirm { question } => Some(question.clone()),
            _ => None,
        });
        if let Some(q) = question {
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
        self.sdk_changes(step, round).await?;
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

    fn ask(&self, question: Question) -> Result<(), DrError> {
        let flag = question.skip.flag();
        match self.confirm.ask(&question) {
            Answer::Yes => Ok(()),
            Answer::No => Err(DrError::Refused(format!(
                "not confirmed; nothing more was changed ({flag} skips this question)"
            ))),
            Answer::CannotAsk => Err(DrError::Refused(format!(
                "{}\nnot confirmed: there is no terminal to ask on; pass {flag} to proceed",
                question.text
            ))),
        }
    }

    /// What a failover may lose, from one observation of the pair.
    fn data_at_risk(&mut self, view: &PairView) {
        let Some(r) = view.forward() else { return };
        let (text, seconds) = match (r.last_replicated, view.a.reachable(), view.a.last_write) {
            (Some(sync), true, Some(w)) => {
                let at_risk =
                    w.at.and_then(|w| w.duration_since(sync).ok())
                        .unwrap_or_default();
                (
                    format!(
                        "{} (last write on A {}, last completed sync {})",
                        fmt_dur(at_risk),
                        w.at.map(rfc3339)
                            .unwrap_or_else(|| "none in the last 6h".into()),
                        rfc3339(sync)
                    ),
                    Some(at_risk.as_secs_f64()),
                )
            }
            (Some(sync), _, _) => {
                let bound = view
                    .now
                    .and_then(|n| n.duration_since(sync).ok())
                    .unwrap_or_default();
                (
                    format!(
                        "unknown: A's region does not answer; at most {} (writes since the last completed sync, {})",
                        fmt_dur(bound),
                        rfc3339(sync)
                    ),
                    None,
                )
            }
            (None, _, _) => ("everything on A: no sync ever completed".into(), None),
        };
        self.out.emit(
            Some(&view.pair),
            None,
            view.now,
            EventKind::DataAtRisk { text, seconds },
        );
    }
}
