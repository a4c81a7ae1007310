//! What a failover may lose, from one observation of a pair: the writes on A after the last
//! completed sync. Pure.

use serde::{Deserialize, Serialize};

use super::gate::fmt_dur;
use super::view::PairView;
use crate::aws::{rfc3339, AwsTime, WRITE_LOOKBACK};

/// The data at risk, in words and (when known) in seconds of writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub text: String,
    pub seconds: Option<f64>,
}

/// None when nothing replicates A -> B (nothing left to lose to a failover).
pub fn failover_risk(view: &PairView) -> Option<Risk> {
    let r = view.forward()?;
    Some(risk(
        r.last_replicated,
        view.a.reachable(),
        view.a.last_write.map(|w| w.at),
        view.now,
    ))
}

/// The sentence for each case: the last completed sync (known or not), A's region answering
/// or not, and A's last write (None: not read; Some(None): no write in the look-back).
pub fn risk(
    sync: Option<AwsTime>,
    a_answers: bool,
    last_write: Option<Option<AwsTime>>,
    now: Option<AwsTime>,
) -> Risk {
    let since_sync = |sync: AwsTime| {
        now.and_then(|n| n.duration_since(sync).ok())
            .unwrap_or_default()
    };
    match (sync, a_answers, last_write) {
        (None, _, _) => Risk {
            text: "everything on A: no sync ever completed".into(),
            seconds: None,
        },
        (Some(sync), true, Some(Some(w))) => {
            let at_risk = w.duration_since(sync).unwrap_or_default();
            Risk {
                text: format!(
                    "{} (last write on A {}, last completed sync {})",
                    fmt_dur(at_risk),
                    rfc3339(w),
                    rfc3339(sync)
                ),
                seconds: Some(at_risk.as_secs_f64()),
            }
        }
        (Some(sync), true, Some(None)) => Risk {
            text: format!(
                "0s (no write on A in the last {}, last completed sync {})",
                fmt_dur(WRITE_LOOKBACK),
                rfc3339(sync)
            ),
            seconds: Some(0.0),
        },
        (Some(sync), true, None) => Risk {
            text: format!(
                "unknown: A's writes were not read; at most {} (writes since the last completed sync, {})",
                fmt_dur(since_sync(sync)),
                rfc3339(sync)
            ),
            seconds: None,
        },
        (Some(sync), false, _) => Risk {
            text: format!(
                "unknown: A's region does not answer; at most {} (writes since the last completed sync, {})",
                fmt_dur(since_sync(sync)),
                rfc3339(sync)
            ),
            seconds: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
    }

    type Case = (
        Option<AwsTime>,
        bool,
        Option<Option<AwsTime>>,
        &'static str,
        Option<f64>,
    );

    /// Every combination of (last sync known, A reachable, last write known) has its sentence.
    #[test]
    fn every_combination_gets_its_sentence() {
        let now = Some(t(1000));
        let cases: Vec<Case> = vec![
            (
                Some(t(100)),
                true,
                Some(Some(t(160))),
                "1m (last write on A",
                Some(60.0),
            ),
            (
                Some(t(100)),
                true,
                Some(Some(t(50))),
                "0s (last write on A",
                Some(0.0),
            ),
            (
                Some(t(100)),
                true,
                Some(None),
                "0s (no write on A in the last 6h",
                Some(0.0),
            ),
            (
                Some(t(100)),
                true,
                None,
                "unknown: A's writes were not read; at most 15m",
                None,
            ),
            (
                Some(t(100)),
                false,
                Some(Some(t(160))),
                "unknown: A's region does not answer; at most 15m",
                None,
            ),
            (
                Some(t(100)),
                false,
                None,
                "unknown: A's region does not answer",
                None,
            ),
            (
                None,
                true,
                Some(Some(t(160))),
                "everything on A: no sync ever completed",
                None,
            ),
            (
                None,
                false,
                None,
                "everything on A: no sync ever completed",
                None,
            ),
        ];
        for (sync, answers, write, text, seconds) in cases {
            let r = risk(sync, answers, write, now);
            assert!(
                r.text.starts_with(text),
                "{sync:?} {answers} {write:?}: {}",
                r.text
            );
            assert_eq!(r.seconds, seconds, "{}", r.text);
        }
    }
}
