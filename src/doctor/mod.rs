//! Readiness: whether a failover would work, checked before the disaster. Read-only, never
//! takes the run lease, made to run on a schedule. Each check has a verdict and the next step;
//! the checks are pure functions of what was read (`checks`), the reading is `gather`.

pub mod checks;
mod gather;

use serde::Serialize;

pub use gather::examine;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warn,
    /// The failover would not work as it should.
    Fail,
    /// Could not be checked (a region or the state did not answer).
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
            Verdict::Unknown => "unknown",
        }
    }
}

/// What a check is about: the names `doctor` prints, JSON carries and the README explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckName {
    Replication,
    LagHistory,
    MountTargets,
    Capacity,
    Protection,
    BackupVault,
    LagAlarm,
    Terraform,
    State,
    StateBackend,
    Drift,
    Lease,
}

impl CheckName {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::Replication => "replication",
            CheckName::LagHistory => "lag-history",
            CheckName::MountTargets => "mount-targets",
            CheckName::Capacity => "capacity",
            CheckName::Protection => "protection",
            CheckName::BackupVault => "backup-vault",
            CheckName::LagAlarm => "lag-alarm",
            CheckName::Terraform => "terraform",
            CheckName::State => "state",
            CheckName::StateBackend => "state-backend",
            CheckName::Drift => "drift",
            CheckName::Lease => "lease",
        }
    }
}

/// One check's outcome: for a pair, or for the whole configuration (`pair` None).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub pair: Option<String>,
    pub check: CheckName,
    pub verdict: Verdict,
    /// What was found.
    pub text: String,
    /// What to do about it (None when it is fine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl Check {
    pub fn ok(check: CheckName, text: impl Into<String>) -> Check {
        Check {
            pair: None,
            check,
            verdict: Verdict::Ok,
            text: text.into(),
            next: None,
        }
    }

    pub fn not(
        verdict: Verdict,
        check: CheckName,
        text: impl Into<String>,
        next: impl Into<String>,
    ) -> Check {
        Check {
            pair: None,
            check,
            verdict,
            text: text.into(),
            next: Some(next.into()),
        }
    }

    pub fn of(mut self, pair: &str) -> Check {
        self.pair = Some(pair.to_string());
        self
    }
}

/// Every check of a run of `doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    /// Ready: no check failed (and, `strict`, none warned) and every check could be made.
    /// 0 ready, 2 not ready, 1 could not check (unknown outranks nothing: a failure found is
    /// still a failure).
    pub fn exit_code(&self, strict: bool) -> u8 {
        let worst = |v: Verdict| self.checks.iter().any(|c| c.verdict == v);
        if worst(Verdict::Fail) || (strict && worst(Verdict::Warn)) {
            2
        } else if worst(Verdict::Unknown) {
            1
        } else {
            0
        }
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }
}
