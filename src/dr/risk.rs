//! What a failover may lose, from one observation of a pair: the writes on A after the last
//! completed sync. Pure.

use serde::{Deserialize, Serialize};

use super::gate::fmt_dur;
use super::view::PairView;
use crate::aws::rfc3339;

/// The data at risk, in words and (when known) in seconds of writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub text: String,
    pub seconds: Option<f64>,
}

/// None when nothing replicates A -> B (nothing left to lose to a failover).
pub fn failover_risk(view: &PairView) -> Option<Risk> {
    let r = view.forward()?;
    let (text, seconds) = match (r.last_replicated, view.a.reachable(), view.a.last_write) {
        (Some(sync), true, Some(w)) => {
            let at_risk =
                w.at.and_then(|w| w.duration_since(sync).ok())
                    .unwrap_or_default();
            (
                format!(
                    "{} (last write on A {}, last completed sync {})",
                    fmt_dur(at_risk),
                    w.at.map(rfc3339)
                        .unwrap_or_else(|| "none in the last 6h".into()),
                    rfc3339(sync)
                ),
                Some(at_risk.as_secs_f64()),
            )
        }
        (Some(sync), _, _) => {
            let bound = view
                .now
                .and_then(|n| n.duration_since(sync).ok())
                .unwrap_or_default();
            (
                format!(
                    "unknown: A's region does not answer; at most {} (writes since the last completed sync, {})",
                    fmt_dur(bound),
                    rfc3339(sync)
                ),
                None,
            )
        }
        (None, _, _) => ("everything on A: no sync ever completed".into(), None),
    };
    Some(Risk { text, seconds })
}
