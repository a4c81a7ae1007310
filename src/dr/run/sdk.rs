//! A step's changes made through the SDK, outside Terraform: every pair's at once (a fleet's
//! 100 deletions are 100 concurrent calls, not 100 in a row), then their events in pair order.

use futures::future::join_all;

use super::Runner;
use crate::aws::Aws;
use crate::dr::decide::Action;
use crate::dr::error::DrError;
use crate::dr::events::EventKind;
use crate::dr::phase::{SdkChange, Step};

/// What one call returned: AWS's request id, and a backup job (id, recovery point) if it
/// started one.
type Made = (Option<String>, Option<(String, Option<String>)>);

async fn make(aws: &Aws, name: &str, step: Step, change: &SdkChange) -> Result<Made, DrError> {
    let context = |e: crate::aws::AwsError| DrError::Aws(e).at(name, step.title());
    match change {
        SdkChange::StartBackup {
            region,
            resource_arn,
            vault,
            role_arn,
            token,
            ..
        } => {
            let (job, point, id) = aws
                .region(region)
                .start_backup_job(resource_arn, vault, role_arn, token)
                .await
                .map_err(|e| {
                    DrError::Failed(format!("AWS Backup refused the job as role {role_arn} into vault {vault}: {e}. Check that the vault exists in {region} and that AWS Backup can assume the role (its trust policy names backup.amazonaws.com). Nothing was overwritten; run the same command again once it is fixed")).at(name, step.title())
                })?;
            Ok((id, Some((job, point))))
        }
        SdkChange::SetProtection {
            region,
            file_system_id,
            status,
        } => Ok((
            aws.region(region)
                .set_protection(file_system_id, *status)
                .await
                .map_err(context)?,
            None,
        )),
        SdkChange::DeleteReplication {
            region,
            source_file_system_id,
            local_only,
        } => Ok((
            aws.region(region)
                .delete_replication(source_file_system_id, *local_only)
                .await
                .map_err(context)?,
            None,
        )),
    }
}

impl Runner<'_> {
    pub(super) async fn sdk_changes(
        &mut self,
        step: Step,
        round: &[(String, Vec<Action>)],
    ) -> Result<(), DrError> {
        let changes: Vec<(&String, &SdkChange)> = round
            .iter()
            .flat_map(|(name, actions)| {
                actions.iter().filter_map(move |a| match a {
                    Action::Sdk { change } => Some((name, change)),
                    _ => None,
                })
            })
            .collect();
        let aws = &self.ctx.aws;
        let results = join_all(
            changes
                .iter()
                .map(|(name, change)| make(aws, name, step, change)),
        )
        .await;
        let mut first_error = None;
        for ((name, change), result) in changes.into_iter().zip(results) {
            let (request_id, started) = match result {
                Ok(made) => made,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
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
                if let Some(note) = step.spec().local_only_note {
                    let a_region = self.pair(name).primary.region.to_string();
                    self.out.emit(
                        Some(name),
                        Some(step),
                        now,
                        EventKind::Note {
                            text: note.replace("{a_region}", &a_region),
                        },
                    );
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
