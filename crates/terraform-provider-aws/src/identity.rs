//! What the real provider asks STS when it is configured. Upstream, `ConfigureProvider`
//! (internal/conns/config.go) calls aws-sdk-go-base's `GetAwsConfig` and
//! `GetAwsAccountIDAndPartition`:
//! - unless `skip_credentials_validation`: STS `GetCallerIdentity`; an error fails the
//!   configuration ("validating provider credentials: retrieving caller identity from STS");
//! - otherwise, unless `skip_requesting_account_id`: the account id through IAM `GetUser` or
//!   STS `GetCallerIdentity` (the simulator serves no IAM, so the stand-in asks STS), and an
//!   error fails the configuration too;
//! - both skipped: no call at all.
//!
//! The STS client (`stsClient`) uses `sts_region` when set, else the provider's region, and the
//! `endpoints { sts }` URL when set (else the SDK's usual endpoint resolution, which reads
//! `AWS_ENDPOINT_URL_STS` and `AWS_ENDPOINT_URL`). It retries as every client of the provider:
//! `max_retries` attempts with a maximum backoff of 300 s (`resolveRetryer`). A region whose STS
//! does not answer therefore fails `terraform plan` even when nothing is refreshed.

use std::time::Duration;

use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::Region;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// The provider arguments that decide what is asked at configure.
pub struct Settings {
    pub sts_region: Option<String>,
    pub sts_endpoint: Option<String>,
    pub skip_credentials_validation: bool,
    pub skip_requesting_account_id: bool,
}

/// Upstream's maximum backoff between two attempts (`so.MaxBackoff = 300 * time.Second`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The account id, or None when both checks are skipped; Err: the configuration fails with this
/// message.
pub async fn account_id(
    sdk: &aws_config::SdkConfig,
    settings: &Settings,
) -> Result<Option<String>, String> {
    if settings.skip_credentials_validation && settings.skip_requesting_account_id {
        return Ok(None);
    }
    let mut b = aws_sdk_sts::config::Builder::from(sdk);
    if let Some(region) = &settings.sts_region {
        b = b.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.sts_endpoint {
        b = b.endpoint_url(url);
    }
    let attempts = sdk.retry_config().map(|r| r.max_attempts()).unwrap_or(25);
    b = b.retry_config(
        RetryConfig::standard()
            .with_max_attempts(attempts)
            .with_max_backoff(MAX_BACKOFF),
    );
    let sts = aws_sdk_sts::Client::from_conf(b.build());
    match sts.get_caller_identity().send().await {
        Ok(out) => Ok(out.account().map(str::to_string)),
        Err(e) if !settings.skip_credentials_validation => Err(format!(
            "validating provider credentials: retrieving caller identity from STS: {}",
            describe(&e)
        )),
        Err(e) => Err(format!(
            "AWS account ID not previously found and failed retrieving via all available methods. See https://registry.terraform.io/providers/hashicorp/aws/latest/docs#skip_requesting_account_id for workaround and implications. Errors: {}",
            describe(&e)
        )),
    }
}

/// "operation error STS: GetCallerIdentity, ..." as the Go SDK words it.
fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(s) => format!(
            "operation error STS: GetCallerIdentity, {}: {}",
            s.err().code().unwrap_or("error"),
            s.err().message().unwrap_or_default()
        ),
        other => format!(
            "operation error STS: GetCallerIdentity, {}",
            DisplayErrorContext(other)
        ),
    }
}
