//! A step's Terraform actions for every pair at it: one render of the direction variables,
//! imports and `state rm`s, then one plan, checked against what every pair's phase allows, and
//! one apply.

use std::path::Path;

use super::Runner;
use crate::dr::decide::Action;
use crate::dr::error::DrError;
use crate::dr::events::{EventKind, TfChange};
use crate::dr::observe::live_directions;
use crate::dr::phase::Step;
use crate::dr::view::Snapshot;
use crate::render;
use crate::terraform::{AllowedChange, PhaseError, ResourceChange};

const PLAN_FILE: &str = "efs-dr.tfplan";

impl Runner<'_> {
    pub(super) async fn terraform(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
        snapshot: &Snapshot,
    ) -> Result<(), DrError> {
        let tf = &self.ctx.tf;
        // Pairs the step does not change keep their live direction: their plan is empty.
        let live = live_directions(&self.ctx.config.pairs, snapshot);
        let mut directions = live.clone();
        let mut allowed: Vec<AllowedChange> = Vec::new();
        let mut refresh = true;
        for (name, actions) in round {
            for action in actions {
                match action {
                    Action::SetDirection { direction } => {
                        directions.insert(name.clone(), *direction);
                    }
                    Action::PlanCheckApply {
                        allowed: a,
                        refresh: r,
                    } => {
                        allowed.extend(a.iter().cloned());
                        refresh &= *r;
                    }
                    _ => {}
                }
            }
        }
        // The variables ask for the phase's change only while its plan is checked and applied:
        // on any failure they are put back, so that no plain `terraform apply` makes it ungated.
        let vars = tf.dir.join(render::DIRECTIONS_FILE);
        let previous = std::fs::read(&vars).ok();
        let down = self.probed();
        let result = async {
            // What AWS has and the state lacks is imported first, under the directions AWS
            // has (its address exists in the configuration then, whether the phase creates it
            // or removes it), so that the phase never creates it twice nor stops short of
            // removing it.
            if round
                .iter()
                .any(|(_, a)| a.iter().any(|a| matches!(a, Action::Import { .. })))
            {
                render::write(
                    &tf.dir,
                    &render::render_root(&self.ctx.config, &live, &down)?,
                )?;
                self.import(step, round, snapshot).await?;
            }
            render::write(
                &tf.dir,
                &render::render_root(&self.ctx.config, &directions, &down)?,
            )?;
            self.plan_and_apply(step, round, snapshot, allowed, refresh)
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
        if result.is_err() {
            let restored = match &previous {
                Some(content) => std::fs::write(&vars, content),
                None => std::fs::remove_file(&vars),
            };
            if let Err(e) = restored {
                tracing::error!("{} could not be put back: {e}", vars.display());
            }
        }
        result
    }

    async fn plan_and_apply(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
        snapshot: &Snapshot,
        allowed: Vec<AllowedChange>,
        refresh: bool,
    ) -> Result<(), DrError> {
        let tf = &self.ctx.tf;
        // Every `state rm` of the round in one call (a fleet's 100 forgets are one Terraform
        // run, not 100).
        let mut changed: Vec<(&String, &'static str, &String)> = Vec::new();
        let forget: Vec<(&String, &String)> = round
            .iter()
            .flat_map(|(name, actions)| {
                actions.iter().filter_map(move |a| match a {
                    Action::StateRm { address } => Some((name, address)),
                    _ => None,
                })
            })
            .collect();
        if !forget.is_empty() {
            let addresses: Vec<String> = forget.iter().map(|(_, a)| (*a).clone()).collect();
            tf.state_rm(&addresses).await?;
            changed.extend(forget.iter().map(|(name, a)| (*name, "state rm", *a)));
        }
        for (name, command, address) in changed {
            self.out.emit(
                Some(name),
                Some(step),
                snapshot.now(),
                EventKind::StateChanged {
                    command: command.into(),
                    address: address.clone(),
                },
            );
        }
        let checked = tf
            .plan_checked(Path::new(PLAN_FILE), &allowed, refresh)
            .await
            .map_err(|e| match e {
                PhaseError::Unsafe(u) => {
                    DrError::Refused(format!("phase \"{}\": {u}", step.title()))
                }
                PhaseError::Terraform(t) => DrError::from(t),
            })?;
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
        let applied = tf.apply_checked(checked).await?;
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
    /// The round's imports, one by one (`terraform import` takes one address).
    async fn import(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
        snapshot: &Snapshot,
    ) -> Result<(), DrError> {
        for (name, actions) in round {
            for action in actions {
                if let Action::Import { address, id } = action {
                    self.ctx.tf.import(address, id.as_str()).await?;
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
            }
        }
        Ok(())
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
