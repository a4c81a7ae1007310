//! Confirmations on the terminal: the CLI's implementation of the orchestrator's `Confirm`.

use std::io::{BufRead, IsTerminal, Write};

use efs_dr::dr::confirm::{Answer, Confirm};
use efs_dr::dr::decide::{Question, Skip};

/// Asks on the terminal; `--yes` answers the questions it skips.
pub struct Terminal {
    pub assume_yes: bool,
}

impl Confirm for Terminal {
    fn can_answer(&self, question: &Question) -> bool {
        (self.assume_yes && question.skip == Skip::Yes)
            || (std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
    }

    fn ask(&self, question: &Question) -> Answer {
        if self.assume_yes && question.skip == Skip::Yes {
            return Answer::Flagged;
        }
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Answer::CannotAsk;
        }
        let mut err = std::io::stderr();
        let _ = write!(err, "{}\nProceed? [y/N] ", question.text);
        let _ = err.flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        if matches!(line.trim(), "y" | "Y" | "yes") {
            Answer::Yes
        } else {
            Answer::No
        }
    }
}
