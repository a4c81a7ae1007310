//! The run report: the timeline of each phase, the Terraform and SDK changes, the measured RTO
//! and the data at risk; written as Markdown (tera template) and JSON after every run.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use super::events::{Event, EventKind};
use super::phase::Step;

const TEMPLATE: &str = include_str!("../../templates/report/report.md.tera");

#[derive(Debug, Clone, Serialize)]
pub struct Rto {
    pub aws_seconds: f64,
    pub wall_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    pub name: String,
    pub a: String,
    pub b: String,
    /// What the live state was when the run started.
    pub found: String,
    pub phases: Vec<PhaseRecord>,
    pub rto: Option<Rto>,
    pub data_at_risk: Option<String>,
    pub data_at_risk_seconds: Option<f64>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeRecord {
    pub pair: String,
    pub address: String,
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SdkRecord {
    pub pair: String,
    pub text: String,
    pub change: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub elapsed_s: f64,
    pub at: String,
    pub aws_time: Option<String>,
    pub pair: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub operation: String,
    pub outcome: String,
    pub message: String,
    pub exit_code: u8,
    pub started_at: String,
    pub aws_started_at: Option<String>,
    pub aws_finished_at: Option<String>,
    pub wall_seconds: f64,
    pub pairs: Vec<PairReport>,
    pub terraform_changes: Vec<ChangeRecord>,
    pub sdk_changes: Vec<SdkRecord>,
    pub timeline: Vec<TimelineEntry>,
}

impl Report {
    pub fn new(operation: &str) -> Report {
        Report {
            operation: operation.to_string(),
            outcome: "running".into(),
            message: String::new(),
            exit_code: 0,
            started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            aws_started_at: None,
            aws_finished_at: None,
            wall_seconds: 0.0,
            pairs: Vec::new(),
            terraform_changes: Vec::new(),
            sdk_changes: Vec::new(),
            timeline: Vec::new(),
        }
    }

    pub fn pair_mut(&mut self, name: &str) -> Option<&mut PairReport> {
        self.pairs.iter_mut().find(|p| p.name == name)
    }

    /// The timeline, from the run's events.
    pub fn set_timeline(&mut self, events: &[Event]) {
        self.timeline = events
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::GatePolled { .. }))
            .map(|e| TimelineEntry {
                elapsed_s: e.elapsed.as_secs_f64(),
                at: e.at.clone(),
                aws_time: e.aws_time.clone(),
                pair: e.pair.clone(),
                text: describe(&e.kind),
            })
            .collect();
    }

    pub fn markdown(&self) -> Result<String, String> {
        let ctx = tera::Context::from_serialize(self).map_err(|e| format!("{e:?}"))?;
        tera::Tera::one_off(TEMPLATE, &ctx, false).map_err(|e| format!("{e:?}"))
    }

    /// Writes `<dir>/<operation>-<time>.md` and `.json`; returns the Markdown path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the report folder {}: {e}", dir.display()))?;
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
        std::fs::write(&md, text).map_err(|e| format!("cannot write {}: {e}", md.display()))?;
        let body = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&json, body).map_err(|e| format!("cannot write {}: {e}", json.display()))?;
        Ok(md)
    }
}

fn describe(kind: &EventKind) -> String {
    match kind {
        EventKind::RunStarted { operation, pairs } => {
            format!("{operation} started for {}", pairs.join(", "))
        }
        EventKind::PhaseStarted { title, .. } => format!("phase: {title}"),
        EventKind::PlanSummary { changes } => format!(
            "terraform plan: {}",
            if changes.is_empty() {
                "no changes".into()
            } else {
                changes
                    .iter()
                    .map(|c| format!("{} {}", kind_word(c.kind), c.address))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        EventKind::Applied { changes } => format!("terraform apply: {} change(s)", changes.len()),
        EventKind::StateChanged { command, address } => format!("terraform {command} {address}"),
        EventKind::SdkChange { change } => format!("SDK: {}", change.describe()),
        EventKind::GatePolled { .. } => String::new(),
        EventKind::GatePassed { detail, .. } => format!("gate passed: {detail}"),
        EventKind::Refused { message } => format!("refused: {message}"),
        EventKind::Finished { message, .. } => format!("finished: {message}"),
    }
    .replace('|', "\\|")
}

pub fn kind_word(kind: crate::terraform::ChangeKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_shows_rto_data_at_risk_and_changes() {
        let mut r = Report::new("failover");
        r.outcome = "done".into();
        r.pairs.push(PairReport {
            name: "app".into(),
            a: "fs-1 (us-east-1)".into(),
            b: "fs-2 (us-west-2)".into(),
            found: "A -> B is ENABLED".into(),
            phases: vec![],
            rto: Some(Rto {
                aws_seconds: 481.0,
                wall_seconds: 1.2,
            }),
            data_at_risk: Some("0s".into()),
            data_at_risk_seconds: Some(0.0),
            notes: vec![],
        });
        r.terraform_changes.push(ChangeRecord {
            pair: "app".into(),
            address: "module.m.aws_efs_replication_configuration.forward[\"app\"]".into(),
            kind: "delete".into(),
        });
        let md = r.markdown().unwrap();
        assert!(md.contains("**RTO**"), "{md}");
        assert!(md.contains("481"), "{md}");
        assert!(md.contains("delete `module.m"), "{md}");
        assert!(md.contains("## Changes made through the SDK"), "{md}");
    }
}
