//! `aws_efs_replication_configuration`, as the real provider implements it
//! (internal/service/efs/replication_configuration.go): every argument forces replacement; Create
//! waits for ENABLED (not for the first sync); Read drops the resource when AWS says
//! ReplicationNotFound or FileSystemNotFound; Delete deletes in the destination region, waits
//! until it is gone, then does the same in the source region; import by file-system id.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_efs::types::{
    DestinationToCreate, ReplicationConfigurationDescription, ReplicationStatus,
};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{NestedBlock, Schema};
use tf_provider::value::{self, Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::clients::{is_not_found, sdk_message, AwsClock, Configured, Shared};
use super::go_time_string;
use super::schema_util::*;
use super::wait::{self, Poll};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Destination {
    #[serde(default)]
    pub availability_zone_name: Value<String>,
    #[serde(default)]
    pub file_system_id: Value<String>,
    #[serde(default)]
    pub kms_key_id: Value<String>,
    #[serde(default)]
    pub region: Value<String>,
    #[serde(default)]
    pub status: Value<String>,
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Timeouts {
    #[serde(default)]
    pub create: Value<String>,
    #[serde(default)]
    pub delete: Value<String>,
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    #[serde(default)]
    pub id: Value<String>,
    #[serde(default)]
    pub creation_time: Value<String>,
    #[serde(default)]
    pub destination: Value<Vec<Value<Destination>>>,
    #[serde(default)]
    pub original_source_file_system_arn: Value<String>,
    #[serde(default)]
    pub source_file_system_arn: Value<String>,
    #[serde(default)]
    pub source_file_system_id: Value<String>,
    #[serde(default)]
    pub source_file_system_region: Value<String>,
    #[serde(default, with = "value::serde_as_vec")]
    pub timeouts: Value<Timeouts>,
    /// 6.x only (internal/provider/sdkv2/region.go): where the resource is managed.
    #[serde(default, skip_serializing_if = "not_6x")]
    pub region: Value<String>,
}

fn not_6x(_: &Value<String>) -> bool {
    crate::major() < 6
}

impl State {
    fn destination(&self) -> Option<&Destination> {
        self.destination
            .as_ref_option()
            .and_then(|v| v.first())
            .and_then(|d| d.as_ref_option())
    }

    fn timeout(&self, pick: impl Fn(&Timeouts) -> &Value<String>) -> Duration {
        let v = self
            .timeouts
            .as_ref_option()
            .and_then(|t| pick(t).as_ref_option());
        wait::timeout_or(v.map(String::as_str), DEFAULT_TIMEOUT)
    }
}

pub struct ReplicationConfiguration {
    shared: Arc<Shared>,
}

impl ReplicationConfiguration {
    pub fn new(shared: Arc<Shared>) -> Self {
        ReplicationConfiguration { shared }
    }
}

/// findReplicationConfigurationByID: the configuration of file system `id`, as seen from the
/// client's region; `None` when AWS says it does not exist.
async fn find_by_id(
    client: &aws_sdk_efs::Client,
    id: &str,
) -> Result<Option<ReplicationConfigurationDescription>, String> {
    let mut found = Vec::new();
    let mut pages = client
        .describe_replication_configurations()
        .file_system_id(id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => found.extend(p.replications().iter().cloned()),
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "reading EFS Replication Configuration ({id}): {}",
                    sdk_message(&e)
                ))
            }
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop().filter(|r| !r.destinations().is_empty())),
        n => Err(format!(
            "reading EFS Replication Configuration ({id}): expected 1 result, got {n}"
        )),
    }
}

fn status_of(r: &ReplicationConfigurationDescription) -> String {
    r.destinations()
        .first()
        .map(|d| d.status().as_str().to_string())
        .unwrap_or_default()
}

async fn wait_created(
    client: &aws_sdk_efs::Client,
    clock: &AwsClock,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    wait::until(&format!("EFS Replication Configuration ({id}) create"), timeout, clock, || async {
        match find_by_id(client, id).await? {
            None => Ok(Poll::Pending("(not found)".to_string())),
            Some(r) => match r.destinations().first().map(|d| d.status()) {
                Some(ReplicationStatus::Enabled) => Ok(Poll::Done(())),
                Some(ReplicationStatus::Enabling) => Ok(Poll::Pending("ENABLING".into())),
                _ => {
                    let d = r.destinations().first();
                    Err(format!(
                        "waiting for EFS Replication Configuration ({id}) create: unexpected state '{}', wanted target 'ENABLED'. last error: {}",
                        status_of(&r),
                        d.and_then(|d| d.status_message()).unwrap_or("%!s(<nil>)")
                    ))
                }
            },
        }
    })
    .await
}

/// waitReplicationConfigurationDeleted: DELETING until not found twice in a row
/// (`ContinuousTargetOccurence: 2`).
async fn wait_deleted(
    client: &aws_sdk_efs::Client,
    clock: &AwsClock,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    let gone_in_a_row = std::sync::atomic::AtomicU32::new(0);
    let gone = &gone_in_a_row;
    wait::until(&format!("EFS Replication Configuration ({id}) delete"), timeout, clock, || async move {
        use std::sync::atomic::Ordering::SeqCst;
        match find_by_id(client, id).await? {
            None if gone.fetch_add(1, SeqCst) + 1 >= 2 => Ok(Poll::Done(())),
            None => Ok(Poll::Pending("(gone once)".into())),
            Some(r) if status_of(&r) == "DELETING" => {
                gone.store(0, SeqCst);
                Ok(Poll::Pending("DELETING".into()))
            }
            Some(r) => Err(format!(
                "waiting for EFS Replication Configuration ({id}) delete: unexpected state '{}', wanted target ''",
                status_of(&r)
            )),
        }
    })
    .await
}

async fn delete_in(
    client: &aws_sdk_efs::Client,
    clock: &AwsClock,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    match client
        .delete_replication_configuration()
        .source_file_system_id(id)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => {
            return Err(format!(
                "deleting EFS Replication Configuration ({id}): {}",
                sdk_message(&e)
            ))
        }
    }
    wait_deleted(client, clock, id, timeout).await
}

/// resourceReplicationConfigurationRead: state from AWS, keeping what AWS does not return.
fn flatten(prior: &State, r: &ReplicationConfigurationDescription) -> State {
    let prior_dest = prior.destination();
    let destinations = r
        .destinations()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let kept = if i == 0 { prior_dest } else { None };
            Value::Value(Destination {
                availability_zone_name: kept
                    .map(|k| k.availability_zone_name.clone())
                    .unwrap_or_default(),
                kms_key_id: kept.map(|k| k.kms_key_id.clone()).unwrap_or_default(),
                file_system_id: Value::Value(d.file_system_id().to_string()),
                region: Value::Value(d.region().to_string()),
                status: Value::Value(d.status().as_str().to_string()),
            })
        })
        .collect();
    State {
        id: Value::Value(r.source_file_system_id().to_string()),
        creation_time: Value::Value(go_time_string(r.creation_time())),
        destination: Value::Value(destinations),
        original_source_file_system_arn: Value::Value(
            r.original_source_file_system_arn().to_string(),
        ),
        source_file_system_arn: Value::Value(r.source_file_system_arn().to_string()),
        source_file_system_id: Value::Value(r.source_file_system_id().to_string()),
        source_file_system_region: Value::Value(r.source_file_system_region().to_string()),
        timeouts: prior.timeouts.clone(),
        region: prior.region.clone(),
    }
}

/// 6.x `setRegionInState` / `defaultRegion`: the resource's region, the provider's when unset.
fn with_region(mut s: State, provider_region: &str) -> State {
    crate::region::with_default(&mut s.region, provider_region);
    s
}

/// The region a 6.x resource is managed in, when it says one (else the provider's).
fn region_of(s: &State) -> Option<&str> {
    crate::region::managed_in(&s.region)
}

fn unknown_computed(mut s: State) -> State {
    s.id = Value::Unknown;
    s.creation_time = Value::Unknown;
    s.original_source_file_system_arn = Value::Unknown;
    s.source_file_system_arn = Value::Unknown;
    s.source_file_system_region = Value::Unknown;
    if let Value::Value(list) = &mut s.destination {
        for d in list.iter_mut() {
            if let Value::Value(d) = d {
                d.status = Value::Unknown;
                if d.file_system_id.is_null() {
                    d.file_system_id = Value::Unknown;
                }
                if d.region.is_null() {
                    d.region = Value::Unknown;
                }
            }
        }
    }
    s
}

impl ReplicationConfiguration {
    async fn read_live(
        &self,
        diags: &mut Diagnostics,
        c: &Configured,
        prior: &State,
    ) -> Option<Option<State>> {
        let id = prior
            .id
            .as_ref_option()
            .or(prior.source_file_system_id.as_ref_option())?
            .clone();
        match find_by_id(&c.efs(region_of(prior)), &id).await {
            Ok(Some(r)) => Some(Some(with_region(flatten(prior, &r), &c.region))),
            Ok(None) => Some(None),
            Err(e) => {
                diags.root_error("reading EFS Replication Configuration", e);
                None
            }
        }
    }
}

#[async_trait]
impl Resource for ReplicationConfiguration {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let destination = block(
            "The destination (exactly one)",
            vec![
                (
                    "availability_zone_name",
                    string(Optional, "One Zone destination: its availability zone"),
                ),
                (
                    "file_system_id",
                    string(
                        OptionalComputed,
                        "An existing destination file system (its protection must be DISABLED)",
                    ),
                ),
                (
                    "kms_key_id",
                    string(Optional, "KMS key of a new destination"),
                ),
                ("region", string(OptionalComputed, "Destination region")),
                ("status", string(Computed, "Replication status")),
            ],
            vec![],
        );
        let timeouts = block(
            "Timeouts",
            vec![
                ("create", string(Optional, "default 20m")),
                ("delete", string(Optional, "default 20m")),
            ],
            vec![],
        );
        let mut attributes = vec![
            ("id", string(Computed, "The source file-system id")),
            (
                "creation_time",
                string(Computed, "When the configuration was created"),
            ),
            ("original_source_file_system_arn", string(Computed, "ARN")),
            ("source_file_system_arn", string(Computed, "ARN")),
            (
                "source_file_system_id",
                string(Required, "The source file system"),
            ),
            (
                "source_file_system_region",
                string(Computed, "Source region"),
            ),
        ];
        if crate::major() >= 6 {
            attributes.push((
                "region",
                string(
                    OptionalComputed,
                    "Region where this resource will be managed. Defaults to the Region set in the provider configuration",
                ),
            ));
        }
        Some(Schema {
            version: 0,
            block: block(
                "EFS replication configuration",
                attributes,
                vec![
                    ("destination", NestedBlock::List(destination)),
                    ("timeouts", NestedBlock::Optional(timeouts)),
                ],
            ),
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        if let Value::Value(list) = &config.destination {
            if list.len() != 1 {
                diags.error(
                    "Invalid destination",
                    format!(
                        "exactly one destination block is required, {} given",
                        list.len()
                    ),
                    AttributePath::new("destination"),
                );
            }
            if let Some(Value::Value(d)) = list.first() {
                if d.region.is_null() && d.availability_zone_name.is_null() {
                    diags.error(
                        "Missing required argument",
                        "one of `destination.0.availability_zone_name,destination.0.region` must be specified",
                        AttributePath::new("destination").index(0),
                    );
                }
                if let Value::Value(r) = &d.region {
                    if efs_dr_ids::Region::parse(r).is_err() {
                        diags.error(
                            "Invalid region",
                            format!("{r} is not a valid region name"),
                            AttributePath::new("destination")
                                .index(0)
                                .attribute("region"),
                        );
                    }
                }
            }
        } else if config.destination.is_null() {
            diags.error(
                "Insufficient destination blocks",
                "At least 1 \"destination\" blocks are required.",
                AttributePath::new("destination"),
            );
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        match self.read_live(diags, c, &state).await {
            Some(Some(s)) => Some((s, private_state)),
            Some(None) => {
                tracing::warn!("EFS Replication Configuration not found, removing from state");
                None
            }
            // An error: keep the state as it was (the diagnostics say why).
            None => Some((state, private_state)),
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
        Some((
            with_region(unknown_computed(proposed), &c.region),
            Value::Null,
        ))
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
        let provider_region = c.region.clone();
        // 6.x defaultRegion: an unset region is the provider's.
        let proposed = with_region(proposed, &provider_region);
        let mut replace = Vec::new();
        // 6.x forceNewIfRegionChanges: a new region replaces, except "" <-> the provider's.
        if crate::region::forces_new(&prior.region, &proposed.region, &provider_region) {
            replace.push(AttributePath::new("region"));
        }
        if proposed.source_file_system_id != prior.source_file_system_id {
            replace.push(AttributePath::new("source_file_system_id"));
        }
        let (p, q) = (prior.destination(), proposed.destination());
        let count = |s: &State| s.destination.as_ref_option().map(|v| v.len()).unwrap_or(0);
        if count(&prior) != count(&proposed) {
            replace.push(AttributePath::new("destination"));
        } else if let (Some(p), Some(q)) = (p, q) {
            for (name, a, b) in [
                (
                    "availability_zone_name",
                    &p.availability_zone_name,
                    &q.availability_zone_name,
                ),
                ("file_system_id", &p.file_system_id, &q.file_system_id),
                ("kms_key_id", &p.kms_key_id, &q.kms_key_id),
                ("region", &p.region, &q.region),
            ] {
                if a != b {
                    replace.push(AttributePath::new("destination").index(0).attribute(name));
                }
            }
        }
        if replace.is_empty() {
            // Nothing but timeouts (and, in 6.x, an unset region becoming the provider's) can
            // change without replacement.
            let mut planned = prior;
            planned.timeouts = proposed.timeouts;
            planned.region = proposed.region;
            Some((planned, prior_private, replace))
        } else {
            Some((unknown_computed(proposed), prior_private, replace))
        }
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
        let id = planned.source_file_system_id.as_ref_option()?.clone();
        let d = planned.destination()?;
        let known = |v: &Value<String>| v.as_ref_option().cloned();
        let dest = DestinationToCreate::builder()
            .set_region(known(&d.region))
            .set_availability_zone_name(known(&d.availability_zone_name))
            .set_file_system_id(known(&d.file_system_id))
            .set_kms_key_id(known(&d.kms_key_id))
            .build();
        let client = c.efs(region_of(&planned));
        if let Err(e) = client
            .create_replication_configuration()
            .source_file_system_id(&id)
            .destinations(dest)
            .send()
            .await
        {
            diags.root_error(
                "creating EFS Replication Configuration",
                format!(
                    "creating EFS Replication Configuration ({id}): {}",
                    sdk_message(&e)
                ),
            );
            return None;
        }
        if let Err(e) = wait_created(&client, &c.clock, &id, planned.timeout(|t| &t.create)).await {
            diags.root_error("waiting for EFS Replication Configuration", e);
            // Tainted: Terraform records the object so that it is replaced next time.
            let mut state = planned.clone();
            state.id = Value::Value(id);
            return Some((resolve_unknowns(state), private));
        }
        let mut prior = planned.clone();
        prior.id = Value::Value(id);
        match self.read_live(diags, c, &prior).await {
            Some(Some(s)) => Some((s, private)),
            _ => {
                diags.root_error_short(
                    "EFS Replication Configuration vanished right after creation",
                );
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        // Only timeouts (and 6.x's region filled in) reach here: everything else forces
        // replacement. 6.x: `schema.NoopContext`.
        Some((planned, private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let c = self.shared.get(diags)?;
        let id = state.id.as_ref_option()?.clone();
        let timeout = state.timeout(|t| &t.delete);
        // Deletion must be done from the destination's region first.
        let dest_region = state
            .destination()
            .and_then(|d| d.region.as_ref_option().cloned());
        if let Err(e) = delete_in(&c.efs(dest_region.as_deref()), &c.clock, &id, timeout).await {
            diags.root_error("deleting EFS Replication Configuration", e);
            return None;
        }
        if let Err(e) = delete_in(&c.efs(region_of(&state)), &c.clock, &id, timeout).await {
            diags.root_error("deleting EFS Replication Configuration", e);
            return None;
        }
        Some(())
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        // 6.x importRegion: "ID@region" sets the region; otherwise it is the provider's.
        let (id, region) = match id.rsplit_once('@') {
            Some((id, region)) if crate::major() >= 6 => {
                (id.to_string(), Value::Value(region.to_string()))
            }
            _ => (id, Value::Null),
        };
        let c = self.shared.get(diags)?;
        Some((
            with_region(
                State {
                    id: Value::Value(id),
                    region,
                    ..State::default()
                },
                &c.region,
            ),
            Value::Null,
        ))
    }
}

/// A state may not keep unknown values after apply: unknown computed values become null.
fn resolve_unknowns(mut s: State) -> State {
    let fix = |v: &mut Value<String>| {
        if matches!(v, Value::Unknown) {
            *v = Value::Null;
        }
    };
    fix(&mut s.creation_time);
    fix(&mut s.original_source_file_system_arn);
    fix(&mut s.source_file_system_arn);
    fix(&mut s.source_file_system_region);
    if let Value::Value(list) = &mut s.destination {
        for d in list.iter_mut() {
            if let Value::Value(d) = d {
                fix(&mut d.status);
                fix(&mut d.file_system_id);
                fix(&mut d.region);
            }
        }
    }
    s
}
