//! The EFS, CloudWatch, Backup and STS simulator: a local server that speaks AWS's wire protocols, so that the
//! real SDKs, boto3, the AWS CLI and Terraform providers work against it unchanged.

pub mod alarms;
pub mod backup;
pub mod clock;
pub mod cloudwatch;
pub mod control;
pub mod control_client;
pub mod efs;
pub mod error;
pub mod metrics;
pub mod model;
pub mod persist;
pub mod server;
pub mod settings;
pub mod state;
pub mod sts;

pub use control_client::{ControlClient, ControlError, FileEntry};
pub use server::{SimOptions, Simulator, StartError};
pub use settings::{DeleteWhileDeleting, SimSettings, SyncMetricRegions};
pub use state::SimState;
