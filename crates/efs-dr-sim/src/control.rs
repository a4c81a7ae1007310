//! The control API under `/_sim/` (JSON), for tests, drills and outside scripts. These paths are a
//! contract: see README.md, "Simulator control API".

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::clock::{millis, rfc3339};
use super::error::ApiError;
use super::state::SimState;

pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/clock", get(clock))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/file-systems/{id}/files", get(list_files))
        .route(
            "/_sim/file-systems/{id}/files/{*path}",
            put(write_file).delete(delete_file).get(read_file),
        )
        .route("/_sim/file-systems/{id}/connections", put(set_connections))
        .route(
            "/_sim/regions/{region}/outage",
            post(start_outage).delete(end_outage).get(get_outage),
        )
        .route(
            "/_sim/iam-policy",
            put(set_iam_policy).delete(clear_iam_policy),
        )
        .route("/_sim/replications/{source}/status", post(set_status))
        .route("/_sim/faults", post(add_fault).get(list_faults))
        .route(
            "/_sim/backup/recovery-point-files",
            get(recovery_point_files),
        )
        .route("/_sim/backup/refused-roles", post(refuse_role))
        .route("/_sim/backup/fail-next-jobs", post(fail_next_jobs))
}

fn error(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(json!({ "error": e.code, "message": e.message })),
    )
        .into_response()
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(Value::Null) => StatusCode::NO_CONTENT.into_response(),
        Ok(v) => Json(v).into_response(),
        Err(e) => error(e),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the request body is not valid JSON for this call: {e}"
        ))
    })
}

async fn health() -> Json<Value> {
    Json(json!({ "ok": true }))
}

fn clock_json(sim: &SimState) -> Value {
    let now = sim.clock.now();
    json!({ "now": rfc3339(now), "now_ms": now, "time_scale": sim.clock.scale() })
}

async fn clock(State(sim): State<Arc<SimState>>) -> Json<Value> {
    Json(clock_json(&sim))
}

#[derive(Deserialize)]
struct AdvanceInput {
    seconds: f64,
}

async fn advance(State(sim): State<Arc<SimState>>, body: Bytes) -> Response {
    let input: AdvanceInput = match parse(&body) {
        Ok(i) => i,
        Err(e) => return error(e),
    };
    if !(input.seconds.is_finite() && input.seconds >= 0.0) {
        return error(ApiError::bad_request("seconds must be a number >= 0"));
    }
    sim.clock
        .advance(millis(std::time::Duration::from_secs_f64(input.seconds)));
    // Process what became due, and save the new time.
    sim.locked(|_, _| ((), true));
    Json(clock_json(&sim)).into_response()
}

async fn list_files(State(sim): State<Arc<SimState>>, Path(id): Path<String>) -> Response {
    respond(sim.read(|w, _| {
        let fs = w.file_system_anywhere(&id)?;
        let files: Vec<Value> = fs
            .files
            .iter()
            .map(|(path, content)| {
                json!({
                    "path": path,
                    "size": content.0.len(),
                    "sha256": format!("{:x}", Sha256::digest(&content.0)),
                })
            })
            .collect();
        Ok(Value::Array(files))
    }))
}

async fn write_file(
    State(sim): State<Arc<SimState>>,
    Path((id, path)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    respond(sim.locked(|w, s| {
        let r = w.write_file(&id, &path, body.to_vec(), s);
        let changed = r.is_ok();
        (r.map(|_| Value::Null), changed)
    }))
}

async fn delete_file(
    State(sim): State<Arc<SimState>>,
    Path((id, path)): Path<(String, String)>,
) -> Response {
    respond(sim.locked(|w, s| {
        let r = w.delete_file(&id, &path, s);
        let changed = r.is_ok();
        (r.map(|_| Value::Null), changed)
    }))
}

async fn read_file(
    State(sim): State<Arc<SimState>>,
    Path((id, path)): Path<(String, String)>,
) -> Response {
    match sim.locked(|w, _| {
        let r = w.read_file(&id, &path);
        let changed = r.is_ok();
        (r, changed)
    }) {
        Ok(content) => (
            StatusCode::OK,
            [("content-type", "application/octet-stream")],
            content,
        )
            .into_response(),
        Err(e) => error(e),
    }
}

#[derive(Deserialize)]
struct ConnectionsInput {
    count: u32,
}

async fn set_connections(
    State(sim): State<Arc<SimState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond(sim.locked(|w, _| {
        let r = parse::<ConnectionsInput>(&body).and_then(|i| w.set_connections(&id, i.count));
        let changed = r.is_ok();
        (r.map(|_| Value::Null), changed)
    }))
}

/// `down`: Some(black_hole) takes the region down, None brings it back.
fn outage(sim: &SimState, region: &str, down: Option<bool>) -> Response {
    if let Err(e) = efs_dr_ids::Region::parse(region) {
        return error(ApiError::bad_request(e));
    }
    sim.locked(|w, _| {
        w.set_outage_mode(region, down);
        ((), true)
    });
    tracing::info!(region, ?down, "region outage changed");
    respond(Ok(Value::Null))
}

#[derive(Deserialize, Default)]
struct OutageInput {
    /// "dropped" (connections closed at once, the default) or "black_hole" (accepted, never
    /// answered).
    #[serde(default)]
    mode: Option<String>,
}

async fn start_outage(
    State(sim): State<Arc<SimState>>,
    Path(region): Path<String>,
    body: Bytes,
) -> Response {
    let input = if body.is_empty() {
        Ok(OutageInput::default())
    } else {
        parse::<OutageInput>(&body)
    };
    match input.map(|i| i.mode) {
        Ok(None) => outage(&sim, &region, Some(false)),
        Ok(Some(m)) if m == "dropped" => outage(&sim, &region, Some(false)),
        Ok(Some(m)) if m == "black_hole" => outage(&sim, &region, Some(true)),
        Ok(Some(m)) => error(ApiError::bad_request(format!(
            "mode must be \"dropped\" or \"black_hole\", not {m:?}"
        ))),
        Err(e) => error(e),
    }
}

async fn end_outage(State(sim): State<Arc<SimState>>, Path(region): Path<String>) -> Response {
    outage(&sim, &region, None)
}

/// What a region's outage did: whether it is down, how, and the requests it held.
async fn get_outage(State(sim): State<Arc<SimState>>, Path(region): Path<String>) -> Response {
    respond(sim.read(|w, _| {
        Ok(json!({
            "down": w.outages.contains(&region),
            "mode": if w.black_holes.contains(&region) { "black_hole" } else { "dropped" },
            "requests_held": w.held.get(&region).copied().unwrap_or(0),
        }))
    }))
}

#[derive(Deserialize)]
struct StatusInput {
    status: String,
    message: Option<String>,
}

async fn set_status(
    State(sim): State<Arc<SimState>>,
    Path(source): Path<String>,
    body: Bytes,
) -> Response {
    respond(sim.locked(|w, _| {
        let r = parse::<StatusInput>(&body)
            .and_then(|i| w.set_replication_status(&source, &i.status, i.message));
        let changed = r.is_ok();
        (r.map(|_| Value::Null), changed)
    }))
}

#[derive(Deserialize)]
struct FaultInput {
    operation: String,
    error: String,
    #[serde(default = "one")]
    count: u32,
    /// Only in this region (every region when left out).
    #[serde(default)]
    region: Option<String>,
    /// Calls let through before the first that fails.
    #[serde(default)]
    skip: u32,
}

fn one() -> u32 {
    1
}

async fn add_fault(State(sim): State<Arc<SimState>>, body: Bytes) -> Response {
    respond(sim.locked(|w, _| {
        let r = parse::<FaultInput>(&body).and_then(|i| {
            w.add_fault_after(i.region.as_deref(), &i.operation, &i.error, i.skip, i.count)
        });
        let changed = r.is_ok();
        (r.map(|_| Value::Null), changed)
    }))
}

async fn list_faults(State(sim): State<Arc<SimState>>) -> Response {
    respond(sim.read(|w, _| {
        Ok(Value::Array(
            w.faults
                .iter()
                .map(|f| json!({ "operation": f.operation, "error": f.error, "remaining": f.remaining, "region": f.region }))
                .collect(),
        ))
    }))
}

#[derive(Deserialize)]
struct RecoveryPointQuery {
    arn: String,
}

/// The files a completed recovery point holds, as `list_files` lists a file system's.
async fn recovery_point_files(
    State(sim): State<Arc<SimState>>,
    axum::extract::Query(q): axum::extract::Query<RecoveryPointQuery>,
) -> Response {
    respond(sim.read(|w, _| {
        let job = w.recovery_point(&q.arn).ok_or_else(|| {
            ApiError::new(
                404,
                "ResourceNotFoundException",
                format!("no completed recovery point {}", q.arn),
            )
        })?;
        Ok(Value::Array(
            job.files
                .iter()
                .map(|(path, content)| {
                    json!({
                        "path": path,
                        "size": content.0.len(),
                        "sha256": format!("{:x}", Sha256::digest(&content.0)),
                    })
                })
                .collect(),
        ))
    }))
}

#[derive(Deserialize)]
struct RefuseRole {
    role_arn: String,
    refused: bool,
}

async fn refuse_role(State(sim): State<Arc<SimState>>, body: Bytes) -> Response {
    respond(sim.locked(|w, _| {
        let r = parse::<RefuseRole>(&body).map(|r| {
            if r.refused {
                w.backup_controls.refused_roles.insert(r.role_arn);
            } else {
                w.backup_controls.refused_roles.remove(&r.role_arn);
            }
            Value::Null
        });
        let changed = r.is_ok();
        (r, changed)
    }))
}

#[derive(Deserialize)]
struct FailNext {
    count: u32,
}

async fn fail_next_jobs(State(sim): State<Arc<SimState>>, body: Bytes) -> Response {
    respond(sim.locked(|w, _| {
        let r = parse::<FailNext>(&body).map(|f| {
            w.backup_controls.fail_next = f.count;
            Value::Null
        });
        let changed = r.is_ok();
        (r, changed)
    }))
}

/// The caller's IAM policy (a policy document as the body): every request is evaluated
/// against it from now on.
async fn set_iam_policy(State(sim): State<Arc<SimState>>, body: axum::body::Bytes) -> Response {
    match iam_rs::IAMPolicy::from_json(&String::from_utf8_lossy(&body)) {
        Ok(p) => {
            sim.set_iam_policy(Some(Arc::new(p)));
            tracing::info!("IAM policy set");
            axum::http::StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (
            axum::http::StatusCode::BAD_REQUEST,
            format!("not an IAM policy document: {e}"),
        )
            .into_response(),
    }
}

/// No IAM policy: everything is allowed again.
async fn clear_iam_policy(State(sim): State<Arc<SimState>>) -> Response {
    sim.set_iam_policy(None);
    axum::http::StatusCode::NO_CONTENT.into_response()
}
