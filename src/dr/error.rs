//! The one error type of the orchestrator and its commands, and the only mapping from an end to
//! an exit code: 0 done, 1 error, 2 refused as unsafe (or not confirmed), 3 a gate timed out,
//! 4 B serves but the Terraform state is behind (an unplanned failover that could not write it).

use serde::Serialize;

/// How a command ends when it does not succeed. The message says what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// Not an error: `--detailed-exitcode` says there is drift or work pending (exit 2).
    #[error("{0}")]
    Pending(String),
    /// Stopped by a signal at a safe point (exit 128 + the signal: 130, 143).
    #[error("{0}")]
    Interrupted(String, i32),
    /// The state's store (the S3 bucket of the backend and its run lease) does not answer:
    /// nothing may change through Terraform (exit 1).
    #[error("{0}")]
    StateUnreachable(String),
    /// An unplanned failover made B writable, but the Terraform state could not be written:
    /// B serves, the state still holds A -> B until the same command runs again (exit 4).
    #[error("{0}")]
    StateBehind(String),
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
            DrError::Failed(_) | DrError::StateUnreachable(_) => Outcome::Error,
            DrError::StateBehind(_) => Outcome::StateBehind,
            DrError::Refused(_) | DrError::Pending(_) => Outcome::Refused,
            DrError::GateTimeout(_) => Outcome::GateTimeout,
            DrError::Interrupted(..) => Outcome::Interrupted,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            DrError::Interrupted(_, signal) => (128 + signal).clamp(0, 255) as u8,
            _ => self.outcome().exit_code(),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            DrError::Failed(m)
            | DrError::Refused(m)
            | DrError::GateTimeout(m)
            | DrError::Pending(m)
            | DrError::StateUnreachable(m)
            | DrError::StateBehind(m)
            | DrError::Interrupted(m, _) => m,
        }
    }

    /// The same end, with `context` in front of the message.
    pub fn context(self, context: impl std::fmt::Display) -> DrError {
        let wrap = |m: String| format!("{context}: {m}");
        match self {
            DrError::Failed(m) => DrError::Failed(wrap(m)),
            DrError::Refused(m) => DrError::Refused(wrap(m)),
            DrError::GateTimeout(m) => DrError::GateTimeout(wrap(m)),
            DrError::Pending(m) => DrError::Pending(wrap(m)),
            DrError::Interrupted(m, s) => DrError::Interrupted(wrap(m), s),
            DrError::StateUnreachable(m) => DrError::StateUnreachable(wrap(m)),
            DrError::StateBehind(m) => DrError::StateBehind(wrap(m)),
        }
    }
}

/// Errors of a fleet, joined.
impl DrError {
    /// Pairs that cannot start, each with its reason, joined: refused when any was refused,
    /// else failed. `untouched` says what was left as it was ("nothing was changed").
    pub fn blocked(blocked: &[(String, DrError)], untouched: &str) -> DrError {
        let text = blocked
            .iter()
            .map(|(name, e)| named(name, e))
            .collect::<Vec<_>>()
            .join("\n");
        let text = format!("{text}\n{untouched}");
        if blocked
            .iter()
            .any(|(_, e)| matches!(e, DrError::Refused(_)))
        {
            DrError::Refused(text)
        } else {
            DrError::Failed(text)
        }
    }

    /// The end of a run whose pairs did not all complete: the pairs that stopped, each with
    /// its reason, the pairs that completed, and the gravest end (a timeout, then a refusal,
    /// then an error).
    pub fn fleet(stopped: &[(String, DrError)], completed: &[&str]) -> DrError {
        let mut text = stopped
            .iter()
            .map(|(name, e)| named(name, e))
            .collect::<Vec<_>>()
            .join("\n");
        if !completed.is_empty() {
            text.push_str(&format!(
                "\nthe other pair(s) completed: {}. Run the same command again to finish only what is left",
                completed.join(", ")
            ));
        }
        let any = |pick: fn(&DrError) -> bool| stopped.iter().any(|(_, e)| pick(e));
        if any(|e| matches!(e, DrError::GateTimeout(_))) {
            DrError::GateTimeout(text)
        } else if any(|e| matches!(e, DrError::Refused(_))) {
            DrError::Refused(text)
        } else {
            DrError::Failed(text)
        }
    }
}

/// A pair's error as one line of a fleet's: the message, with the pair in front unless it
/// starts with it already. (Errors that carry their pair as data are the next step.)
fn named(pair: &str, e: &DrError) -> String {
    let m = e.message();
    if m.starts_with(&format!("pair {pair}")) {
        m.to_string()
    } else {
        format!("pair {pair}: {m}")
    }
}

impl From<crate::terraform::TfError> for DrError {
    fn from(e: crate::terraform::TfError) -> Self {
        match e {
            crate::terraform::TfError::Interrupted { signal, .. } => {
                DrError::Interrupted(e.to_string(), signal)
            }
            e => DrError::Failed(e.to_string()),
        }
    }
}

impl From<crate::lease::LeaseError> for DrError {
    fn from(e: crate::lease::LeaseError) -> Self {
        match e {
            crate::lease::LeaseError::Failed(m) => DrError::Failed(m),
            crate::lease::LeaseError::Unreachable(m) => DrError::StateUnreachable(m),
        }
    }
}

impl From<crate::config::LoadError> for DrError {
    fn from(e: crate::config::LoadError) -> Self {
        DrError::Failed(e.to_string())
    }
}

impl From<crate::render::RenderError> for DrError {
    fn from(e: crate::render::RenderError) -> Self {
        DrError::Failed(e.to_string())
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
        assert_eq!(DrError::StateUnreachable("x".into()).exit_code(), 1);
        assert_eq!(Outcome::Done.exit_code(), 0);
        let e = DrError::Refused("no".into()).context("pair app");
        assert_eq!(e, DrError::Refused("pair app: no".into()));
    }

    #[test]
    fn a_fleet_ends_with_its_gravest_error_and_says_which_pairs_completed() {
        let stopped = vec![
            ("a".to_string(), DrError::Failed("x".into())),
            (
                "b".to_string(),
                DrError::GateTimeout("pair b, phase y: late".into()),
            ),
            ("c".to_string(), DrError::Refused("z".into())),
        ];
        let e = DrError::fleet(&stopped, &["d"]);
        assert_eq!(
            e,
            DrError::GateTimeout("pair a: x\npair b, phase y: late\npair c: z\nthe other pair(s) completed: d. Run the same command again to finish only what is left".into())
        );
        assert!(matches!(
            DrError::fleet(&stopped[..1], &[]),
            DrError::Failed(_)
        ));
        assert!(matches!(
            DrError::blocked(&stopped[..1], "nothing was changed"),
            DrError::Failed(m) if m == "pair a: x\nnothing was changed"
        ));
        assert!(matches!(
            DrError::blocked(&stopped, "nothing was written"),
            DrError::Refused(_)
        ));
    }

    /// The joined end of a fleet, pinned.
    #[test]
    fn a_fleets_end_reads_as_operators_see_it() {
        let stopped = vec![
            (
                "home".to_string(),
                DrError::GateTimeout(
                    "pair home, phase \"wait until writes on B stopped and reached A\": B is still written".into(),
                ),
            ),
            (
                "media".to_string(),
                DrError::Refused("not confirmed; nothing more was changed (--yes skips this question)".into()),
            ),
        ];
        let shown = [
            DrError::fleet(&stopped, &["web"]).to_string(),
            DrError::blocked(&stopped, "nothing was changed").to_string(),
        ];
        insta::assert_snapshot!(shown.join("\n\n"));
    }
}
