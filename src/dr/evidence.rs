//! Gathers from AWS what `writes::assess` judges: A's last completed sync to B and A's writes
//! since; and A's backup jobs for a recovery-point gate. The only async part of "no write left
//! behind".

use std::time::Duration;

use super::view::PairView;
use super::writes::{assess, AOnlyWrites};
use crate::aws::{Aws, AwsError, AwsTime, BackupJobInfo};
use crate::config::Pair;

/// Writes only A has, as AWS tells them now, and what could not be read on the way (the
/// assessment stands on the rest; the operator hears of each).
pub async fn a_only_writes(aws: &Aws, pair: &Pair, view: &PairView) -> (AOnlyWrites, Vec<String>) {
    let mut unread = Vec::new();
    if let Some(e) = &view.a.error {
        let reason = format!("A's region {} does not answer: {e}", view.a.region);
        return (AOnlyWrites::Unknown { reason }, unread);
    }
    let Some(now) = view.now.or_else(|| aws.now()) else {
        let reason = "AWS's clock was not seen".to_string();
        return (AOnlyWrites::Unknown { reason }, unread);
    };
    let (a, b) = (&pair.primary, &pair.secondary);
    let mut candidates: Vec<(AwsTime, String)> = Vec::new();
    for (r, what) in [
        (
            &view.forward_in_a,
            "A -> B's LastReplicatedTimestamp in A's region",
        ),
        (
            &view.forward_in_b,
            "A -> B's LastReplicatedTimestamp in B's region",
        ),
    ] {
        if let Some(t) = r.as_ref().and_then(|r| r.last_replicated) {
            candidates.push((t, what.to_string()));
        }
    }
    for side in [a, b] {
        if side.region == b.region && !view.b.reachable() {
            continue;
        }
        match aws
            .region(&side.region)
            .last_sync_from_metrics(&a.file_system_id, &b.file_system_id, now)
            .await
        {
            Ok(Some(t)) => candidates.push((
                t,
                format!("CloudWatch TimeSinceLastSync in {}", side.region),
            )),
            Ok(None) => {}
            Err(e) => unread.push(format!(
                "CloudWatch TimeSinceLastSync in {} could not be read ({e}): the last sync is judged without it",
                side.region
            )),
        }
    }
    let last_sync = candidates.into_iter().max_by_key(|(t, _)| *t);
    let writes = match &last_sync {
        Some((t, _)) => {
            aws.region(&a.region)
                .writes_since(&a.file_system_id, *t - Duration::from_secs(60), now)
                .await
        }
        None => Ok(Vec::new()),
    };
    (assess(last_sync, writes), unread)
}

/// A's backup jobs, newest first (none when the pair has no backup block or A's ARN is not
/// known); an error when AWS Backup did not answer, which is never read as "no job".
pub async fn a_backup_jobs(
    aws: &Aws,
    pair: &Pair,
    view: &PairView,
) -> Result<Vec<BackupJobInfo>, AwsError> {
    if pair.backup.is_none() {
        return Ok(Vec::new());
    }
    let Some(arn) = view.a.file_system.as_ref().and_then(|f| f.arn.clone()) else {
        return Ok(Vec::new());
    };
    aws.region(&pair.primary.region).backup_jobs(&arn).await
}
