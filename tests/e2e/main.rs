//! The end-to-end suites in one test binary (one link on a 2-core machine): the simulator
//! through real SDK clients, real Terraform with the stand-in provider, and the efs-dr binary.

mod alarms;
mod cli;
mod contract;
mod doctor;
mod dr;
mod examples;
mod field;
mod fleet;
mod heal;
mod hooks;
mod permissions;
mod pipeline;
mod pipeline_field;
mod rehearse;
mod resume;
mod secrets;
mod shared_state;
mod sim_backup;
mod sim_cloudwatch;
mod sim_efs;
mod sim_server;
mod terraform;
mod writes_on_a;
