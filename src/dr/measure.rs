//! What a run measured, from its events and the phase table's marks: each pair's RTO (a
//! failover: from the operation's start to the gate that makes B writable), its write outage (a
//! failback: from the start of the phase that stops writes to the gate that makes A writable),
//! the data at risk, and whether every write is accounted for. Pure. The runner's `finished`
//! event and the report both take their figures from here.

use std::collections::BTreeMap;

use serde::Serialize;

use super::events::{Event, EventKind, Figures};
use super::phase::Outage;
use super::planner::Operation;
use crate::aws::AwsTime;

/// A duration measured twice: in AWS time and in wall time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rto {
    pub aws_seconds: f64,
    pub wall_seconds: f64,
    /// The same, in human units ("28m 23s").
    pub aws: String,
    pub wall: String,
}

impl Rto {
    pub fn new(aws_seconds: f64, wall_seconds: f64) -> Rto {
        let human = |s: f64| {
            humantime::format_duration(std::time::Duration::from_secs(s.max(0.0).round() as u64))
                .to_string()
        };
        Rto {
            aws: human(aws_seconds),
            wall: human(wall_seconds),
            aws_seconds,
            wall_seconds,
        }
    }
}

/// Whether every write survives the operation: the old primary's writes after its last sync
/// (a failover's loss, or a failback's overwrite of A) and, for a failback, B's writes before
/// the cut-over.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataAccount {
    /// None: the run did not get far enough to tell.
    pub all_writes_accounted_for: Option<bool>,
    /// Seconds of writes that are not (None: unknown).
    pub seconds: Option<f64>,
    /// Bytes written only on A that a failback overwrote or kept (None: unknown).
    pub bytes: Option<f64>,
    /// What says so: metrics, sync timestamps, a recovery point, the operator's word.
    pub basis: Vec<String>,
    pub recovery_point: Option<String>,
    /// The AWS CLI command that restores the recovery point into a directory of A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_command: Option<String>,
    #[serde(skip)]
    a_side: Option<bool>,
    #[serde(skip)]
    b_side: Option<bool>,
}

impl DataAccount {
    pub(crate) fn because(&mut self, basis: String) {
        if !self.basis.contains(&basis) {
            self.basis.push(basis);
        }
    }

    pub(crate) fn settle(&mut self) {
        self.all_writes_accounted_for = match (self.a_side, self.b_side) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(true) && b.unwrap_or(true)),
        };
    }
}

/// One pair's measurements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub rto: Option<Rto>,
    pub write_outage: Option<Rto>,
    pub data_at_risk: Option<String>,
    pub data_at_risk_seconds: Option<f64>,
    pub data: DataAccount,
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn between(start: Option<AwsTime>, end: Option<AwsTime>) -> f64 {
    match (start, end) {
        (Some(s), Some(e)) => e.duration_since(s).unwrap_or_default().as_secs_f64(),
        _ => 0.0,
    }
}

/// Where the RTO starts: a pipeline stage's operation start (the merged proposal's reading of
/// AWS), else the run's first observation.
pub fn aws_start(events: &[Event]) -> Option<AwsTime> {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::RunStarted {
                operation_started: Some(t),
                ..
            } => humantime::parse_rfc3339(t).ok(),
            _ => None,
        })
        .or_else(|| events.iter().find_map(|e| e.aws_time))
}

/// Each planned pair's measurements.
pub fn measure(events: &[Event]) -> BTreeMap<String, Measured> {
    let start = aws_start(events);
    let mut operation = None;
    let mut out: BTreeMap<String, Measured> = BTreeMap::new();
    // Where each pair's write outage started: (wall seconds, AWS time).
    let mut outage_from: BTreeMap<String, (f64, Option<AwsTime>)> = BTreeMap::new();
    for e in events {
        let pair = e.pair.clone().unwrap_or_default();
        let failover = matches!(operation, Some(Operation::Failover { .. }));
        if let EventKind::RunStarted { operation: op, .. } = &e.kind {
            operation = Some(*op);
            continue;
        }
        if let EventKind::PairPlanned { .. } = &e.kind {
            out.entry(pair).or_default();
            continue;
        }
        let Some(m) = out.get_mut(&pair) else {
            continue;
        };
        match &e.kind {
            EventKind::PhaseStarted { .. }
                if e.step.is_some_and(|s| s.spec().outage == Outage::Starts) =>
            {
                outage_from
                    .entry(pair)
                    .or_insert((secs(e.elapsed_ms), e.aws_time));
            }
            EventKind::GatePassed { .. } => {
                let Some(step) = e.step else {
                    continue;
                };
                if step.spec().outage == Outage::Ends {
                    if let Some((wall, aws)) = outage_from.get(&pair) {
                        m.write_outage = Some(Rto::new(
                            between(*aws, e.aws_time),
                            secs(e.elapsed_ms) - wall,
                        ));
                    }
                }
                if failover && step.makes_b_writable() && m.rto.is_none() {
                    m.rto = Some(Rto::new(between(start, e.aws_time), secs(e.elapsed_ms)));
                }
            }
            EventKind::DataAtRisk { text, seconds } => {
                m.data_at_risk = Some(text.clone());
                m.data_at_risk_seconds = *seconds;
                let ok = *seconds == Some(0.0);
                if failover {
                    m.data.a_side = Some(ok);
                    m.data.seconds = *seconds;
                    m.data.because(
                        "last write on A (CloudWatch) against the last completed sync (LastReplicatedTimestamp)".into(),
                    );
                } else {
                    m.data.b_side = Some(ok);
                    m.data.because(
                        "writes on B stopped and reached A before the cut-over (quiesce gate)"
                            .into(),
                    );
                }
                m.data.settle();
            }
            EventKind::WritesOnA {
                assessment,
                discarded,
            } => {
                m.data.a_side = Some(assessment.is_none());
                m.data.seconds = assessment.seconds();
                m.data.bytes = assessment.bytes();
                m.data
                    .because(format!("writes only A has: {}", assessment.describe()));
                if *discarded && !assessment.is_none() {
                    m.data.because(
                        "operator acknowledgement: --discard-writes-on-a (A's writes were destroyed)"
                            .into(),
                    );
                }
                m.data.settle();
            }
            EventKind::RecoveryPoint { arn, restore, .. } => {
                m.data.restore_command = Some(restore.clone()).filter(|r| !r.is_empty());
                // A recovery point keeps A's writes, whatever was said of them before.
                m.data.basis.retain(|b| !b.contains("destroyed"));
                m.data.a_side = Some(true);
                m.data.recovery_point = Some(arn.clone());
                m.data
                    .because(format!("A's writes are kept in recovery point {arn}"));
                m.data.settle();
            }
            _ => {}
        }
    }
    out
}

impl Measured {
    /// The pair's figures, as numbers.
    pub fn figures(&self, pair: &str) -> Figures {
        Figures {
            pair: pair.to_string(),
            rto_aws_seconds: self.rto.as_ref().map(|r| r.aws_seconds),
            rto_wall_seconds: self.rto.as_ref().map(|r| r.wall_seconds),
            write_outage_aws_seconds: self.write_outage.as_ref().map(|r| r.aws_seconds),
            write_outage_wall_seconds: self.write_outage.as_ref().map(|r| r.wall_seconds),
            data_at_risk_seconds: self.data.seconds.or(self.data_at_risk_seconds),
            all_writes_accounted_for: self.data.all_writes_accounted_for,
        }
    }
}

/// Each planned pair's figures, as numbers, in the order the run planned them.
pub fn figures(events: &[Event]) -> Vec<Figures> {
    let measured = measure(events);
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::PairPlanned { .. }))
        .filter_map(|e| {
            let name = e.pair.as_deref()?;
            Some(measured.get(name)?.figures(name))
        })
        .collect()
}
