//! The stand-in `hashicorp/aws` Terraform provider (protocol 6), for offline use with the
//! simulator. It talks to EFS through aws-sdk-efs and the usual endpoint settings, as the real
//! provider does, and reproduces the real provider's behaviour for what efs-dr's module and demo
//! use: `aws_efs_replication_configuration`, `aws_efs_file_system` and its data source.

mod clients;
mod file_system;
mod file_system_data;
mod identity;
mod metric_alarm;
mod region;
mod replication_configuration;
mod schema_util;
mod wait;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_efs::config::retry::RetryConfig;
use aws_sdk_efs::config::{Credentials, Region};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{NestedBlock, Schema};
use tf_provider::value::Value;
use tf_provider::{Diagnostics, DynamicDataSource, DynamicResource, Provider};

use clients::{Configured, Shared};
use schema_util::*;

pub const PROVIDER_NAME: &str = "registry.terraform.io/hashicorp/aws";

/// The versions the filesystem mirror publishes the stand-in under: versions upstream will
/// never ship (so that a lock file or `terraform version` gives the double away), one per major
/// the module allows. The mirror's shim of each tells the binary its major
/// (`EFS_DR_PROVIDER_MAJOR`), and 6.x behaves as upstream's 6.x does.
pub const PROVIDER_VERSIONS: [&str; 2] = ["5.999.0", "6.999.0"];

/// The major this process is served as (5 unless the shim says 6).
pub fn major() -> u32 {
    std::env::var("EFS_DR_PROVIDER_MAJOR")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// "5.999.0" or "6.999.0", as this process is served.
pub fn version_text() -> &'static str {
    if major() >= 6 {
        PROVIDER_VERSIONS[1]
    } else {
        PROVIDER_VERSIONS[0]
    }
}

#[derive(Default)]
pub struct AwsProvider {
    shared: Arc<Shared>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Endpoints {
    #[serde(default)]
    pub efs: Value<String>,
    #[serde(default)]
    pub cloudwatch: Value<String>,
    #[serde(default)]
    pub sts: Value<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DefaultTags {
    #[serde(default)]
    pub tags: Value<BTreeMap<String, Value<String>>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AssumeRole {
    #[serde(default)]
    pub role_arn: Value<String>,
    #[serde(default)]
    pub session_name: Value<String>,
    #[serde(default)]
    pub external_id: Value<String>,
    #[serde(default)]
    pub duration: Value<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    #[serde(default)]
    pub region: Value<String>,
    #[serde(default)]
    pub profile: Value<String>,
    #[serde(default)]
    pub access_key: Value<String>,
    #[serde(default)]
    pub secret_key: Value<String>,
    #[serde(default)]
    pub token: Value<String>,
    #[serde(default)]
    pub sts_region: Value<String>,
    #[serde(default)]
    pub max_retries: Value<i64>,
    #[serde(default)]
    pub skip_credentials_validation: Value<bool>,
    #[serde(default)]
    pub skip_region_validation: Value<bool>,
    #[serde(default)]
    pub skip_requesting_account_id: Value<bool>,
    #[serde(default)]
    pub skip_metadata_api_check: Value<String>,
    #[serde(default)]
    pub endpoints: Value<Vec<Value<Endpoints>>>,
    #[serde(default)]
    pub default_tags: Value<Vec<Value<DefaultTags>>>,
    #[serde(default)]
    pub assume_role: Value<Vec<Value<AssumeRole>>>,
}

fn first<T>(blocks: &Value<Vec<Value<T>>>) -> Option<&T> {
    blocks
        .as_ref_option()
        .and_then(|v| v.first())
        .and_then(|b| b.as_ref_option())
}

#[async_trait]
impl Provider for AwsProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = tf_provider::value::ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let endpoints = block(
            "Custom service endpoints (the stand-in uses efs)",
            vec![
                ("efs", string(Optional, "EFS endpoint URL")),
                ("cloudwatch", string(Optional, "CloudWatch endpoint URL")),
                ("sts", string(Optional, "STS endpoint URL")),
            ],
            vec![],
        );
        let default_tags = block(
            "Tags added to every resource that takes tags",
            vec![("tags", string_map(Optional, "Tags"))],
            vec![],
        );
        let assume_role = block(
            "Role to assume (accepted; the stand-in uses the base credentials)",
            vec![
                ("role_arn", string(Optional, "Role ARN")),
                ("session_name", string(Optional, "Session name")),
                ("external_id", string(Optional, "External id")),
                ("duration", string(Optional, "Session duration")),
            ],
            vec![],
        );
        Some(Schema {
            version: 0,
            block: block(
                "Stand-in for hashicorp/aws, for offline runs against the efs-dr simulator",
                vec![
                    ("region", string(Optional, "AWS region")),
                    ("profile", string(Optional, "Shared-config profile")),
                    ("access_key", string(Optional, "Access key")),
                    ("secret_key", string(Optional, "Secret key")),
                    ("token", string(Optional, "Session token")),
                    (
                        "sts_region",
                        string(
                            Optional,
                            "Region of the STS endpoint called at configure (default: region)",
                        ),
                    ),
                    (
                        "max_retries",
                        schema_util::attr(
                            tf_provider::schema::AttributeType::Number,
                            Optional,
                            "Maximum retries (default 25)",
                        ),
                    ),
                    (
                        "skip_credentials_validation",
                        boolean(
                            Optional,
                            "Skip STS GetCallerIdentity at configure (as upstream)",
                        ),
                    ),
                    (
                        "skip_region_validation",
                        boolean(Optional, "Skip the region name check"),
                    ),
                    (
                        "skip_requesting_account_id",
                        boolean(
                            Optional,
                            "Skip asking STS for the account id at configure (as upstream)",
                        ),
                    ),
                    ("skip_metadata_api_check", string(Optional, "Accepted")),
                ],
                vec![
                    ("endpoints", NestedBlock::List(endpoints)),
                    ("default_tags", NestedBlock::List(default_tags)),
                    ("assume_role", NestedBlock::List(assume_role)),
                ],
            ),
        })
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        let region = config
            .region
            .as_ref_option()
            .cloned()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok());
        let Some(region) = region else {
            diags.root_error(
                "Invalid provider configuration",
                "The argument \"region\" is required, but no definition was found. Set region in the provider block, or AWS_REGION.",
            );
            return None;
        };
        if config.skip_region_validation.as_ref_option() != Some(&true)
            && efs_dr_ids::Region::parse(&region).is_err()
        {
            diags.root_error(
                "Invalid provider configuration",
                format!("invalid AWS Region: {region}"),
            );
            return None;
        }
        // Upstream hands `max_retries` (default 25) to the Go SDK as its maximum number of
        // attempts (aws-sdk-go-base `GetAwsConfig`: `config.WithRetryMaxAttempts`).
        let attempts = config
            .max_retries
            .as_ref_option()
            .copied()
            .unwrap_or(25)
            .max(1) as u32;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .retry_config(RetryConfig::standard().with_max_attempts(attempts));
        if let Some(p) = config.profile.as_ref_option() {
            loader = loader.profile_name(p);
        }
        if let (Some(ak), Some(sk)) = (
            config.access_key.as_ref_option(),
            config.secret_key.as_ref_option(),
        ) {
            loader = loader.credentials_provider(Credentials::new(
                ak.clone(),
                sk.clone(),
                config.token.as_ref_option().cloned(),
                None,
                "provider-config",
            ));
        }
        let sdk = loader.load().await;
        let endpoints = first(&config.endpoints);
        let skip_sts = config.skip_credentials_validation.as_ref_option() == Some(&true)
            && config.skip_requesting_account_id.as_ref_option() == Some(&true);
        if let Err(e) = clients::refuse_real_aws(
            endpoints.and_then(|e| e.efs.as_ref_option().map(String::as_str)),
            endpoints.and_then(|e| e.cloudwatch.as_ref_option().map(String::as_str)),
            endpoints.and_then(|e| e.sts.as_ref_option().map(String::as_str)),
            !skip_sts,
        ) {
            diags.root_error("Invalid provider configuration", e);
            return None;
        }
        let identity = identity::Settings {
            sts_region: config.sts_region.as_ref_option().cloned(),
            sts_endpoint: endpoints.and_then(|e| e.sts.as_ref_option().cloned()),
            skip_credentials_validation: config.skip_credentials_validation.as_ref_option()
                == Some(&true),
            skip_requesting_account_id: config.skip_requesting_account_id.as_ref_option()
                == Some(&true),
        };
        if let Err(e) = identity::account_id(&sdk, &identity).await {
            diags.root_error_short(e);
            return None;
        }
        let efs_endpoint = endpoints.and_then(|e| e.efs.as_ref_option().cloned());
        let cloudwatch_endpoint = endpoints.and_then(|e| e.cloudwatch.as_ref_option().cloned());
        let default_tags = first(&config.default_tags)
            .and_then(|d| d.tags.as_ref_option())
            .map(|tags| {
                tags.iter()
                    .filter_map(|(k, v)| v.as_ref_option().map(|v| (k.clone(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        self.shared.set(Configured {
            sdk,
            region,
            efs_endpoint,
            cloudwatch_endpoint,
            default_tags,
            clock: Default::default(),
        });
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(HashMap::from([
            (
                "efs_replication_configuration".to_string(),
                replication_configuration::ReplicationConfiguration::new(self.shared.clone())
                    .into(),
            ),
            (
                "efs_file_system".to_string(),
                file_system::FileSystemResource::new(self.shared.clone()).into(),
            ),
            (
                "cloudwatch_metric_alarm".to_string(),
                metric_alarm::MetricAlarmResource::new(self.shared.clone()).into(),
            ),
        ]))
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(HashMap::from([(
            "efs_file_system".to_string(),
            file_system_data::FileSystemData::new(self.shared.clone()).into(),
        )]))
    }
}

/// Go's `time.Time.String()` in UTC, which the real provider stores for `creation_time`:
/// `2026-11-21 17:13:00.702 +0000 UTC`.
pub fn go_time_string(t: &aws_sdk_efs::primitives::DateTime) -> String {
    let nanos = t.as_nanos();
    let system = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos.max(0) as u64);
    let rfc = humantime::format_rfc3339_nanos(system).to_string();
    // 2026-11-21T17:13:00.702000000Z
    let (date, rest) = rfc.split_once('T').unwrap_or((&rfc, ""));
    let time = rest.trim_end_matches('Z');
    let time = match time.split_once('.') {
        Some((hms, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                hms.to_string()
            } else {
                format!("{hms}.{frac}")
            }
        }
        None => time.to_string(),
    };
    format!("{date} {time} +0000 UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_time_is_formatted_like_go() {
        let t = aws_sdk_efs::primitives::DateTime::from_millis(1_795_283_972_702);
        assert_eq!(go_time_string(&t), "2026-11-21 17:59:32.702 +0000 UTC");
        let t = aws_sdk_efs::primitives::DateTime::from_secs(1_795_283_972);
        assert_eq!(go_time_string(&t), "2026-11-21 17:59:32 +0000 UTC");
    }
}
