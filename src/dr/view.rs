//! A pair as AWS and the Terraform state see it, derived from one observation of its two
//! regions. Pure: everything the planner and the gates decide starts here.

use super::writes::AOnlyWrites;
use crate::aws::BackupJobInfo;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aws::{
    AwsError, AwsTime, FileSystemInfo, LastWrite, Protection, RegionView, ReplicationInfo,
    ReplicationStatus,
};
use crate::config::Pair;
use crate::ids::{FileSystemId, Region};
use crate::render::Direction;

/// One poll of every region involved.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub regions: BTreeMap<String, RegionView>,
}

impl Snapshot {
    pub fn region(&self, name: &str) -> Option<&RegionView> {
        self.regions.get(name)
    }

    /// AWS's now: the latest `Date` seen in any region of this snapshot.
    pub fn now(&self) -> Option<AwsTime> {
        self.regions.values().filter_map(|r| r.now).max()
    }
}

/// Which file system of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The primary (home) file system.
    A,
    /// The secondary.
    B,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::A => "A",
            Role::B => "B",
        })
    }
}

/// One side of a pair as observed.
#[derive(Debug, Clone, Serialize)]
pub struct SideView {
    pub region: Region,
    pub file_system_id: FileSystemId,
    /// None when the region answered but has no such file system.
    pub file_system: Option<FileSystemInfo>,
    /// The region did not answer (or refused every call).
    #[serde(serialize_with = "ser_err")]
    pub error: Option<AwsError>,
    #[serde(skip)]
    pub last_write: Option<LastWrite>,
}

fn ser_err<S: serde::Serializer>(e: &Option<AwsError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_str(&e.to_string()),
        None => s.serialize_none(),
    }
}

impl SideView {
    pub fn reachable(&self) -> bool {
        self.error.is_none()
    }

    pub fn protection(&self) -> Option<Protection> {
        self.file_system.as_ref().map(|f| f.protection)
    }

    /// Writable: overwrite protection ENABLED (DISABLED may receive a replication and
    /// REPLICATING is a destination: both read-only).
    pub fn writable(&self) -> bool {
        self.protection() == Some(Protection::Enabled)
    }
}

/// A pair as observed.
#[derive(Debug, Clone, Serialize)]
pub struct PairView {
    pub pair: String,
    pub a: SideView,
    pub b: SideView,
    /// A -> B as each region reports it.
    pub forward_in_a: Option<ReplicationInfo>,
    pub forward_in_b: Option<ReplicationInfo>,
    /// B -> A as each region reports it.
    pub reverse_in_a: Option<ReplicationInfo>,
    pub reverse_in_b: Option<ReplicationInfo>,
    /// A replication of A or B with a file system outside the pair.
    pub foreign: Vec<ReplicationInfo>,
    /// Which of the pair's replications the Terraform state holds (None: not known).
    pub state_forward: Option<bool>,
    pub state_reverse: Option<bool>,
    /// The pair's lag-alarm addresses the state holds (None: not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_alarms: Option<std::collections::BTreeSet<String>>,
    /// The pair's lag-alarm names CloudWatch has, in the region each lives in (None: not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms_in_aws: Option<std::collections::BTreeSet<String>>,
    /// The pair's hooks that succeeded in the operation under way (the hook record).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub hooks_done: std::collections::BTreeSet<crate::hooks::HookPoint>,
    /// The pair's configured hooks not yet succeeded: their phases are still to run.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub hooks_due: std::collections::BTreeSet<crate::hooks::HookPoint>,
    #[serde(skip)]
    pub now: Option<AwsTime>,
    /// Writes only A has (assessed once per failback run; None: not assessed).
    pub a_only_writes: Option<AOnlyWrites>,
    /// A's backup jobs, newest first (read while a recovery-point gate waits).
    pub a_backup_jobs: Vec<BackupJobInfo>,
    /// Why they could not be read.
    #[serde(skip)]
    pub a_backup_jobs_unread: Option<String>,
}

/// What is known of a pair beyond one observation of its regions: what the Terraform state
/// holds, and the evidence gathered about A (`position` decides when it is gathered).
#[derive(Debug, Clone, Default)]
pub struct PairFacts {
    /// Which of the pair's replications the state holds (None: the state was not read).
    pub state_forward: Option<bool>,
    pub state_reverse: Option<bool>,
    /// The pair's lag-alarm addresses the state holds (None: the state was not read).
    pub state_alarms: Option<std::collections::BTreeSet<String>>,
    /// The pair's lag-alarm names CloudWatch has (None: not read).
    pub alarms_in_aws: Option<std::collections::BTreeSet<String>>,
    pub hooks_done: std::collections::BTreeSet<crate::hooks::HookPoint>,
    pub hooks_due: std::collections::BTreeSet<crate::hooks::HookPoint>,
    pub a_only_writes: Option<AOnlyWrites>,
    pub a_backup_jobs: Vec<BackupJobInfo>,
    /// Why A's backup jobs could not be read (they are then not known to be none).
    pub a_backup_jobs_unread: Option<String>,
}

impl PairView {
    /// The pair as one observation shows it, nothing else known.
    pub fn derive(pair: &Pair, snapshot: &Snapshot) -> PairView {
        PairView::with_facts(pair, snapshot, PairFacts::default())
    }

    /// The pair as one observation and what else is known of it show it.
    pub fn with_facts(pair: &Pair, snapshot: &Snapshot, facts: PairFacts) -> PairView {
        let side = |side: &crate::config::Side| {
            let (region, id) = (&side.region, &side.file_system_id);
            let view = snapshot.region(region.as_str());
            SideView {
                region: region.clone(),
                file_system_id: id.clone(),
                file_system: view.and_then(|v| v.file_systems.get(id).cloned()),
                error: match view {
                    Some(v) => v.error.clone(),
                    None => Some(AwsError {
                        region: region.to_string(),
                        operation: "DescribeReplicationConfigurations",
                        kind: crate::aws::AwsErrorKind::Other("not observed".into()),
                    }),
                },
                last_write: view.and_then(|v| v.last_writes.get(id).copied()),
            }
        };
        let a = side(&pair.primary);
        let b = side(&pair.secondary);
        let find = |region: &Region, src: &FileSystemId, dst: &FileSystemId| {
            snapshot.region(region.as_str()).and_then(|v| {
                v.replications
                    .iter()
                    .find(|r| &r.source_id == src && &r.destination_id == dst)
                    .cloned()
            })
        };
        let (ida, idb) = (a.file_system_id.clone(), b.file_system_id.clone());
        let mut foreign = Vec::new();
        for region in [&a.region, &b.region] {
            if let Some(v) = snapshot.region(region.as_str()) {
                for r in &v.replications {
                    let involves = [&r.source_id, &r.destination_id]
                        .iter()
                        .any(|id| **id == ida || **id == idb);
                    let ours = (r.source_id == ida && r.destination_id == idb)
                        || (r.source_id == idb && r.destination_id == ida);
                    if involves && !ours && !foreign.contains(r) {
                        foreign.push(r.clone());
                    }
                }
            }
        }
        PairView {
            pair: pair.name.clone(),
            forward_in_a: find(&a.region, &ida, &idb),
            forward_in_b: find(&b.region, &ida, &idb),
            reverse_in_a: find(&a.region, &idb, &ida),
            reverse_in_b: find(&b.region, &idb, &ida),
            a,
            b,
            foreign,
            state_forward: facts.state_forward,
            state_alarms: facts.state_alarms.clone(),
            alarms_in_aws: facts.alarms_in_aws.clone(),
            hooks_done: facts.hooks_done.clone(),
            hooks_due: facts.hooks_due.clone(),
            state_reverse: facts.state_reverse,
            now: snapshot.now(),
            a_only_writes: facts.a_only_writes,
            a_backup_jobs: facts.a_backup_jobs,
            a_backup_jobs_unread: facts.a_backup_jobs_unread,
        }
    }

    pub fn side(&self, role: Role) -> &SideView {
        match role {
            Role::A => &self.a,
            Role::B => &self.b,
        }
    }

    /// The A -> B replication: as its destination region reports it, or as A's region does
    /// when B's region does not answer. A record left only in A's region is stale, not live.
    pub fn forward(&self) -> Option<&ReplicationInfo> {
        match (&self.forward_in_b, self.b.reachable()) {
            (Some(r), _) => Some(r),
            (None, false) => self.forward_in_a.as_ref(),
            (None, true) => self
                .forward_in_a
                .as_ref()
                .filter(|r| r.status == ReplicationStatus::Deleting),
        }
    }

    /// The B -> A replication (same rule, with A as the destination).
    pub fn reverse(&self) -> Option<&ReplicationInfo> {
        match (&self.reverse_in_a, self.a.reachable()) {
            (Some(r), _) => Some(r),
            (None, false) => self.reverse_in_b.as_ref(),
            (None, true) => self
                .reverse_in_b
                .as_ref()
                .filter(|r| r.status == ReplicationStatus::Deleting),
        }
    }

    /// A forward configuration left in A's region after B's side was deleted alone (an
    /// unplanned failover): AWS reports it in ERROR; it must go before A can be a destination.
    pub fn stale_forward_in_a(&self) -> Option<&ReplicationInfo> {
        if self.b.reachable() && self.forward_in_b.is_none() {
            self.forward_in_a
                .as_ref()
                .filter(|r| r.status != ReplicationStatus::Deleting)
        } else {
            None
        }
    }

    /// The direction the live replication has (DELETING counts: it is still in the state).
    pub fn live_direction(&self) -> Direction {
        if self.forward().is_some() {
            Direction::Forward
        } else if self.reverse().is_some() {
            Direction::Reverse
        } else {
            Direction::None
        }
    }

    /// Time since the last completed sync of the live replication, in AWS time.
    pub fn lag(&self) -> Option<std::time::Duration> {
        let r = self.forward().or(self.reverse())?;
        let last = r.last_replicated?;
        let now = self.now?;
        Some(now.duration_since(last).unwrap_or_default())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aws::RegionView;
    use std::time::{Duration, SystemTime};

    pub fn pair() -> Pair {
        let text = r#"
            pair "app" {
              primary {
                region         = "us-east-1"
                file_system_id = "fs-0123456789abcdef0"
              }
              secondary {
                region         = "us-west-2"
                file_system_id = "fs-0fedcba9876543210"
              }
            }
        "#;
        crate::config::Config::parse(text, std::path::Path::new("t.hcl"))
            .expect("valid")
            .pairs
            .remove(0)
    }

    pub const A: &str = "fs-0123456789abcdef0";
    pub const B: &str = "fs-0fedcba9876543210";

    pub fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    pub fn id(s: &str) -> FileSystemId {
        FileSystemId::from_aws(s)
    }

    pub fn fs(fs_id: &str, protection: &str) -> FileSystemInfo {
        FileSystemInfo {
            arn: Some(format!(
                "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{fs_id}"
            )),
            id: id(fs_id),
            life_cycle_state: crate::aws::LifeCycleState::Available,
            protection: Protection::from_aws(protection),
            name: None,
            encrypted: true,
            performance_mode: "generalPurpose".into(),
            kms_key_id: None,
            throughput_mode: "bursting".into(),
            provisioned_mibps: None,
        }
    }

    pub fn repl(src: &str, dst: &str, status: &str, last: Option<u64>) -> ReplicationInfo {
        let region = |id: &str| Region::from_aws(if id == A { "us-east-1" } else { "us-west-2" });
        ReplicationInfo {
            source_id: id(src),
            source_region: region(src),
            destination_id: id(dst),
            destination_region: region(dst),
            status: ReplicationStatus::from_aws(status),
            status_message: None,
            last_replicated: last.map(t),
            creation_time: Some(t(0)),
        }
    }

    /// A snapshot: A's protection, B's protection, replications seen in A's and B's regions.
    pub fn snap(
        pa: &str,
        pb: &str,
        in_a: Vec<ReplicationInfo>,
        in_b: Vec<ReplicationInfo>,
        now: u64,
    ) -> Snapshot {
        let mut s = Snapshot::default();
        s.regions.insert(
            "us-east-1".into(),
            RegionView {
                now: Some(t(now)),
                replications: in_a,
                file_systems: [(id(A), fs(A, pa))].into(),
                ..RegionView::default()
            },
        );
        s.regions.insert(
            "us-west-2".into(),
            RegionView {
                now: Some(t(now)),
                replications: in_b,
                file_systems: [(id(B), fs(B, pb))].into(),
                ..RegionView::default()
            },
        );
        s
    }

    pub fn down(mut s: Snapshot, region: &str) -> Snapshot {
        s.regions.insert(
            region.into(),
            RegionView {
                error: Some(AwsError {
                    region: region.into(),
                    operation: "DescribeReplicationConfigurations",
                    kind: crate::aws::AwsErrorKind::Unreachable("connection refused".into()),
                }),
                ..RegionView::default()
            },
        );
        s
    }

    #[test]
    fn forward_is_read_from_the_destination_region() {
        let f = repl(A, B, "ENABLED", Some(100));
        let v = PairView::derive(
            &pair(),
            &snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 130),
        );
        assert_eq!(v.live_direction(), Direction::Forward);
        assert_eq!(v.lag(), Some(Duration::from_secs(30)));
        assert!(v.stale_forward_in_a().is_none());
        assert!(!v.b.writable());
    }

    #[test]
    fn a_record_left_only_in_a_is_stale_not_live() {
        let f = repl(A, B, "ERROR", Some(100));
        let v = PairView::derive(&pair(), &snap("ENABLED", "ENABLED", vec![f], vec![], 130));
        assert_eq!(v.live_direction(), Direction::None);
        assert!(v.stale_forward_in_a().is_some());
    }

    #[test]
    fn with_b_down_the_source_record_counts() {
        let f = repl(A, B, "ENABLED", Some(100));
        let s = down(
            snap("ENABLED", "REPLICATING", vec![f], vec![], 130),
            "us-west-2",
        );
        let v = PairView::derive(&pair(), &s);
        assert!(!v.b.reachable());
        assert_eq!(v.live_direction(), Direction::Forward);
    }

    #[test]
    fn a_replication_with_another_file_system_is_foreign() {
        let other = ReplicationInfo {
            destination_id: id("fs-99999999"),
            ..repl(A, B, "ENABLED", None)
        };
        let v = PairView::derive(&pair(), &snap("ENABLED", "ENABLED", vec![other], vec![], 1));
        assert_eq!(v.foreign.len(), 1);
        assert_eq!(v.live_direction(), Direction::None);
    }
}
