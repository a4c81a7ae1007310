//! AWS Backup over restJson1 (botocore's `backup` 2018-11-15 model): CreateBackupVault,
//! DescribeBackupVault, StartBackupJob, DescribeBackupJob, ListBackupJobs. Errors carry `Code`
//! and `Message`, as the model's error shapes do.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clock::Millis;
use super::error::ApiError;
use super::model::{BackupJob, JobState, NewBackupJob, World};
use super::settings::SimSettings;
use super::state::{region_from_headers, SimState};

pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/backup-jobs", put(start_backup_job).get(list_backup_jobs))
        .route("/backup-jobs/", get(list_backup_jobs))
        .route("/backup-jobs/{id}", get(describe_backup_job))
        .route(
            "/backup-vaults/{name}",
            put(create_backup_vault).get(describe_backup_vault),
        )
}

fn error_response(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            ("x-amzn-ErrorType", e.code.to_string()),
            ("content-type", "application/json".to_string()),
        ],
        json!({ "Code": e.code, "Message": e.message }).to_string(),
    )
        .into_response()
}

fn call(
    sim: &SimState,
    headers: &HeaderMap,
    operation: &'static str,
    vault: Option<&str>,
    mutates: bool,
    f: impl FnOnce(&mut World, &SimSettings, &str) -> Result<Value, ApiError>,
) -> Response {
    let Some(region) = region_from_headers(headers) else {
        return error_response(&ApiError::new(
            403,
            "MissingAuthenticationTokenException",
            "Requests must be signed with AWS SigV4",
        ));
    };
    // IAM (--iam-policy): the vault the call names, else every resource of the region.
    let account = &sim.settings.account_id;
    let resource = match vault {
        Some(v) => format!("arn:aws:backup:{region}:{account}:backup-vault:{v}"),
        None => format!("arn:aws:backup:{region}:{account}:*"),
    };
    let action = format!("backup:{operation}");
    if let Err(e) = sim.authorize(&action, &resource, &[("aws:RequestedRegion", &region)]) {
        return error_response(&e);
    }
    match sim.api(&region, operation, mutates, |w, s| f(w, s, &region)) {
        Ok(v) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => error_response(&e),
    }
}

fn secs(t: Millis) -> f64 {
    t as f64 / 1000.0
}

fn job_json(j: &BackupJob, account: &str) -> Value {
    let mut v = json!({
        "AccountId": account,
        "BackupJobId": j.id,
        "BackupVaultName": j.vault,
        "BackupVaultArn": format!("arn:aws:backup:{}:{account}:backup-vault:{}", j.region, j.vault),
        "RecoveryPointArn": j.recovery_point_arn,
        "ResourceArn": j.resource_arn,
        "ResourceType": "EFS",
        "CreationDate": secs(j.created),
        "State": j.state.as_aws(),
        "IamRoleArn": j.role_arn,
        "BackupSizeInBytes": j.size_bytes,
        "PercentDone": match j.state {
            JobState::Created { .. } => "0.0",
            JobState::Running { .. } => "50.0",
            _ => "100.0",
        },
        "IsParent": false,
        "BackupType": "",
    });
    match &j.state {
        JobState::Completed { at } => {
            v["CompletionDate"] = json!(secs(*at));
        }
        JobState::Failed { at, message } => {
            v["CompletionDate"] = json!(secs(*at));
            v["StatusMessage"] = json!(message);
        }
        _ => {}
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartInput {
    backup_vault_name: Option<String>,
    resource_arn: Option<String>,
    iam_role_arn: Option<String>,
    idempotency_token: Option<String>,
}

async fn start_backup_job(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let vault: Option<String> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["BackupVaultName"].as_str().map(str::to_string));
    let role: Option<String> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["IamRoleArn"].as_str().map(str::to_string));
    // StartBackupJob passes its role to AWS Backup: iam:PassRole on it, to that service.
    if let Some(role) = &role {
        let passed = sim.authorize(
            "iam:PassRole",
            role,
            &[("iam:PassedToService", "backup.amazonaws.com")],
        );
        if let Err(e) = passed {
            return error_response(&e);
        }
    }
    call(
        &sim,
        &headers,
        "StartBackupJob",
        vault.as_deref(),
        true,
        |w, s, region| {
            let input: StartInput =
                serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }).map_err(
                    |e| ApiError::bad_request(format!("The request body is not valid: {e}")),
                )?;
            let i = w.start_backup_job(
                region,
                NewBackupJob {
                    vault: input.backup_vault_name,
                    resource_arn: input.resource_arn,
                    role_arn: input.iam_role_arn,
                    idempotency_token: input.idempotency_token,
                },
                s,
            )?;
            let j = &w.backup_jobs[i];
            Ok(json!({
                "BackupJobId": j.id,
                "RecoveryPointArn": j.recovery_point_arn,
                "CreationDate": secs(j.created),
                "IsParent": false,
            }))
        },
    )
}

async fn describe_backup_job(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    call(
        &sim,
        &headers,
        "DescribeBackupJob",
        None,
        false,
        |w, s, region| Ok(job_json(w.backup_job(region, &id)?, &s.account_id)),
    )
}

/// A query-string timestamp: ISO 8601 (what restJson1 sends), or epoch seconds.
fn timestamp(v: &str) -> Option<Millis> {
    if let Ok(secs) = v.parse::<f64>() {
        return Some((secs * 1000.0) as Millis);
    }
    let t = humantime::parse_rfc3339_weak(v.trim_end_matches('Z')).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(d.as_millis() as Millis)
}

async fn list_backup_jobs(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    call(
        &sim,
        &headers,
        "ListBackupJobs",
        None,
        false,
        |w, s, region| {
            let after = match q.get("createdAfter") {
                Some(v) => Some(timestamp(v).ok_or_else(|| {
                    ApiError::new(
                        400,
                        "InvalidParameterValueException",
                        format!("createdAfter {v:?} is not a timestamp"),
                    )
                })?),
                None => None,
            };
            let jobs: Vec<Value> = w
                .backup_jobs
                .iter()
                .filter(|j| j.region == region)
                .filter(|j| q.get("resourceArn").is_none_or(|a| *a == j.resource_arn))
                .filter(|j| q.get("state").is_none_or(|st| st == j.state.as_aws()))
                .filter(|j| q.get("backupVaultName").is_none_or(|v| *v == j.vault))
                .filter(|j| after.is_none_or(|a| j.created > a))
                .map(|j| job_json(j, &s.account_id))
                .collect();
            Ok(json!({ "BackupJobs": jobs }))
        },
    )
}

async fn create_backup_vault(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    call(
        &sim,
        &headers,
        "CreateBackupVault",
        Some(&name),
        true,
        |w, s, region| {
            w.create_backup_vault(region, &name)?;
            Ok(json!({
                "BackupVaultName": name,
                "BackupVaultArn": format!("arn:aws:backup:{region}:{}:backup-vault:{name}", s.account_id),
                "CreationDate": secs(w.now),
            }))
        },
    )
}

async fn describe_backup_vault(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    call(
        &sim,
        &headers,
        "DescribeBackupVault",
        Some(&name),
        false,
        |w, s, region| {
            if !w.backup_vault_exists(region, &name) {
                return Err(ApiError::new(
                    404,
                    "ResourceNotFoundException",
                    format!("Backup vault {name} does not exist in {region}"),
                ));
            }
            let points = w
                .backup_jobs
                .iter()
                .filter(|j| j.region == region && j.vault == name)
                .filter(|j| matches!(j.state, JobState::Completed { .. }))
                .count();
            Ok(json!({
                "BackupVaultName": name,
                "BackupVaultArn": format!("arn:aws:backup:{region}:{}:backup-vault:{name}", s.account_id),
                "NumberOfRecoveryPoints": points,
            }))
        },
    )
}
