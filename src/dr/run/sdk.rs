//! A phase's change made through the SDK, outside Terraform (protection, a deletion that must not
//! wait for a Terraform run), recorded in the events and the report.

use super::{RunError, Runner};
use crate::dr::events::EventKind;
use crate::dr::phase::{Phase, SdkChange, Step};
use crate::dr::report::SdkRecord;

impl Runner<'_> {
    pub(super) async fn sdk_changes(&mut self, phases: &[Phase]) -> Result<(), RunError> {
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
                    let clients = self
                        .ctx
                        .aws
                        .region(&crate::ids::Region::parse(region).map_err(RunError::Error)?);
                    clients
                        .set_protection(file_system_id, status)
                        .await
                        .map_err(context)?;
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
                    let clients = self
                        .ctx
                        .aws
                        .region(&crate::ids::Region::parse(region).map_err(RunError::Error)?);
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
            let now = self.ctx.aws.now();
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
                text: resolved.describe(),
                change: serde_json::to_value(&resolved).unwrap_or_default(),
            });
        }
        Ok(())
    }
}
