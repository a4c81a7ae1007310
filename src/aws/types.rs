//! The values AWS reports that efs-dr decides on, as types: a replication's status and a file
//! system's overwrite protection. They cross the orchestrator from the SDK seam to the report.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A replication destination's status (`Destination.Status`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ReplicationStatus {
    Enabled,
    Enabling,
    Deleting,
    Error,
    Paused,
    Pausing,
    /// A value this version of efs-dr does not know.
    Other(String),
}

impl ReplicationStatus {
    pub fn from_aws(s: &str) -> ReplicationStatus {
        match s {
            "ENABLED" => ReplicationStatus::Enabled,
            "ENABLING" => ReplicationStatus::Enabling,
            "DELETING" => ReplicationStatus::Deleting,
            "ERROR" => ReplicationStatus::Error,
            "PAUSED" => ReplicationStatus::Paused,
            "PAUSING" => ReplicationStatus::Pausing,
            other => ReplicationStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ReplicationStatus::Enabled => "ENABLED",
            ReplicationStatus::Enabling => "ENABLING",
            ReplicationStatus::Deleting => "DELETING",
            ReplicationStatus::Error => "ERROR",
            ReplicationStatus::Paused => "PAUSED",
            ReplicationStatus::Pausing => "PAUSING",
            ReplicationStatus::Other(s) => s,
        }
    }

    /// The destination may be behind and nothing catches it up by itself.
    pub fn is_stalled(&self) -> bool {
        matches!(
            self,
            ReplicationStatus::Error | ReplicationStatus::Paused | ReplicationStatus::Pausing
        )
    }
}

impl fmt::Display for ReplicationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for ReplicationStatus {
    fn from(s: String) -> Self {
        ReplicationStatus::from_aws(&s)
    }
}

impl From<ReplicationStatus> for String {
    fn from(s: ReplicationStatus) -> Self {
        s.as_str().to_string()
    }
}

/// A file system's replication overwrite protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protection {
    /// Writable, and refuses to be a replication destination.
    Enabled,
    /// May become a replication destination (its content is then replaced).
    Disabled,
    /// A replication destination: read-only.
    Replicating,
}

impl Protection {
    /// AWS's value; an unknown one reads as REPLICATING (read-only), never as writable.
    pub fn from_aws(s: &str) -> Protection {
        match s {
            "ENABLED" => Protection::Enabled,
            "DISABLED" => Protection::Disabled,
            "REPLICATING" => Protection::Replicating,
            other => {
                tracing::warn!("unknown overwrite protection {other:?}: read as REPLICATING");
                Protection::Replicating
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protection::Enabled => "ENABLED",
            Protection::Disabled => "DISABLED",
            Protection::Replicating => "REPLICATING",
        }
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_aws_names() {
        for s in [
            "ENABLED", "ENABLING", "DELETING", "ERROR", "PAUSED", "PAUSING", "NEW",
        ] {
            assert_eq!(ReplicationStatus::from_aws(s).as_str(), s);
            let json = serde_json::to_string(&ReplicationStatus::from_aws(s)).unwrap();
            assert_eq!(json, format!("\"{s}\""));
        }
        assert!(ReplicationStatus::Paused.is_stalled());
        assert!(!ReplicationStatus::Enabling.is_stalled());
        assert_eq!(Protection::from_aws("SOMETHING"), Protection::Replicating);
        assert_eq!(
            serde_json::to_string(&Protection::Disabled).unwrap(),
            "\"DISABLED\""
        );
    }
}

/// An enum of AWS's upper-case values with a catch-all for values this version does not know,
/// serialised as AWS spells them.
macro_rules! aws_value {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)+
            /// A value this version of efs-dr does not know.
            Other(String),
        }

        impl $name {
            pub fn from_aws(s: &str) -> $name {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::from_aws(&s)
            }
        }

        impl From<$name> for String {
            fn from(s: $name) -> Self {
                s.as_str().to_string()
            }
        }
    };
}

aws_value! {
    /// An AWS Backup job's state (`BackupJob.State`).
    BackupJobState {
        Created = "CREATED",
        Pending = "PENDING",
        Running = "RUNNING",
        Aborting = "ABORTING",
        Aborted = "ABORTED",
        Completed = "COMPLETED",
        Failed = "FAILED",
        Expired = "EXPIRED",
        Partial = "PARTIAL",
    }
}

impl BackupJobState {
    /// Ended without a recovery point.
    pub fn failed(&self) -> bool {
        matches!(
            self,
            BackupJobState::Failed
                | BackupJobState::Aborted
                | BackupJobState::Aborting
                | BackupJobState::Expired
                | BackupJobState::Partial
        )
    }
}

aws_value! {
    /// A file system's life cycle state (`FileSystemDescription.LifeCycleState`).
    LifeCycleState {
        Creating = "creating",
        Available = "available",
        Updating = "updating",
        Deleting = "deleting",
        Deleted = "deleted",
        Error = "error",
    }
}

#[cfg(test)]
mod aws_value_tests {
    use super::*;

    #[test]
    fn aws_values_round_trip_and_keep_what_they_do_not_know() {
        for s in ["COMPLETED", "PARTIAL", "SOMETHING_NEW"] {
            let v = BackupJobState::from_aws(s);
            assert_eq!(v.as_str(), s);
            assert_eq!(serde_json::to_value(&v).unwrap(), s);
        }
        assert!(BackupJobState::from_aws("ABORTED").failed());
        assert!(!BackupJobState::from_aws("RUNNING").failed());
        assert_eq!(
            LifeCycleState::from_aws("available"),
            LifeCycleState::Available
        );
        assert_eq!(
            serde_json::from_str::<LifeCycleState>("\"later\"").unwrap(),
            LifeCycleState::Other("later".into())
        );
    }
}
