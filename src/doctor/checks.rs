//! Each readiness check, from what was read: pure, so that every verdict and its next step is
//! a unit test.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Check, CheckName, Verdict};
use crate::aws::{FileSystemInfo, LifeCycleState, MountTargetInfo, Protection};
use crate::config::{Pair, Side};
use crate::dr::gate::fmt_dur;
use crate::dr::view::{PairView, SideView};
use crate::render::Direction;

/// Why a side cannot be checked, if it cannot.
fn unread(side: &SideView, role: &str) -> Option<String> {
    if let Some(e) = &side.error {
        return Some(format!(
            "{role}'s region {} did not answer: {e}",
            side.region
        ));
    }
    if side.file_system.is_none() {
        return Some(format!(
            "{role}'s file system {} does not exist in {}",
            side.file_system_id, side.region
        ));
    }
    None
}

fn unknown(check: CheckName, why: String) -> Check {
    Check::not(
        Verdict::Unknown,
        check,
        why,
        "run doctor again when the region answers (`efs-dr status` shows what it can read)",
    )
}

/// The replication in force: A -> B ENABLED, synced, its last sync within `max_lag` now.
pub fn replication(v: &PairView, max_lag: Duration) -> Check {
    const C: CheckName = CheckName::Replication;
    if let Some(why) = unread(&v.a, "A").or(unread(&v.b, "B")) {
        // B alone can vouch for A -> B; without A a failover is what is left to do.
        if v.b.reachable() && v.forward().is_some() {
            return Check::not(
                Verdict::Fail,
                C,
                why,
                "A is not serving: `efs-dr failover --unplanned` makes B writable",
            );
        }
        return unknown(C, why);
    }
    match v.live_direction() {
        Direction::Reverse => {
            return Check::not(
                Verdict::Fail,
                C,
                "B -> A replicates: a failback is in progress, and there is no copy of A to fail over to",
                "finish it: `efs-dr failback`",
            )
        }
        Direction::None => {
            return Check::not(
                Verdict::Fail,
                C,
                "nothing replicates: there is no copy to fail over to",
                "`efs-dr status` says where the pair stands: `efs-dr init`, or `efs-dr failback` when B serves",
            )
        }
        Direction::Forward => {}
    }
    let r = v.forward().expect("forward is the live direction");
    if r.status.is_stalled() {
        return Check::not(
            Verdict::Fail,
            C,
            format!(
                "A -> B is {}{}",
                r.status,
                r.status_message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            "fix its cause in AWS (`aws efs describe-replication-configurations` gives the message); a failover now loses what has not synced",
        );
    }
    let Some(lag) = v.lag() else {
        return Check::not(
            Verdict::Fail,
            C,
            format!(
                "A -> B is {} and has not completed its first sync: B holds none of A's data",
                r.status
            ),
            "wait for it: `efs-dr init` waits for the first sync",
        );
    };
    if lag > max_lag {
        return Check::not(
            Verdict::Fail,
            C,
            format!(
                "A -> B's last sync was {} ago, more than max_lag {}: a planned failover would be refused",
                fmt_dur(lag),
                fmt_dur(max_lag)
            ),
            "find out why it does not sync (the EFS console, `TimeSinceLastSync`)",
        );
    }
    Check::ok(
        C,
        format!(
            "A -> B {}, last sync {} ago (max_lag {})",
            r.status,
            fmt_dur(lag),
            fmt_dur(max_lag)
        ),
    )
}

/// The worst `TimeSinceLastSync` of the last 24 h against `max_lag`: a replication that keeps
/// falling behind is not ready though it caught up a minute ago.
pub fn lag_history(
    v: &PairView,
    worst: &Result<Option<Duration>, String>,
    max_lag: Duration,
) -> Check {
    const C: CheckName = CheckName::LagHistory;
    if v.live_direction() != Direction::Forward {
        return Check::ok(C, "no A -> B to measure (see replication)");
    }
    match worst {
        Err(e) => unknown(C, format!("CloudWatch TimeSinceLastSync could not be read: {e}")),
        Ok(None) => Check::not(
            Verdict::Warn,
            C,
            "CloudWatch has no TimeSinceLastSync for A -> B in the last 24 h",
            "a replication publishes it every minute: check the replication in the EFS console",
        ),
        Ok(Some(w)) if *w > max_lag => Check::not(
            Verdict::Fail,
            C,
            format!(
                "A -> B fell {} behind in the last 24 h, more than max_lag {}: a failover then would have lost that much or been refused",
                fmt_dur(*w),
                fmt_dur(max_lag)
            ),
            "find out why it stopped syncing (throttling, a PAUSED or ERROR spell, permissions), or raise max_lag if that lag is acceptable",
        ),
        Ok(Some(w)) => Check::ok(
            C,
            format!("worst lag in 24 h {} (max_lag {})", fmt_dur(*w), fmt_dur(max_lag)),
        ),
    }
}

fn available(targets: &[MountTargetInfo]) -> Vec<&MountTargetInfo> {
    targets
        .iter()
        .filter(|t| t.life_cycle_state == LifeCycleState::Available)
        .collect()
}

fn zones(targets: &[&MountTargetInfo]) -> BTreeSet<String> {
    targets
        .iter()
        .filter_map(|t| t.availability_zone.clone())
        .collect()
}

fn families(targets: &[&MountTargetInfo]) -> BTreeSet<&'static str> {
    targets
        .iter()
        .flat_map(|t| {
            [t.ipv4.then_some("IPv4"), t.ipv6.then_some("IPv6")]
                .into_iter()
                .flatten()
        })
        .collect()
}

/// B can be mounted where the application will run after a failover: an available mount target
/// in every zone the configuration names (else in as many zones as A), with A's address
/// families; A the same way for its own zones.
pub fn mount_targets(
    pair: &Pair,
    a: &Result<Vec<MountTargetInfo>, String>,
    b: &Result<Vec<MountTargetInfo>, String>,
) -> Check {
    const C: CheckName = CheckName::MountTargets;
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (available(a), available(b)),
        (Err(e), _) => return unknown(C, format!("A's mount targets could not be read: {e}")),
        (_, Err(e)) => return unknown(C, format!("B's mount targets could not be read: {e}")),
    };
    let create = |side: &Side, zone: &str| {
        format!(
            "aws efs create-mount-target --region {} --file-system-id {} --subnet-id <a subnet in {zone}>",
            side.region, side.file_system_id
        )
    };
    if b.is_empty() {
        return Check::not(
            Verdict::Fail,
            C,
            format!("B {} has no available mount target: a failover would give the application nothing to mount", pair.secondary.file_system_id),
            format!("create one in each zone the application runs in: {}", create(&pair.secondary, "each zone")),
        );
    }
    let mut missing = Vec::new();
    for (role, side, have) in [("A", &pair.primary, &a), ("B", &pair.secondary, &b)] {
        let have = zones(have);
        for zone in side.zones.iter().filter(|z| !have.contains(*z)) {
            missing.push((role, side, zone.clone()));
        }
    }
    if let Some((role, side, zone)) = missing.first() {
        let list: Vec<String> = missing
            .iter()
            .map(|(r, _, z)| format!("{r} in {z}"))
            .collect();
        return Check::not(
            Verdict::Fail,
            C,
            format!(
                "no available mount target where the configuration says the application runs: {}",
                list.join(", ")
            ),
            format!("create it: {} (for {role})", create(side, zone)),
        );
    }
    let (za, zb) = (zones(&a), zones(&b));
    if pair.secondary.zones.is_empty() && zb.len() < za.len() {
        return Check::not(
            Verdict::Fail,
            C,
            format!(
                "B has mount targets in {} zone(s) ({}), A in {} ({}): mount targets never fail over across zones",
                zb.len(),
                zb.iter().cloned().collect::<Vec<_>>().join(", "),
                za.len(),
                za.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            format!(
                "create one in each zone the application will run in on B ({}), or name them: `zones = [...]` in the pair's secondary block",
                create(&pair.secondary, "the zone")
            ),
        );
    }
    let (fa, fb) = (families(&a), families(&b));
    let lacking: Vec<&str> = fa.difference(&fb).copied().collect();
    if !lacking.is_empty() {
        return Check::not(
            Verdict::Fail,
            C,
            format!(
                "A's mount targets serve {} and B's do not: a client that mounts A over {} cannot mount B",
                lacking.join(" and "),
                lacking.join(" or ")
            ),
            "create B's mount targets with A's IP address type (`--ip-address-type DUAL_STACK` for IPv4 and IPv6)",
        );
    }
    Check::ok(
        C,
        format!(
            "A in {}, B in {} ({})",
            za.iter().cloned().collect::<Vec<_>>().join(", "),
            zb.iter().cloned().collect::<Vec<_>>().join(", "),
            fb.into_iter().collect::<Vec<_>>().join(", ")
        ),
    )
}

/// What B can give the application compared with A: at least A's throughput, and the same
/// performance mode and encryption.
pub fn capacity(v: &PairView) -> Check {
    const C: CheckName = CheckName::Capacity;
    let (Some(a), Some(b)) = (&v.a.file_system, &v.b.file_system) else {
        return unknown(
            C,
            unread(&v.a, "A")
                .or(unread(&v.b, "B"))
                .unwrap_or_else(|| "a file system was not read".into()),
        );
    };
    let throughput = |f: &FileSystemInfo| match (f.throughput_mode.as_str(), f.provisioned_mibps) {
        ("provisioned", Some(m)) => format!("provisioned {m} MiB/s"),
        (mode, _) => mode.to_string(),
    };
    // elastic scales with the load; provisioned gives what it says; bursting what credits allow.
    let enough = match (a.throughput_mode.as_str(), b.throughput_mode.as_str()) {
        (_, "elastic") | ("bursting", _) => true,
        ("provisioned", "provisioned") => {
            b.provisioned_mibps.unwrap_or(0.0) >= a.provisioned_mibps.unwrap_or(0.0)
        }
        _ => false,
    };
    if !enough {
        return Check::not(
            Verdict::Fail,
            C,
            format!(
                "B's throughput is {}, A's {}: after a failover the application gets less than it has on A",
                throughput(b),
                throughput(a)
            ),
            format!(
                "raise B's: `aws efs update-file-system --region {} --file-system-id {} --throughput-mode {}`",
                v.b.region,
                v.b.file_system_id,
                match a.throughput_mode.as_str() {
                    "provisioned" => format!(
                        "provisioned --provisioned-throughput-in-mibps {}",
                        a.provisioned_mibps.unwrap_or(0.0)
                    ),
                    other => other.to_string(),
                }
            ),
        );
    }
    let mut differences = Vec::new();
    if a.performance_mode != b.performance_mode {
        differences.push(format!(
            "performance mode {} on A, {} on B",
            a.performance_mode, b.performance_mode
        ));
    }
    if a.encrypted && !b.encrypted {
        differences.push("A is encrypted at rest, B is not".to_string());
    } else if a.kms_key_id.is_some() && b.kms_key_id.is_none() {
        differences.push("A uses a KMS key, B none".to_string());
    }
    if !differences.is_empty() {
        return Check::not(
            Verdict::Warn,
            C,
            differences.join("; "),
            "these are set when a file system is created: accept them, or replicate into a new B made like A",
        );
    }
    Check::ok(C, format!("B {} (A {})", throughput(b), throughput(a)))
}

/// The destination of the replication in force is protected as a destination (REPLICATING).
pub fn protection(v: &PairView) -> Check {
    const C: CheckName = CheckName::Protection;
    let (role, side) = match v.live_direction() {
        Direction::Forward => ("B", &v.b),
        Direction::Reverse => ("A", &v.a),
        Direction::None => return Check::ok(C, "no replication in force (see replication)"),
    };
    match side.protection() {
        Some(Protection::Replicating) => Check::ok(C, format!("{role} is REPLICATING (a read-only destination)")),
        Some(p) => Check::not(
            Verdict::Fail,
            C,
            format!("{role} is the destination but its overwrite protection is {}", p.as_str()),
            "a destination is REPLICATING while the replication is healthy: `efs-dr status`, then the command it names",
        ),
        None => unknown(C, unread(side, role).unwrap_or_else(|| format!("{role} was not read"))),
    }
}

/// The lag alarm of the replication in force (an `alarms` block) exists where it should live
/// and is not ringing. ALARM while `replication` is ok means the metric is not published in
/// the alarm's region (AWS does not document which one publishes it).
pub fn lag_alarm(
    pair: &Pair,
    v: &PairView,
    alarms: &crate::dr::position::LagAlarms,
) -> Option<Check> {
    const C: CheckName = CheckName::LagAlarm;
    let settings = pair.alarms.as_ref()?;
    let direction = v.live_direction();
    let (Some(name), Some(region)) = (
        crate::render::alarm_name(pair, direction),
        crate::render::alarm_region(pair, direction),
    ) else {
        return Some(Check::ok(
            C,
            "no replication in force, so no lag alarm (see replication)",
        ));
    };
    let other = match settings.metric_region {
        crate::config::MetricRegion::Destination => "source",
        crate::config::MetricRegion::Source => "destination",
    };
    Some(match alarms.get(region) {
        None => unknown(C, format!("the alarms of {region} were not read")),
        Some(Err(e)) => unknown(C, format!("the alarms of {region} could not be read: {e}")),
        Some(Ok(found)) => match found.get(&name) {
            None => Check::not(
                Verdict::Fail,
                C,
                format!("no alarm \"{name}\" in {region}: nothing rings if sync stops"),
                "`efs-dr status`: at home `efs-dr init` applies the root, which creates it; during a failback the next phase does",
            ),
            Some(a) if a.state == "ALARM" => Check::not(
                Verdict::Fail,
                C,
                format!("\"{name}\" in {region} is in ALARM: {}", a.reason),
                format!("if the replication check is ok, CloudWatch publishes TimeSinceLastSync in the other region: set alarms {{ metric_region = \"{other}\" }} and run `efs-dr init`; otherwise fix the replication"),
            ),
            Some(a) if a.state == "INSUFFICIENT_DATA" => Check::not(
                Verdict::Warn,
                C,
                format!("\"{name}\" in {region} has no data yet"),
                "wait for its first evaluation (a few minutes after it was made)",
            ),
            Some(_) => Check::ok(C, format!("\"{name}\" in {region} is OK")),
        },
    })
}

/// The backup vault a failback keeps A's recovery point in exists in A's region.
pub fn backup_vault(pair: &Pair, exists: Option<&Result<bool, String>>) -> Option<Check> {
    const C: CheckName = CheckName::BackupVault;
    let backup = pair.backup.as_ref()?;
    Some(match exists {
        Some(Ok(true)) => Check::ok(C, format!("vault {} exists in {}", backup.vault, pair.primary.region)),
        Some(Ok(false)) => Check::not(
            Verdict::Fail,
            C,
            format!("the backup vault {} does not exist in A's region {}: a failback over writes only A has would stop before it keeps a recovery point", backup.vault, pair.primary.region),
            format!("create it: `aws backup create-backup-vault --region {} --backup-vault-name {}`", pair.primary.region, backup.vault),
        ),
        Some(Err(e)) => unknown(C, format!("the backup vault {} could not be read: {e}", backup.vault)),
        None => unknown(C, "the backup vault was not read".into()),
    })
}

#[cfg(test)]
mod tests;
