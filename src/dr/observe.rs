//! One poll of AWS: every region of the configuration at once, each with one paginated
//! DescribeReplicationConfigurations, one paginated DescribeFileSystems and, when a gate needs
//! it, one GetMetricData for the file systems whose writes it watches.

use std::collections::BTreeSet;

use tokio::task::JoinSet;

use super::view::Snapshot;
use crate::aws::{Aws, RegionView};
use crate::ids::FileSystemId;

/// Polls the regions in `only` (every region when None), those in `probe` with a single
/// attempt (regions expected to be down: their retries would hold up what the others' answers
/// allow). `watch_writes` lists (region, file system) whose last write is read. Reached
/// through `position::observe`.
pub async fn observe_with(
    aws: &Aws,
    only: Option<&BTreeSet<String>>,
    probe: &BTreeSet<String>,
    watch_writes: &BTreeSet<(String, FileSystemId)>,
) -> Snapshot {
    let mut tasks = JoinSet::new();
    let mut snapshot_unanswered = Vec::new();
    for clients in aws.regions() {
        if only.is_some_and(|o| !o.contains(clients.region.as_str())) {
            continue;
        }
        let probing = probe.contains(clients.region.as_str());
        if let Some(why) = aws.unanswered(clients.region.as_str()).filter(|_| probing) {
            snapshot_unanswered.push((clients.region.as_str().to_string(), why));
            continue;
        }
        let clients = if probing {
            clients.probing()
        } else {
            clients.clone()
        };
        let watch: Vec<FileSystemId> = watch_writes
            .iter()
            .filter(|(r, _)| r == clients.region.as_str())
            .map(|(_, fs)| fs.clone())
            .collect();
        tasks.spawn(async move {
            let view = clients.observe(&watch).await;
            (clients.region.as_str().to_string(), view, probing)
        });
    }
    let mut snapshot = Snapshot::default();
    for (region, why) in snapshot_unanswered {
        snapshot.regions.insert(
            region,
            RegionView {
                error: Some(why),
                ..RegionView::default()
            },
        );
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok((region, view, probing)) = joined {
            if let Some(e) = view
                .error
                .as_ref()
                .filter(|e| probing && e.is_unreachable())
            {
                aws.mark_unanswered(&region, e.clone());
            }
            snapshot.regions.insert(region, view);
        }
    }
    snapshot
}
