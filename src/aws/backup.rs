//! AWS Backup, for a recovery point of A before a failback overwrites it: StartBackupJob
//! (idempotent by token) and ListBackupJobs of one file system.

use serde::{Deserialize, Serialize};

use super::{opt_time, AwsError, AwsTime, BackupJobState, RegionClients};

/// One backup job as AWS Backup reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupJobInfo {
    pub id: String,
    pub state: BackupJobState,
    #[serde(with = "opt_time")]
    pub created: Option<AwsTime>,
    pub recovery_point_arn: Option<String>,
    pub vault: Option<String>,
    pub status_message: Option<String>,
}

impl BackupJobInfo {
    /// Ended without a recovery point.
    pub fn failed(&self) -> bool {
        self.state.failed()
    }
}

fn time(t: Option<&aws_sdk_backup::primitives::DateTime>) -> Option<AwsTime> {
    t.and_then(|t| std::time::SystemTime::try_from(*t).ok())
}

impl RegionClients {
    /// StartBackupJob of `resource_arn` into `vault`, as `role_arn`: (job id, recovery point,
    /// request id). The same token returns the same job: a run stopped after this call starts
    /// no second one.
    pub async fn start_backup_job(
        &self,
        resource_arn: &str,
        vault: &str,
        role_arn: &str,
        token: &str,
    ) -> Result<(String, Option<String>, Option<String>), AwsError> {
        use aws_sdk_backup::operation::RequestId;
        let out = self
            .backup
            .start_backup_job()
            .resource_arn(resource_arn)
            .backup_vault_name(vault)
            .iam_role_arn(role_arn)
            .idempotency_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(self.region.as_str(), "StartBackupJob", e))?;
        Ok((
            out.backup_job_id().unwrap_or_default().to_string(),
            out.recovery_point_arn().map(str::to_string),
            out.request_id().map(str::to_string),
        ))
    }

    /// Whether `vault` exists in this region (DescribeBackupVault; AccessDenied and the like are
    /// errors).
    pub async fn backup_vault_exists(&self, vault: &str) -> Result<bool, AwsError> {
        match self
            .backup
            .describe_backup_vault()
            .backup_vault_name(vault)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = AwsError::from_sdk(self.region.as_str(), "DescribeBackupVault", e);
                if err.code() == Some("ResourceNotFoundException") {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The backup jobs of one resource, newest first.
    pub async fn backup_jobs(&self, resource_arn: &str) -> Result<Vec<BackupJobInfo>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self
            .backup
            .list_backup_jobs()
            .by_resource_arn(resource_arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk(self.region.as_str(), "ListBackupJobs", e))?;
            for j in page.backup_jobs() {
                out.push(BackupJobInfo {
                    id: j.backup_job_id().unwrap_or_default().to_string(),
                    state: BackupJobState::from_aws(
                        j.state().map(|s| s.as_str()).unwrap_or_default(),
                    ),
                    created: time(j.creation_date()),
                    recovery_point_arn: j.recovery_point_arn().map(str::to_string),
                    vault: j.backup_vault_name().map(str::to_string),
                    status_message: j.status_message().map(str::to_string),
                });
            }
        }
        out.sort_by_key(|j| std::cmp::Reverse(j.created));
        Ok(out)
    }
}

/// The AWS CLI command that restores `pair`'s recovery point `arn` of A into a directory of A
/// (`aws-backup-restore_<time>`, beside what A holds now: nothing is overwritten), with the
/// metadata AWS Backup needs for an EFS restore (`file-system-id`, `newFileSystem`,
/// `Encrypted`, `PerformanceMode`, `CreationToken`), and the pair's backup role.
pub fn restore_command(
    pair: &crate::config::Pair,
    a: Option<&super::FileSystemInfo>,
    arn: &str,
    job: &str,
) -> String {
    let role = pair
        .backup
        .as_ref()
        .map_or("ROLE_ARN", |b| b.role_arn.as_str());
    let (encrypted, mode) = a.map_or((true, "generalPurpose"), |fs| {
        (fs.encrypted, fs.performance_mode.as_str())
    });
    format!(
        "aws backup start-restore-job --region {} --recovery-point-arn {arn} --iam-role-arn {role} --resource-type EFS --metadata file-system-id={},newFileSystem=false,Encrypted={encrypted},PerformanceMode={mode},CreationToken=efs-dr-restore-{job}",
        pair.primary.region, pair.primary.file_system_id
    )
}
