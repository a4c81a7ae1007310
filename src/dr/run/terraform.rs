//! A step's Terraform actions for every pair at it: one render of the direction variables,
//! imports and `state rm`s, then one plan, checked against what every pair's phase allows, and
//! one apply.

use std::path::Path;

use super::Runner;
use crate::dr::decide::Action;
use crate::dr::error::DrError;
use crate::dr::events::{EventKind, TfChange};
use crate::dr::phase::Step;
use crate::dr::position;
use crate::dr::round::TerraformRound;
use crate::dr::view::Snapshot;
use crate::render;
use crate::terraform::{PhaseError, ResourceChange};

const PLAN_FILE: &str = "efs-dr.tfplan";

impl Runner<'_> {
    pub(super) async fn terraform(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
        snapshot: &Snapshot,
    ) -> Result<(), DrError> {
        let tf = &self.ctx.tf;
        let terraform_round =
            TerraformRound::from_actions(round.iter().map(|(n, a)| (n.as_str(), a.as_slice())));
        // Pairs the step does not change keep their live direction: their plan is empty.
        let live = position::live_directions(&self.ctx.config.pairs, snapshot);
        let directions = terraform_round.directions_over(&live);
        // The variables ask for the phase's change only while its plan is checked and applied:
        // on any failure they are put back, so that no plain `terraform apply` makes it ungated.
        let edit = render::RootEdit::begin(&tf.dir, &[render::DIRECTIONS_FILE]);
        let down = position::probed_regions(self.req.op, &self.req.pairs);
        // B is fenced before the phase that leaves nothing replicating in a failback: A
        // serves after it.
        let fenced = position::b_fenced(&self.ctx.config.pairs, snapshot);
        let result = async {
            // What AWS has and the state lacks is imported first, so that the phase never
            // creates it twice nor stops short of removing it: under the direction its address
            // belongs to, which is the phase's when it creates or keeps one (an alarm left
            // behind by an unplanned failover comes back before its replication does) and
            // AWS's when it removes one.
            if !terraform_round.imports.is_empty() {
                let mut under = live.clone();
                for (pair, _, _) in &terraform_round.imports {
                    if let Some(d) = terraform_round.directions.get(pair) {
                        if *d != render::Direction::None {
                            under.insert(pair.clone(), *d);
                        }
                    }
                }
                render::write(
                    &tf.dir,
                    &render::render_root_serving(&self.ctx.config, &under, &down, &fenced)?,
                )?;
                self.import(step, &terraform_round.imports, snapshot)
                    .await?;
            }
            render::write(
                &tf.dir,
                &render::render_root_serving(&self.ctx.config, &directions, &down, &fenced)?,
            )?;
            self.plan_and_apply(step, round, &terraform_round, snapshot)
                .await
        }
        .await;
        if !down.is_empty() {
            // The providers of the regions declared down are this round's only: the root
            // keeps the ones every other run (and a reviewed pull request) uses.
            let providers: Vec<_> =
                render::render_root(&self.ctx.config, &directions, &Default::default())?
                    .into_iter()
                    .filter(|f| f.path == Path::new("providers.tf"))
                    .collect();
            render::write(&tf.dir, &providers)?;
        }
        if result.is_ok() {
            edit.keep();
        }
        result
    }

    async fn plan_and_apply(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
        terraform_round: &TerraformRound,
        snapshot: &Snapshot,
    ) -> Result<(), DrError> {
        let tf = &self.ctx.tf;
        let (allowed, refresh) = (&terraform_round.allowed, terraform_round.refresh);
        // Every `state rm` of the round in one call (a fleet's 100 forgets are one Terraform
        // run, not 100).
        if !terraform_round.forgets.is_empty() {
            let addresses: Vec<String> = terraform_round
                .forgets
                .iter()
                .map(|(_, a)| a.clone())
                .collect();
            tf.state_rm(&addresses).await?;
        }
        for (name, address) in &terraform_round.forgets {
            self.out.emit(
                Some(name),
                Some(step),
                snapshot.now(),
                EventKind::StateChanged {
                    command: "state rm".into(),
                    address: address.clone(),
                },
            );
        }
        let mut untainted = false;
        let checked = loop {
            match tf
                .plan_checked(Path::new(PLAN_FILE), allowed, refresh)
                .await
            {
                Ok(c) => break c,
                Err(PhaseError::Unsafe(u)) => {
                    // A create that timed out leaves the replication tainted, and every plan
                    // after it replaces it (a full resync). When AWS has exactly the
                    // configuration the phase wants, it is untainted and gated instead.
                    let tainted = self.tainted_but_wanted(round, snapshot, &u.unexpected);
                    if untainted || tainted.is_empty() || tainted.len() != u.unexpected.len() {
                        return Err(DrError::Refused(format!(
                            "phase \"{}\": {u}{}",
                            step.title(),
                            if u.unexpected
                                .iter()
                                .any(|x| x.reason.as_deref() == Some("replace_because_tainted"))
                            {
                                "\n  a replication is tainted (a create or delete that failed or timed out) while AWS does not have the configuration this phase wants: look at it in AWS; `terraform untaint ADDRESS` once it is right, or let it be replaced knowing that means a full resync"
                            } else {
                                ""
                            }
                        )));
                    }
                    for (name, address) in tainted {
                        tf.untaint(&address).await?;
                        self.out.emit(
                            Some(&name),
                            Some(step),
                            snapshot.now(),
                            EventKind::StateChanged {
                                command: "untaint".into(),
                                address,
                            },
                        );
                    }
                    untainted = true;
                }
                Err(PhaseError::Terraform(t)) => return Err(DrError::from(t)),
            }
        };
        let planned = checked.changes.clone();
        for (name, actions) in round {
            let changes = mine(&planned, actions);
            self.out.emit(
                Some(name),
                Some(step),
                snapshot.now(),
                EventKind::PlanSummary { changes },
            );
        }
        let applied = match self.apply_saying_progress(step, round, checked).await {
            Ok(applied) => applied,
            Err(e @ crate::terraform::TfError::Interrupted { .. }) => return Err(e.into()),
            Err(e) => {
                // The provider's wait failed (a timeout on a slow day, AWS's answer to a
                // second delete, a Describe that lags): if AWS shows every planned change
                // under way, that is progress, and the phase's gate decides.
                self.keep_alarms_aws_made(step, &planned).await;
                if !self.under_way_in_aws(&planned).await {
                    return Err(e.into());
                }
                for c in planned
                    .iter()
                    .filter(|c| c.kind() == crate::terraform::ChangeKind::Create)
                {
                    // Saved tainted by a create that timed out: AWS has it as wanted.
                    if let Err(u) = tf.untaint(&c.address).await {
                        tracing::debug!("untaint {}: {u}", c.address);
                    }
                }
                let now = self.ctx.aws.now();
                for (name, actions) in round {
                    self.out.emit(
                        Some(name),
                        Some(step),
                        now,
                        EventKind::Note {
                            text: format!(
                                "terraform apply failed ({}), but AWS shows the change under way: the phase's gate decides",
                                e.to_string().lines().next().unwrap_or_default()
                            ),
                        },
                    );
                    let changes = mine(&planned, actions);
                    self.out
                        .emit(Some(name), Some(step), now, EventKind::Applied { changes });
                }
                return Ok(());
            }
        };
        if applied.is_empty() {
            return Ok(());
        }
        let now = self.ctx.aws.now();
        for (name, actions) in round {
            let changes = mine(&applied, actions);
            self.out
                .emit(Some(name), Some(step), now, EventKind::Applied { changes });
        }
        Ok(())
    }
}

impl Runner<'_> {
    /// Applies a checked plan, and says how it goes while it runs: Terraform's own progress
    /// lines for the pair they name, and at least every `progress_every` what is applied,
    /// what AWS usually takes for it and how long it has run.
    async fn apply_saying_progress(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
        checked: crate::terraform::CheckedPlan,
    ) -> Result<Vec<ResourceChange>, crate::terraform::TfError> {
        let ctx = self.ctx;
        if checked.changes.is_empty() {
            return ctx.tf.apply_checked(checked).await;
        }
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        let apply = ctx.tf.apply_checked_watched(checked, Some(tx));
        tokio::pin!(apply);
        let every = ctx.progress_every;
        let started = std::time::Instant::now();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let names: Vec<&str> = round.iter().map(|(n, _)| n.as_str()).collect();
        let what = format!(
            "terraform apply: {} for {} pair{}; AWS usually takes ~{}",
            step.title(),
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            crate::dr::gate::fmt_dur(step.spec().expected)
        );
        loop {
            tokio::select! {
                result = &mut apply => return result,
                Some(line) = lines.recv() => {
                    // `module.x.aws_efs_replication_configuration.forward["app"]: Still ...`
                    let pair = names
                        .iter()
                        .find(|n| line.contains(&format!("[\"{n}\"]")))
                        .map(|n| n.to_string());
                    let now = ctx.aws.now();
                    self.out.emit(pair.as_deref(), Some(step), now, EventKind::Progress { text: line });
                }
                _ = tick.tick() => {
                    let elapsed = crate::dr::gate::fmt_dur(std::time::Duration::from_secs(started.elapsed().as_secs()));
                    let now = ctx.aws.now();
                    self.out.emit(
                        None,
                        Some(step),
                        now,
                        EventKind::Progress { text: format!("{what}; {elapsed} so far") },
                    );
                }
            }
        }
    }

    /// The round's imports, one by one (`terraform import` takes one address).
    async fn import(
        &mut self,
        step: Step,
        imports: &[(String, String, String)],
        snapshot: &Snapshot,
    ) -> Result<(), DrError> {
        for (name, address, id) in imports {
            self.ctx.tf.import(address, id).await?;
            self.out.emit(
                Some(name),
                Some(step),
                snapshot.now(),
                EventKind::StateChanged {
                    command: "import".into(),
                    address: address.clone(),
                },
            );
        }
        Ok(())
    }
}

impl Runner<'_> {
    /// After a failed apply: a lag alarm the plan created that CloudWatch has was made as
    /// planned (PutMetricAlarm succeeded; what failed came after it, such as the provider's
    /// tag listing), yet Terraform saved it tainted, and every later plan would replace it.
    /// It is untainted; the apply's error still ends the run.
    async fn keep_alarms_aws_made(&mut self, step: Step, planned: &[ResourceChange]) {
        // (pair, address, region, alarm name) of each alarm the plan created.
        let creates: Vec<(String, String, String, String)> = planned
            .iter()
            .filter(|c| c.kind() == crate::terraform::ChangeKind::Create)
            .filter_map(|c| {
                self.req.pairs.iter().find_map(|pair| {
                    [render::Direction::Forward, render::Direction::Reverse]
                        .into_iter()
                        .find(|d| render::alarm_address(pair, *d).as_deref() == Some(&c.address))
                        .and_then(|d| {
                            Some((
                                pair.name.clone(),
                                c.address.clone(),
                                render::alarm_region(pair, d)?.to_string(),
                                render::alarm_name(pair, d)?,
                            ))
                        })
                })
            })
            .collect();
        if creates.is_empty() {
            return;
        }
        let in_aws = position::lag_alarms(&self.ctx.aws, &self.req.pairs).await;
        for (pair, address, region, name) in creates {
            let made =
                matches!(in_aws.get(&region), Some(Ok(alarms)) if alarms.contains_key(&name));
            if made && self.ctx.tf.untaint(&address).await.is_ok() {
                self.out.emit(
                    Some(&pair),
                    Some(step),
                    self.ctx.aws.now(),
                    EventKind::StateChanged {
                        command: "untaint".into(),
                        address,
                    },
                );
            }
        }
    }

    /// Whether AWS shows every planned change under way: a created replication ENABLING or
    /// ENABLED, a deleted one DELETING or gone. AWS's answers may lag a change by moments
    /// (eventual consistency): it is looked at a few times over a few seconds.
    async fn under_way_in_aws(&self, planned: &[ResourceChange]) -> bool {
        use crate::aws::ReplicationStatus;
        use crate::terraform::ChangeKind;
        if planned.is_empty() {
            return false;
        }
        for attempt in 0..10 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            let look = position::Look::for_operation(Some(self.req.op), &self.req.pairs, false);
            let snapshot = position::observe(&self.ctx.aws, &look).await;
            let views = position::views(&self.req.pairs, &snapshot, &position::Facts::default());
            let seen = planned.iter().all(|c| {
                views.iter().any(|v| {
                    let pair = self.pair(&v.pair);
                    [
                        (render::Direction::Forward, v.forward()),
                        (render::Direction::Reverse, v.reverse()),
                    ]
                    .into_iter()
                    .any(|(d, r)| {
                        render::replication_address(pair, d).as_deref() == Some(c.address.as_str())
                            && match c.kind() {
                                ChangeKind::Create => r.is_some_and(|r| {
                                    matches!(
                                        r.status,
                                        ReplicationStatus::Enabling | ReplicationStatus::Enabled
                                    )
                                }),
                                ChangeKind::Delete => {
                                    r.is_none_or(|r| r.status == ReplicationStatus::Deleting)
                                }
                                _ => false,
                            }
                    })
                })
            });
            if seen {
                return true;
            }
        }
        false
    }

    /// The unexpected replaces that are tainted replications AWS has exactly as the phase
    /// wants them (the pair's own direction, ENABLING or ENABLED): (pair, address).
    fn tainted_but_wanted(
        &self,
        round: &[(String, Vec<Action>)],
        snapshot: &Snapshot,
        unexpected: &[crate::terraform::UnexpectedChange],
    ) -> Vec<(String, String)> {
        use crate::aws::ReplicationStatus;
        let views = position::views(&self.req.pairs, snapshot, &position::Facts::default());
        unexpected
            .iter()
            .filter(|u| u.reason.as_deref() == Some("replace_because_tainted"))
            .filter_map(|u| {
                round.iter().find_map(|(name, actions)| {
                    let wanted = actions.iter().any(|a| match a {
                        Action::PlanCheckApply { allowed, .. } => allowed.iter().any(|x| {
                            x.address == u.address && x.kind == crate::terraform::ChangeKind::Create
                        }),
                        _ => false,
                    });
                    if !wanted {
                        return None;
                    }
                    let pair = self.pair(name);
                    let view = views.iter().find(|v| &v.pair == name)?;
                    let live = [
                        (render::Direction::Forward, view.forward()),
                        (render::Direction::Reverse, view.reverse()),
                    ]
                    .into_iter()
                    .any(|(d, r)| {
                        render::replication_address(pair, d).as_deref() == Some(u.address.as_str())
                            && r.is_some_and(|r| {
                                matches!(
                                    r.status,
                                    ReplicationStatus::Enabling | ReplicationStatus::Enabled
                                )
                            })
                    });
                    live.then(|| (name.clone(), u.address.clone()))
                })
            })
            .collect()
    }
}

/// The changes of `changes` that this pair's actions allow.
fn mine(changes: &[ResourceChange], actions: &[Action]) -> Vec<TfChange> {
    changes
        .iter()
        .filter(|c| {
            actions.iter().any(|a| match a {
                Action::PlanCheckApply { allowed, .. } => {
                    allowed.iter().any(|x| x.address == c.address)
                }
                _ => false,
            })
        })
        .map(|c| TfChange {
            address: c.address.clone(),
            kind: c.kind(),
        })
        .collect()
}
