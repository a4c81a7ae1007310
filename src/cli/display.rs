//! The orchestrator's events for people (a live display on stderr: a spinner per pair on a
//! terminal, lines otherwise) or for machines (one JSON object per line on stdout).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use efs_dr::dr::events::{Event, EventKind, EventSink};
use efs_dr::dr::gate::Verdict;

/// JSON lines on stdout.
pub struct JsonLines;

impl EventSink for JsonLines {
    fn emit(&mut self, event: &Event) {
        if let Ok(line) = serde_json::to_string(event) {
            super::output::stdout(&format!("{line}\n"));
        }
    }
}

/// The live display on stderr.
pub struct Human {
    progress: MultiProgress,
    bars: BTreeMap<String, ProgressBar>,
    /// Per pair: what its gate waits for, and when a line last said so.
    last_waiting: BTreeMap<String, (String, Instant)>,
    /// Per pair: when its phase started.
    started: BTreeMap<String, Instant>,
    /// A line at least this often during a wait, without a terminal (CI).
    every: Duration,
}

impl Human {
    pub fn new() -> Human {
        // Spinners are information: none under -q.
        let target = if std::io::stderr().is_terminal()
            && super::output::level() >= super::output::Level::Default
        {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Human {
            progress: MultiProgress::with_draw_target(target),
            bars: BTreeMap::new(),
            last_waiting: BTreeMap::new(),
            started: BTreeMap::new(),
            every: super::output::progress_every(),
        }
    }

    /// A line above the progress display.
    pub fn say(&self, line: &str) {
        self.progress
            .suspend(|| super::output::info(&format!("{line}\n")));
    }

    /// The run's result above the progress display (shown under `-q` too).
    fn result(&self, line: &str) {
        self.progress
            .suspend(|| super::output::result(&format!("{line}\n")));
    }

    /// A warning above the progress display (shown under `-q` too).
    fn warn(&self, line: &str) {
        self.progress
            .suspend(|| super::output::warn(&format!("{line}\n")));
    }

    fn clear_bars(&mut self) {
        for (_, bar) in std::mem::take(&mut self.bars) {
            bar.finish_and_clear();
            self.progress.remove(&bar);
        }
    }
}

/// A wall-clock span in whole seconds, as people read it ("3m 12s").
fn human_secs(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

fn changes_text(changes: &[efs_dr::dr::events::TfChange]) -> String {
    if changes.is_empty() {
        return "no changes".into();
    }
    changes
        .iter()
        .map(|c| format!("{} {}", c.kind.as_str(), c.address))
        .collect::<Vec<_>>()
        .join(", ")
}

impl EventSink for Human {
    fn emit(&mut self, e: &Event) {
        let pair = e.pair.clone().unwrap_or_default();
        match &e.kind {
            EventKind::RunStarted {
                operation, pairs, ..
            } => self.say(&format!(
                "efs-dr {}: {}",
                operation.name(),
                pairs.join(", ")
            )),
            EventKind::RootInitialised { dir } => self.say(&format!("terraform init in {dir}")),
            EventKind::LeaseTaken { lease, taken_over } => {
                self.say(&efs_dr::dr::events::lease_text(lease, taken_over.as_ref()))
            }
            EventKind::PairPlanned { found, .. } => self.say(&format!("[{pair}] {found}")),
            EventKind::PhaseStarted { title, gate } => {
                self.say(&format!("[{pair}] > {title}\n[{pair}]   gate: {gate}"));
                let bar = self.progress.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{prefix}] {elapsed:>4} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(pair.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                if let Some(old) = self.bars.insert(pair.clone(), bar) {
                    old.finish_and_clear();
                }
                self.last_waiting.remove(&pair);
                self.started.insert(pair.clone(), Instant::now());
            }
            EventKind::PlanSummary { changes } => self.say(&format!(
                "[{pair}]   terraform plan: {}",
                changes_text(changes)
            )),
            EventKind::Applied { changes } => self.say(&format!(
                "[{pair}]   terraform apply: {} change(s) applied",
                changes.len()
            )),
            EventKind::StateChanged { command, address } => {
                self.say(&format!("[{pair}]   terraform {command} {address}"))
            }
            EventKind::SdkChange { change, .. } => {
                self.say(&format!("[{pair}]   SDK: {}", change.describe()))
            }
            EventKind::GatePolled { verdict, .. } => {
                // Passed and refused get their own lines.
                let Verdict::Waiting(w) = verdict else { return };
                let text = format!("waiting: {w}");
                if let Some(bar) = self.bars.get(&pair) {
                    bar.set_message(text.clone());
                }
                // Without a terminal: a line when it changes, and at least every `every`.
                let said = match self.last_waiting.get(&pair) {
                    Some((last, at)) if *last == text => at.elapsed() < self.every,
                    _ => false,
                };
                if !said && self.progress.is_hidden() {
                    let so_far = self
                        .started
                        .get(&pair)
                        .map(|t| format!(" ({} so far)", human_secs(t.elapsed())))
                        .unwrap_or_default();
                    self.say(&format!("[{pair}]   {text}{so_far}"));
                    self.last_waiting.insert(pair, (text, Instant::now()));
                } else if !said {
                    self.last_waiting.insert(pair, (text, Instant::now()));
                }
            }
            EventKind::GatePassed {
                detail,
                waited_ms,
                waited_aws_ms,
            } => {
                if let Some(bar) = self.bars.remove(&pair) {
                    bar.finish_and_clear();
                    self.progress.remove(&bar);
                }
                let aws = waited_aws_ms
                    .map(|ms| {
                        format!(
                            " ({} AWS)",
                            humantime::format_duration(std::time::Duration::from_secs(ms / 1000))
                        )
                    })
                    .unwrap_or_default();
                self.say(&format!(
                    "[{pair}]   passed after {:.1} s wall{aws}: {detail}",
                    *waited_ms as f64 / 1000.0
                ));
            }
            EventKind::DataAtRisk { text, .. } => {
                self.say(&format!("[{pair}]   data at risk: {text}"))
            }
            EventKind::WritesOnA {
                assessment,
                discarded,
            } => self.say(&format!(
                "[{pair}]   writes only A has: {}{}",
                assessment.describe(),
                if *discarded {
                    " (--discard-writes-on-a: they will be destroyed)"
                } else {
                    ""
                }
            )),
            EventKind::RecoveryPoint { arn, restore, .. } => {
                self.say(&format!("[{pair}]   recovery point of A: {arn}"));
                if !restore.is_empty() {
                    self.say(&format!(
                        "[{pair}]   to restore A's writes into a directory of A: {restore}"
                    ));
                }
            }
            EventKind::Note { text } => self.say(&format!("[{pair}]   note: {text}")),
            EventKind::HookRan { hook, outcome, .. } => {
                let how = match (&outcome.failure, outcome.exit_code) {
                    (Some(f), _) => f.clone(),
                    (None, Some(0)) => "succeeded".into(),
                    (None, Some(c)) => format!("failed (exit {c})"),
                    (None, None) => "did not exit".into(),
                };
                self.say(&format!(
                    "[{pair}]   hook {hook}: {how} after {}s",
                    outcome.wall_seconds
                ));
                for line in outcome
                    .output
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    self.say(&format!("[{pair}]     | {line}"));
                }
            }
            EventKind::Progress { text } => {
                let targets: Vec<&ProgressBar> = if pair.is_empty() {
                    self.bars.values().collect()
                } else {
                    self.bars.get(&pair).into_iter().collect()
                };
                for bar in &targets {
                    bar.set_message(text.clone());
                }
                if self.progress.is_hidden() {
                    let who = if pair.is_empty() { "*" } else { pair.as_str() };
                    self.say(&format!("[{who}]   {text}"));
                }
            }
            EventKind::Answered { .. } => {}
            EventKind::Warning { text } => self.warn(&format!("[{pair}]   warning: {text}")),
            EventKind::Refused { message } => {
                self.clear_bars();
                self.say(&format!("[{pair}] refused: {message}"))
            }
            EventKind::Finished {
                message,
                exit_code,
                next,
                ..
            } => {
                self.clear_bars();
                // An error is printed once, by main, after the report's path, with what
                // continues it.
                if *exit_code == 0 {
                    self.result(message);
                    for line in next {
                        self.result(&format!("  {line}"));
                    }
                }
            }
            EventKind::ReportWritten { report } => self.result(&format!("report: {report}")),
        }
    }
}
