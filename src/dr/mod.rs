//! The orchestrator: observe the pairs, plan the phases left, run them through Terraform and the
//! SDK, and gate each on what AWS says.

pub mod events;
pub mod gate;
pub mod observe;
pub mod phase;
pub mod planner;
pub mod report;
pub mod run;
pub mod view;
