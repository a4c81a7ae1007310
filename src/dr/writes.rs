//! Writes only A has: what a failback would destroy by replicating B -> A into the existing A.
//! From A's last completed sync to B (a replication configuration's `LastReplicatedTimestamp`,
//! or CloudWatch's `TimeSinceLastSync` history) and A's data and metadata writes since. Pure;
//! the evidence is gathered by `evidence`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::aws::{opt_time, rfc3339, AwsTime};

/// CloudWatch's period: a minute with writes counts whole.
const MINUTE: Duration = Duration::from_secs(60);

/// The verdict on A.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "writes", rename_all = "snake_case")]
pub enum AOnlyWrites {
    /// Every write on A reached B before the replication went.
    None {
        #[serde(with = "opt_time")]
        last_sync: Option<AwsTime>,
        basis: String,
    },
    /// A has writes B does not: the first and the last minute with writes, and their bytes.
    Some {
        #[serde(with = "opt_time")]
        first: Option<AwsTime>,
        #[serde(with = "opt_time")]
        last: Option<AwsTime>,
        bytes: f64,
        #[serde(with = "opt_time")]
        last_sync: Option<AwsTime>,
        basis: String,
    },
    /// Cannot tell (A unreachable, no record of a sync, metrics missing).
    Unknown { reason: String },
}

impl AOnlyWrites {
    /// Nothing would be lost by overwriting A.
    pub fn is_none(&self) -> bool {
        matches!(self, AOnlyWrites::None { .. })
    }

    /// One sentence for prompts, the PR body and the report.
    pub fn describe(&self) -> String {
        match self {
            AOnlyWrites::None { last_sync, basis } => format!(
                "none: no write on A after its last sync to B{} ({basis})",
                last_sync.map(|t| format!(" at {}", rfc3339(t))).unwrap_or_default()
            ),
            AOnlyWrites::Some {
                first,
                last,
                bytes,
                last_sync,
                basis,
            } => format!(
                "{bytes:.0} bytes written on A between {} and {}, after its last sync to B at {}: B does not have them, and the failback would overwrite them ({basis})",
                first.map(rfc3339).unwrap_or_else(|| "?".into()),
                last.map(rfc3339).unwrap_or_else(|| "?".into()),
                last_sync.map(rfc3339).unwrap_or_else(|| "?".into()),
            ),
            AOnlyWrites::Unknown { reason } => format!("unknown: {reason}"),
        }
    }

    /// Seconds of writes only A has (first to last), when known.
    pub fn seconds(&self) -> Option<f64> {
        match self {
            AOnlyWrites::None { .. } => Some(0.0),
            AOnlyWrites::Some {
                first: Some(f),
                last: Some(l),
                ..
            } => Some(l.duration_since(*f).unwrap_or_default().as_secs_f64()),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<f64> {
        match self {
            AOnlyWrites::None { .. } => Some(0.0),
            AOnlyWrites::Some { bytes, .. } => Some(*bytes),
            AOnlyWrites::Unknown { .. } => None,
        }
    }

    /// When the last write only A has ended (a recovery point must start after it).
    pub fn last_write(&self) -> Option<AwsTime> {
        match self {
            AOnlyWrites::Some { last, .. } => *last,
            _ => None,
        }
    }
}

/// The verdict from A's last sync (with what says so) and A's writes per minute since a
/// minute before it (`Err`: the metrics could not be read).
pub fn assess(
    last_sync: Option<(AwsTime, String)>,
    writes: Result<Vec<(AwsTime, f64)>, crate::aws::AwsError>,
) -> AOnlyWrites {
    let Some((sync, source)) = last_sync else {
        return AOnlyWrites::Unknown {
            reason: "no record of A's last sync to B: no replication configuration holds one and CloudWatch's TimeSinceLastSync has none in the last 14 days".into(),
        };
    };
    let writes = match writes {
        Ok(w) => w,
        Err(e) => {
            return AOnlyWrites::Unknown {
                reason: format!("A's write metrics could not be read: {e}"),
            }
        }
    };
    let basis = format!("{source}; CloudWatch DataWriteIOBytes and MetadataIOBytes on A");
    // A minute that ends after the sync may hold writes the sync did not carry: counted.
    let after: Vec<&(AwsTime, f64)> = writes
        .iter()
        .filter(|(start, bytes)| *bytes > 0.0 && *start + MINUTE > sync)
        .collect();
    match (after.first(), after.last()) {
        (Some(first), Some(last)) => AOnlyWrites::Some {
            first: Some(first.0),
            last: Some(last.0 + MINUTE),
            bytes: after.iter().map(|(_, b)| b).sum(),
            last_sync: Some(sync),
            basis,
        },
        _ => AOnlyWrites::None {
            last_sync: Some(sync),
            basis,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn sync(at: u64) -> Option<(AwsTime, String)> {
        Some((t(at), "TimeSinceLastSync".into()))
    }

    #[test]
    fn writes_before_the_last_sync_are_on_b_and_later_ones_are_not() {
        let before = vec![(t(0), 100.0), (t(60), 50.0)];
        assert!(assess(sync(200), Ok(before.clone())).is_none());
        let mut after = before;
        after.push((t(600), 4096.0));
        after.push((t(900), 10.0));
        let v = assess(sync(200), Ok(after));
        match &v {
            AOnlyWrites::Some {
                first, last, bytes, ..
            } => {
                assert_eq!(*first, Some(t(600)));
                assert_eq!(*last, Some(t(960)));
                assert_eq!(*bytes, 4106.0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(v.seconds(), Some(360.0));
        assert!(v.describe().contains("4106 bytes"));
    }

    #[test]
    fn a_minute_that_ends_after_the_sync_counts_and_no_record_is_unknown() {
        // The sync at 130 may not have carried a write at 150 in the minute 120-180.
        assert!(!assess(sync(130), Ok(vec![(t(120), 1.0)])).is_none());
        assert!(matches!(
            assess(None, Ok(vec![])),
            AOnlyWrites::Unknown { .. }
        ));
        assert!(matches!(
            assess(
                sync(10),
                Err(crate::aws::AwsError {
                    region: "us-east-1".into(),
                    operation: "GetMetricData",
                    kind: crate::aws::AwsErrorKind::Other("throttled".into()),
                })
            ),
            AOnlyWrites::Unknown { reason } if reason.contains("throttled")
        ));
    }
}
