//! `efs-dr sim serve`: runs the simulator until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::output::{human, out};
use super::OutputFormat;
use efs_dr::dr::DrError;
use efs_dr_sim::{DeleteWhileDeleting, SimOptions, SimSettings, Simulator, SyncMetricRegions};

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve EFS and CloudWatch on one local endpoint (use with AWS_ENDPOINT_URL).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,

    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,

    /// Keep the state in this file (written atomically after every change, read back at start).
    #[arg(long)]
    pub state_file: Option<PathBuf>,

    /// Simulated time at start, RFC 3339 (default: now, or where the state file left off).
    #[arg(long, value_parser = parse_rfc3339)]
    pub start_time: Option<i64>,

    /// Seed for generated ids, for reproducible runs.
    #[arg(long)]
    pub seed: Option<u64>,

    /// ENABLING -> ENABLED after a replication is created (simulated time).
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub replication_enable_delay: Duration,

    /// DELETING -> gone after a replication is deleted (simulated time).
    #[arg(long, default_value = "8m", value_parser = humantime::parse_duration)]
    pub replication_delete_delay: Duration,

    /// Length of one replication sync cycle (simulated time).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub sync_interval: Duration,

    /// creating -> available for a new file system (simulated time).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub file_system_create_delay: Duration,

    /// creating -> available and deleting -> gone for mount targets (simulated time).
    #[arg(long, default_value = "90s", value_parser = humantime::parse_duration)]
    pub mount_target_delay: Duration,
    /// AWS Backup: a job's CREATED -> RUNNING time.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    pub backup_start_delay: Duration,
    /// AWS Backup: a job's RUNNING -> COMPLETED time (plus a minute per 100 MiB).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub backup_run_time: Duration,

    /// Let clients write to a file system whose overwrite protection is DISABLED (AWS's API
    /// reference says it is read-only; the user guide does not say).
    #[arg(long)]
    pub disabled_protection_writable: bool,

    /// Which region publishes TimeSinceLastSync (not documented by AWS).
    #[arg(long, value_enum, default_value_t = SyncMetricRegions::Both)]
    pub sync_metric_regions: SyncMetricRegions,

    /// What a DeleteReplicationConfiguration answers while the configuration is already being
    /// deleted (not documented by AWS): 204, ReplicationNotFound, or 409 ConflictException.
    #[arg(long, value_enum, default_value_t = DeleteWhileDeleting::Accepted)]
    pub delete_while_deleting: DeleteWhileDeleting,

    /// How long DescribeReplicationConfigurations keeps answering the previous status after a
    /// create or a delete (eventual consistency; simulated time).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub describe_lag: Duration,

    /// An IAM identity policy (JSON) that every request is evaluated against, as IAM does: a
    /// request it does not allow is answered with AccessDeniedException in the service's own
    /// protocol. Default: everything is allowed.
    #[arg(long, value_name = "FILE")]
    pub iam_policy: Option<std::path::PathBuf>,

    /// The account id in ARNs and OwnerId.
    #[arg(long, default_value = "123456789012")]
    pub account_id: String,
}

/// The policy of `--iam-policy`, read and parsed.
pub fn read_iam_policy(
    path: &std::path::Path,
) -> Result<std::sync::Arc<iam_rs::IAMPolicy>, DrError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        DrError::Failed(format!(
            "cannot read the IAM policy {}: {e}",
            path.display()
        ))
    })?;
    iam_rs::IAMPolicy::from_json(&text)
        .map(std::sync::Arc::new)
        .map_err(|e| {
            DrError::Failed(format!(
                "{} is not an IAM policy document: {e}; `efs-dr iam-policy` writes one",
                path.display()
            ))
        })
}

/// Why a `--start` time cannot be used.
#[derive(Debug, thiserror::Error)]
enum StartTimeError {
    #[error("{0} (for example 2026-11-21T09:00:00Z)")]
    Format(#[from] humantime::TimestampError),
    #[error("times before 1970 are not supported")]
    BeforeEpoch,
}

fn parse_rfc3339(s: &str) -> Result<i64, StartTimeError> {
    let t = humantime::parse_rfc3339_weak(s)?;
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .map_err(|_| StartTimeError::BeforeEpoch)
}

impl ServeArgs {
    pub fn options(&self) -> Result<SimOptions, DrError> {
        let iam_policy = self
            .iam_policy
            .as_deref()
            .map(read_iam_policy)
            .transpose()?;
        Ok(SimOptions {
            listen: self.listen,
            time_scale: self.time_scale,
            start_time: self.start_time,
            state_file: self.state_file.clone(),
            seed: self.seed,
            settings: SimSettings {
                account_id: self.account_id.clone(),
                replication_enable_delay: self.replication_enable_delay,
                replication_delete_delay: self.replication_delete_delay,
                sync_interval: self.sync_interval,
                file_system_create_delay: self.file_system_create_delay,
                file_system_delete_delay: self.file_system_create_delay,
                mount_target_delay: self.mount_target_delay,
                disabled_protection_read_only: !self.disabled_protection_writable,
                sync_metric_regions: self.sync_metric_regions,
                backup_start_delay: self.backup_start_delay,
                backup_run_time: self.backup_run_time,
                delete_while_deleting: self.delete_while_deleting,
                describe_lag: self.describe_lag,
                iam_policy,
            },
        })
    }
}

pub async fn run(cmd: SimCommand, output: OutputFormat) -> Result<(), DrError> {
    match cmd {
        SimCommand::Serve(args) => serve(args, output).await,
    }
}

async fn serve(args: ServeArgs, output: OutputFormat) -> Result<(), DrError> {
    let sim = Simulator::start(args.options()?)
        .await
        .map_err(|e| DrError::Failed(e.to_string()))?;
    let url = sim.endpoint_url();
    if !sim.addr().ip().is_loopback() {
        human!(
            "WARNING: the simulator listens on {}, not on loopback. Its control API ({url}/_sim/: clock, outages, faults, file contents) has NO AUTHENTICATION: anyone who can reach this address can read and change everything in it. Listen on 127.0.0.1 unless every host that can reach it is yours.",
            sim.addr()
        );
        tracing::warn!(listen = %sim.addr(), "the simulator's control API has no authentication");
    }
    match output {
        OutputFormat::Json => out!(
            "{}",
            serde_json::json!({ "endpoint": url, "time_scale": args.time_scale })
        ),
        OutputFormat::Human => {
            out!("efs-dr simulator listening on {url}");
            human!(
                "  time scale {}x; try: AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url {url} --region us-east-1 efs describe-file-systems",
                args.time_scale
            );
        }
    }
    wait_for_stop().await;
    tracing::info!("stopping the simulator");
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_stop() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
