//! efs-dr: Amazon EFS cross-region disaster recovery (failover and failback) through Terraform.
//!
//! The library knows nothing about the terminal: the orchestrator (`dr`) reports through typed
//! events and asks for confirmations through a capability its caller passes in. The binary
//! (`src/main.rs`, `src/cli/`) owns arguments, presentation and exit codes.

pub mod aws;
pub mod config;
pub mod doctor;
pub mod dr;
pub mod hooks;
pub mod iam;
pub mod interrupt;
pub mod lease;
pub mod pipeline;
pub mod render;
pub mod terraform;

pub use efs_dr_ids as ids;
