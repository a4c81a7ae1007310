//! The data source `aws_efs_file_system`: one file system by id, by creation token, or by tags.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{DataSource, Diagnostics};

use super::clients::{sdk_message, Shared};
use super::file_system::{dns_name, plain_tags, tag_map, TagMap};
use super::schema_util::*;

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProtectionObject {
    #[serde(default)]
    pub replication_overwrite: Value<String>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub id: Value<String>,
    #[serde(default)]
    pub file_system_id: Value<String>,
    #[serde(default)]
    pub creation_token: Value<String>,
    #[serde(default)]
    pub tags: TagMap,
    #[serde(default)]
    pub arn: Value<String>,
    #[serde(default)]
    pub availability_zone_name: Value<String>,
    #[serde(default)]
    pub dns_name: Value<String>,
    #[serde(default)]
    pub encrypted: Value<bool>,
    #[serde(default)]
    pub kms_key_id: Value<String>,
    #[serde(default)]
    pub name: Value<String>,
    #[serde(default)]
    pub performance_mode: Value<String>,
    #[serde(default)]
    pub throughput_mode: Value<String>,
    #[serde(default)]
    pub size_in_bytes: Value<i64>,
    #[serde(default)]
    pub protection: Value<Vec<Value<ProtectionObject>>>,
}

pub struct FileSystemData {
    shared: Arc<Shared>,
}

impl FileSystemData {
    pub fn new(shared: Arc<Shared>) -> Self {
        FileSystemData { shared }
    }
}

#[async_trait]
impl DataSource for FileSystemData {
    type State<'a> = State;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 0,
            block: block(
                "An EFS file system",
                vec![
                    ("id", string(Computed, "File-system id")),
                    ("file_system_id", string(OptionalComputed, "Id to look up")),
                    (
                        "creation_token",
                        string(OptionalComputed, "Creation token to look up"),
                    ),
                    (
                        "tags",
                        string_map(OptionalComputed, "Tags the file system must have"),
                    ),
                    ("arn", string(Computed, "ARN")),
                    ("availability_zone_name", string(Computed, "One Zone: zone")),
                    ("dns_name", string(Computed, "DNS name")),
                    ("encrypted", boolean(Computed, "Encrypted")),
                    ("kms_key_id", string(Computed, "KMS key")),
                    ("name", string(Computed, "Name tag")),
                    ("performance_mode", string(Computed, "Performance mode")),
                    ("throughput_mode", string(Computed, "Throughput mode")),
                    (
                        "size_in_bytes",
                        attr(AttributeType::Number, Computed, "Metered size"),
                    ),
                    (
                        "protection",
                        attr(
                            AttributeType::List(Box::new(AttributeType::Object(HashMap::from([
                                ("replication_overwrite".to_string(), AttributeType::String),
                            ])))),
                            Computed,
                            "Replication overwrite protection: ENABLED, DISABLED or REPLICATING",
                        ),
                    ),
                ],
                vec![],
            ),
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let c = self.shared.get(diags)?;
        let client = c.efs(None);
        let mut req = client.describe_file_systems();
        if let Some(id) = config.file_system_id.as_ref_option() {
            req = req.file_system_id(id);
        }
        if let Some(token) = config.creation_token.as_ref_option() {
            req = req.creation_token(token);
        }
        let found = match req.send().await {
            Ok(out) => out.file_systems().to_vec(),
            Err(e) => {
                diags.root_error("reading EFS File System", sdk_message(&e));
                return None;
            }
        };
        let wanted = plain_tags(&config.tags);
        let matching: Vec<_> = found
            .into_iter()
            .filter(|fs| {
                let have = plain_tags(&tag_map(fs.tags()));
                wanted.iter().all(|(k, v)| have.get(k) == Some(v))
            })
            .collect();
        let fs = match matching.as_slice() {
            [one] => one.clone(),
            [] => {
                diags.root_error(
                    "reading EFS File System",
                    "no matching EFS File System found",
                );
                return None;
            }
            many => {
                diags.root_error(
                    "reading EFS File System",
                    format!("{} EFS File Systems matched; use additional constraints to reduce matches to a single EFS File System", many.len()),
                );
                return None;
            }
        };
        let opt = |v: Option<&str>| v.map(|s| Value::Value(s.to_string())).unwrap_or_default();
        Some(State {
            id: Value::Value(fs.file_system_id().to_string()),
            file_system_id: Value::Value(fs.file_system_id().to_string()),
            creation_token: Value::Value(fs.creation_token().to_string()),
            tags: tag_map(fs.tags()),
            arn: opt(fs.file_system_arn()),
            availability_zone_name: opt(fs.availability_zone_name()),
            dns_name: Value::Value(dns_name(fs.file_system_id(), &c.region)),
            encrypted: Value::Value(fs.encrypted().unwrap_or(false)),
            kms_key_id: opt(fs.kms_key_id()),
            name: opt(fs.name()),
            performance_mode: Value::Value(fs.performance_mode().as_str().to_string()),
            throughput_mode: opt(fs.throughput_mode().map(|t| t.as_str())),
            size_in_bytes: Value::Value(fs.size_in_bytes().map(|s| s.value()).unwrap_or(0)),
            protection: Value::Value(vec![Value::Value(ProtectionObject {
                replication_overwrite: opt(fs
                    .file_system_protection()
                    .and_then(|p| p.replication_overwrite_protection())
                    .map(|p| p.as_str())),
            })]),
        })
    }
}
