//! `aws_efs_file_system`, the part the demo root uses: create (waits for `available`), tags and
//! `protection { replication_overwrite }` updated in place, everything else forces replacement,
//! delete (waits until gone), import by id.
//!
//! Protection is read back as AWS reports it, REPLICATING included, exactly as the real provider
//! does (the perpetual diff of terraform-provider-aws issue 36811; the workaround is
//! `lifecycle { ignore_changes = [protection] }`). One difference: when the configuration has no
//! `protection` block the stand-in leaves it out of the state, where the real provider's legacy
//! type system tolerates a computed block.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_efs::types::{FileSystemDescription, ReplicationOverwriteProtection, Tag};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, NestedBlock, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::clients::{error_code, sdk_message, AwsClock, Configured, Shared};
use super::schema_util::*;
use super::wait::{self, Poll};

pub type TagMap = Value<BTreeMap<String, Value<String>>>;

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Protection {
    #[serde(default)]
    pub replication_overwrite: Value<String>,
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    #[serde(default)]
    pub id: Value<String>,
    #[serde(default)]
    pub arn: Value<String>,
    #[serde(default)]
    pub availability_zone_id: Value<String>,
    #[serde(default)]
    pub availability_zone_name: Value<String>,
    #[serde(default)]
    pub creation_token: Value<String>,
    #[serde(default)]
    pub dns_name: Value<String>,
    #[serde(default)]
    pub encrypted: Value<bool>,
    #[serde(default)]
    pub kms_key_id: Value<String>,
    #[serde(default)]
    pub name: Value<String>,
    #[serde(default)]
    pub number_of_mount_targets: Value<i64>,
    #[serde(default)]
    pub owner_id: Value<String>,
    #[serde(default)]
    pub performance_mode: Value<String>,
    #[serde(default)]
    pub throughput_mode: Value<String>,
    #[serde(default)]
    pub tags: TagMap,
    #[serde(default)]
    pub tags_all: TagMap,
    #[serde(default)]
    pub protection: Value<Vec<Value<Protection>>>,
}

pub fn tag_map(tags: &[Tag]) -> TagMap {
    Value::Value(
        tags.iter()
            .map(|t| (t.key().to_string(), Value::Value(t.value().to_string())))
            .collect(),
    )
}

pub fn plain_tags(tags: &TagMap) -> BTreeMap<String, String> {
    tags.as_ref_option()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_ref_option().map(|v| (k.clone(), v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn configured_protection(s: &State) -> Option<String> {
    s.protection
        .as_ref_option()
        .and_then(|v| v.first())
        .and_then(|p| p.as_ref_option())
        .and_then(|p| p.replication_overwrite.as_ref_option().cloned())
}

pub fn dns_name(id: &str, region: &str) -> String {
    format!("{id}.efs.{region}.amazonaws.com")
}

pub async fn find_by_id(
    client: &aws_sdk_efs::Client,
    id: &str,
) -> Result<Option<FileSystemDescription>, String> {
    match client
        .describe_file_systems()
        .file_system_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.file_systems().first().cloned()),
        Err(e) if error_code(&e) == Some("FileSystemNotFound") => Ok(None),
        Err(e) => Err(format!(
            "reading EFS File System ({id}): {}",
            sdk_message(&e)
        )),
    }
}

const FILE_SYSTEM_TIMEOUT: Duration = Duration::from_secs(600);

/// waitFileSystemAvailable: `creating` until `available`.
async fn wait_available(
    client: &aws_sdk_efs::Client,
    clock: &AwsClock,
    id: &str,
) -> Result<(), String> {
    wait::until(
        &format!("EFS File System ({id}) create"),
        FILE_SYSTEM_TIMEOUT,
        clock,
        || async {
            match find_by_id(client, id).await? {
                Some(fs) if fs.life_cycle_state().as_str() == "available" => Ok(Poll::Done(())),
                Some(fs) => Ok(Poll::Pending(fs.life_cycle_state().as_str().to_string())),
                None => Ok(Poll::Pending("(not found)".into())),
            }
        },
    )
    .await
}

/// waitFileSystemDeleted: `deleting` until not found.
async fn wait_deleted(
    client: &aws_sdk_efs::Client,
    clock: &AwsClock,
    id: &str,
) -> Result<(), String> {
    wait::until(
        &format!("EFS File System ({id}) delete"),
        FILE_SYSTEM_TIMEOUT,
        clock,
        || async {
            match find_by_id(client, id).await? {
                None => Ok(Poll::Done(())),
                Some(fs) => Ok(Poll::Pending(fs.life_cycle_state().as_str().to_string())),
            }
        },
    )
    .await
}

pub struct FileSystemResource {
    shared: Arc<Shared>,
}

impl FileSystemResource {
    pub fn new(shared: Arc<Shared>) -> Self {
        FileSystemResource { shared }
    }
}

fn flatten(c: &Configured, prior: &State, fs: &FileSystemDescription) -> State {
    let protection = if prior
        .protection
        .as_ref_option()
        .is_some_and(|v| !v.is_empty())
    {
        let value = fs
            .file_system_protection()
            .and_then(|p| p.replication_overwrite_protection())
            .map(|p| p.as_str().to_string());
        Value::Value(vec![Value::Value(Protection {
            replication_overwrite: value.map(Value::Value).unwrap_or_default(),
        })])
    } else {
        prior.protection.clone()
    };
    let all = tag_map(fs.tags());
    let mut own = plain_tags(&all);
    for (k, v) in &c.default_tags {
        if own.get(k) == Some(v) && !plain_tags(&prior.tags).contains_key(k) {
            own.remove(k);
        }
    }
    let opt = |v: Option<&str>| v.map(|s| Value::Value(s.to_string())).unwrap_or_default();
    State {
        id: Value::Value(fs.file_system_id().to_string()),
        arn: opt(fs.file_system_arn()),
        availability_zone_id: opt(fs.availability_zone_id()),
        availability_zone_name: opt(fs.availability_zone_name()),
        creation_token: Value::Value(fs.creation_token().to_string()),
        dns_name: Value::Value(dns_name(fs.file_system_id(), &c.region)),
        encrypted: Value::Value(fs.encrypted().unwrap_or(false)),
        kms_key_id: opt(fs.kms_key_id()),
        name: opt(fs.name()),
        number_of_mount_targets: Value::Value(fs.number_of_mount_targets() as i64),
        owner_id: Value::Value(fs.owner_id().to_string()),
        performance_mode: Value::Value(fs.performance_mode().as_str().to_string()),
        throughput_mode: opt(fs.throughput_mode().map(|t| t.as_str())),
        tags: if own.is_empty() && prior.tags.is_null() {
            Value::Null
        } else {
            Value::Value(own.into_iter().map(|(k, v)| (k, Value::Value(v))).collect())
        },
        tags_all: all,
        protection,
    }
}

fn merged_tags(c: &Configured, s: &State) -> BTreeMap<String, String> {
    let mut all = c.default_tags.clone();
    all.extend(plain_tags(&s.tags));
    all
}

async fn set_protection(client: &aws_sdk_efs::Client, id: &str, value: &str) -> Result<(), String> {
    client
        .update_file_system_protection()
        .file_system_id(id)
        .replication_overwrite_protection(ReplicationOverwriteProtection::from(value))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "updating EFS File System ({id}) protection: {}",
                sdk_message(&e)
            )
        })
}

impl FileSystemResource {
    async fn read_live(
        &self,
        diags: &mut Diagnostics,
        c: &Configured,
        prior: &State,
    ) -> Option<Option<State>> {
        let id = prior.id.as_ref_option()?.clone();
        match find_by_id(&c.efs(None), &id).await {
            Ok(Some(fs)) if fs.life_cycle_state().as_str() != "deleted" => {
                Some(Some(flatten(c, prior, &fs)))
            }
            Ok(_) => Some(None),
            Err(e) => {
                diags.root_error("reading EFS File System", e);
                None
            }
        }
    }
}

#[async_trait]
impl Resource for FileSystemResource {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let protection = block(
            "Replication overwrite protection",
            vec![(
                "replication_overwrite",
                string(OptionalComputed, "ENABLED or DISABLED"),
            )],
            vec![],
        );
        Some(Schema {
            version: 0,
            block: block(
                "EFS file system",
                vec![
                    ("id", string(Computed, "File-system id")),
                    ("arn", string(Computed, "ARN")),
                    (
                        "availability_zone_id",
                        string(Computed, "One Zone: zone id"),
                    ),
                    (
                        "availability_zone_name",
                        string(OptionalComputed, "One Zone: zone name"),
                    ),
                    (
                        "creation_token",
                        string(OptionalComputed, "Idempotency token"),
                    ),
                    ("dns_name", string(Computed, "DNS name")),
                    ("encrypted", boolean(OptionalComputed, "Encrypted at rest")),
                    ("kms_key_id", string(OptionalComputed, "KMS key")),
                    ("name", string(Computed, "The Name tag")),
                    (
                        "number_of_mount_targets",
                        attr(AttributeType::Number, Computed, "Mount targets"),
                    ),
                    ("owner_id", string(Computed, "Account id")),
                    (
                        "performance_mode",
                        string(OptionalComputed, "generalPurpose or maxIO"),
                    ),
                    (
                        "throughput_mode",
                        string(OptionalComputed, "bursting, provisioned or elastic"),
                    ),
                    ("tags", string_map(Optional, "Tags")),
                    (
                        "tags_all",
                        string_map(Computed, "Tags including the provider's default_tags"),
                    ),
                ],
                vec![("protection", NestedBlock::List(protection))],
            ),
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        if let Some(v) = configured_protection(&config) {
            if v != "ENABLED" && v != "DISABLED" {
                diags.error(
                    "Invalid value",
                    format!("expected protection.0.replication_overwrite to be one of [\"DISABLED\" \"ENABLED\"], got {v}"),
                    AttributePath::new("protection").index(0).attribute("replication_overwrite"),
                );
            }
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        match self.read_live(diags, c, &state).await {
            Some(Some(s)) => Some((s, private)),
            Some(None) => None,
            None => Some((state, private)),
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        let mut s = proposed;
        let tags_all = merged_tags(c, &s);
        for v in [
            &mut s.id,
            &mut s.arn,
            &mut s.availability_zone_id,
            &mut s.dns_name,
            &mut s.owner_id,
        ] {
            *v = Value::Unknown;
        }
        for v in [
            &mut s.availability_zone_name,
            &mut s.creation_token,
            &mut s.kms_key_id,
            &mut s.performance_mode,
            &mut s.throughput_mode,
        ] {
            if v.is_null() {
                *v = Value::Unknown;
            }
        }
        if s.encrypted.is_null() {
            s.encrypted = Value::Unknown;
        }
        s.name = tags_all
            .get("Name")
            .map(|n| Value::Value(n.clone()))
            .unwrap_or(Value::Unknown);
        s.number_of_mount_targets = Value::Unknown;
        s.tags_all = Value::Value(
            tags_all
                .into_iter()
                .map(|(k, v)| (k, Value::Value(v)))
                .collect(),
        );
        if let Value::Value(list) = &mut s.protection {
            for p in list.iter_mut() {
                if let Value::Value(p) = p {
                    if p.replication_overwrite.is_null() {
                        p.replication_overwrite = Value::Unknown;
                    }
                }
            }
        }
        Some((s, Value::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let c = self.shared.get(diags)?;
        let mut replace = Vec::new();
        for (name, a, b) in [
            (
                "availability_zone_name",
                &prior.availability_zone_name,
                &proposed.availability_zone_name,
            ),
            (
                "creation_token",
                &prior.creation_token,
                &proposed.creation_token,
            ),
            ("kms_key_id", &prior.kms_key_id, &proposed.kms_key_id),
            (
                "performance_mode",
                &prior.performance_mode,
                &proposed.performance_mode,
            ),
            (
                "throughput_mode",
                &prior.throughput_mode,
                &proposed.throughput_mode,
            ),
        ] {
            if a != b {
                replace.push(AttributePath::new(name));
            }
        }
        if prior.encrypted != proposed.encrypted {
            replace.push(AttributePath::new("encrypted"));
        }
        let mut planned = proposed;
        let tags_all = merged_tags(c, &planned);
        planned.tags_all = Value::Value(
            tags_all
                .iter()
                .map(|(k, v)| (k.clone(), Value::Value(v.clone())))
                .collect(),
        );
        planned.name = tags_all
            .get("Name")
            .map(|n| Value::Value(n.clone()))
            .unwrap_or_default();
        Some((planned, prior_private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(prior_private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        let client = c.efs(None);
        let token = planned
            .creation_token
            .as_ref_option()
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "terraform-{:x}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0)
                )
            });
        let tags: Vec<Tag> = merged_tags(c, &planned)
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let known = |v: &Value<String>| v.as_ref_option().cloned();
        let created = client
            .create_file_system()
            .creation_token(&token)
            .set_tags(Some(tags))
            .set_encrypted(planned.encrypted.as_ref_option().copied())
            .set_kms_key_id(known(&planned.kms_key_id))
            .set_performance_mode(known(&planned.performance_mode).map(|p| p.as_str().into()))
            .set_throughput_mode(known(&planned.throughput_mode).map(|p| p.as_str().into()))
            .set_availability_zone_name(known(&planned.availability_zone_name))
            .send()
            .await;
        let id = match created {
            Ok(out) => out.file_system_id().to_string(),
            Err(e) => {
                diags.root_error(
                    "creating EFS File System",
                    format!("creating EFS File System ({token}): {}", sdk_message(&e)),
                );
                return None;
            }
        };
        let waited = wait_available(&client, &c.clock, &id).await;
        if let Err(e) = waited {
            diags.root_error("waiting for EFS File System", e);
        }
        if let Some(p) = configured_protection(&planned) {
            if p == "DISABLED" {
                if let Err(e) = set_protection(&client, &id, &p).await {
                    diags.root_error("updating EFS File System protection", e);
                }
            }
        }
        let mut prior = planned.clone();
        prior.id = Value::Value(id.clone());
        match self.read_live(diags, c, &prior).await {
            Some(Some(s)) => Some((s, private)),
            _ => {
                diags.root_error_short(format!(
                    "EFS File System ({id}) vanished right after creation"
                ));
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        let client = c.efs(None);
        let id = prior.id.as_ref_option()?.clone();
        let (old, new) = (plain_tags(&prior.tags_all), merged_tags(c, &planned));
        let removed: Vec<String> = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect();
        if !removed.is_empty() {
            if let Err(e) = client
                .untag_resource()
                .resource_id(&id)
                .set_tag_keys(Some(removed))
                .send()
                .await
            {
                diags.root_error("untagging EFS File System", sdk_message(&e));
                return None;
            }
        }
        let changed: Vec<Tag> = new
            .iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        if !changed.is_empty() {
            if let Err(e) = client
                .tag_resource()
                .resource_id(&id)
                .set_tags(Some(changed))
                .send()
                .await
            {
                diags.root_error("tagging EFS File System", sdk_message(&e));
                return None;
            }
        }
        if let Some(p) = configured_protection(&planned) {
            if configured_protection(&prior).as_deref() != Some(p.as_str()) {
                if let Err(e) = set_protection(&client, &id, &p).await {
                    diags.root_error("updating EFS File System protection", e);
                    return None;
                }
            }
        }
        match self.read_live(diags, c, &planned).await {
            Some(Some(s)) => Some((s, private)),
            _ => None,
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let c = self.shared.get(diags)?;
        let client = c.efs(None);
        let id = state.id.as_ref_option()?.clone();
        match client.delete_file_system().file_system_id(&id).send().await {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("FileSystemNotFound") => return Some(()),
            Err(e) => {
                diags.root_error(
                    "deleting EFS File System",
                    format!("deleting EFS File System ({id}): {}", sdk_message(&e)),
                );
                return None;
            }
        }
        let waited = wait_deleted(&client, &c.clock, &id).await;
        if let Err(e) = waited {
            diags.root_error("waiting for EFS File System delete", e);
            return None;
        }
        Some(())
    }

    async fn import<'a>(
        &self,
        _diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        Some((
            State {
                id: Value::Value(id),
                ..State::default()
            },
            Value::Null,
        ))
    }
}
