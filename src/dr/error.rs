//! The one error type of the orchestrator and its commands, and the only mapping from an end to
//! an exit code: 0 done, 1 error, 2 refused as unsafe (or not confirmed), 3 a gate timed out,
//! 4 B serves but the Terraform state is behind (an unplanned failover that could not write it).
//!
//! Each variant is a situation, with its data: a pair's error carries the pair (and the phase
//! under way) as fields, a fleet's error holds each pair's, Terraform's, the lease's, the
//! configuration's and the renderer's errors are kept whole as sources. Exit codes come from the
//! variants; nothing reads an error's text to decide anything.

use std::sync::Arc;

use serde::Serialize;

use crate::config::LoadError;
use crate::lease::LeaseError;
use crate::render::RenderError;
use crate::terraform::TfError;

/// How a command ends when it does not succeed. The message says what happened and what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DrError {
    /// Something is wrong that the operator must fix first (exit 1).
    #[error("{0}")]
    Failed(String),
    /// Refused as unsafe, or not confirmed: nothing (more) was changed (exit 2).
    #[error("{0}")]
    Refused(String),
    /// A gate did not pass in time (exit 3).
    #[error("{0}")]
    GateTimeout(String),
    /// A gate that was waited for did not pass within its timeout (exit 3).
    #[error("{0}")]
    GateTimedOut(Box<GateTimedOut>),
    /// Not an error: `--detailed-exitcode` says there is drift or work pending (exit 2).
    #[error("{0}")]
    Pending(String),
    /// Stopped by a signal at a safe point (exit 128 + the signal: 130, 143).
    #[error("{0}")]
    Interrupted(String, i32),
    /// An unplanned failover made B writable, but the Terraform state could not be written:
    /// B serves, the state still holds A -> B until the same command runs again (exit 4).
    #[error("{0}")]
    StateBehind(String),
    /// One pair's end, the pair and the phase under way as data; the exit code is its error's.
    #[error("pair {pair}{}: {error}", phase.as_ref().map(|p| format!(", phase \"{p}\"")).unwrap_or_default())]
    Pair {
        pair: String,
        phase: Option<String>,
        error: Box<DrError>,
    },
    /// A pipeline stage refuses to go on (exit 2): a stale or edited proposal, a gate before
    /// its apply, an SDK change without --perform-sdk.
    #[error(transparent)]
    Stage(#[from] crate::dr::pending::StageRefusal),
    /// `propose` writes nothing: the root is not ready, or the phase cannot be a pull request.
    #[error(transparent)]
    Propose(#[from] crate::pipeline::propose::ProposeRefusal),
    /// Several pairs' ends: each pair's error, and the gravest exit code of them.
    #[error("{0}")]
    Fleet(Fleet),
    /// An AWS call of an SDK change failed (exit 1): the region, the call and what AWS said.
    #[error("{0}. Nothing else was changed; run the same command again to continue")]
    Aws(crate::aws::AwsError),
    /// Terraform failed, or was stopped by a signal (128 + the signal).
    #[error(transparent)]
    Terraform(Arc<TfError>),
    /// The run lease could not be taken or kept, or the state's store (the S3 bucket of the
    /// backend and its lease) does not answer: nothing may change through Terraform (exit 1).
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// The configuration cannot be read or is not valid.
    #[error(transparent)]
    Config(Arc<LoadError>),
    /// The Terraform root could not be rendered.
    #[error(transparent)]
    Render(Arc<RenderError>),
    /// A run that stopped, with what to do next (the command that continues it), said after
    /// its error. Its outcome and exit code are its error's.
    #[error("{error}\n{}", next.join("\n"))]
    WithNext {
        error: Box<DrError>,
        next: Vec<String>,
    },
}

/// A gate that did not pass in time: which pair, which phase, what was still not true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateTimedOut {
    pub pair: String,
    pub step: crate::dr::phase::Step,
    pub timeout: std::time::Duration,
    /// What the gate waits for.
    pub gate: String,
    /// What AWS said at the last look, if it answered.
    pub last: Option<String>,
    /// What to do next (depends on the scope: a pipeline stage or the whole run).
    pub advice: String,
}

impl std::fmt::Display for GateTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gate of phase \"{}\" did not pass within {} (AWS time):\npair {}: \"{}\" still not true: {}\n{}",
            self.step.title(),
            crate::dr::gate::fmt_dur(self.timeout),
            self.pair,
            self.gate,
            self.last.as_deref().unwrap_or("unknown"),
            self.advice
        )
    }
}

/// How the pairs of a fleet that did not all complete ended.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// Each pair that stopped (or could not start), with its error.
    pub stopped: Vec<(String, DrError)>,
    /// The pairs that completed.
    pub completed: Vec<String>,
    /// Whether any pair started: pairs that could not start join as refused when any was
    /// refused; pairs that stopped on the way as their gravest end (timeout, refusal, error).
    pub started: bool,
    /// What was left as it was ("nothing was changed"), said after the pairs.
    pub untouched: Option<String>,
}

impl std::fmt::Display for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self
            .stopped
            .iter()
            .map(|(name, e)| named(name, e))
            .collect();
        write!(f, "{}", lines.join("\n"))?;
        if let Some(untouched) = &self.untouched {
            write!(f, "\n{untouched}")?;
        }
        if !self.completed.is_empty() {
            write!(
                f,
                "\nthe other pair(s) completed: {}. Run the same command again to finish only what is left",
                self.completed.join(", ")
            )?;
        }
        Ok(())
    }
}

impl Fleet {
    fn outcome(&self) -> Outcome {
        let any = |o: Outcome| self.stopped.iter().any(|(_, e)| e.outcome() == o);
        if self.started && any(Outcome::GateTimeout) {
            Outcome::GateTimeout
        } else if any(Outcome::Refused) {
            Outcome::Refused
        } else {
            Outcome::Error
        }
    }
}

/// How a run ended, as the events and the report say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Error,
    Refused,
    GateTimeout,
    Interrupted,
    /// B serves, the Terraform state is behind AWS (unplanned failover, state not writable).
    StateBehind,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Error => 1,
            Outcome::Refused => 2,
            Outcome::GateTimeout => 3,
            Outcome::Interrupted => 130,
            Outcome::StateBehind => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
            Outcome::GateTimeout => "gate timeout",
            Outcome::Interrupted => "interrupted",
            Outcome::StateBehind => "B serves, state behind",
        }
    }
}

impl DrError {
    pub fn outcome(&self) -> Outcome {
        match self {
            DrError::Failed(_) | DrError::Config(_) => Outcome::Error,
            DrError::Render(_) => Outcome::Error,
            DrError::Propose(r) if r.refused() => Outcome::Refused,
            DrError::Propose(_) => Outcome::Error,
            DrError::StateBehind(_) => Outcome::StateBehind,
            DrError::Refused(_) | DrError::Pending(_) | DrError::Stage(_) => Outcome::Refused,
            DrError::GateTimeout(_) | DrError::GateTimedOut(_) => Outcome::GateTimeout,
            DrError::Interrupted(..) => Outcome::Interrupted,
            DrError::Pair { error, .. } | DrError::WithNext { error, .. } => error.outcome(),
            DrError::Fleet(fleet) => fleet.outcome(),
            DrError::Terraform(e) if matches!(**e, TfError::Interrupted { .. }) => {
                Outcome::Interrupted
            }
            DrError::Terraform(_) | DrError::Lease(_) | DrError::Aws(_) => Outcome::Error,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            DrError::Interrupted(_, signal) => (128 + signal).clamp(0, 255) as u8,
            DrError::Terraform(e) => match **e {
                TfError::Interrupted { signal, .. } => (128 + signal).clamp(0, 255) as u8,
                _ => 1,
            },
            DrError::Pair { error, .. } | DrError::WithNext { error, .. } => error.exit_code(),
            _ => self.outcome().exit_code(),
        }
    }

    /// The message an operator reads: the whole error, with the pair and phase in front when
    /// it belongs to one.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// This error followed by what to do next (nothing to add: the error as it is).
    pub fn with_next(self, next: Vec<String>) -> DrError {
        if next.is_empty() {
            return self;
        }
        DrError::WithNext {
            error: Box::new(self),
            next,
        }
    }

    /// This error, as pair `pair`'s (unless it already is that pair's).
    pub fn for_pair(self, pair: &str) -> DrError {
        match self {
            DrError::Pair { pair: ref p, .. } if p == pair => self,
            error => DrError::Pair {
                pair: pair.to_string(),
                phase: None,
                error: Box::new(error),
            },
        }
    }

    /// This error, as pair `pair`'s at phase `phase`.
    pub fn at(self, pair: &str, phase: impl std::fmt::Display) -> DrError {
        DrError::Pair {
            pair: pair.to_string(),
            phase: Some(phase.to_string()),
            error: Box::new(self),
        }
    }

    /// The pair this error belongs to, if it belongs to one.
    pub fn pair(&self) -> Option<&str> {
        match self {
            DrError::Pair { pair, .. } => Some(pair),
            DrError::GateTimedOut(t) => Some(&t.pair),
            DrError::WithNext { error, .. } => error.pair(),
            _ => None,
        }
    }
}

/// Errors of a fleet, joined.
impl DrError {
    /// Pairs that cannot start, each with its reason, joined: refused when any was refused,
    /// else failed. `untouched` says what was left as it was ("nothing was changed").
    pub fn blocked(blocked: Vec<(String, DrError)>, untouched: &str) -> DrError {
        DrError::Fleet(Fleet {
            stopped: blocked,
            completed: Vec::new(),
            started: false,
            untouched: Some(untouched.to_string()),
        })
    }

    /// The end of a run whose pairs did not all complete: the pairs that stopped, each with
    /// its reason, the pairs that completed, and the gravest end (a timeout, then a refusal,
    /// then an error).
    pub fn fleet(stopped: Vec<(String, DrError)>, completed: &[&str]) -> DrError {
        DrError::Fleet(Fleet {
            stopped,
            completed: completed.iter().map(|c| c.to_string()).collect(),
            started: true,
            untouched: None,
        })
    }
}

impl From<TfError> for DrError {
    fn from(e: TfError) -> Self {
        DrError::Terraform(Arc::new(e))
    }
}

impl From<LoadError> for DrError {
    fn from(e: LoadError) -> Self {
        DrError::Config(Arc::new(e))
    }
}

impl From<RenderError> for DrError {
    fn from(e: RenderError) -> Self {
        DrError::Render(Arc::new(e))
    }
}

/// A pair's error as one line of a fleet's: with the pair in front unless the error already
/// starts with it.
fn named(pair: &str, e: &DrError) -> String {
    if matches!(e, DrError::Pair { pair: p, .. } if p == pair) {
        e.to_string()
    } else {
        format!("pair {pair}: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_end_has_one_exit_code() {
        assert_eq!(DrError::Failed("x".into()).exit_code(), 1);
        assert_eq!(DrError::Refused("x".into()).exit_code(), 2);
        assert_eq!(DrError::GateTimeout("x".into()).exit_code(), 3);
        assert_eq!(DrError::StateBehind("x".into()).exit_code(), 4);
        let unreachable = LeaseError::Unreachable("S3 does not answer".into());
        assert_eq!(DrError::from(unreachable).exit_code(), 1);
        assert_eq!(Outcome::Done.exit_code(), 0);
        let e = DrError::Refused("no".into()).for_pair("app");
        assert_eq!(e.to_string(), "pair app: no");
        assert_eq!((e.exit_code(), e.pair()), (2, Some("app")));
        let e = DrError::GateTimeout("late".into()).at("app", "wait");
        assert_eq!(e.to_string(), "pair app, phase \"wait\": late");
        assert_eq!(e.exit_code(), 3);
        let stopped = TfError::Interrupted {
            command: "apply".into(),
            signal: 15,
        };
        assert_eq!(DrError::from(stopped).exit_code(), 143);
    }

    #[test]
    fn a_fleet_ends_with_its_gravest_error_and_says_which_pairs_completed() {
        let stopped = vec![
            ("a".to_string(), DrError::Failed("x".into())),
            (
                "b".to_string(),
                DrError::GateTimeout("late".into()).at("b", "y"),
            ),
            ("c".to_string(), DrError::Refused("z".into())),
        ];
        let e = DrError::fleet(stopped, &["d"]);
        assert_eq!(e.outcome(), Outcome::GateTimeout);
        assert_eq!(
            e.to_string(),
            "pair a: x\npair b, phase \"y\": late\npair c: z\nthe other pair(s) completed: d. Run the same command again to finish only what is left"
        );
        let failed = || vec![("a".to_string(), DrError::Failed("x".into()))];
        assert_eq!(DrError::fleet(failed(), &[]).outcome(), Outcome::Error);
        let blocked = DrError::blocked(failed(), "nothing was changed");
        assert_eq!(blocked.outcome(), Outcome::Error);
        assert_eq!(blocked.to_string(), "pair a: x\nnothing was changed");
        let mut mixed = failed();
        mixed.push(("b".into(), DrError::GateTimeout("late".into())));
        mixed.push(("c".into(), DrError::Refused("z".into())));
        // Pairs that could not start: a refusal is the gravest.
        let blocked = DrError::blocked(mixed, "nothing was written");
        assert_eq!(blocked.outcome(), Outcome::Refused);
    }

    /// The joined end of a fleet, pinned.
    #[test]
    fn a_fleets_end_reads_as_operators_see_it() {
        let stopped = || {
            vec![
                (
                    "home".to_string(),
                    DrError::GateTimeout("B is still written".into())
                        .at("home", "wait until writes on B stopped and reached A"),
                ),
                (
                    "media".to_string(),
                    DrError::Refused(
                        "not confirmed; nothing more was changed (--yes skips this question)"
                            .into(),
                    ),
                ),
            ]
        };
        let shown = [
            DrError::fleet(stopped(), &["web"]).to_string(),
            DrError::blocked(stopped(), "nothing was changed").to_string(),
        ];
        insta::assert_snapshot!(shown.join("\n\n"));
    }
}
