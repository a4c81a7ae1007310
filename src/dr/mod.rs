//! The orchestrator: observe the pairs, plan the phases left, run them through Terraform and the
//! SDK, and gate each on what AWS says.

pub mod gate;
pub mod phase;
pub mod planner;
pub mod view;
pub mod events;
pub mod observe;
pub mod report;
pub mod run;
