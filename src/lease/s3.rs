//! The run lease in an S3 state backend: `<key>.efs-dr-lease` beside the state, taken with a
//! conditional write (`If-None-Match: *`), renewed with `If-Match` on its ETag (so a lease taken
//! over is noticed at the next renewal), released with a conditional delete. Ages are read on
//! S3's clock (its `Date` header against the object's `Last-Modified`), never a machine's own.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;

use super::error::LeaseError;
use super::{may_take_over, Claim, Holder, TakeOver};
use crate::aws::{AwsClock, AwsError};
use crate::config::{LeaseSettings, S3Backend};

/// S3's clock: the latest `Date` it answered with (the same interceptor as AWS's clock for
/// EFS), else this machine's.
fn s3_now(clock: &AwsClock) -> SystemTime {
    clock.get().unwrap_or_else(SystemTime::now)
}

/// What a call to S3 met, as the lease needs to tell it apart.
#[derive(Debug)]
enum Met {
    /// A conditional write or delete lost: somebody else's object is there (or is not).
    Precondition,
    NoSuchKey,
    /// Anything else, for the operator.
    Failure(AwsError),
}

fn met<E>(
    operation: &'static str,
    bucket: &str,
    err: aws_sdk_s3::error::SdkError<E, HttpResponse>,
) -> Met
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = match &err {
        aws_sdk_s3::error::SdkError::ServiceError(s) => s.raw().status().as_u16() == 412,
        _ => false,
    };
    let e = AwsError::from_sdk(&format!("S3 bucket {bucket}"), operation, err);
    match e.code() {
        Some("PreconditionFailed" | "ConditionalRequestConflict") => Met::Precondition,
        Some("NoSuchKey") => Met::NoSuchKey,
        _ if status => Met::Precondition,
        _ => Met::Failure(e),
    }
}

/// The operator's words for a failure to reach the lease, with the next step.
fn explain(backend: &S3Backend, e: &AwsError) -> String {
    let place = format!("s3://{}", backend.bucket);
    match (e.code(), e.category()) {
        (Some("NoSuchBucket"), _) => format!(
            "the S3 bucket {place} of efs-dr.hcl's backend \"s3\" does not exist ({e}). Create it (with versioning on, as Terraform recommends for state), or correct backend \"s3\" {{ bucket }}; nothing was changed"
        ),
        (_, "no valid credentials") => format!(
            "S3 refused efs-dr's credentials for {place} ({e}). Give this machine credentials for the state bucket (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or profile in backend \"s3\"); nothing was changed"
        ),
        (_, "access denied") => format!(
            "S3 denied access to {place} ({e}). The role needs s3:GetObject, s3:PutObject and s3:DeleteObject on the state's key and its .tflock, .efs-dr-lease and .efs-dr-hooks objects; nothing was changed"
        ),
        (_, "unreachable") => format!(
            "the state's S3 bucket {place} does not answer ({e}). Check the network and backend \"s3\" {{ endpoints }}; nothing was changed"
        ),
        _ => format!("the run lease in {place} could not be read or written: {e}; nothing was changed"),
    }
}

/// This run's hold on the lease: the version it wrote last, or why it no longer has one.
enum Hold {
    Version(String),
    Lost(String),
}

struct Shared {
    client: aws_sdk_s3::Client,
    backend: S3Backend,
    key: String,
    clock: AwsClock,
    holder: Mutex<Holder>,
    /// The ETag of this run's lease object; Err once it is no longer this run's (why).
    /// The async mutex also keeps renewals in order.
    etag: tokio::sync::Mutex<Hold>,
    /// What the heartbeat had to say since the run last asked: the run reports it.
    notices: Mutex<Vec<String>>,
}

/// The lease, renewed in the background until released.
pub struct S3Lease {
    shared: Arc<Shared>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Shared {
    /// Said in the log now, and to the run when it next asks.
    fn notice(&self, text: String) {
        tracing::warn!("{text}");
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text);
    }

    fn body(&self) -> Vec<u8> {
        let mut holder = self.holder.lock().unwrap_or_else(|p| p.into_inner());
        holder.heartbeat = super::rfc3339(SystemTime::now());
        serde_json::to_vec_pretty(&*holder).expect("a holder serialises")
    }

    fn name(&self) -> String {
        format!("s3://{}/{}", self.backend.bucket, self.key)
    }

    /// Writes the lease with this run as holder: over the version with ETag `over`, or only
    /// where there is none (`If-None-Match: *`). The new ETag.
    async fn put(
        &self,
        over: Option<&str>,
    ) -> Result<String, aws_sdk_s3::error::SdkError<PutObjectError, HttpResponse>> {
        let request = self
            .client
            .put_object()
            .bucket(&self.backend.bucket)
            .key(&self.key)
            .content_type("application/json")
            .body(ByteStream::from(self.body()));
        let request = match over {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        let out = request.send().await?;
        Ok(out.e_tag().unwrap_or_default().to_string())
    }

    fn id(&self) -> String {
        self.holder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .id
            .clone()
    }

    /// The ETag of the lease when it still holds this run's id: a write of ours that S3 carried
    /// out after the client gave up on it (a late answer) changed the ETag, not the holder.
    async fn still_ours(&self) -> Option<String> {
        match self.read().await {
            Ok(Some((h, etag, _))) if h.id == self.id() => Some(etag),
            _ => None,
        }
    }

    /// Writes the lease again over this run's own version of it.
    async fn renew(&self) -> Result<(), Result<String, AwsError>> {
        let mut etag = self.etag.lock().await;
        let mut current = match &*etag {
            Hold::Version(tag) => tag.clone(),
            Hold::Lost(why) => return Err(Ok(why.clone())),
        };
        for attempt in 0..2 {
            let e = match self.put(Some(&current)).await {
                Ok(tag) => {
                    *etag = Hold::Version(tag);
                    return Ok(());
                }
                Err(e) => e,
            };
            match met("PutObject", &self.backend.bucket, e) {
                Met::Precondition | Met::NoSuchKey => {
                    if attempt == 0 {
                        if let Some(tag) = self.still_ours().await {
                            current = tag;
                            continue;
                        }
                    }
                    let who = match self.read().await {
                        Ok(Some((h, _, _))) => format!("it is now held by {}", h.describe()),
                        _ => "it was removed".to_string(),
                    };
                    let why = format!(
                        "the run lease {} is no longer this run's: {who}",
                        self.name()
                    );
                    *etag = Hold::Lost(why.clone());
                    return Err(Ok(why));
                }
                Met::Failure(e) => return Err(Err(e)),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// The lease as it is in S3: its holder, ETag and the age of its last write (S3's clock).
    async fn read(&self) -> Result<Option<(Holder, String, Duration)>, AwsError> {
        read_object(&self.client, &self.backend.bucket, &self.key, &self.clock)
            .await
            .map(|found| {
                found.map(|(body, etag, age)| {
                    let holder = holder_of(&body);
                    (holder, etag, age)
                })
            })
    }
}

/// The holder a lease object names (a lease that is not ours to read still blocks).
fn holder_of(body: &[u8]) -> Holder {
    serde_json::from_slice(body).unwrap_or_else(|_| Holder {
        id: String::new(),
        pid: 0,
        host: "an unreadable lease".into(),
        hostname: String::new(),
        command: "unknown".into(),
        operation: String::new(),
        pairs: Vec::new(),
        since: "unknown".into(),
        heartbeat: String::new(),
    })
}

/// An object's body, ETag and age on S3's clock; None when there is none.
async fn read_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    clock: &AwsClock,
) -> Result<Option<(Vec<u8>, String, Duration)>, AwsError> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let etag = out.e_tag().unwrap_or_default().to_string();
            let modified = out
                .last_modified()
                .and_then(|t| SystemTime::try_from(*t).ok());
            let body = out.body.collect().await.map_err(|e| AwsError {
                region: format!("S3 bucket {bucket}"),
                operation: "GetObject",
                kind: crate::aws::AwsErrorKind::Unreachable(e.to_string()),
            })?;
            let age = modified
                .and_then(|m| s3_now(clock).duration_since(m).ok())
                .unwrap_or_default();
            Ok(Some((body.into_bytes().to_vec(), etag, age)))
        }
        Err(e) => match met("GetObject", bucket, e) {
            Met::NoSuchKey => Ok(None),
            Met::Precondition => Ok(None),
            Met::Failure(e) => Err(e),
        },
    }
}

/// A client of the state's bucket. A renewal must end within about a heartbeat per attempt
/// (three at most), so that a run learns soon that S3 does not answer.
async fn client(backend: &S3Backend, heartbeat: Duration, clock: &AwsClock) -> aws_sdk_s3::Client {
    let attempt = heartbeat.max(Duration::from_secs(1));
    let retry = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(2));
    let timeout = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(attempt.min(Duration::from_secs(5)))
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * 3)
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeout);
    if let Some(region) = &backend.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &backend.profile {
        loader = loader.profile_name(profile);
    }
    let shared = loader.load().await;
    let mut conf = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(backend.path_style)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .interceptor(clock.clone());
    if let Some(endpoint) = &backend.endpoint {
        conf = conf.endpoint_url(endpoint);
    }
    aws_sdk_s3::Client::from_conf(conf.build())
}

impl S3Lease {
    pub fn name(&self) -> String {
        self.shared.name()
    }

    /// What the heartbeat had to say since the last call (lost, failing, answering again).
    pub fn take_notices(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .shared
                .notices
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Takes the lease, or takes it over (`claim.take_over`, heartbeat older than the limit).
    pub async fn acquire(
        backend: &S3Backend,
        settings: &LeaseSettings,
        claim: Claim,
    ) -> Result<(S3Lease, Option<TakeOver>), LeaseError> {
        let clock = AwsClock::default();
        let shared = Arc::new(Shared {
            client: client(backend, settings.heartbeat, &clock).await,
            backend: backend.clone(),
            key: format!("{}.efs-dr-lease", backend.key),
            clock,
            holder: Mutex::new(claim.holder.clone()),
            etag: tokio::sync::Mutex::new(Hold::Lost("not taken yet".into())),
            notices: Mutex::new(Vec::new()),
        });
        let name = shared.name();
        let fail = |e: AwsError| {
            if e.category() == "unreachable" {
                LeaseError::Unreachable(explain(backend, &e))
            } else {
                LeaseError::Failed(explain(backend, &e))
            }
        };
        let mut taken_over = None;
        let mut etag = None;
        // A lease released or taken between two of these calls: look again (a few times).
        for _ in 0..5 {
            match shared.put(None).await {
                Ok(tag) => {
                    etag = Some(tag);
                    break;
                }
                Err(e) => match met("PutObject", &backend.bucket, e) {
                    Met::Precondition => {}
                    Met::NoSuchKey => continue,
                    Met::Failure(e) => return Err(fail(e)),
                },
            }
            let Some((holder, old_etag, age)) = shared.read().await.map_err(fail)? else {
                continue;
            };
            let gone_here = holder.is_gone_from_this_host();
            may_take_over(
                &holder,
                age,
                settings.stale_after,
                claim.take_over,
                gone_here,
                &name,
            )?;
            match shared.put(Some(&old_etag)).await {
                Ok(tag) => {
                    etag = Some(tag);
                    let released =
                        release_dead_terraform_lock(&shared, &holder, age, settings).await;
                    taken_over = Some(TakeOver {
                        previous: holder,
                        heartbeat_age_s: age.as_secs(),
                        limit_s: settings.stale_after.as_secs(),
                        terraform_lock_released: released,
                    });
                    break;
                }
                Err(e) => match met("PutObject", &backend.bucket, e) {
                    // Another run took it over first: look at who holds it now.
                    Met::Precondition | Met::NoSuchKey => continue,
                    Met::Failure(e) => return Err(fail(e)),
                },
            }
        }
        let Some(etag) = etag else {
            return Err(LeaseError::Failed(format!(
                "the run lease {name} changed hands on every attempt: other runs are starting at the same moment. Wait a minute and run `efs-dr status` to see where things stand"
            )));
        };
        *shared.etag.lock().await = Hold::Version(etag);
        tracing::info!("run lease {name} taken");
        let heartbeat = tokio::spawn(beat(shared.clone(), settings.heartbeat));
        Ok((S3Lease { shared, heartbeat }, taken_over))
    }

    /// Renews now: before a change, the lease must still be this run's and S3 writable.
    pub async fn renew_now(&self, before: &str) -> Result<(), LeaseError> {
        match self.shared.renew().await {
            Ok(()) => Ok(()),
            Err(Ok(lost)) => Err(LeaseError::Failed(format!(
                "{lost}. This run stops before {before} and changes nothing more; the holder continues the operation"
            ))),
            Err(Err(e)) => {
                let text = format!(
                    "the state's S3 bucket s3://{} cannot be written ({e}): this run stops before {before}, because nothing may change while the state cannot be written. Run the same command again when S3 answers: it continues where this one stopped",
                    self.shared.backend.bucket
                );
                Err(if e.category() == "unreachable" {
                    LeaseError::Unreachable(text)
                } else {
                    LeaseError::Failed(text)
                })
            }
        }
    }

    /// Gives the lease back, if it is still this run's.
    pub async fn release(self) {
        self.heartbeat.abort();
        let etag = self.shared.etag.lock().await;
        let Hold::Version(tag) = &*etag else {
            return;
        };
        let name = self.shared.name();
        let mut tag = tag.clone();
        for attempt in 0..2 {
            let deleted = self
                .shared
                .client
                .delete_object()
                .bucket(&self.shared.backend.bucket)
                .key(&self.shared.key)
                .if_match(&tag)
                .send()
                .await;
            match deleted {
                Ok(_) => {
                    tracing::info!("run lease {name} released");
                    return;
                }
                Err(e) => match met("DeleteObject", &self.shared.backend.bucket, e) {
                    Met::Precondition if attempt == 0 => match self.shared.still_ours().await {
                        Some(now) => tag = now,
                        None => break,
                    },
                    Met::Precondition | Met::NoSuchKey => break,
                    Met::Failure(e) => {
                        tracing::warn!(
                            "run lease {name} was not released ({e}): the next run can take it over with --take-over once its heartbeat is older than the lease's stale_after"
                        );
                        return;
                    }
                },
            }
        }
        tracing::warn!("run lease {name} was no longer this run's; left as it is");
    }
}

/// Renews every `every` until the lease is lost or released; a failed renewal is retried at
/// the next beat (a change is never made without a renewal just before it).
async fn beat(shared: Arc<Shared>, every: Duration) {
    let mut failing = false;
    loop {
        tokio::time::sleep(every).await;
        match shared.renew().await {
            Ok(()) => {
                if failing {
                    shared.notice(format!(
                        "run lease {}: S3 answers again; the heartbeat is renewed",
                        shared.name()
                    ));
                }
                failing = false;
            }
            Err(Ok(lost)) => {
                shared.notice(format!("{lost}: this run makes no further change"));
                return;
            }
            Err(Err(e)) => {
                if !failing {
                    shared.notice(format!(
                        "run lease {}: the heartbeat failed ({e}); the run goes on waiting, and makes no change until S3 answers",
                        shared.name()
                    ));
                }
                failing = true;
            }
        }
    }
}

/// Terraform's lock in the bucket (`<key>.tflock`, `use_lockfile`), left by the run whose lease
/// was taken over: released when it was written by that run's host no later than a heartbeat
/// after its last one. Returns the lock's ID when it was.
async fn release_dead_terraform_lock(
    shared: &Shared,
    dead: &Holder,
    dead_age: Duration,
    settings: &LeaseSettings,
) -> Option<String> {
    let key = format!("{}.tflock", shared.backend.key);
    let bucket = &shared.backend.bucket;
    let (body, etag, age) = match read_object(&shared.client, bucket, &key, &shared.clock).await {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!("Terraform's lock s3://{bucket}/{key} was not read: {e}");
            return None;
        }
    };
    let info: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = info["ID"].as_str().unwrap_or_default().to_string();
    let who = info["Who"].as_str().unwrap_or_default();
    let host = who.rsplit('@').next().unwrap_or_default();
    let same_host = host == dead.hostname || host == dead.host;
    // Written while the dead run still beat (or within a beat after its last one).
    let in_its_time = age + settings.heartbeat >= dead_age;
    if id.is_empty() || !same_host || !in_its_time {
        tracing::warn!(
            "Terraform's state lock {id} (by {who}) is not the taken-over run's: left as it is"
        );
        return None;
    }
    let deleted = shared
        .client
        .delete_object()
        .bucket(bucket)
        .key(&key)
        .if_match(&etag)
        .send()
        .await;
    match deleted {
        Ok(_) => Some(id),
        Err(e) => {
            tracing::warn!(
                "Terraform's state lock {id} left by the taken-over run was not released ({}); run `terraform force-unlock {id}` in the root",
                match met("DeleteObject", bucket, e) {
                    Met::Failure(e) => e.to_string(),
                    other => format!("{other:?}"),
                }
            );
            None
        }
    }
}

/// Who holds the lease now, without taking it.
pub async fn peek(
    backend: &S3Backend,
    settings: &LeaseSettings,
) -> Result<Option<super::LeaseStatus>, LeaseError> {
    let clock = AwsClock::default();
    let client = client(backend, settings.heartbeat, &clock).await;
    let key = format!("{}.efs-dr-lease", backend.key);
    let found = read_object(&client, &backend.bucket, &key, &clock)
        .await
        .map_err(|e| LeaseError::Failed(explain(backend, &e)))?;
    Ok(found.map(|(body, _, age)| super::LeaseStatus {
        lease: format!("s3://{}/{key}", backend.bucket),
        holder: holder_of(&body),
        heartbeat_age_s: Some(age.as_secs()),
        stale: age >= settings.stale_after,
    }))
}

/// The body of the object `<key><suffix>` beside the state; None when there is none.
pub async fn get_beside(backend: &S3Backend, suffix: &str) -> Result<Option<Vec<u8>>, AwsError> {
    let clock = AwsClock::default();
    let client = client(backend, Duration::from_secs(10), &clock).await;
    let key = format!("{}{suffix}", backend.key);
    Ok(read_object(&client, &backend.bucket, &key, &clock)
        .await?
        .map(|(body, _, _)| body))
}

/// Writes the object `<key><suffix>` beside the state (the run lease is held: no other run
/// writes it at the same time).
pub async fn put_beside(backend: &S3Backend, suffix: &str, body: Vec<u8>) -> Result<(), AwsError> {
    let clock = AwsClock::default();
    let client = client(backend, Duration::from_secs(10), &clock).await;
    let key = format!("{}{suffix}", backend.key);
    client
        .put_object()
        .bucket(&backend.bucket)
        .key(&key)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| match met("PutObject", &backend.bucket, e) {
            Met::Failure(e) => e,
            _ => AwsError {
                region: format!("S3 bucket {}", backend.bucket),
                operation: "PutObject",
                kind: crate::aws::AwsErrorKind::Unreachable("precondition".into()),
            },
        })
}
