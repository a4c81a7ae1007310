//! What `doctor` reads, all of it read-only and concurrent: one observation of every region
//! (the paginated calls `status` makes), each file system's mount targets (EFS lists them by
//! file system only), one GetMetricData per region for every pair's lag history, each backup
//! vault once, the Terraform state and the run lease.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::stream::{self, StreamExt};

use super::checks;
use super::{Check, CheckName, Readiness, Verdict};
use crate::aws::{Aws, MountTargetInfo};
use crate::config::{Config, Pair};
use crate::dr::status::{collect_with_views, PairStatus};
use crate::dr::view::PairView;
use crate::ids::FileSystemId;
use crate::lease::Lease;
use crate::render::Direction;
use crate::terraform::Terraform;

/// How far back the lag history looks.
pub const LAG_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Concurrent DescribeMountTargets calls.
const MOUNT_TARGET_CALLS: usize = 16;

/// Every check for `pairs`. `tf` is the Terraform efs-dr would run, or why there is none.
pub async fn examine(
    config: &Config,
    aws: &Aws,
    tf: Result<&Terraform, String>,
    pairs: &[Pair],
) -> Readiness {
    let (statuses, views) = collect_with_views(config, aws, tf.as_ref().ok().copied(), pairs).await;
    let (mounts, lags, vaults, alarms, lease) = tokio::join!(
        mount_targets(aws, pairs),
        lag_history(aws, pairs, &views),
        backup_vaults(aws, pairs),
        crate::dr::position::lag_alarms(aws, pairs),
        Lease::peek(config),
    );
    let max_lag = config.gates.max_lag;
    let mut out = run_checks(config, &tf, &statuses, lease);
    for (i, ((pair, view), status)) in pairs.iter().zip(&views).zip(&statuses).enumerate() {
        let mut checks = vec![
            checks::replication(view, max_lag),
            checks::lag_history(view, &lags[i], max_lag),
            checks::mount_targets(
                pair,
                &mounts[&pair.primary.file_system_id],
                &mounts[&pair.secondary.file_system_id],
            ),
            checks::capacity(view),
            checks::protection(view),
        ];
        let vault = pair
            .backup
            .as_ref()
            .and_then(|b| vaults.get(&(pair.primary.region.to_string(), b.vault.clone())));
        checks.extend(checks::backup_vault(pair, vault));
        checks.extend(checks::lag_alarm(pair, view, &alarms));
        checks.push(drift(status));
        out.extend(checks.into_iter().map(|c| c.of(&pair.name)));
    }
    Readiness { checks: out }
}

/// The configuration's own checks: Terraform, the state, where it lives, the lease.
fn run_checks(
    config: &Config,
    tf: &Result<&Terraform, String>,
    statuses: &[PairStatus],
    lease: Result<Option<crate::lease::LeaseStatus>, crate::lease::LeaseError>,
) -> Vec<Check> {
    let mut out = Vec::new();
    let dir = config.terraform_dir();
    out.push(match tf {
        Ok(tf) => {
            let provider = crate::dr::audit::provider_version(&dir);
            if provider.starts_with("unknown") {
                Check::not(
                    Verdict::Warn,
                    CheckName::Terraform,
                    format!("{} {}; hashicorp/aws {provider}", tf.flavour, tf.version),
                    "`efs-dr init` installs the provider and writes the lock file",
                )
            } else {
                Check::ok(
                    CheckName::Terraform,
                    format!("{} {}, hashicorp/aws {provider}", tf.flavour, tf.version),
                )
            }
        }
        Err(e) => Check::not(
            Verdict::Fail,
            CheckName::Terraform,
            e.clone(),
            "install a Terraform efs-dr supports (`make setup` offline) or set terraform { binary = ... }",
        ),
    });
    let state_unknown = statuses.iter().find_map(|s| s.state_unknown.clone());
    out.push(match (tf, state_unknown) {
        (Err(_), _) => Check::not(
            Verdict::Unknown,
            CheckName::State,
            "not read: no Terraform to read it with",
            "see the terraform check",
        ),
        (Ok(_), Some(why)) => Check::not(
            Verdict::Fail,
            CheckName::State,
            why,
            "every phase through Terraform needs the state: make its backend answer (credentials, bucket, network)",
        ),
        (Ok(_), None) if !dir.join(".terraform").exists() => Check::not(
            Verdict::Warn,
            CheckName::State,
            format!("the root {} is not initialised", dir.display()),
            "`efs-dr init`",
        ),
        (Ok(_), None) => Check::ok(CheckName::State, "readable"),
    });
    let warnings = config.warnings();
    out.push(match (&config.terraform.s3_backend, warnings.first()) {
        (_, Some(w)) => Check::not(
            Verdict::Fail,
            CheckName::StateBackend,
            w.clone(),
            "move the state to a bucket in a secondary or third region (`terraform init -migrate-state` with the new backend block)",
        ),
        (Some(b), None) => Check::ok(
            CheckName::StateBackend,
            format!(
                "S3 bucket {} in {}",
                b.bucket,
                b.region.as_deref().unwrap_or("the default region")
            ),
        ),
        (None, None) => Check::not(
            Verdict::Warn,
            CheckName::StateBackend,
            "the state is local to this machine: another runner cannot finish a run this one started",
            "keep the state in S3 outside A's region (README: \"Remote state and teams\")",
        ),
    });
    out.push(match lease {
        Ok(None) => Check::ok(CheckName::Lease, "free"),
        Ok(Some(held)) if held.stale => Check::not(
            Verdict::Warn,
            CheckName::Lease,
            format!("held by a run that looks dead: {}", held.describe()),
            "if that run is gone, the next run takes it over with --take-over",
        ),
        Ok(Some(held)) => Check::ok(
            CheckName::Lease,
            format!("a run is in progress: {}", held.describe()),
        ),
        Err(e) => Check::not(
            Verdict::Unknown,
            CheckName::Lease,
            format!("not read: {e}"),
            "see the state-backend check",
        ),
    });
    out
}

/// AWS, the state and the rendered root agree on the pair (`status`'s drift), each line with
/// the command that fixes it.
fn drift(s: &PairStatus) -> Check {
    if s.state_unknown.is_some() || s.replication_unknown.is_some() {
        Check::not(
            Verdict::Unknown,
            CheckName::Drift,
            "unknown: the state or a region was not read",
            "see the state and replication checks",
        )
    } else if s.drift.is_empty() {
        Check::ok(
            CheckName::Drift,
            "AWS, the state and the rendered root agree",
        )
    } else {
        let next = s
            .drift
            .first()
            .map(|d| format!("`{}`", d.fix))
            .unwrap_or_else(|| "`efs-dr status`".into());
        let text: Vec<String> = s.drift.iter().map(|d| d.text.clone()).collect();
        Check::not(Verdict::Fail, CheckName::Drift, text.join("; "), next)
    }
}

/// Each configured file system's mount targets, or why they could not be read.
async fn mount_targets(
    aws: &Aws,
    pairs: &[Pair],
) -> BTreeMap<FileSystemId, Result<Vec<MountTargetInfo>, String>> {
    let sides: Vec<&crate::config::Side> = pairs
        .iter()
        .flat_map(|p| [&p.primary, &p.secondary])
        .collect();
    stream::iter(sides)
        .map(|side| async move {
            let read = aws
                .region(&side.region)
                .mount_targets(&side.file_system_id)
                .await
                .map_err(|e| e.to_string());
            (side.file_system_id.clone(), read)
        })
        .buffer_unordered(MOUNT_TARGET_CALLS)
        .collect()
        .await
}

/// The worst lag of each pair's A -> B over the last 24 h. Where EFS publishes
/// `TimeSinceLastSync` (the source's region, the destination's, or both) is not documented:
/// both regions are asked, one GetMetricData each for all their pairs, and the larger answer
/// counts; a region that does not answer is left out while the other has data.
async fn lag_history(
    aws: &Aws,
    pairs: &[Pair],
    views: &[PairView],
) -> Vec<Result<Option<Duration>, String>> {
    let forward: Vec<usize> = views
        .iter()
        .enumerate()
        .filter(|(_, v)| v.live_direction() == Direction::Forward)
        .map(|(i, _)| i)
        .collect();
    let regions: BTreeSet<&crate::ids::Region> = forward
        .iter()
        .flat_map(|&i| [&pairs[i].primary.region, &pairs[i].secondary.region])
        .collect();
    let now = views
        .iter()
        .find_map(|v| v.now)
        .unwrap_or_else(std::time::SystemTime::now);
    let asks = regions.into_iter().map(|region| {
        let mine: Vec<usize> = forward
            .iter()
            .copied()
            .filter(|&i| pairs[i].primary.region == *region || pairs[i].secondary.region == *region)
            .collect();
        let replications: Vec<(FileSystemId, FileSystemId)> = mine
            .iter()
            .map(|&i| {
                (
                    pairs[i].primary.file_system_id.clone(),
                    pairs[i].secondary.file_system_id.clone(),
                )
            })
            .collect();
        async move {
            let read = aws
                .region(region)
                .worst_sync_lag(&replications, LAG_WINDOW, now)
                .await;
            (mine, read)
        }
    });
    let answers = futures::future::join_all(asks).await;
    let mut reads: Vec<LagReads> = vec![LagReads::default(); pairs.len()];
    for (mine, read) in answers {
        match read {
            Ok(lags) => {
                for (i, lag) in mine.into_iter().zip(lags) {
                    reads[i].answered(lag);
                }
            }
            Err(e) => {
                for i in mine {
                    reads[i].error = Some(e.to_string());
                }
            }
        }
    }
    reads.into_iter().map(LagReads::result).collect()
}

/// What the regions a pair's replication touches said of its lag history: the worst lag any
/// answer showed; an error counts only when no region answered.
#[derive(Debug, Clone, Default)]
struct LagReads {
    worst: Option<Duration>,
    answered: bool,
    error: Option<String>,
}

impl LagReads {
    fn answered(&mut self, lag: Option<Duration>) {
        self.answered = true;
        if let Some(lag) = lag {
            self.worst = Some(self.worst.map_or(lag, |w| w.max(lag)));
        }
    }

    fn result(self) -> Result<Option<Duration>, String> {
        match (self.answered, self.error) {
            (false, Some(e)) => Err(e),
            _ => Ok(self.worst),
        }
    }
}

/// Whether each configured backup vault exists, once per (region, vault).
async fn backup_vaults(
    aws: &Aws,
    pairs: &[Pair],
) -> BTreeMap<(String, String), Result<bool, String>> {
    let wanted: BTreeSet<(crate::ids::Region, String)> = pairs
        .iter()
        .filter_map(|p| {
            p.backup
                .as_ref()
                .map(|b| (p.primary.region.clone(), b.vault.clone()))
        })
        .collect();
    let asks = wanted.into_iter().map(|(region, vault)| async move {
        let read = aws
            .region(&region)
            .backup_vault_exists(&vault)
            .await
            .map_err(|e| e.to_string());
        ((region.to_string(), vault), read)
    });
    futures::future::join_all(asks).await.into_iter().collect()
}
