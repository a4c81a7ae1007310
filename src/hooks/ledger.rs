//! Which hooks succeeded, kept where the truth lives: beside the Terraform state (the object
//! `<key>.efs-dr-hooks` in an S3 backend, `.efs-dr-hooks.json` in the root with a local state).
//! A run's events are not enough: a run resumed on another machine, or from another clone,
//! must not stop the application again after it was started on B. A run of one operation
//! forgets what another operation recorded for its pairs: that operation is over.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::HookPoint;
use crate::aws::AwsTime;
use crate::config::{Config, S3Backend};

const S3_SUFFIX: &str = ".efs-dr-hooks";
const LOCAL_FILE: &str = ".efs-dr-hooks.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub done: Vec<Done>,
}

/// One hook that succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub operation: String,
    pub pair: String,
    pub hook: HookPoint,
    pub at: String,
    pub host: String,
}

impl Ledger {
    pub fn done(&self, pair: &str, hook: HookPoint) -> bool {
        self.done.iter().any(|d| d.pair == pair && d.hook == hook)
    }

    /// `hook` succeeded for `pair` at `at` (AWS's time: what a later run compares with AWS's
    /// metrics).
    pub fn record(&mut self, pair: &str, hook: HookPoint, at: AwsTime) {
        if !self.done(pair, hook) {
            self.done.push(Done {
                operation: hook.operation().to_string(),
                pair: pair.to_string(),
                hook,
                at: humantime::format_rfc3339_seconds(at).to_string(),
                host: crate::lease::host(),
            });
        }
    }

    /// A stop hook's success stands while its side has not been written since: a write on that
    /// side after the hook succeeded means the application runs there again (the operation was
    /// abandoned and the application restarted), so the hook must run again before the
    /// cut-over. `last_write` gives a pair's side's last write as CloudWatch shows it (None:
    /// not known, and the record stands). Returns what was forgotten: (pair, hook, when it had
    /// succeeded, the write after it).
    pub fn forget_stops_written_since(
        &mut self,
        last_write: impl Fn(&str, HookPoint) -> Option<AwsTime>,
    ) -> Vec<(String, HookPoint, String, AwsTime)> {
        let mut forgotten = Vec::new();
        self.done.retain(|d| {
            if !d.hook.stops_writes() {
                return true;
            }
            let (Ok(at), Some(written)) = (
                humantime::parse_rfc3339_weak(&d.at),
                last_write(&d.pair, d.hook),
            ) else {
                return true;
            };
            if written > at {
                forgotten.push((d.pair.clone(), d.hook, d.at.clone(), written));
                return false;
            }
            true
        });
        forgotten
    }

    /// A run of `operation` on `pairs` starts: what other operations recorded for those pairs
    /// is over. True when something was forgotten.
    pub fn begin(&mut self, operation: &str, pairs: &[String]) -> bool {
        let before = self.done.len();
        self.done
            .retain(|d| d.operation == operation || !pairs.contains(&d.pair));
        self.done.len() != before
    }
}

/// Where the ledger is kept.
#[derive(Debug, Clone)]
pub enum Store {
    Local(PathBuf),
    S3(S3Backend),
}

impl Store {
    pub fn of(config: &Config) -> Store {
        match &config.terraform.s3_backend {
            Some(b) => Store::S3(b.clone()),
            None => Store::Local(config.terraform_dir().join(LOCAL_FILE)),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Store::Local(p) => p.display().to_string(),
            Store::S3(b) => format!("s3://{}/{}{S3_SUFFIX}", b.bucket, b.key),
        }
    }

    pub async fn load(&self) -> Result<Ledger, String> {
        let body = match self {
            Store::Local(p) => match std::fs::read(p) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(format!("cannot read {}: {e}", p.display())),
            },
            Store::S3(b) => crate::lease::get_beside(b, S3_SUFFIX)
                .await
                .map_err(|e| e.to_string())?,
        };
        match body {
            None => Ok(Ledger::default()),
            Some(b) => serde_json::from_slice(&b)
                .map_err(|e| format!("{} is not efs-dr's hook record ({e}); delete it only if no failover or failback is under way", self.name())),
        }
    }

    pub async fn save(&self, ledger: &Ledger) -> Result<(), String> {
        let body = serde_json::to_vec_pretty(ledger).expect("a ledger serialises");
        match self {
            Store::Local(p) => {
                std::fs::write(p, body).map_err(|e| format!("cannot write {}: {e}", p.display()))
            }
            Store::S3(b) => crate::lease::put_beside(b, S3_SUFFIX, body)
                .await
                .map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> AwsTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn a_stop_hook_written_over_since_it_succeeded_is_forgotten_and_nothing_else() {
        let mut l = Ledger::default();
        l.record("app", HookPoint::StopWritesOnA, t(0));
        l.record("web", HookPoint::StopWritesOnA, t(0));
        l.record("db", HookPoint::StopWritesOnA, t(0));
        l.record("app", HookPoint::ServeFromB, t(0));
        let forgotten = l.forget_stops_written_since(|pair, _| match pair {
            "app" => Some(t(120)), // the application on A wrote again
            "web" => Some(t(0)),   // its last write is the one the hook waited for
            _ => None,             // not known: the record stands
        });
        assert_eq!(forgotten.len(), 1, "{forgotten:?}");
        assert_eq!(
            (forgotten[0].0.as_str(), forgotten[0].1),
            ("app", HookPoint::StopWritesOnA)
        );
        assert!(!l.done("app", HookPoint::StopWritesOnA));
        assert!(
            l.done("app", HookPoint::ServeFromB),
            "a serve hook is not a stop hook"
        );
        assert!(l.done("web", HookPoint::StopWritesOnA));
        assert!(l.done("db", HookPoint::StopWritesOnA));
    }

    #[test]
    fn a_run_of_another_operation_forgets_what_the_last_one_recorded_for_its_pairs_only() {
        let mut l = Ledger::default();
        l.record("app", HookPoint::StopWritesOnA, t(0));
        l.record("app", HookPoint::ServeFromB, t(0));
        l.record("web", HookPoint::ServeFromB, t(0));
        l.record("app", HookPoint::ServeFromB, t(1));
        assert_eq!(l.done.len(), 3, "recorded once");
        assert!(
            !l.begin("failover", &["app".into()]),
            "the same operation resumes"
        );
        assert!(l.begin("failback", &["app".into()]));
        assert!(!l.done("app", HookPoint::ServeFromB));
        assert!(
            l.done("web", HookPoint::ServeFromB),
            "another pair's record stays"
        );
    }
}
