//! The simulated world: file systems, mount targets, replication configurations, the data they
//! hold, and a log of what happened (for CloudWatch). Pure state and rules, no I/O.
//!
//! Time-driven changes (ENABLING -> ENABLED, DELETING -> gone, sync cycles) are not run by a
//! background ticker: `advance(now)` processes every due event in time order up to `now`. Between
//! two requests nothing else can change, so this is exact.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::clock::Millis;
use super::error::ApiError;
use super::settings::SimSettings;

/// A file's content, stored base64 in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content(#[serde(with = "b64")] pub Vec<u8>);

mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// The files of a file system, path -> content. Shared (copy on write) so that a sync snapshot
/// costs nothing.
pub type Files = Arc<BTreeMap<String, Content>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Lifecycle {
    Creating { until: Millis },
    Available,
    Deleting { until: Millis },
}

impl Lifecycle {
    pub fn as_aws(&self) -> &'static str {
        match self {
            Lifecycle::Creating { .. } => "creating",
            Lifecycle::Available => "available",
            Lifecycle::Deleting { .. } => "deleting",
        }
    }
}

/// Overwrite protection as set by the user; REPLICATING is derived from the replications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protection {
    #[serde(rename = "ENABLED")]
    Enabled,
    #[serde(rename = "DISABLED")]
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileSystem {
    pub id: String,
    pub region: String,
    pub creation_token: String,
    pub creation_time: Millis,
    pub lifecycle: Lifecycle,
    pub tags: Vec<Tag>,
    pub protection: Protection,
    pub performance_mode: String,
    pub throughput_mode: String,
    pub provisioned_throughput: Option<f64>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub availability_zone_name: Option<String>,
    pub files: Files,
    /// Clients connected now (set by the control API).
    pub connections: u32,
}

impl FileSystem {
    pub fn name(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == "Name")
            .map(|t| t.value.as_str())
    }

    pub fn size_bytes(&self) -> u64 {
        self.files.values().map(|c| c.0.len() as u64).sum()
    }
}

/// What CreateMountTarget asks for its addresses.
#[derive(Debug, Clone, Default)]
pub struct MountTargetAddresses {
    pub ip_address_type: Option<String>,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountTarget {
    pub id: String,
    pub file_system_id: String,
    pub region: String,
    pub subnet_id: String,
    pub availability_zone_name: String,
    /// IPv4 (None: an IPv6-only mount target).
    pub ip_address: Option<String>,
    /// IPv6 (dual-stack and IPv6-only mount targets).
    #[serde(default)]
    pub ipv6_address: Option<String>,
    pub network_interface_id: String,
    pub vpc_id: String,
    pub lifecycle: Lifecycle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplicationStatus {
    Enabling { until: Millis },
    Enabled,
    Paused,
    Error,
}

/// One region's view of a replication configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "side", rename_all = "snake_case")]
pub enum SideState {
    Present,
    Deleting { until: Millis },
    Gone,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncCycle {
    pub started: Millis,
    pub snapshot: Files,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replication {
    pub source_id: String,
    pub source_region: String,
    pub destination_id: String,
    pub destination_region: String,
    pub creation_time: Millis,
    pub original_source_arn: String,
    pub status: ReplicationStatus,
    pub status_message: Option<String>,
    pub source_side: SideState,
    pub destination_side: SideState,
    pub last_replicated: Option<Millis>,
    pub cycle: Option<SyncCycle>,
    /// When its deletion started, and the status it had before (for a Describe that lags).
    #[serde(default)]
    pub deleting_since: Option<Millis>,
    #[serde(default)]
    pub status_before_delete: Option<String>,
}

impl Replication {
    pub fn side_in(&self, region: &str) -> &SideState {
        if region == self.source_region {
            &self.source_side
        } else if region == self.destination_region {
            &self.destination_side
        } else {
            &SideState::Gone
        }
    }

    pub fn visible_in(&self, region: &str) -> bool {
        *self.side_in(region) != SideState::Gone
    }

    pub fn involves(&self, fs_id: &str) -> bool {
        (self.source_id == fs_id && self.source_side != SideState::Gone)
            || (self.destination_id == fs_id && self.destination_side != SideState::Gone)
    }

    /// The status as read in `region`, with its message.
    pub fn status_in(&self, region: &str) -> (&'static str, Option<String>) {
        if let SideState::Deleting { .. } = self.side_in(region) {
            return ("DELETING", None);
        }
        let other = if region == self.source_region {
            &self.destination_side
        } else {
            &self.source_side
        };
        if *other == SideState::Gone {
            return (
                "ERROR",
                Some(
                    "The replication configuration was deleted in the other Region; delete this one too"
                        .to_string(),
                ),
            );
        }
        match self.status {
            ReplicationStatus::Enabling { .. } => ("ENABLING", None),
            ReplicationStatus::Enabled => ("ENABLED", None),
            ReplicationStatus::Paused => ("PAUSED", self.status_message.clone()),
            ReplicationStatus::Error => ("ERROR", self.status_message.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoKind {
    Read,
    Write,
    Metadata,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IoEvent {
    pub file_system_id: String,
    pub at: Millis,
    pub kind: IoKind,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionChange {
    pub file_system_id: String,
    pub at: Millis,
    pub count: u32,
}

/// A completed sync cycle, or (with `replicated_to: None`) the end of a replication.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncEvent {
    pub source_id: String,
    pub destination_id: String,
    pub at: Millis,
    pub replicated_to: Option<Millis>,
}

/// What happened, for CloudWatch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActivityLog {
    pub io: Vec<IoEvent>,
    pub connections: Vec<ConnectionChange>,
    pub syncs: Vec<SyncEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Only in this region (None: in every region).
    #[serde(default)]
    pub region: Option<String>,
    /// Calls let through before the first that fails.
    #[serde(default)]
    pub skip: u32,
    pub operation: String,
    pub error: String,
    pub remaining: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct World {
    pub seed: u64,
    pub serial: u64,
    pub now: Millis,
    pub file_systems: BTreeMap<String, FileSystem>,
    pub mount_targets: BTreeMap<String, MountTarget>,
    pub replications: Vec<Replication>,
    pub outages: BTreeSet<String>,
    /// Regions down the way a network partition is: connections are accepted and never
    /// answered (a subset of `outages`). AWS documents neither; efs-dr must pass under both.
    #[serde(default)]
    pub black_holes: BTreeSet<String>,
    /// Requests a black-holed region accepted and never answered, per region.
    #[serde(default)]
    pub held: BTreeMap<String, u64>,
    /// EFS's service-linked role exists in the account (made with the first replication).
    #[serde(default)]
    pub service_linked_role: bool,
    pub faults: Vec<Fault>,
    pub log: ActivityLog,
    #[serde(default)]
    pub backup_vaults: BTreeSet<(String, String)>,
    #[serde(default)]
    pub backup_jobs: Vec<BackupJob>,
    #[serde(default)]
    pub backup_controls: BackupControls,
    /// CloudWatch metric alarms, every region's.
    #[serde(default)]
    pub alarms: Vec<super::alarms::MetricAlarm>,
}

/// Input of CreateFileSystem.
#[derive(Debug, Default)]
pub struct NewFileSystem {
    pub creation_token: String,
    pub performance_mode: Option<String>,
    pub throughput_mode: Option<String>,
    pub provisioned_throughput: Option<f64>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub availability_zone_name: Option<String>,
    pub tags: Vec<Tag>,
}

/// Input of CreateReplicationConfiguration's one destination.
#[derive(Debug, Default)]
pub struct NewDestination {
    pub region: Option<String>,
    pub file_system_id: Option<String>,
    pub availability_zone_name: Option<String>,
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionMode {
    AllConfigurations,
    LocalConfigurationOnly,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn file_system_arn(account: &str, region: &str, id: &str) -> String {
    format!("arn:aws:elasticfilesystem:{region}:{account}:file-system/{id}")
}

impl World {
    pub fn new(seed: u64, now: Millis) -> Self {
        World {
            seed,
            now,
            ..World::default()
        }
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.serial += 1;
        let h = splitmix64(self.seed ^ self.serial.wrapping_mul(0x2545_F491_4F6C_DD1D));
        format!("{prefix}-0{h:016x}")
    }

    // ----- time -------------------------------------------------------------------------------

    /// Processes every due event, in time order, up to `now`.
    pub fn advance(&mut self, now: Millis, s: &SimSettings) {
        if now < self.now {
            return;
        }
        while let Some(t) = self.next_due(s) {
            if t > now {
                break;
            }
            self.process_due(t, s);
            self.now = t;
            self.reconcile_cycles();
        }
        self.now = now;
        self.reconcile_cycles();
    }

    fn next_due(&self, s: &SimSettings) -> Option<Millis> {
        let mut next: Option<Millis> = None;
        let mut consider = |t: Millis| next = Some(next.map_or(t, |n: Millis| n.min(t)));
        for fs in self.file_systems.values() {
            match fs.lifecycle {
                Lifecycle::Creating { until } | Lifecycle::Deleting { until } => consider(until),
                Lifecycle::Available => {}
            }
        }
        for mt in self.mount_targets.values() {
            match mt.lifecycle {
                Lifecycle::Creating { until } | Lifecycle::Deleting { until } => consider(until),
                Lifecycle::Available => {}
            }
        }
        for r in &self.replications {
            if let ReplicationStatus::Enabling { until } = r.status {
                consider(until);
            }
            for side in [&r.source_side, &r.destination_side] {
                if let SideState::Deleting { until } = side {
                    consider(*until);
                }
            }
            if let Some(c) = &r.cycle {
                consider(c.started + s.sync_interval_ms());
            }
        }
        if let Some(t) = self.next_backup_due() {
            consider(t);
        }
        next
    }

    fn process_due(&mut self, t: Millis, s: &SimSettings) {
        self.process_backups(t, s);
        let mut gone_fs = Vec::new();
        for fs in self.file_systems.values_mut() {
            match fs.lifecycle {
                Lifecycle::Creating { until } if until <= t => fs.lifecycle = Lifecycle::Available,
                Lifecycle::Deleting { until } if until <= t => gone_fs.push(fs.id.clone()),
                _ => {}
            }
        }
        for id in gone_fs {
            self.file_systems.remove(&id);
        }
        let mut gone_mt = Vec::new();
        for mt in self.mount_targets.values_mut() {
            match mt.lifecycle {
                Lifecycle::Creating { until } if until <= t => mt.lifecycle = Lifecycle::Available,
                Lifecycle::Deleting { until } if until <= t => gone_mt.push(mt.id.clone()),
                _ => {}
            }
        }
        for id in gone_mt {
            self.mount_targets.remove(&id);
        }

        let interval = s.sync_interval_ms();
        let mut reenable = Vec::new();
        for r in &mut self.replications {
            if let ReplicationStatus::Enabling { until } = r.status {
                if until <= t {
                    r.status = ReplicationStatus::Enabled;
                }
            }
            if matches!(r.source_side, SideState::Deleting { until } if until <= t) {
                r.source_side = SideState::Gone;
            }
            if matches!(r.destination_side, SideState::Deleting { until } if until <= t) {
                r.destination_side = SideState::Gone;
                // Deleting the configuration re-enables the destination's protection.
                reenable.push(r.destination_id.clone());
                self.log.syncs.push(SyncEvent {
                    source_id: r.source_id.clone(),
                    destination_id: r.destination_id.clone(),
                    at: t,
                    replicated_to: None,
                });
            }
            let completes = r.cycle.as_ref().map(|c| c.started + interval);
            if completes.is_some_and(|c| c <= t) {
                let cycle = r.cycle.take().expect("checked above");
                if let Some(dest) = self.file_systems.get_mut(&r.destination_id) {
                    dest.files = cycle.snapshot;
                }
                r.last_replicated = Some(cycle.started);
                self.log.syncs.push(SyncEvent {
                    source_id: r.source_id.clone(),
                    destination_id: r.destination_id.clone(),
                    at: t,
                    replicated_to: Some(cycle.started),
                });
                // The next cycle starts right away (reconcile_cycles), from the source as now.
            }
        }
        for id in reenable {
            if let Some(fs) = self.file_systems.get_mut(&id) {
                fs.protection = Protection::Enabled;
            }
        }
        self.replications.retain(|r| {
            !(r.source_side == SideState::Gone && r.destination_side == SideState::Gone)
        });
    }

    /// Starts a sync cycle on every replication that can sync and has none, and stops the cycle
    /// of every replication that cannot (paused, deleting, a region down).
    fn reconcile_cycles(&mut self) {
        let now = self.now;
        for r in &mut self.replications {
            let active = r.status == ReplicationStatus::Enabled
                && r.source_side == SideState::Present
                && r.destination_side == SideState::Present
                && !self.outages.contains(&r.source_region)
                && !self.outages.contains(&r.destination_region);
            match (&r.cycle, active) {
                (None, true) => {
                    if let Some(src) = self.file_systems.get(&r.source_id) {
                        r.cycle = Some(SyncCycle {
                            started: now,
                            snapshot: src.files.clone(),
                        });
                    }
                }
                (Some(_), false) => r.cycle = None,
                _ => {}
            }
        }
    }

    // ----- queries ----------------------------------------------------------------------------

    pub fn replication_of(&self, fs_id: &str) -> Option<&Replication> {
        self.replications.iter().find(|r| r.involves(fs_id))
    }

    /// ENABLED, DISABLED, or REPLICATING while the file system is a replication destination.
    pub fn protection_of(&self, fs: &FileSystem) -> &'static str {
        let replicating = self
            .replications
            .iter()
            .any(|r| r.destination_id == fs.id && r.destination_side != SideState::Gone);
        match (replicating, fs.protection) {
            (true, _) => "REPLICATING",
            (false, Protection::Enabled) => "ENABLED",
            (false, Protection::Disabled) => "DISABLED",
        }
    }

    /// Whether clients can write; `Err` says why not.
    pub fn check_writable(&self, fs_id: &str, s: &SimSettings) -> Result<(), ApiError> {
        let fs = self.file_system_anywhere(fs_id)?;
        if self.outages.contains(&fs.region) {
            return Err(ApiError::new(
                503,
                "RegionUnavailable",
                format!("region {} is down (simulated outage)", fs.region),
            ));
        }
        if fs.lifecycle != Lifecycle::Available {
            return Err(ApiError::wrong_lifecycle(fs_id, fs.lifecycle.as_aws()));
        }
        match self.protection_of(fs) {
            "REPLICATING" => Err(ApiError::new(
                409,
                "ReadOnlyFileSystem",
                format!("file system {fs_id} is a replication destination and is read-only"),
            )),
            "DISABLED" if s.disabled_protection_read_only => Err(ApiError::new(
                409,
                "ReadOnlyFileSystem",
                format!(
                    "file system {fs_id} has replication overwrite protection DISABLED and is read-only"
                ),
            )),
            _ => Ok(()),
        }
    }

    pub fn file_system_anywhere(&self, id: &str) -> Result<&FileSystem, ApiError> {
        self.file_systems
            .get(id)
            .ok_or_else(|| ApiError::file_system_not_found(id))
    }

    /// The file system `id` as seen from `region`: one in another region does not exist there.
    pub fn file_system_in(&self, region: &str, id: &str) -> Result<&FileSystem, ApiError> {
        match self.file_systems.get(id) {
            Some(fs) if fs.region == region => Ok(fs),
            _ => Err(ApiError::file_system_not_found(id)),
        }
    }

    fn file_system_in_mut(&mut self, region: &str, id: &str) -> Result<&mut FileSystem, ApiError> {
        match self.file_systems.get_mut(id) {
            Some(fs) if fs.region == region => Ok(fs),
            _ => Err(ApiError::file_system_not_found(id)),
        }
    }

    // ----- file systems -----------------------------------------------------------------------

    pub fn create_file_system(
        &mut self,
        region: &str,
        req: NewFileSystem,
        s: &SimSettings,
    ) -> Result<String, ApiError> {
        if req.creation_token.is_empty() || req.creation_token.len() > 64 {
            return Err(ApiError::bad_request(
                "CreationToken must be 1 to 64 characters long",
            ));
        }
        if let Some(existing) = self
            .file_systems
            .values()
            .find(|fs| fs.region == region && fs.creation_token == req.creation_token)
        {
            return Err(ApiError::new(
                409,
                "FileSystemAlreadyExists",
                format!(
                    "File system '{}' already exists with creation token '{}'",
                    existing.id, req.creation_token
                ),
            )
            .with("FileSystemId", existing.id.clone()));
        }
        let performance_mode = req
            .performance_mode
            .unwrap_or_else(|| "generalPurpose".to_string());
        if !["generalPurpose", "maxIO"].contains(&performance_mode.as_str()) {
            return Err(ApiError::bad_request(format!(
                "PerformanceMode '{performance_mode}' is not one of generalPurpose, maxIO"
            )));
        }
        let throughput_mode = req
            .throughput_mode
            .unwrap_or_else(|| "bursting".to_string());
        if !["bursting", "provisioned", "elastic"].contains(&throughput_mode.as_str()) {
            return Err(ApiError::bad_request(format!(
                "ThroughputMode '{throughput_mode}' is not one of bursting, provisioned, elastic"
            )));
        }
        if let Some(az) = &req.availability_zone_name {
            if !az.starts_with(region) || az.len() != region.len() + 1 {
                return Err(ApiError::new(
                    400,
                    "UnsupportedAvailabilityZone",
                    format!("Availability Zone '{az}' is not in region {region}"),
                ));
            }
        }
        check_tags(&req.tags)?;
        let id = self.new_id("fs");
        let now = self.now;
        self.file_systems.insert(
            id.clone(),
            FileSystem {
                id: id.clone(),
                region: region.to_string(),
                creation_token: req.creation_token,
                creation_time: now,
                lifecycle: Lifecycle::Creating {
                    until: now + s.file_system_create_delay_ms(),
                },
                tags: req.tags,
                protection: Protection::Enabled,
                performance_mode,
                throughput_mode,
                provisioned_throughput: req.provisioned_throughput,
                encrypted: req.encrypted.unwrap_or(false) || req.kms_key_id.is_some(),
                kms_key_id: req.kms_key_id,
                availability_zone_name: req.availability_zone_name,
                files: Files::default(),
                connections: 0,
            },
        );
        Ok(id)
    }

    pub fn delete_file_system(
        &mut self,
        region: &str,
        id: &str,
        s: &SimSettings,
    ) -> Result<(), ApiError> {
        let fs = self.file_system_in(region, id)?;
        if self.replication_of(id).is_some() {
            return Err(ApiError::new(
                409,
                "FileSystemInUse",
                format!(
                    "File system '{id}' is part of a replication configuration; delete the replication configuration first."
                ),
            ));
        }
        if self.mount_targets.values().any(|m| m.file_system_id == id) {
            return Err(ApiError::new(
                409,
                "FileSystemInUse",
                format!("File system '{id}' has mount targets; delete them first."),
            ));
        }
        if let Lifecycle::Deleting { .. } = fs.lifecycle {
            return Ok(());
        }
        let until = self.now + s.file_system_delete_delay_ms();
        self.file_system_in_mut(region, id)?.lifecycle = Lifecycle::Deleting { until };
        Ok(())
    }

    pub fn update_protection(
        &mut self,
        region: &str,
        id: &str,
        value: &str,
    ) -> Result<&'static str, ApiError> {
        let fs = self.file_system_in(region, id)?;
        let protection = match value {
            "ENABLED" => Protection::Enabled,
            "DISABLED" => Protection::Disabled,
            other => {
                return Err(ApiError::bad_request(format!(
                    "ReplicationOverwriteProtection must be ENABLED or DISABLED, not '{other}'"
                )))
            }
        };
        if self.protection_of(fs) == "REPLICATING" {
            return Err(ApiError::new(
                409,
                "ReplicationAlreadyExists",
                format!(
                    "File system '{id}' is the destination of a replication configuration; its protection cannot change."
                ),
            ));
        }
        if fs.lifecycle != Lifecycle::Available {
            return Err(ApiError::wrong_lifecycle(id, fs.lifecycle.as_aws()));
        }
        let fs = self.file_system_in_mut(region, id)?;
        fs.protection = protection;
        let fs = self.file_system_in(region, id)?;
        Ok(self.protection_of(fs))
    }

    pub fn tag_resource(&mut self, region: &str, id: &str, tags: Vec<Tag>) -> Result<(), ApiError> {
        check_tags(&tags)?;
        let fs = self.file_system_in_mut(region, id)?;
        for tag in tags {
            match fs.tags.iter_mut().find(|t| t.key == tag.key) {
                Some(t) => t.value = tag.value,
                None => fs.tags.push(tag),
            }
        }
        Ok(())
    }

    pub fn untag_resource(
        &mut self,
        region: &str,
        id: &str,
        keys: &[String],
    ) -> Result<(), ApiError> {
        let fs = self.file_system_in_mut(region, id)?;
        fs.tags.retain(|t| !keys.contains(&t.key));
        Ok(())
    }

    // ----- mount targets ----------------------------------------------------------------------

    pub fn create_mount_target(
        &mut self,
        region: &str,
        fs_id: &str,
        subnet_id: &str,
        addresses: MountTargetAddresses,
        s: &SimSettings,
    ) -> Result<String, ApiError> {
        // botocore: IpAddressType IPV4_ONLY (the default) | IPV6_ONLY | DUAL_STACK; an address
        // of a family the type does not have is refused.
        let kind = addresses
            .ip_address_type
            .clone()
            .unwrap_or_else(|| "IPV4_ONLY".to_string());
        let (v4, v6) = match kind.as_str() {
            "IPV4_ONLY" => (true, false),
            "IPV6_ONLY" => (false, true),
            "DUAL_STACK" => (true, true),
            other => {
                return Err(ApiError::bad_request(format!(
                    "IpAddressType '{other}' is not one of IPV4_ONLY, IPV6_ONLY, DUAL_STACK"
                )))
            }
        };
        if (!v4 && addresses.ipv4.is_some()) || (!v6 && addresses.ipv6.is_some()) {
            return Err(ApiError::bad_request(format!(
                "an address of a family IpAddressType {kind} does not have was given"
            )));
        }
        let fs = self.file_system_in(region, fs_id)?;
        if fs.lifecycle != Lifecycle::Available {
            return Err(ApiError::wrong_lifecycle(fs_id, fs.lifecycle.as_aws()));
        }
        let az = subnet_availability_zone(region, subnet_id).ok_or_else(|| {
            ApiError::new(
                400,
                "SubnetNotFound",
                format!("The subnet ID '{subnet_id}' does not exist (the simulator takes subnet- and 8 to 40 hex digits; the last picks the zone)"),
            )
        })?;
        if let Some(one_zone) = &fs.availability_zone_name {
            if *one_zone != az {
                return Err(ApiError::new(
                    400,
                    "AvailabilityZonesMismatch",
                    format!(
                        "File system '{fs_id}' is in {one_zone}, subnet '{subnet_id}' is in {az}"
                    ),
                ));
            }
        }
        if self
            .mount_targets
            .values()
            .any(|m| m.file_system_id == fs_id && m.availability_zone_name == az)
        {
            return Err(ApiError::new(
                409,
                "MountTargetConflict",
                format!("File system '{fs_id}' already has a mount target in {az}"),
            ));
        }
        let n = self.mount_targets.len() as u32 + 4;
        let id = self.new_id("fsmt");
        let eni = self.new_id("eni");
        let until = self.now + s.mount_target_delay_ms();
        self.mount_targets.insert(
            id.clone(),
            MountTarget {
                id: id.clone(),
                file_system_id: fs_id.to_string(),
                region: region.to_string(),
                subnet_id: subnet_id.to_string(),
                availability_zone_name: az,
                ip_address: v4.then(|| {
                    addresses
                        .ipv4
                        .unwrap_or_else(|| format!("10.0.{}.{}", (n / 250) % 250, n % 250 + 4))
                }),
                ipv6_address: v6.then(|| {
                    addresses
                        .ipv6
                        .unwrap_or_else(|| format!("2600:1f14:0:{:x}::{:x}", n / 250, n % 250 + 4))
                }),
                network_interface_id: eni,
                vpc_id: "vpc-0000000000000000a".to_string(),
                lifecycle: Lifecycle::Creating { until },
            },
        );
        Ok(id)
    }

    /// UpdateFileSystem: the throughput mode and provisioned throughput. botocore: provisioned
    /// throughput is required with (and only meaningful for) the provisioned mode.
    pub fn update_throughput(
        &mut self,
        region: &str,
        id: &str,
        mode: Option<String>,
        mibps: Option<f64>,
    ) -> Result<(), ApiError> {
        let fs = self.file_system_in(region, id)?;
        if fs.lifecycle != Lifecycle::Available {
            return Err(ApiError::wrong_lifecycle(id, fs.lifecycle.as_aws()));
        }
        let mode = mode.unwrap_or_else(|| fs.throughput_mode.clone());
        if !["bursting", "provisioned", "elastic"].contains(&mode.as_str()) {
            return Err(ApiError::bad_request(format!(
                "ThroughputMode '{mode}' is not one of bursting, provisioned, elastic"
            )));
        }
        let mibps = match (mode.as_str(), mibps.or(fs.provisioned_throughput)) {
            ("provisioned", Some(m)) if m >= 1.0 => Some(m),
            ("provisioned", _) => {
                return Err(ApiError::bad_request(
                    "ProvisionedThroughputInMibps (at least 1.0) is required with ThroughputMode provisioned",
                ))
            }
            _ => None,
        };
        let fs = self
            .file_systems
            .get_mut(id)
            .expect("file_system_in found it");
        fs.throughput_mode = mode;
        fs.provisioned_throughput = mibps;
        Ok(())
    }

    pub fn delete_mount_target(
        &mut self,
        region: &str,
        id: &str,
        s: &SimSettings,
    ) -> Result<(), ApiError> {
        let until = self.now + s.mount_target_delay_ms();
        match self.mount_targets.get_mut(id) {
            Some(mt) if mt.region == region => {
                if !matches!(mt.lifecycle, Lifecycle::Deleting { .. }) {
                    mt.lifecycle = Lifecycle::Deleting { until };
                }
                Ok(())
            }
            _ => Err(ApiError::new(
                404,
                "MountTargetNotFound",
                format!("Mount target '{id}' does not exist."),
            )),
        }
    }

    // ----- replication ------------------------------------------------------------------------

    pub fn create_replication(
        &mut self,
        region: &str,
        source_id: &str,
        destinations: Vec<NewDestination>,
        s: &SimSettings,
    ) -> Result<usize, ApiError> {
        let source = self.file_system_in(region, source_id)?;
        if source.lifecycle != Lifecycle::Available {
            return Err(ApiError::wrong_lifecycle(
                source_id,
                source.lifecycle.as_aws(),
            ));
        }
        let [dest]: [NewDestination; 1] = destinations.try_into().map_err(|v: Vec<_>| {
            ApiError::validation(format!(
                "Exactly one destination is required, {} were given",
                v.len()
            ))
        })?;
        let Some(dest_region) = dest.region.clone() else {
            return Err(ApiError::validation("Destinations[0].Region is required"));
        };
        if efs_dr_ids::Region::parse(&dest_region).is_err() {
            return Err(ApiError::validation(format!(
                "'{dest_region}' is not a valid Region"
            )));
        }
        if self.replication_of(source_id).is_some() {
            return Err(ApiError::conflict(format!(
                "File system '{source_id}' is already part of a replication configuration."
            )));
        }
        if self.outages.contains(&dest_region) {
            return Err(ApiError::bad_request(format!(
                "The destination Region {dest_region} cannot be reached."
            )));
        }
        let dest_id = match &dest.file_system_id {
            Some(id) => {
                let fs = self.file_system_in(&dest_region, id)?;
                if id == source_id {
                    return Err(ApiError::validation(
                        "The source and destination file systems must differ",
                    ));
                }
                if self.replication_of(id).is_some() {
                    return Err(ApiError::conflict(format!(
                        "File system '{id}' is already part of a replication configuration."
                    )));
                }
                if fs.lifecycle != Lifecycle::Available {
                    return Err(ApiError::wrong_lifecycle(id, fs.lifecycle.as_aws()));
                }
                if fs.protection != Protection::Disabled {
                    return Err(ApiError::conflict(format!(
                        "Destination file system '{id}' has replication overwrite protection ENABLED; disable it (UpdateFileSystemProtection) to use it as a destination."
                    )));
                }
                id.clone()
            }
            None => {
                let token = format!("replica-{}", self.serial + 1);
                let new = NewFileSystem {
                    creation_token: token,
                    availability_zone_name: dest.availability_zone_name.clone(),
                    kms_key_id: dest.kms_key_id.clone(),
                    encrypted: Some(true),
                    ..NewFileSystem::default()
                };
                let id = self.create_file_system(&dest_region, new, s)?;
                // The replica is created with the configuration; it is usable at once as a
                // read-only destination.
                let fs = self.file_systems.get_mut(&id).expect("just created");
                fs.lifecycle = Lifecycle::Available;
                fs.protection = Protection::Disabled;
                id
            }
        };
        let now = self.now;
        let arn = file_system_arn(&s.account_id, region, source_id);
        self.replications.push(Replication {
            source_id: source_id.to_string(),
            source_region: region.to_string(),
            destination_id: dest_id,
            destination_region: dest_region,
            creation_time: now,
            original_source_arn: arn,
            status: ReplicationStatus::Enabling {
                until: now + s.replication_enable_delay_ms(),
            },
            status_message: None,
            source_side: SideState::Present,
            destination_side: SideState::Present,
            last_replicated: None,
            cycle: None,
            deleting_since: None,
            status_before_delete: None,
        });
        Ok(self.replications.len() - 1)
    }

    /// The replications `region` can see, optionally only those of file system `fs_id` (as
    /// source or destination).
    pub fn describe_replications(
        &self,
        region: &str,
        fs_id: Option<&str>,
    ) -> Result<Vec<&Replication>, ApiError> {
        match fs_id {
            None => Ok(self
                .replications
                .iter()
                .filter(|r| r.visible_in(region))
                .collect()),
            Some(id) => {
                self.file_system_in(region, id)?;
                let found: Vec<&Replication> = self
                    .replications
                    .iter()
                    .filter(|r| {
                        r.visible_in(region) && (r.source_id == id || r.destination_id == id)
                    })
                    .collect();
                if found.is_empty() {
                    Err(ApiError::replication_not_found(id))
                } else {
                    Ok(found)
                }
            }
        }
    }

    pub fn delete_replication(
        &mut self,
        region: &str,
        source_id: &str,
        mode: DeletionMode,
        s: &SimSettings,
    ) -> Result<(), ApiError> {
        let Some(r) = self
            .replications
            .iter_mut()
            .find(|r| r.source_id == source_id && *r.side_in(region) != SideState::Gone)
        else {
            return match self.file_systems.get(source_id) {
                None => Err(ApiError::file_system_not_found(source_id)),
                Some(_) => Err(ApiError::replication_not_found(source_id)),
            };
        };
        if r.source_region == r.destination_region && mode == DeletionMode::LocalConfigurationOnly {
            return Err(ApiError::bad_request(
                "LOCAL_CONFIGURATION_ONLY cannot be used for a replication within one Region",
            ));
        }
        let local_is_source = region == r.source_region;
        let other_region = if local_is_source {
            r.destination_region.clone()
        } else {
            r.source_region.clone()
        };
        let other_present = if local_is_source {
            r.destination_side != SideState::Gone
        } else {
            r.source_side != SideState::Gone
        };
        if mode == DeletionMode::AllConfigurations
            && other_present
            && self.outages.contains(&other_region)
        {
            return Err(ApiError::bad_request(format!(
                "The replication configuration cannot be deleted in {other_region} because the Region cannot be reached; use deletionMode LOCAL_CONFIGURATION_ONLY."
            )));
        }
        if matches!(r.side_in(region), SideState::Deleting { .. }) {
            match s.delete_while_deleting {
                crate::settings::DeleteWhileDeleting::Accepted => {}
                crate::settings::DeleteWhileDeleting::NotFound => {
                    return Err(ApiError::replication_not_found(source_id));
                }
                crate::settings::DeleteWhileDeleting::Conflict => {
                    return Err(ApiError::conflict(format!(
                        "The replication configuration of {source_id} is being deleted."
                    )));
                }
            }
        }
        if r.deleting_since.is_none() {
            r.deleting_since = Some(self.now);
            r.status_before_delete = Some(r.status_in(region).0.to_string());
        }
        let until = self.now + s.replication_delete_delay_ms();
        let start_deleting = |side: &mut SideState| {
            if *side == SideState::Present {
                *side = SideState::Deleting { until };
            }
        };
        if local_is_source || mode == DeletionMode::AllConfigurations {
            start_deleting(&mut r.source_side);
        }
        if !local_is_source || mode == DeletionMode::AllConfigurations {
            start_deleting(&mut r.destination_side);
        }
        self.reconcile_cycles();
        Ok(())
    }

    // ----- control ----------------------------------------------------------------------------

    pub fn set_replication_status(
        &mut self,
        source_id: &str,
        status: &str,
        message: Option<String>,
    ) -> Result<(), ApiError> {
        let r = self
            .replications
            .iter_mut()
            .find(|r| r.source_id == source_id && r.source_side != SideState::Gone)
            .ok_or_else(|| ApiError::replication_not_found(source_id))?;
        r.status = match status {
            "ENABLED" => ReplicationStatus::Enabled,
            "PAUSED" => ReplicationStatus::Paused,
            "ERROR" => ReplicationStatus::Error,
            other => {
                return Err(ApiError::bad_request(format!(
                    "status must be ENABLED, PAUSED or ERROR, not {other:?}"
                )))
            }
        };
        r.status_message = message;
        self.reconcile_cycles();
        Ok(())
    }

    pub fn set_outage(&mut self, region: &str, down: bool) {
        self.set_outage_mode(region, down.then_some(false));
    }

    /// Takes `region` down (`Some(black_hole)`: its requests hang instead of being dropped),
    /// or brings it back (None).
    pub fn set_outage_mode(&mut self, region: &str, down: Option<bool>) {
        match down {
            Some(black_hole) => {
                self.outages.insert(region.to_string());
                if black_hole {
                    self.black_holes.insert(region.to_string());
                } else {
                    self.black_holes.remove(region);
                }
            }
            None => {
                self.outages.remove(region);
                self.black_holes.remove(region);
            }
        }
        self.reconcile_cycles();
    }

    pub fn write_file(
        &mut self,
        fs_id: &str,
        path: &str,
        content: Vec<u8>,
        s: &SimSettings,
    ) -> Result<(), ApiError> {
        self.check_writable(fs_id, s)?;
        let bytes = content.len() as u64;
        let fs = self.file_systems.get_mut(fs_id).expect("checked writable");
        Arc::make_mut(&mut fs.files).insert(path.to_string(), Content(content));
        self.log.io.push(IoEvent {
            file_system_id: fs_id.to_string(),
            at: self.now,
            kind: IoKind::Write,
            bytes,
        });
        Ok(())
    }

    pub fn delete_file(
        &mut self,
        fs_id: &str,
        path: &str,
        s: &SimSettings,
    ) -> Result<(), ApiError> {
        self.check_writable(fs_id, s)?;
        let fs = self.file_systems.get_mut(fs_id).expect("checked writable");
        if Arc::make_mut(&mut fs.files).remove(path).is_none() {
            return Err(ApiError::new(
                404,
                "FileNotFound",
                format!("no file {path:?} on {fs_id}"),
            ));
        }
        self.log.io.push(IoEvent {
            file_system_id: fs_id.to_string(),
            at: self.now,
            kind: IoKind::Metadata,
            bytes: 4096,
        });
        Ok(())
    }

    pub fn read_file(&mut self, fs_id: &str, path: &str) -> Result<Vec<u8>, ApiError> {
        let fs = self.file_system_anywhere(fs_id)?;
        if self.outages.contains(&fs.region) {
            return Err(ApiError::new(
                503,
                "RegionUnavailable",
                format!("region {} is down (simulated outage)", fs.region),
            ));
        }
        let content = fs
            .files
            .get(path)
            .ok_or_else(|| {
                ApiError::new(404, "FileNotFound", format!("no file {path:?} on {fs_id}"))
            })?
            .0
            .clone();
        self.log.io.push(IoEvent {
            file_system_id: fs_id.to_string(),
            at: self.now,
            kind: IoKind::Read,
            bytes: content.len() as u64,
        });
        Ok(content)
    }

    pub fn set_connections(&mut self, fs_id: &str, count: u32) -> Result<(), ApiError> {
        self.file_system_anywhere(fs_id)?;
        let now = self.now;
        self.file_systems
            .get_mut(fs_id)
            .expect("exists")
            .connections = count;
        self.log.connections.push(ConnectionChange {
            file_system_id: fs_id.to_string(),
            at: now,
            count,
        });
        Ok(())
    }

    pub fn add_fault(
        &mut self,
        region: Option<&str>,
        operation: &str,
        error: &str,
        count: u32,
    ) -> Result<(), ApiError> {
        self.add_fault_after(region, operation, error, 0, count)
    }

    /// A fault that lets the next `skip` calls through, then fails `count`.
    pub fn add_fault_after(
        &mut self,
        region: Option<&str>,
        operation: &str,
        error: &str,
        skip: u32,
        count: u32,
    ) -> Result<(), ApiError> {
        if !FAULTS.contains(&error) {
            return Err(ApiError::bad_request(format!(
                "error must be one of {}, not {error:?}",
                FAULTS.join(", ")
            )));
        }
        self.faults.push(Fault {
            region: region.map(str::to_string),
            skip,
            operation: operation.to_string(),
            error: error.to_string(),
            remaining: count,
        });
        Ok(())
    }

    /// The injected failure for this call of `operation` in `region`, if one is pending.
    pub fn take_fault(&mut self, region: &str, operation: &str) -> Option<ApiError> {
        let fault = self.faults.iter_mut().find(|f| {
            f.operation == operation
                && f.remaining > 0
                && f.region.as_deref().is_none_or(|r| r == region)
        })?;
        if fault.skip > 0 {
            fault.skip -= 1;
            return None;
        }
        fault.remaining -= 1;
        let err = match fault.error.as_str() {
            "ThrottlingException" => ApiError::throttling(),
            "AccessDeniedException" => ApiError::new(
                403,
                "AccessDeniedException",
                format!("User is not authorized to perform: {operation} (injected)"),
            ),
            "ValidationException" => {
                ApiError::validation(format!("{operation} was refused (injected)"))
            }
            _ => ApiError::internal("We encountered an internal error. Please try again."),
        };
        self.faults.retain(|f| f.remaining > 0);
        Some(err)
    }
}

/// The errors a fault can inject.
pub const FAULTS: [&str; 4] = [
    "ThrottlingException",
    "InternalServerError",
    "AccessDeniedException",
    "ValidationException",
];

/// The simulator does not model VPCs: a subnet id `subnet-<hex>` is in the availability zone
/// whose letter is picked by the id's last hex digit (0 and 6 -> a, 1 and 7 -> b, ... 5 and b -> f,
/// c -> a, ...), so tests choose zones by choosing ids.
pub fn subnet_availability_zone(region: &str, subnet_id: &str) -> Option<String> {
    // botocore: SubnetId matches ^subnet-[0-9a-f]{8,40}$.
    let hex = subnet_id.strip_prefix("subnet-")?;
    if !(8..=40).contains(&hex.len())
        || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let last = (hex.as_bytes()[hex.len() - 1] as char).to_digit(16)?;
    let letter = (b'a' + (last % 6) as u8) as char;
    Some(format!("{region}{letter}"))
}

fn check_tags(tags: &[Tag]) -> Result<(), ApiError> {
    for t in tags {
        if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
            return Err(ApiError::bad_request(format!(
                "Tag key must be 1-128 characters and value at most 256: {:?}",
                t.key
            )));
        }
    }
    Ok(())
}

mod backup;
pub use backup::{BackupControls, BackupJob, JobState, NewBackupJob, DEFAULT_VAULT};

#[cfg(test)]
mod tests;
