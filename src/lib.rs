//! efs-dr: Amazon EFS cross-region disaster recovery (failover and failback) through Terraform.

pub mod aws;
pub mod cli;
pub mod config;
pub mod dr;
pub mod ids;
pub mod provider;
pub mod render;
pub mod sim;
pub mod terraform;
