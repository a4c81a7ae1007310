//! How the simulated AWS behaves: its delays, and the choices where AWS's behaviour is not
//! confirmed (see shared/reference/aws-efs-replication.md).

use std::time::Duration;

use super::clock::{millis, Millis};

/// Which region publishes `TimeSinceLastSync` (UNCONFIRMED in AWS's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMetricRegions {
    Source,
    Destination,
    Both,
}

/// What AWS answers to a DeleteReplicationConfiguration while the configuration is already
/// being deleted (upstream's provider sends exactly that: in the destination region, then in
/// the source region). Not documented by AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteWhileDeleting {
    /// 204, and the deletion goes on.
    #[default]
    Accepted,
    /// ReplicationNotFound.
    NotFound,
    /// 409 ConflictException.
    Conflict,
}

#[derive(Debug, Clone)]
pub struct SimSettings {
    pub account_id: String,
    /// CreateReplicationConfiguration: ENABLING -> ENABLED.
    pub replication_enable_delay: Duration,
    /// DeleteReplicationConfiguration: DELETING -> gone.
    pub replication_delete_delay: Duration,
    /// Length of one sync cycle; `LastReplicatedTimestamp` becomes the start of the cycle that
    /// completed.
    pub sync_interval: Duration,
    pub file_system_create_delay: Duration,
    pub file_system_delete_delay: Duration,
    pub mount_target_delay: Duration,
    /// Whether a file system whose overwrite protection is DISABLED refuses writes (the API
    /// reference says read-only; the user guide does not say).
    pub disabled_protection_read_only: bool,
    pub sync_metric_regions: SyncMetricRegions,
    /// StartBackupJob: CREATED -> RUNNING.
    pub backup_start_delay: Duration,
    /// RUNNING -> COMPLETED (plus a minute per 100 MiB).
    pub backup_run_time: Duration,
    /// The answer to a second delete while one is under way.
    pub delete_while_deleting: DeleteWhileDeleting,
    /// How long DescribeReplicationConfigurations keeps answering the previous status after a
    /// create or a delete (eventual consistency; zero: at once).
    pub describe_lag: Duration,
    /// The identity policy of the caller (`--iam-policy`): every request is evaluated against
    /// it (IAM's rules: an explicit Deny wins, otherwise an Allow is needed). None: allow all.
    pub iam_policy: Option<std::sync::Arc<iam_rs::IAMPolicy>>,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            account_id: "123456789012".to_string(),
            replication_enable_delay: Duration::from_secs(15 * 60),
            replication_delete_delay: Duration::from_secs(8 * 60),
            sync_interval: Duration::from_secs(60),
            file_system_create_delay: Duration::from_secs(10),
            file_system_delete_delay: Duration::from_secs(10),
            mount_target_delay: Duration::from_secs(90),
            disabled_protection_read_only: true,
            sync_metric_regions: SyncMetricRegions::Both,
            backup_start_delay: Duration::from_secs(60),
            backup_run_time: Duration::from_secs(5 * 60),
            delete_while_deleting: DeleteWhileDeleting::Accepted,
            describe_lag: Duration::ZERO,
            iam_policy: None,
        }
    }
}

impl SimSettings {
    pub fn replication_enable_delay_ms(&self) -> Millis {
        millis(self.replication_enable_delay)
    }
    pub fn backup_start_delay_ms(&self) -> Millis {
        millis(self.backup_start_delay)
    }
    pub fn backup_run_ms(&self) -> Millis {
        millis(self.backup_run_time).max(1)
    }
    pub fn replication_delete_delay_ms(&self) -> Millis {
        millis(self.replication_delete_delay)
    }
    pub fn sync_interval_ms(&self) -> Millis {
        millis(self.sync_interval).max(1)
    }
    pub fn file_system_create_delay_ms(&self) -> Millis {
        millis(self.file_system_create_delay)
    }
    pub fn file_system_delete_delay_ms(&self) -> Millis {
        millis(self.file_system_delete_delay)
    }
    pub fn mount_target_delay_ms(&self) -> Millis {
        millis(self.mount_target_delay)
    }
}
