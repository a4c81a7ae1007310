//! A client of the simulator's control API (`/_sim/`), for tests, the demo and drills.

use std::collections::BTreeMap;

use axum::body::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the simulator at {url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the simulator refused {method} {path}: {status} {body}")]
    Refused {
        method: Method,
        path: String,
        status: u16,
        body: String,
    },
    #[error("the simulator's answer to {path} was not understood: {reason}")]
    BadAnswer { path: String, reason: String },
}

impl ControlError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ControlError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One file as the control API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClockInfo {
    pub now: String,
    pub now_ms: i64,
    pub time_scale: f64,
}

/// A raw answer: status, headers, body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub struct ControlClient {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ControlClient {
    pub fn new(endpoint_url: &str) -> Self {
        ControlClient {
            base: endpoint_url.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Any request to the simulator, with extra headers.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<RawResponse, ControlError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ControlError::BadAnswer {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| ControlError::Unreachable {
                url: self.base.clone(),
                reason: e.to_string(),
            })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ControlError::Unreachable {
                url: self.base.clone(),
                reason: e.to_string(),
            })?
            .to_bytes()
            .to_vec();
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, ControlError> {
        let r = self.raw(method.clone(), path, &[], body).await?;
        if r.status >= 300 {
            return Err(ControlError::Refused {
                method,
                path: path.to_string(),
                status: r.status,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            });
        }
        Ok(r.body)
    }

    async fn call_json<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, ControlError> {
        let bytes = self
            .call(method, path, body.to_string().into_bytes())
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| ControlError::BadAnswer {
            path: path.to_string(),
            reason: e.to_string(),
        })
    }

    pub async fn health(&self) -> Result<(), ControlError> {
        self.call(Method::GET, "/_sim/health", vec![])
            .await
            .map(|_| ())
    }

    pub async fn clock(&self) -> Result<ClockInfo, ControlError> {
        self.call_json(Method::GET, "/_sim/clock", json!(null))
            .await
    }

    /// Moves simulated time forward by `seconds`.
    pub async fn advance(&self, seconds: f64) -> Result<ClockInfo, ControlError> {
        self.call_json(
            Method::POST,
            "/_sim/clock/advance",
            json!({ "seconds": seconds }),
        )
        .await
    }

    pub async fn write_file(
        &self,
        fs: &str,
        path: &str,
        content: &[u8],
    ) -> Result<(), ControlError> {
        self.call(
            Method::PUT,
            &format!("/_sim/file-systems/{fs}/files/{path}"),
            content.to_vec(),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_file(&self, fs: &str, path: &str) -> Result<(), ControlError> {
        self.call(
            Method::DELETE,
            &format!("/_sim/file-systems/{fs}/files/{path}"),
            vec![],
        )
        .await
        .map(|_| ())
    }

    pub async fn read_file(&self, fs: &str, path: &str) -> Result<Vec<u8>, ControlError> {
        self.call(
            Method::GET,
            &format!("/_sim/file-systems/{fs}/files/{path}"),
            vec![],
        )
        .await
    }

    pub async fn list_files(&self, fs: &str) -> Result<Vec<FileEntry>, ControlError> {
        self.call_json(
            Method::GET,
            &format!("/_sim/file-systems/{fs}/files"),
            json!(null),
        )
        .await
    }

    /// path -> sha256 of every file, for comparing file systems.
    pub async fn digest(&self, fs: &str) -> Result<BTreeMap<String, String>, ControlError> {
        Ok(self
            .list_files(fs)
            .await?
            .into_iter()
            .map(|f| (f.path, f.sha256))
            .collect())
    }

    pub async fn set_connections(&self, fs: &str, count: u32) -> Result<(), ControlError> {
        self.call(
            Method::PUT,
            &format!("/_sim/file-systems/{fs}/connections"),
            json!({ "count": count }).to_string().into_bytes(),
        )
        .await
        .map(|_| ())
    }

    /// Sets the caller's IAM policy (a policy document), or lifts it (None).
    pub async fn set_iam_policy(&self, policy: Option<&str>) -> Result<(), ControlError> {
        match policy {
            Some(p) => self
                .call(Method::PUT, "/_sim/iam-policy", p.as_bytes().to_vec())
                .await
                .map(|_| ()),
            None => self
                .call(Method::DELETE, "/_sim/iam-policy", vec![])
                .await
                .map(|_| ()),
        }
    }

    pub async fn set_outage(&self, region: &str, down: bool) -> Result<(), ControlError> {
        let method = if down { Method::POST } else { Method::DELETE };
        self.call(method, &format!("/_sim/regions/{region}/outage"), vec![])
            .await
            .map(|_| ())
    }

    /// Takes `region` down as a network partition does: its requests are accepted and never
    /// answered.
    pub async fn black_hole(&self, region: &str) -> Result<(), ControlError> {
        self.call(
            Method::POST,
            &format!("/_sim/regions/{region}/outage"),
            json!({ "mode": "black_hole" }).to_string().into_bytes(),
        )
        .await
        .map(|_| ())
    }

    /// How many requests a black-holed `region` has held.
    pub async fn requests_held(&self, region: &str) -> Result<u64, ControlError> {
        let v: serde_json::Value = self
            .call_json(
                Method::GET,
                &format!("/_sim/regions/{region}/outage"),
                json!(null),
            )
            .await?;
        Ok(v["requests_held"].as_u64().unwrap_or(0))
    }

    pub async fn set_replication_status(
        &self,
        source: &str,
        status: &str,
        message: Option<&str>,
    ) -> Result<(), ControlError> {
        self.call(
            Method::POST,
            &format!("/_sim/replications/{source}/status"),
            json!({ "status": status, "message": message })
                .to_string()
                .into_bytes(),
        )
        .await
        .map(|_| ())
    }

    pub async fn inject_fault(
        &self,
        operation: &str,
        error: &str,
        count: u32,
    ) -> Result<(), ControlError> {
        self.inject_fault_in(None, operation, error, 0, count).await
    }

    /// Fails `count` calls of `operation` with `error` after letting `skip` through, only in
    /// `region` when given (an outage or a permission is regional).
    pub async fn inject_fault_in(
        &self,
        region: Option<&str>,
        operation: &str,
        error: &str,
        skip: u32,
        count: u32,
    ) -> Result<(), ControlError> {
        self.call(
            Method::POST,
            "/_sim/faults",
            json!({ "operation": operation, "error": error, "count": count, "region": region, "skip": skip })
                .to_string()
                .into_bytes(),
        )
        .await
        .map(|_| ())
    }

    /// path -> sha256 of every file a completed recovery point holds.
    pub async fn recovery_point_digest(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, ControlError> {
        let files: Vec<FileEntry> = self
            .call_json(
                Method::GET,
                &format!(
                    "/_sim/backup/recovery-point-files?arn={}",
                    arn.replace(':', "%3A").replace('/', "%2F")
                ),
                json!(null),
            )
            .await?;
        Ok(files.into_iter().map(|f| (f.path, f.sha256)).collect())
    }

    /// Makes AWS Backup refuse (AccessDeniedException) or accept the role.
    pub async fn refuse_backup_role(
        &self,
        role_arn: &str,
        refused: bool,
    ) -> Result<(), ControlError> {
        self.call(
            Method::POST,
            "/_sim/backup/refused-roles",
            json!({ "role_arn": role_arn, "refused": refused })
                .to_string()
                .into_bytes(),
        )
        .await
        .map(|_| ())
    }

    /// The next `count` backup jobs fail when they would complete.
    pub async fn fail_next_backup_jobs(&self, count: u32) -> Result<(), ControlError> {
        self.call(
            Method::POST,
            "/_sim/backup/fail-next-jobs",
            json!({ "count": count }).to_string().into_bytes(),
        )
        .await
        .map(|_| ())
    }

    /// Faults not yet used: (operation, error, remaining).
    pub async fn pending_faults(&self) -> Result<Vec<(String, String, u32)>, ControlError> {
        #[derive(Deserialize)]
        struct F {
            operation: String,
            error: String,
            remaining: u32,
        }
        let list: Vec<F> = self
            .call_json(Method::GET, "/_sim/faults", json!(null))
            .await?;
        Ok(list
            .into_iter()
            .map(|f| (f.operation, f.error, f.remaining))
            .collect())
    }
}
