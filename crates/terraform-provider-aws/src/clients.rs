//! What `configure` sets up and every resource uses: the AWS SDK configuration, the provider's
//! region, its default tags.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_efs::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_efs::config::{ConfigBag, Intercept, RuntimeComponents};

use aws_sdk_efs::config::Region;
use tf_provider::Diagnostics;

pub struct Configured {
    pub sdk: aws_config::SdkConfig,
    pub region: String,
    pub efs_endpoint: Option<String>,
    pub cloudwatch_endpoint: Option<String>,
    pub default_tags: BTreeMap<String, String>,
    /// AWS's clock, from the `Date` of every EFS answer: the resources' timeouts run on it.
    pub clock: AwsClock,
}

/// AWS's clock as its answers tell it: the first and the latest `Date`, each with the instant
/// it arrived. Upstream's timeouts run on real time, which on real AWS is AWS's time; against a
/// simulator that runs 600 times faster, only AWS's own clock keeps a 20-minute timeout a
/// 20-minute one.
#[derive(Debug, Clone, Default)]
pub struct AwsClock(Arc<Mutex<Samples>>);

#[derive(Debug, Default)]
struct Samples {
    first: Option<(SystemTime, Instant)>,
    latest: Option<(SystemTime, Instant)>,
}

impl AwsClock {
    fn record(&self, t: SystemTime) {
        let now = Instant::now();
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.first.get_or_insert((t, now));
        if s.latest.is_none_or(|(l, _)| t > l) {
            s.latest = Some((t, now));
        }
    }

    /// AWS's now, when it has answered at all.
    pub fn now(&self) -> Option<SystemTime> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .latest
            .map(|(t, _)| t)
    }

    /// AWS seconds per wall second, once two answers are 10 s of AWS time apart.
    pub fn pace(&self) -> Option<f64> {
        let s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let ((t0, i0), (t1, i1)) = (s.first?, s.latest?);
        let aws = t1.duration_since(t0).ok()?;
        let wall = i1.duration_since(i0).as_secs_f64();
        (aws >= Duration::from_secs(10) && wall > 0.0).then(|| aws.as_secs_f64() / wall)
    }
}

impl Intercept for AwsClock {
    fn name(&self) -> &'static str {
        "AwsClock"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_efs::error::BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            if let Ok(t) = humantime::parse_rfc3339(date).or_else(|_| parse_http_date(date)) {
                self.record(t);
            }
        }
        Ok(())
    }
}

/// An HTTP date (`Wed, 02 Dec 2026 15:04:05 GMT`).
fn parse_http_date(s: &str) -> Result<SystemTime, ()> {
    aws_sdk_efs::primitives::DateTime::from_str(
        s,
        aws_sdk_efs::primitives::DateTimeFormat::HttpDate,
    )
    .ok()
    .and_then(|d| SystemTime::try_from(d).ok())
    .ok_or(())
}

impl Configured {
    /// An EFS client for `region`, or for the provider's region.
    pub fn efs(&self, region: Option<&str>) -> aws_sdk_efs::Client {
        let mut b = aws_sdk_efs::config::Builder::from(&self.sdk);
        if let Some(r) = region {
            b = b.region(Region::new(r.to_string()));
        }
        if let Some(e) = &self.efs_endpoint {
            b = b.endpoint_url(e);
        }
        b = b.interceptor(self.clock.clone());
        aws_sdk_efs::Client::from_conf(b.build())
    }
}

impl Configured {
    /// A CloudWatch client for `region`, or for the provider's region.
    pub fn cloudwatch(&self, region: Option<&str>) -> aws_sdk_cloudwatch::Client {
        let mut b = aws_sdk_cloudwatch::config::Builder::from(&self.sdk);
        if let Some(r) = region {
            b = b.region(aws_sdk_cloudwatch::config::Region::new(r.to_string()));
        }
        if let Some(e) = &self.cloudwatch_endpoint {
            b = b.endpoint_url(e);
        }
        aws_sdk_cloudwatch::Client::from_conf(b.build())
    }
}

/// Set once by `configure`, read by resources and data sources.
#[derive(Default)]
pub struct Shared {
    configured: OnceLock<Configured>,
}

impl Shared {
    pub fn set(&self, c: Configured) {
        let _ = self.configured.set(c);
    }

    pub fn get(&self, diags: &mut Diagnostics) -> Option<&Configured> {
        let c = self.configured.get();
        if c.is_none() {
            diags.root_error_short("the AWS provider was not configured before use");
        }
        c
    }
}

/// The message of an EFS SDK error, with its code: what the real provider prints.
pub fn sdk_message<E, R>(err: &aws_sdk_efs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_efs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    service_message("EFS", err)
}

/// The message of an SDK error of `service` ("EFS", "CloudWatch"), with its code.
pub fn service_message<E, R>(service: &str, err: &aws_sdk_efs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_efs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_efs::error::SdkError;
    match err {
        SdkError::ServiceError(s) => {
            let e = s.err();
            match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("operation error {service}: {c}: {m}"),
                (Some(c), None) => format!("operation error {service}: {c}"),
                _ => format!("operation error {service}: {e}"),
            }
        }
        SdkError::DispatchFailure(d) => format!(
            "operation error {service}: the endpoint could not be reached: {:?}",
            d.as_connector_error()
        ),
        SdkError::TimeoutError(_) => format!("operation error {service}: request timed out"),
        other => format!("operation error {service}: {other}"),
    }
}

pub fn error_code<E, R>(err: &aws_sdk_efs::error::SdkError<E, R>) -> Option<&str>
where
    E: aws_sdk_efs::error::ProvideErrorMetadata,
{
    match err {
        aws_sdk_efs::error::SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

pub fn is_not_found<E, R>(err: &aws_sdk_efs::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_efs::error::ProvideErrorMetadata,
{
    matches!(
        error_code(err),
        Some("FileSystemNotFound") | Some("ReplicationNotFound")
    )
}

/// The stand-in is a test double: it must never drive real AWS with its logic. Every endpoint
/// it would call (EFS, CloudWatch and STS: `endpoints`, else `AWS_ENDPOINT_URL_<SERVICE>`, else
/// `AWS_ENDPOINT_URL`) must be on loopback, unless `EFS_DR_STANDIN_ALLOW_REMOTE=1` says a
/// simulator elsewhere is meant.
pub fn refuse_real_aws(
    efs: Option<&str>,
    cloudwatch: Option<&str>,
    sts: Option<&str>,
    needs_sts: bool,
) -> Result<(), String> {
    if std::env::var("EFS_DR_STANDIN_ALLOW_REMOTE").as_deref() == Ok("1") {
        return Ok(());
    }
    let resolved = |explicit: Option<&str>, service: &str| -> Option<String> {
        explicit
            .map(str::to_string)
            .or_else(|| std::env::var(format!("AWS_ENDPOINT_URL_{service}")).ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .filter(|u| !u.is_empty())
    };
    let mut services = vec![
        ("EFS", resolved(efs, "EFS")),
        ("CloudWatch", resolved(cloudwatch, "CLOUDWATCH")),
    ];
    if needs_sts {
        services.push(("STS", resolved(sts, "STS")));
    }
    for (service, url) in services {
        let remote = match &url {
            None => Some(format!("the real AWS {service} endpoint")),
            Some(u) if !is_loopback(u) => Some(u.clone()),
            Some(_) => None,
        };
        if let Some(target) = remote {
            return Err(format!(
                "this hashicorp/aws is efs-dr's offline stand-in (a test double, version {}), not the real provider, and it does not call {target}. To use the real provider, run Terraform without efs-dr's .tools/terraformrc (unset TF_CLI_CONFIG_FILE, or use a shell that did not source .tools/env.sh) and run `terraform init -upgrade`; for a simulator that is not on loopback, set EFS_DR_STANDIN_ALLOW_REMOTE=1",
                crate::version_text()
            ));
        }
    }
    Ok(())
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host_port = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_are_loopback() {
        assert!(is_loopback("http://127.0.0.1:4566"));
        assert!(is_loopback("http://localhost:4566/"));
        assert!(is_loopback("http://[::1]:4566"));
        assert!(is_loopback("http://127.8.9.10"));
        assert!(!is_loopback(
            "https://elasticfilesystem.us-east-1.amazonaws.com"
        ));
        assert!(!is_loopback("http://10.0.0.5:4566"));
        assert!(!is_loopback("http://localhost.example.com"));
    }
}
