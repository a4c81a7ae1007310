//! The run report, a pure function of the run's events: the timeline of each phase, the
//! Terraform and SDK changes, the measured RTO and the data at risk. Rendered as Markdown (tera
//! template) and JSON.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::events::{Event, EventKind};
use super::measure::measure;
pub use super::measure::{DataAccount, Rto};
use super::phase::Step;
use crate::aws::rfc3339;

/// Why a report could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the report could not be rendered: {0:?}")]
    Render(tera::Error),
    #[error("the report could not be serialised: {0}")]
    Json(serde_json::Error),
    #[error("cannot create the report folder {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

const TEMPLATE: &str = include_str!("../../templates/report/report.md.tera");

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRecord {
    pub step: Step,
    pub title: String,
    pub gate: String,
    pub started_s: f64,
    pub ended_s: Option<f64>,
    pub aws_started: Option<String>,
    pub aws_ended: Option<String>,
    pub gate_result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairReport {
    pub name: String,
    pub a: String,
    pub b: String,
    /// What the live state was when the run started.
    pub found: String,
    pub phases: Vec<PhaseRecord>,
    pub rto: Option<Rto>,
    /// A failback's outage for writers: from when writes had to stop (the quiesce) to A
    /// writable (B -> A removed).
    pub write_outage: Option<Rto>,
    pub data_at_risk: Option<String>,
    pub data_at_risk_seconds: Option<f64>,
    /// Every write accounted for, and on what basis.
    pub data: DataAccount,
    pub notes: Vec<String>,
}

impl Report {
    /// Each pair's figures, as numbers.
    pub fn figures(&self) -> Vec<super::events::Figures> {
        self.pairs
            .iter()
            .map(|p| {
                super::measure::Measured {
                    rto: p.rto.clone(),
                    write_outage: p.write_outage.clone(),
                    data_at_risk: p.data_at_risk.clone(),
                    data_at_risk_seconds: p.data_at_risk_seconds,
                    data: p.data.clone(),
                }
                .figures(&p.name)
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeRecord {
    pub pair: String,
    pub address: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SdkRecord {
    pub pair: String,
    pub text: String,
    pub change: serde_json::Value,
    /// AWS's request id of the call.
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub elapsed_s: f64,
    pub at: String,
    pub aws_time: Option<String>,
    pub pair: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub operation: String,
    pub outcome: String,
    /// A pipeline stage's place in the operation (the title says it instead of "done").
    pub stage: Option<String>,
    pub message: String,
    /// What is true at the end and what to do next (the command's last lines).
    pub next: Vec<String>,
    pub exit_code: u8,
    pub started_at: String,
    /// `wall_seconds` in human units ("28m 23s").
    pub wall: String,
    pub aws_started_at: Option<String>,
    pub aws_finished_at: Option<String>,
    pub wall_seconds: f64,
    /// The run lease this run held (one run at a time), and from whom it was taken over.
    pub lease: Option<String>,
    pub lease_taken_over: Option<crate::lease::TakeOver>,
    pub pairs: Vec<PairReport>,
    pub terraform_changes: Vec<ChangeRecord>,
    pub sdk_changes: Vec<SdkRecord>,
    pub timeline: Vec<TimelineEntry>,
    /// What went wrong without stopping the run and belongs to no pair.
    pub warnings: Vec<String>,
    /// The version of this report's format.
    pub schema_version: u32,
    /// Who ran it, with what.
    pub audit: Option<super::events::Audit>,
    /// Each question the run asked and who answered it.
    pub answers: Vec<AnswerRecord>,
}

/// The version of the report's format (JSON and Markdown): raised when a field changes meaning
/// or goes.
pub const REPORT_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRecord {
    pub question: String,
    pub by: String,
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl Report {
    /// The report of the run whose events these are.
    pub fn from_events(events: &[Event]) -> Report {
        let mut r = Report {
            operation: String::new(),
            outcome: "running".into(),
            stage: None,
            next: Vec::new(),
            message: String::new(),
            exit_code: 0,
            started_at: String::new(),
            wall: String::new(),
            aws_started_at: None,
            aws_finished_at: None,
            wall_seconds: 0.0,
            lease: None,
            lease_taken_over: None,
            pairs: Vec::new(),
            terraform_changes: Vec::new(),
            sdk_changes: Vec::new(),
            timeline: Vec::new(),
            warnings: Vec::new(),
            schema_version: REPORT_SCHEMA,
            audit: None,
            answers: Vec::new(),
        };
        r.aws_started_at = super::measure::aws_start(events).map(rfc3339);
        for e in events {
            let pair = e.pair.clone().unwrap_or_default();
            match &e.kind {
                EventKind::Answered { question, by } => r.answers.push(AnswerRecord {
                    question: question.clone(),
                    by: by.clone(),
                }),
                EventKind::RunStarted {
                    operation: op,
                    audit,
                    ..
                } => {
                    r.audit = audit.clone();
                    r.operation = op.name().to_string();
                    r.started_at = humantime::format_rfc3339_seconds(e.at).to_string();
                }
                EventKind::LeaseTaken { lease, taken_over } => {
                    r.lease = Some(lease.clone());
                    r.lease_taken_over = taken_over.clone();
                }
                EventKind::PairPlanned { a, b, found, .. } => r.pairs.push(PairReport {
                    name: pair,
                    a: a.clone(),
                    b: b.clone(),
                    found: found.clone(),
                    phases: Vec::new(),
                    rto: None,
                    write_outage: None,
                    data_at_risk: None,
                    data_at_risk_seconds: None,
                    data: DataAccount::default(),
                    notes: Vec::new(),
                }),
                EventKind::PhaseStarted { title, gate } => {
                    if let (Some(p), Some(step)) = (r.pair_mut(&pair), e.step) {
                        p.phases.push(PhaseRecord {
                            step,
                            title: title.clone(),
                            gate: gate.clone(),
                            started_s: secs(e.elapsed_ms),
                            ended_s: None,
                            aws_started: e.aws_time.map(rfc3339),
                            aws_ended: None,
                            gate_result: None,
                        });
                    }
                }
                EventKind::GatePassed { detail, .. } => {
                    if let Some(p) = r.pair_mut(&pair) {
                        if let Some(rec) =
                            p.phases.iter_mut().rev().find(|x| Some(x.step) == e.step)
                        {
                            rec.ended_s = Some(secs(e.elapsed_ms));
                            rec.aws_ended = e.aws_time.map(rfc3339);
                            rec.gate_result = Some(detail.clone());
                        }
                    }
                }
                EventKind::Note { text } => {
                    if let Some(p) = r.pair_mut(&pair) {
                        p.notes.push(text.clone());
                    }
                }
                EventKind::Warning { text } => match r.pair_mut(&pair) {
                    Some(p) => p.notes.push(format!("warning: {text}")),
                    None => r.warnings.push(text.clone()),
                },
                // What Terraform changed in the state alone (a forget, an import, an untaint):
                // changes an auditor must see beside the applied ones.
                EventKind::StateChanged { command, address } => {
                    r.terraform_changes.push(ChangeRecord {
                        pair: pair.clone(),
                        address: address.clone(),
                        kind: command.clone(),
                    });
                }
                EventKind::Applied { changes } => {
                    for c in changes {
                        r.terraform_changes.push(ChangeRecord {
                            pair: pair.clone(),
                            address: c.address.clone(),
                            kind: c.kind.as_str().to_string(),
                        });
                    }
                }
                EventKind::SdkChange { change, request_id } => r.sdk_changes.push(SdkRecord {
                    pair: pair.clone(),
                    text: change.describe(),
                    change: serde_json::to_value(change).unwrap_or_default(),
                    request_id: request_id.clone(),
                }),
                EventKind::Finished {
                    outcome,
                    exit_code,
                    message,
                    stage,
                    next,
                    ..
                } => {
                    r.stage = stage.clone();
                    r.next = next.clone();
                    r.outcome = outcome.as_str().to_string();
                    r.exit_code = *exit_code;
                    r.message = message.clone();
                    r.wall_seconds = secs(e.elapsed_ms);
                    r.wall = humantime::format_duration(std::time::Duration::from_secs(
                        (e.elapsed_ms + 500) / 1000,
                    ))
                    .to_string();
                    r.aws_finished_at = e.aws_time.map(rfc3339);
                }
                _ => {}
            }
            if let Some(text) = describe(&e.kind) {
                r.timeline.push(TimelineEntry {
                    elapsed_s: secs(e.elapsed_ms),
                    at: humantime::format_rfc3339_millis(e.at).to_string(),
                    aws_time: e.aws_time.map(rfc3339),
                    pair: e.pair.clone(),
                    text: text.replace('|', "\\|"),
                });
            }
        }
        let mut measured = measure(events);
        for p in r.pairs.iter_mut() {
            if let Some(m) = measured.remove(&p.name) {
                p.rto = m.rto;
                p.write_outage = m.write_outage;
                p.data_at_risk = m.data_at_risk;
                p.data_at_risk_seconds = m.data_at_risk_seconds;
                p.data = m.data;
            }
        }
        r
    }

    pub fn pair_mut(&mut self, name: &str) -> Option<&mut PairReport> {
        self.pairs.iter_mut().find(|p| p.name == name)
    }

    pub fn markdown(&self) -> Result<String, ReportError> {
        let ctx = tera::Context::from_serialize(self).map_err(ReportError::Render)?;
        tera::Tera::one_off(TEMPLATE, &ctx, false).map_err(ReportError::Render)
    }

    /// Writes `<dir>/<operation>-<time>-<pid>.md` and `.json`; returns the Markdown path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        let stamp = self
            .started_at
            .replace([':', '-'], "")
            .replace('T', "-")
            .trim_end_matches('Z')
            .to_string();
        let base = format!(
            "{}-{stamp}-{}",
            self.operation.replace(' ', "-"),
            std::process::id()
        );
        let md = dir.join(format!("{base}.md"));
        let json = dir.join(format!("{base}.json"));
        let text = self.markdown()?;
        let write = |path: &Path, text: String| {
            std::fs::write(path, text).map_err(|source| ReportError::Write {
                path: path.to_path_buf(),
                source,
            })
        };
        write(&md, text)?;
        write(
            &json,
            serde_json::to_string_pretty(self).map_err(ReportError::Json)?,
        )?;
        Ok(md)
    }
}

/// An event as a line of the timeline (None: not on the timeline).
fn describe(kind: &EventKind) -> Option<String> {
    let changes = |changes: &[super::events::TfChange]| {
        if changes.is_empty() {
            "no changes".to_string()
        } else {
            changes
                .iter()
                .map(|c| format!("{} {}", c.kind.as_str(), c.address))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    Some(match kind {
        EventKind::RunStarted {
            operation, pairs, ..
        } => format!("{} started for {}", operation.name(), pairs.join(", ")),
        EventKind::RootInitialised { dir } => format!("terraform init in {dir}"),
        EventKind::LeaseTaken { lease, taken_over } => {
            super::events::lease_text(lease, taken_over.as_ref())
        }
        EventKind::PairPlanned { found, .. } => format!("found: {found}"),
        EventKind::PhaseStarted { title, .. } => format!("phase: {title}"),
        EventKind::PlanSummary { changes: c } => format!("terraform plan: {}", changes(c)),
        EventKind::Applied { changes } => format!("terraform apply: {} change(s)", changes.len()),
        EventKind::StateChanged { command, address } => format!("terraform {command} {address}"),
        EventKind::SdkChange { change, .. } => format!("SDK: {}", change.describe()),
        EventKind::GatePassed { detail, .. } => format!("gate passed: {detail}"),
        EventKind::DataAtRisk { text, .. } => format!("data at risk: {text}"),
        EventKind::WritesOnA {
            assessment,
            discarded,
        } => format!(
            "writes only A has: {}{}",
            assessment.describe(),
            if *discarded {
                " (--discard-writes-on-a)"
            } else {
                ""
            }
        ),
        EventKind::RecoveryPoint { arn, job, .. } => {
            format!("recovery point of A: {arn} (backup job {job})")
        }
        EventKind::Note { text } => text.clone(),
        EventKind::HookRan {
            hook,
            command,
            outcome,
        } => format!(
            "hook {hook} `{command}`: {} after {}s{}",
            match (&outcome.failure, outcome.exit_code) {
                (Some(f), _) => f.clone(),
                (None, Some(0)) => "succeeded".to_string(),
                (None, Some(c)) => format!("failed (exit {c})"),
                (None, None) => "did not exit".to_string(),
            },
            outcome.wall_seconds,
            if outcome.output.trim().is_empty() {
                String::new()
            } else {
                format!("; output: {}", outcome.output.trim())
            }
        ),
        EventKind::Answered { question, by } => format!("answered yes by {by}: {question}"),
        EventKind::Warning { text } => format!("warning: {text}"),
        EventKind::Refused { message } => format!("refused: {message}"),
        EventKind::Finished { message, .. } => format!("finished: {message}"),
        EventKind::GatePolled { .. }
        | EventKind::Progress { .. }
        | EventKind::ReportWritten { .. } => return None,
    })
}

#[cfg(test)]
mod tests;
