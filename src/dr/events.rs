//! What a run tells the operator while it runs: a live progress display per pair and phase on
//! stderr, or one JSON event per line on stdout. Every event is also kept for the report.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::gate::Outcome;
use super::phase::{SdkChange, Step};
use crate::terraform::ChangeKind;

/// A Terraform change as the report and the events show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TfChange {
    pub address: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    RunStarted {
        operation: String,
        pairs: Vec<String>,
    },
    PhaseStarted {
        title: String,
        gate: String,
    },
    PlanSummary {
        changes: Vec<TfChange>,
    },
    Applied {
        changes: Vec<TfChange>,
    },
    StateChanged {
        command: String,
        address: String,
    },
    SdkChange {
        change: SdkChange,
    },
    GatePolled {
        outcome: Outcome,
        next_poll_ms: u64,
    },
    GatePassed {
        detail: String,
        elapsed_ms: u64,
    },
    Refused {
        message: String,
    },
    Finished {
        exit_code: u8,
        message: String,
        report: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Local time of the event.
    pub at: String,
    /// AWS's time when known (the last `Date` header).
    pub aws_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    #[serde(flatten)]
    pub kind: EventKind,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// Where events go.
pub struct Events {
    json: bool,
    started: Instant,
    progress: MultiProgress,
    bars: BTreeMap<String, (ProgressBar, Instant, String)>,
    pub timeline: Vec<Event>,
    last_waiting: BTreeMap<String, String>,
}

impl Events {
    pub fn new(json: bool) -> Events {
        let target = if !json && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Events {
            json,
            started: Instant::now(),
            progress: MultiProgress::with_draw_target(target),
            bars: BTreeMap::new(),
            timeline: Vec::new(),
            last_waiting: BTreeMap::new(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A line for people, above the progress display.
    pub fn say(&self, line: &str) {
        if self.json {
            return;
        }
        self.progress.suspend(|| {
            let _ = writeln!(std::io::stderr(), "{line}");
        });
    }

    pub fn emit(
        &mut self,
        pair: Option<&str>,
        step: Option<Step>,
        aws_time: Option<SystemTime>,
        kind: EventKind,
    ) {
        let event = Event {
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            aws_time: aws_time.map(crate::aws::rfc3339),
            pair: pair.map(str::to_string),
            step,
            kind,
            elapsed: self.started.elapsed(),
        };
        if self.json {
            if let Ok(line) = serde_json::to_string(&event) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        } else {
            self.show(&event);
        }
        self.timeline.push(event);
    }

    fn show(&mut self, e: &Event) {
        let pair = e.pair.clone().unwrap_or_default();
        match &e.kind {
            EventKind::RunStarted { operation, pairs } => {
                self.say(&format!("efs-dr {operation}: {}", pairs.join(", ")))
            }
            EventKind::PhaseStarted { title, gate } => {
                self.say(&format!("[{pair}] > {title}\n[{pair}]   gate: {gate}"));
                let bar = self.progress.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{prefix}] {elapsed:>4} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(pair.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                self.bars
                    .insert(pair.clone(), (bar, Instant::now(), title.clone()));
                self.last_waiting.remove(&pair);
            }
            EventKind::PlanSummary { changes } => {
                let list = if changes.is_empty() {
                    "no changes".to_string()
                } else {
                    changes
                        .iter()
                        .map(|c| format!("{:?} {}", c.kind, c.address).to_lowercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                self.say(&format!("[{pair}]   terraform plan: {list}"));
            }
            EventKind::Applied { changes } => self.say(&format!(
                "[{pair}]   terraform apply: {} change(s) applied",
                changes.len()
            )),
            EventKind::StateChanged { command, address } => {
                self.say(&format!("[{pair}]   terraform {command} {address}"))
            }
            EventKind::SdkChange { change } => {
                self.say(&format!("[{pair}]   SDK: {}", change.describe()))
            }
            EventKind::GatePolled { outcome, .. } => {
                let text = match outcome {
                    Outcome::Waiting(w) => format!("waiting: {w}"),
                    // Passed and refused get their own lines.
                    Outcome::Passed(_) | Outcome::Refused(_) => return,
                };
                if let Some((bar, _, _)) = self.bars.get(&pair) {
                    bar.set_message(text.clone());
                }
                if self.last_waiting.get(&pair) != Some(&text) && self.progress.is_hidden() {
                    self.say(&format!("[{pair}]   {text}"));
                }
                self.last_waiting.insert(pair, text);
            }
            EventKind::GatePassed { detail, elapsed_ms } => {
                if let Some((bar, _, _)) = self.bars.remove(&pair) {
                    bar.finish_and_clear();
                    self.progress.remove(&bar);
                }
                self.say(&format!(
                    "[{pair}]   passed after {:.1}s: {detail}",
                    *elapsed_ms as f64 / 1000.0
                ));
            }
            EventKind::Refused { message } => {
                self.clear_bars();
                self.say(&format!("[{pair}] refused: {message}"))
            }
            EventKind::Finished {
                message,
                report,
                exit_code,
            } => {
                self.clear_bars();
                // An error is printed once, by main, after the report's path.
                if *exit_code == 0 {
                    self.say(message);
                }
                if let Some(r) = report {
                    self.say(&format!("report: {r}"));
                }
            }
        }
    }

    fn clear_bars(&mut self) {
        for (_, (bar, _, _)) in std::mem::take(&mut self.bars) {
            bar.finish_and_clear();
            self.progress.remove(&bar);
        }
    }
}
