//! What efs-dr's tests share, written once: an in-process simulator with real SDK clients on
//! it, the offline Terraform toolchain's environment (`make setup` installs it under `.tools/`),
//! temporary work directories, and the e2e drill (the efs-dr binary run on the simulator, its
//! events typed).

pub mod drill;
mod moto;
mod sim;
mod toolchain;

pub use moto::Moto;
pub use sim::*;
pub use toolchain::*;

pub use efs_dr_sim;
pub use tempfile;
