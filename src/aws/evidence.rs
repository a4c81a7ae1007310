//! What CloudWatch remembers about a file system: its last completed sync to a destination
//! (`TimeSinceLastSync` history) and its writes (`DataWriteIOBytes` + `MetadataIOBytes`) since a
//! moment. The evidence that a failback would or would not overwrite writes only A has.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use super::{AwsError, AwsTime, RegionClients};
use crate::ids::FileSystemId;

/// CloudWatch keeps one-minute data for 15 days.
pub const SYNC_HISTORY: Duration = Duration::from_secs(14 * 24 * 3600);
const PERIOD: i32 = 60;

fn query(id: &str, metric: &str, dims: &[(&str, &str)], stat: &str) -> MetricDataQuery {
    query_every(id, metric, dims, stat, PERIOD)
}

fn query_every(
    id: &str,
    metric: &str,
    dims: &[(&str, &str)],
    stat: &str,
    period: i32,
) -> MetricDataQuery {
    let mut m = Metric::builder().namespace("AWS/EFS").metric_name(metric);
    for (k, v) in dims {
        m = m.dimensions(Dimension::builder().name(*k).value(*v).build());
    }
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(m.build())
                .period(period)
                .stat(stat)
                .build(),
        )
        .build()
}

impl RegionClients {
    /// (period start, value) of each query id, from one paginated GetMetricData.
    /// GetMetricData of `queries` over [since, until): one call per 500 queries (the API's
    /// limit), each paginated.
    async fn metric_data(
        &self,
        queries: Vec<MetricDataQuery>,
        since: AwsTime,
        until: AwsTime,
    ) -> Result<BTreeMap<String, Vec<(AwsTime, f64)>>, AwsError> {
        let mut out: BTreeMap<String, Vec<(AwsTime, f64)>> = BTreeMap::new();
        for chunk in queries.chunks(super::MAX_METRIC_QUERIES) {
            self.metric_data_call(chunk, since, until, &mut out).await?;
        }
        Ok(out)
    }

    async fn metric_data_call(
        &self,
        queries: &[MetricDataQuery],
        since: AwsTime,
        until: AwsTime,
        out: &mut BTreeMap<String, Vec<(AwsTime, f64)>>,
    ) -> Result<(), AwsError> {
        let req = self
            .cloudwatch
            .get_metric_data()
            .start_time(since.into())
            .end_time(until.into())
            .set_metric_data_queries(Some(queries.to_vec()));
        let mut pages = req.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk(self.region.as_str(), "GetMetricData", e))?;
            for r in page.metric_data_results() {
                let entry = out
                    .entry(r.id().unwrap_or_default().to_string())
                    .or_default();
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    if let Ok(t) = std::time::SystemTime::try_from(*t) {
                        entry.push((t, *v));
                    }
                }
            }
        }
        Ok(())
    }

    /// The `LastReplicatedTimestamp`s `TimeSinceLastSync` shows for `source` -> `destination`
    /// over the last 14 days: each data point minus its value.
    async fn last_replicated_points(
        &self,
        source: &FileSystemId,
        destination: &FileSystemId,
        now: AwsTime,
    ) -> Result<Vec<AwsTime>, AwsError> {
        let q = query(
            "s",
            "TimeSinceLastSync",
            &[
                ("FileSystemId", source.as_str()),
                ("DestinationFileSystemId", destination.as_str()),
            ],
            "Minimum",
        );
        let data = self
            .metric_data(vec![q], now - SYNC_HISTORY, now + Duration::from_secs(60))
            .await?;
        Ok(data
            .get("s")
            .into_iter()
            .flatten()
            .filter_map(|(t, v)| t.checked_sub(Duration::from_secs_f64(v.max(0.0))))
            .collect())
    }

    /// The longest `TimeSinceLastSync` of each `source` -> `destination` over `window` before
    /// `now`: one GetMetricData for all of them (hourly Maximum). None for a replication this
    /// region published nothing about.
    pub async fn worst_sync_lag(
        &self,
        replications: &[(FileSystemId, FileSystemId)],
        window: Duration,
        now: AwsTime,
    ) -> Result<Vec<Option<Duration>>, AwsError> {
        if replications.is_empty() {
            return Ok(Vec::new());
        }
        let queries = replications
            .iter()
            .enumerate()
            .map(|(i, (src, dst))| {
                query_every(
                    &format!("l{i}"),
                    "TimeSinceLastSync",
                    &[
                        ("FileSystemId", src.as_str()),
                        ("DestinationFileSystemId", dst.as_str()),
                    ],
                    "Maximum",
                    3600,
                )
            })
            .collect();
        let data = self.metric_data(queries, now - window, now).await?;
        Ok((0..replications.len())
            .map(|i| {
                data.get(&format!("l{i}")).and_then(|points| {
                    points
                        .iter()
                        .map(|(_, v)| *v)
                        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
                        .map(|v| Duration::from_secs_f64(v.max(0.0)))
                })
            })
            .collect())
    }

    /// The starts of the syncs of `source` -> `destination` that completed in the last 14 days,
    /// oldest first (whole seconds, the metric's grain).
    pub async fn sync_history(
        &self,
        source: &FileSystemId,
        destination: &FileSystemId,
        now: AwsTime,
    ) -> Result<Vec<AwsTime>, AwsError> {
        let mut starts: Vec<AwsTime> = self
            .last_replicated_points(source, destination, now)
            .await?
            .into_iter()
            .map(|t| {
                let s = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                std::time::UNIX_EPOCH + Duration::from_secs(s)
            })
            .collect();
        starts.sort();
        starts.dedup_by(|a, b| a.duration_since(*b).unwrap_or_default() < Duration::from_secs(5));
        Ok(starts)
    }

    /// The last completed sync of `source` -> `destination` that `TimeSinceLastSync` shows in
    /// the last 14 days (None: no data point).
    pub async fn last_sync_from_metrics(
        &self,
        source: &FileSystemId,
        destination: &FileSystemId,
        now: AwsTime,
    ) -> Result<Option<AwsTime>, AwsError> {
        Ok(self
            .last_replicated_points(source, destination, now)
            .await?
            .into_iter()
            .max())
    }

    /// Bytes written (data and metadata) on `fs` per minute since `since`: (start of the
    /// minute, bytes), minutes without writes left out.
    pub async fn writes_since(
        &self,
        fs: &FileSystemId,
        since: AwsTime,
        now: AwsTime,
    ) -> Result<Vec<(AwsTime, f64)>, AwsError> {
        let dims = [("FileSystemId", fs.as_str())];
        let data = self
            .metric_data(
                vec![
                    query("d", "DataWriteIOBytes", &dims, "Sum"),
                    query("m", "MetadataIOBytes", &dims, "Sum"),
                ],
                since,
                now + Duration::from_secs(60),
            )
            .await?;
        let mut minutes: BTreeMap<AwsTime, f64> = BTreeMap::new();
        for (t, v) in data.into_values().flatten() {
            if v > 0.0 {
                *minutes.entry(t).or_default() += v;
            }
        }
        Ok(minutes.into_iter().collect())
    }
}
