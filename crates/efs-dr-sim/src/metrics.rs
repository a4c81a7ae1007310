//! CloudWatch metrics of namespace AWS/EFS, computed from what really happened in the simulator.
//!
//! IO metrics (`DataWriteIOBytes`, `DataReadIOBytes`, `MetadataIOBytes`) have one sample per
//! operation; `ClientConnections` and `TimeSinceLastSync` one sample per minute while they have a
//! value. No sample is ever in the simulator's future.

use super::clock::Millis;
use super::model::{IoKind, World};
use super::settings::{SimSettings, SyncMetricRegions};

pub const NAMESPACE: &str = "AWS/EFS";
const MINUTE: Millis = 60_000;

#[derive(Debug, Clone)]
pub struct MetricQuery<'a> {
    pub region: &'a str,
    pub namespace: &'a str,
    pub metric_name: &'a str,
    pub dimensions: &'a [(String, String)],
    pub start: Millis,
    pub end: Millis,
    pub period_seconds: i64,
}

/// Aggregated samples of one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start: Millis,
    pub sum: f64,
    pub count: f64,
    pub min: f64,
    pub max: f64,
}

impl Bucket {
    pub fn stat(&self, name: &str) -> Option<f64> {
        match name {
            "Sum" => Some(self.sum),
            "SampleCount" => Some(self.count),
            "Average" => Some(if self.count > 0.0 {
                self.sum / self.count
            } else {
                0.0
            }),
            "Minimum" => Some(self.min),
            "Maximum" => Some(self.max),
            _ => None,
        }
    }
}

pub fn unit_of(metric_name: &str) -> &'static str {
    match metric_name {
        "ClientConnections" => "Count",
        "TimeSinceLastSync" => "Seconds",
        _ => "Bytes",
    }
}

fn dimension<'a>(dims: &'a [(String, String)], name: &str) -> Option<&'a str> {
    dims.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The samples of the metric asked for, in [start, min(end, now)).
fn samples(world: &World, s: &SimSettings, q: &MetricQuery) -> Vec<(Millis, f64)> {
    if q.namespace != NAMESPACE {
        return Vec::new();
    }
    let end = q.end.min(world.now + 1);
    let in_range = |t: Millis| t >= q.start && t < end;
    let fs_in_region = |id: &str| {
        world
            .file_systems
            .get(id)
            .map(|fs| fs.region == q.region)
            .unwrap_or(false)
    };
    let io_kind = match q.metric_name {
        "DataWriteIOBytes" => Some(IoKind::Write),
        "DataReadIOBytes" => Some(IoKind::Read),
        "MetadataIOBytes" => Some(IoKind::Metadata),
        _ => None,
    };
    if let Some(kind) = io_kind {
        let (Some(fs), 1) = (dimension(q.dimensions, "FileSystemId"), q.dimensions.len()) else {
            return Vec::new();
        };
        if !fs_in_region(fs) {
            return Vec::new();
        }
        return world
            .log
            .io
            .iter()
            .filter(|e| e.kind == kind && e.file_system_id == fs && in_range(e.at))
            .map(|e| (e.at, e.bytes as f64))
            .collect();
    }
    let first_minute = (q.start + MINUTE - 1).div_euclid(MINUTE) * MINUTE;
    let minutes = (first_minute..end).step_by(MINUTE as usize);
    match q.metric_name {
        "ClientConnections" => {
            let (Some(fs), 1) = (dimension(q.dimensions, "FileSystemId"), q.dimensions.len())
            else {
                return Vec::new();
            };
            if !fs_in_region(fs) {
                return Vec::new();
            }
            let changes: Vec<_> = world
                .log
                .connections
                .iter()
                .filter(|c| c.file_system_id == fs)
                .collect();
            minutes
                .filter_map(|m| {
                    let count = changes.iter().rev().find(|c| c.at <= m)?.count;
                    (count > 0).then_some((m, count as f64))
                })
                .collect()
        }
        "TimeSinceLastSync" => {
            let (Some(src), Some(dst), 2) = (
                dimension(q.dimensions, "FileSystemId"),
                dimension(q.dimensions, "DestinationFileSystemId"),
                q.dimensions.len(),
            ) else {
                return Vec::new();
            };
            let published_here = |region: &str, is_source: bool| {
                region == q.region
                    && match s.sync_metric_regions {
                        SyncMetricRegions::Both => true,
                        SyncMetricRegions::Source => is_source,
                        SyncMetricRegions::Destination => !is_source,
                    }
            };
            let regions_known = world
                .replications
                .iter()
                .find(|r| r.source_id == src && r.destination_id == dst)
                .map(|r| {
                    published_here(&r.source_region, true)
                        || published_here(&r.destination_region, false)
                });
            // A replication that is gone: fall back on where its file systems are.
            let publishes = regions_known.unwrap_or_else(|| {
                let region_of = |id: &str| world.file_systems.get(id).map(|f| f.region.clone());
                region_of(src).is_some_and(|r| published_here(&r, true))
                    || region_of(dst).is_some_and(|r| published_here(&r, false))
            });
            if !publishes {
                return Vec::new();
            }
            let events: Vec<_> = world
                .log
                .syncs
                .iter()
                .filter(|e| e.source_id == src && e.destination_id == dst)
                .collect();
            minutes
                .filter_map(|m| {
                    let last = events.iter().rev().find(|e| e.at <= m)?;
                    let replicated_to = last.replicated_to?;
                    Some((m, (m - replicated_to) as f64 / 1000.0))
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The metric's samples aggregated per period, oldest first; periods without samples are absent.
pub fn query(world: &World, s: &SimSettings, q: &MetricQuery) -> Vec<Bucket> {
    let period = q.period_seconds.max(1) * 1000;
    let mut buckets: Vec<Bucket> = Vec::new();
    let mut samples = samples(world, s, q);
    samples.sort_by_key(|(t, _)| *t);
    for (t, v) in samples {
        let start = t.div_euclid(period) * period;
        match buckets.last_mut() {
            Some(b) if b.start == start => {
                b.sum += v;
                b.count += 1.0;
                b.min = b.min.min(v);
                b.max = b.max.max(v);
            }
            _ => buckets.push(Bucket {
                start,
                sum: v,
                count: 1.0,
                min: v,
                max: v,
            }),
        }
    }
    buckets
}
