//! A step's changes made through the SDK, outside Terraform.

use super::Runner;
use crate::dr::decide::Action;
use crate::dr::error::DrError;
use crate::dr::events::EventKind;
use crate::dr::phase::{SdkChange, Step};

impl Runner<'_> {
    pub(super) async fn sdk_changes(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
    ) -> Result<(), DrError> {
        for (name, actions) in round {
            for action in actions {
                let Action::Sdk { change } = action else {
                    continue;
                };
                let context = |e: crate::aws::AwsError| {
                    DrError::Failed(format!(
                        "pair {name}, phase \"{}\": {e}. Nothing else was changed; run the same command again to continue",
                        step.title()
                    ))
                };
                let mut started = None;
                let request_id = match change {
                    SdkChange::StartBackup {
                        region,
                        resource_arn,
                        vault,
                        role_arn,
                        token,
                        ..
                    } => {
                        let (job, point, id) = self
                            .ctx
                            .aws
                            .region(region)
                            .start_backup_job(resource_arn, vault, role_arn, token)
                            .await
                            .map_err(|e| {
                                    DrError::Failed(format!(
                                        "pair {name}, phase \"{}\": AWS Backup refused the job as role {role_arn} into vault {vault}: {e}. Check that the vault exists in {region} and that AWS Backup can assume the role (its trust policy names backup.amazonaws.com). Nothing was overwritten; run the same command again once it is fixed",
                                        step.title()
                                    ))
                                })?;
                        started = Some((job, point));
                        id
                    }
                    SdkChange::SetProtection {
                        region,
                        file_system_id,
                        status,
                    } => self
                        .ctx
                        .aws
                        .region(region)
                        .set_protection(file_system_id, *status)
                        .await
                        .map_err(context)?,
                    SdkChange::DeleteReplication {
                        region,
                        source_file_system_id,
                        local_only,
                    } => self
                        .ctx
                        .aws
                        .region(region)
                        .delete_replication(source_file_system_id, *local_only)
                        .await
                        .map_err(context)?,
                };
                let now = self.ctx.aws.now();
                self.out.emit(
                    Some(name),
                    Some(step),
                    now,
                    EventKind::SdkChange {
                        change: change.clone(),
                        request_id,
                    },
                );
                if let Some((job, point)) = started {
                    self.out.emit(
                        Some(name),
                        Some(step),
                        now,
                        EventKind::Note {
                            text: format!(
                                "backup job {job} of A started; its recovery point will be {}",
                                point.as_deref().unwrap_or("named when it completes")
                            ),
                        },
                    );
                }
                if let SdkChange::DeleteReplication {
                    local_only: true, ..
                } = change
                {
                    if step == Step::DeleteForwardFromB {
                        let a_region = &self.pair(name).primary.region;
                        self.out.emit(
                            Some(name),
                            Some(step),
                            now,
                            EventKind::Note {
                                text: format!(
                                    "A's region {a_region} did not answer: the replication was deleted in B's region only (LOCAL_CONFIGURATION_ONLY). A still holds a stale configuration; `efs-dr failback` removes it"
                                ),
                            },
                        );
                    }
                }
            }
        }
        Ok(())
    }
}
