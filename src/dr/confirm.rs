//! Confirmation as a capability the caller passes in: the orchestrator asks, the caller knows
//! how (a terminal, `--yes`, or not at all). The library never reads stdin.

use super::decide::Question;

/// The operator's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A person answered yes.
    Yes,
    /// The flag that skips the question answered it (`--yes`).
    Flagged,
    No,
    /// There is nobody to ask (no terminal) and no flag answered.
    CannotAsk,
}

pub trait Confirm: Send + Sync {
    fn ask(&self, question: &Question) -> Answer;

    /// Whether `ask` could get an answer (a flag, or somebody to ask): a run checks every
    /// question it will have before its first change.
    fn can_answer(&self, _question: &Question) -> bool {
        true
    }
}

/// Never asks: every question is answered "cannot ask" (dry runs, pipelines without flags).
pub struct Never;

impl Confirm for Never {
    fn ask(&self, _: &Question) -> Answer {
        Answer::CannotAsk
    }

    fn can_answer(&self, _: &Question) -> bool {
        false
    }
}
