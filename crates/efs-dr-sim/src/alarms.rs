//! CloudWatch metric alarms (PutMetricAlarm, DescribeAlarms, DeleteAlarms), regional as in AWS,
//! with the state computed from the simulator's own metrics whenever it is read.
//!
//! Evaluation follows "Evaluating an alarm" in the CloudWatch user guide: the last
//! `EvaluationPeriods` whole periods before now; `DatapointsToAlarm` (default: all of them)
//! breaching ones make ALARM; a missing period counts as `TreatMissingData` says (`missing`, the
//! default, and `ignore`: not counted; `breaching`; `notBreaching`); no period with data or a
//! breaching stand-in is INSUFFICIENT_DATA. Actions are recorded, not delivered (no SNS).

use serde::{Deserialize, Serialize};

use super::clock::Millis;
use super::error::ApiError;
use super::metrics::{self, MetricQuery};
use super::model::World;
use super::settings::SimSettings;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricAlarm {
    pub region: String,
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
    pub period: i64,
    pub evaluation_periods: i64,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: f64,
    pub comparison_operator: String,
    pub treat_missing_data: Option<String>,
    pub unit: Option<String>,
    pub tags: Vec<(String, String)>,
    pub configuration_updated: Millis,
    pub state: AlarmState,
    pub state_reason: String,
    pub state_updated: Millis,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum AlarmState {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

pub const COMPARISON_OPERATORS: [&str; 4] = [
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];
pub const MISSING_DATA: [&str; 4] = ["breaching", "notBreaching", "ignore", "missing"];
pub const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ValidationError", message)
}

/// PutMetricAlarm's checks that AWS documents: lengths, enums, the period, at most five actions
/// per state, and SNS actions in the alarm's own region ("Invalid region ... specified. Only
/// REGION is supported.").
pub fn validate(a: &MetricAlarm) -> Result<(), ApiError> {
    if a.name.is_empty() || a.name.chars().count() > 255 {
        return Err(validation("AlarmName must be 1 to 255 characters"));
    }
    if a.name.chars().any(|c| c.is_control()) {
        return Err(validation(
            "AlarmName must not contain ASCII control characters",
        ));
    }
    if !COMPARISON_OPERATORS.contains(&a.comparison_operator.as_str()) {
        return Err(validation(format!(
            "Value '{}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: {COMPARISON_OPERATORS:?}",
            a.comparison_operator
        )));
    }
    if !STATISTICS.contains(&a.statistic.as_str()) {
        return Err(validation(format!(
            "Value '{}' at 'statistic' failed to satisfy constraint: Member must satisfy enum value set: {STATISTICS:?}",
            a.statistic
        )));
    }
    if a.evaluation_periods < 1 {
        return Err(validation("EvaluationPeriods must be at least 1"));
    }
    if let Some(n) = a.datapoints_to_alarm {
        if n < 1 || n > a.evaluation_periods {
            return Err(validation(
                "DatapointsToAlarm must be between 1 and EvaluationPeriods",
            ));
        }
    }
    if !(matches!(a.period, 10 | 20 | 30) || (a.period >= 60 && a.period % 60 == 0)) {
        return Err(validation(format!(
            "The parameter Period must be 10, 20, 30 or a multiple of 60, not {}",
            a.period
        )));
    }
    if let Some(t) = &a.treat_missing_data {
        if !MISSING_DATA.contains(&t.as_str()) {
            return Err(validation(format!(
                "TreatMissingData must be one of {MISSING_DATA:?}, not {t:?}"
            )));
        }
    }
    for actions in [
        &a.alarm_actions,
        &a.ok_actions,
        &a.insufficient_data_actions,
    ] {
        if actions.len() > 5 {
            return Err(validation("At most 5 actions per alarm state"));
        }
        for arn in actions {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() < 6 || parts[0] != "arn" {
                return Err(validation(format!("Invalid arn syntax: {arn}")));
            }
            if parts[2] == "sns" && parts[3] != a.region {
                return Err(validation(format!(
                    "Invalid region {} specified. Only {} is supported.",
                    parts[3], a.region
                )));
            }
        }
    }
    Ok(())
}

/// The alarm's state now, from the last `evaluation_periods` whole periods of its metric.
pub fn evaluate(w: &World, s: &SimSettings, a: &MetricAlarm) -> (AlarmState, String) {
    let period = a.period * 1000;
    let end = w.now.div_euclid(period) * period;
    let start = end - a.evaluation_periods * period;
    let buckets = metrics::query(
        w,
        s,
        &MetricQuery {
            region: &a.region,
            namespace: &a.namespace,
            metric_name: &a.metric_name,
            dimensions: &a.dimensions,
            start,
            end,
            period_seconds: a.period,
        },
    );
    let breaches = |v: f64| match a.comparison_operator.as_str() {
        "GreaterThanOrEqualToThreshold" => v >= a.threshold,
        "GreaterThanThreshold" => v > a.threshold,
        "LessThanThreshold" => v < a.threshold,
        _ => v <= a.threshold,
    };
    let missing = a.treat_missing_data.as_deref().unwrap_or("missing");
    let mut counted = 0;
    let mut breaching = 0;
    let mut last_value = None;
    for p in 0..a.evaluation_periods {
        let at = start + p * period;
        let point = buckets
            .iter()
            .find(|b| b.start == at)
            .and_then(|b| b.stat(&a.statistic));
        let verdict = match (point, missing) {
            (Some(v), _) => {
                last_value = Some(v);
                Some(breaches(v))
            }
            (None, "breaching") => Some(true),
            (None, "notBreaching") => Some(false),
            (None, _) => None,
        };
        if let Some(b) = verdict {
            counted += 1;
            breaching += b as i64;
        }
    }
    let needed = a.datapoints_to_alarm.unwrap_or(a.evaluation_periods);
    let shown = |v: Option<f64>| v.map_or("no datapoint".to_string(), |v| format!("{v}"));
    if breaching >= needed {
        (
            AlarmState::Alarm,
            format!(
                "Threshold Crossed: {breaching} out of the last {} datapoints were breaching the threshold ({}); the latest: {}",
                a.evaluation_periods,
                a.threshold,
                shown(last_value)
            ),
        )
    } else if counted == 0 {
        (
            AlarmState::InsufficientData,
            "Insufficient Data: no datapoint in the evaluation range".to_string(),
        )
    } else {
        (
            AlarmState::Ok,
            format!(
                "Threshold Crossed: {breaching} out of the last {} datapoints were breaching the threshold ({}), {needed} needed",
                a.evaluation_periods, a.threshold
            ),
        )
    }
}

/// Brings every alarm's state up to now (a read evaluates; AWS evaluates every period).
pub fn refresh(w: &mut World, s: &SimSettings) {
    let updated: Vec<(AlarmState, String)> = w.alarms.iter().map(|a| evaluate(w, s, a)).collect();
    let now = w.now;
    for (a, (state, reason)) in w.alarms.iter_mut().zip(updated) {
        if a.state != state {
            a.state = state;
            a.state_updated = now;
        }
        a.state_reason = reason;
    }
}
