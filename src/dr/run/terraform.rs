//! A phase's Terraform part: import what AWS has and the state lacks, forget what must not be
//! read, render the variables, plan, check the plan against what the phase allows, apply.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{RunError, Runner};
use crate::dr::events::{EventKind, TfChange};
use crate::dr::observe::{live_directions, observe, views};
use crate::dr::phase::{Phase, Step};
use crate::dr::report::ChangeRecord;
use crate::render::{replication_address, Direction};
use crate::terraform::safety;

impl Runner<'_> {
    pub(super) async fn terraform(&mut self, step: Step, phases: &[Phase]) -> Result<(), RunError> {
        let snapshot = observe(&self.ctx.aws, &BTreeSet::new()).await;
        self.unreachable = super::unreachable(&snapshot);
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
                Step::ImportForward
                | Step::CreateForward
                | Step::RemoveForward
                | Step::ForgetForward => (
                    fwd,
                    view.forward().is_some(),
                    pair.primary.file_system_id.to_string(),
                ),
                _ => (
                    rev,
                    view.reverse().is_some(),
                    pair.secondary.file_system_id.to_string(),
                ),
            };
            let in_state = state.contains(&address);
            match step {
                Step::ImportForward
                | Step::ImportReverse
                | Step::CreateForward
                | Step::CreateReverse
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
            safety::check(&plan, &allowed)
                .map_err(|e| RunError::Refused(format!("phase \"{}\": {e}", step.title())))?;
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
        let now = self.ctx.aws.now();
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
                    kind: crate::dr::report::kind_word(c.kind),
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
}
