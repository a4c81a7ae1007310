//! An in-process simulator and real AWS SDK clients pointed at it.

use std::future::Future;
use std::time::Duration;

use aws_sdk_efs::config::retry::RetryConfig;
use aws_sdk_efs::config::{BehaviorVersion, Credentials, Region};
use efs_dr_sim::{ControlClient, SimOptions, SimSettings, Simulator};

pub struct TestSim {
    pub sim: Simulator,
    pub url: String,
    pub control: ControlClient,
}

/// A simulator at `time_scale` with a fixed seed.
pub async fn start(time_scale: f64) -> TestSim {
    start_with(SimOptions {
        time_scale,
        seed: Some(1),
        ..SimOptions::default()
    })
    .await
}

pub async fn start_with(opts: SimOptions) -> TestSim {
    let sim = Simulator::start(opts).await.expect("simulator starts");
    let url = sim.endpoint_url();
    TestSim {
        control: ControlClient::new(&url),
        url,
        sim,
    }
}

pub fn settings() -> SimSettings {
    SimSettings::default()
}

fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
}

pub fn efs(url: &str, region: &str) -> aws_sdk_efs::Client {
    let conf = aws_sdk_efs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .retry_config(retry())
        .build();
    aws_sdk_efs::Client::from_conf(conf)
}

pub fn backup(url: &str, region: &str) -> aws_sdk_backup::Client {
    let conf = aws_sdk_backup::Config::builder()
        .behavior_version(aws_sdk_backup::config::BehaviorVersion::latest())
        .region(aws_sdk_backup::config::Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_backup::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .retry_config(retry())
        .build();
    aws_sdk_backup::Client::from_conf(conf)
}

pub fn cloudwatch(url: &str, region: &str) -> aws_sdk_cloudwatch::Client {
    let conf = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
}

/// Creates an available file system and returns its id.
pub async fn file_system(ts: &TestSim, region: &str, token: &str) -> String {
    let client = efs(&ts.url, region);
    let id = client
        .create_file_system()
        .creation_token(token)
        .send()
        .await
        .expect("CreateFileSystem")
        .file_system_id
        .clone();
    ts.control
        .advance(settings().file_system_create_delay.as_secs_f64())
        .await
        .unwrap();
    id
}

/// Polls `check` until it returns Some, for at most `real` of wall time. A condition, not a
/// sleep: it returns as soon as the simulator's state says so.
pub async fn eventually<T, F, Fut>(real: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + real;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {real:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
