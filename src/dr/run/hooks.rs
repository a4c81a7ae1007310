//! Running the operator's hooks of a round: each pair's command in the config file's folder,
//! with the pair's variables, for at most the configured timeout, the pairs' at once (at most
//! `max_parallel`); each one's output into the events and the report, and its success recorded
//! beside the state, as it ends.

use futures::StreamExt;

use super::Runner;
use crate::dr::decide::Action;
use crate::dr::events::EventKind;
use crate::dr::phase::Step;
use crate::dr::planner::Operation;
use crate::dr::DrError;
use crate::hooks::{self, ledger};

impl Runner<'_> {
    /// At the run's start: a stop hook recorded for this operation whose side was written
    /// after it succeeded is forgotten, and runs again at its point. The operation was
    /// abandoned and the application restarted there; skipping its stop now would let it write
    /// through the cut-over.
    pub(super) async fn forget_stops_written_since(
        &mut self,
        snapshot: &crate::dr::view::Snapshot,
    ) -> Result<(), DrError> {
        let Some(record) = self.hook_record.as_mut() else {
            return Ok(());
        };
        let pairs = &self.req.pairs;
        let side_of = |pair: &str, hook: hooks::HookPoint| {
            let pair = pairs.iter().find(|p| p.name == pair)?;
            Some(match hook {
                hooks::HookPoint::StopWritesOnB => &pair.secondary,
                _ => &pair.primary,
            })
        };
        let forgotten = record.forget_stops_written_since(|pair, hook| {
            let side = side_of(pair, hook)?;
            snapshot
                .region(side.region.as_str())?
                .last_writes
                .get(&side.file_system_id)?
                .at
        });
        if forgotten.is_empty() {
            return Ok(());
        }
        let record = record.clone();
        for (pair, hook, succeeded, written) in &forgotten {
            let side = side_of(pair, *hook).expect("a pair of this run");
            self.out.emit(
                Some(pair),
                None,
                snapshot.now(),
                EventKind::Warning {
                    text: format!(
                        "{} ({}) was written at {}, after the {hook} hook succeeded at {succeeded}: the application writes there again, so the hook runs again",
                        side.file_system_id,
                        side.region,
                        crate::aws::rfc3339(*written)
                    ),
                },
            );
        }
        if !self.req.dry_run {
            let store = ledger::Store::of(&self.ctx.config);
            store.save(&record).await.map_err(|e| {
                DrError::Failed(format!(
                    "the hook record {} could not be written ({e}); nothing was changed",
                    store.name()
                ))
            })?;
        }
        Ok(())
    }

    pub(super) async fn hooks(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
    ) -> Result<(), DrError> {
        let dir = self
            .ctx
            .config
            .file
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() {
            std::path::PathBuf::from(".")
        } else {
            dir
        };
        // What the rehearsal gives Terraform (the simulator's endpoints, EFS_DR_REHEARSAL) the
        // hooks get too: a hook's own `aws` calls reach the same place as the run's.
        let inherited: Vec<(String, String)> = self
            .ctx
            .tf
            .env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let rehearsal = inherited
            .iter()
            .any(|(k, v)| k == "EFS_DR_REHEARSAL" && v == "1");
        let unplanned = self.req.op == (Operation::Failover { unplanned: true });
        // Every pair's hook of this phase, at most `max_parallel` at once.
        let mut runs = Vec::new();
        for (name, actions) in round {
            for action in actions {
                let Action::Hook { hook, command } = action else {
                    continue;
                };
                let pair = self.pair(name);
                let timeout = pair
                    .hooks
                    .as_ref()
                    .map(|h| h.timeout)
                    .unwrap_or(hooks::DEFAULT_TIMEOUT);
                let mut env = inherited.clone();
                env.extend(hooks::environment(
                    pair,
                    *hook,
                    hook.operation(),
                    &step.name(),
                    unplanned,
                    rehearsal,
                ));
                self.out.emit(
                    Some(name),
                    Some(step),
                    self.ctx.aws.now(),
                    EventKind::Progress {
                        text: format!("hook {hook}: running `{command}`"),
                    },
                );
                runs.push((name, *hook, command, env, timeout));
            }
        }
        let max_parallel = self
            .ctx
            .config
            .pairs
            .iter()
            .find_map(|p| p.hooks.as_ref())
            .map(|h| h.max_parallel)
            .unwrap_or(hooks::DEFAULT_MAX_PARALLEL) as usize;
        let dir = dir.as_path();
        let mut running = futures::stream::iter(runs.iter().enumerate().map(
            |(i, (_, _, command, env, timeout))| async move {
                (i, hooks::run(command, dir, env, *timeout).await)
            },
        ))
        .buffer_unordered(max_parallel.max(1));
        let store = ledger::Store::of(&self.ctx.config);
        let mut failed = Vec::new();
        // Each hook's end as it comes: a success is recorded at once (the run holds the lease,
        // so the record read at its start is the record), so that a run killed while other
        // pairs' hooks still run does not run it again.
        while let Some((i, outcome)) = running.next().await {
            let (name, hook, command, _, _) = &runs[i];
            self.out.emit(
                Some(name),
                Some(step),
                self.ctx.aws.now(),
                EventKind::HookRan {
                    hook: *hook,
                    command: command.to_string(),
                    outcome: outcome.clone(),
                },
            );
            if outcome.succeeded() {
                let mut record = self.hook_record.clone().unwrap_or_default();
                let at = self
                    .ctx
                    .aws
                    .now()
                    .unwrap_or_else(std::time::SystemTime::now);
                record.record(name, *hook, at);
                if let Err(e) = store.save(&record).await {
                    return Err(DrError::Failed(format!(
                        "the {hook} hook succeeded but could not be recorded in {} ({e}): running the same command again runs it again",
                        store.name()
                    ))
                    .for_pair(name));
                }
                self.hook_record = Some(record);
                continue;
            }
            let how = match (&outcome.failure, outcome.exit_code) {
                (Some(f), _) => f.clone(),
                (None, Some(code)) => format!("exited {code}"),
                (None, None) => "did not exit".into(),
            };
            let output = outcome.output.trim();
            failed.push((
                name.to_string(),
                DrError::Refused(format!(
                    "the {hook} hook `{command}` {how}{}. Nothing after it was changed; fix it, then run the same command again (hooks that succeeded are not run again)",
                    if output.is_empty() {
                        String::new()
                    } else {
                        format!("; its output:\n{output}")
                    }
                ))
                .for_pair(name),
            ));
        }
        // In pair order, whatever order they ended in.
        failed.sort_by_key(|(name, _)| runs.iter().position(|(n, ..)| *n == name));
        match failed.len() {
            0 => Ok(()),
            1 => Err(failed.remove(0).1),
            _ => Err(DrError::fleet(failed, &[])),
        }
    }
}
