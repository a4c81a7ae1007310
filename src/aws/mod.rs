//! The seam to AWS: one EFS and one CloudWatch client per region, the observations the gates
//! read (one paginated call per region and kind), and the few changes efs-dr makes through the
//! SDK. AWS's own clock (the `Date` header of every answer) is recorded per region, so that gates
//! compare AWS timestamps with AWS time.

pub mod backup;
mod error;
mod evidence;
mod types;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_efs::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_efs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_efs::types::{DeletionMode, ReplicationOverwriteProtection};
use serde::{Deserialize, Serialize};

pub use backup::BackupJobInfo;
pub use error::{AwsError, AwsErrorKind};
pub use evidence::SYNC_HISTORY;
pub use types::{BackupJobState, LifeCycleState, Protection, ReplicationStatus};

use crate::ids::{FileSystemId, Region};

/// A time on AWS's clock.
pub type AwsTime = SystemTime;

/// Serializes an AWS time as RFC 3339.
pub fn rfc3339(t: AwsTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The `Date` headers seen in a region's answers (the first and the latest, each with the
/// instant it arrived), and how many requests were sent there (every attempt, retries
/// included).
#[derive(Debug, Clone, Default)]
pub(crate) struct AwsClock(Arc<Mutex<Samples>>, Arc<std::sync::atomic::AtomicU64>);

#[derive(Debug, Default)]
struct Samples {
    first: Option<(AwsTime, Instant)>,
    latest: Option<(AwsTime, Instant)>,
}

/// How much AWS time two answers must be apart for their pace to be trusted: `Date` comes in
/// whole seconds, so this bounds the error to a tenth.
const PACE_SPAN: Duration = Duration::from_secs(10);

impl AwsClock {
    fn samples(&self) -> std::sync::MutexGuard<'_, Samples> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self) -> Option<AwsTime> {
        self.samples().latest.map(|(t, _)| t)
    }

    /// AWS seconds per wall second between this region's first and latest answers, once they
    /// are far enough apart to tell (a simulator runs faster than the wall clock).
    fn pace(&self) -> Option<(f64, Duration)> {
        let s = self.samples();
        let ((t0, i0), (t1, i1)) = (s.first?, s.latest?);
        let aws = t1.duration_since(t0).ok()?;
        let wall = i1.duration_since(i0).as_secs_f64();
        (aws >= PACE_SPAN && wall > 0.0).then(|| ((aws.as_secs_f64() / wall).max(0.01), aws))
    }

    fn record(&self, t: AwsTime) {
        let now = Instant::now();
        let mut s = self.samples();
        s.first.get_or_insert((t, now));
        // Answers can arrive out of order: AWS's clock only moves forward.
        if s.latest.is_none_or(|(latest, _)| t > latest) {
            s.latest = Some((t, now));
        }
    }

    fn calls(&self) -> u64 {
        self.1.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Intercept for AwsClock {
    fn name(&self) -> &'static str {
        "AwsClock"
    }

    fn read_before_transmit(
        &self,
        _: &aws_sdk_efs::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_efs::error::BoxError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_efs::error::BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            if let Ok(t) = httpdate::parse_http_date(date) {
                self.record(t);
            }
        }
        Ok(())
    }
}

/// How clients are built: the endpoint (a simulator) or the standard chain.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Overrides every endpoint (otherwise the standard `AWS_ENDPOINT_URL*` settings apply).
    pub endpoint_url: Option<String>,
    /// Static credentials (the demo's simulator); otherwise the standard chain.
    pub static_credentials: bool,
    /// Retries on throttling, 5xx and dropped connections.
    pub max_attempts: u32,
}

/// The clients of one region.
#[derive(Debug, Clone)]
pub struct RegionClients {
    pub region: Region,
    /// For changes: retried up to `max_attempts` times (throttling, 5xx, dropped connections).
    pub efs: aws_sdk_efs::Client,
    /// For observations: few quick retries. A gate polls again anyway, and a region that does
    /// not answer must not hold up the poll of the others.
    pub efs_read: aws_sdk_efs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub backup: aws_sdk_backup::Client,
    /// Who the credentials are (GetCallerIdentity): for the report.
    pub sts: aws_sdk_sts::Client,
    clock: AwsClock,
}

/// Clients for every region of the configured pairs.
#[derive(Debug, Clone)]
pub struct Aws {
    regions: BTreeMap<String, RegionClients>,
    /// Regions expected to be down that did not answer a probe in this run: not probed again
    /// (each probe of a partitioned region costs [`PROBE_TIMEOUT`]).
    unanswered: std::sync::Arc<std::sync::Mutex<BTreeMap<String, AwsError>>>,
}

impl Aws {
    pub async fn connect(regions: impl IntoIterator<Item = Region>, opts: &ClientOptions) -> Aws {
        let mut map = BTreeMap::new();
        for region in regions {
            if map.contains_key(region.as_str()) {
                continue;
            }
            let clock = AwsClock::default();
            let retry = aws_config::retry::RetryConfig::standard()
                .with_max_attempts(opts.max_attempts.max(1))
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(5));
            let timeout = aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(20))
                .build();
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region.as_str().to_string()))
                .retry_config(retry)
                .timeout_config(timeout);
            if let Some(url) = &opts.endpoint_url {
                loader = loader.endpoint_url(url);
            }
            if opts.static_credentials {
                loader = loader.credentials_provider(aws_sdk_efs::config::Credentials::new(
                    "efs-dr-demo",
                    "efs-dr-demo",
                    None,
                    None,
                    "efs-dr demo",
                ));
            }
            let shared = loader.load().await;
            let read_retry = aws_config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_millis(500));
            let efs = aws_sdk_efs::Client::from_conf(
                aws_sdk_efs::config::Builder::from(&shared)
                    .interceptor(clock.clone())
                    .build(),
            );
            let efs_read = aws_sdk_efs::Client::from_conf(
                aws_sdk_efs::config::Builder::from(&shared)
                    .interceptor(clock.clone())
                    .retry_config(read_retry.clone())
                    .build(),
            );
            let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(&shared)
                    .interceptor(CloudWatchClock(clock.clone()))
                    .retry_config(read_retry)
                    .build(),
            );
            let backup = aws_sdk_backup::Client::new(&shared);
            let sts = aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&shared)
                    .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
                    .build(),
            );
            map.insert(
                region.as_str().to_string(),
                RegionClients {
                    region,
                    efs,
                    efs_read,
                    cloudwatch,
                    backup,
                    sts,
                    clock,
                },
            );
        }
        Aws {
            regions: map,
            unanswered: Default::default(),
        }
    }

    /// Why `region` is not probed again in this run: it did not answer a probe.
    pub fn unanswered(&self, region: &str) -> Option<AwsError> {
        self.unanswered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(region)
            .cloned()
    }

    /// `region` did not answer a probe: it is not probed again in this run.
    pub fn mark_unanswered(&self, region: &str, why: AwsError) {
        self.unanswered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(region.to_string(), why);
    }

    pub fn region(&self, region: &Region) -> &RegionClients {
        self.regions
            .get(region.as_str())
            .expect("clients exist for every configured region")
    }

    pub fn regions(&self) -> impl Iterator<Item = &RegionClients> {
        self.regions.values()
    }

    /// AWS's clock: the latest `Date` any region has answered with.
    pub fn now(&self) -> Option<AwsTime> {
        self.regions.values().filter_map(|r| r.now()).max()
    }

    /// AWS seconds per wall second, from the `Date` headers of the region whose answers span
    /// the most AWS time, once it is long enough to tell (None before).
    pub fn pace(&self) -> Option<f64> {
        self.regions
            .values()
            .filter_map(|r| r.clock.pace())
            .max_by_key(|(_, span)| *span)
            .map(|(pace, _)| pace)
    }

    /// Requests sent to EFS and CloudWatch so far, every region, retries included.
    pub fn calls(&self) -> u64 {
        self.regions.values().map(|r| r.clock.calls()).sum()
    }
}

/// The same clock, seen through CloudWatch's interceptor trait.
#[derive(Debug, Clone)]
struct CloudWatchClock(AwsClock);

impl aws_sdk_cloudwatch::config::Intercept for CloudWatchClock {
    fn name(&self) -> &'static str {
        "AwsClock"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        rc: &aws_sdk_cloudwatch::config::RuntimeComponents,
        cfg: &mut aws_sdk_cloudwatch::config::ConfigBag,
    ) -> Result<(), aws_sdk_cloudwatch::error::BoxError> {
        self.0.read_before_transmit(context, rc, cfg)
    }

    fn read_after_transmit(
        &self,
        context: &aws_sdk_cloudwatch::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        rc: &aws_sdk_cloudwatch::config::RuntimeComponents,
        cfg: &mut aws_sdk_cloudwatch::config::ConfigBag,
    ) -> Result<(), aws_sdk_cloudwatch::error::BoxError> {
        self.0.read_after_transmit(context, rc, cfg)
    }
}

fn to_time(t: &aws_sdk_efs::primitives::DateTime) -> Option<AwsTime> {
    SystemTime::try_from(*t).ok()
}

/// How long a probe of a region expected to be down may take: a region that accepts
/// connections and never answers (a network partition) costs this, once per run, not the 20 s
/// an ordinary call may wait for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

fn probe_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(PROBE_TIMEOUT)
        .operation_attempt_timeout(PROBE_TIMEOUT)
        .operation_timeout(PROBE_TIMEOUT)
        .build()
}

/// One replication as a region reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationInfo {
    pub source_id: FileSystemId,
    pub source_region: Region,
    pub destination_id: FileSystemId,
    pub destination_region: Region,
    pub status: ReplicationStatus,
    pub status_message: Option<String>,
    #[serde(with = "opt_time")]
    pub last_replicated: Option<AwsTime>,
    #[serde(with = "opt_time")]
    pub creation_time: Option<AwsTime>,
}

/// One file system as its region reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSystemInfo {
    pub id: FileSystemId,
    pub life_cycle_state: LifeCycleState,
    pub protection: Protection,
    pub name: Option<String>,
    /// What AWS Backup calls it (the account id is in there).
    pub arn: Option<String>,
    /// Encrypted at rest, and its performance mode (`generalPurpose`, `maxIO`): what a
    /// restore of its recovery point must say.
    pub encrypted: bool,
    pub performance_mode: String,
    /// The KMS key it is encrypted with.
    pub kms_key_id: Option<String>,
    /// `bursting`, `provisioned` or `elastic`, and the provisioned MiB/s.
    pub throughput_mode: String,
    pub provisioned_mibps: Option<f64>,
}

/// A mount target of a file system: where it is and whether it can be mounted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MountTargetInfo {
    pub id: String,
    pub availability_zone: Option<String>,
    pub life_cycle_state: LifeCycleState,
    pub ipv4: bool,
    pub ipv6: bool,
}

impl MountTargetInfo {
    /// "IPv4", "IPv6" or "dual-stack".
    pub fn ip_address_type(&self) -> &'static str {
        match (self.ipv4, self.ipv6) {
            (true, true) => "dual-stack",
            (false, true) => "IPv6",
            _ => "IPv4",
        }
    }
}

/// An optional AWS time as RFC 3339, both ways.
pub mod opt_time {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{rfc3339, AwsTime};

    pub fn serialize<S: Serializer>(t: &Option<AwsTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AwsTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| humantime::parse_rfc3339_weak(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// What one region said in one poll.
#[derive(Debug, Clone, Default)]
pub struct RegionView {
    /// Set when the region did not answer (or refused); the rest is then empty.
    pub error: Option<AwsError>,
    /// AWS's clock at the answer.
    pub now: Option<AwsTime>,
    pub replications: Vec<ReplicationInfo>,
    pub file_systems: BTreeMap<FileSystemId, FileSystemInfo>,
    /// Per file system asked about: the end of the last metric period with writes
    /// (`DataWriteIOBytes` > 0) in the look-back, and the start of the look-back.
    pub last_writes: BTreeMap<FileSystemId, LastWrite>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastWrite {
    /// None: no write in the look-back.
    pub at: Option<AwsTime>,
    pub since: AwsTime,
}

/// How far back the write metric is read, and its period.
pub const WRITE_LOOKBACK: Duration = Duration::from_secs(6 * 3600);
pub const WRITE_PERIOD_SECS: i32 = 60;

/// GetMetricData's limit of queries per call.
pub const MAX_METRIC_QUERIES: usize = 500;

/// A CloudWatch alarm as DescribeAlarms tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmInfo {
    /// OK, ALARM or INSUFFICIENT_DATA.
    pub state: String,
    pub reason: String,
}

impl RegionClients {
    /// AWS's clock as last seen in this region.
    pub fn now(&self) -> Option<AwsTime> {
        self.clock.get()
    }

    /// efs-dr's lag alarms in this region, by name: one paginated DescribeAlarms.
    pub async fn lag_alarms(
        &self,
    ) -> Result<std::collections::BTreeMap<String, AlarmInfo>, AwsError> {
        let mut out = std::collections::BTreeMap::new();
        let mut pages = self
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(crate::render::ALARM_NAME_PREFIX)
            .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk(self.region.as_str(), "DescribeAlarms", e))?;
            out.extend(page.metric_alarms().iter().filter_map(|a| {
                Some((
                    a.alarm_name()?.to_string(),
                    AlarmInfo {
                        state: a
                            .state_value()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        reason: a.state_reason().unwrap_or_default().to_string(),
                    },
                ))
            }));
        }
        Ok(out)
    }

    /// Every replication this region reports: one paginated DescribeReplicationConfigurations.
    pub async fn replications(&self) -> Result<Vec<ReplicationInfo>, AwsError> {
        let region = self.region.as_str();
        let mut out = Vec::new();
        let mut pages = self
            .efs_read
            .describe_replication_configurations()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let err = AwsError::from_sdk(region, "DescribeReplicationConfigurations", e);
                    if err.code() == Some("ReplicationNotFound") {
                        return Ok(out);
                    }
                    return Err(err);
                }
            };
            for r in page.replications() {
                for d in r.destinations() {
                    out.push(ReplicationInfo {
                        source_id: FileSystemId::from_aws(r.source_file_system_id()),
                        source_region: Region::from_aws(r.source_file_system_region()),
                        destination_id: FileSystemId::from_aws(d.file_system_id()),
                        destination_region: Region::from_aws(d.region()),
                        status: ReplicationStatus::from_aws(d.status().as_str()),
                        status_message: d.status_message().map(str::to_string),
                        last_replicated: d.last_replicated_timestamp().and_then(to_time),
                        creation_time: to_time(r.creation_time()),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Every file system of the region: one paginated DescribeFileSystems.
    pub async fn file_systems(&self) -> Result<BTreeMap<FileSystemId, FileSystemInfo>, AwsError> {
        let region = self.region.as_str();
        let mut out = BTreeMap::new();
        let mut pages = self
            .efs_read
            .describe_file_systems()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk(region, "DescribeFileSystems", e))?;
            for fs in page.file_systems() {
                let id = FileSystemId::from_aws(fs.file_system_id());
                out.insert(
                    id.clone(),
                    FileSystemInfo {
                        id,
                        life_cycle_state: LifeCycleState::from_aws(fs.life_cycle_state().as_str()),
                        // Absent on file systems that never took part in a replication.
                        protection: fs
                            .file_system_protection()
                            .and_then(|p| p.replication_overwrite_protection())
                            .map(|p| Protection::from_aws(p.as_str()))
                            .unwrap_or(Protection::Enabled),
                        name: fs.name().map(str::to_string),
                        arn: fs.file_system_arn().map(str::to_string),
                        encrypted: fs.encrypted().unwrap_or(false),
                        performance_mode: fs.performance_mode().as_str().to_string(),
                        kms_key_id: fs.kms_key_id().map(str::to_string),
                        throughput_mode: fs
                            .throughput_mode()
                            .map(|m| m.as_str().to_string())
                            .unwrap_or_else(|| "bursting".into()),
                        provisioned_mibps: fs.provisioned_throughput_in_mibps(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// The mount targets of `fs`: one paginated DescribeMountTargets (EFS lists mount targets
    /// by file system only).
    pub async fn mount_targets(&self, fs: &FileSystemId) -> Result<Vec<MountTargetInfo>, AwsError> {
        let region = self.region.as_str();
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .efs_read
                .describe_mount_targets()
                .file_system_id(fs.as_str())
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(region, "DescribeMountTargets", e))?;
            for mt in page.mount_targets() {
                out.push(MountTargetInfo {
                    id: mt.mount_target_id().to_string(),
                    availability_zone: mt.availability_zone_name().map(str::to_string),
                    life_cycle_state: LifeCycleState::from_aws(mt.life_cycle_state().as_str()),
                    ipv4: mt.ip_address().is_some(),
                    ipv6: mt.ipv6_address().is_some(),
                });
            }
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// The last write on each file system: one GetMetricData for all of them.
    pub async fn last_writes(
        &self,
        file_systems: &[FileSystemId],
        now: AwsTime,
    ) -> Result<BTreeMap<FileSystemId, LastWrite>, AwsError> {
        use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
        let region = self.region.as_str();
        let since = now - WRITE_LOOKBACK;
        let mut out: BTreeMap<FileSystemId, LastWrite> = file_systems
            .iter()
            .map(|fs| (fs.clone(), LastWrite { at: None, since }))
            .collect();
        if file_systems.is_empty() {
            return Ok(out);
        }
        // GetMetricData takes at most 500 queries: one call per 500 file systems.
        for (chunk_no, chunk) in file_systems.chunks(MAX_METRIC_QUERIES).enumerate() {
            let offset = chunk_no * MAX_METRIC_QUERIES;
            let mut req = self
                .cloudwatch
                .get_metric_data()
                .start_time(since.into())
                .end_time((now + Duration::from_secs(WRITE_PERIOD_SECS as u64)).into());
            for (i, fs) in chunk.iter().enumerate() {
                let i = offset + i;
                req = req.metric_data_queries(
                    MetricDataQuery::builder()
                        .id(format!("w{i}"))
                        .metric_stat(
                            MetricStat::builder()
                                .metric(
                                    Metric::builder()
                                        .namespace("AWS/EFS")
                                        .metric_name("DataWriteIOBytes")
                                        .dimensions(
                                            Dimension::builder()
                                                .name("FileSystemId")
                                                .value(fs.as_str())
                                                .build(),
                                        )
                                        .build(),
                                )
                                .period(WRITE_PERIOD_SECS)
                                .stat("Sum")
                                .build(),
                        )
                        .build(),
                );
            }
            let mut pages = req.into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk(region, "GetMetricData", e))?;
                for result in page.metric_data_results() {
                    let Some(i) = result
                        .id()
                        .and_then(|id| id.strip_prefix('w'))
                        .and_then(|i| i.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let Some(fs) = file_systems.get(i) else {
                        continue;
                    };
                    for (t, v) in result.timestamps().iter().zip(result.values()) {
                        if *v <= 0.0 {
                            continue;
                        }
                        let Ok(start) = SystemTime::try_from(*t) else {
                            continue;
                        };
                        // The write happened somewhere in the period: count its end.
                        let end = start + Duration::from_secs(WRITE_PERIOD_SECS as u64);
                        let entry = out.get_mut(fs).expect("inserted above");
                        if entry.at.is_none_or(|at| at < end) {
                            entry.at = Some(end);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The same clients, reading with a single attempt: for a region expected to be down,
    /// whose retries would only delay what the other regions' answers allow.
    pub fn probing(&self) -> RegionClients {
        let once = aws_config::retry::RetryConfig::standard().with_max_attempts(1);
        let short = probe_timeouts();
        let mut probe = self.clone();
        probe.efs_read = aws_sdk_efs::Client::from_conf(
            self.efs_read
                .config()
                .to_builder()
                .retry_config(once.clone())
                .timeout_config(short.clone())
                .build(),
        );
        probe.cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            self.cloudwatch
                .config()
                .to_builder()
                .retry_config(once)
                .timeout_config(short)
                .build(),
        );
        probe
    }

    /// The account and the ARN the credentials act as (STS GetCallerIdentity in this region).
    pub async fn caller_identity(&self) -> Result<(String, String), AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(self.region.as_str(), "GetCallerIdentity", e))?;
        Ok((
            out.account().unwrap_or_default().to_string(),
            out.arn().unwrap_or_default().to_string(),
        ))
    }

    /// Observes the region: replications, file systems, and the last writes of `watch_writes`.
    pub async fn observe(&self, watch_writes: &[FileSystemId]) -> RegionView {
        let result = async {
            let replications = self.replications().await?;
            let file_systems = self.file_systems().await?;
            let now = self.now().unwrap_or_else(SystemTime::now);
            let last_writes = self.last_writes(watch_writes, now).await?;
            Ok::<_, AwsError>(RegionView {
                error: None,
                now: self.now(),
                replications,
                file_systems,
                last_writes,
            })
        }
        .await;
        result.unwrap_or_else(|e| RegionView {
            error: Some(e),
            now: self.now(),
            ..RegionView::default()
        })
    }

    /// UpdateFileSystemProtection.
    pub async fn set_protection(
        &self,
        file_system: &FileSystemId,
        status: Protection,
    ) -> Result<Option<String>, AwsError> {
        use aws_sdk_efs::operation::RequestId;
        self.efs
            .update_file_system_protection()
            .file_system_id(file_system.as_str())
            .replication_overwrite_protection(ReplicationOverwriteProtection::from(status.as_str()))
            .send()
            .await
            .map(|out| out.request_id().map(str::to_string))
            .map_err(|e| AwsError::from_sdk(self.region.as_str(), "UpdateFileSystemProtection", e))
    }

    /// DeleteReplicationConfiguration of the replication whose source is `source_fs`, asked in
    /// this region. ReplicationNotFound counts as done.
    pub async fn delete_replication(
        &self,
        source_fs: &FileSystemId,
        local_only: bool,
    ) -> Result<Option<String>, AwsError> {
        use aws_sdk_efs::operation::RequestId;
        let mode = if local_only {
            DeletionMode::LocalConfigurationOnly
        } else {
            DeletionMode::AllConfigurations
        };
        match self
            .efs
            .delete_replication_configuration()
            .source_file_system_id(source_fs.as_str())
            .deletion_mode(mode)
            .send()
            .await
        {
            Ok(out) => Ok(out.request_id().map(str::to_string)),
            Err(e) => {
                let id = e.request_id().map(str::to_string);
                let err =
                    AwsError::from_sdk(self.region.as_str(), "DeleteReplicationConfiguration", e);
                if err.code() == Some("ReplicationNotFound") {
                    Ok(id)
                } else {
                    Err(err)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_is_known_once_answers_span_ten_aws_seconds_and_the_clock_never_goes_back() {
        let clock = AwsClock::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        clock.record(t0);
        assert_eq!(clock.pace(), None, "one answer tells no pace");
        clock.record(t0 + Duration::from_secs(9));
        assert_eq!(clock.pace(), None, "9 s of whole-second Dates: too short");
        std::thread::sleep(Duration::from_millis(20));
        clock.record(t0 + Duration::from_secs(60));
        let (pace, span) = clock.pace().expect("60 s of AWS time");
        assert_eq!(span, Duration::from_secs(60));
        assert!(pace > 1.0, "AWS ran faster than the wall clock: {pace}");
        clock.record(t0 + Duration::from_secs(30));
        assert_eq!(
            clock.get(),
            Some(t0 + Duration::from_secs(60)),
            "late answer"
        );
    }
}
