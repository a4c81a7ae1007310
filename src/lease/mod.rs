//! One run at a time, from any machine: the run lease. Terraform's state lock covers one
//! Terraform command, not the gate waits between them, so a second operator could start a
//! conflicting run while the first waits at a gate. A run that changes anything takes the lease
//! for its whole length and gives it back at its end (also after SIGINT/SIGTERM).
//!
//! - With `backend "s3"`, the lease is an object beside the state (`<key>.efs-dr-lease`),
//!   written with `If-None-Match: *`, renewed (`If-Match`) every heartbeat. A run whose lease
//!   cannot be renewed makes no further change. A lease whose heartbeat is older than
//!   `lease.stale_after` (on S3's clock) may be taken over with `--take-over`, recorded in
//!   the report.
//! - Otherwise a kernel lock on `.terraform/efs-dr.lock` (released when its holder dies).
//!
//! Read-only commands (`status`, `plan`, dry runs) never take it.

mod error;
mod local;
mod s3;
pub use s3::{get_beside, put_beside};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::Config;
pub use error::LeaseError;

/// Who holds a lease, as the holder wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    /// Unique per run: host, pid and start.
    #[serde(default)]
    pub id: String,
    pub pid: u32,
    /// The name the machine goes by (`EFS_DR_HOST`, else its host name).
    pub host: String,
    /// The machine's own host name, as Terraform writes it in its lock (`Who: user@host`).
    #[serde(default)]
    pub hostname: String,
    pub command: String,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub pairs: Vec<String>,
    /// When the run took the lease (the holder's clock, RFC 3339).
    pub since: String,
    /// The holder's last heartbeat (its clock; the age that counts is read on the store's).
    #[serde(default)]
    pub heartbeat: String,
}

impl Holder {
    /// This process, about to run `command`.
    pub fn this_run(command: &str, operation: &str, pairs: &[String]) -> Holder {
        let host = host();
        let now = SystemTime::now();
        let nanos = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Holder {
            id: format!("{host}/{}/{nanos}", std::process::id()),
            pid: std::process::id(),
            host,
            hostname: hostname(),
            command: command.to_string(),
            operation: operation.to_string(),
            pairs: pairs.to_vec(),
            since: rfc3339(now),
            heartbeat: rfc3339(now),
        }
    }

    /// "`efs-dr failback` (pid 12 on runner-3, pairs a, b, since ...)".
    pub fn describe(&self) -> String {
        let pairs = if self.pairs.is_empty() {
            String::new()
        } else {
            format!(", pairs {}", self.pairs.join(", "))
        };
        format!(
            "`{}` (pid {} on {}{pairs}, since {})",
            self.command, self.pid, self.host, self.since
        )
    }
}

/// The name this machine goes by in the lease: `EFS_DR_HOST` (a stable runner name where
/// host names are random, e.g. containers), else the host name.
pub fn host() -> String {
    if let Some(name) = std::env::var("EFS_DR_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
    {
        return name;
    }
    hostname()
}

/// The machine's host name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// What a run asks the lease for.
#[derive(Debug, Clone)]
pub struct Claim {
    pub holder: Holder,
    /// `--take-over`: replace a lease whose holder's heartbeat is older than the limit.
    pub take_over: bool,
}

/// A lease that was taken over from a run that stopped renewing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakeOver {
    pub previous: Holder,
    /// Age of the previous holder's last heartbeat when it was taken over (the store's clock).
    pub heartbeat_age_s: u64,
    pub limit_s: u64,
    /// Terraform's own state lock that the dead run left, released with the lease.
    pub terraform_lock_released: Option<String>,
}

impl TakeOver {
    pub fn describe(&self) -> String {
        let tf = self
            .terraform_lock_released
            .as_ref()
            .map(|id| format!("; its Terraform state lock {id} was released"))
            .unwrap_or_default();
        format!(
            "taken over from {}: its last heartbeat was {} old (limit {}){tf}",
            self.previous.describe(),
            human(Duration::from_secs(self.heartbeat_age_s)),
            human(Duration::from_secs(self.limit_s)),
        )
    }
}

impl Holder {
    /// The holder ran on this machine and its process is gone: it died (or stopped without
    /// giving the lease back, e.g. while S3 did not answer), whatever its heartbeat's age.
    pub fn is_gone_from_this_host(&self) -> bool {
        self.host == host()
            && (self.hostname.is_empty() || self.hostname == hostname())
            && self.pid != 0
            && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// The lease as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaseStatus {
    pub lease: String,
    pub holder: Holder,
    /// Age of the holder's last heartbeat on the store's clock; None for a local lock.
    pub heartbeat_age_s: Option<u64>,
    /// Older than `lease.stale_after`: its holder is likely dead (`--take-over`).
    pub stale: bool,
}

impl LeaseStatus {
    pub fn describe(&self) -> String {
        let age = match self.heartbeat_age_s {
            Some(s) => format!(
                ", last heartbeat {} ago{}",
                human(Duration::from_secs(s)),
                if self.stale {
                    " (stale: its run looks dead; --take-over applies)"
                } else {
                    ""
                }
            ),
            None => String::new(),
        };
        format!("held by {}{age}", self.holder.describe())
    }
}

/// Whether a lease held by another run may be taken: the pure rule behind `--take-over`.
/// `gone_here`: the holder ran on this machine and its process no longer exists.
pub fn may_take_over(
    holder: &Holder,
    heartbeat_age: Duration,
    limit: Duration,
    take_over: bool,
    gone_here: bool,
    lease: &str,
) -> Result<(), LeaseError> {
    let age = human(heartbeat_age);
    if gone_here {
        // Provably dead (its process is gone from this very machine): running the same
        // command again heals, with no flag to know about. The report records the take-over.
        tracing::warn!(
            "the run lease {lease} was held by {}, whose process is gone from this machine (last heartbeat {age} ago): taken over",
            holder.describe()
        );
        return Ok(());
    }
    if !take_over {
        let when = if heartbeat_age >= limit {
            "its heartbeat is older than the limit: if its machine died, run this again with --take-over".to_string()
        } else {
            format!(
                "if its machine died, --take-over is allowed once its heartbeat is {} old (in {})",
                human(limit),
                human(limit - heartbeat_age)
            )
        };
        return Err(LeaseError::Failed(format!(
            "another efs-dr run holds the run lease {lease}: {} (last heartbeat {age} ago). Wait for it to end (run the same command again then, if still needed); {when}",
            holder.describe()
        )));
    }
    if heartbeat_age < limit {
        return Err(LeaseError::Failed(format!(
            "the run lease {lease} is held by {}, whose last heartbeat is only {age} old (limit {}): it may still be running, so it is not taken over. Make sure it is stopped; --take-over is allowed in {}",
            holder.describe(),
            human(limit),
            human(limit - heartbeat_age)
        )));
    }
    Ok(())
}

enum Kind {
    /// Nothing to hold: a dry run, or a read-only command.
    Unleased,
    Local(#[allow(dead_code)] local::LocalLock),
    S3(s3::S3Lease),
    /// The lease's store did not answer when the run started (an unplanned failover goes on
    /// without it as far as B's own deletions): every change it guards is refused with `why`.
    Unreachable {
        why: String,
    },
}

/// The run's lease, held until `release` (or, for a local lock, the process's end).
#[derive(Clone)]
pub struct Lease(Arc<Inner>);

struct Inner {
    kind: Kind,
    name: String,
    taken_over: Option<TakeOver>,
}

impl Lease {
    /// No lease: for what changes nothing.
    pub fn unleased() -> Lease {
        Lease(Arc::new(Inner {
            kind: Kind::Unleased,
            name: String::new(),
            taken_over: None,
        }))
    }

    /// No lease because its store does not answer: every change it guards is refused with
    /// `why` (`LeaseError::Unreachable`).
    pub fn unreachable(name: String, why: String) -> Lease {
        Lease(Arc::new(Inner {
            kind: Kind::Unreachable { why },
            name,
            taken_over: None,
        }))
    }

    /// Takes the lease of the config's state for `claim`, or says who has it and what to do.
    pub async fn acquire(config: &Config, claim: Claim) -> Result<Lease, LeaseError> {
        let dir = config.terraform_dir();
        match &config.terraform.s3_backend {
            Some(backend) => {
                let (lease, taken_over) =
                    s3::S3Lease::acquire(backend, &config.lease, claim).await?;
                let name = lease.name();
                Ok(Lease(Arc::new(Inner {
                    kind: Kind::S3(lease),
                    name,
                    taken_over,
                })))
            }
            None => {
                if let Some(backend) = &config.terraform.backend {
                    if !backend.trim_start().starts_with("backend \"s3\"") {
                        tracing::warn!("the run lease of a backend other than S3 is a lock on this machine only: a run from another machine is not kept out (Terraform's own lock still covers each Terraform command)");
                    }
                }
                let lock = local::acquire(&dir, &claim.holder, claim.take_over)?;
                let name = lock.path.display().to_string();
                Ok(Lease(Arc::new(Inner {
                    kind: Kind::Local(lock),
                    name,
                    taken_over: None,
                })))
            }
        }
    }

    /// Who holds the config's lease now, without taking it (for `status`): the holder and the
    /// age of its last heartbeat (None for a local lock, which cannot go stale). Err: it could
    /// not be read.
    pub async fn peek(config: &Config) -> Result<Option<LeaseStatus>, LeaseError> {
        match &config.terraform.s3_backend {
            Some(backend) => s3::peek(backend, &config.lease).await,
            None => Ok(local::peek(&config.terraform_dir())),
        }
    }

    /// Where the lease is (`s3://bucket/key`, a lock file), empty when unleased.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// What the lease had to say since the last call (its heartbeat lost or failing, or
    /// answering again): the run reports each as a warning.
    pub fn take_notices(&self) -> Vec<String> {
        match &self.0.kind {
            Kind::S3(lease) => lease.take_notices(),
            _ => Vec::new(),
        }
    }

    pub fn is_held(&self) -> bool {
        matches!(self.0.kind, Kind::Local(_) | Kind::S3(_))
    }

    /// The lease this run took over, if it did.
    pub fn taken_over(&self) -> Option<&TakeOver> {
        self.0.taken_over.as_ref()
    }

    /// Before a change: the lease is still this run's and the state's store can be written.
    /// Otherwise the run must not change anything more.
    pub async fn ensure_held(&self, before: &str) -> Result<(), LeaseError> {
        match &self.0.kind {
            Kind::S3(lease) => lease.renew_now(before).await,
            Kind::Unreachable { why } => Err(LeaseError::Unreachable(format!(
                "{why}: this run stops before {before}, because nothing may change while the state cannot be written"
            ))),
            _ => Ok(()),
        }
    }

    /// Gives the lease back (the last clone's call does; a local lock goes with the process).
    pub async fn release(self) {
        if let Ok(inner) = Arc::try_unwrap(self.0) {
            if let Kind::S3(lease) = inner.kind {
                lease.release().await;
            }
        }
    }
}

impl Default for Lease {
    fn default() -> Self {
        Lease::unleased()
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("name", &self.0.name).finish()
    }
}

#[cfg(test)]
mod tests;
