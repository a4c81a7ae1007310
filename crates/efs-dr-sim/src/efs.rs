//! Amazon EFS over its real wire protocol (restJson1, API version 2015-02-01), as described by
//! the botocore service model: paths, query names, JSON member names, error codes and statuses.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::model::{
    file_system_arn, DeletionMode, FileSystem, NewDestination, NewFileSystem, Replication, Tag,
    World,
};
use super::settings::SimSettings;
use super::state::{region_from_headers, SimState};

pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route(
            "/2015-02-01/file-systems",
            post(create_file_system).get(describe_file_systems),
        )
        .route(
            "/2015-02-01/file-systems/replication-configurations",
            get(describe_replication_configurations),
        )
        .route(
            "/2015-02-01/file-systems/{id}",
            delete(delete_file_system).put(update_file_system),
        )
        .route(
            "/2015-02-01/file-systems/{id}/protection",
            put(update_file_system_protection),
        )
        .route(
            "/2015-02-01/file-systems/{id}/replication-configuration",
            post(create_replication_configuration).delete(delete_replication_configuration),
        )
        .route(
            "/2015-02-01/mount-targets",
            post(create_mount_target).get(describe_mount_targets),
        )
        .route(
            "/2015-02-01/mount-targets/{id}",
            delete(delete_mount_target),
        )
        .route(
            "/2015-02-01/resource-tags/{id}",
            post(tag_resource)
                .get(list_tags_for_resource)
                .delete(untag_resource),
        )
}

/// The restJson1 error response: status, `x-amzn-ErrorType`, and `{"ErrorCode", "Message"}`.
pub fn error_response(e: &ApiError) -> Response {
    let mut body = Map::new();
    body.insert("ErrorCode".into(), json!(e.code));
    body.insert("Message".into(), json!(e.message));
    for (k, v) in &e.extra {
        body.insert((*k).into(), json!(v));
    }
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            ("x-amzn-ErrorType", e.code.to_string()),
            ("content-type", "application/json".to_string()),
        ],
        Value::Object(body).to_string(),
    )
        .into_response()
}

/// Runs one EFS operation: region from the signature, injected faults, the world advanced to
/// now, then `f`; renders its JSON (or no body for 204).
fn call(
    sim: &SimState,
    headers: &HeaderMap,
    operation: &'static str,
    file_system: Option<&str>,
    mutates: bool,
    status: StatusCode,
    f: impl FnOnce(&mut World, &SimSettings, &str) -> Result<Value, ApiError>,
) -> Response {
    let Some(region) = region_from_headers(headers) else {
        return error_response(&ApiError::new(
            403,
            "MissingAuthenticationTokenException",
            "Requests must be signed with AWS SigV4 (any credentials work with the simulator); the region comes from the signature's credential scope",
        ));
    };
    tracing::debug!(operation, %region, "efs call");
    // IAM (--iam-policy): the file system the call names, else every file system of the
    // region (a listing).
    let resource = file_system_arn(
        &sim.settings.account_id,
        &region,
        file_system.unwrap_or("*"),
    );
    let action = format!("elasticfilesystem:{operation}");
    if let Err(e) = sim.authorize(&action, &resource, &[("aws:RequestedRegion", &region)]) {
        return error_response(&e);
    }
    match sim.api(&region, operation, mutates, |w, s| f(w, s, &region)) {
        Ok(_) if status == StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        Ok(v) => (
            status,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => {
            tracing::debug!(operation, %region, error = %e, "efs call failed");
            error_response(&e)
        }
    }
}

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid: {e}")))
}

/// Query parameters in order, repeated names kept.
fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn query_one<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn query_max(pairs: &[(String, String)], name: &str, default: usize) -> Result<usize, ApiError> {
    match query_one(pairs, name) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "{name} must be a positive integer, not '{v}'"
            ))),
        },
    }
}

/// A page of `items` starting at the position that `token` names.
fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    max: usize,
    token_name: &str,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::bad_request(format!("{token_name} '{t}' is not valid")))?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

pub fn secs(t: i64) -> Value {
    json!(t as f64 / 1000.0)
}

/// Removes null members, which AWS never sends.
fn compact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, compact(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(compact).collect()),
        other => other,
    }
}

fn file_system_json(w: &World, s: &SimSettings, fs: &FileSystem) -> Value {
    let mount_targets = w
        .mount_targets
        .values()
        .filter(|m| m.file_system_id == fs.id)
        .count();
    let size = fs.size_bytes();
    compact(json!({
        "OwnerId": s.account_id,
        "CreationToken": fs.creation_token,
        "FileSystemId": fs.id,
        "FileSystemArn": file_system_arn(&s.account_id, &fs.region, &fs.id),
        "CreationTime": secs(fs.creation_time),
        "LifeCycleState": fs.lifecycle.as_aws(),
        "Name": fs.name(),
        "NumberOfMountTargets": mount_targets,
        "SizeInBytes": {
            "Value": size,
            "Timestamp": secs(w.now),
            "ValueInIA": 0,
            "ValueInStandard": size,
            "ValueInArchive": 0,
        },
        "PerformanceMode": fs.performance_mode,
        "Encrypted": fs.encrypted,
        "KmsKeyId": fs.kms_key_id,
        "ThroughputMode": fs.throughput_mode,
        "ProvisionedThroughputInMibps": fs.provisioned_throughput,
        "AvailabilityZoneName": fs.availability_zone_name,
        "AvailabilityZoneId": fs.availability_zone_name.as_ref().map(|az| az_id(az)),
        "Tags": fs.tags,
        "FileSystemProtection": { "ReplicationOverwriteProtection": w.protection_of(fs) },
    }))
}

fn az_id(az: &str) -> String {
    let letter = az.chars().last().unwrap_or('a');
    let n = (letter as u8).saturating_sub(b'a') + 1;
    let prefix: String = az
        .split('-')
        .map(|p| p.chars().next().unwrap_or('x'))
        .collect();
    format!("{prefix}-az{n}")
}

/// A replication as read in `region` (the status differs while one side is being deleted).
pub fn replication_json(s: &SimSettings, r: &Replication, region: &str) -> Value {
    let (status, message) = r.status_in(region);
    compact(json!({
        "SourceFileSystemId": r.source_id,
        "SourceFileSystemRegion": r.source_region,
        "SourceFileSystemArn": file_system_arn(&s.account_id, &r.source_region, &r.source_id),
        "OriginalSourceFileSystemArn": r.original_source_arn,
        "CreationTime": secs(r.creation_time),
        "SourceFileSystemOwnerId": s.account_id,
        "Destinations": [{
            "Status": status,
            "FileSystemId": r.destination_id,
            "Region": r.destination_region,
            "LastReplicatedTimestamp": r.last_replicated.map(secs),
            "OwnerId": s.account_id,
            "StatusMessage": message,
        }],
    }))
}

// ----- file systems ---------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateFileSystemInput {
    creation_token: Option<String>,
    performance_mode: Option<String>,
    encrypted: Option<bool>,
    kms_key_id: Option<String>,
    throughput_mode: Option<String>,
    provisioned_throughput_in_mibps: Option<f64>,
    availability_zone_name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

async fn create_file_system(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    call(
        &sim,
        &headers,
        "CreateFileSystem",
        None,
        true,
        StatusCode::CREATED,
        |w, s, region| {
            let input: CreateFileSystemInput = parse_body(&body)?;
            let Some(creation_token) = input.creation_token else {
                return Err(ApiError::bad_request("CreationToken is required"));
            };
            let id = w.create_file_system(
                region,
                NewFileSystem {
                    creation_token,
                    performance_mode: input.performance_mode,
                    throughput_mode: input.throughput_mode,
                    provisioned_throughput: input.provisioned_throughput_in_mibps,
                    encrypted: input.encrypted,
                    kms_key_id: input.kms_key_id,
                    availability_zone_name: input.availability_zone_name,
                    tags: input.tags,
                },
                s,
            )?;
            Ok(file_system_json(w, s, &w.file_systems[&id]))
        },
    )
}

async fn describe_file_systems(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    call(
        &sim,
        &headers,
        "DescribeFileSystems",
        query_one(&query_pairs(&raw), "FileSystemId"),
        false,
        StatusCode::OK,
        |w, s, region| {
            let q = query_pairs(&raw);
            let max = query_max(&q, "MaxItems", 100)?;
            let marker = query_one(&q, "Marker");
            let list: Vec<&FileSystem> = match (
                query_one(&q, "FileSystemId"),
                query_one(&q, "CreationToken"),
            ) {
                (Some(id), _) => vec![w.file_system_in(region, id)?],
                (None, Some(token)) => w
                    .file_systems
                    .values()
                    .filter(|f| f.region == region && f.creation_token == token)
                    .collect(),
                (None, None) => w
                    .file_systems
                    .values()
                    .filter(|f| f.region == region)
                    .collect(),
            };
            let (items, next) = page(list, marker, max, "Marker")?;
            let items: Vec<Value> = items.iter().map(|fs| file_system_json(w, s, fs)).collect();
            Ok(compact(
                json!({ "Marker": marker, "FileSystems": items, "NextMarker": next }),
            ))
        },
    )
}

async fn delete_file_system(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    call(
        &sim,
        &headers,
        "DeleteFileSystem",
        Some(&id),
        true,
        StatusCode::NO_CONTENT,
        |w, s, region| {
            w.delete_file_system(region, &id, s)?;
            Ok(Value::Null)
        },
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateFileSystemInput {
    throughput_mode: Option<String>,
    provisioned_throughput_in_mibps: Option<f64>,
}

/// UpdateFileSystem (botocore: PUT, 202 Accepted, the file system's description): its
/// throughput mode and provisioned throughput.
async fn update_file_system(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    call(
        &sim,
        &headers,
        "UpdateFileSystem",
        Some(&id),
        true,
        StatusCode::ACCEPTED,
        |w, s, region| {
            let input: UpdateFileSystemInput = parse_body(&body)?;
            w.update_throughput(
                region,
                &id,
                input.throughput_mode,
                input.provisioned_throughput_in_mibps,
            )?;
            Ok(file_system_json(w, s, w.file_system_in(region, &id)?))
        },
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateProtectionInput {
    replication_overwrite_protection: Option<String>,
}

async fn update_file_system_protection(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    call(
        &sim,
        &headers,
        "UpdateFileSystemProtection",
        Some(&id),
        true,
        StatusCode::OK,
        |w, _, region| {
            let input: UpdateProtectionInput = parse_body(&body)?;
            let value = input.replication_overwrite_protection.ok_or_else(|| {
                ApiError::bad_request("ReplicationOverwriteProtection is required")
            })?;
            let now = w.update_protection(region, &id, &value)?;
            Ok(json!({ "ReplicationOverwriteProtection": now }))
        },
    )
}

// ----- tags -----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResourceInput {
    tags: Option<Vec<Tag>>,
}

async fn tag_resource(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    call(
        &sim,
        &headers,
        "TagResource",
        Some(&id),
        true,
        StatusCode::OK,
        |w, _, region| {
            let input: TagResourceInput = parse_body(&body)?;
            let tags = input
                .tags
                .ok_or_else(|| ApiError::bad_request("Tags is required"))?;
            w.tag_resource(region, &id, tags)?;
            Ok(json!({}))
        },
    )
}

async fn untag_resource(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    call(
        &sim,
        &headers,
        "UntagResource",
        Some(&id),
        true,
        StatusCode::OK,
        |w, _, region| {
            let keys: Vec<String> = query_pairs(&raw)
                .into_iter()
                .filter(|(k, _)| k == "tagKeys")
                .map(|(_, v)| v)
                .collect();
            if keys.is_empty() {
                return Err(ApiError::bad_request("tagKeys is required"));
            }
            w.untag_resource(region, &id, &keys)?;
            Ok(json!({}))
        },
    )
}

async fn list_tags_for_resource(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    call(
        &sim,
        &headers,
        "ListTagsForResource",
        Some(&id),
        false,
        StatusCode::OK,
        |w, _, region| {
            let q = query_pairs(&raw);
            let max = query_max(&q, "MaxResults", 100)?;
            let fs = w.file_system_in(region, &id)?;
            let (tags, next) = page(
                fs.tags.clone(),
                query_one(&q, "NextToken"),
                max,
                "NextToken",
            )?;
            Ok(compact(json!({ "Tags": tags, "NextToken": next })))
        },
    )
}

// ----- mount targets --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateMountTargetInput {
    file_system_id: Option<String>,
    subnet_id: Option<String>,
    ip_address: Option<String>,
    ipv6_address: Option<String>,
    ip_address_type: Option<String>,
}

fn mount_target_json(s: &SimSettings, mt: &super::model::MountTarget) -> Value {
    json!({
        "OwnerId": s.account_id,
        "MountTargetId": mt.id,
        "FileSystemId": mt.file_system_id,
        "SubnetId": mt.subnet_id,
        "LifeCycleState": mt.lifecycle.as_aws(),
        "IpAddress": mt.ip_address,
        "Ipv6Address": mt.ipv6_address,
        "NetworkInterfaceId": mt.network_interface_id,
        "AvailabilityZoneId": az_id(&mt.availability_zone_name),
        "AvailabilityZoneName": mt.availability_zone_name,
        "VpcId": mt.vpc_id,
    })
}

async fn create_mount_target(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    call(
        &sim,
        &headers,
        "CreateMountTarget",
        None,
        true,
        StatusCode::OK,
        |w, s, region| {
            let input: CreateMountTargetInput = parse_body(&body)?;
            let (Some(fs), Some(subnet)) = (input.file_system_id, input.subnet_id) else {
                return Err(ApiError::bad_request(
                    "FileSystemId and SubnetId are required",
                ));
            };
            let addresses = super::model::MountTargetAddresses {
                ip_address_type: input.ip_address_type,
                ipv4: input.ip_address,
                ipv6: input.ipv6_address,
            };
            let id = w.create_mount_target(region, &fs, &subnet, addresses, s)?;
            Ok(compact(mount_target_json(s, &w.mount_targets[&id])))
        },
    )
}

async fn describe_mount_targets(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    call(
        &sim,
        &headers,
        "DescribeMountTargets",
        None,
        false,
        StatusCode::OK,
        |w, s, region| {
            let q = query_pairs(&raw);
            let max = query_max(&q, "MaxItems", 10)?;
            let marker = query_one(&q, "Marker");
            let list: Vec<&super::model::MountTarget> = match (
                query_one(&q, "FileSystemId"),
                query_one(&q, "MountTargetId"),
            ) {
                (Some(fs), _) => {
                    w.file_system_in(region, fs)?;
                    w.mount_targets
                        .values()
                        .filter(|m| m.file_system_id == fs)
                        .collect()
                }
                (None, Some(id)) => match w.mount_targets.get(id) {
                    Some(m) if m.region == region => vec![m],
                    _ => {
                        return Err(ApiError::new(
                            404,
                            "MountTargetNotFound",
                            format!("Mount target '{id}' does not exist."),
                        ))
                    }
                },
                (None, None) => {
                    return Err(ApiError::bad_request(
                        "One of FileSystemId, MountTargetId or AccessPointId is required",
                    ))
                }
            };
            let (items, next) = page(list, marker, max, "Marker")?;
            let items: Vec<Value> = items
                .iter()
                .map(|m| compact(mount_target_json(s, m)))
                .collect();
            Ok(compact(
                json!({ "Marker": marker, "MountTargets": items, "NextMarker": next }),
            ))
        },
    )
}

async fn delete_mount_target(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    call(
        &sim,
        &headers,
        "DeleteMountTarget",
        None,
        true,
        StatusCode::NO_CONTENT,
        |w, s, region| {
            w.delete_mount_target(region, &id, s)?;
            Ok(Value::Null)
        },
    )
}

// ----- replication ----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationInput {
    region: Option<String>,
    availability_zone_name: Option<String>,
    kms_key_id: Option<String>,
    file_system_id: Option<String>,
    #[allow(dead_code)]
    role_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateReplicationInput {
    destinations: Option<Vec<DestinationInput>>,
}

async fn create_replication_configuration(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(source): Path<String>,
    body: Bytes,
) -> Response {
    // The account's first replication makes EFS's service-linked role, which the caller must
    // be allowed to create (iam:CreateServiceLinkedRole for elasticfilesystem.amazonaws.com).
    if !sim.read(|w, _| w.service_linked_role) {
        let role = format!(
            "arn:aws:iam::{}:role/aws-service-role/elasticfilesystem.amazonaws.com/AWSServiceRoleForAmazonElasticFileSystem",
            sim.settings.account_id
        );
        let allowed = sim.authorize(
            "iam:CreateServiceLinkedRole",
            &role,
            &[("iam:AWSServiceName", "elasticfilesystem.amazonaws.com")],
        );
        if let Err(e) = allowed {
            return error_response(&e);
        }
    }
    call(
        &sim,
        &headers,
        "CreateReplicationConfiguration",
        Some(&source),
        true,
        StatusCode::OK,
        |w, s, region| {
            let input: CreateReplicationInput = parse_body(&body)?;
            let destinations = input
                .destinations
                .ok_or_else(|| ApiError::validation("Destinations is required"))?
                .into_iter()
                .map(|d| NewDestination {
                    region: d.region,
                    file_system_id: d.file_system_id,
                    availability_zone_name: d.availability_zone_name,
                    kms_key_id: d.kms_key_id,
                })
                .collect();
            let index = w.create_replication(region, &source, destinations, s)?;
            w.service_linked_role = true;
            Ok(replication_json(s, &w.replications[index], region))
        },
    )
}

async fn describe_replication_configurations(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    call(
        &sim,
        &headers,
        "DescribeReplicationConfigurations",
        query_one(&query_pairs(&raw), "FileSystemId"),
        false,
        StatusCode::OK,
        |w, s, region| {
            let q = query_pairs(&raw);
            let max = query_max(&q, "MaxResults", 100)?;
            let fs_id = query_one(&q, "FileSystemId");
            let lag = super::clock::millis(s.describe_lag);
            // A Describe that lags (--describe-lag): a configuration created less than the lag
            // ago is not seen yet.
            let list: Vec<&Replication> = w
                .describe_replications(region, fs_id)?
                .into_iter()
                .filter(|r| r.creation_time + lag <= w.now)
                .collect();
            if list.is_empty() {
                if let Some(id) = fs_id {
                    return Err(ApiError::replication_not_found(id));
                }
            }
            let (items, next) = page(list, query_one(&q, "NextToken"), max, "NextToken")?;
            let items: Vec<Value> = items
                .iter()
                .map(|r| {
                    let mut j = replication_json(s, r, region);
                    // ... and one deleted less than the lag ago still shows its status before.
                    if let (Some(since), Some(before)) = (r.deleting_since, &r.status_before_delete)
                    {
                        if since + lag > w.now {
                            j["Destinations"][0]["Status"] = json!(before);
                        }
                    }
                    j
                })
                .collect();
            Ok(compact(json!({ "Replications": items, "NextToken": next })))
        },
    )
}

async fn delete_replication_configuration(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(source): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    call(
        &sim,
        &headers,
        "DeleteReplicationConfiguration",
        Some(&source),
        true,
        StatusCode::NO_CONTENT,
        |w, s, region| {
            let q = query_pairs(&raw);
            let mode = match query_one(&q, "deletionMode") {
            None | Some("ALL_CONFIGURATIONS") => DeletionMode::AllConfigurations,
            Some("LOCAL_CONFIGURATION_ONLY") => DeletionMode::LocalConfigurationOnly,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "deletionMode must be ALL_CONFIGURATIONS or LOCAL_CONFIGURATION_ONLY, not '{other}'"
                )))
            }
        };
            w.delete_replication(region, &source, mode, s)?;
            Ok(Value::Null)
        },
    )
}
