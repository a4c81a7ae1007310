//! The simulator's CloudWatch (Smithy RPC v2 CBOR), driven by the real aws-sdk-cloudwatch.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, Statistic,
};
use aws_sdk_efs::types::{DestinationToCreate, ReplicationOverwriteProtection};
use efs_dr_testkit::*;

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn query(id: &str, metric: &str, dims: Vec<Dimension>, stat: &str, period: i32) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/EFS")
                        .metric_name(metric)
                        .set_dimensions(Some(dims))
                        .build(),
                )
                .period(period)
                .stat(stat)
                .build(),
        )
        .build()
}

fn at(ms: i64) -> DateTime {
    DateTime::from_millis(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_and_connection_metrics_reflect_what_happened() {
    let ts = start(1.0).await;
    let a = file_system(&ts, EAST, "a").await;
    let t0 = ts.control.clock().await.unwrap().now_ms;
    ts.control
        .write_file(&a, "one", &[0u8; 1000])
        .await
        .unwrap();
    ts.control.write_file(&a, "two", &[0u8; 24]).await.unwrap();
    ts.control.advance(120.0).await.unwrap();
    ts.control.write_file(&a, "three", &[0u8; 7]).await.unwrap();
    assert_eq!(ts.control.read_file(&a, "one").await.unwrap().len(), 1000);
    ts.control.set_connections(&a, 3).await.unwrap();
    ts.control.advance(180.0).await.unwrap();
    let now = ts.control.clock().await.unwrap().now_ms;

    let cw = cloudwatch(&ts.url, EAST);
    let out = cw
        .get_metric_data()
        .start_time(at(t0 - 60_000))
        .end_time(at(now))
        .scan_by(ScanBy::TimestampAscending)
        .metric_data_queries(query(
            "w",
            "DataWriteIOBytes",
            vec![dim("FileSystemId", &a)],
            "Sum",
            60,
        ))
        .metric_data_queries(query(
            "n",
            "DataWriteIOBytes",
            vec![dim("FileSystemId", &a)],
            "SampleCount",
            60,
        ))
        .metric_data_queries(query(
            "r",
            "DataReadIOBytes",
            vec![dim("FileSystemId", &a)],
            "Sum",
            60,
        ))
        .metric_data_queries(query(
            "c",
            "ClientConnections",
            vec![dim("FileSystemId", &a)],
            "Maximum",
            60,
        ))
        .send()
        .await
        .unwrap();
    let results = out.metric_data_results();
    let by_id = |id: &str| results.iter().find(|r| r.id() == Some(id)).unwrap();
    assert_eq!(
        by_id("w").values(),
        &[1024.0, 7.0],
        "two periods with writes"
    );
    assert_eq!(by_id("n").values(), &[2.0, 1.0]);
    assert_eq!(by_id("r").values(), &[1000.0]);
    let ts_w = by_id("w").timestamps();
    assert_eq!(ts_w.len(), 2);
    assert!(ts_w[0] < ts_w[1], "ascending on request");
    assert_eq!(ts_w[0].secs() % 60, 0, "periods are aligned");
    let c = by_id("c").values();
    assert!(!c.is_empty() && c.iter().all(|v| *v == 3.0), "{c:?}");

    // Default order is newest first; the write metric in another region does not exist.
    let newest_first = cw
        .get_metric_data()
        .start_time(at(t0 - 60_000))
        .end_time(at(now))
        .metric_data_queries(query(
            "w",
            "DataWriteIOBytes",
            vec![dim("FileSystemId", &a)],
            "Sum",
            60,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        newest_first.metric_data_results()[0].values(),
        &[7.0, 1024.0]
    );
    let west = cloudwatch(&ts.url, WEST)
        .get_metric_data()
        .start_time(at(t0 - 60_000))
        .end_time(at(now))
        .metric_data_queries(query(
            "w",
            "DataWriteIOBytes",
            vec![dim("FileSystemId", &a)],
            "Sum",
            60,
        ))
        .send()
        .await
        .unwrap();
    assert!(west.metric_data_results()[0].values().is_empty());

    // GetMetricStatistics over the same data, one big period.
    let stats = cw
        .get_metric_statistics()
        .namespace("AWS/EFS")
        .metric_name("DataWriteIOBytes")
        .dimensions(dim("FileSystemId", &a))
        .start_time(at(t0 - 600_000))
        .end_time(at(now))
        .period(3600)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .unwrap();
    let total: f64 = stats.datapoints().iter().map(|d| d.sum().unwrap()).sum();
    let count: f64 = stats
        .datapoints()
        .iter()
        .map(|d| d.sample_count().unwrap())
        .sum();
    assert_eq!((total, count), (1031.0, 3.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_since_last_sync_follows_the_sync_cycles() {
    let ts = start(1.0).await;
    let a = file_system(&ts, EAST, "a").await;
    let b = file_system(&ts, WEST, "b").await;
    efs(&ts.url, WEST)
        .update_file_system_protection()
        .file_system_id(&b)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Disabled)
        .send()
        .await
        .unwrap();
    efs(&ts.url, EAST)
        .create_replication_configuration()
        .source_file_system_id(&a)
        .destinations(
            DestinationToCreate::builder()
                .region(WEST)
                .file_system_id(&b)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let created = ts.control.clock().await.unwrap().now_ms;
    ts.control.advance(20.0 * 60.0).await.unwrap();
    let now = ts.control.clock().await.unwrap().now_ms;
    let dims = vec![dim("FileSystemId", &a), dim("DestinationFileSystemId", &b)];
    for region in [EAST, WEST] {
        let out = cloudwatch(&ts.url, region)
            .get_metric_data()
            .start_time(at(created))
            .end_time(at(now))
            .metric_data_queries(query(
                "lag",
                "TimeSinceLastSync",
                dims.clone(),
                "Maximum",
                60,
            ))
            .send()
            .await
            .unwrap();
        let values = out.metric_data_results()[0].values();
        // Cycles are 60 s back to back: one minute after a sync completes, the data is at most
        // two cycles old.
        assert!(values.len() >= 3, "{region}: {values:?}");
        assert!(
            values.iter().all(|v| (60.0..=120.0).contains(v)),
            "{region}: {values:?}"
        );
    }
    // Without the destination dimension there is no such metric.
    let out = cloudwatch(&ts.url, EAST)
        .get_metric_data()
        .start_time(at(created))
        .end_time(at(now))
        .metric_data_queries(query(
            "lag",
            "TimeSinceLastSync",
            vec![dim("FileSystemId", &a)],
            "Maximum",
            60,
        ))
        .send()
        .await
        .unwrap();
    assert!(out.metric_data_results()[0].values().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_metric_requests_are_typed_errors() {
    let ts = start(1.0).await;
    let now = ts.control.clock().await.unwrap().now_ms;
    let err = cloudwatch(&ts.url, EAST)
        .get_metric_statistics()
        .namespace("AWS/EFS")
        .metric_name("DataWriteIOBytes")
        .start_time(at(now - 60_000))
        .end_time(at(now))
        .period(90)
        .statistics(Statistic::Sum)
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(
        service.is_invalid_parameter_value_exception(),
        "{service:?}"
    );
    assert!(service.to_string().contains("Period"), "{service}");
}

/// GetMetricData takes at most 500 queries a call, as AWS enforces; efs-dr's lag history
/// splits a fleet's queries into calls of 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_metric_data_takes_at_most_500_queries_and_the_lag_history_splits_them() {
    let ts = start(1.0).await;
    let now = ts.control.clock().await.unwrap().now_ms;
    let queries: Vec<MetricDataQuery> = (0..501)
        .map(|i| {
            query(
                &format!("q{i}"),
                "TimeSinceLastSync",
                vec![
                    dim("FileSystemId", "fs-00000001"),
                    dim("DestinationFileSystemId", "fs-00000002"),
                ],
                "Maximum",
                3600,
            )
        })
        .collect();
    let err = cloudwatch(&ts.url, EAST)
        .get_metric_data()
        .start_time(at(now - 3_600_000))
        .end_time(at(now))
        .set_metric_data_queries(Some(queries))
        .send()
        .await
        .unwrap_err();
    let shown = format!("{:?}", err.into_service_error());
    assert!(shown.contains("500"), "{shown}");

    let aws = efs_dr::aws::Aws::connect(
        [efs_dr_ids::Region::parse(EAST).unwrap()],
        &efs_dr::aws::ClientOptions {
            endpoint_url: Some(ts.url.clone()),
            static_credentials: true,
            max_attempts: 1,
        },
    )
    .await;
    let fleet: Vec<_> = (0..1200u32)
        .map(|i| {
            (
                efs_dr_ids::FileSystemId::parse(&format!("fs-{:08x}", 2 * i)).unwrap(),
                efs_dr_ids::FileSystemId::parse(&format!("fs-{:08x}", 2 * i + 1)).unwrap(),
            )
        })
        .collect();
    let lags = aws
        .region(&efs_dr_ids::Region::parse(EAST).unwrap())
        .worst_sync_lag(
            &fleet,
            std::time::Duration::from_secs(24 * 3600),
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(now as u64),
        )
        .await
        .expect("1200 replications' lag history in three calls");
    assert_eq!(lags.len(), 1200);
    assert!(lags.iter().all(Option::is_none), "no such replications");
}
