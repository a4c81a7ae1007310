//! What `configure` sets up and every resource uses: the AWS SDK configuration, the provider's
//! region, its default tags.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use aws_sdk_efs::config::Region;
use tf_provider::Diagnostics;

pub struct Configured {
    pub sdk: aws_config::SdkConfig,
    pub region: String,
    pub efs_endpoint: Option<String>,
    pub default_tags: BTreeMap<String, String>,
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
        aws_sdk_efs::Client::from_conf(b.build())
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

/// The message of an SDK error, with its code: what the real provider prints.
pub fn sdk_message<E, R>(err: &aws_sdk_efs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_efs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_efs::error::SdkError;
    match err {
        SdkError::ServiceError(s) => {
            let e = s.err();
            match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("operation error EFS: {c}: {m}"),
                (Some(c), None) => format!("operation error EFS: {c}"),
                _ => format!("operation error EFS: {e}"),
            }
        }
        SdkError::DispatchFailure(d) => format!(
            "operation error EFS: the endpoint could not be reached: {:?}",
            d.as_connector_error()
        ),
        SdkError::TimeoutError(_) => "operation error EFS: request timed out".to_string(),
        other => format!("operation error EFS: {other}"),
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
