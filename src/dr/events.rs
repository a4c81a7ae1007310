//! What the orchestrator tells the world: typed events, its only output. The live display, the
//! JSON lines and the report are consumers (`EventSink`s, or pure functions of the list).

use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::decide::PlannedPhase;
use super::error::Outcome;
use super::gate::Verdict;
use super::phase::{SdkChange, Step};
use super::planner::Operation;
use crate::aws::opt_time;
use crate::terraform::ChangeKind;

/// A Terraform change as the events and the report show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TfChange {
    pub address: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    RunStarted {
        operation: Operation,
        pairs: Vec<String>,
        dry_run: bool,
        /// A pipeline stage: when its operation started (AWS time, RFC 3339).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation_started: Option<String>,
        /// Who ran it, with what (None: a run that did not say, as older recordings).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audit: Option<Audit>,
    },
    /// A question of the run was answered yes: by whom.
    Answered {
        question: String,
        /// "the operator at the terminal", or the flag that answered it ("--yes").
        by: String,
    },
    /// The run holds the run lease (one run at a time), taken over from a dead run or not.
    LeaseTaken {
        lease: String,
        #[serde(default)]
        taken_over: Option<crate::lease::TakeOver>,
    },
    /// The Terraform root was rendered for the live directions and initialised.
    RootInitialised {
        dir: String,
    },
    /// What the live state means for a pair: where it resumes, and every phase left.
    PairPlanned {
        /// "fs-... (region)" of A and B.
        a: String,
        b: String,
        found: String,
        phases: Vec<PlannedPhase>,
    },
    /// The pair cannot go on as things are.
    Refused {
        message: String,
    },
    PhaseStarted {
        title: String,
        gate: String,
    },
    SdkChange {
        change: SdkChange,
        /// AWS's `x-amzn-RequestId` of the call, for a support case.
        #[serde(default)]
        request_id: Option<String>,
    },
    StateChanged {
        command: String,
        address: String,
    },
    PlanSummary {
        changes: Vec<TfChange>,
    },
    Applied {
        changes: Vec<TfChange>,
    },
    GatePolled {
        verdict: Verdict,
        next_poll_ms: u64,
        /// Requests this poll sent to AWS (for every pair at the gate together).
        #[serde(default)]
        sdk_calls: u64,
    },
    GatePassed {
        detail: String,
        /// How long the gate waited, in wall time.
        waited_ms: u64,
        /// The same wait in AWS time (a simulator runs faster).
        #[serde(default)]
        waited_aws_ms: Option<u64>,
    },
    /// What a failover may lose, as far as AWS tells.
    DataAtRisk {
        text: String,
        seconds: Option<f64>,
    },
    /// What a failback would destroy on A, assessed before it changes anything; `discarded`
    /// when the operator passed --discard-writes-on-a.
    WritesOnA {
        assessment: crate::dr::writes::AOnlyWrites,
        discarded: bool,
    },
    /// A's recovery point, kept before B's content replaced A's.
    RecoveryPoint {
        arn: String,
        job: String,
        /// The AWS CLI command that restores it into a directory of A (empty in older
        /// recordings).
        #[serde(default)]
        restore: String,
    },
    /// A long wait is still going: what it waits for and for how long (at least every
    /// `--progress-every`), or a line of Terraform's own progress ("Still destroying...").
    Progress {
        text: String,
    },
    /// The operator's hook ran: its command and how it ended (output included).
    HookRan {
        hook: crate::hooks::HookPoint,
        command: String,
        outcome: crate::hooks::HookOutcome,
    },
    /// Something the operator must know about the pair afterwards.
    Note {
        text: String,
    },
    /// Something that went wrong without stopping the run, which the operator must know (a
    /// piece of evidence that could not be read, a store that did not answer).
    Warning {
        text: String,
    },
    Finished {
        outcome: Outcome,
        exit_code: u8,
        message: String,
        /// Each pair's RTO, write outage and data at risk, as numbers.
        #[serde(default)]
        figures: Vec<Figures>,
        /// A pipeline stage: where the operation stands ("phase 1 of 3 applied and gated;
        /// next: ..."), since a stage that passed is not the operation done.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        /// What is true now and what to do next: which side serves, which must stop, the
        /// command that comes next or that continues a run that stopped on the way.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        next: Vec<String>,
    },
    /// Written by the command after the run: where the report is.
    ReportWritten {
        report: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Local time of the event.
    #[serde(with = "wall_time")]
    pub at: SystemTime,
    /// Wall time since the run started.
    pub elapsed_ms: u64,
    /// AWS's time when known (the last `Date` header).
    #[serde(with = "opt_time", default)]
    pub aws_time: Option<SystemTime>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pair: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step: Option<Step>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms)
    }
}

mod wall_time {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_rfc3339_millis(*t).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        humantime::parse_rfc3339_weak(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Who ran what, with what: filed with the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    pub efs_dr_version: String,
    pub terraform_version: String,
    /// The hashicorp/aws provider the root's dependency lock file selects ("6.2.0"), or why
    /// it is not known (a root not initialised yet).
    #[serde(default)]
    pub provider_version: String,
    /// The command line as typed, after the program's name.
    pub command_line: Vec<String>,
    pub user: String,
    pub host: String,
    /// SHA-256 of the configuration file, as it was read.
    pub config_sha256: String,
    /// The git commit of the rendered root, when it is in a git working tree.
    pub root_commit: Option<String>,
    /// The AWS account and the caller's ARN (STS), or why they are not known.
    #[serde(default)]
    pub aws_caller: String,
}

/// A pair's figures at the end of a run (seconds; None: not measured in this run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub pair: String,
    /// Failover: start -> B writable.
    pub rto_aws_seconds: Option<f64>,
    pub rto_wall_seconds: Option<f64>,
    /// Failback: writes stopped -> A writable.
    pub write_outage_aws_seconds: Option<f64>,
    pub write_outage_wall_seconds: Option<f64>,
    pub data_at_risk_seconds: Option<f64>,
    pub all_writes_accounted_for: Option<bool>,
}

/// Where events go while a run runs.
pub trait EventSink: Send {
    fn emit(&mut self, event: &Event);
}

/// A sink that keeps nothing (a quiet run).
pub struct Discard;

impl EventSink for Discard {
    fn emit(&mut self, _: &Event) {}
}

/// Stamps events with the run's clock, hands them to the sink, and keeps the list.
pub struct Recorder<'a> {
    sink: &'a mut dyn EventSink,
    started: Instant,
    events: Vec<Event>,
}

impl<'a> Recorder<'a> {
    pub fn new(sink: &'a mut dyn EventSink) -> Recorder<'a> {
        Recorder {
            sink,
            started: Instant::now(),
            events: Vec::new(),
        }
    }

    /// AWS seconds per wall second so far in this run (a simulator runs faster than the wall
    /// clock), once the run has lasted long enough to tell.
    pub fn aws_rate(&self, aws_now: Option<std::time::SystemTime>) -> Option<f64> {
        let first = self.events.iter().find(|e| e.aws_time.is_some())?;
        let aws = aws_now?.duration_since(first.aws_time?).ok()?.as_secs_f64();
        let wall = self.elapsed().as_secs_f64() - first.elapsed_ms as f64 / 1000.0;
        (wall > 0.05 && aws >= 1.0).then(|| (aws / wall).max(0.01))
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn emit(
        &mut self,
        pair: Option<&str>,
        step: Option<Step>,
        aws_time: Option<SystemTime>,
        kind: EventKind,
    ) {
        let event = Event {
            at: SystemTime::now(),
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            aws_time,
            pair: pair.map(str::to_string),
            step,
            kind,
        };
        self.sink.emit(&event);
        self.events.push(event);
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

/// The lease line of a run, for people: "run lease X taken" or "... taken over from ...".
pub fn lease_text(lease: &str, taken_over: Option<&crate::lease::TakeOver>) -> String {
    match taken_over {
        Some(t) => format!("run lease {lease} {}", t.describe()),
        None => format!("run lease {lease} taken"),
    }
}
