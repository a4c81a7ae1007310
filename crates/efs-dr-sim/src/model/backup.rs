//! AWS Backup, as far as efs-dr uses it: vaults, on-demand backup jobs of EFS file systems
//! with their lifecycle (CREATED -> RUNNING -> COMPLETED, or FAILED), and recovery points that
//! keep the files as they were when the job started.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Files, Lifecycle, World};
use crate::clock::Millis;
use crate::error::ApiError;
use crate::settings::SimSettings;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    Created { until: Millis },
    Running { until: Millis },
    Completed { at: Millis },
    Failed { at: Millis, message: String },
}

impl JobState {
    pub fn as_aws(&self) -> &'static str {
        match self {
            JobState::Created { .. } => "CREATED",
            JobState::Running { .. } => "RUNNING",
            JobState::Completed { .. } => "COMPLETED",
            JobState::Failed { .. } => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupJob {
    pub id: String,
    pub region: String,
    pub vault: String,
    pub resource_arn: String,
    pub file_system_id: String,
    pub role_arn: String,
    pub idempotency_token: Option<String>,
    pub created: Millis,
    pub state: JobState,
    /// Fails when it would complete (injected).
    pub doomed: bool,
    pub recovery_point_arn: String,
    pub size_bytes: u64,
    /// The file system's files when the job was created.
    pub files: Files,
}

/// What the control API changes about AWS Backup.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupControls {
    /// Roles AWS Backup refuses to assume (AccessDeniedException).
    pub refused_roles: BTreeSet<String>,
    /// The next N jobs created fail.
    pub fail_next: u32,
}

/// Input of StartBackupJob.
#[derive(Debug, Default)]
pub struct NewBackupJob {
    pub vault: Option<String>,
    pub resource_arn: Option<String>,
    pub role_arn: Option<String>,
    pub idempotency_token: Option<String>,
}

/// Every region has the vault AWS creates on first use.
pub const DEFAULT_VAULT: &str = "Default";

fn missing(name: &str) -> ApiError {
    ApiError::new(
        400,
        "MissingParameterValueException",
        format!("{name} is required"),
    )
}

impl World {
    pub fn create_backup_vault(&mut self, region: &str, name: &str) -> Result<(), ApiError> {
        let valid = (2..=50).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(ApiError::new(
                400,
                "InvalidParameterValueException",
                format!("Invalid backup vault name {name:?}: 2-50 letters, digits, '-' or '_'"),
            ));
        }
        if !self
            .backup_vaults
            .insert((region.to_string(), name.to_string()))
        {
            return Err(ApiError::new(
                400,
                "AlreadyExistsException",
                format!("Backup vault {name} already exists"),
            ));
        }
        Ok(())
    }

    pub fn backup_vault_exists(&self, region: &str, name: &str) -> bool {
        name == DEFAULT_VAULT
            || self
                .backup_vaults
                .contains(&(region.to_string(), name.to_string()))
    }

    pub fn start_backup_job(
        &mut self,
        region: &str,
        input: NewBackupJob,
        s: &SimSettings,
    ) -> Result<usize, ApiError> {
        let vault = input.vault.ok_or_else(|| missing("BackupVaultName"))?;
        let arn = input.resource_arn.ok_or_else(|| missing("ResourceArn"))?;
        let role = input.role_arn.ok_or_else(|| missing("IamRoleArn"))?;
        if let Some(token) = &input.idempotency_token {
            if let Some(i) = self
                .backup_jobs
                .iter()
                .position(|j| j.region == region && j.idempotency_token.as_ref() == Some(token))
            {
                return Ok(i);
            }
        }
        if self.backup_controls.refused_roles.contains(&role) {
            return Err(ApiError::new(
                403,
                "AccessDeniedException",
                format!("AWS Backup cannot assume the IAM role {role}: check its trust policy (backup.amazonaws.com) and its permissions"),
            ));
        }
        if !role.starts_with("arn:aws:iam::") || !role.contains(":role/") {
            return Err(ApiError::new(
                400,
                "InvalidParameterValueException",
                format!("Invalid IamRoleArn {role:?}"),
            ));
        }
        if !self.backup_vault_exists(region, &vault) {
            return Err(ApiError::new(
                404,
                "ResourceNotFoundException",
                format!("Backup vault {vault} does not exist in {region}"),
            ));
        }
        let fs_id = arn
            .strip_prefix(&format!("arn:aws:elasticfilesystem:{region}:"))
            .and_then(|rest| rest.split_once(":file-system/"))
            .map(|(_, id)| id.to_string())
            .ok_or_else(|| {
                ApiError::new(
                    400,
                    "InvalidParameterValueException",
                    format!("ResourceArn {arn:?} is not an EFS file system of {region}"),
                )
            })?;
        let fs = self
            .file_systems
            .get(&fs_id)
            .filter(|f| f.region == region)
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "ResourceNotFoundException",
                    format!("Resource {arn} not found"),
                )
            })?;
        if fs.lifecycle != Lifecycle::Available {
            return Err(ApiError::new(
                400,
                "InvalidRequestException",
                format!("Resource {arn} is not available"),
            ));
        }
        let files = fs.files.clone();
        let size_bytes = files.values().map(|c| c.0.len() as u64).sum();
        let doomed = self.backup_controls.fail_next > 0;
        if doomed {
            self.backup_controls.fail_next -= 1;
        }
        let id = self.new_id("job").to_uppercase();
        let point = self.new_id("rp");
        let now = self.now;
        self.backup_jobs.push(BackupJob {
            id,
            region: region.to_string(),
            vault,
            resource_arn: arn,
            file_system_id: fs_id,
            role_arn: role,
            idempotency_token: input.idempotency_token,
            created: now,
            state: JobState::Created {
                until: now + s.backup_start_delay_ms(),
            },
            doomed,
            recovery_point_arn: format!(
                "arn:aws:backup:{region}:{}:recovery-point:{point}",
                s.account_id
            ),
            size_bytes,
            files,
        });
        Ok(self.backup_jobs.len() - 1)
    }

    pub fn backup_job(&self, region: &str, id: &str) -> Result<&BackupJob, ApiError> {
        self.backup_jobs
            .iter()
            .find(|j| j.region == region && j.id == id)
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "ResourceNotFoundException",
                    format!("Backup job {id} not found"),
                )
            })
    }

    pub fn recovery_point(&self, arn: &str) -> Option<&BackupJob> {
        self.backup_jobs
            .iter()
            .find(|j| j.recovery_point_arn == arn && matches!(j.state, JobState::Completed { .. }))
    }

    /// The next moment a job changes state.
    pub(super) fn next_backup_due(&self) -> Option<Millis> {
        self.backup_jobs
            .iter()
            .filter_map(|j| match j.state {
                JobState::Created { until } | JobState::Running { until } => Some(until),
                _ => None,
            })
            .min()
    }

    pub(super) fn process_backups(&mut self, t: Millis, s: &SimSettings) {
        for j in &mut self.backup_jobs {
            match j.state {
                JobState::Created { until } if until <= t => {
                    // A minute per 100 MiB on top of the fixed time, like a small EFS backup.
                    let extra = (j.size_bytes / (100 << 20)) as Millis * 60_000;
                    j.state = JobState::Running {
                        until: t + s.backup_run_ms() + extra,
                    };
                }
                JobState::Running { until } if until <= t => {
                    j.state = if j.doomed {
                        JobState::Failed {
                            at: t,
                            message: "The backup job failed (injected by the simulator)".into(),
                        }
                    } else {
                        JobState::Completed { at: t }
                    };
                }
                _ => {}
            }
        }
    }
}
